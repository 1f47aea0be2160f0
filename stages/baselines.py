"""baselines@<dataset>: the sanity rows, real train vs reference (floor), untrained G (ceiling)."""

import torch

from ganbench.cli import run_stage, stage_parser
from ganbench.config import load_params
from ganbench.data import load_prepared
from ganbench.io import write_json
from ganbench.metrics.baselines import sanity_rows
from ganbench.metrics.evaluate import Reference
from ganbench.metrics.features import extractor_from_params
from ganbench.training.loop import resolve_device


def main(args) -> None:
    params = load_params(args.params)
    device = resolve_device(params.lucic.train.device)
    if params.lucic.train.threads:
        torch.set_num_threads(params.lucic.train.threads)
    extractor = extractor_from_params(params.features, trained_weights=args.weights, device=device)
    record = sanity_rows(
        load_prepared(args.data), extractor, Reference.load(args.reference), params.lucic, device
    )
    write_json(args.metrics, record)
    print({k: round(v["fid"], 2) for k, v in record["rows"].items()})


if __name__ == "__main__":
    parser = stage_parser(__doc__)
    for flag in ("--data", "--weights", "--reference", "--metrics"):
        parser.add_argument(flag, required=True)
    run_stage(main, parser)
