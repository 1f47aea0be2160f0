"""PRDC: a hand-computed case, parity with clovaai's ``prdc`` and torch-fidelity, invariances, errors."""

from __future__ import annotations

import numpy as np
import prdc
import pytest
import torch
from torch_fidelity.metric_prc import (
    calculate_precision_recall_full,
    calculate_precision_recall_part,
)

from ganbench.errors import UserError
from ganbench.metrics.prdc import knn_radii, precision_recall_density_coverage

KEYS = ("precision", "recall", "density", "coverage")

# 1-D, k = 1. Real x = 0 1 2 4 20 21, fake y = 0.5 3 6 8.
# Real radii (nearest other real): 1 1 1 2 1 1. Fake radii: 2.5 2.5 2 2.
# |x − y|:       y=0.5   3    6    8
#   x=0   r=1     0.5    3    6    8
#   x=1   r=1     0.5    2    5    7
#   x=2   r=1     1.5    1    4    6     (y=3 at exactly r: outside, strict <)
#   x=4   r=2     3.5    1    2    4     (y=6 at exactly r: outside, strict <)
#   x=20  r=1    19.5   17   14   12
#   x=21  r=1    20.5   18   15   13
# precision: y=0.5 (in x=0, x=1), y=3 (in x=4); y=6, y=8 in no ball         -> 2/4
# density:   balls containing each y: 2, 1, 0, 0                             -> 3/(1·4)
# coverage:  balls of x=0, 1, 4 contain a y; x=2 (tie), x=20, x=21 do not   -> 3/6
# recall:    x=0,1,2 within 2.5 of y=0.5 or y=3, x=4 within 2.5 of y=3;
#            x=20, 21 are 12+ from every y (fake radii ≤ 2.5)                 -> 4/6
HAND_REAL = np.array([0.0, 1.0, 2.0, 4.0, 20.0, 21.0])[:, None]
HAND_FAKE = np.array([0.5, 3.0, 6.0, 8.0])[:, None]
HAND_EXPECTED = {"precision": 2 / 4, "recall": 4 / 6, "density": 3 / 4, "coverage": 3 / 6}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def random_sets(rng: np.random.Generator, n: int = 300, m: int = 250, d: int = 16):
    real = rng.normal(size=(n, d))
    fake = 1.2 * rng.normal(size=(m, d)) + 0.3
    return real, fake


def reference(real, fake, k) -> dict[str, float]:
    return {key: float(v) for key, v in prdc.compute_prdc(real, fake, k).items()}


def test_hand_computed_case():
    got = precision_recall_density_coverage(HAND_REAL, HAND_FAKE, k=1)
    assert got == HAND_EXPECTED
    assert all(type(got[key]) is float for key in KEYS)


def test_hand_computed_case_matches_prdc():
    assert reference(HAND_REAL, HAND_FAKE, 1) == HAND_EXPECTED


def test_knn_radii_hand_computed():
    np.testing.assert_array_equal(knn_radii(HAND_REAL, 1), [1, 1, 1, 2, 1, 1])
    np.testing.assert_array_equal(knn_radii(HAND_REAL, 2), [2, 1, 2, 3, 16, 17])
    np.testing.assert_array_equal(knn_radii(HAND_FAKE, 1, chunk_size=3), [2.5, 2.5, 2, 2])


@pytest.mark.parametrize("k", [1, 3, 5, 10])
def test_matches_prdc_on_random_data(rng, k):
    real, fake = random_sets(rng)
    got = precision_recall_density_coverage(real, fake, k=k, chunk_size=64)
    expected = reference(real, fake, k)
    assert got == pytest.approx(expected, rel=1e-12, abs=0)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_matches_prdc_on_quantised_data_with_ties_and_duplicates(rng, k):
    # Integer features on a small grid: many exact duplicates, and cross distances equal to radii.
    real = rng.integers(0, 4, size=(200, 3)).astype(np.float64)
    fake = rng.integers(1, 5, size=(150, 3)).astype(np.float64)
    got = precision_recall_density_coverage(real, fake, k=k, chunk_size=37)
    assert got == reference(real, fake, k)


