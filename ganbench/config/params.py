"""The whole ``params.yaml``: shared sections, and ``studies``, each a recipe, variants and seeds.

A study is run as every (dataset, variant, trial) of its search and every (dataset, variant, seed)
of its lists, the latter on the setting its select stage chose. A variant's recipe is the study's
``recipe`` with the variant's blocks deep-merged in. Registry names (datasets, architectures,
objectives, feature extractors, report sections) are checked one layer up, in ganbench.plan.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from ganbench.config.base import (
    NAME_PATTERN,
    Block,
    FieldError,
    Seq,
    deep_merge,
    join,
    read_yaml,
    validate,
)
from ganbench.config.recipe import Recipe
from ganbench.errors import ConfigError

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
RECIPE_BLOCKS = tuple(Recipe.model_fields)


class Pipeline(Block):
    """What every stage shares: where it computes and which split the references are built on."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(0, ge=0)  # torch CPU threads; 0 keeps torch's default
    reference_split: Literal["train", "test"] = "test"
    # speed switches, off by default (the GPU presets switch them on); each may change float
    # rounding, none the model: cuDNN autotuning per shape, TensorFloat-32 matmuls and convs
    # (Ampere and later), NHWC tensors for G and D, torch.compile of G's and D's forwards
    cudnn_benchmark: bool = False
    tf32: bool = False
    channels_last: bool = False
    compile: bool = False


class DatasetConfig(Block):
    root: str | None = None  # a directory holding the raw files; None: system package, download


class FeaturesConfig(Block):
    extractor: str = "classifier"  # a FEATURE_EXTRACTORS name
    # External weights (Inception): a path, else $GANBENCH_INCEPTION_WEIGHTS, the torch hub cache,
    # then a download. Ignored by extractors the pipeline trains (classifier).
    weights_path: str | None = None
    # Expected hex prefix of the weights file's SHA-256 (null: the extractor's official one).
    weights_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{8,64}$")] | None = None
    batch_size: int = Field(500, ge=1)


class ClassifierConfig(Block):
    """The offline feature network (``classifier`` stage)."""

    width: int = Field(32, ge=1)
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0)
    seed: int = 0
    min_accuracy: float = Field(0.9, ge=0, le=1)


Space = Literal["none", "wide", "narrow"]  # ganbench.search.SPACES


class Search(Block):
    """Lucic et al. 2018's random search (ganbench.search): ``trials`` are trial indices, a DVC
    matrix axis like ``seeds`` (adding one trains only it); trial 0 is the recipe as set."""

    space: Space = "none"
    trials: Seq[Annotated[int, Field(ge=0)]] = ()
    # The paper's phase 2: trials from this index on draw from the narrow space, and the
    # re-runs' setting is chosen among the trials before it (phase 1) only. None: one phase.
    narrow_from: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _distinct(self) -> Search:
        if len(set(self.trials)) != len(self.trials):
            raise FieldError("trials", list(self.trials), "distinct ints")
        return self

    def phase1(self, trial: int) -> bool:
        return self.narrow_from is None or trial < self.narrow_from


class VariantSearch(Block):
    """A variant's own space. The trial indices are the study's: DVC's matrix is a product."""

    space: Space


class Variant(Block):
    """One row of a study: a label, the published rows it stands for, and recipe overrides."""

    label: str = ""
    paper_rows: Seq[str] = ()
    search: VariantSearch | None = None
    arch: dict = {}
    objective: dict = {}
    penalty: dict = {}
    optimiser: dict = {}
    training: dict = {}
    evaluation: dict = {}
    figures: dict = {}

    def overrides(self) -> dict:
        return {b: getattr(self, b) for b in RECIPE_BLOCKS if getattr(self, b)}


class ReportSpec(Block):
    """What the study's report adds to the generic sections (ganbench.reporting)."""

    title: str = ""
    sections: Seq[str] = ()  # registered study-specific sections, in order
    published: str | None = None  # the published table the variants' paper_rows refer to


