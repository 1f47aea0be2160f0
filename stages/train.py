"""train@<dataset>-<model>-<seed>: one Lucic run; resumes from runs/<run>/resume.pt if present.

The run directory is a persisted DVC output, so an interrupted run resumes. A *finished* run
(status.json present) is different: DVC only re-runs this stage when its code or params changed,
and resuming that run's final snapshot would hand back the old result under the new code. So a
finished run directory is cleared and the run trains from scratch (same seed: same result when
the change does not touch training).
"""

from pathlib import Path

import torch

from ganbench.cli import run_stage, stage_parser
from ganbench.config import load_params, resolve_lucic_run
from ganbench.data import load_prepared
from ganbench.training.checkpoint import reset_run_dir
from ganbench.training.loop import Trainer


def main(args) -> None:
    params = load_params(args.params)
    cfg = resolve_lucic_run(params, args.dataset, args.model, args.seed)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    images = torch.from_numpy(load_prepared(args.data).x_train)
    if (Path(args.out) / "status.json").exists():
        print(
            f"{cfg.name}: {args.out} holds a finished run; training again from scratch", flush=True
        )
        reset_run_dir(args.out)
    result = Trainer(cfg, images, args.out).run(progress=not args.quiet)
    print(
        f"{cfg.name}: {result.status} after {result.steps_trained} steps"
        + (
            f" (non-finite loss at step {result.diverged_at_step})"
            if result.diverged_at_step
            else ""
        )
    )


if __name__ == "__main__":
    parser = stage_parser(__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--seed", required=True, type=int)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--quiet", action="store_true")
    run_stage(main, parser)
