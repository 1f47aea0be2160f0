"""The boundary between stage scripts and the package: bad input exits non-zero with one message."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable

from ganbench.errors import UserError


def run_stage(
    main: Callable[[argparse.Namespace], None],
    parser: argparse.ArgumentParser,
    argv: list[str] | None = None,
) -> None:
    """Parse ``argv``, call ``main``; a :class:`UserError` prints ``error: <message>`` and exits 2.

    A process started to run the stage script (``python stages/<stage>.py``, not a test running
    it inside another program) then ends at once, without the interpreter's teardown: every
    output is written and closed by then, and tearing down the modules of torch takes 0.6 to 1.3 s
    of CPU per stage (``benchmarks/stage_overhead.py``). An exception other than a UserError
    ends the process as usual (traceback, exit status 1).
    """
    args = parser.parse_args(argv)
    code = 0
    try:
        main(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        code = 2
    if argv is None and _started_for(main):
        exit_now(code)
    if code:
        raise SystemExit(code)


def _started_for(main: Callable) -> bool:
    """Whether this process's command line runs the script that defines ``main``."""
    script = getattr(getattr(main, "__code__", None), "co_filename", "")
    if not script.endswith(".py"):
        return False
    script = os.path.realpath(script)
    return any(arg.endswith(".py") and os.path.realpath(arg) == script for arg in sys.orig_argv[1:])


def exit_now(code: int = 0) -> None:
    """End the process with ``code`` after flushing stdout, stderr and logging's handlers, but
    without the interpreter's teardown (atexit handlers, module and object finalisation)."""
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


def stage_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--params", default="params.yaml", help="params file (default: %(default)s)"
    )
    return parser
