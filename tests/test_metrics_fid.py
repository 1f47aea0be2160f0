"""FID: analytic cases, parity with a scipy.linalg.sqrtm reference, invariances and errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from ganbench.errors import UserError
from ganbench.metrics.fid import feature_statistics, frechet_distance


def random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    A = rng.normal(size=(d, 2 * d))
    return A @ A.T / (2 * d) + 1e-3 * np.eye(d)


def sqrtm_reference(mu1, sigma1, mu2, sigma2) -> float:
    """pytorch-fid's formula: ‖Δμ‖² + Tr(Σ1) + Tr(Σ2) − 2 Tr(sqrtm(Σ1 Σ2))."""
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean).real)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_identical_statistics_give_zero(rng):
    mu, sigma = rng.normal(size=16), random_spd(rng, 16)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)


def test_equal_covariances_give_squared_mean_distance(rng):
    mu1, mu2, sigma = rng.normal(size=16), rng.normal(size=16), random_spd(rng, 16)
    expected = float(np.sum((mu1 - mu2) ** 2))
    assert frechet_distance(mu1, sigma, mu2, sigma) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_diagonal_covariances_match_closed_form(rng):
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    var1, var2 = rng.uniform(0.1, 3.0, size=8), rng.uniform(0.1, 3.0, size=8)
    expected = np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2)) + np.sum((mu1 - mu2) ** 2)
    got = frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("d", [2, 10, 64])
def test_matches_sqrtm_reference(rng, d):
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    sigma1, sigma2 = random_spd(rng, d), random_spd(rng, d)
    expected = sqrtm_reference(mu1, sigma1, mu2, sigma2)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-6)


def test_rank_deficient_covariance_matches_reference(rng):
    # Fewer samples than dimensions: Σ1 is singular (its tiny negative eigenvalues are clipped).
    mu1, sigma1 = feature_statistics(rng.normal(size=(5, 12)))
    mu2, sigma2 = rng.normal(size=12), random_spd(rng, 12)
    expected = sqrtm_reference(mu1, sigma1, mu2, sigma2)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-6)


def test_symmetric_in_its_arguments(rng):
    mu1, mu2 = rng.normal(size=20), rng.normal(size=20)
    sigma1, sigma2 = random_spd(rng, 20), random_spd(rng, 20)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(
        frechet_distance(mu2, sigma2, mu1, sigma1), rel=1e-10
    )


def test_feature_statistics_match_numpy(rng):
    features = rng.normal(size=(50, 6)).astype(np.float32)
    mu, sigma = feature_statistics(features)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(mu, features.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(features.astype(np.float64), rowvar=False), rtol=1e-12)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_inputs_raise(rng, bad):
    mu, sigma = rng.normal(size=4), random_spd(rng, 4)
    bad_mu, bad_sigma = mu.copy(), sigma.copy()
    bad_mu[1], bad_sigma[2, 2] = bad, bad
    with pytest.raises(UserError, match="mu2 contains NaN or infinite"):
        frechet_distance(mu, sigma, bad_mu, sigma)
    with pytest.raises(UserError, match="sigma1 contains NaN or infinite"):
        frechet_distance(mu, bad_sigma, mu, sigma)
    with pytest.raises(UserError, match="NaN or infinite"):
        feature_statistics(np.array([[0.0, bad], [1.0, 2.0]]))


def test_shape_mismatches_raise(rng):
    mu3, mu4, sigma3, sigma4 = rng.normal(size=3), rng.normal(size=4), np.eye(3), np.eye(4)
    with pytest.raises(UserError, match="mu1 and mu2 differ in shape"):
        frechet_distance(mu3, sigma3, mu4, sigma4)
    with pytest.raises(UserError, match="sigma2"):
        frechet_distance(mu3, sigma3, mu3, sigma4)
    with pytest.raises(UserError, match="square"):
        frechet_distance(mu3, np.ones((3, 2)), mu3, sigma3)
    with pytest.raises(UserError, match="1-D"):
        frechet_distance(sigma3, sigma3, mu3, sigma3)


def test_not_a_covariance_raises(rng):
    mu, sigma = rng.normal(size=3), np.eye(3)
    with pytest.raises(UserError, match="sigma2 is not positive semi-definite"):
        frechet_distance(mu, sigma, mu, np.diag([1.0, 1.0, -0.5]))
    asymmetric = np.eye(3)
    asymmetric[0, 1] = 0.5
    with pytest.raises(UserError, match="sigma1 is not symmetric"):
        frechet_distance(mu, asymmetric, mu, sigma)


def test_tiny_negative_eigenvalue_is_round_off():
    # -1e-12 relative to 1 is round-off, not an error: clipped to 0.
    sigma = np.diag([1.0, 0.5, -1e-12])
    assert frechet_distance(np.zeros(3), sigma, np.zeros(3), sigma) == pytest.approx(0.0, abs=1e-8)
