"""Run records (one schema for every study, written by the evaluate stage): read, validate, tabulate.

A record is ``<records_dir>/<study>-<dataset>-<variant>-<seed>.json``. A malformed record raises
:class:`UserError` naming the file and the key, so a report is never built from a half-understood
input. Runs of one dataset must share one measurement protocol (feature weights, sample counts):
numbers measured differently are not averaged. Training length and batch are variant settings.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.config import Study
from ganbench.errors import UserError
from ganbench.io import sha256_file

STATUSES = ("ok", "diverged", "failed")
# Improved precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020),
# k-NN on the FID features with k = protocol["prdc_k"].
PRDC_KEYS = ("precision", "recall", "density", "coverage")
METRIC_KEYS = ("fid", "kid_mean", "kid_std", "is_mean", "is_std", *PRDC_KEYS)
GENERATORS = {"raw": "G itself (no EMA)", "ema": "EMA of G's weights"}
UNTRUNCATED = "none"  # the grids' (and truncation CSV's) key of psi = null
NUMBER = (int, float)
PROTOCOL_TYPES: dict[str, Any] = {
    **dict.fromkeys(("extractor", "extractor_label", "weights_sha256", "reference_split"), str),
    **dict.fromkeys(("feature_dim", "n_real", "n_fake", "kid_subsets", "kid_subset_size"), int),
    **dict.fromkeys(("is_splits", "prdc_k", "standing_stats_batches", "seed"), int),
    **dict.fromkeys(("standing_stats_batch_size", "steps", "steps_trained", "batch_size"), int),
    **dict.fromkeys(("device", "train_device"), str),
    "versions": dict,
}
# Protocol keys that may differ between the runs of a dataset: where and how long they trained.
PROTOCOL_FREE = ("device", "versions", "steps", "steps_trained", "batch_size", "train_device")
# Recipe keys the report reads (the rest are shown as recorded).
RECIPE_TYPES: dict[str, dict[str, Any]] = {
    "arch": {"name": str},
    "objective": {"name": str},
    "penalty": {"name": str},
    "optimiser": {"lr_g": NUMBER, "lr_d": NUMBER, "beta1": NUMBER, "beta2": NUMBER, "n_disc": int},
    "training": {"steps": int, "batch_size": int, "conditional": bool, "ortho_beta": NUMBER},
}
RUN_COLUMNS = ("run", "dataset", "variant", "seed", "status", "diverged_at_step", "reason")
RUN_COLUMNS += ("best_step", *METRIC_KEYS, "fid_raw")
IDENT = ("run", "dataset", "variant", "seed", "status")


def run_name(study: str, dataset: str, variant: str, seed: int) -> str:
    return f"{study}-{dataset}-{variant}-{seed}"


def evaluate_stage(run: str) -> str:
    """The dvc.yaml stage that writes a run's record."""
    return f"evaluate_{run.split('-', 1)[0]}@{run}"


def read_json(path: Path) -> dict:
    """A JSON object; a missing or unparsable file is a UserError naming it."""
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def get(data: dict, key: str, kind: Any, path: Path, where: str = "", nullable: bool = False):
    """``data[key]`` checked against ``kind`` (NUMBER: an int or float, returned as float)."""
    full = f"{where}{key}"
    if not isinstance(data, dict):
        raise UserError(f"{path}: key '{where.rstrip('.')}' is {data!r}; expected an object")
    if key not in data:
        raise UserError(f"{path}: missing key '{full}'")
    value = data[key]
    if value is None and nullable:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        expected = "a number" if kind is NUMBER else getattr(kind, "__name__", str(kind))
        raise UserError(
            f"{path}: key '{full}' is {value!r}; expected {expected}"
            + (" or null" if nullable else "")
        )
    return float(value) if kind is NUMBER else value


def metrics(data: Any, path: Path, where: str) -> dict[str, float]:
    return {k: get(data, k, NUMBER, path, where) for k in METRIC_KEYS}


def scores(data: Any, path: Path, where: str, nullable: bool = False) -> dict | None:
    """SCORES: ``{"status": "ok", **metrics}`` -> the metrics; ``{"status": "nonfinite"}`` ->
    None (the generator's samples were not finite)."""
    if data is None and nullable:
        return None
    if not isinstance(data, dict):
        raise UserError(f"{path}: key '{where}' is {data!r}; expected an object")
    status = data.get("status", "ok")
    if status not in ("ok", "nonfinite"):
        raise UserError(f"{path}: key '{where}.status' is {status!r}; allowed: ok, nonfinite")
    return None if status == "nonfinite" else metrics(data, path, f"{where}.")


