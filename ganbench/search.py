"""Lucic et al. 2018's hyperparameter search: the wide and narrow spaces, the deterministic draw of
one trial's setting, and the choice of the best trial.

A space is a list of dimensions; each sets one or more recipe fields (``optimiser.lr_g``, ...) and
applies to a run only when the run's resolved recipe sets every field it sets (``objective.clip``
for WGAN only: None, no clipping, for WGAN GP; ``penalty.weight`` when a penalty is on;
``arch.d_batchnorm`` for the InfoGAN networks). The ranges are the paper's (``shared/reference/lucic.md``, "Hyperparameters";
compare_gan v1 ``src/generate_tasks_lib.py``): one learning rate for G and D, β2 fixed.

Trial 0 is the variant's recipe as configured (the paper: "the authors' defaults are always sample
0"); trial k > 0 draws every dimension from its own generator seeded by (study, variant, k,
dimension), so adding trials or dimensions never changes another trial's draw. Search trials train
with seed ``TRIAL_SEED + k``, apart from the best-setting re-runs' seeds (below ``TRIAL_SEED``).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

SPACES = ("none", "wide", "narrow")
TRIAL_SEED = 10_000  # search trial k trains with seed TRIAL_SEED + k

Value = float | int | bool


@dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter: the recipe fields it sets and how a value is drawn."""

    name: str
    targets: tuple[str, ...]
    draw: Callable[[random.Random], Value]
    when: Callable[[Mapping[str, Value]], bool] = lambda recipe: True  # extra condition


def log_uniform(lo: float, hi: float) -> Callable[[random.Random], float]:
    return lambda rng: 10.0 ** rng.uniform(lo, hi)


def uniform(lo: float, hi: float) -> Callable[[random.Random], float]:
    return lambda rng: rng.uniform(lo, hi)


def choice(*values: Value) -> Callable[[random.Random], Value]:
    return lambda rng: values[rng.randrange(len(values))]


def fixed(value: Value) -> Callable[[random.Random], Value]:
    return lambda rng: value


def _penalised(recipe: Mapping[str, Value]) -> bool:
    return "penalty.weight" in recipe


LR = ("optimiser.lr_g", "optimiser.lr_d")  # one learning rate for G and D (Lucic et al.)

# The paper's phase 1 (100 samples per model and dataset).
WIDE = (
    Dimension("lr", LR, log_uniform(-5, -2)),
    Dimension("beta1", ("optimiser.beta1",), uniform(0, 1)),
    Dimension("n_disc", ("optimiser.n_disc",), choice(1, 5)),
    Dimension("d_batchnorm", ("arch.d_batchnorm",), choice(True, False)),
    Dimension("clip", ("objective.clip",), log_uniform(-3, 0)),
    Dimension("penalty", ("penalty.weight",), log_uniform(-1, 2)),
    Dimension("lambda_k", ("objective.lambda_k",), log_uniform(-4, -2)),
    Dimension("gamma", ("objective.gamma",), uniform(0, 1)),
)

# The paper's phase 2 (50 samples): β1 0.5, n_disc 1, λ_k 1e-3; no BN in D with a penalty.
NARROW = (
    Dimension("lr", LR, log_uniform(-4, -3)),
    Dimension("beta1", ("optimiser.beta1",), fixed(0.5)),
    Dimension("n_disc", ("optimiser.n_disc",), fixed(1)),
    Dimension("d_batchnorm", ("arch.d_batchnorm",), choice(True, False),
              when=lambda r: not _penalised(r)),
    Dimension("d_batchnorm", ("arch.d_batchnorm",), fixed(False), when=_penalised),
    Dimension("clip", ("objective.clip",), log_uniform(-2, 0)),
    Dimension("penalty", ("penalty.weight",), log_uniform(-1, 1)),
    Dimension("lambda_k", ("objective.lambda_k",), fixed(1e-3)),
    Dimension("gamma", ("objective.gamma",), uniform(0.6, 0.9)),
)  # fmt: skip

DIMENSIONS: dict[str, tuple[Dimension, ...]] = {"none": (), "wide": WIDE, "narrow": NARROW}


def dimensions(space: str, recipe: Mapping[str, Value]) -> list[Dimension]:
    """The dimensions of ``space`` that apply to a run whose searchable recipe fields are
    ``recipe`` (path -> configured value; a field set to None is off, not searched)."""
    return [
        d
        for d in DIMENSIONS[space]
        if all(recipe.get(t) is not None for t in d.targets) and d.when(recipe)
    ]


def _rng(study: str, variant: str, trial: int, dimension: str) -> random.Random:
    key = f"{study}/{variant}/{trial}/{dimension}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def sample(
    space: str, study: str, variant: str, trial: int, recipe: Mapping[str, Value]
) -> dict[str, Value]:
    """Trial ``trial``'s setting: recipe path -> value for every applicable dimension. Trial 0
    (and every trial of space ``none``, which has no dimension) keeps the configured values."""
    out: dict[str, Value] = {}
    for d in dimensions(space, recipe):
        value = d.draw(_rng(study, variant, trial, d.name)) if trial > 0 else None
        for target in d.targets:
            out[target] = recipe[target] if value is None else value
    return dict(sorted(out.items()))


def choose(results: Sequence[tuple[int, str, float | None]]) -> int | None:
    """The best trial of ``(trial, status, best FID)`` results: the lowest FID among ok runs,
    ties to the lowest trial index; None when no trial finished ok with a finite FID."""
    ok = [(fid, trial) for trial, status, fid in results
          if status == "ok" and fid is not None and math.isfinite(fid)]  # fmt: skip
    return min(ok)[1] if ok else None


def selection(study: str, dataset: str, variant: str, space: str, trials: Sequence[tuple]) -> dict:
    """The select stage's output (ganbench.record.Selection) from the variant's trials, each
    ``(trial, status, best FID or None, hparams)``. It holds only what the re-runs train on, so
    adding trials that do not win leaves it, and the re-runs, unchanged."""
    chosen = choose([t[:3] for t in trials])
    if not trials:
        hparams, reason = {}, "no search trials: the re-runs train the recipe as set"
    elif chosen is None:
        hparams, reason = {}, "no trial finished ok: the re-runs train the recipe as set"
    else:
        hparams = next(t[3] for t in trials if t[0] == chosen)
        reason = "the lowest best-checkpoint FID among the trials that finished ok"
    return {
        "study": study,
        "dataset": dataset,
        "variant": variant,
        "space": space,
        "chosen": chosen,
        "hparams": dict(sorted(hparams.items())),
        "reason": reason,
    }
