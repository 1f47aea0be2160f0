"""Parity with the reference implementations on equal inputs (relative error <= 1e-6):

* FID: pytorch-fid's ``calculate_frechet_distance`` (scipy.linalg.sqrtm) and torch-fidelity's
  ``fid_statistics_to_metric`` (numpy.linalg.eigvals), at small d and at d = 2048;
* KID: torch-fidelity's ``kid_features_to_metric`` with one subset of the full sets and with
  several subsets (same seed, so the same draws);
* IS: torch-fidelity's ``isc_features_to_metric`` on the same logits (same seeded shuffle, same
  split boundaries).

The d = 2048 FID cases dominate the runtime (pytorch-fid's sqrtm ~12 s, torch-fidelity's eigvals
a few seconds on 2 quiet cores; several times that under load), so the pytorch-fid one is marked
``slow`` (CI runs it); the statistics are built once per module.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_fid.fid_score import calculate_frechet_distance
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric
from torch_fidelity.metric_isc import (
    KEY_METRIC_ISC_MEAN,
    KEY_METRIC_ISC_STD,
    isc_features_to_metric,
)
from torch_fidelity.metric_kid import (
    KEY_METRIC_KID_MEAN,
    KEY_METRIC_KID_STD,
    kid_features_to_metric,
)

from ganbench.metrics.fid import feature_statistics, frechet_distance
from ganbench.metrics.inception_score import inception_score
from ganbench.metrics.kid import kernel_inception_distance

RTOL = 1e-6

# pytorch-fid 0.3.0 passes sqrtm's `disp` argument, deprecated in SciPy 1.17.
pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated")


def relu_features(rng: np.random.Generator, n: int, d: int, shift: float = 0.0) -> np.ndarray:
    """Correlated non-negative features, like InceptionV3's pool3 output."""
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    return np.maximum(rng.normal(size=(n, d)) @ mixing + shift, 0.0)


def torch_fidelity_fid(mu1, sigma1, mu2, sigma2) -> float:
    stats1, stats2 = {"mu": mu1, "sigma": sigma1}, {"mu": mu2, "sigma": sigma2}
    return fid_statistics_to_metric(stats1, stats2, verbose=False)[KEY_METRIC_FID]


def torch_fidelity_kid(f1, f2, *, subsets, subset_size, seed) -> tuple[float, float]:
    out = kid_features_to_metric(
        torch.from_numpy(f1),
        torch.from_numpy(f2),
        kid_subsets=subsets,
        kid_subset_size=subset_size,
        rng_seed=seed,
        verbose=False,
    )
    return out[KEY_METRIC_KID_MEAN], out[KEY_METRIC_KID_STD]


# ---------------------------------------------------------------------------------------- FID


@pytest.fixture(scope="module")
def stats_2048():
    """Full-rank statistics of two 4096 x 2048 ReLU-feature sets, and our FID on them."""
    rng = np.random.default_rng(2048)
    stats = (
        *feature_statistics(relu_features(rng, 4096, 2048)),
        *feature_statistics(relu_features(rng, 4096, 2048, shift=0.05)),
    )
    return stats, frechet_distance(*stats)


@pytest.mark.parametrize(("n", "d", "shift"), [(300, 16, 0.3), (2000, 64, 0.05), (600, 256, 0.1)])
def test_fid_matches_pytorch_fid_and_torch_fidelity(n, d, shift):
    rng = np.random.default_rng(d)
    stats = (
        *feature_statistics(relu_features(rng, n, d)),
        *feature_statistics(relu_features(rng, n, d, shift=shift)),
    )
    ours = frechet_distance(*stats)
    assert ours == pytest.approx(calculate_frechet_distance(*stats), rel=RTOL)
    assert ours == pytest.approx(torch_fidelity_fid(*stats), rel=RTOL)


@pytest.mark.slow  # pytorch-fid's sqrtm at d = 2048: ~12 s on 2 quiet cores, >1 min under load
def test_fid_matches_pytorch_fid_at_2048(stats_2048):
    stats, ours = stats_2048
    assert ours == pytest.approx(calculate_frechet_distance(*stats), rel=RTOL)


