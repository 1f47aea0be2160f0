"""The one run-record schema: what the evaluate stage writes (``metrics/<study>/<run>.json``) and
every report reads, declared once. The evaluation validates a record before writing it; the
report parses it with the same model, so a key or type is named in one place only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from ganbench.config import Block, FieldError, NamedBlock, Optimiser, Training, validate
from ganbench.errors import UserError

SCORE_KEYS = ("fid", "kid_mean", "kid_std", "is_mean", "is_std")
SCORE_KEYS += ("precision", "recall", "density", "coverage")  # k-NN on the FID features
UNTRUNCATED = "none"  # the grids' key of psi = null


class Metrics(Block):
    fid: float
    kid_mean: float
    kid_std: float
    is_mean: float
    is_std: float
    precision: float
    recall: float
    density: float
    coverage: float


class Scores(Block):
    """One generator's scores: ``{"status": "ok", <SCORE_KEYS>}``, or ``{"status": "nonfinite"}``
    when its samples were not finite (Lucic et al. count such a checkpoint as failed)."""

    status: Literal["ok", "nonfinite"] = "ok"
    fid: float | None = None
    kid_mean: float | None = None
    kid_std: float | None = None
    is_mean: float | None = None
    is_std: float | None = None
    precision: float | None = None
    recall: float | None = None
    density: float | None = None
    coverage: float | None = None

    @model_validator(mode="after")
    def _complete(self) -> Scores:
        for key in SCORE_KEYS if self.status == "ok" else ():
            if getattr(self, key) is None:
                raise FieldError(key, "<missing>", "a number (status is ok)")
        return self

    def values(self) -> dict[str, float] | None:
        """The scores, or None when the samples were not finite."""
        return None if self.status != "ok" else {k: getattr(self, k) for k in SCORE_KEYS}


class Best(Metrics):
    step: int


class TruncationPoint(Scores):
    psi: float | None = Field(gt=0)  # None: no truncation


class Checkpoint(Block):
    step: int
    raw: Scores  # G
    ema: Scores | None  # its EMA, when the run keeps one


class Protocol(Block):
    """How a number was measured (ganbench.metrics.evaluate.protocol)."""

    extractor: str
    extractor_label: str
    weights_sha256: str
    feature_dim: int
    n_real: int
    n_fake: int
    reference_split: str
    kid_subsets: int
    kid_subset_size: int
    is_splits: int
    prdc_k: int
    standing_stats_batches: int
    standing_stats_batch_size: int
    seed: int
    device: str
    versions: dict[str, str]


class RunProtocol(Protocol):
    steps: int
    steps_trained: int
    batch_size: int
    train_device: str


# Protocol keys that may differ between the runs of a dataset: where and how long they trained.
PROTOCOL_FREE = ("device", "versions", "steps", "steps_trained", "batch_size", "train_device")


class TrainingRecipe(Block):
    """The recipe blocks that decide the trained weights, every key present."""

    arch: NamedBlock
    objective: NamedBlock
    penalty: NamedBlock
    optimiser: Optimiser
    training: Training

    @model_validator(mode="before")
    @classmethod
    def _complete(cls, data: Any) -> Any:
        for block, model in (("optimiser", Optimiser), ("training", Training)):
            given = data.get(block) if isinstance(data, dict) else None
            for key in model.model_fields if isinstance(given, dict) else ():
                if key not in given:
                    raise FieldError(f"{block}.{key}", "<missing>", "a value (recorded recipe)")
        return data


class ParamCounts(Block):
    G: int  # trainable parameters
    D: int


class SearchInfo(Block):
    """Where a run stands in its study's search (ganbench.search)."""

    space: Literal["none", "wide", "narrow"]
    role: Literal["trial", "seed"]  # a search trial, or a re-run of the chosen setting on a seed
    trial: int | None  # the trial this run is (or re-runs); None: no search, the recipe as set
    hparams: dict[str, float | int | bool]  # recipe path -> value of every searched dimension


