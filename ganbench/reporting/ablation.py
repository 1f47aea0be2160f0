"""The SAGAN (Zhang et al. 2019) and BigGAN (Brock et al. 2019) ablation reports.

``records -> summarise_variants -> Markdown, CSV, figures -> write_ablation_report``. A run's
headline numbers are its best checkpoint (lowest FID) of its headline generator: the EMA of G's
weights when the run keeps one, else G itself. Per variant we report mean ± std over the seeds whose
run ended ``ok`` (diverged and failed seeds are counted, never averaged) and the difference from the
baseline variant with a Welch t interval (:func:`welch_delta`). The papers' numbers (ImageNet
128×128, 1M iterations) are data files under ``published/`` printed in tables of their own, each
row naming which of our variants stand for it; no column headed by a paper holds our numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import matplotlib as mpl
import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from ganbench.config import (
    ABLATION_PAPER_ROWS,
    ABLATION_STUDIES,
    AblationStudy,
    require_choice,
    run_name,
)
from ganbench.errors import UserError
from ganbench.io import atomic_path, write_json, write_text
from ganbench.reporting import plots
from ganbench.reporting.published import dataset_name
from ganbench.reporting.records import (
    METRIC_KEYS,
    PRDC_KEYS,
    STATUSES,
    _get,
    _metrics,
    read_json_record,
)
from ganbench.reporting.render import DASH, FIGURES, _md_table, fmt, pm

# Keys of the papers' rows that a variant's ``paper_rows`` may name (defined beside the config
# that validates them).
PAPER_ROWS: dict[str, tuple[str, ...]] = ABLATION_PAPER_ROWS
STABILISATION_ROWS = ("sn_d", "sn_gd", "sn_gd_ttur")  # SAGAN Figure 3: curves, no numbers
PAPERS = {"sagan": "Zhang et al. 2019 (SAGAN)", "biggan": "Brock et al. 2019 (BigGAN)"}
PAPER_SCALE = "ImageNet 128×128, class-conditional, 1M iterations, FID/IS on 50k samples"
# Brock et al. 2019: share of their models amenable to truncation without / with ortho reg.
BIGGAN_AMENABLE_PERCENT = {"without": 16, "with": 60}
GENERATORS = {"ema": "EMA of G's weights", "raw": "G itself (no EMA)"}
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
    "standing_stats_batch_size",
    "seed",
    "device",
    "versions",
    "steps",
    "steps_trained",
    "batch_size",
    "train_device",
)
# Protocol keys that may differ between runs: training length and batch are variant settings.
PROTOCOL_FREE = ("device", "versions", "steps", "steps_trained", "batch_size", "train_device")
# Types of the protocol values the report prints (the others are only compared).
PROTOCOL_TYPES: dict[str, type] = {
    "extractor": str,
    "extractor_label": str,
    "weights_sha256": str,
    "reference_split": str,
    **dict.fromkeys(
        ("feature_dim", "n_real", "n_fake", "kid_subsets", "kid_subset_size", "is_splits"), int
    ),
    **dict.fromkeys(("prdc_k", "standing_stats_batches", "standing_stats_batch_size", "seed"), int),
}
MODEL_TYPES = {
    "resolution": int,
    "ch": (int, float),
    "g_attention": list,
    "d_attention": list,
    "attention_block": str,
    "g_spectral_norm": bool,
    "d_spectral_norm": bool,
    "shared_embedding": bool,
    "skip_z": bool,
}
TRAIN_TYPES = {
    "steps": int,
    "batch_size": int,
    "lr_g": (int, float),
    "lr_d": (int, float),
    "n_disc": int,
    "ortho_beta": (int, float),
    "ema_decay": (int, float),
    "conditional": bool,
}
UNTRUNCATED = "none"  # the grids' and truncation CSV's key of psi = null


# ---------------------------------------------------------------- published numbers


def _published(name: str, strings: Sequence[str]) -> pd.DataFrame:
    path = resources.files("ganbench.reporting") / "published" / name
    with resources.as_file(path) as csv:
        table = pd.read_csv(csv, dtype=dict.fromkeys(strings, str))
    return table.fillna(dict.fromkeys(strings, ""))


def load_sagan_table1() -> pd.DataFrame:
    """SAGAN Table 1 (FID, IS) and the Figure 3 rows (``finding`` text, no numbers), by row key."""
    table = _published("sagan2019_table1.csv", ("row", "source", "setting", "finding"))
    assert tuple(table["row"]) == PAPER_ROWS["sagan"], "rows"
    return table.set_index("row")


def load_biggan_table1() -> pd.DataFrame:
    """BigGAN Table 1 (rows "1".."9"): batch, ch, params_m, shared, skip_z, ortho, itr_k(_std),
    fid(_std), is(_std), verified; a missing std is NaN (the paper gives none)."""
    table = _published("biggan2019_table1.csv", ("row",))
    assert tuple(table["row"]) == PAPER_ROWS["biggan"], "rows"
    return table.set_index("row")


def load_cifar10_reproductions() -> pd.DataFrame:
    """Published CIFAR-10 32×32 reproductions: source, protocol, model, fid, is."""
    return _published("cifar10_reproductions.csv", ("source", "protocol", "model"))


def paper_row_name(study_name: str, key: str) -> str:
    """How the report names a paper row: ``Table 1 attn feat16``, ``Fig. 3 SN on D, 1:1``."""
    if study_name == "biggan":
        return f"Table 1 row {key}"
    row = load_sagan_table1().loc[key]
    return f"{row['source'].replace('Figure', 'Fig.')} {row['setting']}"


# ---------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Delta:
    """mean(row) − mean(baseline) and its confidence interval (NaN bounds: not computed)."""

    diff: float
    low: float
    high: float


def welch_delta(row: Sequence[float], baseline: Sequence[float], confidence: float = 0.95) -> Delta:
    """Difference of means with Welch's t interval (unequal variances, Welch–Satterthwaite df).

    Equals ``scipy.stats.ttest_ind(row, baseline, equal_var=False).confidence_interval()``. The
    interval is NaN with fewer than 2 values in either group or no spread in both.
    """
    a, b = np.asarray(row, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    if not len(a) or not len(b):
        return Delta(math.nan, math.nan, math.nan)
    diff = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return Delta(diff, math.nan, math.nan)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)  # squared standard errors
    if va + vb == 0:
        return Delta(diff, math.nan, math.nan)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf((1 + confidence) / 2, df) * math.sqrt(va + vb))
    return Delta(diff, diff - half, diff + half)


def verdict(delta: Delta, lower_is_better: bool) -> str:
    """ "better" / "worse" when the interval excludes 0, "within noise" when not, "n/a" without one."""
    if not (math.isfinite(delta.low) and math.isfinite(delta.high)):
        return "n/a"
    if delta.high < 0 or delta.low > 0:
        return "better" if (delta.high < 0) == lower_is_better else "worse"
    return "within noise"


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample std (ddof = 1) of ``values``; NaN mean when empty, NaN std below 2."""
    v = np.asarray(list(values), dtype=np.float64)
    return (
        float(v.mean()) if len(v) else math.nan,
        float(v.std(ddof=1)) if len(v) >= 2 else math.nan,
    )


