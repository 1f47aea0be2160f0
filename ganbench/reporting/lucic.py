"""The Lucic et al. 2018 loss comparison: per-model tables, rank agreement, the report files.

``records -> summarise_models -> spearman_vs_paper -> render -> write_lucic_report``. Our numbers
(best checkpoint per run, mean ± std over the seeds whose run ended ``ok``) and the paper's Table 2
are kept in separate tables; only when our FID is measured as the paper's (Inception features,
10k vs 10k, test split: :func:`~ganbench.reporting.published.paper_comparable`) does an extra table
show both, in separate columns under separate headings (training still differs).
A diverged run is counted and excluded from the mean, as Lucic et al. treat a NaN generator as a
failed run.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ganbench.config import LucicConfig, run_name
from ganbench.errors import UserError
from ganbench.io import atomic_path, write_json, write_text
from ganbench.reporting import plots
from ganbench.reporting.latex import render_latex
from ganbench.reporting.published import lucic_table2
from ganbench.reporting.records import (
    PRDC_KEYS,
    RunRecords,
    load_run_records,
    read_baselines,
    read_classifier,
)
from ganbench.reporting.render import FIGURES, DatasetSection, render_markdown

STUDY = "lucic"
SUMMARY_COLUMNS = (
    "dataset",
    "model",
    "n_runs",
    "n_ok",
    "n_diverged",
    "n_failed",
    "fid_mean",
    "fid_std",
    "fid_best_run",
    "best_run",
    "kid_mean",
    "kid_std",
    "is_mean",
    "is_std",
    *(f"{k}_{stat}" for k in PRDC_KEYS for stat in ("mean", "std")),
)
CURVE_COLUMNS = ("run", "model", "seed", "step", "fid", "kid_mean", "is_mean")
# our column prefix -> the per-run best-checkpoint metric it aggregates over seeds
AGGREGATED = {"fid": "fid", "kid": "kid_mean", "is": "is_mean", **{k: k for k in PRDC_KEYS}}


@dataclass(frozen=True)
class Spearman:
    """Rank correlation of our mean FID with the paper's over ``models`` (NaN when n < 3)."""

    rho: float
    p_value: float
    n: int
    models: tuple[str, ...]


def summarise_models(runs: pd.DataFrame, dataset: str, models: Sequence[str]) -> pd.DataFrame:
    """One row per model (in ``models`` order) for ``dataset``: counts and over-seed statistics.

    ``runs`` is :attr:`RunRecords.runs`. Only ``ok`` runs enter the statistics: ``<m>_mean`` is
    the mean over seeds of each run's best-checkpoint value and ``<m>_std`` its sample standard
    deviation (ddof = 1; NaN with fewer than two ok runs). ``fid_best_run`` is the lowest FID of
    any ok run and ``best_run`` that run.
    """
    rows = []
    for model in models:
        r = runs[(runs["dataset"] == dataset) & (runs["model"] == model)]
        ok = r[r["status"] == "ok"]
        row = {
            "dataset": dataset,
            "model": model,
            "n_runs": len(r),
            "n_ok": len(ok),
            "n_diverged": int((r["status"] == "diverged").sum()),
            "n_failed": int((r["status"] == "failed").sum()),
        }
        for prefix, column in AGGREGATED.items():
            values = ok[column].to_numpy(dtype=np.float64)
            row[f"{prefix}_mean"] = float(values.mean()) if len(values) else math.nan
            row[f"{prefix}_std"] = float(values.std(ddof=1)) if len(values) >= 2 else math.nan
        best = ok.loc[ok["fid"].idxmin()] if len(ok) else None
        row["fid_best_run"] = math.nan if best is None else float(best["fid"])
        row["best_run"] = "" if best is None else best["run"]
        rows.append(row)
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def spearman_vs_paper(summary: pd.DataFrame, paper: pd.DataFrame) -> Spearman:
    """Spearman rho between our mean FID and Table 2's ``fid_mean`` (``paper`` indexed by model).

    Uses the models present in both that have at least one ok run, in ``summary`` order; with
    fewer than three the correlation is not computed (rho and p are NaN).
    """
    both = summary[summary["model"].isin(paper.index) & (summary["n_ok"] > 0)]
    models = tuple(both["model"])
    if len(models) < 3:
        return Spearman(math.nan, math.nan, len(models), models)
    ours = both["fid_mean"].to_numpy(dtype=np.float64)
    theirs = paper.loc[list(models), "fid_mean"].to_numpy(dtype=np.float64)
    with warnings.catch_warnings():  # constant input: scipy warns and returns NaN, which we show
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        result = stats.spearmanr(ours, theirs)
    return Spearman(float(result.statistic), float(result.pvalue), len(models), models)


