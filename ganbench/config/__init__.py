"""The params schema (pydantic models, extra keys forbidden); imports nothing of ganbench but
``errors``. Registry names are checked one layer up, in :mod:`ganbench.plan`."""

from ganbench.config.base import (
    Block,
    FieldError,
    NamedBlock,
    Seq,
    deep_merge,
    read_yaml,
    validate,
)
from ganbench.config.params import (
    ClassifierConfig,
    DatasetConfig,
    FeaturesConfig,
    Params,
    Pipeline,
    ReportSpec,
    Study,
    Variant,
    load_params,
)
from ganbench.config.recipe import Evaluation, Figures, Optimiser, Recipe, Training

__all__ = [
    "Block",
    "ClassifierConfig",
    "DatasetConfig",
    "Evaluation",
    "FeaturesConfig",
    "FieldError",
    "Figures",
    "NamedBlock",
    "Optimiser",
    "Params",
    "Pipeline",
    "Recipe",
    "ReportSpec",
    "Seq",
    "Study",
    "Training",
    "Variant",
    "deep_merge",
    "load_params",
    "read_yaml",
    "validate",
]