AMENABLE_CRITERION = (
    "a run is *amenable to truncation* when truncating its noise buys fidelity without ruining "
    "the samples: (1) the IS at the smallest ψ of the sweep is higher than the untruncated IS, and "
    "(2) the best FID over the truncated points is no worse (≤) than the untruncated FID. A model "
    "that is not amenable (Brock et al. 2019) produces saturation artifacts on "
    "truncated noise, which lowers IS and raises FID at small ψ. A sweep with only strong "
    "truncations may fail (2) for a healthy model: include a mild ψ (e.g. 2.0)"
)


def amenable_to_truncation(sweep: list[dict]) -> bool | None:
    """Whether a run is amenable to truncation (criterion: :data:`AMENABLE_CRITERION`).

    ``sweep`` is a record's ``truncation`` list: points ``{"psi": float | None, "fid", "is_mean",
    ...}``, ``psi=None`` untruncated. None when the sweep is empty or has no untruncated point
    (nothing to compare with) or no truncated one.
    """
    untruncated = [p for p in sweep if p["psi"] is None]
    truncated = [p for p in sweep if p["psi"] is not None]
    if not untruncated or not truncated:
        return None
    base = untruncated[0]
    strongest = min(truncated, key=lambda p: p["psi"])
    best_fid = min(p["fid"] for p in truncated)
    return bool(strongest["is_mean"] > base["is_mean"] and best_fid <= base["fid"])


@dataclass(frozen=True)
class Share:
    """How many of the judged runs are amenable; percent is NaN when none was judged."""

    amenable: int
    judged: int
    percent: float


def amenable_share(flags: Iterable[bool | None]) -> Share:
    """Share of amenable runs among those with a verdict (None: no sweep, not counted)."""
    judged = [f for f in flags if f is not None]
    n = sum(judged)
    return Share(n, len(judged), 100.0 * n / len(judged) if judged else math.nan)


# ---------------------------------------------------------------- records


def evaluate_stage(study_name: str, variant: str, seed: int) -> str:
    """The dvc.yaml stage that writes a run's record (matrix stage ``evaluate_<study>``)."""
    return f"evaluate_{study_name}@{variant}-{seed}"


def report_stage(study_name: str) -> str:
    return f"report_{study_name}"


@dataclass(frozen=True)
class Variant:
    """One row's settings, as recorded (identical over its seeds)."""

    name: str
    label: str
    paper_rows: tuple[str, ...]
    generator: str
    model: dict
    train: dict
    params: dict


def _scores_or_fail(data: object, path: Path, where: str, nullable: bool) -> dict | None:
    """``{"status": "ok", **SCORES}`` -> the scores; ``{"status": "nonfinite"}`` -> None."""
    if data is None and nullable:
        return None
    if not isinstance(data, dict):
        raise UserError(f"{path}: key '{where}' is {data!r}; expected an object")
    status = data.get("status", "ok")
    if status not in ("ok", "nonfinite"):
        raise UserError(f"{path}: key '{where}.status' is {status!r}; allowed: ok, nonfinite")
    return None if status == "nonfinite" else _metrics(data, path, f"{where}.")


def _typed_block(data: dict, key: str, types: dict, path: Path) -> dict:
    block = _get(data, key, dict, path)
    for name, kind in types.items():
        _get(block, name, kind, path, f"{key}.")
    return block


def read_ablation_record(path: Path, expected: dict) -> dict:
    """Read and validate one ablation metric record; ``expected`` pins run/study/dataset/variant/
    seed. Scores of a checkpoint whose samples were not finite are None."""
    data = read_json_record(path)
    rec = {k: _get(data, k, str, path) for k in ("run", "study", "dataset", "variant", "label")}
    rec |= {"seed": _get(data, "seed", int, path), "status": _get(data, "status", str, path)}
    for key, value in expected.items():
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
    rows = _get(data, "paper_rows", list, path)
    for i, row in enumerate(rows):
        if row not in PAPER_ROWS[rec["study"]]:
            raise UserError(
                f"{path}: key 'paper_rows[{i}]' is {row!r}; allowed: "
                + ", ".join(PAPER_ROWS[rec["study"]])
            )
    rec["paper_rows"] = tuple(rows)
    rec["model"] = _typed_block(data, "model", MODEL_TYPES, path)
    rec["train"] = _typed_block(data, "train", TRAIN_TYPES, path)
    rec["params"] = _typed_block(data, "params", {"G": int, "D": int}, path)
    protocol = _get(data, "protocol", dict, path)
    for key in PROTOCOL_KEYS:
        _get(protocol, key, PROTOCOL_TYPES.get(key, object), path, "protocol.")
    rec["protocol"] = protocol
    rec["generator"] = _get(data, "generator", str, path)
    if rec["generator"] not in GENERATORS:
        raise UserError(f"{path}: key 'generator' is {rec['generator']!r}; allowed: ema, raw")
    checkpoints = []
    for i, c in enumerate(_get(data, "checkpoints", list, path)):
        where = f"checkpoints[{i}]"
        if not isinstance(c, dict):
            raise UserError(f"{path}: key '{where}' is {c!r}; expected an object")
        checkpoints.append(
            {
                "step": _get(c, "step", int, path, f"{where}."),
                "raw": _scores_or_fail(c.get("raw"), path, f"{where}.raw", nullable=False),
                "ema": _scores_or_fail(
                    c.get("ema"), path, f"{where}.ema", nullable=rec["generator"] == "raw"
                ),
            }
        )
    rec["checkpoints"] = checkpoints
    best = _get(data, "best", dict, path, nullable=rec["status"] != "ok")
    rec["best"] = None if best is None else {"step": _get(best, "step", int, path, "best.")}
    if best is not None:
        rec["best"] |= _metrics(best, path, "best.")
    if rec["status"] == "ok" and not all(math.isfinite(rec["best"][k]) for k in METRIC_KEYS):
        raise UserError(f"{path}: key 'best' has non-finite scores but status is 'ok'")
    rec["truncation"] = _truncation(_get(data, "truncation", list, path), path)
    grids = _get(data, "grids", dict, path)
    for key in grids:
        _run_file(_get(grids, key, str, path, "grids."), rec["run"], path, f"grids.{key}")
        if key != UNTRUNCATED and not _is_psi(key):
            raise UserError(f"{path}: key 'grids.{key}': expected 'none' or a psi such as '0.5'")
    rec["grids"] = grids
    figure = _get(data, "attention_figure", str, path, nullable=True)
    rec["attention_figure"] = figure and _run_file(figure, rec["run"], path, "attention_figure")
    return rec


