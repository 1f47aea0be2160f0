"""The findings section, in every report: each claim of the study's published table (its
``claims``, :mod:`ganbench.published.claims`) set against our runs, per dataset, with a verdict.

A claim names the paper's rows; the variants whose ``paper_rows`` contain a row stand for it. Every
comparison is oriented so that a positive effect is the claim's direction:

- ``better``: per pair of a better and a worse variant, the difference of mean best FID (IS) over
  their ok re-runs with a 95% Welch interval (:func:`~ganbench.reporting.stats.welch_delta`) and
  the minimum detectable effect (:func:`~ganbench.reporting.stats.mde`); the claim shows its least
  favourable pair.
- ``none_better``: the same, every other variant against the reference (a variant better than
  the reference contradicts it); with a search also the budget: P(best of N trials beats the
  reference's) against the claim's ``consistently``.
- ``share``: the difference of two proportions of ok runs with a property, Newcombe's hybrid score
  interval (:func:`~ganbench.reporting.stats.newcombe_delta`).
- ``untestable``: the claim's own argument.

File: ``<study>/findings.csv``; summary entries ``findings`` per dataset.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import pandas as pd

from ganbench.published.claims import Better, Claim, NoneBetter, Share, Untestable
from ganbench.reporting.context import Output, Report
from ganbench.reporting.stats import (
    ALPHA,
    POWER,
    Delta,
    amenable_to_truncation,
    mde,
    newcombe_delta,
    share_mde,
    welch_delta,
)
from ganbench.reporting.tables import DASH, md_table

HOLDS, CONTRADICTED, NOT_MEASURED = "holds", "contradicted", "not measured"
NOT_SEPARATED = "not separated (effects below the MDE not excluded)"
NOT_CONTRADICTED = "not contradicted (effects below the MDE not excluded)"
ABSENT, UNTESTABLE = "not in this study", "not testable at this scale"
# the order in which a claim over several pairs takes the verdict of its pairs
SEVERITY = (CONTRADICTED, NOT_SEPARATED, NOT_MEASURED, HOLDS)
METRICS = {"fid": ("FID", "fid", 1), "is": ("IS", "is_mean", 2)}  # name, run column, decimals
MEASURES: dict[str, Callable[[dict], bool | None]] = {
    "amenable_to_truncation": lambda rec: amenable_to_truncation(rec["truncation"]),
}
CSV_COLUMNS = ["dataset", "claim", "basis", "comparison", "verdict", "effect", "low", "high"]
CSV_COLUMNS += ["mde", "n", "note"]


@dataclass(frozen=True)
class Verdict:
    """One line of evidence on a claim; ``effect`` > 0 is the claim's direction."""

    basis: str  # "re-runs", "budget"; "" where nothing was measured
    comparison: str
    verdict: str
    effect: float = math.nan
    low: float = math.nan
    high: float = math.nan
    mde: float = math.nan
    n: str = ""
    note: str = ""
    decimals: int = 1


def _stand_for(r: Report, rows: Iterable[str]) -> list[str]:
    """The study's variants whose ``paper_rows`` contain any of ``rows``, in study order."""
    rows = set(rows)
    return [v for v, x in r.study.variants.items() if rows & set(x.paper_rows)]


def _unmapped(r: Report, claim: Claim) -> list[str]:
    """A note naming the claim's rows that no variant of the study stands for (empty if none)."""
    rows = [row for row in claim.rows() if not _stand_for(r, [row])]
    return [f"no variant stands for {', '.join(rows)}"] if rows else []


def _word(delta: Delta) -> str:
    if not (math.isfinite(delta.low) and math.isfinite(delta.high)):
        return NOT_MEASURED
    return HOLDS if delta.low > 0 else CONTRADICTED if delta.high < 0 else NOT_SEPARATED


def _pair(r: Report, d: str, metric: str, good: str, bad: str) -> Verdict:
    """``good`` scores better than ``bad`` over their ok re-runs (FID: bad − good > 0)."""
    name, column, decimals = METRICS[metric]
    runs = r.runs(d)
    ok = {
        v: runs.loc[(runs["variant"] == v) & (runs["status"] == "ok"), column] for v in (good, bad)
    }
    a, b = (ok[bad], ok[good]) if metric == "fid" else (ok[good], ok[bad])
    x, y = (bad, good) if metric == "fid" else (good, bad)
    delta = welch_delta(a, b)
    return Verdict(
        "re-runs", f"{name} `{x}` − `{y}`", _word(delta), delta.diff, delta.low, delta.high,
        mde(a, b), f"{len(a)}, {len(b)}", decimals=decimals,
    )  # fmt: skip


