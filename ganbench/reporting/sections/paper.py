"""Sections that set our numbers against fixed references (the Lucic et al. 2018 report's):
sanity rows, rank agreement with the published FID, the LaTeX tables, a side table of published
reproductions."""

from __future__ import annotations

import math

from ganbench.published import PUBLISHED
from ganbench.reporting.context import Output, Report
from ganbench.reporting.latex import render_latex
from ganbench.reporting.records import PRDC_KEYS, read_baselines
from ganbench.reporting.sections.registry import SECTIONS, published
from ganbench.reporting.stats import spearman
from ganbench.reporting.tables import (
    DASH,
    fmt,
    md_table,
    measurement_differences,
    paper_cell,
    paper_note,
    pm,
    prdc_header,
    published_table,
    unverified,
)

SANITY_NAMES = {
    "real_train": "real train images vs {split} (floor)",
    "untrained_generator": "untrained generator (ceiling)",
}


@SECTIONS.register("sanity")
def sanity(r: Report, out: Output) -> list[str]:
    """The floor and ceiling of every score on the runs' features: real train images against
    the reference split, and an untrained generator (``baselines-<dataset>.json``)."""
    lines = []
    for d in r.study.datasets:
        p = r.protocols[d]
        rows = read_baselines(r.records_dir / f"baselines-{d}.json", d, p)
        cells = [
            [SANITY_NAMES[name].format(split=p["reference_split"]), fmt(v["fid"], 1)]
            + [pm(v["kid_mean"], v["kid_std"], 2, 1e3), pm(v["is_mean"], v["is_std"], 2)]
            + [fmt(v[key], 3) for key in PRDC_KEYS]
            for name, v in rows.items()
        ]
        header = ["Row", "FID", "KID ×10³ mean ± std", "IS mean ± std", *prdc_header(p["prdc_k"])]
        lines += [
            f"## Sanity rows (`{d}`, {r.label(d)} features, same reference split)",
            "",
            *md_table(header, cells),
            "Here ± is over KID subsets and IS splits of one evaluation, not over seeds.",
            "",
        ]
        out.summary.setdefault(d, {})["sanity"] = {n: {"fid": v["fid"]} for n, v in rows.items()}
    return lines


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@SECTIONS.register("rank_agreement")
def rank_agreement(r: Report, out: Output) -> list[str]:
    """Spearman's rho between our mean FID per variant and the published FID of the row it stands
    for (its first row with a number). Only when our FID is measured as the paper's does a table
    put the two side by side, in separate columns under separate headings."""
    t = published(r, "rank_agreement", "fid")
    lines = []
    for d in r.study.datasets:
        summary = r.summaries[d].set_index("variant")
        paper = {v: next((x for x in r.paper_rows(v, d) if x[t.fid]), None) for v in summary.index}
        theirs = {v: float(x[t.fid]) for v, x in paper.items() if x}
        ours = {v: row["fid_mean"] for v, row in summary.iterrows() if row["n_ok"] > 0}
        sp = spearman(ours, theirs)
        names = ", ".join(f"`{v}`" for v in sp.variants)
        if sp.n < 3:
            head = (
                f"Spearman ρ not computed: only n = {sp.n} variants ({names or 'none'}) have an ok "
                f"run and a published FID; it needs at least 3."
            )
        else:
            head = (
                f"Spearman ρ between our mean FID and {t.paper}'s over n = {sp.n} variants "
                f"({names}): ρ = {fmt(sp.rho, 3)}, p = {sp.p_value:.3g}."
            )
        doubtful = [f"`{v}`" for v in sp.variants if unverified(paper[v])]
        if doubtful:
            head += f" The published numbers of {', '.join(doubtful)} are unverified."
        diffs = measurement_differences(r.protocols[d], t)
        lines += [
            f"## Rank agreement with {t.paper} (`{d}`)",
            "",
            head,
            "",
            "ρ says only whether the variants come out in the same order as in the paper; it "
            "cannot show that the paper's FID values are reproduced ("
            + "; ".join([*diffs, "training length, network size and hyperparameter search differ"])
            + "), and with this few variants and seeds even ρ = 1 is weak evidence (the p-value "
            "tests against no association, not against the paper).",
            "",
        ]
        if t.measurement and not diffs and theirs:
            lines += _side_by_side(r, d, paper)
        out.summary.setdefault(d, {})["spearman"] = {
            "rho": _finite(sp.rho),
            "p_value": _finite(sp.p_value),
            "n": sp.n,
        }
    return lines


def _side_by_side(r: Report, d: str, paper: dict) -> list[str]:
    """Our FID beside the paper's: both measured the same way, only the training differs."""
    t, p, summary = r.published, r.protocols[d], r.summaries[d]
    fid = next(c for c in t.columns if c.key == t.fid)
    ours = (
        f"ours: FID ({p['extractor_label']} features, {p['n_fake']:,} vs {p['n_real']:,} "
        f"{p['reference_split']}, {len(r.study.seeds)} seeds), mean ± std"
    )
    rows = []
    for _, row in summary.iterrows():
        x = paper[row["variant"]]
        cells = [f"`{row['variant']}`", pm(row["fid_mean"], row["fid_std"], 1)]
        rows.append(cells + ([paper_cell(t, x, fid), paper_note(x)] if x else [DASH, "no row"]))
    return [
        f"### Side by side: our FID and {t.paper} {t.title} (same measurement; separate columns)",
        "",
        f"Both columns are FID measured as the paper did; only the training differs (theirs: "
        f"{t.scale}). A gap between the columns is therefore expected.",
        "",
        *md_table(["variant", ours, f"{t.paper} {t.title}: FID, mean ± std", "note"], rows),
    ]


@SECTIONS.register("latex")
def latex(r: Report, out: Output) -> list[str]:
    """``<study>/<study>.tex``: our per-variant and precision/recall/density/coverage tables (booktabs)."""
    out.texts[f"{r.name}/{r.name}.tex"] = render_latex(r)
    return []


@SECTIONS.register("cifar10_reproductions")
def cifar10_reproductions(r: Report, out: Output) -> list[str]:
    """Published CIFAR-10 32×32 numbers of other reproductions, as a side reference."""
    return published_table(PUBLISHED.get("cifar10_reproductions"), r.study.datasets, None)
