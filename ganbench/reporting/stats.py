"""The statistics behind every table: over-seed summaries, Welch intervals, verdicts, the minimum
detectable effect, Newcombe's interval for a difference of proportions, Spearman's rank
correlation with a published table, and amenability to truncation (Brock et al. 2019)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ganbench.reporting.records import PRDC_KEYS

# summary column prefix -> the per-run best-checkpoint score it aggregates over the ok seeds
SUMMARY_STATS = {"fid": "fid", "is": "is_mean", "kid": "kid_mean", "fid_raw": "fid_raw"} | {
    k: k for k in PRDC_KEYS
}
# (prefix, score, lower is better) of the differences from the baseline
DELTAS = (("fid", "fid", True), ("is", "is_mean", False))


@dataclass(frozen=True)
class Delta:
    """mean(row) − mean(baseline) and its confidence interval (NaN bounds: not computed)."""

    diff: float
    low: float
    high: float


NO_DELTA = Delta(math.nan, math.nan, math.nan)


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float] | None:
    """Standard error of mean(a) − mean(b) and its Welch–Satterthwaite degrees of freedom; None
    with fewer than 2 values in either group or no spread in both."""
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)  # squared standard errors
    if va + vb == 0:
        return None
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return math.sqrt(va + vb), float(df)


def welch_delta(row: Sequence[float], baseline: Sequence[float], confidence: float = 0.95) -> Delta:
    """Difference of means with Welch's t interval (unequal variances, Welch–Satterthwaite df).

    Equals ``scipy.stats.ttest_ind(row, baseline, equal_var=False).confidence_interval()``. The
    interval is NaN with fewer than 2 values in either group or no spread in both.
    """
    a, b = np.asarray(row, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    if not len(a) or not len(b):
        return NO_DELTA
    diff = float(a.mean() - b.mean())
    welch = _welch(a, b)
    if welch is None:
        return Delta(diff, math.nan, math.nan)
    se, df = welch
    half = float(stats.t.ppf((1 + confidence) / 2, df) * se)
    return Delta(diff, diff - half, diff + half)


ALPHA, POWER = 0.05, 0.8  # the minimum detectable effect: two-sided test at ALPHA, with POWER


def mde(
    a: Sequence[float], b: Sequence[float], alpha: float = ALPHA, power: float = POWER
) -> float:
    """Minimum detectable effect of a two-sided Welch test of mean(a) − mean(b) at level ``alpha``
    with probability ``power``, from the measured spread (the usual normal-theory power formula
    with t quantiles, e.g. Cohen 1988, ch. 2):

        MDE = (t_{1−α/2, df} + t_{power, df}) · sqrt(s_a²/n_a + s_b²/n_b),  df: Welch–Satterthwaite.

    NaN where :func:`welch_delta` has no interval."""
    welch = _welch(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    if welch is None:
        return math.nan
    se, df = welch
    return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * se)


def wilson(x: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a proportion x / n (Wilson 1927; no continuity correction)."""
    z, p = stats.norm.ppf((1 + confidence) / 2), x / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


def newcombe_delta(x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95) -> Delta:
    """x1/n1 − x2/n2 with Newcombe's hybrid score interval (Newcombe 1998, Statistics in Medicine
    17:873–890, method 10): with Wilson intervals (l1, u1), (l2, u2) of the two proportions,

        low = d − sqrt((p1 − l1)² + (u2 − p2)²),  high = d + sqrt((u1 − p1)² + (p2 − l2)²).

    Unlike the Wald interval it stays inside [−1, 1] and is not empty at 0/n or n/n. NaN without
    a run in either group."""
    if not n1 or not n2:
        return NO_DELTA
    p1, p2 = x1 / n1, x2 / n2
    (l1, u1), (l2, u2) = wilson(x1, n1, confidence), wilson(x2, n2, confidence)
    d = p1 - p2
    return Delta(d, d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2))


def share_mde(n1: int, n2: int, pooled: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """Minimum detectable difference of two proportions (normal approximation at the pooled
    share, e.g. Fleiss et al. 2003, sec. 4.2): (z_{1−α/2} + z_{power}) · sqrt(p̄(1−p̄)(1/n1 + 1/n2)).
    NaN without a run in either group or when p̄ is 0 or 1 (no spread to scale it by)."""
    if not n1 or not n2 or pooled in (0, 1):
        return math.nan
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(z * math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)))