def _combine(tests: list[Verdict], notes: list[str], quiet: str) -> Verdict:
    """The verdict of a claim over several pairs: the most severe of its measured pairs
    (``quiet`` in place of 'not separated'), shown with its least favourable pair; a pair without
    2 ok runs on each side is named in the note, and the verdict says it covers the rest only."""
    measured = [t for t in tests if t.verdict != NOT_MEASURED] or tests
    word = next(w for w in SEVERITY if any(t.verdict == w for t in measured))
    shown = min(
        (t for t in measured if t.verdict == word),
        key=lambda t: t.effect if math.isfinite(t.effect) else math.inf,
    )
    unmeasured = [t.comparison.split(" ", 1)[1] for t in tests if t.verdict == NOT_MEASURED]
    counts = [f"{sum(t.verdict == HOLDS for t in tests)} of {len(tests)} pairs hold"]
    counts += [f"fewer than 2 ok runs: {', '.join(unmeasured)}"] if unmeasured else []
    verdict = quiet if word == NOT_SEPARATED else word
    if unmeasured and word != NOT_MEASURED:
        verdict += f", for {len(measured)} of {len(tests)} pairs"
    return Verdict(**asdict(shown) | {"verdict": verdict, "note": "; ".join(counts + notes)})


def _absent(r: Report, claim: Claim) -> list[Verdict]:
    return [Verdict("", DASH, ABSENT, note="; ".join(_unmapped(r, claim)))]


def _better(r: Report, d: str, c: Better) -> list[Verdict]:
    if c.pairing == "matched":
        sides = [([g], [b]) for g, b in zip(c.better, c.worse, strict=True)]
    else:
        sides = [(c.better, c.worse)]
    pairs = [
        (g, b)
        for goods, bads in sides
        for g in _stand_for(r, goods)
        for b in _stand_for(r, bads)
        if g != b
    ]
    if not pairs:
        return _absent(r, c)
    tests = [_pair(r, d, c.metric, g, b) for g, b in pairs]
    return [_combine(tests, _unmapped(r, c), NOT_SEPARATED)]


def _none_better(r: Report, d: str, c: NoneBetter) -> list[Verdict]:
    refs = _stand_for(r, [c.reference])
    others = [v for v in _stand_for(r, c.others) if v not in refs]
    if not refs or not others:
        return _absent(r, c)
    tests = [_pair(r, d, "fid", ref, o) for ref in refs for o in others]
    out = [_combine(tests, _unmapped(r, c), NOT_CONTRADICTED)]
    if d not in r.budgets:
        return out
    beats = r.budgets[d].beats
    beats = beats[
        (beats["phase"] == 1) & beats["opponent"].isin(refs) & beats["variant"].isin(others)
    ]
    top = beats.loc[beats["p_beat"].idxmax()]
    word = CONTRADICTED if top["p_beat"] >= c.consistently else "not contradicted"
    return out + [
        Verdict(
            "budget",
            f"P(best of {top['k']} trials of `{top['variant']}` beats `{top['opponent']}`'s)",
            word,
            float(top["p_beat"]),
            n=f"{top['k']} trials each",
            note=f"the highest of {len(beats)}, over the phase-1 trials; 'consistently' read as "
            f"P ≥ {c.consistently:g}",
            decimals=2,
        )
    ]


def _share(r: Report, d: str, c: Share) -> list[Verdict]:
    higher, lower = _stand_for(r, c.higher), _stand_for(r, c.lower)
    if not higher or not lower:
        return _absent(r, c)
    counts = []
    for group in (higher, lower):
        flags = [MEASURES[c.measure](rec) for v in group for rec in r.ok_records(d, v)]
        judged = [f for f in flags if f is not None]
        counts += [sum(judged), len(judged)]
    x1, n1, x2, n2 = counts
    delta = newcombe_delta(x1, n1, x2, n2)
    pooled = (x1 + x2) / (n1 + n2) if n1 + n2 else math.nan
    names = [", ".join(f"`{v}`" for v in g) for g in (higher, lower)]
    return [
        Verdict(
            "re-runs",
            f"share {c.measure.replace('_', ' ')}: {names[0]} − {names[1]}",
            _word(delta),
            delta.diff,
            delta.low,
            delta.high,
            share_mde(n1, n2, pooled),
            f"{x1}/{n1}, {x2}/{n2}",
            "; ".join(_unmapped(r, c)),
            decimals=2,
        )
    ]


