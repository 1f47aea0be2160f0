"""The Markdown page of the Lucic et al. report, and the table cells it shares with the LaTeX.

Pure functions of the summaries built in :mod:`ganbench.reporting.lucic`; no I/O. Rounding: FID 1
decimal, KID ×10³ 2 decimals, IS 2 decimals, precision/recall/density/coverage 3 decimals, accuracy
in percent. Every table of our numbers names the feature extractor that made them. The paper's
numbers have a table and heading of their own and never share a column with ours; they share a
table with ours only when :func:`paper_comparable` (Inception FID, 10k vs 10k, test split), in the
side-by-side table, under a column heading of their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ganbench.config import LucicConfig
from ganbench.reporting.published import (
    LUCIC_SEARCH,
    LUCIC_SEEDS,
    LUCIC_STEPS,
    LUCIC_VARIANTS,
    dataset_name,
    measurement_differences,
    model_name,
    paper_comparable,
    training_differences,
)
from ganbench.reporting.records import PRDC_KEYS

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


def our_fid_cell(row: pd.Series) -> str:
    """Our FID of one model: mean ± std over the ok seeds, or why there is none."""
    if row["n_ok"] == 0:
        return (
            f"{DASH} (all {row['n_runs']} runs diverged)"
            if row["n_diverged"] == row["n_runs"]
            else f"{DASH} (no ok run of {row['n_runs']})"
        )
    return pm(row["fid_mean"], row["fid_std"], 1)


def our_cells(row: pd.Series, runs: pd.DataFrame) -> list[str]:
    """One row of our table: counts, FID/KID/IS over the ok seeds (see ``summarise_models``)."""
    fid = our_fid_cell(row)
    if row["n_ok"] == 0:
        best = DASH
    else:
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


def prdc_header(k: int) -> list[str]:
    """Column names of precision, recall, density and coverage, with their k."""
    return [f"{name} (k={k})" for name in PRDC_KEYS]


def prdc_cells(row: pd.Series) -> list[str]:
    """One model's precision/recall/density/coverage, mean ± std over the ok seeds."""
    return [model_name(row["model"])] + [
        pm(row[f"{k}_mean"], row[f"{k}_std"], 3) for k in PRDC_KEYS
    ]


def prdc_intro(label: str, k: int) -> str:
    return (
        f"Improved precision and recall (Kynkäänniemi et al. 2019) and density and coverage "
        f"(Naeem et al. 2020) of the same best checkpoints, on the same {label} features as "
        f"FID, with k = {k} nearest neighbours; mean ± std over the ok seeds. Precision, recall "
        "and coverage are fractions in [0, 1], higher is better; density is about 1 when "
        "generated samples are distributed like real ones and can exceed 1."
    )


