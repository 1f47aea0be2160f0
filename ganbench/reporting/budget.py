"""Lucic et al. 2018's budget analysis (sec. 5, Figure 4): what a budget of k hyperparameter
trials buys. A model's pool is its search trials' best FIDs, +inf for a trial that did not end ok
(their code gives a NaN generator FID 31337: a failed run never wins). The best FID of k trials
is the minimum of k draws from the pool with replacement, estimated by the bootstrap: many
replicates from a numpy Generator with a fixed seed, so the same pools give the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

REPLICATES = 10_000
SEED = 2018
CURVE_COLUMNS = ["k", "mean", "median", "lo", "hi", "p_all_failed"]


def _draws(pool: Sequence[float], k: int, rng: np.random.Generator, replicates: int) -> np.ndarray:
    """(replicates, k) draws from ``pool`` with replacement."""
    values = np.asarray(pool, dtype=np.float64)
    if not len(values) or k < 1:
        raise ValueError(f"a budget needs a non-empty pool and k >= 1 (pool {len(values)}, k {k})")
    return values[rng.integers(len(values), size=(replicates, k))]


def budget_curve(
    pool: Sequence[float], replicates: int = REPLICATES, seed: int = SEED
) -> pd.DataFrame:
    """For k = 1 … len(pool): the best of k trials drawn from ``pool`` (+inf: a trial that did
    not end ok). Columns :data:`CURVE_COLUMNS`: the mean over the replicates (NaN when some
    replicate drew only failed trials: the expectation is then not finite), the median, 2.5% and
    97.5% empirical quantiles (``inverted_cdf``: a value of the replicates, +inf when that many
    drew only failures) and the share of replicates whose k trials all failed.

    Replicate r's best of k is the minimum of its first k draws, so one (replicates, N) draw gives
    every k; each k's replicates are still k independent draws with replacement."""
    n = len(pool)
    best = np.minimum.accumulate(_draws(pool, n, np.random.default_rng(seed), replicates), axis=1)
    failed = np.isinf(best).mean(axis=0)
    lo, median, hi = np.quantile(best, [0.025, 0.5, 0.975], axis=0, method="inverted_cdf")
    mean = np.where(failed > 0, math.nan, np.where(np.isinf(best), 0.0, best).mean(axis=0))
    columns = (np.arange(1, n + 1), mean, median, lo, hi, failed)
    return pd.DataFrame(dict(zip(CURVE_COLUMNS, columns, strict=True)))


def p_beat(
    a: Sequence[float],
    b: Sequence[float],
    k: int,
    replicates: int = REPLICATES,
    seed: int = SEED,
) -> float:
    """The chance that the best of k trials from pool ``a`` is lower than the best of k from pool
    ``b`` (independent draws; a tie, two failures included, counts 1/2)."""
    rng = np.random.default_rng(seed)
    best_a = _draws(a, k, rng, replicates).min(axis=1)
    best_b = _draws(b, k, rng, replicates).min(axis=1)
    return float((best_a < best_b).mean() + 0.5 * (best_a == best_b).mean())


@dataclass(frozen=True)
class Budget:
    """One dataset's budget analysis, per search phase (2: the narrow trials from
    ``search.narrow_from`` on). ``curves``: variant, phase and :data:`CURVE_COLUMNS`.
    ``beats``: P(the best of k trials of ``variant`` beats the best of k of ``opponent``) at k =
    the phase's number of trials, every ordered pair of distinct variants."""

    curves: pd.DataFrame
    beats: pd.DataFrame


def pools(trials: pd.DataFrame, variants: Sequence[str], phase: int) -> dict[str, np.ndarray]:
    """variant -> the best FIDs of its trials of ``phase`` in trial order, +inf where not ok."""
    t = trials[trials["phase"] == phase].sort_values("trial")
    best = np.where(t["status"] == "ok", t["fid"], math.inf)
    return {v: best[(t["variant"] == v).to_numpy()] for v in variants}


def analyse(trials: pd.DataFrame, variants: Sequence[str]) -> Budget:
    """:func:`budget_curve` of every variant and :func:`p_beat` of every pair, per phase, of one
    dataset's trials (``Records.trials`` rows, at least one). Each unordered pair is drawn once; the reverse
    order gets the complement, so P(a beats b) + P(b beats a) = 1."""
    curves, beats = [], []
    for phase in sorted(set(trials["phase"])):
        pool = pools(trials, variants, phase)
        for v in variants:
            curves.append(budget_curve(pool[v]).assign(variant=v, phase=phase))
        k = min(len(p) for p in pool.values())
        for i, a in enumerate(variants):
            for b in variants[i + 1 :]:
                p = p_beat(pool[a], pool[b], k)
                beats += [(a, b, phase, k, p), (b, a, phase, k, 1 - p)]
    return Budget(
        curves=pd.concat(curves, ignore_index=True)[["variant", "phase", *CURVE_COLUMNS]],
        beats=pd.DataFrame(beats, columns=["variant", "opponent", "phase", "k", "p_beat"]),
    )
