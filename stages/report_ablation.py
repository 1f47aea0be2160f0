"""Stage ``report_ablation``: metric records of one SAGAN/BigGAN ablation -> reports/<study>.*

    python stages/report_ablation.py --study sagan --params params.yaml --metrics-dir metrics \
        --evaluations-dir evaluations --out-dir reports
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ganbench.cli import run_stage, stage_parser
from ganbench.config import load_params
from ganbench.reporting import write_ablation_report


def build_parser() -> argparse.ArgumentParser:
    parser = stage_parser(__doc__.splitlines()[0])
    parser.add_argument("--study", required=True, help="params section: sagan or biggan")
    parser.add_argument(
        "--metrics-dir",
        type=Path,
        default=Path("metrics"),
        help="metrics/<study>-<dataset>-<variant>-<seed>.json (default: %(default)s)",
    )
    parser.add_argument(
        "--evaluations-dir",
        type=Path,
        default=Path("evaluations"),
        help="evaluations/<run>/: sample grids, attention maps (default: %(default)s)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path("reports"),
        help="where <study>.md/.csv and <study>/ go (default: %(default)s)",
    )
    return parser


def report(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    written = write_ablation_report(
        args.study,
        params.study(args.study),
        metrics_dir=args.metrics_dir,
        evaluations_dir=args.evaluations_dir,
        out_dir=args.out_dir,
    )
    print(f"report_ablation: wrote {len(written)} files under {args.out_dir}")


def main(argv: list[str] | None = None) -> None:
    run_stage(report, build_parser(), argv)


if __name__ == "__main__":
    main()
