"""Typed, frozen views of params.yaml, validated before any work starts.

Every section is a frozen dataclass built by :func:`from_dict`, which refuses unknown keys, wrong
types and (through each class's ``check``) out-of-range values with a :class:`ConfigError` that names
the full key, the bad value and what is allowed. A run's resolved config (:class:`RunConfig`) is the
study defaults with the model's hyperparameter set and overrides applied.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ganbench.errors import ConfigError, UserError

DEVICES = ("auto", "cpu", "cuda")
ABLATION_STUDIES = ("sagan", "biggan")
# Rows of the papers' ablation tables a variant's ``paper_rows`` may name (the published numbers
# are in ganbench/reporting/published/).
ABLATION_PAPER_ROWS: dict[str, tuple[str, ...]] = {
    "sagan": (  # Table 1 (attention or a residual block after the KxK map), then Figure 3
        "no_attention",
        *(f"{block}_{k}" for block in ("attention", "residual") for k in (8, 16, 32, 64)),
        "sn_d",
        "sn_gd",
        "sn_gd_ttur",
    ),
    "biggan": tuple(str(i) for i in range(1, 10)),
}
PRECISIONS = ("fp32", "bf16", "fp16")
SPLITS = ("train", "test")


def _type_ok(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:  # YAML writes 1e-4 as a float but 10 as an int
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is tuple:
        (item,) = {a for a in typing.get_args(annotation) if a is not Ellipsis}
        return isinstance(value, (list, tuple)) and all(_type_ok(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, annotation)


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def from_dict(cls: type, data: Any, key: str) -> Any:
    """Build the dataclass ``cls`` from a params mapping found at ``key`` (for messages)."""
    if not isinstance(data, dict):
        raise ConfigError(key, data, f"a mapping with keys {', '.join(_field_names(cls))}")
    hints = typing.get_type_hints(cls)
    names = _field_names(cls)
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(
            _join(key, unknown[0]), data[unknown[0]], "known keys " + ", ".join(names)
        )
    kwargs = {}
    for f in dataclasses.fields(cls):
        full = _join(key, f.name)
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(full, "<missing>", f"a value of type {_type_name(hints[f.name])}")
            continue
        value = data[f.name]
        annotation = hints[f.name]
        annotation = _optional_dataclass(annotation) if value is not None else annotation
        if value is not None and _optional_tuple(annotation):
            annotation = _optional_tuple(annotation)
        if dataclasses.is_dataclass(annotation):
            value = from_dict(annotation, value, full)
        elif not _type_ok(value, annotation):
            raise ConfigError(full, value, f"a value of type {_type_name(annotation)}")
        elif typing.get_origin(annotation) is tuple:
            value = tuple(value)
        elif annotation is float:
            value = float(value)
        kwargs[f.name] = value
    obj = cls(**kwargs)
    if hasattr(obj, "check"):
        obj.check(key)
    return obj


def _optional_dataclass(annotation: Any) -> Any:
    """``X | None`` with X a dataclass -> X (a value was given); anything else unchanged."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and dataclasses.is_dataclass(rest[0]):
            return rest[0]
    return annotation


