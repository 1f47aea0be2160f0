"""Figures of the Lucic et al. report, drawn with matplotlib's Agg canvas.

Figures are built as ``matplotlib.figure.Figure`` objects on an Agg canvas (no pyplot, no global
backend switch) under matplotlib's default style, so a user's matplotlibrc cannot change them, and
saved without the ``Software`` metadata: the same inputs give byte-identical PNGs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
import matplotlib.style
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ganbench.io import atomic_path
from ganbench.reporting.published import dataset_name, model_name

DPI = 100
PANEL_SIZE = (5.0, 3.8)  # inches per dataset panel


def _figure(n_panels: int) -> tuple[Figure, list]:
    fig = Figure(figsize=(PANEL_SIZE[0] * n_panels, PANEL_SIZE[1]), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    return fig, list(axes)


def _save(fig: Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    return Path(path)


def _log_y(ax) -> None:
    """Log y axis labelled with plain numbers (40, 60, 100), not 4×10¹."""
    ax.set_yscale("log")
    # LogFormatter picks which minor ticks to label (few over a wide range), as the default does
    ax.yaxis.set_major_formatter(mticker.LogFormatter())
    ax.yaxis.set_minor_formatter(mticker.LogFormatter(labelOnlyBase=False))


def _colors(models: Sequence[str]) -> dict[str, tuple]:
    cmap = mpl.colormaps["tab10"]
    return {m: cmap(i % 10) for i, m in enumerate(models)}


def plot_fid_vs_step(
    checkpoints: pd.DataFrame,
    datasets: Sequence[str],
    models: Sequence[str],
    labels: Mapping[str, str],
    path: Path,
) -> Path:
    """FID against training step, one panel per dataset: mean over seeds, band from min to max.

    ``checkpoints`` has columns dataset, model, seed, step, fid (the ok runs' checkpoints);
    ``labels`` maps a dataset to its feature extractor's label for the y axis.
    """
    colors = _colors(models)
    with mpl.style.context("default"):
        fig, axes = _figure(len(datasets))
        for ax, dataset in zip(axes, datasets, strict=True):
            for model in models:
                c = checkpoints[
                    (checkpoints["dataset"] == dataset) & (checkpoints["model"] == model)
                ]
                if c.empty:
                    continue
                by_step = c.groupby("step")["fid"].agg(["mean", "min", "max"]).sort_index()
                steps = by_step.index.to_numpy()
                ax.plot(
                    steps,
                    by_step["mean"],
                    marker="o",
                    ms=3,
                    color=colors[model],
                    label=f"{model_name(model)} (n={c['seed'].nunique()})",
                )
                ax.fill_between(
                    steps,
                    by_step["min"],
                    by_step["max"],
                    color=colors[model],
                    alpha=0.15,
                    linewidth=0,
                )
            _log_y(ax)
            ax.set_title(dataset_name(dataset))
            ax.set_xlabel("training step (D updates)")
            ax.set_ylabel(f"FID ({labels[dataset]} features)")
            ax.grid(True, which="both", alpha=0.3)
            if ax.has_data():
                ax.legend(fontsize="small")
        return _save(fig, path)


def plot_fid_per_seed(
    runs: pd.DataFrame,
    datasets: Sequence[str],
    models: Sequence[str],
    labels: Mapping[str, str],
    baselines: Mapping[str, Mapping[str, Mapping]],
    path: Path,
) -> Path:
    """Best-checkpoint FID per model: one dot per ok seed, a bar at the mean; the sanity rows
    (``baselines[dataset]['real_train' | 'untrained_generator']['fid']``) as horizontal lines.

    A model's tick label counts its diverged and failed runs, which have no dot.
    """
    colors = _colors(models)
    x = np.arange(len(models))
    with mpl.style.context("default"):
        fig, axes = _figure(len(datasets))
        for ax, dataset in zip(axes, datasets, strict=True):
            ticks = []
            for i, model in enumerate(models):
                r = runs[(runs["dataset"] == dataset) & (runs["model"] == model)]
                ok = r[r["status"] == "ok"].sort_values("seed")
                # spread the seeds' dots evenly around the model's position
                offsets = np.linspace(-0.2, 0.2, len(ok)) if len(ok) > 1 else np.zeros(len(ok))
                ax.scatter(i + offsets, ok["fid"], s=18, color=colors[model], zorder=3)
                if len(ok):
                    ax.hlines(
                        ok["fid"].mean(), i - 0.3, i + 0.3, color="black", linewidth=2, zorder=4
                    )
                counts = [f"{(r['status'] == s).sum()} {s}" for s in ("diverged", "failed")]
                counts = [c for c in counts if not c.startswith("0 ")]
                ticks.append(model_name(model) + (f"\n({', '.join(counts)})" if counts else ""))
            for key, style, text in (
                ("real_train", "--", "real train (floor)"),
                ("untrained_generator", ":", "untrained G (ceiling)"),
            ):
                ax.axhline(
                    baselines[dataset][key]["fid"], linestyle=style, color="gray", label=text
                )
            ax.set_xticks(x, ticks, rotation=45, ha="right", fontsize="small")
            ax.set_xlim(-0.6, len(models) - 0.4)
            _log_y(ax)
            ax.set_title(dataset_name(dataset))
            ax.set_ylabel(f"best FID ({labels[dataset]} features)")
            ax.grid(True, axis="y", which="both", alpha=0.3)
            ax.legend(fontsize="small")
        return _save(fig, path)
