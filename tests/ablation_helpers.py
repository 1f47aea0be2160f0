"""Tiny ablation configs and data for the tests (importable by spawned worker processes)."""

from __future__ import annotations

import torch

from ganbench.config import Params, from_dict, resolve_ablation_run

TINY_MODEL = {"ch": 2, "z_dim": 16, "shared_dim": 8}
TINY_TRAIN = {
    "steps": 6,
    "batch_size": 8,
    "num_checkpoints": 2,
    "resume_every": 3,
    "device": "cpu",
    "lr_g": 2e-4,
    "lr_d": 4e-4,
}


def tiny_params(
    *, variants: dict | None = None, train: dict | None = None, model: dict | None = None
) -> Params:
    study = {
        "dataset": "shapes32",
        "seeds": [0, 1],
        "model": {**TINY_MODEL, **(model or {})},
        "train": {**TINY_TRAIN, **(train or {})},
        "variants": variants or {"baseline": {}},
        "evaluate": {
            "num_fake": 40,
            "kid_subsets": 2,
            "kid_subset_size": 20,
            "is_splits": 2,
            "standing_stats_batches": 1,
            "standing_stats_batch_size": 20,
            "batch_size": 16,
            "grid_size": 3,
            "prdc_k": 3,
        },
    }
    return from_dict(Params, {"datasets": ["fashion_mnist", "shapes32"], "sagan": study}, "")


def tiny_run(variant: str = "baseline", seed: int = 0, **kwargs):
    return resolve_ablation_run(tiny_params(**kwargs), "sagan", variant, seed)


def tiny_data(n: int = 64, classes: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(123)
    images = torch.randint(0, 256, (n, 1, 32, 32), generator=g, dtype=torch.uint8)
    labels = torch.arange(n) % classes
    return images, labels