def _run_file(value: str, run: str, path: Path, key: str) -> str:
    """A file the evaluation wrote: ``evaluations/<run>/...`` (the prefix may differ)."""
    if run not in Path(value).parts:
        raise UserError(f"{path}: key '{key}' is {value!r}; expected a path under {run}/")
    return value


def _is_psi(key: str) -> bool:
    try:
        return float(key) > 0
    except ValueError:
        return False


def _truncation(points: list, path: Path) -> list[dict]:
    out = []
    for i, p in enumerate(points):
        where = f"truncation[{i}]"
        if not isinstance(p, dict):
            raise UserError(f"{path}: key '{where}' is {p!r}; expected an object")
        psi = _get(p, "psi", float, path, f"{where}.", nullable=True)
        if psi is not None and psi <= 0:
            raise UserError(f"{path}: key '{where}.psi' is {psi}; expected a psi > 0 or null")
        out.append({"psi": psi, **_metrics(p, path, f"{where}.")})
    psis = [p["psi"] for p in out]
    if len(set(psis)) != len(psis):
        raise UserError(f"{path}: key 'truncation' repeats a psi: {psis}")
    return sorted(out, key=lambda p: -math.inf if p["psi"] is None else -p["psi"])


def _read_records(study_name: str, study: AblationStudy, metrics_dir: Path) -> list[dict]:
    records = []
    for variant in study.variants:
        for seed in study.seeds:
            run = run_name(study_name, study.dataset, variant, seed)
            path = metrics_dir / f"{run}.json"
            if not path.is_file():
                raise UserError(
                    f"metrics file not found: {path} (run '{run}' of params {study_name}.variants "
                    f"x {study_name}.seeds); evaluate it first: "
                    f"dvc repro {evaluate_stage(study_name, variant, seed)}"
                )
            expected = {"run": run, "study": study_name, "dataset": study.dataset}
            rec = read_ablation_record(path, expected | {"variant": variant, "seed": seed})
            records.append(rec | {"path": path})
    first = records[0]
    for rec in records[1:]:
        for key in PROTOCOL_KEYS:
            if key not in PROTOCOL_FREE and rec["protocol"][key] != first["protocol"][key]:
                raise UserError(
                    f"{rec['path']}: key 'protocol.{key}' is {rec['protocol'][key]!r} but "
                    f"{first['path']} has {first['protocol'][key]!r}; the runs of a study must "
                    "be measured the same way"
                )
    return records


def _variants(records: list[dict]) -> dict[str, Variant]:
    """variant -> its settings; every seed of a variant must record the same ones."""
    out: dict[str, tuple[Variant, Path]] = {}
    for rec in records:
        v = Variant(
            rec["variant"],
            rec["label"] or rec["variant"],
            rec["paper_rows"],
            rec["generator"],
            rec["model"],
            rec["train"],
            rec["params"],
        )
        first, first_path = out.setdefault(v.name, (v, rec["path"]))
        if v != first:
            raise UserError(
                f"{rec['path']} and {first_path} record different settings (label, paper_rows, "
                "generator, model, train or params) for one variant; re-run the evaluation"
            )
    return {name: v for name, (v, _) in out.items()}


RUN_COLUMNS = ("run", "variant", "seed", "status", "diverged_at_step", "reason", "best_step")


