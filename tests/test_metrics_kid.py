"""KID: a hand-computed value, parity with torch-fidelity's algorithm, seeding and errors."""

from __future__ import annotations

import numpy as np
import pytest

from ganbench.errors import UserError
from ganbench.metrics.kid import kernel_inception_distance


def kernel(x, y, degree=3, gamma=None, coef0=1.0):
    gamma = 1.0 / len(x) if gamma is None else gamma
    return (gamma * sum(a * b for a, b in zip(x, y, strict=True)) + coef0) ** degree


def mmd2_loops(X, Y, **kw) -> float:
    """Unbiased MMD² written out term by term (Bińkowski et al. 2018, eq. 3 with m = n)."""
    m = len(X)
    xx = sum(kernel(X[i], X[j], **kw) for i in range(m) for j in range(m) if i != j)
    yy = sum(kernel(Y[i], Y[j], **kw) for i in range(m) for j in range(m) if i != j)
    xy = sum(kernel(X[i], Y[j], **kw) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / (m * m)


def torch_fidelity_kid(f1, f2, subsets, subset_size, seed):
    """torch-fidelity's kid_features_to_metric, transcribed: same RNG calls, same sums."""
    rng = np.random.RandomState(seed)
    mmds = []
    for _ in range(subsets):
        X = f1[rng.choice(len(f1), subset_size, replace=False)]
        Y = f2[rng.choice(len(f2), subset_size, replace=False)]
        g = 1.0 / X.shape[1]
        K_XX, K_YY, K_XY = (g * X @ X.T + 1) ** 3, (g * Y @ Y.T + 1) ** 3, (g * X @ Y.T + 1) ** 3
        m = subset_size
        kt_xx = (K_XX.sum(axis=1) - np.diagonal(K_XX)).sum()
        kt_yy = (K_YY.sum(axis=1) - np.diagonal(K_YY)).sum()
        mmds.append((kt_xx + kt_yy) / (m * (m - 1)) - 2 * K_XY.sum(axis=0).sum() / (m * m))
    return float(np.mean(mmds)), float(np.std(mmds))


def test_one_full_subset_matches_hand_computed_value():
    X = np.array([[0.0, 1.0], [1.0, 2.0], [-1.0, 0.5], [2.0, -1.0]])
    Y = np.array([[0.5, 0.5], [1.5, -0.5], [0.0, 3.0], [-2.0, 1.0]])
    # A subset of size n is a permutation of the whole set, and MMD² ignores the order.
    mean, std = kernel_inception_distance(X, Y, subsets=1, subset_size=4)
    assert mean == pytest.approx(mmd2_loops(X.tolist(), Y.tolist()), rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-15)


def test_kernel_parameters_are_used():
    X = np.array([[0.0, 1.0], [1.0, 2.0], [-1.0, 0.5]])
    Y = np.array([[0.5, 0.5], [1.5, -0.5], [0.0, 3.0]])
    mean, _ = kernel_inception_distance(
        X, Y, subsets=1, subset_size=3, degree=2, gamma=0.3, coef0=0.5
    )
    expected = mmd2_loops(X.tolist(), Y.tolist(), degree=2, gamma=0.3, coef0=0.5)
    assert mean == pytest.approx(expected, rel=1e-12)


def test_matches_torch_fidelity_algorithm():
    rng = np.random.default_rng(1)
    f1, f2 = rng.normal(size=(300, 16)), rng.normal(0.3, 1.0, size=(250, 16))
    got = kernel_inception_distance(f1, f2, subsets=7, subset_size=100, seed=5)
    expected = torch_fidelity_kid(f1, f2, subsets=7, subset_size=100, seed=5)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_same_distribution_gives_near_zero_and_shift_does_not():
    rng = np.random.default_rng(2)
    f1, f2 = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
    mean, std = kernel_inception_distance(f1, f2, subsets=20, subset_size=500)
    standard_error = std / np.sqrt(20)
    assert mean == pytest.approx(0.0, abs=3 * standard_error)
    # A shifted set: the subset average agrees with the estimate on all 2000 samples and lies
    # far outside the equal-distribution noise.
    shifted, shifted_std = kernel_inception_distance(f1, f2 + 0.5, subsets=20, subset_size=500)
    full, _ = kernel_inception_distance(f1, f2 + 0.5, subsets=1, subset_size=2000)
    assert shifted == pytest.approx(full, abs=3 * shifted_std / np.sqrt(20))
    assert shifted > 50 * std


def test_seed_reproducibility():
    rng = np.random.default_rng(3)
    f1, f2 = rng.normal(size=(100, 4)), rng.normal(size=(120, 4))
    a = kernel_inception_distance(f1, f2, subsets=5, subset_size=50, seed=7)
    b = kernel_inception_distance(f1, f2, subsets=5, subset_size=50, seed=7)
    c = kernel_inception_distance(f1, f2, subsets=5, subset_size=50, seed=8)
    assert a == b
    assert a != c


def test_subset_larger_than_a_set_raises():
    f1, f2 = np.zeros((10, 3)), np.zeros((20, 3))
    with pytest.raises(UserError, match="subset_size 11 is larger than the feature sets"):
        kernel_inception_distance(f1, f2, subsets=1, subset_size=11)


def test_bad_inputs_raise():
    f = np.zeros((10, 3))
    with pytest.raises(UserError, match="differ in dimension"):
        kernel_inception_distance(f, np.zeros((10, 4)), subset_size=5)
    with pytest.raises(UserError, match="NaN or infinite"):
        kernel_inception_distance(f, np.full((10, 3), np.nan), subset_size=5)
    with pytest.raises(UserError, match="subsets"):
        kernel_inception_distance(f, f, subsets=0, subset_size=5)


@pytest.mark.parametrize("degree", [1, 2, 4, 2.5])
def test_other_degrees_match_loops(degree):
    rng = np.random.default_rng(4)
    X, Y = rng.uniform(size=(5, 3)), rng.uniform(size=(5, 3))
    mean, _ = kernel_inception_distance(X, Y, subsets=1, subset_size=5, degree=degree)
    assert mean == pytest.approx(mmd2_loops(X.tolist(), Y.tolist(), degree=degree), rel=1e-12)


def test_float32_precision_is_close_to_float64():
    rng = np.random.default_rng(6)
    f1, f2 = rng.normal(size=(600, 64)), rng.normal(0.2, 1.0, size=(500, 64))
    exact = kernel_inception_distance(f1, f2, subsets=5, subset_size=300)
    fast = kernel_inception_distance(f1, f2, subsets=5, subset_size=300, precision="float32")
    np.testing.assert_allclose(fast, exact, rtol=1e-5)


def test_subset_size_larger_than_the_kernel_band():
    # subset_size not a multiple of the row band the kernel is applied in (kid.KERNEL_ROWS).
    rng = np.random.default_rng(7)
    f1, f2 = rng.normal(size=(300, 8)), rng.normal(0.3, 1.0, size=(260, 8))
    got = kernel_inception_distance(f1, f2, subsets=3, subset_size=201, seed=1)
    expected = torch_fidelity_kid(f1, f2, subsets=3, subset_size=201, seed=1)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_unknown_precision_raises():
    f = np.zeros((10, 3))
    with pytest.raises(UserError, match="KID precision must be one of"):
        kernel_inception_distance(f, f, subsets=1, subset_size=5, precision="float16")