def _metrics_paths(lucic: LucicConfig, metrics_dir: Path) -> tuple[list[Path], list[dict]]:
    paths, expected = [], []
    for dataset in lucic.datasets:
        for model in lucic.models:
            for seed in lucic.seeds:
                run = run_name(STUDY, dataset, model, seed)
                path = metrics_dir / f"{run}.json"
                if not path.is_file():
                    raise UserError(
                        f"metrics file not found: {path} (run '{run}' is listed in params "
                        "lucic.datasets x lucic.models x lucic.seeds; evaluate it first)"
                    )
                paths.append(path)
                expected.append({"run": run, "dataset": dataset, "model": model, "seed": seed})
    return paths, expected


def _hparams_by_model(records: RunRecords, runs: pd.DataFrame) -> dict[str, dict]:
    """model -> its hyperparameters; they must be the same for every run of the model."""
    by_model: dict[str, tuple[dict, str]] = {}
    for run, model in zip(runs["run"], runs["model"], strict=True):
        hp = records.hparams[run]
        first, first_run = by_model.setdefault(model, (hp, run))
        if hp != first:
            raise UserError(
                f"metrics of runs '{first_run}' and '{run}' record different hparams "
                f"({first} vs {hp}); one model must use one setting"
            )
    return {model: hp for model, (hp, _) in by_model.items()}


def _sample_sources(
    runs: pd.DataFrame, summary: pd.DataFrame, evaluations_dir: Path
) -> dict[str, tuple[Path, int]]:
    """model -> (grid of its lowest-seed ok run, that seed); models without an ok run are absent."""
    sources = {}
    for model in summary["model"]:
        ok = runs[(runs["model"] == model) & (runs["status"] == "ok")].sort_values("seed")
        if len(ok):
            run, seed = ok.iloc[0]["run"], int(ok.iloc[0]["seed"])
            path = evaluations_dir / run / "samples.png"
            if not path.is_file():
                raise UserError(
                    f"sample grid not found: {path} (written by the evaluation of run '{run}')"
                )
            sources[model] = (path, seed)
    return sources


