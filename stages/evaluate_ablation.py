"""evaluate_<study>@<variant>-<seed>: every checkpoint of one ablation run (raw and EMA G), the
truncation sweep, class-conditional grids and the attention figure -> metrics/<run>.json."""

import torch

from ganbench.cli import run_stage, stage_parser
from ganbench.config import load_params
from ganbench.io import write_json
from ganbench.metrics.ablation import evaluate_ablation_run
from ganbench.metrics.evaluate import Reference
from ganbench.metrics.features import extractor_from_params
from ganbench.training.loop import resolve_device


def main(args) -> None:
    params = load_params(args.params)
    study = params.study(args.study)
    variant = study.variant(args.variant, args.study)
    device = resolve_device(study.train.device)
    if study.train.threads:
        torch.set_num_threads(study.train.threads)
    extractor = extractor_from_params(params.features, trained_weights=args.weights, device=device)
    record = evaluate_ablation_run(
        args.run,
        extractor=extractor,
        reference=Reference.load(args.reference),
        cfg=study.evaluate,
        device=device,
        out_dir=args.out_dir,
        label=variant.label,
        paper_rows=variant.paper_rows,
    )
    write_json(args.metrics, record)
    fid = record["best"]["fid"] if record["best"] else float("nan")
    print(f"{record['run']}: {record['status']}, best FID ({record['generator']} G) {fid:.2f}")


if __name__ == "__main__":
    parser = stage_parser(__doc__)
    parser.add_argument("--study", required=True, choices=["sagan", "biggan"])
    parser.add_argument("--variant", required=True)
    for flag in ("--run", "--weights", "--reference", "--metrics", "--out-dir"):
        parser.add_argument(flag, required=True)
    run_stage(main, parser)