def verdict(delta: Delta, lower_is_better: bool) -> str:
    """ "better" / "worse" when the interval excludes 0, "within noise" when not, "n/a" without one."""
    if not (math.isfinite(delta.low) and math.isfinite(delta.high)):
        return "n/a"
    if delta.high < 0 or delta.low > 0:
        return "better" if (delta.high < 0) == lower_is_better else "worse"
    return "within noise"


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample std (ddof = 1) of ``values``; NaN mean when empty, NaN std below 2."""
    v = np.asarray(list(values), dtype=np.float64)
    return (
        float(v.mean()) if len(v) else math.nan,
        float(v.std(ddof=1)) if len(v) >= 2 else math.nan,
    )


def summarise_variants(runs: pd.DataFrame, variants: Sequence[str], baseline: str) -> pd.DataFrame:
    """One row per variant (in ``variants`` order) of one dataset's ``runs``: seed counts, mean ±
    std over the ok seeds of each run's best-checkpoint scores, and FID/IS differences from
    ``baseline`` (:func:`welch_delta`, :func:`verdict`). Diverged and failed seeds are counted,
    never averaged: Lucic et al. 2018 count a NaN generator as a failed run. ``best_seed``: the ok
    seed with the lowest FID (-1 when none), ``fid_best_run`` its FID."""
    base_ok = runs[(runs["variant"] == baseline) & (runs["status"] == "ok")]
    rows = []
    for v in variants:
        r = runs[runs["variant"] == v]
        ok = r[r["status"] == "ok"]
        row = {"variant": v, "n_seeds": len(r), "n_ok": len(ok)}
        row |= {f"n_{s}": int((r["status"] == s).sum()) for s in ("diverged", "failed")}
        for prefix, column in SUMMARY_STATS.items():
            row[f"{prefix}_mean"], row[f"{prefix}_std"] = mean_std(ok[column])
        for prefix, column, lower in DELTAS:
            if v == baseline:
                d, word = NO_DELTA, "baseline"
            else:
                d = welch_delta(ok[column], base_ok[column])
                word = verdict(d, lower_is_better=lower)
            row |= {f"delta_{prefix}": d.diff, f"verdict_{prefix}": word}
            row |= {f"delta_{prefix}_low": d.low, f"delta_{prefix}_high": d.high}
        best = ok.loc[ok["fid"].idxmin()] if len(ok) else None
        row["best_seed"] = -1 if best is None else int(best["seed"])
        row["fid_best_run"] = math.nan if best is None else float(best["fid"])
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Spearman:
    """Rank correlation of our mean FID with a published FID over ``variants`` (NaN when n < 3)."""

    rho: float
    p_value: float
    n: int
    variants: tuple[str, ...]


def spearman(ours: dict[str, float], theirs: dict[str, float]) -> Spearman:
    """Spearman rho over the variants in both mappings (in ``ours`` order); with fewer than three
    the correlation is not computed (rho and p are NaN)."""
    names = tuple(v for v in ours if v in theirs)
    if len(names) < 3:
        return Spearman(math.nan, math.nan, len(names), names)
    a = np.array([ours[v] for v in names], dtype=np.float64)
    b = np.array([theirs[v] for v in names], dtype=np.float64)
    with warnings.catch_warnings():  # constant input: scipy warns and returns NaN, which we show
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        result = stats.spearmanr(a, b)
    return Spearman(float(result.statistic), float(result.pvalue), len(names), names)


AMENABLE_CRITERION = (
    "a run is *amenable to truncation* when truncating its noise buys fidelity without ruining "
    "the samples: (1) the IS at the smallest ψ of the sweep is higher than the untruncated IS, and "
    "(2) the best FID over the truncated points is no worse (≤) than the untruncated FID. A model "
    "that is not amenable (Brock et al. 2019) produces saturation artifacts on "
    "truncated noise, which lowers IS and raises FID at small ψ. A sweep with only strong "
    "truncations may fail (2) for a healthy model: include a mild ψ (e.g. 2.0)"
)


def amenable_to_truncation(sweep: list[dict]) -> bool | None:
    """Whether a run is amenable to truncation (criterion: :data:`AMENABLE_CRITERION`).

    ``sweep`` is a record's ``truncation`` list: points ``{"psi": float | None, "fid", "is_mean",
    ...}``, ``psi=None`` untruncated. None when the sweep has no untruncated point (nothing to
    compare with) or no truncated one.
    """
    untruncated = [p for p in sweep if p["psi"] is None]
    truncated = [p for p in sweep if p["psi"] is not None]
    if not untruncated or not truncated:
        return None
    base = untruncated[0]
    strongest = min(truncated, key=lambda p: p["psi"])
    best_fid = min(p["fid"] for p in truncated)
    return bool(strongest["is_mean"] > base["is_mean"] and best_fid <= base["fid"])


@dataclass(frozen=True)
class Share:
    """How many of the judged runs are amenable; percent is NaN when none was judged."""

    amenable: int
    judged: int
    percent: float


def amenable_share(flags: Iterable[bool | None]) -> Share:
    """Share of amenable runs among those with a verdict (None: no sweep, not counted)."""
    judged = [f for f in flags if f is not None]
    n = sum(judged)
    return Share(n, len(judged), 100.0 * n / len(judged) if judged else math.nan)