def _tables(records: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(runs, checkpoints, truncation) frames of the validated records."""
    runs, checkpoints, truncation = [], [], []
    for rec in records:
        ident = {k: rec[k] for k in ("run", "variant", "seed", "status")}
        best = rec["best"] or {"step": None, **dict.fromkeys(METRIC_KEYS, math.nan)}
        raw = [c["raw"]["fid"] for c in rec["checkpoints"] if c["raw"] is not None]
        runs.append(
            {
                **ident,
                "diverged_at_step": rec["diverged_at_step"],
                "reason": rec["reason"],
                "best_step": best["step"],
                **{k: best[k] for k in METRIC_KEYS},
                "fid_raw": min(raw) if raw else math.nan,  # the raw G's own best checkpoint
                "amenable": amenable_to_truncation(rec["truncation"]),
            }
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
    columns = (*RUN_COLUMNS, *METRIC_KEYS, "fid_raw", "amenable")
    return (
        pd.DataFrame(runs, columns=list(columns)).astype(
            {"diverged_at_step": "Int64", "best_step": "Int64"}
        ),
        pd.DataFrame(
            checkpoints,
            columns=["run", "variant", "seed", "status", "step", "generator"]
            + ["headline", *METRIC_KEYS],
        ),
        pd.DataFrame(truncation, columns=["run", "variant", "seed", "status", "psi", *METRIC_KEYS]),
    )


# ---------------------------------------------------------------- summary


SUMMARY_STATS = {"fid": "fid", "is": "is_mean", "kid": "kid_mean", "fid_raw": "fid_raw"} | {
    k: k for k in PRDC_KEYS
}


def summarise_variants(runs: pd.DataFrame, variants: Sequence[str], baseline: str) -> pd.DataFrame:
    """One row per variant (in ``variants`` order): seed counts, mean ± std over the ok seeds of
    each run's best-checkpoint scores, and FID/IS differences from ``baseline`` (:func:`welch_delta`,
    :func:`verdict`). ``best_seed``: the ok seed with the lowest FID (-1 when none)."""
    base_ok = runs[(runs["variant"] == baseline) & (runs["status"] == "ok")]
    rows = []
    for v in variants:
        r = runs[runs["variant"] == v]
        ok = r[r["status"] == "ok"]
        row = {"variant": v, "n_seeds": len(r), "n_ok": len(ok)}
        row |= {f"n_{s}": int((r["status"] == s).sum()) for s in ("diverged", "failed")}
        for prefix, column in SUMMARY_STATS.items():
            row[f"{prefix}_mean"], row[f"{prefix}_std"] = mean_std(ok[column])
        for prefix, column, lower in (("fid", "fid", True), ("is", "is_mean", False)):
            if v == baseline:
                d, word = Delta(math.nan, math.nan, math.nan), "baseline"
            else:
                d = welch_delta(ok[column], base_ok[column])
                word = verdict(d, lower_is_better=lower)
            row |= {f"delta_{prefix}": d.diff, f"verdict_{prefix}": word}
            row |= {f"delta_{prefix}_low": d.low, f"delta_{prefix}_high": d.high}
        row["best_seed"] = int(ok.loc[ok["fid"].idxmin(), "seed"]) if len(ok) else -1
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class _Report:
    """Everything the page says, validated before the first file is written."""

    name: str
    study: AblationStudy
    variants: dict[str, Variant]
    runs: pd.DataFrame
    checkpoints: pd.DataFrame
    truncation: pd.DataFrame
    summary: pd.DataFrame
    protocol: dict  # the first run's; the comparable keys are every run's
    devices: tuple[str, ...]
    versions: tuple[str, ...]
    grids: dict[str, dict[str, Path]]  # variant -> grid key -> source (best seed)
    attention: dict[str, Path | None]  # variant with G attention -> its figure (best seed)

    @property
    def label(self) -> str:
        return self.protocol["extractor_label"]

    @property
    def fig_dir(self) -> str:
        return f"{self.name}/{FIGURES}"

    def stabilisation(self) -> list[str]:
        return [
            v for v, info in self.variants.items() if set(info.paper_rows) & set(STABILISATION_ROWS)
        ]


def _evaluation_file(value: str, rec: dict, evaluations_dir: Path, key: str) -> Path:
    """The file a record names (``evaluations/<run>/...`` from the repo root), found under
    ``evaluations_dir/<run>/`` whatever the prefix."""
    run, parts = rec["run"], Path(value).parts
    i = len(parts) - 1 - parts[::-1].index(run)
    path = evaluations_dir.joinpath(run, *parts[i + 1 :])
    if not path.is_file():
        stage = evaluate_stage(rec["study"], rec["variant"], rec["seed"])
        raise UserError(
            f"file not found: {path} (key '{key}' of {rec['path']}); re-run: dvc repro {stage}"
        )
    return path


def _grid_order(key: str) -> float:
    return -math.inf if key == UNTRUNCATED else -float(key)


def _sources(
    records: list[dict],
    summary: pd.DataFrame,
    variants: dict[str, Variant],
    evaluations_dir: Path,
    with_attention: bool,
) -> tuple[dict[str, dict[str, Path]], dict[str, Path | None]]:
    """Sample grids and (``with_attention``) attention figures of each variant's best seed."""
    by_run = {(r["variant"], r["seed"]): r for r in records}
    grids, attention = {}, {}
    for row in summary.itertuples():
        if row.best_seed < 0:
            continue
        rec = by_run[(row.variant, row.best_seed)]
        if UNTRUNCATED not in rec["grids"]:
            raise UserError(f"{rec['path']}: missing key 'grids.{UNTRUNCATED}' (untruncated grid)")
        keys = sorted(rec["grids"], key=_grid_order)
        grids[row.variant] = {
            k: _evaluation_file(rec["grids"][k], rec, evaluations_dir, f"grids.{k}") for k in keys
        }
        if with_attention and _has_g_attention(variants[row.variant]):
            figure = rec["attention_figure"]
            attention[row.variant] = figure and _evaluation_file(
                figure, rec, evaluations_dir, "attention_figure"
            )
    return grids, attention


def _grid_name(variant: str, key: str) -> str:
    return f"samples_{variant}.png" if key == UNTRUNCATED else f"samples_{variant}_psi{key}.png"


def _per_variant(values: dict[str, str]) -> str:
    """``value (every variant)`` or ``a (v1, v2); b (v3)``, in variant order."""
    groups: dict[str, list[str]] = {}
    for variant, value in values.items():
        groups.setdefault(value, []).append(variant)
    if len(groups) == 1:
        return f"{next(iter(groups))} (every variant)"
    return "; ".join(f"{value} ({', '.join(names)})" for value, names in groups.items())


def _count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else str(n)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _display(dataset: str) -> str:
    """``Fashion-MNIST, `` when the dataset has a display name other than its key."""
    name = dataset_name(dataset)
    return "" if name == dataset else f"{name}, "


def _title(r: _Report) -> str:
    authors = PAPERS[r.name].split(" (")[0]
    return f"# {'SAGAN' if r.name == 'sagan' else 'BigGAN'} ablation ({authors})"


def _header_md(r: _Report) -> list[str]:
    from ganbench.data import DATASETS

    p, s, v = r.protocol, r.study, r.variants
    c, h, w = DATASETS.get(s.dataset).image_shape
    train = {name: info.train for name, info in v.items()}
    conditional = _per_variant(
        {n: "class-conditional" if t["conditional"] else "unconditional" for n, t in train.items()}
    )
    lines = [
        f"{_title(r)}: ganbench at small scale",
        "",
        f"Generated from `metrics/{r.name}-{s.dataset}-*.json`; regenerate with "
        f"`dvc repro {report_stage(r.name)}` (the whole pipeline, training included: "
        "`dvc repro`). Do not edit by hand.",
        "",
        "## What was run",
        "",
        f"- **Data**: `{s.dataset}` ({_display(s.dataset)}{c}×{h}×{w}, "
        f"{DATASETS.get(s.dataset).num_classes} classes); {conditional}.",
        f"- **Rows**: {_n(len(v), 'variant')} × {_n(len(s.seeds), 'seed')} "
        f"({', '.join(map(str, s.seeds))}) = {_n(len(r.runs), 'run')}; baseline `{s.baseline}`.",
        "- **Training** (one step = one D update): steps "
        + _per_variant({n: f"{t['steps']:,}" for n, t in train.items()})
        + "; batch "
        + _per_variant({n: str(t["batch_size"]) for n, t in train.items()})
        + "; lr_G / lr_D "
        + _per_variant({n: f"{t['lr_g']:g} / {t['lr_d']:g}" for n, t in train.items()})
        + "; D steps per G step "
        + _per_variant({n: str(t["n_disc"]) for n, t in train.items()})
        + ".",
        "- **Generator evaluated** (its best checkpoint gives the headline numbers): "
        + _per_variant({n: GENERATORS[i.generator] for n, i in v.items()})
        + ".",
        f"- **Protocol**: FID, KID, IS and precision/recall/density/coverage on `{r.label}` "
        f"features ({p['extractor']}, {p['feature_dim']}-d, weights sha256 "
        f"`{p['weights_sha256'][:12]}…`); {p['n_fake']:,} generated vs {p['n_real']:,} real "
        f"images of the `{p['reference_split']}` split; KID over {p['kid_subsets']} subsets of "
        f"{p['kid_subset_size']}, IS over {p['is_splits']} splits, k = {p['prdc_k']}; G's "
        f"BatchNorm statistics re-estimated over {p['standing_stats_batches']} batches of "
        f"{p['standing_stats_batch_size']}; evaluation seed {p['seed']}. Every checkpoint is "
        "scored for G and, when the run keeps one, its EMA.",
        f"- **Devices**: {', '.join(r.devices)}. **Software**: {'; '.join(r.versions)}.",
        "",
        f"The paper's numbers are {PAPER_SCALE}; ours are a small run on other data, features "
        "and sample counts, so they are never on the paper's scale: compare the direction of "
        "each effect, not values.",
        "",
    ]
    if r.name == "sagan":
        lines += [
            "Feature-map sizes map to the paper's by the size K of the K×K feature map after "
            f"which the block sits (our attention at 16×16 stands for the paper's feat16). Our "
            f"model is {h}×{w}, the paper's 128×128, so a K×K map is a larger fraction of our "
            "image than of theirs"
            + (f"; the paper's feat{2 * h} and up have no counterpart here." if h < 64 else "."),
            "",
        ]
    return lines