def _optional_tuple(annotation: Any) -> Any:
    """``tuple[...] | None`` -> ``tuple[...]``; None for anything else."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1 and typing.get_origin(rest[0]) is tuple:
            return rest[0]
    return None


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", str(annotation)).replace("typing.", "")


def require(ok: bool, key: str, value: Any, allowed: str) -> None:
    """Raise ConfigError(key, value, allowed) unless ``ok``."""
    if not ok:
        raise ConfigError(key, value, allowed)


def require_choice(value: Any, choices: typing.Iterable[str], key: str) -> None:
    choices = list(choices)
    require(value in choices, key, value, "one of " + ", ".join(choices))


@dataclass(frozen=True)
class ClassifierConfig:
    """The offline feature network (``classifier`` stage)."""

    width: int = 32
    epochs: int = 3
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    min_accuracy: float = 0.9

    def check(self, key: str) -> None:
        for name in ("width", "epochs", "batch_size"):
            require(getattr(self, name) >= 1, f"{key}.{name}", getattr(self, name), "an int >= 1")
        require(self.lr > 0, f"{key}.lr", self.lr, "a float > 0")
        require(0 <= self.min_accuracy <= 1, f"{key}.min_accuracy", self.min_accuracy, "[0, 1]")


@dataclass(frozen=True)
class FeaturesConfig:
    extractor: str = "classifier"
    # External weights (Inception): a path, else $GANBENCH_INCEPTION_WEIGHTS, the torch hub cache,
    # then a download. Ignored by extractors the pipeline trains (classifier).
    weights_path: str | None = None
    # Expected hex prefix of the weights file's SHA-256 (null: the extractor's official one).
    weights_sha256: str | None = None
    batch_size: int = 500

    def check(self, key: str) -> None:
        from ganbench.metrics.features import FEATURE_EXTRACTORS

        require_choice(self.extractor, FEATURE_EXTRACTORS.names(), f"{key}.extractor")
        require(self.batch_size >= 1, f"{key}.batch_size", self.batch_size, "an int >= 1")
        if self.weights_sha256 is not None:
            digest = self.weights_sha256
            require(
                8 <= len(digest) <= 64 and all(c in "0123456789abcdefABCDEF" for c in digest),
                f"{key}.weights_sha256",
                digest,
                "null or 8 to 64 hex digits (a prefix of the file's SHA-256)",
            )


@dataclass(frozen=True)
class DatasetConfig:
    root: str | None = None  # a directory holding the raw files; None: system package, download


@dataclass(frozen=True)
class Hyperparameters:
    """The searched hyperparameters of Lucic et al. (one value per model and run)."""

    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_disc: int = 1  # D steps per G step; a training step is one D step, as in the paper
    d_batchnorm: bool = True
    clip: float = 0.01  # WGAN weight clipping
    penalty_weight: float = 10.0  # WGAN-GP / DRAGAN lambda
    began_lambda_k: float = 1e-3
    began_gamma: float = 0.75

    def check(self, key: str) -> None:
        require(self.lr > 0, f"{key}.lr", self.lr, "a float > 0")
        for name in ("beta1", "beta2"):
            v = getattr(self, name)
            require(0 <= v < 1, f"{key}.{name}", v, "a float in [0, 1)")
        require(self.n_disc >= 1, f"{key}.n_disc", self.n_disc, "an int >= 1")
        require(self.clip > 0, f"{key}.clip", self.clip, "a float > 0")
        require(self.penalty_weight >= 0, f"{key}.penalty_weight", self.penalty_weight, ">= 0")
        require(self.began_lambda_k > 0, f"{key}.began_lambda_k", self.began_lambda_k, "> 0")
        require(0 < self.began_gamma <= 1, f"{key}.began_gamma", self.began_gamma, "(0, 1]")


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    batch_size: int = 64
    width: float = 0.25  # channel multiplier of the InfoGAN-style networks (paper: 1)
    z_dim: int = 64
    num_checkpoints: int = 4  # evaluation points, evenly spaced (paper: every 5 epochs)
    resume_every: int = 250  # steps between resumable snapshots
    device: str = "auto"
    precision: str = "fp32"
    threads: int = 0  # torch CPU threads; 0 keeps torch's default

    def check(self, key: str) -> None:
        for name in ("steps", "batch_size", "z_dim", "num_checkpoints", "resume_every"):
            v = getattr(self, name)
            require(v >= 1, f"{key}.{name}", v, "an int >= 1")
        require(
            self.num_checkpoints <= self.steps,
            f"{key}.num_checkpoints",
            self.num_checkpoints,
            f"an int in [1, steps={self.steps}]",
        )
        require(self.width > 0, f"{key}.width", self.width, "a float > 0")
        require(self.threads >= 0, f"{key}.threads", self.threads, "an int >= 0")
        require_choice(self.device, DEVICES, f"{key}.device")
        require_choice(self.precision, PRECISIONS, f"{key}.precision")


@dataclass(frozen=True)
class EvaluateConfig:
    num_fake: int = 10000
    reference_split: str = "test"
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    is_splits: int = 10
    standing_stats_batches: int = 20  # G batches in train mode that re-estimate BN statistics
    standing_stats_batch_size: int = 500  # their size (fixed, so scores do not hang on batch_size)
    batch_size: int = 500  # samples per G + extractor batch; does not change any score
    seed: int = 2020  # sampling noise, KID subsets and IS shuffling
    grid_size: int = 8  # sample grid is grid_size x grid_size
    prdc_k: int = 5  # k-NN of precision/recall/density/coverage (Naeem et al. 2020 use 5)

    def check(self, key: str) -> None:
        for name in (
            "num_fake",
            "prdc_k",
            "standing_stats_batch_size",
            "kid_subsets",
            "kid_subset_size",
            "is_splits",
            "batch_size",
            "grid_size",
        ):
            v = getattr(self, name)
            require(v >= 1, f"{key}.{name}", v, "an int >= 1")
        require(
            self.standing_stats_batches >= 0,
            f"{key}.standing_stats_batches",
            self.standing_stats_batches,
            "an int >= 0",
        )
        require_choice(self.reference_split, SPLITS, f"{key}.reference_split")
        require(
            self.prdc_k < self.num_fake,
            f"{key}.prdc_k",
            self.prdc_k,
            f"an int < num_fake ({self.num_fake}): the k-th neighbour must exist",
        )
        require(
            self.kid_subset_size <= self.num_fake,
            f"{key}.kid_subset_size",
            self.kid_subset_size,
            f"an int <= num_fake ({self.num_fake})",
        )
        require(
            self.is_splits <= self.num_fake,
            f"{key}.is_splits",
            self.is_splits,
            f"an int <= num_fake ({self.num_fake})",
        )


@dataclass(frozen=True)
class LucicConfig:
    """The loss comparison of Lucic et al. 2018: models x datasets x seeds."""

    datasets: tuple[str, ...] = ("fashion_mnist",)
    models: tuple[str, ...] = ("mm", "ns", "lsgan", "wgan", "wgan_gp", "dragan", "began", "vae")
    seeds: tuple[int, ...] = (0, 1, 2)
    hparams: str = "shared"  # a named set: 'shared' (the block below) or 'authors' (the paper's)
    shared: Hyperparameters = field(default_factory=Hyperparameters)
    overrides: dict = field(default_factory=dict)  # model -> {hyperparameter: value}
    train: TrainConfig = field(default_factory=TrainConfig)
    steps_by_dataset: dict = field(
        default_factory=dict
    )  # dataset -> steps (paper: 20/100/40 epochs)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)

    def check(self, key: str) -> None:
        from ganbench.data import DATASETS
        from ganbench.losses import LOSSES
        from ganbench.training.hparams import HPARAM_SETS

        for i, name in enumerate(self.datasets):
            require_choice(name, DATASETS.names(), f"{key}.datasets[{i}]")
        for i, name in enumerate(self.models):
            require_choice(name, LOSSES.names(), f"{key}.models[{i}]")
        require(
            len(set(self.seeds)) == len(self.seeds),
            f"{key}.seeds",
            list(self.seeds),
            "distinct ints",
        )
        for s in self.seeds:
            require(s >= 0, f"{key}.seeds", s, "ints >= 0")
        require_choice(self.hparams, HPARAM_SETS.names(), f"{key}.hparams")
        for name, steps in self.steps_by_dataset.items():
            require_choice(name, DATASETS.names(), f"{key}.steps_by_dataset")
            require(
                isinstance(steps, int) and not isinstance(steps, bool) and steps >= 1,
                f"{key}.steps_by_dataset.{name}",
                steps,
                "an int >= 1",
            )
            require(
                self.train.num_checkpoints <= steps,
                f"{key}.steps_by_dataset.{name}",
                steps,
                f"an int >= train.num_checkpoints ({self.train.num_checkpoints})",
            )
        for model, values in self.overrides.items():
            require_choice(model, LOSSES.names(), f"{key}.overrides")
            require(
                values is None or isinstance(values, dict),
                f"{key}.overrides.{model}",
                values,
                "a mapping of hyperparameter names to values",
            )
            # validate the override's keys and types against Hyperparameters
            base = dataclasses.asdict(self.shared)
            from_dict(Hyperparameters, {**base, **(values or {})}, f"{key}.overrides.{model}")


NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")  # variant names: used in stage names and paths
# ResNet fields the dataset decides (image size and channels, number of classes)
DATA_DERIVED_MODEL_KEYS = ("resolution", "image_channels", "num_classes")


@dataclass(frozen=True)
class AblationTrain:
    """Training of one SAGAN/BigGAN ablation run. One step is one D update (as in the Lucic loop);
    G is updated on every ``n_disc``-th step, so G makes ``steps / n_disc`` updates."""

    steps: int = 400
    batch_size: int = 32
    loss: str = "hinge"
    lr_g: float = 1e-4  # TTUR (Heusel et al. 2017): separate G and D learning rates
    lr_d: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.9
    n_disc: int = 1
    ortho_beta: float = 0.0  # orthogonal regularisation of G (BigGAN: 1e-4); 0 is off
    ema_decay: float = 0.0  # EMA of G's weights (BigGAN: 0.9999); 0 is off
    ema_start: int = 0  # D step from which the EMA averages (before it, it copies G)
    conditional: bool = True  # class-conditional G (CBN) and projection D
    num_checkpoints: int = 4
    resume_every: int = 200
    device: str = "auto"
    precision: str = "fp32"
    threads: int = 0
    nproc: int = 1  # processes (one per GPU) for one run; > 1 trains under torchrun (DDP)

    def check(self, key: str) -> None:
        from ganbench.losses import LOSSES
        from ganbench.losses.objectives import LogitObjective

        for name in ("steps", "batch_size", "n_disc", "num_checkpoints", "resume_every", "nproc"):
            v = getattr(self, name)
            require(v >= 1, f"{key}.{name}", v, "an int >= 1")
        require(
            self.num_checkpoints <= self.steps,
            f"{key}.num_checkpoints",
            self.num_checkpoints,
            f"an int in [1, steps={self.steps}]",
        )
        logit_losses = [n for n in LOSSES.names() if issubclass(LOSSES.get(n), LogitObjective)]
        require_choice(self.loss, logit_losses, f"{key}.loss")
        if self.nproc > 1:  # a penalty's extra D forward is not synchronised under DDP
            plain = [n for n in logit_losses if LOSSES.get(n).penalty is LogitObjective.penalty]
            require_choice(self.loss, plain, f"{key}.loss (with nproc > 1)")
        for name in ("lr_g", "lr_d"):
            require(getattr(self, name) > 0, f"{key}.{name}", getattr(self, name), "a float > 0")
        for name in ("beta1", "beta2"):
            v = getattr(self, name)
            require(0 <= v < 1, f"{key}.{name}", v, "a float in [0, 1)")
        require(self.ortho_beta >= 0, f"{key}.ortho_beta", self.ortho_beta, "a float >= 0")
        require(0 <= self.ema_decay < 1, f"{key}.ema_decay", self.ema_decay, "a float in [0, 1)")
        require(self.ema_start >= 0, f"{key}.ema_start", self.ema_start, "an int >= 0")
        require(self.threads >= 0, f"{key}.threads", self.threads, "an int >= 0")
        require(
            self.batch_size % self.nproc == 0,
            f"{key}.batch_size",
            self.batch_size,
            f"a multiple of nproc ({self.nproc}): the global batch is split evenly over processes",
        )
        require_choice(self.device, DEVICES, f"{key}.device")
        require_choice(self.precision, PRECISIONS, f"{key}.precision")


@dataclass(frozen=True)
class AblationEvaluate(EvaluateConfig):
    """EvaluateConfig plus the ablation extras. Every checkpoint is scored for the raw G and, when
    the run keeps an EMA, for the EMA G; the truncation sweep and grids use the best checkpoint."""

    truncation: tuple[float, ...] = ()  # psi values swept (no truncation is always included)
    grid_truncation: tuple[float, ...] = ()  # extra class-conditional grids at these psi
    attention_queries: int = 4  # query locations in the attention-map figure

    def check(self, key: str) -> None:
        super().check(key)
        for name in ("truncation", "grid_truncation"):
            for v in getattr(self, name):
                require(v > 0, f"{key}.{name}", v, "psi values > 0")
        require(
            self.attention_queries >= 1,
            f"{key}.attention_queries",
            self.attention_queries,
            "an int >= 1",
        )


@dataclass(frozen=True)
class AblationVariant:
    """One row: a name, a label, the paper rows it stands for, and overrides of the study's
    ``model`` and ``train`` blocks."""

    label: str = ""
    paper_rows: tuple[str, ...] = ()  # keys of the paper's rows (ganbench.reporting.ablation)
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AblationStudy:
    """A SAGAN or BigGAN ablation: variants (rows) x seeds on one conditional dataset."""

    dataset: str = "fashion_mnist32"
    seeds: tuple[int, ...] = (0, 1)
    arch: str = "resnet"
    baseline: str = "baseline"  # the variant every row is compared with
    model: dict = field(default_factory=dict)  # ResNetConfig fields (not the data-derived ones)
    train: AblationTrain = field(default_factory=AblationTrain)
    variants: dict = field(default_factory=dict)  # name -> AblationVariant mapping
    evaluate: AblationEvaluate = field(default_factory=AblationEvaluate)

    def check(self, key: str) -> None:
        from ganbench.data import DATASETS
        from ganbench.models import ABLATION_ARCHITECTURES

        require_choice(self.dataset, DATASETS.names(), f"{key}.dataset")
        require_choice(self.arch, ABLATION_ARCHITECTURES.names(), f"{key}.arch")
        require(
            len(set(self.seeds)) == len(self.seeds),
            f"{key}.seeds",
            list(self.seeds),
            "distinct ints",
        )
        for s in self.seeds:
            require(s >= 0, f"{key}.seeds", s, "ints >= 0")
        require(bool(self.variants), f"{key}.variants", self.variants, "at least one variant")
        for name in self.variants:
            require(
                isinstance(name, str) and bool(NAME_RE.match(name)),
                f"{key}.variants",
                name,
                "names of lowercase letters, digits and _ (they name stages and files)",
            )
        require_choice(self.baseline, list(self.variants), f"{key}.baseline")
        for name in self.variants:  # every row resolves to a valid model and training config
            variant, _, _ = self.resolve(name, key=key)
            for row in variant.paper_rows:
                if key in ABLATION_PAPER_ROWS:
                    require_choice(
                        row, ABLATION_PAPER_ROWS[key], f"{key}.variants.{name}.paper_rows"
                    )

    def variant(self, name: str, key: str = "study") -> AblationVariant:
        require_choice(name, list(self.variants), f"{key}.variants")
        return from_dict(AblationVariant, self.variants[name] or {}, f"{key}.variants.{name}")

    def resolve(self, name: str, key: str = "study") -> tuple[AblationVariant, dict, AblationTrain]:
        """(variant, merged model fields, merged training config) of one row."""
        variant = self.variant(name, key)
        vkey = f"{key}.variants.{name}"
        for where, block in ((f"{key}.model", self.model), (f"{vkey}.model", variant.model)):
            for k in block:
                require(
                    k not in DATA_DERIVED_MODEL_KEYS,
                    f"{where}.{k}",
                    block[k],
                    "no value: the dataset sets " + ", ".join(DATA_DERIVED_MODEL_KEYS),
                )
        model = {**self.model, **variant.model}
        train = from_dict(
            AblationTrain, {**dataclasses.asdict(self.train), **variant.train}, f"{vkey}.train"
        )
        from ganbench.data import DATASETS

        c, h, _ = DATASETS.get(self.dataset).image_shape
        num_classes = DATASETS.get(self.dataset).num_classes if train.conditional else 0
        require(
            not train.conditional or num_classes > 0,
            f"{vkey}.train.conditional",
            True,
            f"false: dataset {self.dataset} has no labels",
        )
        resnet_config(
            {**model, "resolution": h, "image_channels": c, "num_classes": num_classes},
            f"{vkey}.model",
        )
        return variant, model, train


def resnet_config(fields: dict, key: str):
    """A validated ResNetConfig whose errors name the params key (``<key>.<field>``)."""
    from ganbench.models.resnet import ResNetConfig

    allowed = [f.name for f in dataclasses.fields(ResNetConfig)]
    for k, v in fields.items():
        require(k in allowed, f"{key}.{k}", v, "known keys " + ", ".join(allowed))
    fields = {k: (tuple(v) if isinstance(v, list) else v) for k, v in fields.items()}
    try:
        return ResNetConfig(**fields)
    except ConfigError as err:
        field_name = err.key.split(".", 1)[-1]
        raise ConfigError(f"{key}.{field_name}", err.value, err.allowed) from None
    except TypeError as err:
        raise ConfigError(key, fields, f"ResNet fields of the right types ({err})") from None


@dataclass(frozen=True)
class Params:
    """The whole params.yaml."""

    data: dict = field(default_factory=dict)  # dataset name -> DatasetConfig mapping
    # every dataset a study uses: prepare, classifier and refstats run once per entry (dvc.yaml's
    # matrix); None: not checked (a params file used outside the pipeline)
    datasets: tuple[str, ...] | None = None
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    lucic: LucicConfig = field(default_factory=LucicConfig)
    sagan: AblationStudy | None = None  # SAGAN ablation (Zhang et al. 2019, Table 1 and Fig. 3)
    biggan: AblationStudy | None = None  # BigGAN ablation (Brock et al. 2019, Table 1)

    def study(self, name: str) -> AblationStudy:
        require_choice(name, [n for n in ABLATION_STUDIES if getattr(self, n)], "study")
        return getattr(self, name)

    def check(self, key: str) -> None:
        from ganbench.data import DATASETS

        for name, section in self.data.items():
            require_choice(name, DATASETS.names(), "data")
            from_dict(DatasetConfig, section or {}, f"data.{name}")
        if self.datasets is None:
            return
        for i, name in enumerate(self.datasets):
            require_choice(name, DATASETS.names(), f"datasets[{i}]")
        used = [(f"lucic.datasets[{i}]", d) for i, d in enumerate(self.lucic.datasets)]
        used += [
            (f"{n}.dataset", getattr(self, n).dataset) for n in ABLATION_STUDIES if getattr(self, n)
        ]
        for where, name in used:
            require(
                name in self.datasets,
                where,
                name,
                f"a dataset listed in datasets ({', '.join(self.datasets)}): "
                "prepare/classifier/refstats run for those",
            )
        for n in ABLATION_STUDIES:
            study = getattr(self, n)
            if (
                study is not None and self.datasets is not None
            ):  # refstats are built once per dataset, on lucic's split
                split = self.lucic.evaluate.reference_split
                require(
                    study.evaluate.reference_split == split,
                    f"{n}.evaluate.reference_split",
                    study.evaluate.reference_split,
                    f"{split!r}, the split of the reference statistics "
                    "(lucic.evaluate.reference_split)",
                )

    def dataset(self, name: str) -> DatasetConfig:
        """``data.<name>``; a derived dataset (e.g. fashion_mnist32) falls back to its base's."""
        from ganbench.data import DATASETS

        base = getattr(DATASETS.get(name, "dataset"), "base", None)
        if name not in self.data and base is not None:
            return self.dataset(base)
        return from_dict(DatasetConfig, self.data.get(name) or {}, f"data.{name}")


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader that reads YAML 1.2 floats such as ``5e-5`` (YAML 1.1 needs ``5.0e-5``)."""


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; any problem is a UserError naming the key."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"params file not found: {path}")
    try:
        raw = yaml.load(path.read_text(), Loader=_Yaml12Loader) or {}
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML: {err}") from None
    return from_dict(Params, raw, "")


@dataclass(frozen=True)
class RunConfig:
    """Everything one training run needs, resolved; stored in every checkpoint and beside outputs."""

    study: str
    dataset: str
    model: str
    seed: int
    hparams: Hyperparameters
    train: TrainConfig

    @property
    def name(self) -> str:
        return run_name(self.study, self.dataset, self.model, self.seed)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        return from_dict(cls, data, "run")


def run_name(study: str, dataset: str, model: str, seed: int) -> str:
    return f"{study}-{dataset}-{model}-{seed}"


def resolve_lucic_run(params: Params, dataset: str, model: str, seed: int) -> RunConfig:
    """The study defaults + the model's named hyperparameter set + its overrides."""
    from ganbench.training.hparams import HPARAM_SETS

    lucic = params.lucic
    require_choice(dataset, lucic.datasets, "dataset (lucic.datasets)")
    require_choice(model, lucic.models, "model (lucic.models)")
    require(seed in lucic.seeds, "seed (lucic.seeds)", seed, f"one of {list(lucic.seeds)}")
    base = HPARAM_SETS.get(lucic.hparams, "lucic.hparams")(model, lucic.shared)
    merged = {**dataclasses.asdict(base), **(lucic.overrides.get(model) or {})}
    hp = from_dict(Hyperparameters, merged, f"lucic.overrides.{model}")
    train = lucic.train
    if dataset in lucic.steps_by_dataset:
        train = dataclasses.replace(train, steps=lucic.steps_by_dataset[dataset])
    return RunConfig("lucic", dataset, model, seed, hp, train)


