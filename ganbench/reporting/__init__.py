"""Reports: run records -> tables (Markdown, CSV, LaTeX), figures, published numbers beside.

One generator for every study (:func:`write_report`, the ``report`` stage): generic sections
(what was run, our results per dataset, the hyperparameter search when the study has one, the
published table, the findings on its claims, figures, sample grids) and the study-specific
sections its params list by name (:data:`SECTIONS`). The only package code besides ``stages/``
that touches paths.
"""

from ganbench.reporting.sections import SECTIONS as SECTIONS
from ganbench.reporting.stats import welch_delta as welch_delta
from ganbench.reporting.writer import write_report as write_report
