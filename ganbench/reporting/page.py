"""The generic parts of every study's page: what was run, our results per dataset, the published
table, figures, sample grids. Pure functions of a :class:`Report`; files go to an :class:`Output`.

Our numbers are the best checkpoint (lowest FID) of each run's headline generator (the EMA of G
when the run keeps one), mean ± std over the seeds whose run ended ok; the published numbers sit
under headings of their own and are never in a column of ours.
"""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd

from ganbench.data import DATASETS
from ganbench.reporting import figures
from ganbench.reporting.context import Output, Report
from ganbench.reporting.records import GENERATORS, UNTRUNCATED, evaluation_file, psi_order
from ganbench.reporting.tables import (
    DASH,
    md_table,
    measurement_differences,
    prdc_intro,
    prdc_table,
    published_table,
    value,
    variant_table,
)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _per_variant(values: dict[str, str]) -> str:
    """``value (every variant)`` or ``a (v1, v2); b (v3)``, in variant order."""
    groups: dict[str, list[str]] = {}
    for variant, v in values.items():
        groups.setdefault(v, []).append(variant)
    if len(groups) == 1:
        return f"{next(iter(groups))} (every variant)"
    return "; ".join(f"{v} ({', '.join(names)})" for v, names in groups.items())


def flat(recipe: dict, prefix: str = "") -> dict[str, Any]:
    """``{"arch": {"ch": 4}}`` -> ``{"arch.ch": 4}``."""
    out: dict[str, Any] = {}
    for key, v in recipe.items():
        if isinstance(v, dict):
            out |= flat(v, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = v
    return out


def differences(recipe: dict, reference: dict) -> dict[str, Any]:
    """The recipe keys whose values differ from ``reference`` (None where a key is missing)."""
    a, b = flat(recipe), flat(reference)
    return {k: a.get(k) for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)}


def _recipe_md(r: Report) -> list[str]:
    """The baseline's recipe as recorded, and what each variant changes in it."""
    first, base = r.study.datasets[0], r.study.baseline
    recipe = r.settings(first, base)["recipe"]
    blocks = "; ".join(
        f"{block} " + ", ".join(f"{k} {value(v)}" for k, v in flat(fields).items())
        for block, fields in recipe.items()
    )
    lines = [
        f"- **Recipe** (the baseline `{base}`, as recorded; one step = one D update): {blocks}."
    ]
    for dataset in r.study.datasets[1:]:
        diff = differences(r.settings(dataset, base)["recipe"], recipe)
        if diff:
            changes = ", ".join(f"{k} {value(v)}" for k, v in diff.items())
            lines.append(f"- On `{dataset}` the baseline differs: {changes}.")
    lines.append("- **Variants** and how they differ from the baseline:")
    for v in r.study.variants:
        diff = differences(r.settings(first, v)["recipe"], recipe)
        changes = ", ".join(f"{k} {value(x)}" for k, x in diff.items()) or "the baseline recipe"
        lines.append(f"  - `{v}` ({r.variant_label(v)}): {changes}.")
    return lines


def _search_md(r: Report) -> list[str]:
    """With a search: the trials behind the rows, whose recipes are each variant's chosen one."""
    t = r.records.trials
    if t.empty:
        return []
    return [
        f"- **Search**: {_n(len(r.study.search.trials), 'trial')} per variant and dataset = "
        f"{_n(len(t), 'trial run')} (see *Hyperparameter search*); every row re-runs its "
        "variant's chosen setting, so the recipes below are the chosen ones."
    ]


def _protocol_md(r: Report, dataset: str) -> str:
    p, classifier = r.protocols[dataset], r.classifiers[dataset]
    net = f"{p['extractor']}, {p['feature_dim']}-d, weights sha256 `{p['weights_sha256'][:12]}…`"
    if classifier is not None:
        net += f"; test accuracy {classifier['test_accuracy'] * 100:.1f}%" + (
            f" after {classifier['epochs']} epochs" if classifier["epochs"] else ""
        )
    return (
        f"- **Protocol** (`{dataset}`): FID, KID, IS and precision/recall/density/coverage on "
        f"`{p['extractor_label']}` features ({net}); {p['n_fake']:,} generated vs "
        f"{p['n_real']:,} real images of the `{p['reference_split']}` split; KID over "
        f"{p['kid_subsets']} subsets of {p['kid_subset_size']}, IS over {p['is_splits']} splits, "
        f"k = {p['prdc_k']}; G's BatchNorm statistics re-estimated over "
        f"{p['standing_stats_batches']} batches of {p['standing_stats_batch_size']}; evaluation "
        f"seed {p['seed']}. Every checkpoint is scored for G and, when the run keeps one, its EMA."
    )


