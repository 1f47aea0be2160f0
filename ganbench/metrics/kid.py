"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs", sec. 4).

KID is the unbiased estimator of the squared maximum mean discrepancy with the polynomial kernel

    k(x, y) = (γ xᵀy + coef0)^degree,    γ = 1/d by default,

    MMD²_u = 1/(m(m−1)) Σ_{i≠j} k(xᵢ, xⱼ) + 1/(m(m−1)) Σ_{i≠j} k(yᵢ, yⱼ) − 2/m² Σ_{i,j} k(xᵢ, yⱼ)

averaged over ``subsets`` random subsets of ``subset_size`` samples from each set (mean ± std).
Subsets are drawn exactly as torch-fidelity draws them (one ``RandomState(seed)``; per subset first
``choice(n1, m, replace=False)`` for ``features1``, then for ``features2``), so equal features and
settings give torch-fidelity's numbers.
"""

from __future__ import annotations

import numpy as np

from ganbench.errors import UserError


def polynomial_kernel(
    X: np.ndarray, Y: np.ndarray, *, degree: int = 3, gamma: float | None = None, coef0: float = 1.0
) -> np.ndarray:
    """Gram matrix (γ X Yᵀ + coef0)^degree, shape (len(X), len(Y)); γ = 1/d when None."""
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    return (gamma * (X @ Y.T) + coef0) ** degree


def mmd2_unbiased(K_XX: np.ndarray, K_XY: np.ndarray, K_YY: np.ndarray) -> float:
    """Unbiased MMD² from the three Gram matrices of two equal-size samples (m ≥ 2)."""
    m = K_XX.shape[0]
    # Σ_{i≠j}: the full sum minus the diagonal.
    sum_XX = K_XX.sum() - np.trace(K_XX)
    sum_YY = K_YY.sum() - np.trace(K_YY)
    return float((sum_XX + sum_YY) / (m * (m - 1)) - 2.0 * K_XY.sum() / (m * m))


def kernel_inception_distance(
    features1: np.ndarray,
    features2: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = 2020,
) -> tuple[float, float]:
    """KID (mean, std over subsets, std with ddof 0) between two feature sets (N1, d) and (N2, d).

    Defaults are the reference ones (torch-fidelity: 100 subsets of 1000, degree 3, γ = 1/d,
    coef0 = 1, seed 2020). A ``subset_size`` larger than either set raises :class:`UserError`:
    shrinking it silently would change the estimator's variance and make numbers incomparable.
    """
    features1 = _as_features("features1", features1)
    features2 = _as_features("features2", features2)
    if features1.shape[1] != features2.shape[1]:
        raise UserError(
            f"features1 and features2 differ in dimension: {features1.shape[1]} "
            f"vs {features2.shape[1]}"
        )
    if not isinstance(subsets, int) or subsets < 1:
        raise UserError(f"KID subsets must be a positive integer; got {subsets!r}")
    if not isinstance(subset_size, int) or subset_size < 2:
        raise UserError(f"KID subset_size must be an integer >= 2; got {subset_size!r}")
    n1, n2 = len(features1), len(features2)
    if subset_size > min(n1, n2):
        raise UserError(
            f"KID subset_size {subset_size} is larger than the feature sets "
            f"({n1} and {n2} samples); use subset_size <= {min(n1, n2)} or more samples"
        )

    kernel = {"degree": degree, "gamma": gamma, "coef0": coef0}
    rng = np.random.RandomState(seed)
    mmds = np.empty(subsets, dtype=np.float64)
    for i in range(subsets):
        X = features1[rng.choice(n1, subset_size, replace=False)]  # (m, d)
        Y = features2[rng.choice(n2, subset_size, replace=False)]  # (m, d)
        mmds[i] = mmd2_unbiased(
            polynomial_kernel(X, X, **kernel),
            polynomial_kernel(X, Y, **kernel),
            polynomial_kernel(Y, Y, **kernel),
        )
    return float(np.mean(mmds)), float(np.std(mmds))


def _as_features(name: str, features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise UserError(f"{name} must be a 2-D array (N, d); got shape {features.shape}")
    if not np.all(np.isfinite(features)):
        raise UserError(f"{name} contains NaN or infinite values")
    return features