def _untestable(r: Report, d: str, c: Untestable) -> list[Verdict]:
    return [Verdict("", DASH, UNTESTABLE, note=c.argument)]


JUDGES = {
    "better": _better,
    "none_better": _none_better,
    "share": _share,
    "untestable": _untestable,
}


def judge(r: Report, d: str, claim: Claim) -> list[Verdict]:
    """Our verdicts on ``claim`` from the runs of dataset ``d``."""
    return JUDGES[claim.kind](r, d, claim)


def _effect(v: Verdict) -> str:
    if not math.isfinite(v.effect):
        return DASH
    if v.basis == "budget":
        return f"{v.effect:.{v.decimals}f}"
    ci = f" [{v.low:+.{v.decimals}f}, {v.high:+.{v.decimals}f}]" if math.isfinite(v.low) else ""
    return f"{v.effect:+.{v.decimals}f}{ci}"


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


INTRO = (
    "Each claim of {paper} that sits beside its table as data, checked on our runs: a claim names "
    "the paper's rows and the variants that stand for them (their `paper_rows`) are compared. "
    "Every comparison is oriented so that a positive effect is the claim's direction: the "
    "difference of mean best FID (IS) over the ok re-runs with a 95% Welch interval, or for a "
    "share the difference of two proportions with Newcombe's hybrid score interval (Newcombe "
    "1998, method 10). *holds*: the interval lies above 0; *contradicted*: below 0; *not "
    "separated*: it contains 0, and an effect smaller than the MDE would go unseen; *not "
    "measured*: fewer than 2 ok runs on a side. MDE, the minimum detectable effect of a two-sided "
    "test at α = {alpha:g} with power {power:g} from the measured spread: (t(1−α/2, df) + "
    "t(power, df)) · sqrt(s_a²/n_a + s_b²/n_b) with Welch's df; for shares (z(1−α/2) + "
    "z(power)) · sqrt(p̄(1−p̄)(1/n_1 + 1/n_2)) at the pooled share p̄. A claim over several pairs "
    "takes the most severe verdict of its pairs and shows its least favourable one. n: ok runs "
    "on each side, in the comparison's order. Our runs are small: a claim the paper makes at "
    "its scale may simply not be visible here."
)


def findings_md(r: Report, out: Output) -> list[str]:
    """The findings section; ``<study>/findings.csv`` (header only without claims)."""
    t = r.published
    claims = t.claims if t is not None else ()
    lines, rows = ["## Findings: the papers' claims at our scale", ""], []
    if t is None:
        lines += ["This study names no published table (`report.published`): no claims.", ""]
    elif not claims:
        lines += [f"{t.paper} {t.title} lists no claims.", ""]
    else:
        lines += [INTRO.format(paper=f"{t.paper} ({t.title})", alpha=ALPHA, power=POWER), ""]
    for d in r.study.datasets:
        table, summary = [], {}
        for c in claims:
            for i, v in enumerate(judge(r, d, c)):
                mde_cell = f"{v.mde:.{v.decimals}f}" if math.isfinite(v.mde) else DASH
                table.append(
                    [f"{c.text} — {t.paper}, {c.source}" if i == 0 else "", v.basis or DASH]
                    + [v.comparison, _effect(v), v.n or DASH, mde_cell, v.verdict, v.note or DASH]
                )
                rows.append({"dataset": d, "claim": c.id} | asdict(v))
                numbers = {k: _finite(getattr(v, k)) for k in ("effect", "low", "high", "mde")}
                summary.setdefault(c.id, {})[v.basis or "claim"] = {"verdict": v.verdict} | numbers
        if table:
            header = ["claim", "basis", "comparison (> 0: as claimed)", "effect [95% CI]", "n"]
            header += [f"MDE (power {POWER:g})", "verdict", "note"]
            lines += [f"### Findings: `{d}` ({r.label(d)} features)", "", *md_table(header, table)]
        out.summary.setdefault(d, {})["findings"] = summary
    out.texts[f"{r.name}/findings.csv"] = pd.DataFrame(rows, columns=CSV_COLUMNS).to_csv(
        index=False, lineterminator="\n"
    )
    if claims:
        lines += [f"Data: [{r.name}/findings.csv]({r.name}/findings.csv).", ""]
    return lines
