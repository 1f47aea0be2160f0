"""prepare@<dataset>: raw files -> data/prepared/<dataset>.npz (uint8 N x C x H x W + int64 labels)."""

from ganbench.cli import run_stage, stage_parser
from ganbench.config import load_params
from ganbench.data import DATASETS, load_prepared, save_prepared


def main(args) -> None:
    params = load_params(args.params)
    source = DATASETS.get(args.dataset, "dataset")
    root = params.dataset(args.dataset, getattr(source, "base", None)).root
    if hasattr(source, "write_prepared"):  # larger than memory: decoded and written in chunks
        source.write_prepared(args.out, root)
        data = load_prepared(args.out)
    else:
        data = source.load(root, download_dir=args.download_dir)
        save_prepared(args.out, data)
    print(
        f"prepared {args.dataset}: train {data.x_train.shape}, test {data.x_test.shape} -> {args.out}"
    )


if __name__ == "__main__":
    parser = stage_parser(__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--download-dir", default="data/raw", help="torchvision download cache")
    run_stage(main, parser)