def write_lucic_report(
    lucic: LucicConfig, *, metrics_dir: Path, evaluations_dir: Path, out_dir: Path
) -> list[Path]:
    """Build the Lucic et al. 2018 report from the metric records of the runs listed in ``lucic``.

    Reads ``metrics_dir``/``lucic-<dataset>-<model>-<seed>.json`` for every listed run,
    ``lucic-<dataset>-baselines.json`` and (classifier features) ``classifier-<dataset>.json``,
    and ``evaluations_dir/<run>/samples.png``. Writes ``out_dir``/``lucic.md``, ``lucic.csv``,
    ``lucic.tex``; ``out_dir/lucic/fid_curves.csv`` and ``summary.json``; and under
    ``out_dir/lucic/figures/`` ``fid_vs_step.png``, ``fid_per_seed.png`` and the sample grids
    ``samples_<dataset>_<model>.png``. Every input is validated before the first file is
    written; every file is written atomically and depends only on the inputs. Returns the
    written paths.
    """
    metrics_dir, evaluations_dir, out_dir = Path(metrics_dir), Path(evaluations_dir), Path(out_dir)
    paths, expected = _metrics_paths(lucic, metrics_dir)
    records = load_run_records(paths, expected)
    runs, checkpoints = records.runs, records.checkpoints
    hparams = _hparams_by_model(records, runs)

    sections = []
    for dataset in lucic.datasets:
        d_runs = runs[runs["dataset"] == dataset]
        protocol = records.protocols[d_runs["run"].iloc[0]]
        baselines = read_baselines(
            metrics_dir / f"{STUDY}-{dataset}-baselines.json", dataset, protocol
        )
        classifier = None
        if protocol["extractor"] == "classifier":
            classifier = read_classifier(
                metrics_dir / f"classifier-{dataset}.json", dataset, protocol["weights_sha256"]
            )
        summary = summarise_models(runs, dataset, lucic.models)
        paper = lucic_table2(dataset)
        devices = sorted({records.protocols[r]["device"] for r in d_runs["run"]})
        versions = sorted({_versions(records.protocols[r]["versions"]) for r in d_runs["run"]})
        sections.append(
            DatasetSection(
                dataset=dataset,
                protocol=protocol,
                devices=tuple(devices),
                versions=tuple(versions),
                classifier=classifier,
                summary=summary,
                runs=d_runs,
                paper=paper,
                spearman=spearman_vs_paper(summary, paper),
                baselines=baselines,
                samples=_sample_sources(d_runs, summary, evaluations_dir),
            )
        )

    data_dir = out_dir / STUDY
    fig_dir = data_dir / FIGURES
    written = []

    def emit(path: Path, text: str) -> None:
        write_text(path, text)
        written.append(path)

    emit(out_dir / f"{STUDY}.md", render_markdown(sections, lucic, hparams, STUDY))
    emit(out_dir / f"{STUDY}.csv", _summary_csv(sections))
    emit(out_dir / f"{STUDY}.tex", render_latex(sections))
    emit(data_dir / "fid_curves.csv", _curves_csv(checkpoints, lucic))
    write_json(data_dir / "summary.json", _summary_json(sections))
    written.append(data_dir / "summary.json")

    ok_checkpoints = checkpoints[checkpoints["status"] == "ok"]
    labels = {s.dataset: s.protocol["extractor_label"] for s in sections}
    baselines = {s.dataset: s.baselines for s in sections}
    written.append(
        plots.plot_fid_vs_step(
            ok_checkpoints, lucic.datasets, lucic.models, labels, fig_dir / "fid_vs_step.png"
        )
    )
    written.append(
        plots.plot_fid_per_seed(
            runs, lucic.datasets, lucic.models, labels, baselines, fig_dir / "fid_per_seed.png"
        )
    )
    for section in sections:
        for model, (source, _) in section.samples.items():
            target = fig_dir / f"samples_{section.dataset}_{model}.png"
            with atomic_path(target) as tmp:
                tmp.write_bytes(source.read_bytes())
            written.append(target)
    return written


def _versions(versions: object) -> str:
    if isinstance(versions, dict):
        return ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    return str(versions)


def _summary_csv(sections: Sequence[DatasetSection]) -> str:
    frames = []
    for s in sections:
        frame = s.summary.copy()
        frame.insert(2, "features", s.protocol["extractor_label"])
        frame.insert(3, "prdc_k", s.protocol["prdc_k"])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True).to_csv(index=False, lineterminator="\n")


def _curves_csv(checkpoints: pd.DataFrame, lucic: LucicConfig) -> str:
    order = {
        (d, m): i for i, (d, m) in enumerate((d, m) for d in lucic.datasets for m in lucic.models)
    }
    keys = [
        order[(d, m)] for d, m in zip(checkpoints["dataset"], checkpoints["model"], strict=True)
    ]
    curves = checkpoints.assign(_order=keys).sort_values(["_order", "seed", "step"], kind="stable")
    return curves[list(CURVE_COLUMNS)].to_csv(index=False, lineterminator="\n")


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _summary_json(sections: Sequence[DatasetSection]) -> dict:
    out = {}
    for s in sections:
        models = {
            row.model: {
                "fid_mean": _finite(row.fid_mean),
                "fid_std": _finite(row.fid_std),
                "n_ok": int(row.n_ok),
                "n_diverged": int(row.n_diverged),
            }
            for row in s.summary.itertuples()
        }
        spearman = {
            "rho": _finite(s.spearman.rho),
            "p_value": _finite(s.spearman.p_value),
            "n": s.spearman.n,
        }
        out[s.dataset] = {"models": models, "spearman": spearman}
    return out
