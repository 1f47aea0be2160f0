"""Figures, one panel per dataset, drawn with matplotlib's Agg canvas.

Figures are built as ``matplotlib.figure.Figure`` objects on an Agg canvas (no pyplot, no global
backend switch) under matplotlib's default style, so a user's matplotlibrc cannot change them, and
saved without the ``Software`` metadata: the same inputs give byte-identical PNGs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
import matplotlib.style
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ganbench.io import atomic_path
from ganbench.reporting.records import UNTRUNCATED

DPI = 100
PANEL_SIZE = (5.0, 3.8)  # inches per dataset panel


def _colors(variants: Sequence[str]) -> dict[str, tuple]:
    cmap = mpl.colormaps["tab10"]
    return {v: cmap(i % 10) for i, v in enumerate(variants)}


def _log_y(ax) -> None:
    """Log y axis labelled with plain numbers (40, 60, 100), not 4×10¹."""
    ax.set_yscale("log")
    # LogFormatter picks which minor ticks to label (few over a wide range), as the default does
    ax.yaxis.set_major_formatter(mticker.LogFormatter())
    ax.yaxis.set_minor_formatter(mticker.LogFormatter(labelOnlyBase=False))


def _fid_against_step_axes(ax, label: str) -> None:
    _log_y(ax)
    ax.set_xlabel("training step (D updates)")
    ax.set_ylabel(f"FID ({label} features)")
    ax.grid(True, which="both", alpha=0.3)


def _panels(data: pd.DataFrame, datasets: Sequence[str], draw: Callable, path: Path) -> Path:
    """One panel per dataset: ``draw(ax, rows of that dataset, dataset)``; saved to ``path``."""
    with mpl.style.context("default"):
        fig = Figure(figsize=(PANEL_SIZE[0] * len(datasets), PANEL_SIZE[1]), layout="constrained")
        FigureCanvasAgg(fig)
        for ax, dataset in zip(
            fig.subplots(1, len(datasets), squeeze=False)[0], datasets, strict=True
        ):
            draw(ax, data[data["dataset"] == dataset], dataset)
            ax.set_title(dataset)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize="small")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    return Path(path)


def fid_vs_step(
    checkpoints: pd.DataFrame, datasets: Sequence[str], variants: Sequence[str], labels: Mapping
) -> Callable[[Path], Path]:
    """FID of the headline G against training step: mean over the ok seeds, band min to max.
    ``labels``: dataset -> its feature extractor, for the y axis."""
    colors = _colors(variants)

    def draw(ax, c: pd.DataFrame, dataset: str) -> None:
        for v in variants:
            cv = c[c["variant"] == v]
            if cv.empty:
                continue
            by_step = cv.groupby("step")["fid"].agg(["mean", "min", "max"]).sort_index()
            steps = by_step.index.to_numpy()
            label = f"{v} (n={cv['seed'].nunique()})"
            ax.plot(steps, by_step["mean"], marker="o", ms=3, color=colors[v], label=label)
            ax.fill_between(
                steps, by_step["min"], by_step["max"], color=colors[v], alpha=0.15, linewidth=0
            )
        _fid_against_step_axes(ax, labels[dataset])

    return lambda path: _panels(checkpoints, datasets, draw, path)


def fid_per_seed(
    runs: pd.DataFrame, datasets: Sequence[str], variants: Sequence[str], labels: Mapping
) -> Callable[[Path], Path]:
    """Best-checkpoint FID per variant: one dot per ok seed, a bar at the mean. A variant's tick
    label counts its diverged and failed runs, which have no dot."""
    colors = _colors(variants)

    def draw(ax, r: pd.DataFrame, dataset: str) -> None:
        ticks = []
        for i, v in enumerate(variants):
            rv = r[r["variant"] == v]
            ok = rv[rv["status"] == "ok"].sort_values("seed")
            # spread the seeds' dots evenly around the variant's position
            offsets = np.linspace(-0.2, 0.2, len(ok)) if len(ok) > 1 else np.zeros(len(ok))
            ax.scatter(i + offsets, ok["fid"], s=18, color=colors[v], zorder=3)
            if len(ok):
                ax.hlines(ok["fid"].mean(), i - 0.3, i + 0.3, color="black", lw=2, zorder=4)
            counts = [f"{(rv['status'] == s).sum()} {s}" for s in ("diverged", "failed")]
            counts = [c for c in counts if not c.startswith("0 ")]
            ticks.append(v + (f"\n({', '.join(counts)})" if counts else ""))
        _strip_axes(ax, ticks, f"best FID ({labels[dataset]} features)")

    return lambda path: _panels(runs, datasets, draw, path)


def _strip_axes(ax, ticks: list[str], ylabel: str) -> None:
    """The axes of a strip plot: one labelled tick per group, FID on a log scale."""
    ax.set_xticks(np.arange(len(ticks)), ticks, rotation=45, ha="right", fontsize="small")
    ax.set_xlim(-0.6, len(ticks) - 0.4)
    _log_y(ax)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", which="both", alpha=0.3)


def stabilisation(
    curves: pd.DataFrame, datasets: Sequence[str], variants: Sequence[str], labels: Mapping
) -> Callable[[Path], Path]:
    """FID against step: a thick line per variant (mean over ok seeds), a thin one per seed
    (dashed: a seed that did not end ok, up to its last finite checkpoint)."""
    colors = _colors(variants)

    def draw(ax, c: pd.DataFrame, dataset: str) -> None:
        for v in variants:
            cv = c[c["variant"] == v]
            for _, s in cv.groupby("seed", sort=True):
                style = "-" if s["status"].iloc[0] == "ok" else "--"
                ax.plot(s["step"], s["fid"], style, color=colors[v], lw=0.8, alpha=0.5)
            ok = cv[cv["status"] == "ok"]
            if not ok.empty:
                mean = ok.groupby("step")["fid"].mean().sort_index()
                n = ok["seed"].nunique()
                label = f"{v} (mean of {n} ok seed{'s' if n != 1 else ''})"
                ax.plot(mean.index, mean.to_numpy(), "-o", color=colors[v], lw=2, ms=3, label=label)
        _fid_against_step_axes(ax, labels[dataset])

    return lambda path: _panels(curves, datasets, draw, path)


def truncation(
    means: pd.DataFrame, datasets: Sequence[str], variants: Sequence[str], labels: Mapping
) -> Callable[[Path], Path]:
    """IS against FID over each variant's truncation sweep (mean over seeds), points labelled ψ,
    a square at the untruncated point."""
    colors = _colors(variants)

    def draw(ax, m: pd.DataFrame, dataset: str) -> None:
        for v in variants:
            mv = m[m["variant"] == v]
            if mv.empty:
                continue
            ax.plot(mv["fid_mean"], mv["is_mean"], "-o", color=colors[v], ms=4, label=v)
            for psi, x, y in zip(mv["psi"], mv["fid_mean"], mv["is_mean"], strict=True):
                if psi == UNTRUNCATED:
                    ax.plot([x], [y], "s", ms=8, mfc="none", color=colors[v])
                text = "none" if psi == UNTRUNCATED else f"ψ={psi}"
                ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4),
                            fontsize="x-small", color=colors[v])  # fmt: skip
        ax.set_xlabel(f"FID ({labels[dataset]} features), lower is better")
        ax.set_ylabel(f"IS ({labels[dataset]}), higher is better")
        ax.grid(True, alpha=0.3)

    return lambda path: _panels(means, datasets, draw, path)


def _group_name(variant: str, phase: int, phases: int) -> str:
    return variant if phases == 1 else f"{variant}, phase {phase}"


def search_fid(
    trials: pd.DataFrame, datasets: Sequence[str], variants: Sequence[str], labels: Mapping
) -> Callable[[Path], Path]:
    """Best FID of every search trial per variant (and phase): one dot per trial that ended ok
    over a box of them; the tick label counts the trials that did not (they have no FID)."""
    colors, phases = _colors(variants), sorted(set(trials["phase"]))
    groups = [(v, p) for v in variants for p in phases]

    def draw(ax, t: pd.DataFrame, dataset: str) -> None:
        ticks = []
        for i, (v, phase) in enumerate(groups):
            tv = t[(t["variant"] == v) & (t["phase"] == phase)]
            ok = tv[tv["status"] == "ok"].sort_values("trial")
            offsets = np.linspace(-0.25, 0.25, len(ok)) if len(ok) > 1 else np.zeros(len(ok))
            ax.scatter(i + offsets, ok["fid"], s=14, color=colors[v], alpha=0.8, zorder=3)
            if len(ok):
                ax.boxplot(ok["fid"], positions=[i], widths=0.6, showfliers=False,
                           medianprops={"color": "black"}, zorder=2)  # fmt: skip
            counts = [
                f"{(tv['status'] == s).sum()} of {len(tv)} {s}" for s in ("diverged", "failed")
            ]
            counts = [c for c in counts if not c.startswith("0 ")]
            name = _group_name(v, phase, len(phases))
            ticks.append(name + (f"\n({', '.join(counts)})" if counts else ""))
        _strip_axes(ax, ticks, f"best FID of a trial ({labels[dataset]} features)")

    return lambda path: _panels(trials, datasets, draw, path)


def budget(
    curves: pd.DataFrame, datasets: Sequence[str], variants: Sequence[str], labels: Mapping
) -> Callable[[Path], Path]:
    """Best FID of k trials against the budget k (Lucic et al. 2018, Figure 4): bootstrap median
    per variant (the mean is not finite once a replicate draws only failed trials), band from
    the 2.5% to the 97.5% quantile; phase 2 dashed. A quantile is missing where that share of
    the replicates or more drew only failed trials."""
    colors, phases = _colors(variants), sorted(set(curves["phase"]))

    def draw(ax, c: pd.DataFrame, dataset: str) -> None:
        for v in variants:
            for phase in phases:
                cv = c[(c["variant"] == v) & (c["phase"] == phase)]
                style = "-" if phase == 1 else "--"
                name = _group_name(v, phase, len(phases))
                lo, median, hi = (cv[q].where(np.isfinite(cv[q])) for q in ("lo", "median", "hi"))
                ax.plot(cv["k"], median, style, color=colors[v], marker="o", ms=3, label=name)
                ax.fill_between(cv["k"], lo, hi, color=colors[v], alpha=0.12, linewidth=0)
        _log_y(ax)
        ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
        ax.set_xlabel("budget k (search trials)")
        ax.set_ylabel(f"best FID of k trials ({labels[dataset]} features)")
        ax.grid(True, which="both", alpha=0.3)

    return lambda path: _panels(curves, datasets, draw, path)
