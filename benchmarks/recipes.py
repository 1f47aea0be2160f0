"""The runs the benchmarks train: recipes outside any params file, resolved like a study's."""

from __future__ import annotations

from ganbench.config import Evaluation, Figures
from ganbench.plan import RunSpec, spec_from_recipe


def bench_spec(dataset: str, arch: dict, objective: str, optimiser: dict, **training) -> RunSpec:
    """A run of ``arch`` and ``objective`` on ``dataset``; evaluation blocks at their defaults."""
    recipe = {
        "arch": arch,
        "objective": {"name": objective},
        "penalty": {"name": "none"},
        "optimiser": optimiser,
        "training": {"steps": 10**6, **training},
        "evaluation": Evaluation().model_dump(),
        "figures": Figures().model_dump(),
    }
    return spec_from_recipe(recipe, dataset)
