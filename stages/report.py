"""Stage ``report``: the run records of one study -> reports/<study>.md, .csv and <study>/.

``reports/<study>/`` holds summary.json, fid_curves.csv and figures/; the study's report sections
add their files (``<study>.tex``, ``<study>/stabilisation.csv``, ``<study>/truncation.csv``).

    python stages/report.py --study lucic --params params.yaml --metrics-dir metrics/lucic \
        --evaluations-dir evaluations/lucic --classifier-dir metrics/classifier --out-dir reports
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ganbench.cli import run_stage, stage_parser
from ganbench.config import load_params
from ganbench.reporting import write_report


def build_parser() -> argparse.ArgumentParser:
    parser = stage_parser(__doc__.splitlines()[0])
    parser.add_argument("--study", required=True, help="a study of params: studies.<name>")
    for flag, default, what in (
        ("--metrics-dir", "metrics/<study>", "run records <study>-<dataset>-<variant>-<seed>.json"),
        ("--evaluations-dir", "evaluations/<study>", "<run>/: sample grids, attention maps"),
        ("--classifier-dir", "metrics/classifier", "classifier records <dataset>.json"),
        ("--out-dir", "reports", "where <study>.md/.csv and <study>/ go"),
    ):
        parser.add_argument(flag, type=Path, default=None, help=f"{what} (default: {default})")
    return parser


def report(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    written = write_report(
        args.study,
        params.study(args.study),
        records_dir=args.metrics_dir or Path("metrics") / args.study,
        evaluations_dir=args.evaluations_dir or Path("evaluations") / args.study,
        classifier_dir=args.classifier_dir or Path("metrics/classifier"),
        out_dir=args.out_dir or Path("reports"),
    )
    print(f"report: wrote {len(written)} files under {args.out_dir or 'reports'}")


def main(argv: list[str] | None = None) -> None:
    run_stage(report, build_parser(), argv)


if __name__ == "__main__":
    main()
