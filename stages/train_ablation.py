"""train_<study>@<variant>-<seed>: one SAGAN/BigGAN ablation run (resumes from resume.pt).

As in stages/train.py, an interrupted run resumes and a finished one (status.json present) that
DVC re-runs is cleared and trained from scratch. ``<study>.train.nproc`` > 1 starts the run under
torchrun (one process per GPU, DistributedDataParallel); see ganbench/training/distributed.py.
"""

import sys
from pathlib import Path

import torch

from ganbench.cli import run_stage, stage_parser
from ganbench.config import load_params, resolve_ablation_run
from ganbench.data import load_prepared
from ganbench.training.checkpoint import reset_run_dir


def main(args) -> None:
    params = load_params(args.params)
    cfg = resolve_ablation_run(params, args.study, args.variant, args.seed)
    if cfg.train.nproc > 1 and not args.worker:
        from ganbench.training.distributed import launch_torchrun

        launch_torchrun(__file__, args.argv, cfg.train.nproc)
        return
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    data = load_prepared(args.data)
    images, labels = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    if cfg.train.nproc > 1:
        from ganbench.training.distributed import train_distributed

        result = train_distributed(cfg, images, labels, args.out, progress=not args.quiet)
    else:
        from ganbench.training.ablation import AblationTrainer

        if (Path(args.out) / "status.json").exists():
            print(f"{cfg.name}: {args.out} holds a finished run; training again", flush=True)
            reset_run_dir(args.out)
        result = AblationTrainer(cfg, images, labels, args.out).run(progress=not args.quiet)
    if result is not None:
        print(f"{cfg.name}: {result.status} after {result.steps_trained} steps", flush=True)


if __name__ == "__main__":
    parser = stage_parser(__doc__)
    parser.add_argument("--study", required=True, choices=["sagan", "biggan"])
    parser.add_argument("--variant", required=True)
    parser.add_argument("--seed", required=True, type=int)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--worker", action="store_true", help="internal: a torchrun worker")
    parser.set_defaults(argv=sys.argv[1:])
    run_stage(main, parser)