def _delta_cell(row: pd.Series, prefix: str, decimals: int) -> str:
    if row[f"verdict_{prefix}"] == "baseline":
        return "baseline"
    diff, low, high = (row[f"delta_{prefix}{s}"] for s in ("", "_low", "_high"))
    if not math.isfinite(diff):
        return DASH
    ci = "n/a" if not math.isfinite(low) else f"[{low:+.{decimals}f}, {high:+.{decimals}f}]"
    return f"{diff:+.{decimals}f} {ci}"


def _seeds_cell(row: pd.Series) -> str:
    extra = [f"{row[f'n_{s}']} {s}" for s in ("diverged", "failed") if row[f"n_{s}"]]
    return f"{row['n_ok']} / {row['n_seeds']}" + (f" ({', '.join(extra)})" if extra else "")


def _results_md(r: _Report) -> list[str]:
    biggan = r.name == "biggan"
    header = ["variant", "label", "maps to (published row)", "seeds ok / total", "G scored"]
    if biggan:
        header += ["batch", "ch", "params G+D", "shared", "skip-z", "ortho β"]
    header += [f"FID ({r.label}), mean ± std"]
    header += ["FID of raw G (its best ckpt)"] if biggan else []
    header += [
        "IS mean ± std",
        "KID ×10³ mean ± std",
        "ΔFID vs baseline [95% CI]",
        "verdict (FID)",
        "ΔIS vs baseline [95% CI]",
    ]
    rows = []
    for _, row in r.summary.iterrows():
        v = r.variants[row["variant"]]
        cells = [
            f"`{v.name}`",
            v.label,
            "; ".join(paper_row_name(r.name, k) for k in v.paper_rows) or DASH,
            _seeds_cell(row),
            "EMA" if v.generator == "ema" else "raw",
        ]
        if biggan:
            beta = v.train["ortho_beta"]
            cells += [
                str(v.train["batch_size"]),
                f"{v.model['ch']:g}",
                _count(v.params["G"] + v.params["D"]),
                _yes(v.model["shared_embedding"]),
                _yes(v.model["skip_z"]),
                f"{beta:g}" if beta else "off",
            ]
        cells += [pm(row["fid_mean"], row["fid_std"], 1)]
        cells += [pm(row["fid_raw_mean"], row["fid_raw_std"], 1)] if biggan else []
        cells += [
            pm(row["is_mean"], row["is_std"], 2),
            pm(row["kid_mean"], row["kid_std"], 2, 1e3),
            _delta_cell(row, "fid", 1),
            row["verdict_fid"] if row["verdict_fid"] != "baseline" else DASH,
            _delta_cell(row, "is", 2),
        ]
        rows.append(cells)
    lines = [f"## Our results ({dataset_name(r.study.dataset)}, {r.label} features)", ""]
    lines += _md_table(header, rows)
    lines += [
        "Each run contributes its best checkpoint (lowest FID) of the generator in 'G scored'. "
        "Mean ± std over the seeds whose run ended ok (std with ddof = 1; n/a with one). "
        "Diverged and failed seeds are excluded from every mean and counted in 'seeds ok / "
        "total'.",
        "",
        f"ΔFID and ΔIS: the row's mean minus the baseline's (`{r.study.baseline}`), with a 95% "
        "Welch t interval (unequal variances, Welch–Satterthwaite degrees of freedom); n/a with "
        "fewer than 2 ok seeds in either group. Verdict (FID, lower is better): *better* or "
        "*worse* when the interval excludes 0, *within noise* otherwise. With this few seeds "
        "the intervals are wide: *within noise* is not evidence of no effect.",
        "",
    ]
    return lines + _run_notes(r)


def _run_notes(r: _Report) -> list[str]:
    notes = []
    for x in r.runs[r.runs["status"] != "ok"].itertuples():
        if x.status == "diverged":
            notes.append(f"- `{x.variant}` seed {x.seed} diverged at step {x.diverged_at_step}.")
        else:
            notes.append(f"- `{x.variant}` seed {x.seed} failed: {x.reason}.")
    return (["Excluded seeds:", "", *notes, ""]) if notes else ["Every seed ended ok.", ""]


def _mapped(r: _Report, key: str) -> str:
    names = [f"`{v}`" for v, info in r.variants.items() if key in info.paper_rows]
    return ", ".join(names) or DASH


def _paper_pm(mean: float, std: float, decimals: int) -> str:
    if not math.isfinite(mean):
        return DASH
    return f"{mean:.{decimals}f}" + (f" ± {std:.{decimals}f}" if math.isfinite(std) else "")


