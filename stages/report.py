"""Stage ``report``: metric records of the runs listed in params -> reports/ (md, csv, tex, plots).

    python stages/report.py --params params.yaml --metrics-dir metrics \
        --evaluations-dir evaluations --out-dir reports
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ganbench.cli import run_stage, stage_parser
from ganbench.config import load_params
from ganbench.reporting import write_lucic_report


def build_parser() -> argparse.ArgumentParser:
    parser = stage_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--metrics-dir",
        type=Path,
        default=Path("metrics"),
        help="metrics/<run>.json, baselines and classifier records (default: %(default)s)",
    )
    parser.add_argument(
        "--evaluations-dir",
        type=Path,
        default=Path("evaluations"),
        help="evaluations/<run>/samples.png (default: %(default)s)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path("reports"),
        help="where lucic.md/.csv/.tex and lucic/ go (default: %(default)s)",
    )
    return parser


def report(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    written = write_lucic_report(
        params.lucic,
        metrics_dir=args.metrics_dir,
        evaluations_dir=args.evaluations_dir,
        out_dir=args.out_dir,
    )
    print(f"report: wrote {len(written)} files under {args.out_dir}")


def main(argv: list[str] | None = None) -> None:
    run_stage(report, build_parser(), argv)


if __name__ == "__main__":
    main()