def _thousands(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else f"{n:,}"


def _paper_protocol(dataset: str) -> str:
    steps = LUCIC_STEPS.get(dataset)
    length = f"{steps:,} steps" if steps else "paper-length training"
    return f"10k vs 10k test, {length}, best of {LUCIC_SEARCH}-point search, {LUCIC_SEEDS} seeds"


def paper_heading(dataset: str) -> str:
    return f"Lucic et al. 2018 Table 2 (Inception FID, {_paper_protocol(dataset)})"


def paper_column(dataset: str) -> str:
    """The paper's column heading in the side-by-side table."""
    return f"Lucic et al. 2018 Table 2: FID (Inception, {_paper_protocol(dataset)}), mean ± std"


def ours_column(protocol: dict, n_seeds: int) -> str:
    """Our column heading in the side-by-side table: extractor, counts, split, training."""
    p = protocol
    return (
        f"ours: FID ({p['extractor_label']} features, {_thousands(p['n_fake'])} vs "
        f"{_thousands(p['n_real'])} {p['reference_split']}, {p['steps']:,} steps, "
        f"width ×{p['width']:g}, one setting, {n_seeds} seeds), mean ± std"
    )


def seed_count(s: DatasetSection) -> int:
    return int(s.runs["seed"].nunique())


def paper_note(s: DatasetSection, model: str) -> str:
    notes = [] if s.paper.loc[model, "verified"] else ["unverified (not checked against the PDF)"]
    notes += [LUCIC_VARIANTS[(model, s.dataset)]] if (model, s.dataset) in LUCIC_VARIANTS else []
    return "; ".join(notes)


def side_by_side(s: DatasetSection) -> bool:
    """Whether the section gets the table of our FID beside Table 2's: only when our FID is
    measured as the paper's (:func:`paper_comparable`) and Table 2 has one of our models."""
    return paper_comparable(s.protocol) and bool(set(s.summary["model"]) & set(s.paper.index))


def side_by_side_rows(s: DatasetSection, models: Sequence[str]) -> list[list[str]]:
    """Model | ours | paper | note rows; only for a section where ``side_by_side`` holds."""
    rows = []
    for m in models:
        row = s.summary.loc[s.summary["model"] == m].iloc[0]
        ours = our_fid_cell(row)
        if 0 < row["n_ok"] < row["n_runs"]:
            ours += f" ({row['n_ok']} of {row['n_runs']} runs ok)"
        if m in s.paper.index:
            paper = pm(s.paper.loc[m, "fid_mean"], s.paper.loc[m, "fid_std"], 1)
            note = paper_note(s, m)
        else:
            paper, note = DASH, "not in Table 2"
        rows.append([model_name(m), ours, paper, note])
    return rows


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


def _extractor_md(s: DatasetSection) -> str:
    """Which network made every number of this section, and what that means for the scale."""
    p = s.protocol
    weights = f"weights sha256 `{p['weights_sha256'][:12]}…`"
    if p["extractor"] == "inception":
        return (
            "FID, KID, IS, precision, recall, density and coverage use Inception-v3 pool3 "
            f"features (`{p['extractor_label']}`: torch-fidelity's TF1-parity port of the "
            f"Inception network Lucic et al. used, {p['feature_dim']}-d features, {weights}; IS "
            "from its logits)."
        )
    net = (
        f"the `{p['extractor_label']}` feature network ({p['extractor']}, "
        f"{p['feature_dim']}-d features, {weights}"
    )
    if s.classifier is not None:
        net += f"; test accuracy {s.classifier['test_accuracy'] * 100:.1f}%" + (
            f" after {s.classifier['epochs']} epochs" if s.classifier["epochs"] else ""
        )
    return (
        f"FID, KID, IS, precision, recall, density and coverage use {net}), not Inception, so "
        "the values are not on the paper's scale."
    )


def _versus_paper_md(s: DatasetSection) -> str:
    """Whether our FID is measured as Lucic et al.'s, and how the training differs from theirs."""
    training = "; ".join(training_differences(s.protocol, s.dataset, seed_count(s)))
    paper = (
        "Lucic et al. measured FID on Inception features with 10,000 generated vs 10,000 real "
        "images of the test split"
    )
    if paper_comparable(s.protocol):
        shown = (
            "shown side by side below under separate headings"
            if side_by_side(s)
            else f"but Table 2 has no numbers for these models on {dataset_name(s.dataset)}"
        )
        return (
            f"{paper}, and so do we: our FID and Table 2's are on one scale, {shown}. Our "
            f"training is not theirs, so equal values are not expected: {training}."
        )
    return (
        f"{paper}; ours differs: {'; '.join(measurement_differences(s.protocol))}. Our numbers "
        "and the paper's are therefore never shown in one table, and our training differs too: "
        f"{training}."
    )


def _protocol_md(s: DatasetSection, lucic: LucicConfig) -> str:
    p = s.protocol
    return (
        f"**Protocol of our numbers.** {_extractor_md(s)} Precision and recall (Kynkäänniemi et "
        f"al. 2019) and density and coverage (Naeem et al. 2020) use k = {p['prdc_k']} nearest "
        "neighbours on the same features. Each evaluated checkpoint is scored on "
        f"{p['n_fake']:,} generated vs {p['n_real']:,} real images of the `{p['reference_split']}`"
        f" split (KID: {p['kid_subsets']} subsets of {p['kid_subset_size']}; IS: {p['is_splits']}"
        f" splits; evaluation seed {p['seed']}; G's BatchNorm statistics re-estimated over "
        f"{p['standing_stats_batches']} batches); a run keeps its best checkpoint (lowest FID). "
        f"Training: {p['steps']:,} steps (one step = one D update), batch {p['batch_size']}, "
        f"width ×{p['width']:g}, device {', '.join(s.devices)}, seeds "
        f"{', '.join(str(x) for x in lucic.seeds)}. {_versus_paper_md(s)} Mean ± std is over the "
        "seeds whose run ended ok (std with ddof = 1); diverged runs are counted, not averaged. "
        f"Software: {'; '.join(s.versions)}."
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
        "training and a per-model search. "
        + (
            "Our FID is measured the same way but trained differently; the next table puts "
            "the two side by side."
            if side_by_side(s)
            else "Compare orderings, not values."
        ),
        "",
    ]
    rows = [
        [model_name(m), pm(s.paper.loc[m, "fid_mean"], s.paper.loc[m, "fid_std"], 1)]
        + [paper_note(s, m)]
        for m in present
    ]
    lines += _md_table(["Model", "FID mean ± std (paper)", "note"], rows)
    missing = [model_name(m) for m in models if m not in s.paper.index]
    return lines + ([f"Not in Table 2: {', '.join(missing)}.", ""] if missing else [])


def _side_by_side_md(s: DatasetSection, models: Sequence[str]) -> list[str]:
    """Our FID beside Table 2's, under separate column headings; only when ``side_by_side``."""
    training = "; ".join(training_differences(s.protocol, s.dataset, seed_count(s)))
    return [
        "### Side by side: our FID and Lucic et al. 2018 Table 2 "
        "(both Inception, 10k vs 10k test; separate columns)",
        "",
        "Both columns are FID on Inception pool3 features with 10,000 generated vs 10,000 "
        "real test images; each column heading states how its runs were trained. Only the "
        f"training differs: {training}. A gap between the columns is therefore expected and "
        "does not by itself show a measurement error.",
        "",
    ] + _md_table(
        ["Model", ours_column(s.protocol, seed_count(s)), paper_column(s.dataset), "note"],
        side_by_side_rows(s, models),
    )


def _prdc_md(s: DatasetSection) -> list[str]:
    label, k = s.protocol["extractor_label"], s.protocol["prdc_k"]
    return [
        f"#### Precision, recall, density, coverage ({dataset_name(s.dataset)}, {label} "
        f"features, k = {k})",
        "",
        prdc_intro(label, k),
        "",
    ] + _md_table(["Model", *prdc_header(k)], [prdc_cells(r) for _, r in s.summary.iterrows()])


SANITY_NAMES = {
    "real_train": "real train images vs {split} (floor)",
    "untrained_generator": "untrained generator (ceiling)",
}


def sanity_header(k: int) -> list[str]:
    return ["Row", "FID", "KID ×10³ mean ± std", "IS mean ± std", *prdc_header(k)]


def sanity_rows(s: DatasetSection) -> list[list[str]]:
    split = s.protocol["reference_split"]
    return [
        [
            SANITY_NAMES[name].format(split=split),
            fmt(v["fid"], 1),
            pm(v["kid_mean"], v["kid_std"], 2, 1e3),
            pm(v["is_mean"], v["is_std"], 2),
            *(fmt(v[key], 3) for key in PRDC_KEYS),
        ]
        for name, v in s.baselines.items()
    ]


def _sanity_md(s: DatasetSection) -> list[str]:
    label = s.protocol["extractor_label"]
    return (
        [f"### Sanity rows ({label} features, same reference split)", ""]
        + _md_table(sanity_header(s.protocol["prdc_k"]), sanity_rows(s))
        + ["Here ± is over KID subsets and IS splits of one evaluation, not over seeds.", ""]
    )


def _differ(protocol: dict) -> str:
    """What keeps ρ from showing the paper's values are reproduced."""
    if paper_comparable(protocol):
        return "training length, width and search differ"
    if protocol["extractor"] != "inception":
        return "features, training length and search differ"
    return "sample counts or reference split, training length and search differ"


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
        f"show that the paper's FID values are reproduced ({_differ(s.protocol)}), and with "
        "this few models and seeds even ρ = 1 is weak evidence (the p-value tests against no "
        "association, not against the paper).",
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
        lines += _run_notes(s) + _prdc_md(s) + _paper_md(s, lucic.models)
        if side_by_side(s):
            lines += _side_by_side_md(s, lucic.models)
        lines += _sanity_md(s) + _spearman_md(s)
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
