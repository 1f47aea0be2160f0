"""Evaluation: images or a generator -> streamed features -> FID, KID, IS against a reference.

Features are extracted batch by batch; only the (N, d) features and (N, K) logits are kept, never
the images. Every score dict carries the same keys (:data:`SCORE_KEYS`).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

import ganbench
from ganbench.config import EvaluateConfig
from ganbench.errors import DataError
from ganbench.io import write_npz
from ganbench.metrics.features import FeatureExtractor, extract_features
from ganbench.metrics.fid import frechet_distance
from ganbench.metrics.inception_score import inception_score
from ganbench.metrics.kid import kernel_inception_distance
from ganbench.metrics.stats import RunningStats
from ganbench.training.sampling import generate_uint8, standing_statistics

SCORE_KEYS = ("fid", "kid_mean", "kid_std", "is_mean", "is_std")


class NonFiniteSamplesError(ValueError):
    """The generator produced NaN or inf (Lucic et al. score such a run as failed)."""


@dataclass(frozen=True)
class Reference:
    """Features and their float64 statistics for the reference split of a dataset."""

    mu: np.ndarray  # (d,)
    sigma: np.ndarray  # (d, d)
    features: np.ndarray  # (n, d) float32, for KID
    meta: dict  # dataset, split, n, extractor, extractor_label, weights_sha256, feature_dim

    def save(self, path: str | Path) -> None:
        write_npz(
            path,
            mu=self.mu,
            sigma=self.sigma,
            features=self.features,
            meta=np.array(json.dumps(self.meta, sort_keys=True)),
        )

    @classmethod
    def load(cls, path: str | Path) -> Reference:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"reference statistics {path} not found; run `dvc repro refstats`")
        try:
            with np.load(path, allow_pickle=False) as f:
                return cls(f["mu"], f["sigma"], f["features"], json.loads(str(f["meta"])))
        except (OSError, KeyError, ValueError) as err:
            raise DataError(
                f"{path}: corrupt reference statistics ({err}); re-run `dvc repro -f refstats`"
            ) from None


def batches_of(images: np.ndarray, batch_size: int) -> Iterable[Tensor]:
    for i in range(0, len(images), batch_size):
        yield torch.from_numpy(images[i : i + batch_size])


def features_and_stats(
    extractor: FeatureExtractor, batches: Iterable[Tensor]
) -> tuple[np.ndarray, np.ndarray, RunningStats]:
    features, logits = extract_features(extractor, batches)
    stats = RunningStats(features.shape[1])
    stats.update(features)
    return features, logits, stats


def build_reference(
    extractor: FeatureExtractor, images: np.ndarray, *, batch_size: int, meta: dict
) -> Reference:
    features, _, stats = features_and_stats(extractor, batches_of(images, batch_size))
    meta = {
        **meta,
        "n": int(len(images)),
        "feature_dim": int(features.shape[1]),
        "extractor": extractor.name,
        "weights_sha256": extractor.weights_sha256,
    }
    return Reference(stats.mean(), stats.cov(), features.astype(np.float32), meta)


def score(
    features: np.ndarray,
    logits: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    reference: Reference,
    cfg: EvaluateConfig,
) -> dict[str, float]:
    """FID, KID (mean, std over subsets) and IS (mean, std over splits) of one sample set."""
    fid = frechet_distance(mu, sigma, reference.mu, reference.sigma)
    kid_mean, kid_std = kernel_inception_distance(
        features,
        reference.features.astype(np.float64),
        subsets=cfg.kid_subsets,
        subset_size=cfg.kid_subset_size,
        seed=cfg.seed,
    )
    is_mean, is_std = inception_score(logits, splits=cfg.is_splits, seed=cfg.seed)
    return dict(zip(SCORE_KEYS, (fid, kid_mean, kid_std, is_mean, is_std), strict=True))


def check_reference(reference: Reference, extractor: FeatureExtractor) -> None:
    """Refuse to score with an extractor other than the one that made the reference statistics."""
    made_by = (reference.meta["extractor"], reference.meta["weights_sha256"])
    if made_by != (extractor.name, extractor.weights_sha256):
        raise DataError(
            f"reference statistics were made by extractor '{made_by[0]}' (weights SHA-256 "
            f"{made_by[1][:12]}…), but scoring uses '{extractor.name}' ({extractor.weights_sha256[:12]}…); "
            "re-run `dvc repro refstats` so both use the same feature network"
        )


def score_images(
    images: np.ndarray, extractor: FeatureExtractor, reference: Reference, cfg: EvaluateConfig
) -> dict[str, float]:
    """Scores of a uint8 image array (e.g. the real training split: the floor of the table)."""
    check_reference(reference, extractor)
    features, logits, stats = features_and_stats(extractor, batches_of(images, cfg.batch_size))
    return score(features, logits, stats.mean(), stats.cov(), reference, cfg)


def _finite(batches: Iterable[Tensor], check: Callable[[], bool]) -> Iterable[Tensor]:
    for b in batches:
        if not check():
            raise NonFiniteSamplesError("generator output is not finite")
        yield b


def seeded_latent(
    sample: Callable[..., Tensor], z_dim: int, seed: int, device: torch.device
) -> Callable[[int], Tensor]:
    g = torch.Generator(device=device).manual_seed(seed)
    return lambda n: sample(n, z_dim, device=device, generator=g)


def score_generator(
    G: nn.Module,
    sample: Callable[..., Tensor],
    z_dim: int,
    extractor: FeatureExtractor,
    reference: Reference,
    cfg: EvaluateConfig,
    device: torch.device,
) -> dict[str, float]:
    """Standing BN statistics, then ``cfg.num_fake`` samples streamed through the extractor.

    The same seeds are used for every checkpoint, so checkpoints are compared on identical z.
    """
    check_reference(reference, extractor)
    standing_statistics(
        G,
        seeded_latent(sample, z_dim, cfg.seed + 1, device),
        batches=cfg.standing_stats_batches,
        batch_size=cfg.batch_size,
    )
    finite = [True]
    out = generate_uint8(
        _FiniteCheck(G, finite),
        seeded_latent(sample, z_dim, cfg.seed, device),
        num_samples=cfg.num_fake,
        batch_size=cfg.batch_size,
    )
    features, logits, stats = features_and_stats(extractor, _finite(out, lambda: finite[0]))
    if not finite[0]:
        raise NonFiniteSamplesError("generator output is not finite")
    return score(features, logits, stats.mean(), stats.cov(), reference, cfg)


class _FiniteCheck(nn.Module):
    """Wraps G and records whether every output was finite (before uint8 quantisation hides it)."""

    def __init__(self, G: nn.Module, flag: list[bool]) -> None:
        super().__init__()
        self.G, self.flag = G, flag

    def forward(self, z: Tensor) -> Tensor:
        x = self.G(z)
        self.flag[0] = self.flag[0] and bool(torch.isfinite(x).all())
        return x


def environment(device: torch.device | str) -> dict:
    return {
        "device": str(device),
        "versions": {
            "ganbench": ganbench.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }


def protocol(reference: Reference, cfg: EvaluateConfig, device: torch.device | str) -> dict:
    """How a number was measured: extractor and weights, sample counts, split, seeds, versions."""
    return {
        "extractor": reference.meta["extractor"],
        "extractor_label": reference.meta["extractor_label"],
        "weights_sha256": reference.meta["weights_sha256"],
        "feature_dim": reference.meta["feature_dim"],
        "n_real": reference.meta["n"],
        "n_fake": cfg.num_fake,
        "reference_split": reference.meta["split"],
        "kid_subsets": cfg.kid_subsets,
        "kid_subset_size": cfg.kid_subset_size,
        "is_splits": cfg.is_splits,
        "standing_stats_batches": cfg.standing_stats_batches,
        "seed": cfg.seed,
        **environment(device),
    }
