"""refstats@<dataset>: features, mean and covariance of the reference split (pipeline.reference_split; Lucic et al.: 10k test)."""

from ganbench.cli import run_stage, stage_parser
from ganbench.config import load_params
from ganbench.data import load_prepared
from ganbench.metrics.evaluate import build_reference
from ganbench.metrics.features import extractor_from_params, extractor_label
from ganbench.runtime import resolve_device, set_threads


def main(args) -> None:
    params = load_params(args.params)
    split = params.pipeline.reference_split
    set_threads(params.pipeline.threads)
    data = load_prepared(args.data)
    images, _ = data.split(split)
    extractor = extractor_from_params(
        params.features,
        trained_weights=args.weights,
        device=resolve_device(params.pipeline.device),
    )
    label = extractor_label(params.features.extractor, data.name)
    ref = build_reference(
        extractor,
        images,
        batch_size=params.features.batch_size,
        meta={"dataset": data.name, "split": split, "extractor_label": label},
    )
    ref.save(args.out)
    print(f"reference {data.name}/{split}: n={ref.meta['n']}, d={ref.meta['feature_dim']}")


if __name__ == "__main__":
    parser = stage_parser(__doc__)
    for flag in ("--data", "--weights", "--out"):
        parser.add_argument(flag, required=True)
    run_stage(main, parser)
