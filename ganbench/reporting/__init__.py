"""Reports: run records -> tables (Markdown, CSV, LaTeX), figures, published numbers beside.

One generator for every study (:func:`write_report`, the ``report`` stage): generic sections
(what was run, our results per dataset, the published table, figures, sample grids) and the
study-specific sections its params list by name (:data:`SECTIONS`). The only package code besides
``stages/`` that touches paths.
"""

from ganbench.reporting.records import Records, load_records
from ganbench.reporting.sections import SECTIONS
from ganbench.reporting.stats import (
    amenable_share,
    amenable_to_truncation,
    spearman,
    summarise_variants,
    verdict,
    welch_delta,
)
from ganbench.reporting.writer import build_report, write_report

__all__ = [
    "SECTIONS",
    "Records",
    "amenable_share",
    "amenable_to_truncation",
    "build_report",
    "load_records",
    "spearman",
    "summarise_variants",
    "verdict",
    "welch_delta",
    "write_report",
]
