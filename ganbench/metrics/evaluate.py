"""Evaluation: images or a generator -> streamed features -> FID, KID, IS, P/R/D/C vs a reference.

Streaming: image batches (from a generator or an array) go through the extractor one at a time and
are dropped; a :class:`FeatureSink` keeps float64 running sums for the mean and covariance (FID) and
float32 copies of the features (KID, precision/recall/density/coverage) and logits (IS), written
into preallocated arrays when the sample count is known. So 50,000 samples at 299×299 never exist
as images at once: memory is the features (50k × 2048 × 4 B = 410 MB) and logits (200 MB) plus one
batch. ``benchmarks/eval_memory.py`` measures the peak. Every score dict carries the same keys
(:data:`SCORE_KEYS`).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

import ganbench
from ganbench.config import Evaluation
from ganbench.errors import DataError, UserError
from ganbench.io import write_npz
from ganbench.metrics.features import FeatureExtractor
from ganbench.metrics.fid import frechet_distance
from ganbench.metrics.inception_score import inception_score
from ganbench.metrics.kid import kernel_inception_distance
from ganbench.metrics.prdc import precision_recall_density_coverage, real_knn_radii
from ganbench.metrics.stats import RunningStats
from ganbench.models.sampling import generate_uint8, standing_statistics

SCORE_KEYS = (
    "fid",
    "kid_mean",
    "kid_std",
    "is_mean",
    "is_std",
    "precision",
    "recall",
    "density",
    "coverage",
)


class NonFiniteSamplesError(ValueError):
    """The generator produced NaN or inf (Lucic et al. score such a run as failed)."""


@dataclass(frozen=True)
class Reference:
    """Features and their float64 statistics for the reference split of a dataset."""

    mu: np.ndarray  # (d,)
    sigma: np.ndarray  # (d, d)
    features: np.ndarray  # (n, d) float32, for KID
    meta: dict  # dataset, split, n, extractor, extractor_label, weights_sha256, feature_dim
    # k -> the features' k-NN radii for PRDC, computed once per process (not saved)
    _radii: dict = field(default_factory=dict, compare=False, repr=False)

    def knn_radii(self, k: int, device: torch.device | str = "cpu") -> np.ndarray:
        if k not in self._radii:
            self._radii[k] = real_knn_radii(self.features, k, device=device)
        return self._radii[k]

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


class FeatureSink:
    """Collects extractor outputs batch by batch: running float64 statistics + float32 copies.

    ``capacity`` (the number of samples, when known) preallocates the arrays, so no concatenation
    ever holds two copies; without it, batches are kept in a list and joined once at the end.
    """

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity
        self.count = 0
        self.stats: RunningStats | None = None
        self._features: np.ndarray | list[np.ndarray] | None = None
        self._logits: np.ndarray | list[np.ndarray] | None = None

    def update(self, features: Tensor, logits: Tensor) -> None:
        f = features.detach().to("cpu", torch.float32).numpy()  # (n, d)
        g = logits.detach().to("cpu", torch.float32).numpy()  # (n, K)
        n = f.shape[0]
        if self.stats is None:
            self.stats = RunningStats(f.shape[1])
            if self.capacity is None:
                self._features, self._logits = [], []
            else:
                self._features = np.empty((self.capacity, f.shape[1]), np.float32)
                self._logits = np.empty((self.capacity, g.shape[1]), np.float32)
        self.stats.update(features)  # float64 sums of the float32 features
        if isinstance(self._features, list):
            self._features.append(f)
            self._logits.append(g)
        else:
            if self.count + n > self.capacity:
                raise ValueError(f"FeatureSink capacity {self.capacity} exceeded")
            self._features[self.count : self.count + n] = f
            self._logits[self.count : self.count + n] = g
        self.count += n

    def result(self) -> tuple[np.ndarray, np.ndarray, RunningStats]:
        """(features float32 (N, d), logits float32 (N, K), running statistics)."""
        if self.stats is None:
            raise UserError("no images reached the feature extractor: nothing to score")
        if isinstance(self._features, list):
            return np.concatenate(self._features), np.concatenate(self._logits), self.stats
        return self._features[: self.count], self._logits[: self.count], self.stats


def features_and_stats(
    extractor: FeatureExtractor, batches: Iterable[Tensor], *, capacity: int | None = None
) -> tuple[np.ndarray, np.ndarray, RunningStats]:
    """Stream ``batches`` of uint8 images through ``extractor``; see :class:`FeatureSink`."""
    sink = FeatureSink(capacity)
    for images in batches:
        sink.update(*extractor(images))
    return sink.result()


def build_reference(
    extractor: FeatureExtractor, images: np.ndarray, *, batch_size: int, meta: dict
) -> Reference:
    features, _, stats = features_and_stats(
        extractor, batches_of(images, batch_size), capacity=len(images)
    )
    meta = {
        **meta,
        "n": int(len(images)),
        "feature_dim": int(features.shape[1]),
        "extractor": extractor.name,
        "weights_sha256": extractor.weights_sha256,
    }
    return Reference(stats.mean(), stats.cov(), features, meta)


def score(
    features: np.ndarray,
    logits: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    reference: Reference,
    cfg: Evaluation,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """FID, KID (mean, std over subsets), IS (mean, std over splits) and precision, recall,
    density, coverage (k = ``cfg.prdc_k``; their distances on ``device``, the extractor's) of
    one sample set against the reference."""
    fid = frechet_distance(mu, sigma, reference.mu, reference.sigma)
    kid_mean, kid_std = kernel_inception_distance(
        features,
        reference.features,
        subsets=cfg.kid_subsets,
        subset_size=cfg.kid_subset_size,
        seed=cfg.seed,
    )
    is_mean, is_std = inception_score(logits, splits=cfg.is_splits, seed=cfg.seed)
    k = cfg.prdc_k
    prdc = precision_recall_density_coverage(
        reference.features, features, k=k, real_radii=reference.knn_radii(k, device), device=device
    )
    values = (fid, kid_mean, kid_std, is_mean, is_std, *(prdc[k] for k in SCORE_KEYS[5:]))
    return dict(zip(SCORE_KEYS, values, strict=True))


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
    images: np.ndarray, extractor: FeatureExtractor, reference: Reference, cfg: Evaluation
) -> dict[str, float]:
    """Scores of a uint8 image array (e.g. the real training split: the floor of the table)."""
    check_reference(reference, extractor)
    features, logits, stats = features_and_stats(
        extractor, batches_of(images, cfg.batch_size), capacity=len(images)
    )
    return score(features, logits, stats.mean(), stats.cov(), reference, cfg, extractor.device)


def _finite(batches: Iterable[Tensor], check: Callable[[], bool]) -> Iterable[Tensor]:
    for b in batches:
        if not check():
            raise NonFiniteSamplesError("generator output is not finite")
        yield b


def seeded_latent(
    sample: Callable[..., Tensor], z_dim: int, seed: int, device: torch.device
) -> Callable[[int], Tensor]:
    """Draw z on the host from one seeded generator, ``n`` at a time, then move it to ``device``.

    Drawing on the CPU makes the latents the same on every device; the CPU streams of the
    registered latents are also the same whether drawn at once or in pieces, so the samples do not
    depend on the evaluation batch size (the tests check both).
    """
    g = torch.Generator().manual_seed(seed)
    return lambda n: sample(n, z_dim, device="cpu", generator=g).to(device)


def score_generator(
    G: nn.Module,
    sample: Callable[..., Tensor],
    z_dim: int,
    extractor: FeatureExtractor,
    reference: Reference,
    cfg: Evaluation,
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
        batch_size=cfg.standing_stats_batch_size,
    )
    finite = [True]
    out = generate_uint8(
        _FiniteCheck(G, finite),
        seeded_latent(sample, z_dim, cfg.seed, device),
        num_samples=cfg.num_fake,
        batch_size=cfg.batch_size,
    )
    features, logits, stats = features_and_stats(
        extractor, _finite(out, lambda: finite[0]), capacity=cfg.num_fake
    )
    if not finite[0]:
        raise NonFiniteSamplesError("generator output is not finite")
    return score(features, logits, stats.mean(), stats.cov(), reference, cfg, extractor.device)


class _FiniteCheck(nn.Module):
    """Wraps G and records whether every output was finite (before uint8 quantisation hides it)."""

    def __init__(self, G: nn.Module, flag: list[bool]) -> None:
        super().__init__()
        self.G, self.flag, self.value_range = G, flag, G.value_range

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


def protocol(reference: Reference, cfg: Evaluation, device: torch.device | str) -> dict:
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
        "prdc_k": cfg.prdc_k,
        "standing_stats_batches": cfg.standing_stats_batches,
        "standing_stats_batch_size": cfg.standing_stats_batch_size,
        "seed": cfg.seed,
        **environment(device),
    }