def _published_md(r: _Report) -> list[str]:
    paper = PAPERS[r.name]
    note = (
        "The paper's numbers, not ours (ours are in the table above). The last column names "
        "our variants that stand for each row (their `paper_rows` in params)."
    )
    if r.name == "sagan":
        t = load_sagan_table1()
        header = ["source", "setting", "FID", "IS", "finding", "our variants mapped here"]
        rows = [
            [
                x["source"],
                x["setting"],
                fmt(x["fid"], 2),
                fmt(x["is"], 2),
                x["finding"] or DASH,
                _mapped(r, key),
            ]
            for key, x in t.iterrows()
        ]
        heading = f"## Published: {paper}, {PAPER_SCALE} (Table 1, Figure 3)"
        note += " Figure 3 has curves, not numbers: its rows give the paper's finding."
    else:
        t = load_biggan_table1()
        header = ["row", "batch", "ch", "params (M)", "shared", "skip-z", "ortho", "itr ×10³"]
        header += ["FID", "IS", "our variants mapped here"]
        tick = {True: "✓", False: ""}
        rows = [
            [
                key,
                str(x["batch"]),
                str(x["ch"]),
                f"{x['params_m']:.1f}",
                tick[bool(x["shared"])],
                tick[bool(x["skip_z"])],
                tick[bool(x["ortho"])],
                _paper_pm(x["itr_k"], x["itr_k_std"], 0),
                _paper_pm(x["fid"], x["fid_std"], 2),
                _paper_pm(x["is"], x["is_std"], 2),
                _mapped(r, key),
            ]
            for key, x in t.iterrows()
        ]
        unverified = " *(unverified)*" if not t["verified"].all() else ""
        heading = f"## Published: {paper}, {PAPER_SCALE} (Table 1){unverified}"
        note += (
            " Rows 5–9 are mean ± std over 8 seeds; itr is the iteration of collapse (1000: "
            "stable). Row 1 is the SAGAN baseline."
        )
        if unverified:
            note += " Recalled from the paper and not checked against the PDF."
    return [heading, "", note, "", *_md_table(header, rows)]


def _cifar_md() -> list[str]:
    t = load_cifar10_reproductions()
    rows = [
        [x["source"], x["protocol"], x["model"], fmt(x["fid"], 2), fmt(x["is"], 2)]
        for _, x in t.iterrows()
    ]
    return [
        "### Published: CIFAR-10 32×32 reproductions by other groups (side reference)",
        "",
        "Other groups' numbers; the protocols differ between rows and from ours (features, "
        "sample counts, training length), so compare like with like.",
        "",
        *_md_table(["source", "protocol", "model", "FID", "IS"], rows),
    ]


def _stabilisation_curves(r: _Report) -> pd.DataFrame:
    """Headline-G checkpoints of the variants mapped to SAGAN Figure 3, every seed."""
    order = {v: i for i, v in enumerate(r.stabilisation())}
    c = r.checkpoints[r.checkpoints["headline"] & r.checkpoints["variant"].isin(order)]
    c = c.assign(_order=c["variant"].map(order)).sort_values(["_order", "seed", "step"])
    return c[["variant", "seed", "status", "step", "generator", "fid", "is_mean", "kid_mean"]]


def _stabilisation_md(r: _Report, curves: pd.DataFrame) -> list[str]:
    ok = curves[curves["status"] == "ok"]
    steps = sorted(ok["step"].unique())
    rows = []
    for v in r.stabilisation():
        n_ok = int(r.summary.loc[r.summary["variant"] == v, "n_ok"].iloc[0])
        cells = [f"`{v}`", "; ".join(paper_row_name(r.name, k) for k in r.variants[v].paper_rows)]
        for step in steps:
            fids = ok.loc[(ok["variant"] == v) & (ok["step"] == step), "fid"]
            cell = pm(*mean_std(fids), 1)
            cells.append(cell + (f" (n={len(fids)})" if 0 < len(fids) < n_ok else ""))
        bad = r.runs[(r.runs["variant"] == v) & (r.runs["status"] != "ok")]
        cells.append(", ".join(f"seed {x.seed} {x.status}" for x in bad.itertuples()) or DASH)
        rows.append(cells)
    header = ["variant", "stands for", *(f"FID at step {s:,}" for s in steps), "not ok"]
    return [
        "## Stabilisation (SAGAN Figure 3: SN on D vs G/D, 1:1 vs TTUR)",
        "",
        "FID of the headline G at every checkpoint of the variants mapped to Figure 3's curves. "
        "The paper finds SN on D alone unstable at 1:1 updates, SN on G and D better, and SN on "
        "G and D with TTUR (lr_D 4× lr_G) the most stable.",
        "",
        f"![FID against training step]({r.fig_dir}/stabilisation.png)",
        "",
        "Thick lines: mean over the ok seeds; thin lines: each seed (dashed: a seed that did not "
        "end ok, up to its last finite checkpoint).",
        "",
        *_md_table(header, rows),
        "Mean ± std over the ok seeds with a finite checkpoint at that step (n when fewer). "
        f"Data: [{r.name}/stabilisation.csv]({r.name}/stabilisation.csv).",
        "",
    ]


def _attention_md(r: _Report, queries: int) -> list[str]:
    lines = [
        "## Attention maps",
        "",
        "For each variant with attention in G (its best seed): one generated image of class 0 "
        f"with {queries} query locations marked on a ring around its centre, and for each query "
        "where G's last attention block attends: its softmax weights over the key positions, as "
        "a heat map over the image. Weight spread along the object rather than around the "
        "query is the long-range dependency self-attention is meant to model.",
        "",
    ]
    for v in (x for x in r.variants if _has_g_attention(r.variants[x])):
        if v not in r.attention:
            lines += [f"**`{v}`**: no ok run, no figure.", ""]
        elif r.attention[v] is None:
            lines += [f"**`{v}`**: its record has no attention figure.", ""]
        else:
            seed = _best_seed(r, v)
            lines += [
                f"**`{v}`** (seed {seed})",
                "",
                f"![attention maps of {v}, seed {seed}]({r.fig_dir}/attention_{v}.png)",
                "",
            ]
    return lines


def _has_g_attention(v: Variant) -> bool:
    return bool(v.model["g_attention"]) and v.model["attention_block"] == "attention"


def _best_seed(r: _Report, variant: str) -> int:
    return int(r.summary.loc[r.summary["variant"] == variant, "best_seed"].iloc[0])


def _psi_key(psi: float) -> str:
    return UNTRUNCATED if psi is None or not math.isfinite(psi) else f"{psi:g}"


def _truncation_means(r: _Report) -> pd.DataFrame:
    """Mean ± std over the ok seeds per (variant, psi): what the truncation figure plots."""
    t = r.truncation[r.truncation["status"] == "ok"]
    rows = []
    for v in r.variants:
        tv = t[t["variant"] == v]
        keys = sorted({_psi_key(p) for p in tv["psi"]}, key=_grid_order)
        for key in keys:
            sel = tv[[_psi_key(p) == key for p in tv["psi"]]]
            fid, is_ = mean_std(sel["fid"]), mean_std(sel["is_mean"])
            rows.append({"variant": v, "psi": key, "n_runs": len(sel)})
            rows[-1] |= {"fid_mean": fid[0], "fid_std": fid[1], "is_mean": is_[0], "is_std": is_[1]}
    columns = ["variant", "psi", "n_runs", "fid_mean", "fid_std", "is_mean", "is_std"]
    return pd.DataFrame(rows, columns=columns)


