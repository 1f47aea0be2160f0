"""The params schema (pydantic models, extra keys forbidden); imports nothing of ganbench but
``errors``. Registry names are checked one layer up, in :mod:`ganbench.plan`."""

from ganbench.config.base import Block as Block
from ganbench.config.base import FieldError as FieldError
from ganbench.config.base import NamedBlock as NamedBlock
from ganbench.config.base import Seq as Seq
from ganbench.config.base import deep_merge as deep_merge
from ganbench.config.base import read_yaml as read_yaml
from ganbench.config.base import validate as validate
from ganbench.config.params import ClassifierConfig as ClassifierConfig
from ganbench.config.params import DatasetConfig as DatasetConfig
from ganbench.config.params import FeaturesConfig as FeaturesConfig
from ganbench.config.params import Params as Params
from ganbench.config.params import Pipeline as Pipeline
from ganbench.config.params import ReportSpec as ReportSpec
from ganbench.config.params import Search as Search
from ganbench.config.params import Study as Study
from ganbench.config.params import Variant as Variant
from ganbench.config.params import load_params as load_params
from ganbench.config.params import run_name as run_name
from ganbench.config.recipe import Evaluation as Evaluation
from ganbench.config.recipe import Figures as Figures
from ganbench.config.recipe import Optimiser as Optimiser
from ganbench.config.recipe import Recipe as Recipe
from ganbench.config.recipe import Training as Training
