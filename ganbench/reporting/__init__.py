"""Reports: metric records -> tables (Markdown, CSV, LaTeX), figures, published numbers beside.

The only package code besides ``stages/`` that touches paths. Entry point of the ``report`` stage:
:func:`write_lucic_report`.
"""

from ganbench.reporting.ablation import (
    PAPER_ROWS,
    amenable_to_truncation,
    write_ablation_report,
)
from ganbench.reporting.lucic import (
    Spearman,
    spearman_vs_paper,
    summarise_models,
    write_lucic_report,
)
from ganbench.reporting.published import load_lucic_table2, model_name, paper_comparable
from ganbench.reporting.records import RunRecords, load_run_records

__all__ = [
    "PAPER_ROWS",
    "RunRecords",
    "Spearman",
    "amenable_to_truncation",
    "load_lucic_table2",
    "load_run_records",
    "model_name",
    "paper_comparable",
    "spearman_vs_paper",
    "summarise_models",
    "write_ablation_report",
    "write_lucic_report",
]
