"""Published tables as data: the CSVs beside this file (see README.md), registered by the name a
study's ``report.published`` gives. A variant's ``paper_rows`` must be row keys of its study's
table; the plan checks them when params load.

Everything the report says about a paper lives beside its numbers, in ``tables.yaml``: how the
paper measured and trained (``scale``, ``measurement``), how to print and name its rows, and the
few constants a report section compares with (``meta``), and the paper's claims the report gives
a verdict on (``claims``, :mod:`ganbench.published.claims`). The report never branches on a
study's or paper's name.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from ganbench.config.base import validate
from ganbench.errors import UserError
from ganbench.published.claims import Claim, Claims
from ganbench.registry import Registry

SOURCE = "ganbench/published/tables.yaml"


@dataclass(frozen=True)
class Column:
    """How the report prints one CSV column: as text (``decimals`` None), as a number with
    ``decimals`` (and `` ± <std column>`` where that is not empty), or as a tick (true/false)."""

    header: str
    key: str
    decimals: int | None = None
    std: str | None = None
    tick: bool = False


@dataclass(frozen=True)
class PublishedTable:
    file: str  # CSV beside this module
    key_column: str  # the column whose values a variant's paper_rows name
    paper: str  # citation shown in the report's heading
    title: str = ""  # which table of the paper: "Table 2", "Table 1, Figure 3"
    scale: str = ""  # how the paper trained and measured: printed wherever its numbers are
    notes: str = ""  # printed under the table's heading
    columns: tuple[Column, ...] = ()  # what the report prints ('verified'/'note' add notes)
    row_label: str = "{key}"  # how the report names a row: str.format over its columns and key
    fid: str | None = None  # the column holding the paper's FID (rank agreement), if any
    dataset_column: str | None = None  # rows hold numbers per dataset (keyed by our dataset names)
    # How the paper measured FID, as our records' protocol keys (weights_sha256: a prefix). Our
    # numbers share a table with theirs only when every key agrees.
    measurement: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)  # constants sections compare with
    claims: tuple[Claim, ...] = ()  # the paper's claims, naming its rows

    def rows(self) -> list[dict[str, str]]:
        source = resources.files(__package__) / self.file
        with resources.as_file(source) as path, open(path, newline="") as f:
            return list(csv.DictReader(f))

    @property
    def row_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r[self.key_column] for r in self.rows()))

    def row_name(self, row: dict[str, str]) -> str:
        return self.row_label.format(key=row[self.key_column], **row)


def _load() -> Registry[PublishedTable]:
    """The tables of ``tables.yaml`` (package data beside the CSVs)."""
    registry: Registry[PublishedTable] = Registry("report.published")
    text = (resources.files(__package__) / "tables.yaml").read_text(encoding="utf-8")
    for name, entry in yaml.safe_load(text).items():
        columns = tuple(Column(**c) for c in entry.pop("columns", ()))
        claims = _claims(name, entry.pop("claims", []))
        table = PublishedTable(**entry, columns=columns, claims=claims)
        for i, claim in enumerate(claims):
            for row in claim.rows():
                if row not in table.row_keys:
                    raise _error(f"{name}.claims[{i}]", row, f"a row of {table.file}")
        registry.add(name, table)
    return registry


def _error(key: str, value: Any, allowed: str) -> UserError:
    return UserError(f"{SOURCE}: key '{key}' is {value!r}; allowed: {allowed}")


def _claims(name: str, data: list) -> tuple[Claim, ...]:
    return validate(Claims, {"claims": data}, name, error=_error).claims


PUBLISHED = _load()
