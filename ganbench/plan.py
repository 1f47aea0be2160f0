"""Study -> runs: every (dataset, variant, trial) of a study's search and every (dataset,
variant, seed) of its best-setting re-runs, resolved into a :class:`RunSpec`.

Resolution checks what the schema cannot: registry names (datasets, architectures, objectives,
penalties, published tables), each entry's own fields against its params model, and the rules
between them (a penalty needs a logit objective, labels need a conditional architecture and a
labelled dataset, the objective's prior of z, the architecture's fit to the image size). Errors
name the params key that set the offending value. :func:`load_plan` resolves every run, so bad
params stop every stage before any work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from torch import nn

from ganbench.config import NamedBlock, Params, Recipe, Study, load_params, run_name, validate
from ganbench.data import DATASETS
from ganbench.errors import ConfigError
from ganbench.losses import OBJECTIVES, PENALTIES, Objective, Penalty, PenaltyParams
from ganbench.losses.objectives import NoParams
from ganbench.models import ARCHITECTURES
from ganbench.published import PUBLISHED
from ganbench.record import Selection
from ganbench.search import TRIAL_SEED, sample

TRAINING_BLOCKS = ("arch", "objective", "penalty", "optimiser", "training")
SEARCHED_BLOCKS = ("arch", "objective", "penalty", "optimiser")  # fields a space may set


@dataclass(frozen=True)
class RunSpec:
    """One run, resolved: the recipe with every registry entry's fields filled in, and the
    shape of the data. Stored in every checkpoint and beside the run's outputs."""

    study: str
    dataset: str
    variant: str
    seed: int
    recipe: Recipe
    image_shape: tuple[int, int, int]
    num_classes: int  # 0 when the run is unconditional
    search: dict  # ganbench.record.SearchInfo: space, role, trial, hparams

    @property
    def name(self) -> str:
        trial = self.search["trial"] if self.search["role"] == "trial" else None
        return run_name(self.study, self.dataset, self.variant, self.seed, trial)

    @property
    def z_dim(self) -> int:
        return self.recipe.arch.fields()["z_dim"]

    def training_recipe(self) -> dict:
        """The blocks that decide the trained weights (not evaluation, not figures)."""
        return self.recipe.model_dump(mode="json", include=set(TRAINING_BLOCKS))

    def training_key(self) -> str:
        """Canonical text of what training depends on: a snapshot resumes only under it."""
        d = {**self.to_dict(), "recipe": self.training_recipe()}
        return json.dumps(d, sort_keys=True)

    def to_dict(self) -> dict:
        return {
            "study": self.study,
            "dataset": self.dataset,
            "variant": self.variant,
            "seed": self.seed,
            "recipe": self.recipe.model_dump(mode="json"),
            "image_shape": list(self.image_shape),
            "num_classes": self.num_classes,
            "search": self.search,
        }

    @classmethod
    def from_dict(cls, d: dict) -> RunSpec:
        recipe = validate(Recipe, _tuples(d["recipe"]), "run.recipe")
        return cls(
            d["study"], d["dataset"], d["variant"], int(d["seed"]), recipe,
            tuple(d["image_shape"]), int(d["num_classes"]), d["search"],
        )  # fmt: skip


def _tuples(value):
    """JSON lists back to the tuples a resolved recipe holds (every list field is a tuple)."""
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def resolve_run(
    params: Params,
    study: str,
    dataset: str,
    variant: str,
    seed: int | None = None,
    *,
    trial: int | None = None,
    selected: Selection | None = None,
) -> RunSpec:
    """The re-run ``<study>-<dataset>-<variant>-<seed>`` on the setting the select stage chose
    (``selected``; None: the recipe as set), or search trial ``trial`` (its setting drawn by
    ganbench.search), checked against every registry."""
    s, key = params.study(study), f"studies.{study}"
    role, index = ("seed", seed) if trial is None else ("trial", trial)
    for what, value, allowed in (
        ("datasets", dataset, s.datasets),
        ("variants", variant, list(s.variants)),
        ("seeds" if role == "seed" else "search.trials", index,
         s.seeds if role == "seed" else s.search.trials),
    ):  # fmt: skip
        if value not in allowed:
            raise ConfigError(f"{key}.{what}", value, "one of " + ", ".join(map(str, allowed)))
    source = DATASETS.get(dataset, f"{key}.datasets")
    shape, classes = tuple(source.image_shape), source.num_classes
    recipe = s.recipe_for(variant, key)
    try:
        resolved, num_classes = _resolve(recipe, shape, classes)
    except ConfigError as err:
        raise s.config_error(err, variant, key) from None
    space = s.space_for(variant, trial or 0)
    chosen, hparams = (None, {}) if selected is None else (selected.chosen, selected.hparams)
    if role == "trial":
        chosen, seed = trial, TRIAL_SEED + trial
        hparams = sample(space, study, variant, trial, searchable(resolved))
    hparams = dict(sorted(hparams.items()))
    if hparams:  # a setting of the search: the recipe with the drawn values
        try:
            resolved, num_classes = _resolve(with_hparams(resolved, hparams), shape, classes)
        except ConfigError as err:
            raise ConfigError(f"{key}.search (trial {trial}, {err.key})", err.value,
                              err.allowed) from None  # fmt: skip
    # the dataset's own length (Lucic et al.: 20, 100 or 40 epochs, a checkpoint every 5)
    resolved = resolved.model_copy(update={"training": resolved.training.for_dataset(dataset)})
    info = {"space": space, "role": role, "trial": chosen, "hparams": hparams}
    return RunSpec(study, dataset, variant, seed, resolved, shape, num_classes, info)


