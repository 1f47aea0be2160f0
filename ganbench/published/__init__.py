"""Published tables as data: the CSVs beside this file (see README.md), registered by the name a
study's ``report.published`` gives. A variant's ``paper_rows`` must be row keys of its study's
table; the plan checks them when params load.

Everything the report says about a paper lives here, beside its numbers: how the paper measured
and trained (``scale``, ``measurement``), how to print and name its rows, and the few constants a
report section compares with (``meta``). The report never branches on a study's or paper's name.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ganbench.registry import Registry


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
    columns: tuple[
        Column, ...
    ] = ()  # what the report prints (a 'verified'/'note' column adds notes)
    row_label: str = "{key}"  # how the report names a row: str.format over its columns and key
    fid: str | None = None  # the column holding the paper's FID (rank agreement), if any
    dataset_column: str | None = None  # rows hold numbers per dataset (keyed by our dataset names)
    # How the paper measured FID, as our records' protocol keys (weights_sha256: a prefix). Our
    # numbers share a table with theirs only when every key agrees.
    measurement: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(
        default_factory=dict
    )  # constants a report section compares with

    def rows(self) -> list[dict[str, str]]:
        source = resources.files(__package__) / self.file
        with resources.as_file(source) as path, open(path, newline="") as f:
            return list(csv.DictReader(f))

    @property
    def row_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r[self.key_column] for r in self.rows()))

    def row_name(self, row: dict[str, str]) -> str:
        return self.row_label.format(key=row[self.key_column], **row)


# Inception-v3 as Lucic et al., Zhang et al. and Brock et al. used it (TF graph of 2015-12-05).
INCEPTION = {"extractor": "inception", "weights_sha256": "6726825d"}
# ImageNet 128x128 numbers of SAGAN and BigGAN: FID and IS of 50k samples.
IMAGENET128 = "ImageNet 128×128, class-conditional, 1M iterations, FID/IS of 50k samples"

PUBLISHED: Registry[PublishedTable] = Registry("report.published")
PUBLISHED.add(
    "lucic2018_table2",
    PublishedTable(
        "lucic2018_table2.csv",
        "model",
        "Lucic et al. 2018",
        title="Table 2",
        scale=(
            "Inception FID, 10k generated vs 10k real test images; InfoGAN-style networks at full "
            "width, batch 64, 20 epochs = 15,625 steps (MNIST, Fashion-MNIST), 100 epochs = 78,125 "
            "(CIFAR-10), 40 epochs = 101,250 (CelebA); best of a 100-point hyperparameter search "
            "per model and dataset, retrained with 50 seeds"
        ),
        notes="Best FID per model: mean ± std over the seeds of its best setting.",
        columns=(
            Column("model", "model"),
            Column("dataset", "dataset"),
            Column("FID mean ± std", "fid_mean", 1, "fid_std"),
        ),
        row_label="Table 2 {key}",
        fid="fid_mean",
        dataset_column="dataset",
        measurement={**INCEPTION, "n_fake": 10_000, "n_real": 10_000, "reference_split": "test"},
    ),
)
PUBLISHED.add(
    "sagan2019",
    PublishedTable(
        "sagan2019_table1.csv",
        "row",
        "Zhang et al. 2019 (SAGAN)",
        title="Table 1, Figure 3",
        scale=IMAGENET128,
        notes="Figure 3 has curves, not numbers: its rows give the paper's finding.",
        columns=(
            Column("source", "source"),
            Column("setting", "setting"),
            Column("FID", "fid", 2),
            Column("IS", "is", 2),
            Column("finding", "finding"),
        ),
        row_label="{source} {setting}",
        fid="fid",
        measurement={**INCEPTION, "n_fake": 50_000},
        # rows that are training curves (stabilisation section): column -> value
        meta={"curves": {"source": "Figure 3"}},
    ),
)
PUBLISHED.add(
    "biggan2019",
    PublishedTable(
        "biggan2019_table1.csv",
        "row",
        "Brock et al. 2019 (BigGAN)",
        title="Table 1",
        scale=IMAGENET128,
        notes=(
            "Rows 5–9 are mean ± std over 8 seeds; itr is the iteration of collapse (1000: "
            "stable). Row 1 is the SAGAN baseline."
        ),
        columns=(
            Column("row", "row"),
            Column("batch", "batch"),
            Column("ch", "ch"),
            Column("params (M)", "params_m", 1),
            Column("shared", "shared", tick=True),
            Column("skip-z", "skip_z", tick=True),
            Column("ortho", "ortho", tick=True),
            Column("itr ×10³", "itr_k", 0, "itr_k_std"),
            Column("FID", "fid", 2, "fid_std"),
            Column("IS", "is", 2, "is_std"),
        ),
        row_label="Table 1 row {key}",
        fid="fid",
        measurement={**INCEPTION, "n_fake": 50_000},
        # Brock et al. 2019 sec. 4.1: share of their models amenable to truncation (percent)
        meta={"amenable_percent": {"without_ortho": 16, "with_ortho": 60}},
    ),
)
PUBLISHED.add(
    "cifar10_reproductions",
    PublishedTable(
        "cifar10_reproductions.csv",
        "model",
        "Mimicry, StudioGAN, mmgeneration",
        title="CIFAR-10 32×32 reproductions by other groups (side reference)",
        scale="protocols differ between rows and from ours (features, sample counts, training)",
        notes="Other groups' numbers: compare like with like.",
        columns=(
            Column("source", "source"),
            Column("protocol", "protocol"),
            Column("model", "model"),
            Column("FID", "fid", 2),
            Column("IS", "is", 2),
        ),
        fid="fid",
    ),
)
