"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs", sec. 4).

KID is the unbiased estimator of the squared maximum mean discrepancy with the polynomial kernel

    k(x, y) = (γ xᵀy + coef0)^degree,    γ = 1/d by default,

    MMD²_u = 1/(m(m−1)) Σ_{i≠j} k(xᵢ, xⱼ) + 1/(m(m−1)) Σ_{i≠j} k(yᵢ, yⱼ) − 2/m² Σ_{i,j} k(xᵢ, yⱼ)

averaged over ``subsets`` random subsets of ``subset_size`` samples from each set (mean ± std).
Subsets are drawn exactly as torch-fidelity draws them (one ``RandomState(seed)``; per subset first
``choice(n1, m, replace=False)`` for ``features1``, then for ``features2``), so equal features and
settings give torch-fidelity's numbers.

Per subset the three Gram matrices X Xᵀ, Y Yᵀ (numpy hands ``A @ A.T`` to BLAS ``syrk``) and X Yᵀ
(``gemm``) are written into buffers allocated once; the kernel is applied to them in place, a
cache-sized band of rows at a time, and their sums (accumulated in float64) give MMD². The products
are the same as torch-fidelity's (4·m²·d flops per subset, which dominate the time); the saving is
in the kernel and the sums, which torch-fidelity computes with fresh (m, m) temporaries. A single
``[X; Y] @ [X; Y]ᵀ`` was measured slower (the strided blocks make the kernel pass ~2x slower).

Precision: ``precision="float64"`` (the default) computes everything in float64. torch-fidelity
computes in the dtype of the feature tensors it is given (``features.cpu().numpy()``, no cast):
float32 for the features its extractors produce, float64 for float64 tensors. ``"float32"`` is a
faster opt-in path with float32 features, Gram matrix and kernel values (as torch-fidelity on its
float32 features) but float64 accumulation of the kernel sums, which torch-fidelity does in float32.
See ``benchmarks/kid_speed.py``.
"""

from __future__ import annotations

import numpy as np

from ganbench.errors import UserError
from ganbench.metrics.checks import finite_matrix

# ``precision`` values of :func:`kernel_inception_distance` and the dtype each computes in.
PRECISIONS = {"float64": np.float64, "float32": np.float32}
# Rows of a Gram block turned into kernel values at a time (64 x 1000 float64: 0.5 MB, in L2).
KERNEL_ROWS = 64


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
    precision: str = "float64",
) -> tuple[float, float]:
    """KID (mean, std over subsets, std with ddof 0) between two feature sets (N1, d) and (N2, d).

    Defaults are the reference ones (torch-fidelity: 100 subsets of 1000, degree 3, γ = 1/d,
    coef0 = 1, seed 2020). A ``subset_size`` larger than either set raises :class:`UserError`:
    shrinking it silently would change the estimator's variance and make numbers incomparable.
    ``precision`` is ``"float64"`` (default) or ``"float32"`` (faster; see the module docstring).
    """
    if precision not in PRECISIONS:
        raise UserError(f"KID precision must be one of {sorted(PRECISIONS)}; got {precision!r}")
    dtype = PRECISIONS[precision]
    # Kept in their own float dtype (float32 from the extractors); only the drawn subsets are cast
    # to ``dtype``, which gives the same numbers without a float64 copy of 50k x 2048 features.
    features1 = finite_matrix("features1", features1)
    features2 = finite_matrix("features2", features2)
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

    m, d = subset_size, features1.shape[1]
    gamma = 1.0 / d if gamma is None else gamma
    rng = np.random.RandomState(seed)
    # Gram matrices, then kernel values in place; allocated once, reused by every subset.
    K_XX, K_YY, K_XY = (np.empty((m, m), dtype=dtype) for _ in range(3))
    scratch = np.empty((KERNEL_ROWS, m), dtype=dtype)
    mmds = np.empty(subsets, dtype=np.float64)
    for i in range(subsets):
        # torch-fidelity's draws, in its order: set 1, then set 2, per subset.
        X = features1[rng.choice(n1, m, replace=False)].astype(dtype, copy=False)  # (m, d)
        Y = features2[rng.choice(n2, m, replace=False)].astype(dtype, copy=False)  # (m, d)
        np.matmul(X, X.T, out=K_XX)  # syrk
        np.matmul(Y, Y.T, out=K_YY)  # syrk
        np.matmul(X, Y.T, out=K_XY)  # gemm
        sum_xx, sum_yy, sum_xy = (
            _kernel_sum(K, scratch, degree=degree, gamma=gamma, coef0=coef0)
            for K in (K_XX, K_YY, K_XY)
        )
        off_xx = sum_xx - float(np.trace(K_XX, dtype=np.float64))  # Σ_{i≠j}
        off_yy = sum_yy - float(np.trace(K_YY, dtype=np.float64))
        mmds[i] = (off_xx + off_yy) / (m * (m - 1)) - 2.0 * sum_xy / (m * m)
    return float(np.mean(mmds)), float(np.std(mmds))


def _kernel_sum(
    gram: np.ndarray, scratch: np.ndarray, *, degree: float, gamma: float, coef0: float
) -> float:
    """Σ of (γ · gram + coef0)^degree, accumulated in float64; the kernel values overwrite gram
    (in torch-fidelity's operation order). Works on ``KERNEL_ROWS`` rows at a time so that the
    four passes over them stay in cache; ``scratch`` holds (KERNEL_ROWS, gram.shape[1])."""
    total = 0.0
    for start in range(0, gram.shape[0], KERNEL_ROWS):
        rows = gram[start : start + KERNEL_ROWS]
        rows *= gamma
        rows += coef0
        if degree == 3:  # the default: two multiplications instead of pow()
            square = scratch[: len(rows)]
            np.multiply(rows, rows, out=square)
            rows *= square
        elif degree == 2:
            rows *= rows
        elif degree != 1:
            np.power(rows, degree, out=rows)
        total += float(rows.sum(dtype=np.float64))
    return total
