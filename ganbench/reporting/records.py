"""Run records (one schema for every study, written by the evaluate stage): read, validate, tabulate.

A record is ``<records_dir>/<study>-<dataset>-<variant>-<seed>.json``. A malformed record raises
:class:`UserError` naming the file and the key, so a report is never built from a half-understood
input. Runs of one dataset must share one measurement protocol (feature weights, sample counts):
numbers measured differently are not averaged. Training length and batch are variant settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.config import Study
from ganbench.errors import UserError
from ganbench.io import read_json, sha256_file
from ganbench.record import (
    PROTOCOL_FREE,
    SCORE_KEYS,
    UNTRUNCATED,
    BaselinesRecord,
    ClassifierRecord,
    RunProtocol,
    RunRecord,
    parse,
)

STATUSES = ("ok", "diverged", "failed")
PRDC_KEYS = SCORE_KEYS[5:]  # precision, recall, density, coverage (k = protocol["prdc_k"])
METRIC_KEYS = SCORE_KEYS
GENERATORS = {"raw": "G itself (no EMA)", "ema": "EMA of G's weights"}
RUN_COLUMNS = ("run", "dataset", "variant", "seed", "status", "diverged_at_step", "reason")
RUN_COLUMNS += ("best_step", *METRIC_KEYS, "fid_raw")
IDENT = ("run", "dataset", "variant", "seed", "status")


def run_name(study: str, dataset: str, variant: str, seed: int) -> str:
    return f"{study}-{dataset}-{variant}-{seed}"


def evaluate_stage(run: str) -> str:
    """The dvc.yaml stage that writes a run's record."""
    return f"evaluate_{run.split('-', 1)[0]}@{run}"


def read_record(path: Path, expected: dict) -> dict:
    """Read and validate one run record (:class:`ganbench.record.RunRecord`); ``expected`` pins
    run/study/dataset/variant/seed. Returns it as a mapping: each generator's scores without
    their status (None when its samples were not finite), the sweep's finite points sorted."""
    data = read_json(path)
    for key, value in expected.items():
        if data.get(key) != value:
            raise UserError(f"{path}: key '{key}' is {data.get(key)!r}; expected {value!r}")
    rec = parse(RunRecord, data, path)
    out = rec.model_dump(mode="json")
    out["checkpoints"] = [
        {"step": c.step, "raw": c.raw.values(), "ema": c.ema and c.ema.values()}
        for c in rec.checkpoints
    ]
    points = [{"psi": p.psi, **p.values()} for p in rec.truncation if p.status == "ok"]
    out["truncation"] = sorted(points, key=lambda p: -math.inf if p["psi"] is None else -p["psi"])
    return out | {"path": path}


def psi_order(key: str) -> float:
    """Sort key of grid keys and psi: untruncated first, then from mild (large psi) to strong."""
    return -math.inf if key == UNTRUNCATED else -float(key)


@dataclass(frozen=True)
class Records:
    """Validated records of one study.

    ``runs``: one row per run (RUN_COLUMNS; scores of the best checkpoint of the headline
    generator, NaN when none; ``fid_raw``: the raw G's own best FID). ``checkpoints``: one row per
    scored checkpoint and generator (``headline``: the record's generator). ``truncation``: one row
    per finite point of a sweep. ``by_run``: run -> the validated record (with its ``path``).
    """

    runs: pd.DataFrame
    checkpoints: pd.DataFrame
    truncation: pd.DataFrame
    by_run: dict[str, dict]


def load_records(name: str, study: Study, records_dir: Path) -> Records:
    """Read every run of ``study`` (datasets x variants x seeds) and check they fit together."""
    records = []
    for dataset in study.datasets:
        for variant in study.variants:
            for seed in study.seeds:
                run = run_name(name, dataset, variant, seed)
                path = Path(records_dir) / f"{run}.json"
                if not path.is_file():
                    raise UserError(
                        f"run record not found: {path} (run '{run}' of params studies.{name}); "
                        f"evaluate it first: dvc repro {evaluate_stage(run)}"
                    )
                expected = {"run": run, "study": name, "dataset": dataset}
                records.append(read_record(path, expected | {"variant": variant, "seed": seed}))
    _check_agreement(records)
    return _tabulate(records)


def _check_agreement(records: list[dict]) -> None:
    """Runs of a dataset share the measurement; seeds of a variant share recipe and G/D sizes."""
    first: dict[Any, dict] = {}
    for rec in records:
        ref = first.setdefault(rec["dataset"], rec)
        for key in RunProtocol.model_fields:
            if key not in PROTOCOL_FREE and rec["protocol"][key] != ref["protocol"][key]:
                raise UserError(
                    f"{rec['path']}: key 'protocol.{key}' is {rec['protocol'][key]!r} but "
                    f"{ref['path']} has {ref['protocol'][key]!r}; the runs of a dataset must be "
                    "measured the same way"
                )
        ref = first.setdefault((rec["dataset"], rec["variant"]), rec)
        for key in ("recipe", "params", "generator"):
            if rec[key] != ref[key]:
                raise UserError(
                    f"{rec['path']} and {ref['path']} record different settings (key '{key}') "
                    "for one variant; re-run the evaluation"
                )


