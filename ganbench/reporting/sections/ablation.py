"""Sections of the architecture ablations: training curves set against a paper's stabilisation
figure (Zhang et al. 2019, Figure 3), attention maps, and the truncation trick with the share of
runs amenable to it (Brock et al. 2019)."""

from __future__ import annotations

import math

import pandas as pd

from ganbench.reporting import figures
from ganbench.reporting.context import Output, Report
from ganbench.reporting.records import UNTRUNCATED, evaluation_file, psi_order
from ganbench.reporting.sections.registry import SECTIONS, published
from ganbench.reporting.stats import (
    AMENABLE_CRITERION,
    Share,
    amenable_share,
    amenable_to_truncation,
    mean_std,
)
from ganbench.reporting.tables import DASH, md_table, pm

CURVE_COLUMNS = ["dataset", "variant", "seed", "status", "step", "generator", "fid", "is_mean"]
CURVE_COLUMNS += ["kid_mean"]
MEAN_COLUMNS = ["dataset", "variant", "psi", "n_runs", "fid_mean", "fid_std", "is_mean", "is_std"]


@SECTIONS.register("stabilisation")
def stabilisation(r: Report, out: Output) -> list[str]:
    """FID at every checkpoint of the variants that stand for the published table's curve rows
    (``meta["curves"]``: the column values that mark them, e.g. SAGAN's Figure 3), with the
    paper's finding for each curve. ``<study>/stabilisation.csv`` is written even when empty."""
    t = published(r, "stabilisation", "curves")
    curve_rows = [x for x in t.rows() if all(x[k] == v for k, v in t.meta["curves"].items())]
    keys = {x[t.key_column] for x in curve_rows}
    shown = [v for v, x in r.study.variants.items() if keys & set(x.paper_rows)]
    order = {v: i for i, v in enumerate(shown)}
    c = r.records.checkpoints
    c = c[c["headline"] & c["variant"].isin(order)]
    c = c.assign(_order=c["variant"].map(order)).sort_values(["dataset", "_order", "seed", "step"])
    out.texts[f"{r.name}/stabilisation.csv"] = c[CURVE_COLUMNS].to_csv(
        index=False, lineterminator="\n"
    )
    findings = "; ".join(f"{t.row_name(x)}: {x.get('finding') or DASH}" for x in curve_rows)
    lines = [
        f"## Stabilisation ({t.paper}, {', '.join(t.meta['curves'].values())})",
        "",
        f"FID of the headline G at every checkpoint of the variants that stand for the paper's "
        f"curves. The paper's findings: {findings}.",
        "",
    ]
    if not shown:
        return lines + ["No variant stands for these curves (their `paper_rows`).", ""]
    path = f"{r.fig_dir}/stabilisation.png"
    labels = {d: r.label(d) for d in r.study.datasets}
    out.figures[path] = figures.stabilisation(c, r.study.datasets, shown, labels)
    lines += [
        f"![FID against training step]({path})",
        "",
        "Thick lines: mean over the ok seeds; thin lines: each seed (dashed: a seed that did not "
        "end ok, up to its last finite checkpoint).",
        "",
    ]
    for d in r.study.datasets:
        ok, runs = c[(c["dataset"] == d) & (c["status"] == "ok")], r.runs(d)
        steps = sorted(ok["step"].unique())
        rows = []
        for v in shown:
            n_ok = int(((runs["variant"] == v) & (runs["status"] == "ok")).sum())
            cells = [f"`{v}`", r.paper_row_names(v)]
            for step in steps:
                fids = ok.loc[(ok["variant"] == v) & (ok["step"] == step), "fid"]
                cell = pm(*mean_std(fids), 1)
                cells.append(cell + (f" (n={len(fids)})" if 0 < len(fids) < n_ok else ""))
            bad = runs[(runs["variant"] == v) & (runs["status"] != "ok")]
            cells.append(", ".join(f"seed {x.seed} {x.status}" for x in bad.itertuples()) or DASH)
            rows.append(cells)
        header = ["variant", "stands for", *(f"FID at step {s:,}" for s in steps), "not ok"]
        lines += [f"### `{d}`", "", *md_table(header, rows)]
    return lines + [
        "Mean ± std over the ok seeds with a finite checkpoint at that step (n when fewer). "
        f"Data: [{r.name}/stabilisation.csv]({r.name}/stabilisation.csv).",
        "",
    ]