def _shares(r: _Report) -> dict[str, tuple[list[str], Share]]:
    """ "with" / "without" orthogonal regularisation -> (its variants, share of amenable ok runs)."""
    out = {}
    for key, with_ortho in (("with", True), ("without", False)):
        names = [v for v, i in r.variants.items() if (i.train["ortho_beta"] > 0) == with_ortho]
        ok = r.runs[r.runs["variant"].isin(names) & (r.runs["status"] == "ok")]
        out[key] = (names, amenable_share(ok["amenable"]))
    return out


def _share_text(names: list[str], share: Share, what: str) -> str:
    if not names:
        return f"No variant {what}: the share is not measured."
    listed = ", ".join(f"`{n}`" for n in names)
    if not share.judged:
        return f"Variants {what} ({listed}): no ok run with a truncation sweep."
    return (
        f"Variants {what} ({listed}): {share.amenable} of {share.judged} ok runs amenable "
        f"({share.percent:.0f}%)."
    )


def _truncation_md(r: _Report) -> list[str]:
    lines = ["## Truncation and orthogonal regularisation", ""]
    if r.truncation.empty:
        return lines + [
            f"The records have no truncation sweep (params `{r.name}.evaluate.truncation` is "
            "empty): no curves and no amenability shares.",
            "",
        ]
    shares = _shares(r)
    counts = []
    for v, info in r.variants.items():
        ok = r.runs[(r.runs["variant"] == v) & (r.runs["status"] == "ok")]
        share = amenable_share(ok["amenable"])
        beta = info.train["ortho_beta"]
        counts.append(
            [f"`{v}`", f"{beta:g}" if beta else "off", str(share.judged), str(share.amenable)]
        )
    return lines + [
        "Truncation: z ~ N(0, I) with every entry |z| > ψ resampled; a smaller ψ trades "
        "variety (FID) for fidelity (IS). Each curve is one variant's sweep on the best "
        "checkpoint of its headline G, mean over the ok seeds per ψ (square: untruncated).",
        "",
        f"![IS against FID over the truncation sweep]({r.fig_dir}/truncation.png)",
        "",
        f"Data: [{r.name}/truncation.csv]({r.name}/truncation.csv).",
        "",
        f"**Amenable to truncation.** Here {AMENABLE_CRITERION}.",
        "",
        *_md_table(["variant", "ortho β", "ok runs with a sweep", "amenable"], counts),
        "- " + _share_text(*shares["with"], "with orthogonal regularisation, ortho β > 0"),
        "- " + _share_text(*shares["without"], "without orthogonal regularisation, ortho β = 0"),
        f"- Brock et al. 2019 (ImageNet 128, their models): {BIGGAN_AMENABLE_PERCENT['without']}% "
        f"amenable without orthogonal regularisation, {BIGGAN_AMENABLE_PERCENT['with']}% with it.",
        "",
    ]


def _grids_md(r: _Report) -> list[str]:
    lines = [
        "## Sample grids",
        "",
        "The best seed (lowest FID) of each variant, its best checkpoint and headline G; one "
        "row per class.",
        "",
    ]
    if r.name == "biggan":
        keys = sorted({k for g in r.grids.values() for k in g}, key=_grid_order)
        header = [
            "variant (seed)",
            *("untruncated" if k == UNTRUNCATED else f"ψ = {k}" for k in keys),
        ]
        rows = []
        for v in r.variants:
            if v not in r.grids:
                rows.append([f"`{v}` (no ok run)", *(DASH for _ in keys)])
                continue
            cells = [f"`{v}` ({_best_seed(r, v)})"]
            for k in keys:
                name = _grid_name(v, k)
                cells.append(f"![{v} ψ {k}]({r.fig_dir}/{name})" if k in r.grids[v] else DASH)
            rows.append(cells)
        return lines + _md_table(header, rows)
    for v in r.variants:
        if v not in r.grids:
            lines += [f"**`{v}`**: no grid (no ok run).", ""]
            continue
        seed = _best_seed(r, v)
        fid = r.runs.loc[(r.runs["variant"] == v) & (r.runs["seed"] == seed), "fid"].iloc[0]
        lines += [
            f"**`{v}`** (seed {seed}, FID {fmt(fid, 1)})",
            "",
            f"![{v} samples, seed {seed}]({r.fig_dir}/{_grid_name(v, UNTRUNCATED)})",
            "",
        ]
    return lines


