"""Sanity rows of a study's table: what a perfect and a useless generator score under its protocol."""

from __future__ import annotations

import numpy as np
import torch

from ganbench.data import PreparedData
from ganbench.evaluation.samples import LabelledGenerator, latent_stream
from ganbench.metrics.evaluate import Reference, protocol, score_generator, score_images
from ganbench.metrics.features import FeatureExtractor
from ganbench.plan import RunSpec, build_networks
from ganbench.record import BaselinesRecord


def sanity_rows(
    data: PreparedData,
    extractor: FeatureExtractor,
    reference: Reference,
    spec: RunSpec,
    device: torch.device,
) -> dict:
    """``real_train``: num_fake random training images vs the reference split (the floor);
    ``untrained_generator``: ``spec``'s G at initialisation (the study's baseline variant, seed
    0: the ceiling)."""
    cfg = spec.recipe.evaluation
    x_train, _ = data.split("train")
    rng = np.random.RandomState(cfg.seed)
    subset = x_train[
        np.sort(rng.choice(len(x_train), min(cfg.num_fake, len(x_train)), replace=False))
    ]
    real = score_images(subset, extractor, reference, cfg)
    torch.manual_seed(spec.seed)
    G, _ = build_networks(spec)
    untrained = score_generator(
        LabelledGenerator(G.to(device), spec.num_classes),
        latent_stream(spec.recipe.training.latent, spec.num_classes, None),
        spec.z_dim,
        extractor,
        reference,
        cfg,
        device,
    )
    record = {
        "dataset": data.name,
        "protocol": protocol(reference, cfg, device),
        "rows": {"real_train": real, "untrained_generator": untrained},
    }
    BaselinesRecord.model_validate(record)
    return record
