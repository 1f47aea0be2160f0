"""Run records (one schema for every study, written by the evaluate stage): read, validate, tabulate.

A record is ``<records_dir>/<study>-<dataset>-<variant>-<seed>.json`` (a re-run of the variant's
chosen setting) or ``<records_dir>/search/<study>-<dataset>-<variant>-t<trial>.json`` (a search
trial). A malformed record raises :class:`UserError` naming the file and the key, so a report is
never built from a half-understood input. Runs of one dataset, trials included, must share one
measurement protocol (feature weights, sample counts): numbers measured differently are not
compared. Training length and batch are variant settings; a trial's setting is its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.config import Study, run_name
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
    Selection,
    parse,
)
from ganbench.search import TRIAL_SEED, choose

STATUSES = ("ok", "diverged", "failed")
PRDC_KEYS = SCORE_KEYS[5:]  # precision, recall, density, coverage (k = protocol["prdc_k"])
METRIC_KEYS = SCORE_KEYS
GENERATORS = {"raw": "G itself (no EMA)", "ema": "EMA of G's weights"}
RUN_COLUMNS = ("run", "dataset", "variant", "seed", "status", "diverged_at_step", "reason")
RUN_COLUMNS += ("best_step", *METRIC_KEYS, "fid_raw")
IDENT = ("run", "dataset", "variant", "seed", "status")
TRIAL_COLUMNS = ("run", "dataset", "variant", "trial", "phase", "seed", "status", "space", "fid")
TRIAL_COLUMNS += ("hparams",)
SEARCH_DIR = "search"  # trial records: <records_dir>/search/


def evaluate_stage(run: str) -> str:
    """The dvc.yaml stage that writes a run's record (``search_evaluate_`` for a trial's)."""
    trial = run.rsplit("-", 1)[1].startswith("t")
    return f"{'search_' if trial else ''}evaluate_{run.split('-', 1)[0]}@{run}"


def _get(data: dict, key: str) -> Any:
    """``data["search"]["role"]`` for key ``search.role``; None where a level is missing."""
    for part in key.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def read_record(path: Path, expected: dict) -> dict:
    """Read and validate one run record (:class:`ganbench.record.RunRecord`); ``expected`` pins
    keys (``seed``, ``search.role``, ...). Returns it as a mapping: each generator's scores
    without their status (None when its samples were not finite), the sweep's finite points
    sorted."""
    data = read_json(path)
    for key, value in expected.items():
        if _get(data, key) != value:
            raise UserError(f"{path}: key '{key}' is {_get(data, key)!r}; expected {value!r}")
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

    ``runs``: one row per re-run (RUN_COLUMNS; scores of the best checkpoint of the headline
    generator, NaN when none; ``fid_raw``: the raw G's own best FID). ``checkpoints``: one row per
    scored checkpoint and generator (``headline``: the record's generator). ``truncation``: one row
    per finite point of a sweep. ``by_run``: run -> the validated record (with its ``path``).
    ``trials``: one row per search trial (TRIAL_COLUMNS; ``fid`` its best FID, NaN unless ok;
    ``phase`` 2 from ``search.narrow_from`` on), empty without a search.
    """

    runs: pd.DataFrame
    checkpoints: pd.DataFrame
    truncation: pd.DataFrame
    by_run: dict[str, dict]
    trials: pd.DataFrame


def _read_run(path: Path, name: str, dataset: str, variant: str, expected: dict) -> dict:
    run = expected["run"]
    if not path.is_file():
        raise UserError(
            f"run record not found: {path} (run '{run}' of params studies.{name}); "
            f"evaluate it first: dvc repro {evaluate_stage(run)}"
        )
    return read_record(path, {"study": name, "dataset": dataset, "variant": variant} | expected)


