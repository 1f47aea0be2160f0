"""The Markdown page of the Lucic et al. report, and the table cells it shares with the LaTeX.

Pure functions of the summaries built in :mod:`ganbench.reporting.lucic`; no I/O. Rounding: FID 1
decimal, KID ×10³ 2 decimals, IS 2 decimals, accuracy in percent. The paper's numbers have a table
and heading of their own and never share a column with ours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ganbench.config import LucicConfig
from ganbench.reporting.published import LUCIC_STEPS, LUCIC_VARIANTS, dataset_name, model_name

if TYPE_CHECKING:
    from ganbench.reporting.lucic import Spearman

DASH = "—"
FIGURES = "figures"  # PNGs go to <out>/<study>/figures/, one DVC output directory
HPARAM_LABELS = {
    "lr": "lr",
    "beta1": "β1",
    "beta2": "β2",
    "n_disc": "n_disc",
    "d_batchnorm": "BN in D",
    "clip": "WGAN clip",
    "penalty_weight": "penalty λ",
    "began_lambda_k": "BEGAN λ_k",
    "began_gamma": "BEGAN γ",
}


@dataclass(frozen=True)
class DatasetSection:
    """Everything the report says about one dataset (built by ``write_lucic_report``)."""

    dataset: str
    protocol: dict  # the runs' shared protocol
    devices: tuple[str, ...]
    versions: tuple[str, ...]
    classifier: dict | None  # test_accuracy, weights_sha256, epochs; None for other extractors
    summary: pd.DataFrame  # summarise_models()
    runs: pd.DataFrame  # RunRecords.runs of this dataset
    paper: pd.DataFrame  # Table 2 rows of this dataset, indexed by model
    spearman: Spearman
    baselines: dict[str, dict[str, float]]
    samples: dict[str, tuple[Path, int]]  # model -> (grid source, seed)


def fmt(value: float, decimals: int, scale: float = 1.0) -> str:
    return DASH if value is None or not math.isfinite(value) else f"{value * scale:.{decimals}f}"


def pm(mean: float, std: float, decimals: int, scale: float = 1.0) -> str:
    """``mean ± std``; ``n/a`` for the std of a single value, ``—`` when there is no mean."""
    if not math.isfinite(mean):
        return DASH
    spread = "n/a" if not math.isfinite(std) else fmt(std, decimals, scale)
    return f"{fmt(mean, decimals, scale)} ± {spread}"


def our_header(label: str) -> list[str]:
    return [
        "Model",
        f"FID ({label} features), best ckpt, mean ± std",
        "best run FID",
        "KID ×10³ mean ± std",
        "IS mean ± std",
        "runs ok / diverged",
    ]


def our_cells(row: pd.Series, runs: pd.DataFrame) -> list[str]:
    """One row of our table: counts, FID/KID/IS over the ok seeds (see ``summarise_models``)."""
    if row["n_ok"] == 0:
        fid = (
            f"{DASH} (all {row['n_runs']} runs diverged)"
            if row["n_diverged"] == row["n_runs"]
            else f"{DASH} (no ok run of {row['n_runs']})"
        )
        best = DASH
    else:
        fid = pm(row["fid_mean"], row["fid_std"], 1)
        seed = int(runs.loc[runs["run"] == row["best_run"], "seed"].iloc[0])
        best = f"{fmt(row['fid_best_run'], 1)} (seed {seed})"
    counts = f"{row['n_ok']} / {row['n_diverged']}"
    if row["n_failed"]:
        counts += f" (+{row['n_failed']} failed)"
    return [
        model_name(row["model"]),
        fid,
        best,
        pm(row["kid_mean"], row["kid_std"], 2, 1e3),
        pm(row["is_mean"], row["is_std"], 2),
        counts,
    ]


def paper_heading(dataset: str) -> str:
    steps = LUCIC_STEPS.get(dataset)
    length = f"{steps:,} steps" if steps else "paper-length training"
    return (
        f"Lucic et al. 2018 Table 2 (Inception FID, 10k vs 10k test, {length}, "
        "best of 100-point search, 50 seeds)"
    )


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows] + [""]


def _value(v: object) -> str:
    return ("yes" if v else "no") if isinstance(v, bool) else f"{v:g}"


def _hparams_md(lucic: LucicConfig, hparams: dict[str, dict]) -> list[str]:
    lines = ["## Hyperparameters", ""]
    settings = [hparams[m] for m in lucic.models]
    source = f"params `lucic.hparams: {lucic.hparams}`"
    if all(s == settings[0] for s in settings):
        values = ", ".join(f"{HPARAM_LABELS[k]} {_value(v)}" for k, v in settings[0].items())
        lines += [f"All {len(settings)} models use one setting ({source}): {values}.", ""]
    else:
        lines += [f"Per model ({source}, with `lucic.overrides`):", ""]
        rows = [[model_name(m), *(_value(v) for v in hparams[m].values())] for m in lucic.models]
        lines += _md_table(["Model", *HPARAM_LABELS.values()], rows)
    lines += ["Lucic et al. searched 100 settings per model and dataset; these runs use one.", ""]
    return lines


def _protocol_md(s: DatasetSection, lucic: LucicConfig) -> str:
    p = s.protocol
    net = (
        f"the `{p['extractor_label']}` feature network ({p['extractor']}, "
        f"{p['feature_dim']}-d features, weights sha256 `{p['weights_sha256'][:12]}…`"
    )
    if s.classifier is not None:
        net += f"; test accuracy {s.classifier['test_accuracy'] * 100:.1f}%" + (
            f" after {s.classifier['epochs']} epochs" if s.classifier["epochs"] else ""
        )
    return (
        f"**Protocol of our numbers.** FID, KID and IS use {net}), not Inception, so the values "
        "are not on the paper's scale. Each evaluated checkpoint is scored on "
        f"{p['n_fake']:,} generated vs {p['n_real']:,} real images of the `{p['reference_split']}`"
        f" split (KID: {p['kid_subsets']} subsets of {p['kid_subset_size']}; IS: {p['is_splits']}"
        f" splits; evaluation seed {p['seed']}; G's BatchNorm statistics re-estimated over "
        f"{p['standing_stats_batches']} batches); a run keeps its best checkpoint (lowest FID). "
        f"Training: {p['steps']:,} steps (one step = one D update), batch {p['batch_size']}, "
        f"width ×{p['width']:g} (paper: ×1), device {', '.join(s.devices)}, seeds "
        f"{', '.join(str(x) for x in lucic.seeds)}. Mean ± std is over the seeds whose run ended "
        "ok (std with ddof = 1); diverged runs are counted, not averaged. Software: "
        f"{'; '.join(s.versions)}."
    )


def _run_notes(s: DatasetSection) -> list[str]:
    notes = []
    for row in s.summary.itertuples():
        r = s.runs[s.runs["model"] == row.model].sort_values("seed")
        div, failed = r[r["status"] == "diverged"], r[r["status"] == "failed"]
        where = ", ".join(f"seed {x.seed} at step {x.diverged_at_step}" for x in div.itertuples())
        name = model_name(row.model)
        if row.n_runs and len(div) == row.n_runs:
            notes.append(
                f"- **{name}: all {row.n_runs} runs diverged** ({where}); no FID is "
                "reported for it."
            )
        elif len(div):
            notes.append(
                f"- {name}: {where} diverged; excluded from the mean (Lucic et al. "
                "count a NaN generator as a failed run)."
            )
        notes += [f"- {name}: seed {x.seed} failed ({x.reason})." for x in failed.itertuples()]
        if row.n_ok == 1:
            notes.append(f"- {name}: one ok run, so no std (n/a).")
    return notes + [""] if notes else []


def _paper_md(s: DatasetSection, models: Sequence[str]) -> list[str]:
    lines = [f"### {paper_heading(s.dataset)}", ""]
    present = [m for m in models if m in s.paper.index]
    if not present:
        return lines + [
            f"Lucic et al. 2018 report no numbers for these models on {dataset_name(s.dataset)}.",
            "",
        ]
    lines += [
        "Published numbers, not ours: Inception features, full width, paper-length "
        "training and a per-model search. Compare orderings, not values.",
        "",
    ]
    rows = []
    for m in present:
        paper = s.paper.loc[m]
        notes = [] if paper["verified"] else ["unverified (not checked against the PDF)"]
        notes += [LUCIC_VARIANTS[(m, s.dataset)]] if (m, s.dataset) in LUCIC_VARIANTS else []
        rows.append([model_name(m), pm(paper["fid_mean"], paper["fid_std"], 1), "; ".join(notes)])
    lines += _md_table(["Model", "FID mean ± std (paper)", "note"], rows)
    missing = [model_name(m) for m in models if m not in s.paper.index]
    return lines + ([f"Not in Table 2: {', '.join(missing)}.", ""] if missing else [])


def _sanity_md(s: DatasetSection) -> list[str]:
    split = s.protocol["reference_split"]
    names = {
        "real_train": f"real train images vs {split} (floor)",
        "untrained_generator": "untrained generator (ceiling)",
    }
    rows = [
        [
            names[k],
            fmt(v["fid"], 1),
            pm(v["kid_mean"], v["kid_std"], 2, 1e3),
            pm(v["is_mean"], v["is_std"], 2),
        ]
        for k, v in s.baselines.items()
    ]
    return (
        ["### Sanity rows (same features and reference split)", ""]
        + _md_table(["Row", "FID", "KID ×10³ mean ± std", "IS mean ± std"], rows)
        + ["Here ± is over KID subsets and IS splits of one evaluation, not over seeds.", ""]
    )


def _spearman_md(s: DatasetSection) -> list[str]:
    sp = s.spearman
    names = ", ".join(model_name(m) for m in sp.models)
    if sp.n < 3:
        head = (
            f"Spearman ρ not computed: only n = {sp.n} models ({names or 'none'}) have an ok "
            "run and a Table 2 number; it needs at least 3."
        )
    else:
        head = (
            f"Spearman ρ between our mean FID and Table 2's over n = {sp.n} models ({names}): "
            f"ρ = {fmt(sp.rho, 3)}, p = {sp.p_value:.3g}."
        )
        head += " The VAE's published number is unverified." if "vae" in sp.models else ""
    return [
        "### Rank agreement with Lucic et al.",
        "",
        head,
        "",
        "ρ says only whether the models come out in the same order as in the paper; it cannot "
        "show that the paper's FID values are reproduced (features, training length and "
        "search differ), and with this few models and seeds even ρ = 1 is weak evidence (the "
        "p-value tests against no association, not against the paper).",
        "",
    ]


def render_markdown(
    sections: Sequence[DatasetSection], lucic: LucicConfig, hparams: dict[str, dict], study: str
) -> str:
    """The report page ``<study>.md``: data files are linked under ``<study>/``, figures and sample
    grids under ``<study>/figures/`` (relative links)."""
    data_dir, fig_dir = study, f"{study}/{FIGURES}"
    lines = [
        "# Lucic et al. 2018 loss comparison: ganbench at CPU scale",
        "",
        "Generated from `metrics/*.json`; regenerate with `dvc repro report` (or "
        "`make repro`), do not edit by hand.",
        "",
    ]
    lines += _hparams_md(lucic, hparams)
    for s in sections:
        label = s.protocol["extractor_label"]
        lines += [
            f"## {dataset_name(s.dataset)}",
            "",
            _protocol_md(s, lucic),
            "",
            f"### Our results ({dataset_name(s.dataset)}, {label} features)",
            "",
        ]
        lines += _md_table(
            our_header(label), [our_cells(r, s.runs) for _, r in s.summary.iterrows()]
        )
        lines += _run_notes(s) + _paper_md(s, lucic.models) + _sanity_md(s) + _spearman_md(s)
    lines += [
        "## Figures",
        "",
        f"![FID against training step]({fig_dir}/fid_vs_step.png)",
        "",
        "FID against training step per model: mean over the ok seeds, band from min to max.",
        "",
        f"![best-checkpoint FID per seed]({fig_dir}/fid_per_seed.png)",
        "",
        "Best-checkpoint FID per seed (dots) and mean (bar) per model; horizontal lines: the "
        "sanity rows (dashed: real train = floor; dotted: untrained generator = ceiling).",
        "",
        f"Data: [{data_dir}/fid_curves.csv]({data_dir}/fid_curves.csv) (`dvc plots show`), "
        f"[{data_dir}/summary.json]({data_dir}/summary.json) (`dvc metrics show`); tables: "
        f"[{study}.csv]({study}.csv), [{study}.tex]({study}.tex).",
        "",
    ]
    for s in sections:
        lines += [
            f"### Sample grids, {dataset_name(s.dataset)} (best checkpoint, lowest ok seed)",
            "",
        ]
        for m in lucic.models:
            if m in s.samples:
                path = f"{fig_dir}/samples_{s.dataset}_{m}.png"
                lines += [
                    f"**{model_name(m)}** (seed {s.samples[m][1]})",
                    "",
                    f"![{model_name(m)} samples, seed {s.samples[m][1]}]({path})",
                    "",
                ]
            else:
                lines += [f"**{model_name(m)}**: no grid (no ok run).", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
