"""A paper's claims as data, beside its table (the ``claims:`` list of a ``tables.yaml`` entry).

A claim names the paper's rows (values of the table's key column), never a study's variants: a
report finds the variants that stand for a row through their ``paper_rows``, so one claim is
checked by every study that maps variants to its table (ganbench.reporting.findings gives the
verdicts). ``text`` is the claim as the paper makes it, ``source`` where it makes it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ganbench.config.base import NAME_PATTERN, Block, FieldError, Seq

Rows = Seq[str]


class _Claim(Block):
    id: Annotated[str, Field(pattern=NAME_PATTERN)]
    text: str
    source: str

    def rows(self) -> tuple[str, ...]:
        """Every paper row the claim names."""
        return ()


class Better(_Claim):
    """The runs of rows ``better`` score better (lower FID, higher IS) than those of rows
    ``worse``: every pair of a better and a worse row (``pairing: all``), or the i-th row of one
    list against the i-th of the other (``matched``)."""

    kind: Literal["better"]
    metric: Literal["fid", "is"] = "fid"
    better: Rows = Field(min_length=1)
    worse: Rows = Field(min_length=1)
    pairing: Literal["all", "matched"] = "all"

    @model_validator(mode="after")
    def _matched(self) -> Better:
        if self.pairing == "matched" and len(self.better) != len(self.worse):
            raise FieldError("worse", list(self.worse), "as many rows as better (matched)")
        return self

    def rows(self) -> tuple[str, ...]:
        return (*self.better, *self.worse)


class NoneBetter(_Claim):
    """No row of ``others`` scores better than ``reference``: at the best setting, and, where
    the study searched, given a budget: a model "consistently" beats the reference when the best
    of its N trials beats the reference's best of N with chance ``consistently`` or more (our
    reading of the word, stated beside the claim)."""

    kind: Literal["none_better"]
    metric: Literal["fid", "is"] = "fid"
    reference: str
    others: Rows = Field(min_length=1)
    consistently: float = Field(gt=0.5, le=1)

    def rows(self) -> tuple[str, ...]:
        return (self.reference, *self.others)


class Share(_Claim):
    """Runs of rows ``higher`` have property ``measure`` more often than runs of rows ``lower``."""

    kind: Literal["share"]
    measure: Literal["amenable_to_truncation"]
    higher: Rows = Field(min_length=1)
    lower: Rows = Field(min_length=1)

    def rows(self) -> tuple[str, ...]:
        return (*self.higher, *self.lower)


class Untestable(_Claim):
    """A claim that runs at this scale cannot test; ``argument`` says why."""

    kind: Literal["untestable"]
    argument: str


Claim = Annotated[Better | NoneBetter | Share | Untestable, Field(discriminator="kind")]


class Claims(Block):
    claims: Seq[Claim] = ()

    @model_validator(mode="after")
    def _unique(self) -> Claims:
        ids = [c.id for c in self.claims]
        if len(set(ids)) != len(ids):
            raise FieldError("claims", ids, "distinct ids")
        return self
