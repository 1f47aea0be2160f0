"""What a run shows while it trains: a tqdm bar on the terminal and the training curves through
DVCLive (``dvc plots show``, ``dvc exp show`` and the DVC editor extension read them live).

The curves are the loop's history (mean losses per logging window), which resumes with the run:
on resume DVCLive's directory is rewritten from the restored history, so it never holds rows of
steps the run is about to train again.
"""

from __future__ import annotations

from pathlib import Path

from dvclive import Live


class FilesOnlyLive(Live):
    """DVCLive's files (``plots/metrics/<name>.tsv``, ``metrics.json``) without its own
    experiment tracking: the train stage runs inside DVC, which records the experiment, and
    DVCLive's git lookup fails in a repository without a commit yet."""

    def _init_dvc(self) -> None:
        pass


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
            self.live.end()

    def update(self) -> None:
        self.bar.update(1)

    def start_live(self, history: list[dict[str, float]]) -> None:
        """Open DVCLive at ``live_dir`` (cleared) and replay ``history`` (a resumed run's)."""
        if self.live_dir is None:
            return
        self.live = FilesOnlyLive(
            str(self.live_dir), resume=False, save_dvc_exp=False, dvcyaml=None, report=None
        )
        for row in history:
            self._live_row(row)

    def log(self, row: dict[str, float]) -> None:
        self.bar.set_postfix({k: f"{v:.3g}" for k, v in row.items() if k != "step"}, refresh=False)
        if self.live is not None:
            self._live_row(row)

    def _live_row(self, row: dict[str, float]) -> None:
        self.live.step = int(row["step"])
        for k, v in row.items():
            if k != "step":
                self.live.log_metric(k, v)
        self.live.make_summary()