def _tabulate(records: list[dict]) -> Records:
    runs, checkpoints, truncation = [], [], []
    for rec in records:
        ident = {k: rec[k] for k in IDENT}
        best = rec["best"] or {"step": None, **dict.fromkeys(METRIC_KEYS, math.nan)}
        raw = [c["raw"]["fid"] for c in rec["checkpoints"] if c["raw"] is not None]
        runs.append(
            {**ident, "diverged_at_step": rec["diverged_at_step"], "reason": rec["reason"]}
            | {"best_step": best["step"], **{k: best[k] for k in METRIC_KEYS}}
            | {"fid_raw": min(raw) if raw else math.nan}
        )
        for c in rec["checkpoints"]:
            for generator in ("raw", "ema"):
                if c[generator] is not None:
                    headline = generator == rec["generator"]
                    checkpoints.append(
                        {**ident, "step": c["step"], "generator": generator, "headline": headline}
                        | c[generator]
                    )
        truncation += [{**ident, **p} for p in rec["truncation"]]
    return Records(
        # nullable ints: a step is an int or <NA>, never 650.0
        runs=pd.DataFrame(runs, columns=list(RUN_COLUMNS)).astype(
            {"diverged_at_step": "Int64", "best_step": "Int64"}
        ),
        checkpoints=pd.DataFrame(
            checkpoints, columns=[*IDENT, "step", "generator", "headline", *METRIC_KEYS]
        ),
        truncation=pd.DataFrame(truncation, columns=[*IDENT, "psi", *METRIC_KEYS]),
        by_run={rec["run"]: rec for rec in records},
    )


def evaluation_file(rec: dict, key: str, evaluations_dir: Path) -> Path:
    """The file a record names under ``key`` (``grids.<psi>``, ``attention_figure``): a path from
    the repo root (``evaluations/<study>/<run>/...``), found under ``evaluations_dir/<run>/``."""
    value = rec["grids"][key.split(".", 1)[1]] if key.startswith("grids.") else rec[key]
    parts = Path(value).parts
    i = len(parts) - 1 - parts[::-1].index(rec["run"])
    path = Path(evaluations_dir).joinpath(rec["run"], *parts[i + 1 :])
    if not path.is_file():
        raise UserError(
            f"file not found: {path} (key '{key}' of {rec['path']}); "
            f"re-run: dvc repro {evaluate_stage(rec['run'])}"
        )
    if sha256_file(path) != rec["image_sha256"][value]:
        raise UserError(
            f"{path} is not the image {rec['path']} names under '{key}' (SHA-256 differs); "
            f"re-run: dvc repro {evaluate_stage(rec['run'])}"
        )
    return path


BASELINE_ROWS = ("real_train", "untrained_generator")
# Protocol keys a baselines file must share with the runs for its rows to be a floor/ceiling.
BASELINE_SHARED_KEYS = ("extractor_label", "weights_sha256", "reference_split", "prdc_k")


def read_baselines(path: Path, dataset: str, protocol: dict) -> dict[str, dict[str, float]]:
    """``baselines-<dataset>.json``: row name -> metrics. Its features, reference split and k must
    be the runs' (``protocol``), or its rows would not be the floor and ceiling of their numbers."""
    data = parse(BaselinesRecord, read_json(path), path)
    if data.dataset != dataset:
        raise UserError(f"{path}: key 'dataset' is {data.dataset!r}; expected {dataset!r}")
    for key in BASELINE_SHARED_KEYS:
        if getattr(data.protocol, key) != protocol[key]:
            raise UserError(
                f"{path}: key 'protocol.{key}' is {getattr(data.protocol, key)!r} but the runs "
                f"have {protocol[key]!r}"
            )
    return {n: data.rows[n].model_dump() for n in BASELINE_ROWS}


def read_classifier(path: Path, dataset: str, weights_sha256: str) -> dict:
    """``<classifier_dir>/<dataset>.json``; its weights must be the runs' feature extractor."""
    data = parse(ClassifierRecord, read_json(path), path)
    if data.dataset != dataset:
        raise UserError(f"{path}: key 'dataset' is {data.dataset!r}; expected {dataset!r}")
    if data.weights_sha256 != weights_sha256:
        raise UserError(
            f"{path}: key 'weights_sha256' is {data.weights_sha256!r} but the runs were evaluated "
            f"with {weights_sha256!r}; re-run the evaluation with the current classifier"
        )
    return {"test_accuracy": data.test_accuracy, "epochs": data.epochs}
