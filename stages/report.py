"""report_<study>: the run records of one study (with a search, its trial records and the select
stage's choices) -> reports/<study>.md, .csv, .json (summary) and reports/<study>/ (fid_curves.csv,
findings.csv, figures, sample grids, the search section's and the report sections' files)."""

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
        selections_dir=args.selections_dir and Path(args.selections_dir),
    )
    print(f"report_{args.study}: wrote {len(written)} files under {args.out_dir}")


if __name__ == "__main__":
    parser = stage_parser(__doc__)
    for flag in ("--study", "--metrics-dir", "--evaluations-dir", "--classifier-dir", "--out-dir"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--selections-dir", help="the select stage's choices (a search)")
    run_stage(main, parser)
