"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs", sec. 4):

    IS = exp(E_x KL(p(y|x) ‖ p(y))),    p(y) = E_x p(y|x)

computed on ``splits`` disjoint chunks of the (optionally shuffled) samples and reported as
mean ± std (ddof 0) over chunks. Chunking and shuffling follow torch-fidelity: a
``RandomState(seed).permutation(N)`` and chunk i = rows [i·N // splits, (i+1)·N // splits).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ganbench.errors import UserError
from ganbench.metrics.checks import finite_matrix

# Rows of a probability input must sum to 1 within this tolerance.
PROBS_ATOL = 1e-6


def inception_score(
    logits: np.ndarray, *, splits: int = 10, shuffle: bool = True, seed: int = 2020
) -> tuple[float, float]:
    """IS (mean, std) from class logits (N, K); softmax is taken here in float64, split by split
    (a float64 copy of one split at a time, never of all N × K logits)."""
    logits = finite_matrix("logits", logits, columns="classes")  # float32 stays float32

    def probabilities(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = logits[rows].astype(np.float64)
        # Stable log-softmax: shift by the row maximum before exponentiating.
        x -= x.max(axis=1, keepdims=True)
        log_p = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
        return np.exp(log_p), log_p

    return _score(len(logits), probabilities, splits=splits, shuffle=shuffle, seed=seed)


def inception_score_from_probs(
    probs: np.ndarray, *, splits: int = 10, shuffle: bool = True, seed: int = 2020
) -> tuple[float, float]:
    """IS (mean, std) from class probabilities p(y|x) (N, K), rows non-negative summing to 1."""
    probs = finite_matrix("probs", probs, columns="classes")
    if np.any(probs < 0) or not np.allclose(probs.sum(axis=1), 1.0, rtol=0.0, atol=PROBS_ATOL):
        raise UserError("probs must be non-negative with rows summing to 1 (softmax outputs)")

    def probabilities(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = probs[rows].astype(np.float64)
        with np.errstate(divide="ignore"):
            return p, np.log(p)  # -inf where p = 0; those terms are masked to 0 in _score

    return _score(len(probs), probabilities, splits=splits, shuffle=shuffle, seed=seed)


def _score(
    n: int,
    probabilities: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    *,
    splits: int,
    shuffle: bool,
    seed: int,
) -> tuple[float, float]:
    if not isinstance(splits, int) or splits < 1:
        raise UserError(f"IS splits must be a positive integer; got {splits!r}")
    if n < splits:
        raise UserError(f"IS needs at least as many samples as splits; got {n} < {splits}")
    order = np.random.RandomState(seed).permutation(n) if shuffle else np.arange(n)

    scores = np.empty(splits, dtype=np.float64)
    for i in range(splits):
        p_chunk, log_p_chunk = probabilities(order[i * n // splits : (i + 1) * n // splits])
        # KL(p(y|x) ‖ p(y)) per row. Terms with p(y|x) = 0 are 0 (0 · log 0 = 0); they may hold
        # -inf or nan before masking, so silence those warnings. p(y|x) > 0 implies p(y) > 0.
        with np.errstate(divide="ignore", invalid="ignore"):
            log_q = np.log(p_chunk.mean(axis=0, keepdims=True))  # (1, K), log p(y) on the chunk
            terms = np.where(p_chunk > 0, p_chunk * (log_p_chunk - log_q), 0.0)
        scores[i] = np.exp(terms.sum(axis=1).mean())
    return float(np.mean(scores)), float(np.std(scores))