@dataclass(frozen=True)
class AblationRunConfig:
    """One SAGAN/BigGAN ablation run, resolved: the full ResNet fields (data-derived ones included)
    and the training config. Stored in every checkpoint and beside the run's outputs."""

    study: str
    dataset: str
    variant: str
    seed: int
    arch: str
    model: dict
    train: AblationTrain

    @property
    def name(self) -> str:
        return run_name(self.study, self.dataset, self.variant, self.seed)

    def resnet(self):
        return resnet_config(self.model, f"{self.study}.variants.{self.variant}.model")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["model"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.model.items()}
        return d

    @classmethod
    def from_dict(cls, data: dict) -> AblationRunConfig:
        return from_dict(cls, data, "run")


def resolve_ablation_run(params: Params, study: str, variant: str, seed: int) -> AblationRunConfig:
    """The study's ``model``/``train`` blocks with the variant's overrides and the dataset's shape."""
    from ganbench.data import DATASETS

    s = params.study(study)
    _, model, train = s.resolve(variant, key=study)
    require(seed in s.seeds, f"seed ({study}.seeds)", seed, f"one of {list(s.seeds)}")
    source = DATASETS.get(s.dataset)
    c, h, _ = source.image_shape
    full = {
        **model,
        "resolution": h,
        "image_channels": c,
        "num_classes": source.num_classes if train.conditional else 0,
    }
    full = dataclasses.asdict(resnet_config(full, f"{study}.variants.{variant}.model"))
    return AblationRunConfig(study, s.dataset, variant, seed, s.arch, full, train)
