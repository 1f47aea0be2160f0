"""The registry of report sections, and what a section may ask of its study's published table."""

from __future__ import annotations

from collections.abc import Callable

from ganbench.errors import ConfigError
from ganbench.published import PublishedTable
from ganbench.registry import Registry
from ganbench.reporting.context import Output, Report

Section = Callable[[Report, Output], list[str]]
SECTIONS: Registry[Section] = Registry("report.sections")


def published(r: Report, section: str, needs: str | None = None) -> PublishedTable:
    """The study's published table; a ConfigError naming the section when there is none or when
    it lacks ``needs`` (a field such as ``fid``, or a key of its ``meta``)."""
    t = r.published
    if t is None or (needs and not (getattr(t, needs, None) or t.meta.get(needs))):
        raise ConfigError(
            f"studies.{r.name}.report.sections",
            section,
            f"sections whose published table has {needs or 'rows'} (this study's "
            f"report.published is {r.study.report.published!r})",
        )
    return t
