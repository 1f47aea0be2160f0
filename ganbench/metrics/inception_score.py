"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs", sec. 4):

    IS = exp(E_x KL(p(y|x) ‖ p(y))),    p(y) = E_x p(y|x)

computed on ``splits`` disjoint chunks of the (optionally shuffled) samples and reported as
mean ± std (ddof 0) over chunks. Chunking and shuffling follow torch-fidelity: a
``RandomState(seed).permutation(N)`` and chunk i = rows [i·N // splits, (i+1)·N // splits).
"""

from __future__ import annotations

import numpy as np

from ganbench.errors import UserError

# Rows of a probability input must sum to 1 within this tolerance.
PROBS_ATOL = 1e-6


def inception_score(
    logits: np.ndarray, *, splits: int = 10, shuffle: bool = True, seed: int = 2020
) -> tuple[float, float]:
    """IS (mean, std) from class logits (N, K); softmax is taken here in float64."""
    logits = _as_matrix("logits", logits)
    # Stable log-softmax: shift by the row maximum before exponentiating.
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return _score(np.exp(log_p), log_p, splits=splits, shuffle=shuffle, seed=seed)


def inception_score_from_probs(
    probs: np.ndarray, *, splits: int = 10, shuffle: bool = True, seed: int = 2020
) -> tuple[float, float]:
    """IS (mean, std) from class probabilities p(y|x) (N, K), rows non-negative summing to 1."""
    probs = _as_matrix("probs", probs)
    if np.any(probs < 0) or not np.allclose(probs.sum(axis=1), 1.0, rtol=0.0, atol=PROBS_ATOL):
        raise UserError("probs must be non-negative with rows summing to 1 (softmax outputs)")
    with np.errstate(divide="ignore"):
        log_p = np.log(probs)  # -inf where p = 0; those terms are masked to 0 in _score
    return _score(probs, log_p, splits=splits, shuffle=shuffle, seed=seed)


def _score(
    p: np.ndarray, log_p: np.ndarray, *, splits: int, shuffle: bool, seed: int
) -> tuple[float, float]:
    n = p.shape[0]
    if not isinstance(splits, int) or splits < 1:
        raise UserError(f"IS splits must be a positive integer; got {splits!r}")
    if n < splits:
        raise UserError(f"IS needs at least as many samples as splits; got {n} < {splits}")
    if shuffle:
        order = np.random.RandomState(seed).permutation(n)
        p, log_p = p[order], log_p[order]

    scores = np.empty(splits, dtype=np.float64)
    for i in range(splits):
        chunk = slice(i * n // splits, (i + 1) * n // splits)
        p_chunk, log_p_chunk = p[chunk], log_p[chunk]  # (n, K)
        # KL(p(y|x) ‖ p(y)) per row. Terms with p(y|x) = 0 are 0 (0 · log 0 = 0); they may hold
        # -inf or nan before masking, so silence those warnings. p(y|x) > 0 implies p(y) > 0.
        with np.errstate(divide="ignore", invalid="ignore"):
            log_q = np.log(p_chunk.mean(axis=0, keepdims=True))  # (1, K), log p(y) on the chunk
            terms = np.where(p_chunk > 0, p_chunk * (log_p_chunk - log_q), 0.0)
        scores[i] = np.exp(terms.sum(axis=1).mean())
    return float(np.mean(scores)), float(np.std(scores))


def _as_matrix(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise UserError(f"{name} must be a 2-D array (N, classes); got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise UserError(f"{name} contains NaN or infinite values")
    return x