class RunRecord(Block):
    run: str
    study: str
    dataset: str
    variant: str
    seed: int
    search: SearchInfo
    status: Literal["ok", "diverged", "failed"]
    diverged_at_step: int | None
    reason: str | None
    recipe: TrainingRecipe
    params: ParamCounts
    protocol: RunProtocol
    generator: Literal["raw", "ema"]  # which G gives the headline numbers
    checkpoints: list[Checkpoint]
    best: Best | None  # the headline G's best checkpoint (lowest FID)
    truncation: list[TruncationPoint]  # the best checkpoint's sweep, psi = None first
    grids: dict[str, str]  # "none" or a psi -> the sample grid's path
    attention_figure: str | None
    image_sha256: dict[str, str]  # every image named above -> its SHA-256

    @model_validator(mode="after")
    def _consistent(self) -> RunRecord:
        rules = (
            ("diverged_at_step", self.status != "diverged" or self.diverged_at_step is not None),
            ("reason", self.status != "failed" or self.reason is not None),
            ("best", self.status != "ok" or self.best is not None),
        )
        for key, ok in rules:
            if not ok:
                raise FieldError(key, getattr(self, key), f"a value (status is {self.status})")
        if self.best is not None and self.status == "ok":
            for key in SCORE_KEYS:
                if not math.isfinite(getattr(self.best, key)):
                    raise FieldError(f"best.{key}", getattr(self.best, key), "finite (status ok)")
        for i, c in enumerate(self.checkpoints):
            if self.generator == "ema" and c.ema is None:
                raise FieldError(f"checkpoints[{i}].ema", None, "scores (the headline is ema)")
        psis = [p.psi for p in self.truncation]
        if len(set(psis)) != len(psis):
            raise FieldError("truncation", psis, "one point per psi")
        for key, path in self.grids.items():
            if key != UNTRUNCATED and not _is_psi(key):
                raise FieldError(f"grids.{key}", path, "'none' or a psi such as '0.5'")
        named = {f"grids.{k}": v for k, v in self.grids.items()}
        named |= {"attention_figure": self.attention_figure} if self.attention_figure else {}
        for key, path in named.items():
            if self.run not in Path(path).parts:
                raise FieldError(key, path, f"a path under {self.run}/")
            if path not in self.image_sha256:
                raise FieldError("image_sha256", self.image_sha256, f"a hash of {path}")
        return self


class Selection(Block):
    """``selections/<study>/<study>-<dataset>-<variant>.json``: the select stage's choice of the
    setting the best-setting re-runs train (Lucic et al.'s phase 3). It holds only what the re-runs
    train on, so a trial added to the search that does not win changes nothing downstream; the
    trials themselves are in their records (``metrics/<study>/search/``)."""

    study: str
    dataset: str
    variant: str
    space: Literal["none", "wide", "narrow"]
    chosen: int | None  # None: no trial (no search, or none finished ok): the recipe as set
    hparams: dict[str, float | int | bool]  # the chosen trial's setting ({} when chosen is None)
    reason: str  # how the choice was made, in words


class BaselinesRecord(Block):
    """``metrics/<study>/baselines-<dataset>.json``: the sanity rows (ganbench.evaluation)."""

    dataset: str
    protocol: Protocol
    rows: dict[Literal["real_train", "untrained_generator"], Metrics]

    @model_validator(mode="after")
    def _both(self) -> BaselinesRecord:
        for row in ("real_train", "untrained_generator"):
            if row not in self.rows:
                raise FieldError(f"rows.{row}", "<missing>", "the row's scores")
        return self


class ClassifierRecord(Block):
    """``metrics/classifier/<dataset>.json``: the offline feature network (classifier stage)."""

    dataset: str
    test_accuracy: float = Field(ge=0, le=1)
    epochs: int
    width: int
    lr: float
    batch_size: int
    seed: int
    weights_sha256: str


def _is_psi(key: str) -> bool:
    try:
        return float(key) > 0
    except ValueError:
        return False


def in_file(path: Path) -> Callable[[str, Any, str], Exception]:
    """Errors of a record in ``path``: the file, the key, the value and what is allowed."""
    return lambda key, value, allowed: UserError(
        f"{path}: key '{key}' is {value!r}; allowed: {allowed}"
    )


def parse(model: type[Block], data: Any, path: Path):
    """``data`` read from ``path`` as ``model``; a problem names the file and the key."""
    return validate(model, data, "", error=in_file(path))