def test_matches_prdc_on_translated_wide_data(rng):
    # A large common offset and more dimensions than samples.
    real, fake = random_sets(rng, n=120, m=90, d=200)
    real, fake = real + 50.0, fake + 50.0
    got = precision_recall_density_coverage(real, fake, k=4)
    assert got == pytest.approx(reference(real, fake, 4), rel=1e-12, abs=0)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_precision_recall_match_torch_fidelity_on_continuous_data(rng, k):
    # torch-fidelity's input1 is the generated set, input2 the real one; its balls are closed
    # (<=) but without exact ties the decisions coincide. Its means are float32.
    real, fake = random_sets(rng)
    got = precision_recall_density_coverage(real, fake, k=k)
    f1, f2 = torch.from_numpy(fake), torch.from_numpy(real)
    for fn in (calculate_precision_recall_full, calculate_precision_recall_part):
        precision, recall = fn(f1, f2, neighborhood=k, batch_size=100)
        assert got["precision"] == pytest.approx(precision, abs=1e-6)
        assert got["recall"] == pytest.approx(recall, abs=1e-6)


def test_torch_fidelity_differs_on_ties():
    # torch-fidelity counts the fake y=6 at exactly the radius of x=4 (|6 − 4| = 2 = r): 3/4.
    precision, recall = calculate_precision_recall_full(
        torch.from_numpy(HAND_FAKE), torch.from_numpy(HAND_REAL), neighborhood=1
    )
    assert precision == pytest.approx(3 / 4)
    assert recall == pytest.approx(4 / 6)
    assert precision_recall_density_coverage(HAND_REAL, HAND_FAKE, k=1)["precision"] == 2 / 4


def test_identical_sets(rng):
    real, _ = random_sets(rng)
    got = precision_recall_density_coverage(real, real.copy(), k=5)
    assert got["precision"] == got["recall"] == got["coverage"] == 1.0


def test_disjoint_sets_give_zero(rng):
    real, fake = random_sets(rng, n=50, m=40)
    got = precision_recall_density_coverage(real, fake + 100.0, k=3)
    assert got == dict.fromkeys(KEYS, 0.0)


def test_exact_duplicates_have_radius_zero():
    # Each point appears twice: with k = 1 every radius is 0, so no ball contains anything
    # (strict <), even the identical fake set.
    real = np.repeat(np.arange(5.0)[:, None], 2, axis=0)
    np.testing.assert_array_equal(knn_radii(real, 1), 0.0)
    got = precision_recall_density_coverage(real, real.copy(), k=1)
    assert got == dict.fromkeys(KEYS, 0.0)


@pytest.mark.parametrize("chunk_size", [1, 7, 299, 300, 10_000])
def test_chunk_size_does_not_change_the_result(rng, chunk_size):
    real, fake = random_sets(rng)
    baseline = precision_recall_density_coverage(real, fake, k=5, chunk_size=64)
    assert precision_recall_density_coverage(real, fake, k=5, chunk_size=chunk_size) == baseline


def test_translation_invariance(rng):
    real, fake = random_sets(rng)
    shift = 100.0 * rng.normal(size=real.shape[1])
    expected = precision_recall_density_coverage(real, fake, k=5)
    assert precision_recall_density_coverage(real + shift, fake + shift, k=5) == expected


def test_permutation_invariance(rng):
    real, fake = random_sets(rng)
    expected = precision_recall_density_coverage(real, fake, k=5)
    real_p, fake_p = real[rng.permutation(len(real))], fake[rng.permutation(len(fake))]
    assert precision_recall_density_coverage(real_p, fake_p, k=5) == expected


