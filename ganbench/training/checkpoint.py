"""Run directories: evaluation checkpoints, the resumable snapshot, the log and the status.

    runs/<run>/config.json                  the resolved RunSpec
    runs/<run>/checkpoints/step_<s>.pt      G weights at each evaluation point
    runs/<run>/resume.pt                    everything needed to continue bit-exactly
    runs/<run>/log.csv                      mean losses per logging window
    runs/<run>/status.json                  ok | diverged (with the step)

Everything is written atomically and read with ``weights_only=True``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ganbench.errors import UserError
from ganbench.io import atomic_path, read_json, torch_load, torch_save, write_json
from ganbench.plan import RunSpec

RESUME = "resume.pt"
CHECKPOINTS = "checkpoints"


def write_config(run_dir: Path, spec: RunSpec) -> None:
    write_json(Path(run_dir) / "config.json", spec.to_dict())


def read_config(run_dir: Path) -> RunSpec:
    return RunSpec.from_dict(read_json(Path(run_dir) / "config.json"))


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"step_{step:07d}.pt"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    paths = sorted((Path(run_dir) / CHECKPOINTS).glob("step_*.pt"))
    return [(int(p.stem.split("_")[1]), p) for p in paths]


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = torch_load(path)
    except Exception as err:  # corrupt, truncated or not ours
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: not a readable ganbench checkpoint ({first})") from None
    missing = {"config", "step", "G"} - set(state)
    if missing:
        raise UserError(f"{path}: checkpoint lacks {sorted(missing)}; re-run its train stage")
    return state


def load_resume(run_dir: Path, spec: RunSpec, *, reset: bool = True) -> dict[str, Any] | None:
    """The snapshot to resume from, or None (and, with ``reset``, a clean run dir) if absent or
    from another config. Under torchrun only rank 0 resets."""
    path = Path(run_dir) / RESUME
    if path.exists():
        try:
            state = torch_load(path)
            if state.get("config_key") == spec.training_key():
                return state
        except Exception:  # an unreadable snapshot is treated like a stale one: start over
            pass
    if reset:
        reset_run_dir(run_dir)
    return None


def reset_run_dir(run_dir: Path) -> None:
    run_dir = Path(run_dir)
    shutil.rmtree(run_dir / CHECKPOINTS, ignore_errors=True)
    for name in (RESUME, "log.csv", "status.json", "config.json"):
        (run_dir / name).unlink(missing_ok=True)


def save_resume(run_dir: Path, state: dict[str, Any]) -> None:
    torch_save(Path(run_dir) / RESUME, state)


def save_checkpoint(run_dir: Path, state: dict[str, Any]) -> Path:
    path = checkpoint_path(run_dir, state["step"])
    torch_save(path, state)
    return path


def write_log(run_dir: Path, history: list[dict[str, float]]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    lines = [",".join(keys)]
    lines += [",".join(_fmt(row.get(k)) for k in keys) for row in history]
    with atomic_path(Path(run_dir) / "log.csv") as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def write_status(run_dir: Path, status: dict[str, Any]) -> None:
    write_json(Path(run_dir) / "status.json", status)


def _fmt(v: float | None) -> str:
    return "" if v is None else (str(v) if isinstance(v, int) else f"{v:.6g}")