def searchable(recipe: Recipe) -> dict:
    """The recipe fields a search space may set (``block.field`` -> value): those of the
    architecture, objective, penalty and optimiser; n_disc only when D has an optimiser."""
    out = {}
    for block in SEARCHED_BLOCKS:
        for field, value in getattr(recipe, block).model_dump().items():
            if field != "name":
                out[f"{block}.{field}"] = value
    if not OBJECTIVES.get(recipe.objective.name).trains_discriminator:
        out.pop("optimiser.n_disc")
    return out


def with_hparams(recipe: Recipe, hparams: dict) -> Recipe:
    """``recipe`` with ``block.field`` values set."""
    data = recipe.model_dump()
    for path, value in hparams.items():
        block, field = path.split(".")
        data[block][field] = value
    return validate(Recipe, data, "")


def spec_from_recipe(
    recipe: dict, dataset: str, *, seed: int = 0, study: str = "adhoc", variant: str = "adhoc"
) -> RunSpec:
    """A run from a recipe mapping outside any params file (benchmarks, tests)."""
    source = DATASETS.get(dataset, "dataset")
    resolved, num_classes = _resolve(validate(Recipe, recipe, "recipe"), source.image_shape,
                                     source.num_classes)  # fmt: skip
    search = {"space": "none", "role": "seed", "trial": None, "hparams": {}}
    return RunSpec(study, dataset, variant, seed, resolved, tuple(source.image_shape), num_classes,
                   search)  # fmt: skip


def _resolve(recipe: Recipe, image_shape, dataset_classes: int) -> tuple[Recipe, int]:
    """The recipe with its entries' fields validated and filled; errors keyed by recipe path."""
    t = recipe.training
    objective = OBJECTIVES.get(recipe.objective.name, "objective.name")
    obj_params = validate(objective.Params, recipe.objective.fields(), "objective")
    penalty_fn = PENALTIES.get(recipe.penalty.name, "penalty.name")
    pen_model = NoParams if penalty_fn is None else PenaltyParams
    pen_params = validate(pen_model, recipe.penalty.fields(), "penalty")
    if penalty_fn is not None and not objective.takes_penalty:
        raise ConfigError(
            "penalty.name", recipe.penalty.name, "none: this objective has no logit D"
        )
    if penalty_fn is not None and t.nproc > 1:  # the penalty's extra D forward is not synchronised
        raise ConfigError("penalty.name", recipe.penalty.name, "none when training.nproc > 1")
    if t.latent not in objective.latents:
        raise ConfigError("training.latent", t.latent, "one of " + ", ".join(objective.latents))
    arch = ARCHITECTURES.get(recipe.arch.name, "arch.name")
    if objective.discriminator not in arch.discriminators:
        raise ConfigError(
            "objective.name",
            recipe.objective.name,
            f"an objective whose D is one of {', '.join(arch.discriminators)} ({recipe.arch.name})",
        )
    implied = {
        "discriminator": objective.discriminator,
        "g_activation": objective.generator_activation,
    }
    fields = recipe.arch.fields()
    for name, value in implied.items():  # e.g. infogan's D variant: the objective decides
        if name in arch.Params.model_fields and fields.setdefault(name, value) != value:
            raise ConfigError(f"arch.{name}", fields[name], f"{value} (the objective's)")
    arch_params = validate(arch.Params, fields, "arch")
    num_classes = dataset_classes if t.conditional else 0
    if t.conditional:
        for ok, why in (
            (dataset_classes > 0, "the dataset has no labels"),
            (arch.conditional, f"arch {recipe.arch.name} is unconditional"),
            (objective.conditional, f"objective {recipe.objective.name} takes no labels"),
        ):
            if not ok:
                raise ConfigError("training.conditional", True, f"false: {why}")
    _check_arch(recipe.arch.name, arch, arch_params, image_shape, num_classes)
    named = {
        "arch": NamedBlock(name=recipe.arch.name, **arch_params.model_dump()),
        "objective": NamedBlock(name=recipe.objective.name, **obj_params.model_dump()),
        "penalty": NamedBlock(name=recipe.penalty.name, **pen_params.model_dump()),
    }
    return recipe.model_copy(update=named), num_classes


