"""Sanity rows of every table: what a perfect and a useless generator score under our protocol."""

from __future__ import annotations

import numpy as np
import torch

from ganbench.config import Hyperparameters, LucicConfig, RunConfig
from ganbench.data import PreparedData
from ganbench.losses import LOSSES
from ganbench.metrics.evaluate import Reference, protocol, score_generator, score_images
from ganbench.metrics.features import FeatureExtractor
from ganbench.training.loop import build_networks
from ganbench.training.sampling import LATENTS


def sanity_rows(
    data: PreparedData,
    extractor: FeatureExtractor,
    reference: Reference,
    lucic: LucicConfig,
    device: torch.device,
) -> dict:
    """``real_train``: num_fake random training images vs the reference split (the floor);
    ``untrained_generator``: the NS GAN generator at initialisation, seed 0 (the ceiling)."""
    cfg = lucic.evaluate
    x_train, _ = data.split("train")
    rng = np.random.RandomState(cfg.seed)
    subset = x_train[
        np.sort(rng.choice(len(x_train), min(cfg.num_fake, len(x_train)), replace=False))
    ]
    real = score_images(subset, extractor, reference, cfg)

    run = RunConfig("lucic", data.name, "ns", 0, Hyperparameters(), lucic.train)
    torch.manual_seed(0)
    objective = LOSSES.get("ns")(run.hparams)
    G, _ = build_networks(run, objective, data.image_shape)
    untrained = score_generator(
        G.to(device),
        LATENTS.get(objective.latent),
        run.train.z_dim,
        extractor,
        reference,
        cfg,
        device,
    )
    return {
        "dataset": data.name,
        "protocol": protocol(reference, cfg, device),
        "rows": {"real_train": real, "untrained_generator": untrained},
    }