def _render_markdown(r: _Report) -> str:
    lines = _header_md(r) + _results_md(r) + _published_md(r)
    if r.study.dataset == "cifar10":
        lines += _cifar_md()
    if r.name == "sagan":
        if r.stabilisation():
            lines += _stabilisation_md(r, _stabilisation_curves(r))
        if any(_has_g_attention(v) for v in r.variants.values()):
            lines += _attention_md(r, r.study.evaluate.attention_queries)
    else:
        lines += _truncation_md(r)
    lines += _grids_md(r) + [
        "## Data",
        "",
        f"Table: [{r.name}.csv]({r.name}.csv); headline numbers: "
        f"[{r.name}/summary.json]({r.name}/summary.json) (`dvc metrics show`).",
        "",
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------- figures


def _axes(size: tuple[float, float] = (6.5, 4.2)) -> tuple[Figure, object]:
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def plot_stabilisation(
    curves: pd.DataFrame, variants: Sequence[str], label: str, path: Path
) -> Path:
    """FID against step: a thick line per variant (mean over ok seeds), a thin one per seed."""
    colors = plots._colors(variants)
    with mpl.style.context("default"):
        fig, ax = _axes()
        for v in variants:
            c = curves[curves["variant"] == v]
            for _, s in c.groupby("seed", sort=True):
                style = "-" if s["status"].iloc[0] == "ok" else "--"
                ax.plot(s["step"], s["fid"], style, color=colors[v], lw=0.8, alpha=0.5)
            ok = c[c["status"] == "ok"]
            if not ok.empty:
                mean = ok.groupby("step")["fid"].mean().sort_index()
                n = ok["seed"].nunique()
                ax.plot(
                    mean.index,
                    mean.to_numpy(),
                    "-o",
                    color=colors[v],
                    lw=2,
                    ms=3,
                    label=f"{v} (mean of {n} ok seed{'s' if n != 1 else ''})",
                )
        plots._log_y(ax)
        ax.set_xlabel("training step (D updates)")
        ax.set_ylabel(f"FID ({label} features)")
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
        return plots._save(fig, path)


def plot_truncation(means: pd.DataFrame, variants: Sequence[str], label: str, path: Path) -> Path:
    """IS against FID over each variant's truncation sweep (mean over seeds), points labelled ψ."""
    colors = plots._colors(variants)
    with mpl.style.context("default"):
        fig, ax = _axes()
        for v in variants:
            m = means[means["variant"] == v]
            if m.empty:
                continue
            ax.plot(m["fid_mean"], m["is_mean"], "-o", color=colors[v], ms=4, label=v)
            for psi, x, y in zip(m["psi"], m["fid_mean"], m["is_mean"], strict=True):
                if psi == UNTRUNCATED:
                    ax.plot([x], [y], "s", ms=8, mfc="none", color=colors[v])
                ax.annotate(
                    "none" if psi == UNTRUNCATED else f"ψ={psi}",
                    (x, y),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize="x-small",
                    color=colors[v],
                )
        ax.set_xlabel(f"FID ({label} features), lower is better")
        ax.set_ylabel(f"IS ({label}), higher is better")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
        return plots._save(fig, path)


# ---------------------------------------------------------------- files


def _summary_csv(r: _Report) -> str:
    settings = []
    for v, info in r.variants.items():
        ok = r.runs[(r.runs["variant"] == v) & (r.runs["status"] == "ok")]
        share = amenable_share(ok["amenable"])
        settings.append(
            {
                "variant": v,
                "label": info.label,
                "paper_rows": ";".join(info.paper_rows),
                "generator": info.generator,
                "steps": info.train["steps"],
                "batch_size": info.train["batch_size"],
                "ch": info.model["ch"],
                "params_g": info.params["G"],
                "params_d": info.params["D"],
                "g_attention": ";".join(map(str, info.model["g_attention"])),
                "d_attention": ";".join(map(str, info.model["d_attention"])),
                "attention_block": info.model["attention_block"],
                "shared_embedding": info.model["shared_embedding"],
                "skip_z": info.model["skip_z"],
                "ortho_beta": info.train["ortho_beta"],
                "ema_decay": info.train["ema_decay"],
                "features": r.label,
                "amenable_runs": share.amenable,
                "judged_runs": share.judged,
            }
        )
    table = pd.DataFrame(settings).merge(r.summary, on="variant", validate="one_to_one")
    return table.to_csv(index=False, lineterminator="\n")


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _summary_json(r: _Report) -> dict:
    keys = ("fid_mean", "fid_std", "is_mean", "is_std", "kid_mean", "kid_std", "delta_fid")
    keys += ("delta_fid_low", "delta_fid_high", "delta_is", "delta_is_low", "delta_is_high")
    out: dict = {"baseline": r.study.baseline, "features": r.label, "variants": {}}
    for _, row in r.summary.iterrows():
        out["variants"][row["variant"]] = {
            "n_seeds": int(row["n_seeds"]),
            "n_ok": int(row["n_ok"]),
            **{k: _finite(row[k]) for k in keys},
            "verdict_fid": row["verdict_fid"],
        }
    if r.name == "biggan":
        out["amenable"] = {
            f"{key}_ortho": {
                "amenable": s.amenable,
                "judged": s.judged,
                "percent": _finite(s.percent),
            }
            for key, (_, s) in _shares(r).items()
        }
    return out


def _versions(versions: object) -> str:
    if isinstance(versions, dict):
        return ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    return str(versions)


def write_ablation_report(
    study_name: str,
    study: AblationStudy,
    *,
    metrics_dir: Path,
    evaluations_dir: Path,
    out_dir: Path,
) -> list[Path]:
    """Build the report of the SAGAN or BigGAN ablation ``study`` (params section ``study_name``).

    Reads ``metrics_dir/<study>-<dataset>-<variant>-<seed>.json`` for every variant and seed, and
    the sample grids (and, for SAGAN, attention figures) of each variant's best seed under
    ``evaluations_dir/<run>/``. Writes ``out_dir/<study>.md``, ``<study>.csv``,
    ``<study>/summary.json``, the figure data ``<study>/stabilisation.csv`` (SAGAN) or
    ``<study>/truncation.csv`` (BigGAN), always (header only when there is nothing to plot), and
    ``<study>/figures/*.png``: the stabilisation or truncation figure when there is data, the best
    seed's sample grids and (SAGAN) attention figures.
    Every input is validated before the first file is written; every file is written atomically
    and depends only on the inputs. Returns the written paths.
    """
    require_choice(study_name, ABLATION_STUDIES, "study")
    metrics_dir, evaluations_dir, out_dir = Path(metrics_dir), Path(evaluations_dir), Path(out_dir)
    records = _read_records(study_name, study, metrics_dir)
    variants = _variants(records)
    runs, checkpoints, truncation = _tables(records)
    summary = summarise_variants(runs, list(study.variants), study.baseline)
    grids, attention = _sources(
        records, summary, variants, evaluations_dir, with_attention=study_name == "sagan"
    )
    protocols = [rec["protocol"] for rec in records]
    r = _Report(
        name=study_name,
        study=study,
        variants=variants,
        runs=runs,
        checkpoints=checkpoints,
        truncation=truncation,
        summary=summary,
        protocol=protocols[0],
        devices=tuple(
            sorted({f"train {p['train_device']}, eval {p['device']}" for p in protocols})
        ),
        versions=tuple(sorted({_versions(p["versions"]) for p in protocols})),
        grids=grids,
        attention=attention,
    )

    data_dir, fig_dir = out_dir / study_name, out_dir / study_name / FIGURES
    written: list[Path] = []

    def emit(path: Path, text: str) -> None:
        write_text(path, text)
        written.append(path)

    emit(out_dir / f"{study_name}.md", _render_markdown(r))
    emit(out_dir / f"{study_name}.csv", _summary_csv(r))
    write_json(data_dir / "summary.json", _summary_json(r))
    written.append(data_dir / "summary.json")
    # the figure data are written even when empty, so the stage's outputs never vary
    if study_name == "sagan":
        curves = _stabilisation_curves(r)
        emit(data_dir / "stabilisation.csv", curves.to_csv(index=False, lineterminator="\n"))
        if r.stabilisation():
            path = fig_dir / "stabilisation.png"
            written.append(plot_stabilisation(curves, r.stabilisation(), r.label, path))
    else:
        means = _truncation_means(r)
        emit(data_dir / "truncation.csv", means.to_csv(index=False, lineterminator="\n"))
        if not means.empty:
            path = fig_dir / "truncation.png"
            written.append(plot_truncation(means, list(variants), r.label, path))
    copies = {_grid_name(v, k): src for v, g in grids.items() for k, src in g.items()}
    copies |= {f"attention_{v}.png": src for v, src in r.attention.items() if src is not None}
    for name, source in copies.items():
        with atomic_path(fig_dir / name) as tmp:
            tmp.write_bytes(source.read_bytes())
        written.append(fig_dir / name)
    return written
