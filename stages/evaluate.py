"""evaluate_<study>@<run>: every checkpoint of one run (G and its EMA), the truncation sweep,
sample grids and the attention figure -> metrics/<study>/<run>.json, evaluations/<study>/<run>/."""

from ganbench.cli import run_stage, stage_parser
from ganbench.evaluation.runs import evaluate_run
from ganbench.io import write_json
from ganbench.metrics.evaluate import Reference
from ganbench.metrics.features import extractor_from_params
from ganbench.plan import load_plan, resolve_run
from ganbench.runtime import resolve_device, set_backends, set_threads


def main(args) -> None:
    params = load_plan(args.params)
    spec = resolve_run(params, args.study, args.dataset, args.variant, args.seed, trial=args.trial)
    set_threads(params.pipeline.threads)
    set_backends(cudnn_benchmark=params.pipeline.cudnn_benchmark, tf32=params.pipeline.tf32)
    device = resolve_device(params.pipeline.device)
    extractor = extractor_from_params(params.features, trained_weights=args.weights, device=device)
    record = evaluate_run(
        args.run,
        extractor=extractor,
        reference=Reference.load(args.reference),
        evaluation=spec.recipe.evaluation,
        figures=spec.recipe.figures,
        device=device,
        out_dir=args.out_dir,
    )
    write_json(args.metrics, record)
    fid = record["best"]["fid"] if record["best"] else float("nan")
    print(f"{record['run']}: {record['status']}, best FID ({record['generator']} G) {fid:.2f}")


if __name__ == "__main__":
    parser = stage_parser(__doc__)
    for flag in ("--study", "--dataset", "--variant"):
        parser.add_argument(flag, required=True)
    run = parser.add_mutually_exclusive_group(required=True)
    run.add_argument("--seed", type=int, help="a re-run on this seed")
    run.add_argument("--trial", type=int, help="a search trial")
    for flag in ("--run", "--weights", "--reference", "--metrics", "--out-dir"):
        parser.add_argument(flag, required=True)
    run_stage(main, parser)