class Study(Block):
    datasets: Seq[Name] = Field(min_length=1)
    seeds: Seq[Annotated[int, Field(ge=0)]]  # the best setting's re-runs; empty: not run
    baseline: Name
    search: Search  # required: the stages name it as a params dependency
    recipe: Recipe
    variants: dict[Name, Variant] = Field(min_length=1)
    report: ReportSpec = ReportSpec()

    @model_validator(mode="after")
    def _consistent(self) -> Study:
        if len(set(self.seeds)) != len(self.seeds):
            raise FieldError("seeds", list(self.seeds), "distinct ints")
        if self.baseline not in self.variants:
            raise FieldError("baseline", self.baseline, "one of " + ", ".join(self.variants))
        for name in self.recipe.training.by_dataset:
            if name not in self.datasets:
                raise FieldError(
                    "recipe.training.by_dataset",
                    name,
                    "datasets of the study: " + ", ".join(self.datasets),
                )
        return self

    def space_for(self, variant: str, trial: int = 0) -> str:
        """The space trial ``trial`` of ``variant`` draws from."""
        if not self.search.phase1(trial):
            return "narrow"
        own = self.variants[variant].search
        return self.search.space if own is None else own.space

    def recipe_for(self, variant: str, key: str) -> Recipe:
        """The variant's recipe; errors name the key that set the bad value."""
        merged = deep_merge(self.recipe.model_dump(), self.variants[variant].overrides())
        try:
            return validate(Recipe, merged, "")
        except ConfigError as err:
            raise self.config_error(err, variant, key) from None

    def config_error(self, err: ConfigError, variant: str, key: str) -> ConfigError:
        """``err`` about a recipe path (``training.steps``) re-keyed to the params key that set
        the value: the variant's, else the study's recipe."""
        node: Any = self.variants[variant].overrides()
        parts = err.key.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
            if i == len(parts) - 1 or not isinstance(node, dict):
                return ConfigError(
                    join(f"{key}.variants.{variant}", err.key), err.value, err.allowed
                )
        return ConfigError(join(f"{key}.recipe", err.key), err.value, err.allowed)


def run_name(study: str, dataset: str, variant: str, seed: int, trial: int | None = None) -> str:
    """``<study>-<dataset>-<variant>-<seed>`` (a re-run), ``...-t<trial>`` (a search trial)."""
    return f"{study}-{dataset}-{variant}-" + (str(seed) if trial is None else f"t{trial}")


class Params(Block):
    data: dict[Name, DatasetConfig] = {}  # raw data location per dataset
    datasets: Seq[Name] = ()  # prepare/classifier/refstats run for each
    pipeline: Pipeline = Pipeline()
    features: FeaturesConfig = FeaturesConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    studies: dict[Name, Study] = {}

    @model_validator(mode="after")
    def _datasets_listed(self) -> Params:
        for name, study in self.studies.items():
            for d in study.datasets:
                if d not in self.datasets:
                    raise FieldError(
                        f"studies.{name}.datasets",
                        d,
                        f"a dataset listed in datasets ({', '.join(self.datasets)}): "
                        "prepare/classifier/refstats run for those",
                    )
        return self

    def study(self, name: str) -> Study:
        if name not in self.studies:
            raise ConfigError("studies", name, "one of " + ", ".join(self.studies))
        return self.studies[name]

    def dataset(self, name: str, base: str | None = None) -> DatasetConfig:
        """``data.<name>``, else (a derived dataset such as fashion_mnist32) its ``base``'s."""
        if name not in self.data and base is not None:
            return self.dataset(base)
        return self.data.get(name, DatasetConfig())


def load_params(path: str = "params.yaml") -> Params:
    """Read and validate a params file; any problem is a UserError naming the key."""
    return validate(Params, read_yaml(path), "")
