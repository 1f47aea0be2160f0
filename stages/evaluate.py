"""evaluate@<dataset>-<model>-<seed>: FID/KID/IS of every checkpoint -> metrics/<run>.json + grid."""

import torch

from ganbench.cli import run_stage, stage_parser
from ganbench.config import load_params
from ganbench.io import write_json
from ganbench.metrics.evaluate import Reference
from ganbench.metrics.features import extractor_from_params
from ganbench.metrics.runs import evaluate_run, save_sample_grid
from ganbench.training.loop import resolve_device


def main(args) -> None:
    params = load_params(args.params)
    device = resolve_device(params.lucic.train.device)
    if params.lucic.train.threads:
        torch.set_num_threads(params.lucic.train.threads)
    extractor = extractor_from_params(params.features, trained_weights=args.weights, device=device)
    reference = Reference.load(args.reference)
    cfg = params.lucic.evaluate
    record, best = evaluate_run(
        args.run, extractor=extractor, reference=reference, cfg=cfg, device=device
    )
    if best is not None:
        save_sample_grid(args.grid, best, cfg, device)
    write_json(args.metrics, record)
    fid = record["best"]["fid"] if record["best"] else float("nan")
    print(f"{record['run']}: {record['status']}, best FID {fid:.2f}")


if __name__ == "__main__":
    parser = stage_parser(__doc__)
    for flag in ("--run", "--weights", "--reference", "--metrics", "--grid"):
        parser.add_argument(flag, required=True)
    run_stage(main, parser)
