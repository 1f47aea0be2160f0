"""Train one run in this process, or this process's share of it under torchrun.

The run directory is a persisted DVC output, so an interrupted run resumes from its snapshot. A
*finished* run (status.json present) is different: DVC re-runs the train stage only when its code
or params changed, and resuming that run's final snapshot would hand back the old result under
the new code. So a finished run directory is cleared and the run trains from scratch (same seed:
same result when the change does not touch training).
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import Tensor

from ganbench.plan import RunSpec
from ganbench.runtime import resolve_device
from ganbench.training.checkpoint import reset_run_dir
from ganbench.training.loop import Trainer, TrainResult


def train_run(
    spec: RunSpec,
    images: Tensor,
    labels: Tensor | None,
    run_dir: str | Path,
    *,
    device: str = "auto",
    live_dir: str | Path | None = None,
    progress: bool = True,
    channels_last: bool = False,
    compile: bool = False,
) -> TrainResult | None:
    """Train ``spec`` to the end; returns the result (None on torchrun ranks other than 0)."""
    distributed = spec.recipe.training.nproc > 1 and "RANK" in os.environ
    if distributed:
        import torch.distributed as dist

        from ganbench.training.distributed import ddp_wrapper, init_process_group

        rank, world, dev = init_process_group(device)
    else:
        rank, world, dev = 0, 1, resolve_device(device)
    try:
        if rank == 0 and (Path(run_dir) / "status.json").exists():
            print(f"{spec.name}: {run_dir} holds a finished run; training again", flush=True)
            reset_run_dir(run_dir)
        if distributed:
            dist.barrier()
        trainer = Trainer(
            spec, images, labels, run_dir, device=dev, rank=rank, world=world,
            wrap=ddp_wrapper(dev) if distributed else None, live_dir=live_dir,
            channels_last=channels_last, compile=compile,
        )  # fmt: skip
        result = trainer.run(progress=progress and rank == 0)
        if distributed:
            dist.barrier()
        return result if rank == 0 else None
    finally:
        if distributed:
            dist.destroy_process_group()
