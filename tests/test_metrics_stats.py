"""RunningStats: equal to np.mean / np.cov of the concatenation, whatever the batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganbench.errors import UserError
from ganbench.metrics.stats import RunningStats


def accumulate(features: np.ndarray, batch_size: int) -> RunningStats:
    stats = RunningStats(features.shape[1])
    for start in range(0, len(features), batch_size):
        stats.update(features[start : start + batch_size])
    return stats


@pytest.fixture
def features() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=(257, 5)) @ rng.normal(size=(5, 5)) + rng.normal(size=5)


def test_equals_numpy_on_the_concatenation(features):
    stats = accumulate(features, batch_size=64)
    assert stats.count == 257
    np.testing.assert_allclose(stats.mean(), features.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.cov(), np.cov(features, rowvar=False), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("batch_size", [1, 2, 100, 257, 1000])
def test_batch_size_independent(features, batch_size):
    reference = accumulate(features, batch_size=257)
    stats = accumulate(features, batch_size=batch_size)
    np.testing.assert_allclose(stats.mean(), reference.mean(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.cov(), reference.cov(), rtol=1e-10, atol=1e-12)


def test_accepts_torch_tensors(features):
    stats = RunningStats(5)
    stats.update(torch.from_numpy(features[:100]).float())
    stats.update(features[100:].astype(np.float32))
    expected = features.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(stats.mean(), expected.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.cov(), np.cov(expected, rowvar=False), rtol=1e-10)


def test_large_offset_keeps_precision():
    # Mean 1e6 times the spread: the naive Σxxᵀ − nμμᵀ loses ~12 digits here.
    rng = np.random.default_rng(1)
    features = 1e6 + rng.normal(size=(1000, 3))
    stats = accumulate(features, batch_size=100)
    np.testing.assert_allclose(stats.cov(), np.cov(features, rowvar=False), rtol=1e-8, atol=1e-9)


def test_errors():
    stats = RunningStats(3)
    with pytest.raises(UserError, match=r"shape \(N, 3\)"):
        stats.update(np.zeros((4, 2)))
    with pytest.raises(UserError, match="at least 1 sample"):
        stats.mean()
    stats.update(np.zeros((1, 3)))
    with pytest.raises(UserError, match="at least 2 samples; got 1"):
        stats.cov()
    with pytest.raises(UserError, match="NaN or infinite"):
        stats.update(np.full((2, 3), np.inf))
    with pytest.raises(UserError, match="positive integer"):
        RunningStats(0)