def _scale_md(r: Report) -> list[str]:
    """Our numbers are not on the paper's scale; say how the measurement differs."""
    if r.published is None:
        return []
    t = r.published
    diffs = {d: measurement_differences(r.protocols[d], t) for d in r.study.datasets}
    how = "; ".join(
        f"`{d}`: " + ("measured as theirs" if not x else "ours differs in " + ", ".join(x))
        for d, x in diffs.items()
    )
    return [
        f"The published numbers ({t.paper}, {t.title}) are {t.scale}. Ours are small runs "
        f"({how}), trained far shorter on smaller networks with one setting, so they are never "
        "on the paper's scale: compare the direction of each effect and the order of the "
        "variants, not values.",
        "",
    ]


def header_md(r: Report) -> list[str]:
    s, runs = r.study, r.records.runs
    first = {v: r.settings(s.datasets[0], v) for v in s.variants}
    lines = [
        f"# {s.report.title or r.name}: ganbench at small scale",
        "",
        f"Generated by `stages/report.py --study {r.name}` from the run records; regenerate with "
        "`dvc repro` (the whole pipeline, training included). Do not edit by hand. Every number "
        "is ours unless it is under a heading that starts with *Published*.",
        "",
        "## What was run",
        "",
    ]
    for d in s.datasets:
        c, h, w = DATASETS.get(d).image_shape
        kinds = {
            v: "class-conditional" if r.settings(d, v)["recipe"]["training"]["conditional"]
            else "unconditional"
            for v in s.variants
        }  # fmt: skip
        classes = DATASETS.get(d).num_classes
        lines.append(f"- **Data**: `{d}` ({c}×{h}×{w}, {classes} classes); {_per_variant(kinds)}.")
    protocols = [rec["protocol"] for rec in r.records.by_run.values()]
    devices = sorted({f"train {p['train_device']}, eval {p['device']}" for p in protocols})
    versions = sorted(
        {", ".join(f"{k} {v}" for k, v in sorted(p["versions"].items())) for p in protocols}
    )
    lines += [
        f"- **Rows**: {_n(len(s.variants), 'variant')} × {_n(len(s.seeds), 'seed')} "
        f"({', '.join(map(str, s.seeds))}) × {_n(len(s.datasets), 'dataset')} = "
        f"{_n(len(runs), 'run')}; baseline `{s.baseline}`.",
        *_search_md(r),
        *_recipe_md(r),
        "- **Generator scored** (its best checkpoint gives the headline numbers): "
        + _per_variant({v: GENERATORS[rec["generator"]] for v, rec in first.items()})
        + ".",
        *(_protocol_md(r, d) for d in s.datasets),
        f"- **Devices**: {'; '.join(devices)}. **Software**: {'; '.join(versions)}.",
        "",
    ]
    return lines + _scale_md(r)


def _run_notes(r: Report, dataset: str) -> list[str]:
    notes = []
    runs = r.runs(dataset)
    for x in runs[runs["status"] != "ok"].itertuples():
        if x.status == "diverged":
            notes.append(f"- `{x.variant}` seed {x.seed} diverged at step {x.diverged_at_step}.")
        else:
            notes.append(f"- `{x.variant}` seed {x.seed} failed: {x.reason}.")
    return ["Excluded seeds:", "", *notes, ""] if notes else ["Every seed ended ok.", ""]


def results_md(r: Report, dataset: str) -> list[str]:
    label, k = r.label(dataset), r.protocols[dataset]["prdc_k"]
    return [
        f"## Our results (`{dataset}`, {label} features)",
        "",
        *md_table(*variant_table(r, dataset)),
        "Each run contributes its best checkpoint (lowest FID) of the generator in 'G scored'. "
        "Mean ± std over the seeds whose run ended ok (std with ddof = 1; n/a with one). "
        "Diverged and failed seeds are excluded from every mean and counted in 'seeds ok / "
        "total' (Lucic et al. 2018 count a NaN generator as a failed run).",
        "",
        f"ΔFID and ΔIS: the row's mean minus the baseline's (`{r.study.baseline}`), with a 95% "
        "Welch t interval (unequal variances, Welch–Satterthwaite degrees of freedom); n/a with "
        "fewer than 2 ok seeds in either group. Verdict (FID lower, IS higher is better): "
        "*better* or *worse* when the interval excludes 0, *within noise* otherwise. With this "
        "few seeds the intervals are wide: *within noise* is not evidence of no effect.",
        "",
        *_run_notes(r, dataset),
        f"### Precision, recall, density, coverage (`{dataset}`, {label} features, k = {k})",
        "",
        prdc_intro(label, k),
        "",
        *md_table(*prdc_table(r, dataset)),
    ]


def published_md(r: Report) -> list[str]:
    if r.published is None:
        return []
    mapped: dict[str, list[str]] = {}
    for v, variant in r.study.variants.items():
        for key in variant.paper_rows:
            mapped.setdefault(key, []).append(v)
    return published_table(r.published, r.study.datasets, mapped)


