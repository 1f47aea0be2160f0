"""Tiny studies, runs and data for the tests (importable by spawned worker processes).

Two recipes of the one study engine, at a size a CPU trains in milliseconds per step:

- ``LUCIC``: the InfoGAN-style networks, unconditional, D on real and fake in two forwards, one
  variant per objective and penalty of the registries (Lucic et al. 2018's comparison);
- ``RESNET``: the SAGAN/BigGAN ResNet, class-conditional, D on real and fake in one forward, TTUR
  and 2 D steps per G step, an EMA of G and orthogonal regularisation (the BigGAN ablation's).

``lucic_run`` / ``resnet_run`` resolve one run through :func:`ganbench.plan.resolve_run`, with any
recipe block deep-merged into the study's recipe first (``training={"steps": 4}``).
"""

from __future__ import annotations

import copy

import torch

from ganbench.config import Params, deep_merge, validate
from ganbench.plan import RunSpec, resolve_run

LUCIC_EVALUATION = {
    "num_fake": 40,
    "kid_subsets": 2,
    "kid_subset_size": 20,
    "is_splits": 2,
    "standing_stats_batches": 1,
    "standing_stats_batch_size": 20,
    "batch_size": 16,
    "prdc_k": 3,
}

LUCIC = {
    "datasets": ["shapes"],  # 1x28x28, 4 classes
    "seeds": [0, 1],
    "search": {"space": "none", "trials": []},
    "baseline": "ns",
    "report": {"title": "tiny loss comparison", "published": "lucic2018_table2"},
    "recipe": {
        "arch": {"name": "infogan", "width": 0.125, "z_dim": 8, "d_batchnorm": True},
        "objective": {"name": "ns"},
        "penalty": {"name": "none"},
        "optimiser": {"lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.5, "beta2": 0.999, "n_disc": 2},
        "training": {
            "steps": 20,
            "batch_size": 8,
            "conditional": False,
            "latent": "uniform",
            "d_forward": "separate",
            "num_checkpoints": 4,
            "resume_every": 5,
        },
        "evaluation": LUCIC_EVALUATION,
        "figures": {"grid_size": 3},
    },
    # one variant per objective, and the two penalties (as Lucic et al.'s narrow search: no BN in
    # the critic of WGAN-GP)
    "variants": {
        "mm": {"paper_rows": ["mm"], "objective": {"name": "mm"}},
        "ns": {"label": "NS GAN", "paper_rows": ["ns"]},
        "lsgan": {"paper_rows": ["lsgan"], "objective": {"name": "lsgan"}},
        "wgan": {"paper_rows": ["wgan"], "objective": {"name": "wgan", "clip": 0.01}},
        "wgan_gp": {
            "paper_rows": ["wgan_gp"],
            "objective": {"name": "wgan"},
            "penalty": {"name": "gp", "weight": 10.0},
            "arch": {"d_batchnorm": False},
        },
        "dragan": {"paper_rows": ["dragan"], "penalty": {"name": "dragan", "weight": 10.0}},
        "hinge": {"objective": {"name": "hinge"}},
        "began": {"paper_rows": ["began"], "objective": {"name": "began"}},
        "vae": {
            "paper_rows": ["vae"],
            "objective": {"name": "vae"},
            "training": {"latent": "normal"},
        },
    },
}

RESNET = {
    "datasets": ["shapes32"],  # 1x32x32, 4 classes
    "seeds": [0, 1],
    "search": {"space": "none", "trials": []},
    "baseline": "baseline",
    "report": {"title": "tiny ablation", "published": "biggan2019"},
    "recipe": {
        "arch": {"name": "resnet", "ch": 2, "z_dim": 16, "shared_dim": 8},
        "objective": {"name": "hinge"},
        "penalty": {"name": "none"},
        "optimiser": {"lr_g": 2e-4, "lr_d": 4e-4, "beta1": 0.0, "beta2": 0.9, "n_disc": 2},
        "training": {
            "steps": 6,
            "batch_size": 8,
            "conditional": True,
            "latent": "normal",
            "d_forward": "joint",
            "ema_decay": 0.9,
            "ema_start": 2,
            "ortho_beta": 1e-4,
            "num_checkpoints": 2,
            "resume_every": 3,
        },
        "evaluation": LUCIC_EVALUATION,
        "figures": {"grid_size": 3, "attention_queries": 4},
    },
    "variants": {
        "baseline": {"paper_rows": ["1"]},
        "attention": {"paper_rows": ["2"], "arch": {"g_attention": [16], "d_attention": [8]}},
    },
}

DATASETS = ["shapes", "shapes32", "celeba", "cifar10"]


def params_of(**studies: dict) -> Params:
    """A params object holding ``studies`` (name -> study mapping), validated as load_params does."""
    return validate(Params, {"datasets": DATASETS, "studies": copy.deepcopy(studies)}, "")


def study_with(study: dict, variants: dict | None = None, **blocks: dict) -> dict:
    """``study`` with ``blocks`` deep-merged into its recipe and ``variants`` added to its own."""
    out = copy.deepcopy(study)
    out["recipe"] = deep_merge(out["recipe"], blocks)
    out["variants"] = {**out["variants"], **copy.deepcopy(variants or {})}
    return out


def lucic_run(variant: str = "ns", seed: int = 0, **blocks: dict) -> RunSpec:
    return resolve_run(
        params_of(lucic=study_with(LUCIC, **blocks)), "lucic", "shapes", variant, seed
    )


def resnet_run(
    variant: str = "baseline", seed: int = 0, *, variants: dict | None = None, **blocks: dict
) -> RunSpec:
    params = params_of(sagan=study_with(RESNET, variants, **blocks))
    return resolve_run(params, "sagan", "shapes32", variant, seed)


def tiny_data(
    n: int = 64, classes: int = 4, size: int = 32, seed: int = 123
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random uint8 images (n, 1, size, size) and balanced labels."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, size, size), generator=g, dtype=torch.uint8)
    return images, torch.arange(n) % classes


def assert_same_state(a: dict, b: dict) -> None:
    """Two state dicts hold bitwise identical tensors under the same keys."""
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
