"""Streaming evaluation: features flow batch by batch into running statistics; scores do not
depend on the batch size; every score carries FID, KID, IS and precision/recall/density/coverage."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ganbench.config import Evaluation
from ganbench.errors import UserError
from ganbench.metrics.evaluate import (
    SCORE_KEYS,
    FeatureSink,
    Reference,
    batches_of,
    build_reference,
    features_and_stats,
    score,
    score_generator,
    score_images,
)
from ganbench.metrics.fid import feature_statistics, frechet_distance
from ganbench.metrics.prdc import precision_recall_density_coverage
from ganbench.models.sampling import LATENTS


class ToyExtractor:
    """A fixed random projection of the pixels: deterministic, cheap, 12-d features, 5 logits."""

    name = "toy"
    feature_dim = 12
    weights_sha256 = "ab" * 32
    device = torch.device("cpu")

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.W = torch.randn(28 * 28, 12, generator=g, dtype=torch.float64)
        self.V = torch.randn(12, 5, generator=g, dtype=torch.float64)

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = images.reshape(len(images), -1).double() / 255.0
        f = torch.tanh(x @ self.W / 10)
        return f.float(), (f @ self.V).float()


class ToyG(nn.Module):
    """A tiny generator with BatchNorm (so standing statistics matter)."""

    value_range = (0.0, 1.0)

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(
            nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 784)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(z)).view(-1, 1, 28, 28)


def images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 1, 28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def reference() -> Reference:
    meta = {"dataset": "toy", "split": "test", "extractor_label": "toy"}
    return build_reference(ToyExtractor(), images(300, 1), batch_size=64, meta=meta)


def cfg(**kw) -> Evaluation:
    base = dict(
        num_fake=200,
        kid_subsets=5,
        kid_subset_size=100,
        is_splits=4,
        standing_stats_batches=3,
        standing_stats_batch_size=50,
        batch_size=64,
        prdc_k=3,
    )
    return Evaluation(**{**base, **kw})


@pytest.mark.parametrize("batch_size", [1, 7, 64, 1000])
@pytest.mark.parametrize("capacity", [None, 250])
def test_streamed_features_and_stats_match_the_whole_array(batch_size, capacity):
    x = images(250, 0)
    whole_f, whole_l = ToyExtractor()(torch.from_numpy(x))
    f, logits, stats = features_and_stats(
        ToyExtractor(), batches_of(x, batch_size), capacity=capacity
    )
    assert f.dtype == np.float32 and logits.dtype == np.float32
    np.testing.assert_array_equal(f, whole_f.numpy())
    np.testing.assert_array_equal(logits, whole_l.numpy())
    mu, sigma = feature_statistics(whole_f.numpy())
    np.testing.assert_allclose(stats.mean(), mu, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(stats.cov(), sigma, rtol=1e-10, atol=1e-14)


def test_sink_capacity_and_empty():
    sink = FeatureSink(capacity=3)
    sink.update(torch.zeros(2, 4), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="capacity 3 exceeded"):
        sink.update(torch.zeros(2, 4), torch.zeros(2, 2))
    with pytest.raises(UserError, match="no images"):
        features_and_stats(ToyExtractor(), iter([]))


def test_score_has_every_key_and_matches_the_pure_functions(reference):
    x = images(200, 2)
    out = score_images(x, ToyExtractor(), reference, cfg())
    assert tuple(out) == SCORE_KEYS
    f, _ = ToyExtractor()(torch.from_numpy(x))
    f = f.numpy()
    fid = frechet_distance(*feature_statistics(f), reference.mu, reference.sigma)
    assert out["fid"] == pytest.approx(fid, rel=1e-9)
    prdc = precision_recall_density_coverage(reference.features, f, k=3)
    for key in ("precision", "recall", "density", "coverage"):
        assert out[key] == prdc[key]


def test_score_of_the_reference_itself(reference):
    c = cfg(num_fake=300)
    out = score(reference.features, np.zeros((300, 5)), reference.mu, reference.sigma, reference, c)
    assert out["fid"] == pytest.approx(0.0, abs=1e-9)
    assert out["precision"] == out["recall"] == out["coverage"] == 1.0


def test_generator_scores_do_not_depend_on_the_batch_size(reference):
    sample = LATENTS.get("uniform")
    runs = [
        score_generator(ToyG(), sample, 8, ToyExtractor(), reference, cfg(batch_size=b), "cpu")
        for b in (200, 64, 13)
    ]
    for other in runs[1:]:
        for key in SCORE_KEYS:
            assert other[key] == pytest.approx(runs[0][key], rel=1e-6, abs=1e-9), key


def test_same_scores_for_every_call(reference):
    sample = LATENTS.get("uniform")
    a = score_generator(ToyG(), sample, 8, ToyExtractor(), reference, cfg(), "cpu")
    b = score_generator(ToyG(), sample, 8, ToyExtractor(), reference, cfg(), "cpu")
    assert a == b
