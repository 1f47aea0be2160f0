"""The one report generator: a study's run records -> ``<study>.md``, ``<study>.csv``,
``<study>.json`` (the summary, DVC metrics), ``<study>/fid_curves.csv``, figures and sample grids,
the search section (a study with search trials), the findings on the published table's claims,
plus whatever the study's ``report.sections`` add (:data:`ganbench.reporting.sections.SECTIONS`).

Every input is validated and every section built before the first file is written; every file is
written atomically and depends only on the inputs.
"""

from __future__ import annotations

import math
from pathlib import Path

from ganbench.config import Study
from ganbench.io import atomic_path, write_json, write_text
from ganbench.published import PUBLISHED
from ganbench.reporting import page
from ganbench.reporting.budget import analyse
from ganbench.reporting.context import Output, Report
from ganbench.reporting.findings import findings_md
from ganbench.reporting.records import load_records, read_classifier, read_selections
from ganbench.reporting.sections import SECTIONS
from ganbench.reporting.stats import summarise_variants
from ganbench.reporting.trials import search_md

SUMMARY_KEYS = ("n_seeds", "n_ok", "n_diverged", "n_failed", "fid_mean", "fid_std", "is_mean")
SUMMARY_KEYS += ("is_std", "kid_mean", "kid_std", "delta_fid", "delta_fid_low", "delta_fid_high")
SUMMARY_KEYS += ("verdict_fid", "delta_is", "delta_is_low", "delta_is_high", "verdict_is")


def build_report(
    name: str,
    study: Study,
    *,
    records_dir: Path,
    evaluations_dir: Path,
    classifier_dir: Path,
    selections_dir: Path | None = None,
) -> Report:
    """Read and validate the study's records (its classifier records, and with a search its
    trials and the select stage's choices) and summarise them."""
    key = f"studies.{name}.report"
    table = study.report.published
    records = load_records(name, study, Path(records_dir))
    runs = records.runs
    protocols = {
        d: records.by_run[runs.loc[runs["dataset"] == d, "run"].iloc[0]]["protocol"]
        for d in study.datasets
    }
    classifiers = {
        d: read_classifier(Path(classifier_dir) / f"{d}.json", d, p["weights_sha256"])
        if p["extractor"] == "classifier"
        else None
        for d, p in protocols.items()
    }
    return Report(
        name=name,
        study=study,
        records=records,
        summaries={
            d: summarise_variants(runs[runs["dataset"] == d], list(study.variants), study.baseline)
            for d in study.datasets
        },
        protocols=protocols,
        classifiers=classifiers,
        published=None if table is None else PUBLISHED.get(table, f"{key}.published"),
        records_dir=Path(records_dir),
        evaluations_dir=Path(evaluations_dir),
        selections=read_selections(name, study, selections_dir, records),
        budgets={
            d: analyse(records.trials[records.trials["dataset"] == d], list(study.variants))
            for d in study.datasets
            if study.search.trials
        },
    )


def _finite(value: object) -> object:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def summary_json(r: Report, out: Output) -> dict:
    """DVC metrics: per dataset and variant the headline numbers, plus the sections' entries."""
    datasets = {}
    for d in r.study.datasets:
        variants = {
            row["variant"]: {k: _finite(row[k]) for k in SUMMARY_KEYS}
            for _, row in r.summaries[d].iterrows()
        }
        datasets[d] = {"features": r.label(d), "variants": variants, **out.summary.get(d, {})}
    return {"baseline": r.study.baseline, "datasets": datasets}


def write_report(
    name: str,
    study: Study,
    *,
    records_dir: Path,
    evaluations_dir: Path,
    classifier_dir: Path,
    out_dir: Path,
    selections_dir: Path | None = None,
) -> list[Path]:
    """Build the report of study ``name`` (params ``studies.<name>``) under ``out_dir``.

    Reads ``records_dir/<name>-<dataset>-<variant>-<seed>.json`` for every run of the study,
    with a search ``records_dir/search/<name>-<dataset>-<variant>-t<trial>.json`` for every
    trial and ``selections_dir/<name>-<dataset>-<variant>.json``, the classifier records
    ``classifier_dir/<dataset>.json`` (classifier features), the images the shown records name
    under ``evaluations_dir/<run>/`` and what the sections read. Writes ``out_dir/<name>.md``,
    ``<name>.csv``, ``<name>.json``, ``<name>/fid_curves.csv``, ``<name>/findings.csv``,
    ``<name>/figures/`` (FID curves, FID per seed, sample grids), the search section's files and
    the sections' files. Returns the written paths.
    """
    sections = [SECTIONS.get(s, f"studies.{name}.report.sections") for s in study.report.sections]
    if not study.seeds:
        return _not_run(name, study, Path(out_dir))
    r = build_report(
        name,
        study,
        records_dir=records_dir,
        evaluations_dir=evaluations_dir,
        classifier_dir=classifier_dir,
        selections_dir=selections_dir,
    )
    out = Output()
    lines = page.header_md(r)
    for d in study.datasets:
        lines += page.results_md(r, d)
    lines += search_md(r, out)
    lines += page.published_md(r)
    for section in sections:
        lines += section(r, out)
    lines += findings_md(r, out)
    lines += page.figures_md(r, out)
    for d in study.datasets:
        lines += page.grids_md(r, d, out)
    lines += page.data_md(r, out)
    texts = {
        f"{name}.md": "\n".join(lines).rstrip("\n") + "\n",
        f"{name}.csv": page.summary_csv(r),
        f"{name}/fid_curves.csv": page.curves_csv(r),
        **out.texts,
    }
    summary = summary_json(r, out)

    out_dir, written = Path(out_dir), []
    for rel, text in texts.items():
        write_text(out_dir / rel, text)
        written.append(out_dir / rel)
    write_json(out_dir / f"{name}.json", summary)
    written.append(out_dir / f"{name}.json")
    for rel, draw in out.figures.items():
        written.append(draw(out_dir / rel))
    for rel, source in out.copies.items():
        with atomic_path(out_dir / rel) as tmp:
            tmp.write_bytes(source.read_bytes())
        written.append(out_dir / rel)
    return written


def _not_run(name: str, study: Study, out_dir: Path) -> list[Path]:
    """A study defined with ``seeds: []``: a page saying so, and empty tables."""
    title = study.report.title or name
    text = (
        f"# {title}\n\nThis study is defined in the params file but not run: `studies.{name}.seeds`"
        " is empty. Give it seeds (or use a preset in `configs/` that does) and run `dvc repro`.\n"
    )
    paths = {
        f"{name}.md": text,
        f"{name}.csv": "variant\n",
        f"{name}/fid_curves.csv": ",".join(page.CURVE_COLUMNS) + "\n",
    }
    for rel, content in paths.items():
        write_text(out_dir / rel, content)
    write_json(out_dir / f"{name}.json", {"baseline": study.baseline, "datasets": {}})
    return [out_dir / rel for rel in paths] + [out_dir / f"{name}.json"]