def load_records(name: str, study: Study, records_dir: Path) -> Records:
    """Read every re-run of ``study`` (datasets x variants x seeds) and every search trial
    (datasets x variants x ``search.trials``) and check they fit together."""
    records, trials, root = [], [], Path(records_dir)
    for dataset in study.datasets:
        for variant in study.variants:
            for seed in study.seeds:
                run = run_name(name, dataset, variant, seed)
                expected = {"run": run, "seed": seed, "search.role": "seed"}
                records.append(_read_run(root / f"{run}.json", name, dataset, variant, expected))
            for t in study.search.trials:
                run = run_name(name, dataset, variant, TRIAL_SEED + t, trial=t)
                expected = {"run": run, "seed": TRIAL_SEED + t}
                expected |= {"search.role": "trial", "search.trial": t}
                path = root / SEARCH_DIR / f"{run}.json"
                trials.append(_read_run(path, name, dataset, variant, expected))
    _check_protocols(records + trials)
    _check_settings(records)
    return _tabulate(records, _trial_table(study, trials))


def _trial_table(study: Study, trials: list[dict]) -> pd.DataFrame:
    rows = [
        {k: rec[k] for k in ("run", "dataset", "variant", "seed", "status")}
        | {"trial": rec["search"]["trial"], "space": rec["search"]["space"]}
        | {"phase": 1 if study.search.phase1(rec["search"]["trial"]) else 2}
        | {"fid": rec["best"]["fid"] if rec["status"] == "ok" else math.nan}
        | {"hparams": rec["search"]["hparams"]}
        for rec in trials
    ]
    return pd.DataFrame(rows, columns=list(TRIAL_COLUMNS))


def _check_protocols(records: list[dict]) -> None:
    """Runs of a dataset share the measurement."""
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


def _check_settings(records: list[dict]) -> None:
    """Seeds of a variant share recipe, G/D sizes and the setting they re-run."""
    first: dict[Any, dict] = {}
    for rec in records:
        ref = first.setdefault((rec["dataset"], rec["variant"]), rec)
        for key in ("recipe", "params", "generator", "search"):
            if rec[key] != ref[key]:
                raise UserError(
                    f"{rec['path']} and {ref['path']} record different settings (key '{key}') "
                    "for one variant; re-run the evaluation"
                )


def _tabulate(records: list[dict], trials: pd.DataFrame) -> Records:
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
        trials=trials,
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


def read_selections(
    name: str, study: Study, selections_dir: Path | None, records: Records
) -> dict[tuple[str, str], dict]:
    """(dataset, variant) -> the select stage's choice (``<selections_dir>/<study>-<dataset>-
    <variant>.json``, :class:`ganbench.record.Selection`); read only when the study searched.
    The choice must be the best phase-1 trial of the records (:func:`ganbench.search.choose`)
    and the re-runs must train it (their ``search.trial`` and ``search.hparams``)."""
    if not study.search.trials:
        return {}
    if selections_dir is None:
        raise UserError(
            f"params studies.{name}.search has trials: the report reads the select stage's "
            f"choices (--selections-dir selections/{name})"
        )
    out = {}
    for dataset in study.datasets:
        for variant in study.variants:
            base = f"{name}-{dataset}-{variant}"
            path, stage = Path(selections_dir) / f"{base}.json", f"select_{name}@{base}"
            if not path.is_file():
                raise UserError(f"selection not found: {path}; run it: dvc repro {stage}")
            sel = parse(Selection, read_json(path), path).model_dump(mode="json")
            t = records.trials
            t = t[(t["dataset"] == dataset) & (t["variant"] == variant) & (t["phase"] == 1)]
            best = choose(
                [(x.trial, x.status, None if x.status != "ok" else x.fid) for x in t.itertuples()]
            )
            expected = {"study": name, "dataset": dataset, "variant": variant, "chosen": best}
            for key, value in expected.items():
                if sel[key] != value:
                    raise UserError(
                        f"{path}: key '{key}' is {sel[key]!r}; the trial records give {value!r}; "
                        f"re-run: dvc repro {stage}"
                    )
            for seed in study.seeds:
                rec = records.by_run[run_name(name, dataset, variant, seed)]
                for key, value in (("trial", sel["chosen"]), ("hparams", sel["hparams"])):
                    if rec["search"][key] != value:
                        raise UserError(
                            f"{rec['path']}: key 'search.{key}' is {rec['search'][key]!r} but "
                            f"{path} chose {value!r}; re-run: dvc repro {evaluate_stage(rec['run'])}"
                        )
            out[(dataset, variant)] = sel
    return out