def read_record(path: Path, expected: dict) -> dict:
    """Read and validate one run record; ``expected`` pins run/study/dataset/variant/seed."""
    data = read_json(path)
    rec: dict[str, Any] = {k: get(data, k, str, path) for k in ("run", "study", "dataset")}
    rec |= {"variant": get(data, "variant", str, path), "seed": get(data, "seed", int, path)}
    for key, value in expected.items():
        if rec[key] != value:
            raise UserError(f"{path}: key '{key}' is {rec[key]!r}; expected {value!r}")
    rec["status"] = status = get(data, "status", str, path)
    if status not in STATUSES:
        raise UserError(f"{path}: key 'status' is {status!r}; allowed: {', '.join(STATUSES)}")
    rec["diverged_at_step"] = get(
        data, "diverged_at_step", int, path, nullable=status != "diverged"
    )
    rec["reason"] = get(data, "reason", str, path, nullable=status != "failed")
    recipe = get(data, "recipe", dict, path)
    for block, types in RECIPE_TYPES.items():
        for key, kind in types.items():
            get(get(recipe, block, dict, path, "recipe."), key, kind, path, f"recipe.{block}.")
    rec["recipe"] = recipe
    rec["params"] = {k: get(get(data, "params", dict, path), k, int, path, "params.") for k in "GD"}
    protocol = get(data, "protocol", dict, path)
    for key, kind in PROTOCOL_TYPES.items():
        get(protocol, key, kind, path, "protocol.")
    rec["protocol"] = protocol
    rec["generator"] = get(data, "generator", str, path)
    if rec["generator"] not in GENERATORS:
        raise UserError(f"{path}: key 'generator' is {rec['generator']!r}; allowed: raw, ema")
    rec["checkpoints"] = []
    for i, c in enumerate(get(data, "checkpoints", list, path)):
        where = f"checkpoints[{i}]"
        step = get(c, "step", int, path, f"{where}.")
        raw = scores(c.get("raw"), path, f"{where}.raw")
        ema = scores(c.get("ema"), path, f"{where}.ema", nullable=rec["generator"] == "raw")
        rec["checkpoints"].append({"step": step, "raw": raw, "ema": ema})
    best = get(data, "best", dict, path, nullable=status != "ok")
    if best is not None:
        best = {"step": get(best, "step", int, path, "best."), **metrics(best, path, "best.")}
    rec["best"] = best
    if status == "ok" and not all(math.isfinite(rec["best"][k]) for k in METRIC_KEYS):
        raise UserError(f"{path}: key 'best' has non-finite scores but status is 'ok'")
    rec["truncation"] = _truncation(get(data, "truncation", list, path), path)
    rec["grids"] = get(data, "grids", dict, path)
    for key in rec["grids"]:
        _run_file(get(rec["grids"], key, str, path, "grids."), rec["run"], path, f"grids.{key}")
        if key != UNTRUNCATED and not _is_psi(key):
            raise UserError(f"{path}: key 'grids.{key}': expected 'none' or a psi such as '0.5'")
    figure = get(data, "attention_figure", str, path, nullable=True)
    rec["attention_figure"] = figure and _run_file(figure, rec["run"], path, "attention_figure")
    rec["image_sha256"] = get(data, "image_sha256", dict, path)
    for value in [*rec["grids"].values(), *([figure] if figure else [])]:
        get(rec["image_sha256"], value, str, path, "image_sha256.")
    return rec | {"path": path}


def _run_file(value: str, run: str, path: Path, key: str) -> str:
    """A file the evaluation wrote: ``evaluations/<study>/<run>/...`` (the prefix may differ)."""
    if run not in Path(value).parts:
        raise UserError(f"{path}: key '{key}' is {value!r}; expected a path under {run}/")
    return value


def _is_psi(key: str) -> bool:
    try:
        return float(key) > 0
    except ValueError:
        return False


def psi_order(key: str) -> float:
    """Sort key of grid keys and psi: untruncated first, then from mild (large psi) to strong."""
    return -math.inf if key == UNTRUNCATED else -float(key)


def _truncation(points: list, path: Path) -> list[dict]:
    """The sweep's finite points, untruncated first then by decreasing psi."""
    out = []
    for i, p in enumerate(points):
        where = f"truncation[{i}]"
        psi = get(p, "psi", NUMBER, path, f"{where}.", nullable=True)
        if psi is not None and psi <= 0:
            raise UserError(f"{path}: key '{where}.psi' is {psi}; expected a psi > 0 or null")
        s = scores(p, path, where)
        out += [] if s is None else [{"psi": psi, **s}]
    psis = [p["psi"] for p in out]
    if len(set(psis)) != len(psis):
        raise UserError(f"{path}: key 'truncation' repeats a psi: {psis}")
    return sorted(out, key=lambda p: -math.inf if p["psi"] is None else -p["psi"])


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
        for key in PROTOCOL_TYPES:
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
    data = read_json(path)
    if get(data, "dataset", str, path) != dataset:
        raise UserError(f"{path}: key 'dataset' is {data['dataset']!r}; expected {dataset!r}")
    theirs = get(data, "protocol", dict, path)
    for key in BASELINE_SHARED_KEYS:
        if theirs.get(key) != protocol[key]:
            raise UserError(
                f"{path}: key 'protocol.{key}' is {theirs.get(key)!r} but the runs "
                f"have {protocol[key]!r}"
            )
    rows = get(data, "rows", dict, path)
    return {
        n: metrics(get(rows, n, dict, path, "rows."), path, f"rows.{n}.") for n in BASELINE_ROWS
    }


def read_classifier(path: Path, dataset: str, weights_sha256: str) -> dict:
    """``<classifier_dir>/<dataset>.json``; its weights must be the runs' feature extractor."""
    data = read_json(path)
    if get(data, "dataset", str, path) != dataset:
        raise UserError(f"{path}: key 'dataset' is {data['dataset']!r}; expected {dataset!r}")
    accuracy = get(data, "test_accuracy", NUMBER, path)
    if not 0.0 <= accuracy <= 1.0:
        raise UserError(
            f"{path}: key 'test_accuracy' is {accuracy!r}; expected a fraction in [0, 1]"
        )
    sha = get(data, "weights_sha256", str, path)
    if sha != weights_sha256:
        raise UserError(
            f"{path}: key 'weights_sha256' is {sha!r} but the runs were evaluated with "
            f"{weights_sha256!r}; re-run the evaluation with the current classifier"
        )
    return {"test_accuracy": accuracy, "epochs": data.get("epochs")}