def figures_md(r: Report, out: Output) -> list[str]:
    s, labels = r.study, {d: r.label(d) for d in r.study.datasets}
    c = r.records.checkpoints
    ok = c[c["headline"] & (c["status"] == "ok")]
    out.figures[f"{r.fig_dir}/fid_vs_step.png"] = figures.fid_vs_step(
        ok, s.datasets, list(s.variants), labels
    )
    out.figures[f"{r.fig_dir}/fid_per_seed.png"] = figures.fid_per_seed(
        r.records.runs, s.datasets, list(s.variants), labels
    )
    return [
        "## Figures",
        "",
        f"![FID against training step]({r.fig_dir}/fid_vs_step.png)",
        "",
        "FID of the headline G against training step per variant: mean over the ok seeds, band "
        "from min to max.",
        "",
        f"![best-checkpoint FID per seed]({r.fig_dir}/fid_per_seed.png)",
        "",
        "Best-checkpoint FID per seed (dots) and mean (bar) per variant.",
        "",
    ]


def grids_md(r: Report, dataset: str, out: Output) -> list[str]:
    """Each variant's grids (untruncated, then each psi) of its lowest ok seed, best checkpoint."""
    shown = {v: r.shown_seed(dataset, v) for v in r.study.variants}
    recs = {v: r.record(dataset, v, seed) for v, seed in shown.items() if seed is not None}
    keys = sorted({k for rec in recs.values() for k in rec["grids"]}, key=psi_order)
    rows = []
    for v in r.study.variants:
        if v not in recs:
            rows.append([f"`{v}` (no ok run)", *(DASH for _ in keys)])
            continue
        cells = [f"`{v}` (seed {shown[v]})"]
        for key in keys:
            if key not in recs[v]["grids"]:
                cells.append(DASH)
                continue
            name = f"samples_{dataset}_{v}" + ("" if key == UNTRUNCATED else f"_psi{key}")
            out.copies[f"{r.fig_dir}/{name}.png"] = evaluation_file(
                recs[v], f"grids.{key}", r.evaluations_dir
            )
            cells.append(f"![{v} ψ {key}]({r.fig_dir}/{name}.png)")
        rows.append(cells)
    header = ["variant (seed)", *("untruncated" if k == UNTRUNCATED else f"ψ = {k}" for k in keys)]
    return [
        f"## Sample grids (`{dataset}`)",
        "",
        "The lowest ok seed of each variant, its best checkpoint and headline G.",
        "",
        *md_table(header, rows),
    ]


def data_md(r: Report, out: Output) -> list[str]:
    files = [f"{r.name}.csv", f"{r.name}.json", f"{r.name}/fid_curves.csv", *out.texts]
    links = ", ".join(f"[{f}]({f})" for f in dict.fromkeys(files))
    return ["## Data", "", f"{links} (`dvc metrics show`, `dvc plots show`).", ""]


def _csv(v: Any) -> Any:
    return ";".join(map(str, v)) if isinstance(v, (list, tuple)) else v


def summary_csv(r: Report) -> str:
    """``<study>.csv``: per dataset and variant, what it is (label, published rows, generator,
    G/D sizes, the recipe keys that differ between variants) and its summary statistics."""
    frames = []
    for d in r.study.datasets:
        recipes = {v: flat(r.settings(d, v)["recipe"]) for v in r.study.variants}
        varying = [k for k in dict.fromkeys(k for x in recipes.values() for k in x)
                   if len({value(x.get(k)) for x in recipes.values()}) > 1]  # fmt: skip
        rows = []
        for v in r.study.variants:
            rec = r.settings(d, v)
            rows.append(
                {"dataset": d, "variant": v, "label": r.variant_label(v)}
                | {"paper_rows": ";".join(r.study.variants[v].paper_rows)}
                | {"generator": rec["generator"], "features": r.label(d)}
                | {"prdc_k": r.protocols[d]["prdc_k"]}
                | {"params_g": rec["params"]["G"], "params_d": rec["params"]["D"]}
                | {k: _csv(recipes[v].get(k)) for k in varying}
            )
        frames.append(pd.DataFrame(rows).merge(r.summaries[d], on="variant", validate="1:1"))
    return pd.concat(frames, ignore_index=True).to_csv(index=False, lineterminator="\n")


CURVE_COLUMNS = ["run", "variant", "seed", "step", "fid", "kid_mean", "is_mean"]


def curves_csv(r: Report) -> str:
    """``<study>/fid_curves.csv``: the headline G's scored checkpoints of every run (diverged runs
    up to their last finite one), in dataset, variant, seed, step order."""
    c = r.records.checkpoints
    c = c[c["headline"]]
    pairs = itertools.product(r.study.datasets, r.study.variants)
    order = {pair: i for i, pair in enumerate(pairs)}
    keys = [order[(d, v)] for d, v in zip(c["dataset"], c["variant"], strict=True)]
    c = c.assign(_order=keys).sort_values(["_order", "seed", "step"], kind="stable")
    return c[CURVE_COLUMNS].to_csv(index=False, lineterminator="\n")
