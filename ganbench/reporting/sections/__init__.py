"""Study-specific sections, registered by the name a study lists in ``report.sections``.

A section is ``(report, output) -> Markdown lines``: it reads the :class:`Report` (and any input
of its own, validated before the writer writes the first file) and adds files, figures and
summary entries to the :class:`Output`. The page places sections after the published table, in
the order params lists them.
"""

from ganbench.reporting.sections import ablation, paper  # noqa: F401  (they register themselves)
from ganbench.reporting.sections.registry import SECTIONS, Section

__all__ = ["SECTIONS", "Section"]
