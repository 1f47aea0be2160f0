"""Inception Score: analytic cases, a hand-computed two-split value, shuffling and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganbench.errors import UserError
from ganbench.metrics.inception_score import inception_score, inception_score_from_probs


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_uniform_predictions_score_one():
    mean, std = inception_score(np.zeros((40, 7)), splits=4)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("K", [2, 5, 10])
def test_confident_evenly_spread_predictions_score_num_classes(K):
    splits, per_split = 3, 4
    labels = np.tile(np.arange(K), splits * per_split)  # every split holds each class equally
    probs = np.eye(K)[labels]
    mean, std = inception_score_from_probs(probs, splits=splits, shuffle=False)
    assert mean == pytest.approx(K, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)
    # Through logits: large margins give (numerically) one-hot softmax outputs.
    mean, _ = inception_score(50.0 * probs, splits=splits, shuffle=False)
    assert mean == pytest.approx(K, rel=1e-9)


def test_two_splits_match_hand_computed_value():
    probs = [[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.7, 0.3], [0.6, 0.4]]
    # N = 5, splits = 2: rows [0, 2) and [2, 5).
    scores = []
    for chunk in (probs[0:2], probs[2:5]):
        marginal = [sum(row[k] for row in chunk) / len(chunk) for k in range(2)]
        kl = [sum(p * math.log(p / q) for p, q in zip(row, marginal, strict=True)) for row in chunk]
        scores.append(math.exp(sum(kl) / len(kl)))
    expected_mean = (scores[0] + scores[1]) / 2
    expected_std = abs(scores[0] - scores[1]) / 2  # ddof 0 with two values
    mean, std = inception_score_from_probs(np.array(probs), splits=2, shuffle=False)
    assert mean == pytest.approx(expected_mean, rel=1e-12)
    assert std == pytest.approx(expected_std, rel=1e-10)


def test_logits_and_probabilities_agree():
    logits = np.random.default_rng(0).normal(scale=3.0, size=(103, 6))
    np.testing.assert_allclose(
        inception_score(logits, splits=10, seed=3),
        inception_score_from_probs(softmax(logits), splits=10, seed=3),
        rtol=1e-12,
    )


def test_shuffle_is_a_seeded_permutation():
    logits = np.random.default_rng(1).normal(scale=2.0, size=(50, 4))
    order = np.random.RandomState(9).permutation(50)
    np.testing.assert_allclose(
        inception_score(logits, splits=5, shuffle=True, seed=9),
        inception_score(logits[order], splits=5, shuffle=False),
        rtol=1e-12,
    )


def test_extreme_logits_stay_finite():
    logits = np.array([[1000.0, 0.0], [0.0, 1000.0], [-1000.0, 1000.0], [500.0, -500.0]])
    mean, std = inception_score(logits, splits=1)
    assert mean == pytest.approx(2.0, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_fewer_samples_than_splits_raises():
    with pytest.raises(UserError, match="at least as many samples as splits; got 9 < 10"):
        inception_score(np.zeros((9, 3)), splits=10)


def test_bad_inputs_raise():
    with pytest.raises(UserError, match="rows summing to 1"):
        inception_score_from_probs(np.full((4, 3), 0.5), splits=1)
    with pytest.raises(UserError, match="non-negative"):
        inception_score_from_probs(np.array([[1.5, -0.5]]), splits=1)
    with pytest.raises(UserError, match="NaN or infinite"):
        inception_score(np.array([[np.nan, 0.0]]), splits=1)
    with pytest.raises(UserError, match="2-D"):
        inception_score(np.zeros(5), splits=1)