DATA_FIELDS = ("resolution", "image_channels", "num_classes")  # set by the dataset, not params


def _check_arch(name: str, arch, params, image_shape, num_classes) -> None:
    """The architecture's data-dependent rules, as ``arch.<field>`` errors (``arch.name`` when
    the dataset's shape is what does not fit)."""
    try:
        arch.check(params, image_shape, num_classes)
    except ConfigError as err:
        field = err.key.rsplit(".", 1)[-1]
        if field in DATA_FIELDS:
            c, h, w = image_shape
            why = f"an architecture for {c}x{h}x{w} images ({field} {err.value}: {err.allowed})"
            raise ConfigError("arch.name", name, why) from None
        raise ConfigError(f"arch.{field}", err.value, err.allowed) from None


def study_runs(params: Params, study: str) -> list[RunSpec]:
    """Every search trial, then every re-run (on the recipe as set: the chosen setting is the
    select stage's output, known only after the search)."""
    s = params.study(study)
    trials = [
        resolve_run(params, study, d, v, trial=t)
        for d in s.datasets
        for v in s.variants
        for t in s.search.trials
    ]
    return trials + [
        resolve_run(params, study, d, v, seed)
        for d in s.datasets
        for v in s.variants
        for seed in s.seeds
    ]


def check_study(name: str, study: Study) -> None:
    """What a study names beyond its recipe: its published table and the rows its variants map to."""
    key = f"studies.{name}"
    for seed in study.seeds:
        if seed >= TRIAL_SEED:
            raise ConfigError(f"{key}.seeds", seed, f"ints below {TRIAL_SEED} (search trial k "
                              f"trains with seed {TRIAL_SEED} + k)")  # fmt: skip
    if study.report.published is None:
        return
    table = PUBLISHED.get(study.report.published, f"{key}.report.published")
    for v, variant in study.variants.items():
        for row in variant.paper_rows:
            if row not in table.row_keys:
                raise ConfigError(
                    f"{key}.variants.{v}.paper_rows", row, "one of " + ", ".join(table.row_keys)
                )


def load_plan(path: str = "params.yaml") -> Params:
    """Load params and resolve every run of every study: any problem raises before work starts."""
    from ganbench.metrics.features import FEATURE_EXTRACTORS  # evaluation's, not training's

    params = load_params(path)
    FEATURE_EXTRACTORS.get(params.features.extractor, "features.extractor")
    for name in params.data:
        DATASETS.get(name, "data")
    for i, d in enumerate(params.datasets):
        DATASETS.get(d, f"datasets[{i}]")
    for name, study in params.studies.items():
        check_study(name, study)
        for spec in study_runs(params, name):
            if params.pipeline.compile and spec.recipe.penalty.name != "none":
                raise ConfigError(
                    "pipeline.compile", True,
                    f"false while a run has a penalty ({spec.name}: {spec.recipe.penalty.name}; "
                    "torch.compile has no double backward)",
                )  # fmt: skip
    return params


def build_objective(spec: RunSpec) -> Objective:
    entry = OBJECTIVES.get(spec.recipe.objective.name)
    penalty_fn = PENALTIES.get(spec.recipe.penalty.name)
    penalty = None
    if penalty_fn is not None:
        penalty = Penalty(spec.recipe.penalty.fields()["weight"], penalty_fn)
    return entry(entry.Params(**spec.recipe.objective.fields()), penalty)


def build_networks(spec: RunSpec) -> tuple[nn.Module, nn.Module]:
    arch = ARCHITECTURES.get(spec.recipe.arch.name)
    return arch.build(arch.Params(**spec.recipe.arch.fields()), spec.image_shape, spec.num_classes)
