"""Table cells and Markdown tables shared by the page and the LaTeX file; no I/O.

Rounding: FID 1 decimal, KID ×10³ 2 decimals, IS 2 decimals, precision/recall/density/coverage 3
decimals. Every table of our numbers names the feature extractor that made them; published numbers
have tables of their own (:func:`published_table`) and never share a column with ours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from ganbench.published import PublishedTable
from ganbench.reporting.context import Report
from ganbench.reporting.records import PRDC_KEYS

DASH = "—"
UNVERIFIED = "unverified (not checked against the paper)"
MEASUREMENT_NAMES = {
    "extractor": "features",
    "weights_sha256": "Inception weights sha256",
    "n_fake": "generated images",
    "n_real": "real images",
    "reference_split": "reference split",
}


def fmt(value: float, decimals: int, scale: float = 1.0) -> str:
    return DASH if value is None or not math.isfinite(value) else f"{value * scale:.{decimals}f}"


def pm(mean: float, std: float, decimals: int, scale: float = 1.0) -> str:
    """``mean ± std``; ``n/a`` for the std of a single value, ``—`` when there is no mean."""
    if not math.isfinite(mean):
        return DASH
    spread = "n/a" if not math.isfinite(std) else fmt(std, decimals, scale)
    return f"{fmt(mean, decimals, scale)} ± {spread}"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows] + [""]


def value(v: object) -> str:
    """A recipe value as the page prints it: yes/no, 0.0001, [8, 16]."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    return str(v)


def delta_cell(row: pd.Series, prefix: str, decimals: int) -> str:
    if row[f"verdict_{prefix}"] == "baseline":
        return "baseline"
    diff, low, high = (row[f"delta_{prefix}{s}"] for s in ("", "_low", "_high"))
    if not math.isfinite(diff):
        return DASH
    ci = "n/a" if not math.isfinite(low) else f"[{low:+.{decimals}f}, {high:+.{decimals}f}]"
    return f"{diff:+.{decimals}f} {ci}"


def seeds_cell(row: pd.Series) -> str:
    extra = [f"{row[f'n_{s}']} {s}" for s in ("diverged", "failed") if row[f"n_{s}"]]
    return f"{row['n_ok']} / {row['n_seeds']}" + (f" ({', '.join(extra)})" if extra else "")


def count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else str(n)


def variant_table(r: Report, dataset: str) -> tuple[list[str], list[list[str]]]:
    """Our per-variant table of one dataset: seeds, generator, size, FID/IS/KID over the ok seeds
    and the differences from the baseline (see :func:`ganbench.reporting.stats.summarise_variants`).
    The raw G's own FID gets a column when some variant scores the EMA of G."""
    first = {v: r.settings(dataset, v) for v in r.study.variants}
    any_ema = any(rec["generator"] == "ema" for rec in first.values())
    header = ["variant", "label"] + (["maps to (published row)"] if r.published else [])
    header += ["seeds ok / total", "G scored", "params G+D"]
    header += [f"FID ({r.label(dataset)}), mean ± std", "best run FID"]
    header += ["FID of raw G (its best ckpt)"] if any_ema else []
    header += ["IS mean ± std", "KID ×10³ mean ± std", "ΔFID vs baseline [95% CI]"]
    header += ["verdict (FID)", "ΔIS vs baseline [95% CI]", "verdict (IS)"]
    rows = []
    for _, row in r.summaries[dataset].iterrows():
        v, rec = row["variant"], first[row["variant"]]
        cells = [f"`{v}`", r.variant_label(v)]
        cells += [r.paper_row_names(v)] if r.published else []
        cells += [seeds_cell(row), rec["generator"].replace("ema", "EMA")]
        cells += [count(rec["params"]["G"] + rec["params"]["D"])]
        cells += [pm(row["fid_mean"], row["fid_std"], 1)]
        cells += [
            DASH if row["n_ok"] == 0 else f"{row['fid_best_run']:.1f} (seed {row['best_seed']})"
        ]
        cells += [pm(row["fid_raw_mean"], row["fid_raw_std"], 1)] if any_ema else []
        cells += [pm(row["is_mean"], row["is_std"], 2), pm(row["kid_mean"], row["kid_std"], 2, 1e3)]
        for prefix, decimals in (("fid", 1), ("is", 2)):
            word = row[f"verdict_{prefix}"]
            cells += [delta_cell(row, prefix, decimals), DASH if word == "baseline" else word]
        rows.append(cells)
    return header, rows