@SECTIONS.register("attention_maps")
def attention_maps(r: Report, out: Output) -> list[str]:
    """The attention-map figure of each variant's shown seed (records' ``attention_figure``)."""
    lines = [
        "## Attention maps",
        "",
        "For each variant whose generator has attention (the lowest ok seed): one generated "
        "image with query locations marked on a ring around its centre, and for each query "
        "where G's last attention block attends: its softmax weights over the key positions, as "
        "a heat map over the image. Weight spread along the object rather than around the "
        "query is the long-range dependency self-attention is meant to model (Zhang et al. 2019).",
        "",
    ]
    for d in r.study.datasets:
        for v in r.study.variants:
            seed = r.shown_seed(d, v)
            rec = None if seed is None else r.record(d, v, seed)
            if rec is None or rec["attention_figure"] is None:
                continue
            path = f"{r.fig_dir}/attention_{d}_{v}.png"
            out.copies[path] = evaluation_file(rec, "attention_figure", r.evaluations_dir)
            lines += [
                f"**`{v}`** (`{d}`, seed {seed})",
                "",
                f"![attention maps of {v}]({path})",
                "",
            ]
    if len(lines) == 6:
        lines += ["No shown run has an attention figure.", ""]
    return lines + _extra_block_parameters(r)


def _extra_block_parameters(r: Report) -> list[str]:
    """Each extra block of each variant (attention or its residual control, in G and in D) with
    the parameters of both kinds at its width: SAGAN's control has the attention's count."""
    from ganbench.models.attention import SelfAttention
    from ganbench.models.resnet import ResidualControl

    def count(module) -> int:
        return sum(p.numel() for p in module.parameters())

    rows = []
    for v in r.study.variants:
        arch = r.study.recipe_for(v, "").arch.fields()
        for net in ("g", "d"):
            for size in arch.get(f"{net}_attention", ()):
                c = _block_channels(r, v, net, size)
                att = count(SelfAttention(c, spectral_norm=False))
                res = count(ResidualControl(c, spectral_norm=False, init="ortho"))
                rows.append([f"`{v}`", net.upper(), f"{size}x{size}", str(c), arch.get("attention_block", "attention"),
                             f"{att:,}", f"{res:,}"])  # fmt: skip
    if not rows:
        return []
    head = ["variant", "net", "feature map", "channels", "block used", "attention block params",
            "residual control params"]  # fmt: skip
    return [
        "Extra blocks and their parameters: SAGAN's Table 1 sets self-attention against "
        '"residual blocks with the same number of parameters" (sec. 5.2); the control here, '
        "x + γ·conv1x1(ReLU(conv3x3(ReLU(x)))) through C/8 channels, has exactly the attention "
        "block's 1.25·C² + 1 (`ganbench/models/resnet.py`, `ResidualControl`).",
        "",
        *md_table(head, rows),
    ]


def _block_channels(r: Report, variant: str, net: str, size: int) -> int:
    """Channels of the ``size`` x ``size`` feature map in G or D (the study's first dataset)."""
    from ganbench.config import validate
    from ganbench.data import DATASETS
    from ganbench.models import ResNetParams, resnet_config

    fields = {k: v for k, v in r.study.recipe_for(variant, "").arch.fields().items() if k != "name"}
    source = DATASETS.get(r.study.datasets[0])
    cfg = resnet_config(validate(ResNetParams, fields, "arch"), tuple(source.image_shape), 0)
    sizes = cfg.g_resolutions if net == "g" else cfg.d_resolutions
    channels = cfg.g_channels if net == "g" else cfg.d_channels
    return channels[list(sizes).index(size)]


def _psi_key(psi: float) -> str:
    return UNTRUNCATED if psi is None or not math.isfinite(psi) else f"{psi:g}"


