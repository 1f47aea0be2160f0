"""Metric records written by ``evaluate`` and its siblings: read, validate, tabulate.

A malformed record raises :class:`UserError` naming the file and the key, so a report is never
built from a half-understood input. Records of one dataset must share one measurement protocol
(feature weights, sample counts, training length): numbers measured differently are not averaged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.errors import UserError

STATUSES = ("ok", "diverged", "failed")
CHECKPOINT_STATUSES = ("ok", "nonfinite")
# Improved precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020),
# k-NN on the FID features with k = protocol["prdc_k"].
PRDC_KEYS = ("precision", "recall", "density", "coverage")
METRIC_KEYS = ("fid", "kid_mean", "kid_std", "is_mean", "is_std", *PRDC_KEYS)
HPARAM_KEYS = (
    "lr",
    "beta1",
    "beta2",
    "n_disc",
    "d_batchnorm",
    "clip",
    "penalty_weight",
    "began_lambda_k",
    "began_gamma",
)
# Protocol keys every record carries; those in COMPARABLE_KEYS must agree within a dataset.
PROTOCOL_KEYS = (
    "extractor",
    "extractor_label",
    "weights_sha256",
    "feature_dim",
    "n_real",
    "n_fake",
    "reference_split",
    "kid_subsets",
    "kid_subset_size",
    "is_splits",
    "prdc_k",
    "standing_stats_batches",
    "seed",
    "steps",
    "width",
    "batch_size",
    "device",
    "versions",
)
COMPARABLE_KEYS = tuple(k for k in PROTOCOL_KEYS if k not in ("device", "versions"))
# Types of the protocol values the report prints or compares (the others are only compared).
PROTOCOL_TYPES: dict[str, type | tuple[type, ...]] = {
    "extractor": str,
    "extractor_label": str,
    "weights_sha256": str,
    "feature_dim": int,
    "n_real": int,
    "n_fake": int,
    "reference_split": str,
    "kid_subsets": int,
    "kid_subset_size": int,
    "is_splits": int,
    "prdc_k": int,
    "standing_stats_batches": int,
    "seed": int,
    "steps": int,
    "width": (int, float),
    "batch_size": int,
}
BASELINE_ROWS = ("real_train", "untrained_generator")
# Protocol keys a baselines file must share with the runs for its rows to be a floor/ceiling.
BASELINE_SHARED_KEYS = ("extractor_label", "weights_sha256", "reference_split", "prdc_k")

RUN_COLUMNS = (
    "run",
    "dataset",
    "model",
    "seed",
    "status",
    "diverged_at_step",
    "reason",
    "best_step",
    *METRIC_KEYS,
    "n_checkpoints",
)
CHECKPOINT_COLUMNS = ("run", "dataset", "model", "seed", "status", "step", *METRIC_KEYS)


@dataclass(frozen=True)
class RunRecords:
    """Validated records of a set of runs.

    ``runs``: one row per run (RUN_COLUMNS; metrics are the best checkpoint's, NaN when none).
    ``checkpoints``: one row per scored checkpoint (CHECKPOINT_COLUMNS); checkpoints whose samples
    were not finite have no scores and no row.
    ``protocols`` / ``hparams``: run name -> the record's ``protocol`` / ``hparams`` mapping.
    """

    runs: pd.DataFrame
    checkpoints: pd.DataFrame
    protocols: dict[str, dict]
    hparams: dict[str, dict]


def read_json_record(path: Path) -> dict:
    """Read a JSON object; a missing or unparsable file is a UserError naming it."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"metrics file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _get(
    data: dict,
    key: str,
    kind: type | tuple[type, ...],
    path: Path,
    where: str = "",
    nullable: bool = False,
) -> Any:
    full = f"{where}{key}"
    if key not in data:
        raise UserError(f"{path}: missing key '{full}'")
    value = data[key]
    if value is None and nullable:
        return None
    number = kind in (float, (int, float))
    ok = (isinstance(value, (int, float)) if number else isinstance(value, kind)) and not (
        isinstance(value, bool) and kind is not bool
    )
    if not ok:
        expected = "a number" if number else getattr(kind, "__name__", str(kind))
        raise UserError(
            f"{path}: key '{full}' is {value!r}; expected {expected}"
            + (" or null" if nullable else "")
        )
    return float(value) if number else value


def _metrics(data: Any, path: Path, where: str) -> dict[str, float]:
    if not isinstance(data, dict):
        raise UserError(f"{path}: key '{where.rstrip('.')}' is {data!r}; expected an object")
    return {k: _get(data, k, float, path, where) for k in METRIC_KEYS}


def read_run_record(path: Path, expected: dict | None = None) -> dict:
    """Read and validate one ``metrics/<run>.json``; ``expected`` pins run/dataset/model/seed."""
    path = Path(path)
    data = read_json_record(path)
    rec = {
        "run": _get(data, "run", str, path),
        "dataset": _get(data, "dataset", str, path),
        "model": _get(data, "model", str, path),
        "seed": _get(data, "seed", int, path),
        "status": _get(data, "status", str, path),
    }
    for key, value in (expected or {}).items():
        if rec[key] != value:
            raise UserError(f"{path}: key '{key}' is {rec[key]!r}; expected {value!r}")
    if rec["status"] not in STATUSES:
        raise UserError(
            f"{path}: key 'status' is {rec['status']!r}; allowed: {', '.join(STATUSES)}"
        )
    rec["diverged_at_step"] = _get(
        data, "diverged_at_step", int, path, nullable=rec["status"] != "diverged"
    )
    rec["reason"] = _get(data, "reason", str, path, nullable=rec["status"] != "failed")
    hparams = _get(data, "hparams", dict, path)
    for key in HPARAM_KEYS:
        _get(hparams, key, bool if key == "d_batchnorm" else (int, float), path, "hparams.")
    rec["hparams"] = {k: hparams[k] for k in HPARAM_KEYS}
    protocol = _get(data, "protocol", dict, path)
    for key in PROTOCOL_KEYS:
        if key not in protocol:
            raise UserError(f"{path}: missing key 'protocol.{key}'")
        if key in PROTOCOL_TYPES:
            _get(protocol, key, PROTOCOL_TYPES[key], path, "protocol.")
    rec["protocol"] = protocol
    best = _get(data, "best", dict, path, nullable=True)
    if best is None and rec["status"] == "ok":
        raise UserError(
            f"{path}: key 'best' is null but status is 'ok'; an ok run needs a best checkpoint"
        )
    rec["best"] = None if best is None else _checkpoint(best, path, "best.")
    if best is not None and rec["best"] is None:
        raise UserError(
            f"{path}: key 'best.status' is 'nonfinite'; the best checkpoint needs scores"
        )
    if rec["status"] == "ok":
        for key in METRIC_KEYS:
            if not math.isfinite(rec["best"][key]):
                raise UserError(
                    f"{path}: key 'best.{key}' is {rec['best'][key]}; an ok run "
                    "needs finite metrics (a NaN generator is a diverged run)"
                )
    checkpoints = _get(data, "checkpoints", list, path)
    scored = [_checkpoint(c, path, f"checkpoints[{i}].") for i, c in enumerate(checkpoints)]
    rec["checkpoints"] = [c for c in scored if c is not None]
    return rec


def _checkpoint(data: Any, path: Path, where: str) -> dict | None:
    """A scored checkpoint {step, metrics}; None for one whose samples were not finite.

    ``status`` is optional: "ok" (the default) or "nonfinite" (G produced NaN/inf, no metrics).
    """
    if not isinstance(data, dict):
        raise UserError(f"{path}: key '{where.rstrip('.')}' is {data!r}; expected an object")
    status = data.get("status", "ok")
    if status not in CHECKPOINT_STATUSES:
        raise UserError(
            f"{path}: key '{where}status' is {status!r}; allowed: " + ", ".join(CHECKPOINT_STATUSES)
        )
    step = _get(data, "step", int, path, where)
    return None if status == "nonfinite" else {"step": step, **_metrics(data, path, where)}


def load_run_records(paths: Sequence[Path], expected: Sequence[dict] | None = None) -> RunRecords:
    """Read, validate and tabulate ``paths``; ``expected[i]`` pins record i's identity."""
    records = [
        read_run_record(p, e) for p, e in zip(paths, expected or [None] * len(paths), strict=True)
    ]
    _check_same_protocol(records, paths)
    runs, checkpoints = [], []
    for rec in records:
        ident = {k: rec[k] for k in ("run", "dataset", "model", "seed", "status")}
        best = rec["best"] or {"step": None, **dict.fromkeys(METRIC_KEYS, math.nan)}
        runs.append(
            {
                **ident,
                "diverged_at_step": rec["diverged_at_step"],
                "reason": rec["reason"],
                "best_step": best["step"],
                **{k: best[k] for k in METRIC_KEYS},
                "n_checkpoints": len(rec["checkpoints"]),
            }
        )
        checkpoints += [{**ident, **c} for c in rec["checkpoints"]]
    return RunRecords(
        # nullable ints: a step is an int or <NA>, never 650.0
        runs=pd.DataFrame(runs, columns=list(RUN_COLUMNS)).astype(
            {"diverged_at_step": "Int64", "best_step": "Int64"}
        ),
        checkpoints=pd.DataFrame(checkpoints, columns=list(CHECKPOINT_COLUMNS)),
        protocols={r["run"]: r["protocol"] for r in records},
        hparams={r["run"]: r["hparams"] for r in records},
    )


def _check_same_protocol(records: Iterable[dict], paths: Sequence[Path]) -> None:
    first: dict[str, tuple[dict, Path]] = {}
    for rec, path in zip(records, paths, strict=True):
        ref, ref_path = first.setdefault(rec["dataset"], (rec["protocol"], path))
        for key in COMPARABLE_KEYS:
            if rec["protocol"][key] != ref[key]:
                raise UserError(
                    f"{path}: key 'protocol.{key}' is {rec['protocol'][key]!r} but {ref_path} has "
                    f"{ref[key]!r}; runs of one dataset must be measured the same way"
                )


def read_baselines(path: Path, dataset: str, run_protocol: dict) -> dict[str, dict[str, float]]:
    """Validate ``metrics/lucic-<dataset>-baselines.json``: row name -> metrics.

    Its feature weights and reference split must match the runs' (``run_protocol``), or its rows
    would not be the floor and ceiling of the runs' numbers.
    """
    path = Path(path)
    data = read_json_record(path)
    if _get(data, "dataset", str, path) != dataset:
        raise UserError(f"{path}: key 'dataset' is {data['dataset']!r}; expected {dataset!r}")
    protocol = _get(data, "protocol", dict, path)
    for key in BASELINE_SHARED_KEYS:
        if protocol.get(key) != run_protocol[key]:
            raise UserError(
                f"{path}: key 'protocol.{key}' is {protocol.get(key)!r} but the runs "
                f"have {run_protocol[key]!r}"
            )
    rows = _get(data, "rows", dict, path)
    return {
        name: _metrics(_get(rows, name, dict, path, "rows."), path, f"rows.{name}.")
        for name in BASELINE_ROWS
    }


def read_classifier(path: Path, dataset: str, weights_sha256: str) -> dict:
    """Validate ``metrics/classifier-<dataset>.json``; its weights must be the runs' extractor."""
    path = Path(path)
    data = read_json_record(path)
    if _get(data, "dataset", str, path) != dataset:
        raise UserError(f"{path}: key 'dataset' is {data['dataset']!r}; expected {dataset!r}")
    accuracy = _get(data, "test_accuracy", float, path)
    if not 0.0 <= accuracy <= 1.0:
        raise UserError(
            f"{path}: key 'test_accuracy' is {accuracy!r}; expected a fraction in [0, 1]"
        )
    sha = _get(data, "weights_sha256", str, path)
    if sha != weights_sha256:
        raise UserError(
            f"{path}: key 'weights_sha256' is {sha!r} but the runs were evaluated with "
            f"{weights_sha256!r}; re-run the evaluation with the current classifier"
        )
    return {"test_accuracy": accuracy, "weights_sha256": sha, "epochs": data.get("epochs")}