def test_fid_matches_torch_fidelity_at_2048(stats_2048):
    stats, ours = stats_2048
    assert ours == pytest.approx(torch_fidelity_fid(*stats), rel=RTOL)


def test_fid_singular_covariances_match_pytorch_fid():
    # Fewer samples than dimensions (both covariances singular): the eigendecomposition fallback.
    rng = np.random.default_rng(5)
    stats = (
        *feature_statistics(relu_features(rng, 40, 64)),
        *feature_statistics(relu_features(rng, 1000, 64, shift=0.2)),
    )
    ours = frechet_distance(*stats)
    assert ours == pytest.approx(calculate_frechet_distance(*stats), rel=RTOL)
    # One singular, one full-rank: the Cholesky factor of the full-rank one is used.
    stats = (*stats[:2], *feature_statistics(relu_features(rng, 1000, 64, shift=0.2)))
    assert frechet_distance(*stats) == pytest.approx(calculate_frechet_distance(*stats), rel=RTOL)


# ---------------------------------------------------------------------------------------- KID


def test_kid_one_full_subset_matches_torch_fidelity():
    # subset_size = n: each draw is a permutation of the whole set (MMD² ignores the order).
    rng = np.random.default_rng(10)
    f1, f2 = relu_features(rng, 400, 64), relu_features(rng, 400, 64, shift=0.1)
    ours = kernel_inception_distance(f1, f2, subsets=1, subset_size=400, seed=3)
    theirs = torch_fidelity_kid(f1, f2, subsets=1, subset_size=400, seed=3)
    assert ours[0] == pytest.approx(theirs[0], rel=RTOL)
    assert ours[1] == theirs[1] == 0.0


@pytest.mark.parametrize(
    ("n1", "n2", "d", "subsets", "size"), [(300, 250, 32, 7, 100), (1200, 1500, 128, 5, 500)]
)
def test_kid_several_subsets_match_torch_fidelity(n1, n2, d, subsets, size):
    rng = np.random.default_rng(n1)
    f1, f2 = relu_features(rng, n1, d), relu_features(rng, n2, d, shift=0.05)
    ours = kernel_inception_distance(f1, f2, subsets=subsets, subset_size=size, seed=11)
    theirs = torch_fidelity_kid(f1, f2, subsets=subsets, subset_size=size, seed=11)
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


def test_kid_float32_path_is_close_to_float64():
    # precision="float32" (float32 Gram and kernel, float64 sums) stays within ~1e-7 of float64
    # here; torch-fidelity on float32 tensors (float32 throughout, sums included: its precision
    # on its own float32 features) is off by ~1e-5 (mean) and ~3e-4 (std) on the same data.
    rng = np.random.default_rng(12)
    f1, f2 = relu_features(rng, 800, 256), relu_features(rng, 800, 256, shift=0.05)
    exact = kernel_inception_distance(f1, f2, subsets=4, subset_size=500)
    fast = kernel_inception_distance(f1, f2, subsets=4, subset_size=500, precision="float32")
    theirs32 = torch_fidelity_kid(
        f1.astype(np.float32), f2.astype(np.float32), subsets=4, subset_size=500, seed=2020
    )
    assert fast[0] == pytest.approx(exact[0], rel=RTOL)
    assert fast[1] == pytest.approx(exact[1], rel=1e-5)
    np.testing.assert_allclose(theirs32, exact, rtol=1e-3)


# ----------------------------------------------------------------------------------------- IS


@pytest.mark.parametrize(
    ("n", "splits", "shuffle", "seed"),
    [(1000, 10, True, 2020), (1003, 7, True, 5), (250, 3, False, 0)],
)
def test_inception_score_matches_torch_fidelity(n, splits, shuffle, seed):
    logits = np.random.default_rng(n).normal(scale=4.0, size=(n, 1008)).astype(np.float32)
    ours = inception_score(logits, splits=splits, shuffle=shuffle, seed=seed)
    out = isc_features_to_metric(
        torch.from_numpy(logits), splits=splits, shuffle=shuffle, rng_seed=seed
    )
    np.testing.assert_allclose(ours, (out[KEY_METRIC_ISC_MEAN], out[KEY_METRIC_ISC_STD]), rtol=RTOL)
