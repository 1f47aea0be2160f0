"""What a run shows while it trains: a tqdm bar on the terminal and the training curves in DVCLive's
file layout (``dvc plots show``, ``dvc exp show`` and the DVC editor extension read them live).

The curves are the loop's history (mean losses per logging window), which resumes with the run:
on resume the curves' directory is rewritten from the restored history, so it never holds rows of
steps the run is about to train again.

The files are the ones DVCLive's ``Live`` writes for ``log_metric`` and ``make_summary`` (inside a
DVC pipeline, without its own experiment tracking, report or dvc.yaml), byte for byte, written
here: importing dvclive (with pandas and part of DVC) cost a train stage about 0.5 s of CPU, more
than everything it wrote (tests/test_stage_overhead.py checks the bytes against DVCLive's).
"""

from __future__ import annotations

import csv
import glob
import json
import math
import os
import shutil
from pathlib import Path

METRICS = "metrics.json"  # DVCLive's summary: the latest value of each curve and the step
PLOTS = "plots"
CURVES = "metrics"  # plots/metrics/<name>.tsv: one "step<TAB>value" row per logging window
# what DVCLive clears when it starts without resuming (its plot types' folders, its files)
_CLEARED_DIRS = ("metrics", "images", "sklearn", "custom")
_CLEARED_FILES = (METRICS, "params.yaml", "report.html", "report.md")


class LiveCurves:
    """Training curves in DVCLive's layout: ``plots/metrics/<name>.tsv`` and ``metrics.json``."""

    def __init__(self, live_dir: str | os.PathLike) -> None:
        """Clear ``live_dir`` of a previous run's curves, as DVCLive does without ``resume``."""
        self.dir = Path(live_dir)
        for sub in _CLEARED_DIRS:
            shutil.rmtree(self.dir / PLOTS / sub, ignore_errors=True)
        for name in _CLEARED_FILES:
            (self.dir / name).unlink(missing_ok=True)
        for dvc_file in glob.glob(os.path.join(self.dir, "**dvc.yaml")):  # DVCLive's pattern
            os.remove(dvc_file)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.summary: dict[str, float | str | int] = {}
        self.step: int | None = None

    def log(self, rows: list[dict[str, float]]) -> None:
        """Append ``rows`` (each a ``step`` and its values) to the curves; rewrite the summary."""
        if not rows:
            return
        by_name: dict[str, list[tuple[int, float | str]]] = {}
        for row in rows:
            step = int(row["step"])
            for name, value in row.items():
                if name == "step":
                    continue
                if not isinstance(value, str) and (math.isnan(value) or math.isinf(value)):
                    value = str(value)  # as DVCLive logs a non-finite value
                by_name.setdefault(name, []).append((step, value))
                self.summary[name] = value
            self.step = step
            self.summary["step"] = step
        folder = self.dir / PLOTS / CURVES
        folder.mkdir(parents=True, exist_ok=True)
        for name, points in by_name.items():
            path = folder / f"{name}.tsv"
            existed = path.exists()
            with open(path, "a", encoding="utf-8", newline="") as f:
                writer = csv.writer(f, delimiter="\t", lineterminator=os.linesep)
                if not existed:
                    writer.writerow(["step", name])
                writer.writerows(points)
        self.write_summary()

    def write_summary(self) -> None:
        with open(self.dir / METRICS, "w", encoding="utf-8") as f:
            json.dump(self.summary, f, indent=4)
            f.write("\n")


class Progress:
    """``update()`` per step; ``log(row)`` per logging window (every :attr:`log_every` steps)."""

    log_every = 50

    def __init__(
        self, name: str, total: int, initial: int, live_dir: Path | None, *, show: bool
    ) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total, initial=initial, unit="step", disable=not show, desc=name, mininterval=1.0
        )
        self.live_dir, self.live = live_dir, None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()
        if self.live is not None:
            self.live.write_summary()

    def update(self) -> None:
        self.bar.update(1)

    def start_live(self, history: list[dict[str, float]]) -> None:
        """Open the curves at ``live_dir`` (cleared) and replay ``history`` (a resumed run's)."""
        if self.live_dir is None:
            return
        self.live = LiveCurves(self.live_dir)
        self.live.log(history)

    def log(self, row: dict[str, float]) -> None:
        self.bar.set_postfix({k: f"{v:.3g}" for k, v in row.items() if k != "step"}, refresh=False)
        if self.live is not None:
            self.live.log([row])