def _means(r: Report) -> pd.DataFrame:
    """Mean ± std over the ok seeds per (dataset, variant, psi): what the truncation figure plots."""
    t = r.records.truncation
    t = t[t["status"] == "ok"].assign(key=[_psi_key(p) for p in t.loc[t["status"] == "ok", "psi"]])
    rows = []
    for d in r.study.datasets:
        for v in r.study.variants:
            tv = t[(t["dataset"] == d) & (t["variant"] == v)]
            for key in sorted(set(tv["key"]), key=psi_order):
                sel = tv[tv["key"] == key]
                (fm, fs), (im, is_) = mean_std(sel["fid"]), mean_std(sel["is_mean"])
                rows.append(
                    dict(zip(MEAN_COLUMNS, (d, v, key, len(sel), fm, fs, im, is_), strict=True))
                )
    return pd.DataFrame(rows, columns=MEAN_COLUMNS)


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


@SECTIONS.register("truncation")
def truncation(r: Report, out: Output) -> list[str]:
    """The truncation sweep (IS against FID, ``<study>/truncation.csv``, written even when empty)
    and the share of ok runs amenable to truncation with and without orthogonal regularisation,
    beside the paper's (``meta["amenable_percent"]`` of the published table, when it has one)."""
    means = _means(r)
    out.texts[f"{r.name}/truncation.csv"] = means.to_csv(index=False, lineterminator="\n")
    lines = ["## Truncation and orthogonal regularisation", ""]
    if means.empty:
        return lines + [
            f"The records have no truncation sweep (params `studies.{r.name}.recipe.evaluation."
            "truncation` is empty): no curves and no amenability shares.",
            "",
        ]
    path = f"{r.fig_dir}/truncation.png"
    labels = {d: r.label(d) for d in r.study.datasets}
    out.figures[path] = figures.truncation(means, r.study.datasets, list(r.study.variants), labels)
    lines += [
        "Truncation: z ~ N(0, I) with every entry |z| > ψ resampled; a smaller ψ trades "
        "variety (FID) for fidelity (IS). Each curve is one variant's sweep on the best "
        "checkpoint of its headline G, mean over the ok seeds per ψ (square: untruncated).",
        "",
        f"![IS against FID over the truncation sweep]({path})",
        "",
        f"Data: [{r.name}/truncation.csv]({r.name}/truncation.csv).",
        "",
        f"**Amenable to truncation.** Here {AMENABLE_CRITERION}.",
        "",
    ]
    paper = r.published.meta.get("amenable_percent") if r.published else None
    for d in r.study.datasets:
        flags, counts, ortho = {}, [], {}
        for v in r.study.variants:
            flags[v] = [amenable_to_truncation(rec["truncation"]) for rec in r.ok_records(d, v)]
            share = amenable_share(flags[v])
            ortho[v] = r.settings(d, v)["recipe"]["training"]["ortho_beta"]
            beta = f"{ortho[v]:g}" if ortho[v] else "off"
            counts.append([f"`{v}`", beta, str(share.judged), str(share.amenable)])
        lines += [
            f"### `{d}`",
            "",
            *md_table(["variant", "ortho β", "ok runs with a sweep", "amenable"], counts),
        ]
        summary = {}
        for key, with_ortho, what in (
            ("with_ortho", True, "with orthogonal regularisation, ortho β > 0"),
            ("without_ortho", False, "without orthogonal regularisation, ortho β = 0"),
        ):
            names = [v for v in r.study.variants if (ortho[v] > 0) == with_ortho]
            share = amenable_share(f for v in names for f in flags[v])
            lines.append("- " + _share_text(names, share, what))
            percent = share.percent if math.isfinite(share.percent) else None
            summary[key] = {"amenable": share.amenable, "judged": share.judged, "percent": percent}
        if paper:
            lines.append(
                f"- {r.published.paper} ({r.published.scale}): {paper['without_ortho']}% of their "
                f"models amenable without orthogonal regularisation, {paper['with_ortho']}% with it."
            )
        lines.append("")
        out.summary.setdefault(d, {})["amenable"] = summary
    return lines
