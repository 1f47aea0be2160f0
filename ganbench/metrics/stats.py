"""Streaming feature statistics: mean and covariance without holding all features in memory.

Accumulates, in float64, n, Σ (x − s) and Σ (x − s)(x − s)ᵀ over batches, where the shift s is the
mean of the first batch. Then

    μ = s + Σ(x − s) / n,    Σ = (Σ(x − s)(x − s)ᵀ − n (μ − s)(μ − s)ᵀ) / (n − 1)

which equals ``np.mean`` / ``np.cov(ddof=1)`` of the concatenated features. The shift keeps the
subtraction well conditioned when the mean is large relative to the spread (the textbook
sum-of-squares formula loses digits there), at no extra cost.
"""

from __future__ import annotations

import numpy as np
import torch

from ganbench.errors import UserError


class RunningStats:
    """Running mean and unbiased covariance of ``dim``-dimensional feature vectors."""

    def __init__(self, dim: int) -> None:
        if not isinstance(dim, int) or dim < 1:
            raise UserError(f"RunningStats dim must be a positive integer; got {dim!r}")
        self.dim = dim
        self.count = 0
        self._shift: np.ndarray | None = None
        self._sum = np.zeros(dim, dtype=np.float64)
        self._sum_outer = np.zeros((dim, dim), dtype=np.float64)

    def update(self, features: np.ndarray | torch.Tensor) -> None:
        """Add a batch of features of shape (N, dim)."""
        if isinstance(features, torch.Tensor):
            features = features.detach().to("cpu", torch.float64).numpy()
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise UserError(f"features must have shape (N, {self.dim}); got {x.shape}")
        if x.shape[0] == 0:
            return
        if not np.all(np.isfinite(x)):
            raise UserError("features contain NaN or infinite values")
        if self._shift is None:
            self._shift = x.mean(axis=0)
        centred = x - self._shift  # (N, dim)
        self.count += x.shape[0]
        self._sum += centred.sum(axis=0)
        self._sum_outer += centred.T @ centred

    def mean(self) -> np.ndarray:
        """Mean (dim,), float64; needs at least one sample."""
        if self.count < 1:
            raise UserError("RunningStats.mean() needs at least 1 sample; got 0")
        return self._shift + self._sum / self.count

    def cov(self) -> np.ndarray:
        """Unbiased covariance (dim, dim), float64 (ddof = 1); needs at least two samples."""
        if self.count < 2:
            raise UserError(f"RunningStats.cov() needs at least 2 samples; got {self.count}")
        delta = self._sum / self.count  # μ − s
        sigma = (self._sum_outer - self.count * np.outer(delta, delta)) / (self.count - 1)
        return 0.5 * (sigma + sigma.T)  # exactly symmetric despite round-off
