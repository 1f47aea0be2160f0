"""The boundary between stage scripts and the package: bad input exits non-zero with one message."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ganbench.errors import UserError


def run_stage(
    main: Callable[[argparse.Namespace], None],
    parser: argparse.ArgumentParser,
    argv: list[str] | None = None,
) -> None:
    """Parse ``argv``, call ``main``; a :class:`UserError` prints ``error: <message>`` and exits 2."""
    args = parser.parse_args(argv)
    try:
        main(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def stage_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--params", default="params.yaml", help="params file (default: %(default)s)"
    )
    return parser
