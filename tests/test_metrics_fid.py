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


# The factorisation routes (see fid._trace_sqrt_product): both covariances positive definite
# (two Cholesky factors), one singular (one factor, the other checked), both singular (eigh).


def test_both_singular_covariances_match_reference(rng):
    mu1, sigma1 = feature_statistics(rng.normal(size=(6, 12)))
    mu2, sigma2 = feature_statistics(rng.normal(1.0, 2.0, size=(9, 12)))
    expected = sqrtm_reference(mu1, sigma1, mu2, sigma2)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(mu2, sigma2, mu1, sigma1) == pytest.approx(expected, rel=1e-6)


def test_singular_first_covariance_matches_reference(rng):
    # The mirror image of test_rank_deficient_covariance_matches_reference: Σ2 singular.
    mu1, sigma1 = rng.normal(size=12), random_spd(rng, 12)
    mu2, sigma2 = feature_statistics(rng.normal(size=(5, 12)))
    expected = sqrtm_reference(mu1, sigma1, mu2, sigma2)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("route", ["other PD", "both singular"])
def test_psd_rule_in_each_route(rng, route):
    mu = np.zeros(3)
    other = np.eye(3) if route == "other PD" else np.diag([1.0, 0.0, 0.0])
    # Within the rule (λ_min ≥ -PSD_RTOL · max|λ|): round-off, clipped.
    frechet_distance(mu, other, mu, np.diag([1.0, 0.5, -5e-7]))
    frechet_distance(mu, np.diag([1.0, 0.5, -5e-7]), mu, other)
    # Beyond it: an error naming the matrix, whichever position it is in.
    with pytest.raises(UserError, match="sigma2 is not positive semi-definite"):
        frechet_distance(mu, other, mu, np.diag([1.0, 0.5, -2e-6]))
    with pytest.raises(UserError, match="sigma1 is not positive semi-definite"):
        frechet_distance(mu, np.diag([1.0, 0.5, -2e-6]), mu, other)


def test_psd_rule_is_relative_to_the_largest_eigenvalue_not_the_diagonal():
    # Σ = 1 1ᵀ − ε e eᵀ (e ⟂ 1): λ_max = d = 100, λ_min = −ε = −5e-5, diagonal ≈ 1. Within the rule
    # (5e-5 < 1e-6 · 100) though not within 1e-6 · max diagonal: the eigenvalues must decide.
    d = 100
    e = np.zeros(d)
    e[0], e[1] = 1 / np.sqrt(2), -1 / np.sqrt(2)
    sigma = np.ones((d, d)) - 5e-5 * np.outer(e, e)
    assert np.isfinite(frechet_distance(np.zeros(d), np.eye(d), np.zeros(d), sigma))
    with pytest.raises(UserError, match="sigma2 is not positive semi-definite"):
        frechet_distance(np.zeros(d), np.eye(d), np.zeros(d), sigma - 2e-4 * np.outer(e, e))


def test_round_off_asymmetry_is_averaged_out(rng):
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    sigma1, sigma2 = random_spd(rng, 8), random_spd(rng, 8)
    noisy = sigma2 + 1e-12 * np.triu(rng.normal(size=(8, 8)), 1)
    assert frechet_distance(mu1, sigma1, mu2, noisy) == pytest.approx(
        frechet_distance(mu1, sigma1, mu2, 0.5 * (noisy + noisy.T)), rel=1e-12
    )


@pytest.mark.filterwarnings("error")
def test_fortran_ordered_read_only_and_float32_inputs(rng):
    mu1, mu2 = rng.normal(size=10), rng.normal(size=10)
    sigma1, sigma2 = random_spd(rng, 10), random_spd(rng, 10)
    expected = frechet_distance(mu1, sigma1, mu2, sigma2)
    read_only = sigma2.copy()
    read_only.setflags(write=False)
    got = frechet_distance(mu1, np.asfortranarray(sigma1), mu2, read_only)
    assert got == pytest.approx(expected, rel=1e-12)
    got32 = frechet_distance(mu1, sigma1.astype(np.float32), mu2, sigma2.astype(np.float32))
    assert got32 == pytest.approx(expected, rel=1e-5)


@pytest.mark.filterwarnings("ignore:Matrix is singular")  # the sqrtm reference's, not ours
def test_dead_features_are_dropped_exactly(rng):
    # Zero-variance dimensions (dead ReLU units) in both sets, in one set only, and in all of them.
    f1, f2 = rng.normal(size=(200, 10)), rng.normal(0.5, 1.5, size=(300, 10))
    f1[:, [2, 7]] = 0.0
    f2[:, [2, 5]] = 0.0
    stats = (*feature_statistics(f1), *feature_statistics(f2))
    assert frechet_distance(*stats) == pytest.approx(sqrtm_reference(*stats), rel=1e-6)
    zeros = np.zeros((10, 10))
    expected = float(np.sum((stats[0] - stats[2]) ** 2))
    assert frechet_distance(stats[0], zeros, stats[2], zeros) == pytest.approx(expected, rel=1e-12)


def test_zero_variance_with_nonzero_covariance_is_not_psd():
    # A zero diagonal entry with a non-zero off-diagonal one: indefinite, not a dead feature.
    sigma = np.array([[0.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(UserError, match="sigma2 is not positive semi-definite"):
        frechet_distance(np.zeros(3), np.diag([0.0, 1.0, 1.0]), np.zeros(3), sigma)


@pytest.mark.parametrize("other", [np.eye(3), np.ones((3, 3))])  # positive definite, singular
def test_zero_covariance_against_another(other):
    # Tr((0 · Σ)^½) = 0, so FID = ‖Δμ‖² + Tr(Σ), whichever side the zero matrix is on.
    mu1, mu2 = np.zeros(3), np.ones(3)
    assert frechet_distance(mu1, np.zeros((3, 3)), mu2, other) == pytest.approx(6.0, rel=1e-12)
    assert frechet_distance(mu1, other, mu2, np.zeros((3, 3))) == pytest.approx(6.0, rel=1e-12)
