"""train_<study>@<run>: one run of a study, a best-setting re-run on a seed (run =
<study>-<dataset>-<variant>-<seed>, on the setting ``--selection`` names) or a search trial
(``search_<study>``: run = <study>-<dataset>-<variant>-t<trial>).

Resumes from runs/<study>/<run>/resume.pt when interrupted; ``training.nproc`` > 1 re-launches
this script under torchrun (one process per GPU, DistributedDataParallel).
"""

import sys

import torch

from ganbench.cli import run_stage, stage_parser
from ganbench.data import load_prepared
from ganbench.errors import UserError
from ganbench.io import read_json
from ganbench.plan import load_plan, resolve_run
from ganbench.record import Selection, parse
from ganbench.runtime import set_backends, set_threads
from ganbench.training.launch import train_run


def main(args) -> None:
    params = load_plan(args.params)
    chosen = None
    if args.selection is not None:
        chosen = parse(Selection, read_json(args.selection), args.selection)
        ours = (args.study, args.dataset, args.variant)
        if (chosen.study, chosen.dataset, chosen.variant) != ours:
            raise UserError(f"{args.selection}: a selection for "
                            f"{chosen.study}/{chosen.dataset}/{chosen.variant}, not {'/'.join(ours)}")  # fmt: skip
    spec = resolve_run(
        params, args.study, args.dataset, args.variant, args.seed, trial=args.trial, selected=chosen
    )
    nproc = spec.recipe.training.nproc
    if nproc > 1 and not args.worker:
        from ganbench.training.distributed import launch_torchrun

        launch_torchrun(__file__, args.argv, nproc)
        return
    pipe = params.pipeline
    set_threads(pipe.threads)
    set_backends(cudnn_benchmark=pipe.cudnn_benchmark, tf32=pipe.tf32)
    data = load_prepared(args.data)
    result = train_run(
        spec,
        torch.from_numpy(data.x_train),
        torch.from_numpy(data.y_train),
        args.out,
        device=pipe.device,
        live_dir=args.live,
        progress=not args.quiet,
        channels_last=pipe.channels_last,
        compile=pipe.compile,
    )
    if result is not None:
        broke = f" (non-finite loss at step {result.diverged_at_step})" * bool(
            result.diverged_at_step
        )
        print(f"{spec.name}: {result.status} after {result.steps_trained} steps{broke}", flush=True)


if __name__ == "__main__":
    parser = stage_parser(__doc__)
    parser.add_argument("--study", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--variant", required=True)
    run = parser.add_mutually_exclusive_group(required=True)
    run.add_argument("--seed", type=int, help="a re-run of the chosen setting on this seed")
    run.add_argument("--trial", type=int, help="this search trial")
    parser.add_argument("--selection", help="the select stage's choice (re-runs)")
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--live", default=None, help="DVCLive directory (training curves)")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--worker", action="store_true", help="internal: a torchrun worker")
    parser.set_defaults(argv=sys.argv[1:])
    run_stage(main, parser)
