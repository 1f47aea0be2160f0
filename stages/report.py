"""report_<study>: the run records of one study -> reports/<study>.md, .csv, .json (summary) and
reports/<study>/ (fid_curves.csv, figures, sample grids and the files its report sections add)."""

from pathlib import Path

from ganbench.cli import run_stage, stage_parser
from ganbench.config import load_params
from ganbench.reporting import write_report


def main(args) -> None:
    params = load_params(args.params)
    written = write_report(
        args.study,
        params.study(args.study),
        records_dir=Path(args.metrics_dir),
        evaluations_dir=Path(args.evaluations_dir),
        classifier_dir=Path(args.classifier_dir),
        out_dir=Path(args.out_dir),
    )
    print(f"report_{args.study}: wrote {len(written)} files under {args.out_dir}")


if __name__ == "__main__":
    parser = stage_parser(__doc__)
    for flag in ("--study", "--metrics-dir", "--evaluations-dir", "--classifier-dir", "--out-dir"):
        parser.add_argument(flag, required=True)
    run_stage(main, parser)
