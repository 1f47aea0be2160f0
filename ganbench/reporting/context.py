"""What every section reads (:class:`Report`, built once and validated before any file is written)
and what it hands back besides Markdown (:class:`Output`: files, figures, summary entries)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ganbench.config import Study, run_name
from ganbench.published import PublishedTable
from ganbench.reporting.budget import Budget
from ganbench.reporting.records import Records

FIGURES = "figures"  # PNGs go to <out>/<study>/figures/, one DVC output directory


@dataclass(frozen=True)
class Report:
    """A study's validated records and their per-dataset summaries."""

    name: str  # the study's key in params
    study: Study
    records: Records
    summaries: dict[str, pd.DataFrame]  # dataset -> stats.summarise_variants
    protocols: dict[str, dict]  # dataset -> its runs' protocol (the comparable keys are shared)
    classifiers: dict[str, dict | None]  # dataset -> classifier record (classifier features)
    published: PublishedTable | None
    records_dir: Path
    evaluations_dir: Path
    selections: dict[tuple[str, str], dict]  # (dataset, variant) -> the chosen trial (a search)
    budgets: dict[str, Budget]  # dataset -> budget analysis of its trials (a search)

    @property
    def fig_dir(self) -> str:
        """The figures' folder relative to the page (``<study>.md`` sits beside ``<study>/``)."""
        return f"{self.name}/{FIGURES}"

    def runs(self, dataset: str) -> pd.DataFrame:
        return self.records.runs[self.records.runs["dataset"] == dataset]

    def label(self, dataset: str) -> str:
        """The feature extractor of a dataset's numbers: every table of ours names it."""
        return self.protocols[dataset]["extractor_label"]

    def variant_label(self, variant: str) -> str:
        return self.study.variants[variant].label or variant

    def shown_seed(self, dataset: str, variant: str) -> int | None:
        """The seed whose images the report shows: the lowest that ended ok (None: no ok run)."""
        r = self.runs(dataset)
        ok = r[(r["variant"] == variant) & (r["status"] == "ok")]
        return int(ok["seed"].min()) if len(ok) else None

    def record(self, dataset: str, variant: str, seed: int) -> dict:
        return self.records.by_run[run_name(self.name, dataset, variant, seed)]

    def ok_records(self, dataset: str, variant: str) -> list[dict]:
        """The records of the variant's seeds that ended ok, in seed order."""
        recs = (self.record(dataset, variant, s) for s in self.study.seeds)
        return [rec for rec in recs if rec["status"] == "ok"]

    def trials(self, dataset: str) -> pd.DataFrame:
        """The dataset's search trials (``Records.trials``; empty without a search)."""
        return self.records.trials[self.records.trials["dataset"] == dataset]

    def settings(self, dataset: str, variant: str) -> dict:
        """A variant's record of its first seed: its recipe, generator and G/D sizes (the seeds of
        a variant agree on them, see records.load_records)."""
        return self.record(dataset, variant, self.study.seeds[0])

    def paper_rows(self, variant: str, dataset: str | None = None) -> list[dict[str, str]]:
        """The published rows a variant stands for (of ``dataset`` when the table has one)."""
        if self.published is None:
            return []
        keys, table = self.study.variants[variant].paper_rows, self.published
        rows = [r for r in table.rows() if r[table.key_column] in keys]
        if dataset is not None and table.dataset_column:
            rows = [r for r in rows if r[table.dataset_column] == dataset]
        return sorted(rows, key=lambda r: keys.index(r[table.key_column]))

    def paper_row_names(self, variant: str) -> str:
        names = dict.fromkeys(self.published.row_name(r) for r in self.paper_rows(variant))
        return "; ".join(names) or "—"


@dataclass
class Output:
    """Files a section adds: texts and figures by path relative to the output folder, copies of
    evaluation images, and entries of ``<study>.json`` per dataset."""

    texts: dict[str, str] = field(default_factory=dict)
    figures: dict[str, Callable[[Path], Path]] = field(default_factory=dict)
    copies: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, dict] = field(default_factory=dict)
