"""A stage's fixed cost, as behaviour: what importing the package's faces loads, the training
curves written without DVCLive (byte for byte its files), and a stage process that ends without
the interpreter's teardown yet with every output and message (benchmarks/stage_overhead.py
measures the times)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ganbench.training.progress import LiveCurves, Progress

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "numpy", "pandas", "matplotlib", "scipy", "dvclive", "dvc")


def loaded_after(*modules: str) -> set[str]:
    """The heavy packages a fresh interpreter holds after importing ``modules``."""
    code = f"import sys\nimport {', '.join(modules)}\nprint(' '.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return set(HEAVY) & set(out)


def test_the_io_and_stage_helpers_import_neither_torch_nor_numpy():
    """The selection stage reads and writes JSON: it must not pay for torch (about 2 s)."""
    assert (
        loaded_after("ganbench.io", "ganbench.cli", "ganbench.runtime", "ganbench.errors") == set()
    )


def test_the_stage_modules_import_no_plotting_dataframes_or_dvclive():
    for module in ("ganbench.plan", "ganbench.training.launch", "ganbench.evaluation.runs"):
        assert loaded_after(module) & {"matplotlib", "pandas", "scipy", "dvclive", "dvc"} == set()


# ---------------------------------------------------------------------------------------------
# the training curves: DVCLive's files, byte for byte

HISTORY = [
    {"step": 50, "d_loss": 1.0858608484268188, "g_loss": 0.7},
    {"step": 100, "d_loss": 0.736315131187439, "g_loss": 1.25},
]
MORE = [
    {"step": 150, "d_loss": 0.5797508358955383, "g_loss": 2.0, "penalty": 0.125},  # a new curve
    {"step": 180, "d_loss": 1e-09, "g_loss": 3.5e20, "penalty": float("nan")},
]


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def leftovers(live: Path) -> None:
    """A killed run's directory: rows past the resume point, DVCLive's other files."""
    (live / "plots" / "metrics").mkdir(parents=True)
    (live / "plots" / "metrics" / "d_loss.tsv").write_text("step\td_loss\n999\t1.0\n")
    (live / "plots" / "images").mkdir()
    (live / "plots" / "images" / "x.png").write_bytes(b"png")
    for name in ("metrics.json", "params.yaml", "report.md", "dvc.yaml"):
        (live / name).write_text("old\n")
    (live / "kept.txt").write_text("not DVCLive's\n")


def with_dvclive(live: Path, history, rows) -> None:
    """What the train stage wrote through DVCLive before (its Live, no experiment tracking)."""
    dvclive = pytest.importorskip("dvclive")

    class FilesOnlyLive(dvclive.Live):
        def _init_dvc(self) -> None:
            pass

    lv = FilesOnlyLive(str(live), resume=False, save_dvc_exp=False, dvcyaml=None, report=None)
    for row in [*history, *rows]:
        lv.step = int(row["step"])
        for k, v in row.items():
            if k != "step":
                lv.log_metric(k, v)
        lv.make_summary()
    lv.end()


def with_progress(live: Path, history, rows) -> None:
    with Progress("run", 200, 0, live, show=False) as bar:
        bar.start_live(history)
        for row in rows:
            bar.log(row)


@pytest.mark.parametrize("damaged", [False, True])
@pytest.mark.parametrize("history, rows", [(HISTORY, MORE), ([], HISTORY + MORE), ([], [])])
def test_the_curves_are_dvclive_files_byte_for_byte(tmp_path, damaged, history, rows):
    theirs, ours = tmp_path / "dvclive", tmp_path / "ours"
    for live in (theirs, ours):
        live.mkdir()
        if damaged:
            leftovers(live)
    with_dvclive(theirs, history, rows)
    with_progress(ours, history, rows)
    assert files(ours) == files(theirs)


def test_the_summary_follows_every_logged_window(tmp_path):
    """The curves are readable while the run trains (``dvc plots show`` during a run)."""
    curves = LiveCurves(tmp_path / "live")
    curves.log(HISTORY[:1])
    assert json.loads((tmp_path / "live" / "metrics.json").read_text())["step"] == 50
    curves.log(HISTORY[1:])
    summary = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert summary == {"d_loss": HISTORY[1]["d_loss"], "g_loss": 1.25, "step": 100}


# ---------------------------------------------------------------------------------------------
# a stage process ends at once, outputs and messages complete

STAGE = """
import atexit, logging, sys
from pathlib import Path
from ganbench.cli import run_stage, stage_parser
from ganbench.errors import UserError

def main(args):
    atexit.register(lambda: Path(args.out, "teardown").write_text("ran"))
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    logging.getLogger("stage").info("logged")
    print("done", end="")  # no newline: still flushed
    sys.stderr.write("warned")
    if args.fail:
        raise UserError("bad params")
    Path(args.out, "output").write_text("written")

parser = stage_parser("a stage")
parser.add_argument("--out")
parser.add_argument("--fail", action="store_true")
run_stage(main, parser)
"""


@pytest.mark.parametrize("fail", [False, True])
def test_a_stage_process_skips_the_teardown_but_not_its_outputs_or_messages(tmp_path, fail):
    script = tmp_path / "stage.py"
    script.write_text(textwrap.dedent(STAGE))
    proc = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path), *["--fail"] * fail],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == (2 if fail else 0)
    assert proc.stdout == "done"
    assert "logged" in proc.stderr and "warned" in proc.stderr
    assert ("error: bad params" in proc.stderr) == fail
    assert (tmp_path / "output").exists() != fail
    assert not (tmp_path / "teardown").exists()  # atexit handlers did not run


def test_run_stage_called_with_argv_returns_or_raises_instead_of_exiting():
    from ganbench.cli import run_stage, stage_parser
    from ganbench.errors import UserError

    seen = []
    run_stage(seen.append, stage_parser("x"), ["--params", "p.yaml"])
    assert seen[0].params == "p.yaml"

    def fail(args):
        raise UserError("bad")

    with pytest.raises(SystemExit) as exc:
        run_stage(fail, stage_parser("x"), [])
    assert exc.value.code == 2