def test_swapping_the_sets_swaps_precision_and_recall(rng):
    real, fake = random_sets(rng)
    forward = precision_recall_density_coverage(real, fake, k=5)
    backward = precision_recall_density_coverage(fake, real, k=5)
    assert forward["precision"] == backward["recall"]
    assert forward["recall"] == backward["precision"]


def test_float32_input_is_computed_in_float64(rng):
    real, fake = (x.astype(np.float32) for x in random_sets(rng))
    got = precision_recall_density_coverage(real, fake, k=5)
    assert got == precision_recall_density_coverage(
        real.astype(np.float64), fake.astype(np.float64), k=5
    )


def test_density_counts_every_ball():
    # k = 2: real radii 0.2, 0.1, 0.2. The fake 0.1 lies in all three balls (0.1 < 0.2, 0 < 0.1,
    # 0.1 < 0.2), the other two fakes in none: density = 3 / (k · M) = 3 / (2 · 3).
    real = np.array([[0.0], [0.1], [0.2]])
    fake = np.array([[0.1], [5.0], [6.0]])
    got = precision_recall_density_coverage(real, fake, k=2)
    assert got["density"] == pytest.approx(3 / (2 * 3))
    assert got["coverage"] == 1.0
    assert got["precision"] == pytest.approx(1 / 3)


GOOD = np.zeros((10, 3)) + np.arange(10.0)[:, None]


@pytest.mark.parametrize(
    ("real", "fake", "kwargs", "match"),
    [
        (np.arange(10.0), GOOD, {}, "real features must be a 2-D array"),
        (GOOD, np.zeros((2, 10, 3)), {}, "fake features must be a 2-D array"),
        (GOOD, GOOD[:, :2], {}, "differ in dimension: 3 vs 2"),
        (np.where(GOOD == 4.0, np.nan, GOOD), GOOD, {}, "real features: NaN"),
        (GOOD, np.where(GOOD == 4.0, np.inf, GOOD), {}, "fake features: NaN or infinite"),
        (GOOD, GOOD, {"k": 0}, "positive integer; got 0"),
        (GOOD, GOOD, {"k": -1}, "positive integer; got -1"),
        (GOOD, GOOD, {"k": 2.0}, "positive integer; got 2.0"),
        (GOOD, GOOD, {"k": True}, "positive integer; got True"),
        (GOOD[:5], GOOD, {"k": 5}, "got 5 real and 10 fake samples"),
        (GOOD, GOOD[:3], {"k": 3}, "got 10 real and 3 fake samples"),
        (GOOD, GOOD, {"k": 10}, "needs more than k samples"),
        (GOOD[:0], GOOD, {}, "got 0 real"),
        (GOOD, GOOD, {"chunk_size": 0}, "chunk_size must be a positive integer"),
    ],
)
def test_bad_input_raises_user_error(real, fake, kwargs, match):
    with pytest.raises(UserError, match=match):
        precision_recall_density_coverage(real, fake, **kwargs)


def test_numpy_integer_k_is_accepted(rng):
    real, fake = random_sets(rng, n=30, m=20)
    assert precision_recall_density_coverage(
        real, fake, k=np.int64(3)
    ) == precision_recall_density_coverage(real, fake, k=3)


def test_cached_real_radii_give_identical_scores():
    from ganbench.metrics.prdc import real_knn_radii

    rng = np.random.default_rng(3)
    real = rng.normal(size=(300, 7)).astype(np.float32) + 40.0
    fake = rng.normal(size=(200, 7)).astype(np.float32) + 40.3
    direct = precision_recall_density_coverage(real, fake, k=5)
    radii = real_knn_radii(real, 5)
    assert precision_recall_density_coverage(real, fake, k=5, real_radii=radii) == direct
    with pytest.raises(UserError, match="real_radii must have shape"):
        precision_recall_density_coverage(real, fake, k=5, real_radii=radii[:10])