def prdc_header(k: int) -> list[str]:
    """Column names of precision, recall, density and coverage, with their k."""
    return [f"{name} (k={k})" for name in PRDC_KEYS]


def prdc_table(r: Report, dataset: str) -> tuple[list[str], list[list[str]]]:
    """Each variant's precision/recall/density/coverage, mean ± std over the ok seeds."""
    rows = [
        [f"`{row['variant']}`"] + [pm(row[f"{k}_mean"], row[f"{k}_std"], 3) for k in PRDC_KEYS]
        for _, row in r.summaries[dataset].iterrows()
    ]
    return ["variant", *prdc_header(r.protocols[dataset]["prdc_k"])], rows


def prdc_intro(label: str, k: int) -> str:
    return (
        f"Improved precision and recall (Kynkäänniemi et al. 2019) and density and coverage "
        f"(Naeem et al. 2020) of the same best checkpoints, on the same {label} features as "
        f"FID, with k = {k} nearest neighbours; mean ± std over the ok seeds. Precision, recall "
        "and coverage are fractions in [0, 1], higher is better; density is about 1 when "
        "generated samples are distributed like real ones and can exceed 1."
    )


def paper_cell(table: PublishedTable, row: dict[str, str], column) -> str:
    """One published value as the table's :class:`~ganbench.published.Column` says."""
    raw = row.get(column.key, "")
    if column.tick:
        return "✓" if raw.strip().lower() == "true" else ""
    if not raw:
        return DASH
    if column.decimals is None:
        return raw
    std = row.get(column.std or "", "")
    spread = f" ± {float(std):.{column.decimals}f}" if std else ""
    return f"{float(raw):.{column.decimals}f}{spread}"


def unverified(row: dict[str, str]) -> bool:
    return row.get("verified", "true").strip().lower() == "false"


def paper_note(row: dict[str, str], every_row_unverified: bool = False) -> str:
    notes = [UNVERIFIED] if unverified(row) and not every_row_unverified else []
    return "; ".join(notes + ([row["note"]] if row.get("note") else []))


def published_table(
    table: PublishedTable, datasets: Sequence[str], mapped: dict[str, list[str]] | None
) -> list[str]:
    """The paper's rows (of ``datasets`` when the table has a dataset column) under a heading of
    their own; ``mapped``: row key -> our variants that stand for it (their ``paper_rows``)."""
    rows = table.rows()
    if table.dataset_column:
        rows = [x for x in rows if x[table.dataset_column] in datasets]
    every = bool(rows) and all(unverified(x) for x in rows)  # then said once, above the table
    noted = any(paper_note(x, every) for x in rows)
    header = [c.header for c in table.columns] + (["note"] if noted else [])
    header += ["our variants mapped here"] if mapped is not None else []
    cells = []
    for x in rows:
        line = [paper_cell(table, x, c) for c in table.columns]
        line += [paper_note(x, every)] if noted else []
        if mapped is not None:
            line += [", ".join(f"`{v}`" for v in mapped.get(x[table.key_column], [])) or DASH]
        cells.append(line)
    table_lines = md_table(header, cells) if cells else [f"No rows for {', '.join(datasets)}.", ""]
    return [
        f"## Published: {table.paper}, {table.title}",
        "",
        f"Their numbers, not ours: {table.scale}. {table.notes}"
        + (f" Every row is {UNVERIFIED}." if every else "")
        + (" The last column names our variants that stand for each row." * (mapped is not None)),
        "",
        *table_lines,
    ]


def measurement_differences(protocol: dict, table: PublishedTable) -> list[str]:
    """How our FID measurement differs from the paper's (``table.measurement``); empty when it
    does not (then, and only then, may our FID and theirs share a table, in separate columns)."""
    out = []
    for key, theirs in table.measurement.items():
        ours = protocol["extractor_label" if key == "extractor" else key]
        if key == "weights_sha256":
            if protocol["extractor"] != table.measurement.get("extractor", protocol["extractor"]):
                continue  # other features: their weights are not comparable at all
            same = str(ours).startswith(str(theirs))
            ours = f"{str(ours)[:12]}…"
        else:
            same = protocol[key] == theirs
        if not same:
            shown = f"{ours:,}" if isinstance(ours, int) else f"`{ours}`"
            theirs = f"{theirs:,}" if isinstance(theirs, int) else theirs
            out.append(f"{MEASUREMENT_NAMES.get(key, key)} {shown} (paper: {theirs})")
    return out
