"""ganbench.reporting inputs: every bad record, missing file and unknown section is a UserError
naming the file and key (or the params key and the choices) before anything is written; and
stages/report.py, the thin stage around write_report."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_reporting import SHA, make_study, run_report, scores

from ganbench.errors import ConfigError, UserError
from ganbench.reporting import SECTIONS

RECORD = "sagan-shapes32-baseline-1"


def rewrite(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def set_params(root: Path, change) -> None:
    path = root / "params.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def run_stage_script(argv: list[str]) -> subprocess.CompletedProcess:
    """``python stages/report.py argv``, as DVC runs it."""
    script = Path(__file__).resolve().parents[1] / "stages" / "report.py"
    return subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True)


def stage_args(root: Path, name: str) -> list[str]:
    return [
        "--study", name, "--params", str(root / "params.yaml"),
        "--metrics-dir", str(root / "metrics" / name),
        "--evaluations-dir", str(root / "evaluations" / name),
        "--classifier-dir", str(root / "metrics" / "classifier"),
        "--out-dir", str(root / "reports"),
    ]  # fmt: skip


def test_stage_writes_the_report(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    proc = run_stage_script(stage_args(tmp_path, "sagan"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "reports" / "sagan.md").is_file()
    assert "report_sagan: wrote" in proc.stdout
    proc = run_stage_script(stage_args(tmp_path, "biggan"))  # not in this params file
    assert proc.returncode == 2
    assert "params key 'studies': got 'biggan'" in proc.stderr


def test_missing_record_names_file_and_stage(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    missing = tmp_path / "metrics" / "sagan" / "sagan-shapes32-attention16-1.json"
    missing.unlink()
    with pytest.raises(UserError, match=re.escape(str(missing))) as err:
        run_report(tmp_path, "sagan")
    assert "dvc repro evaluate_sagan@sagan-shapes32-attention16-1" in str(err.value)
    assert not (tmp_path / "reports").exists()  # nothing half-written
    proc = run_stage_script(stage_args(tmp_path, "sagan"))
    assert proc.returncode == 2 and "evaluate_sagan@sagan-shapes32-attention16-1" in proc.stderr
    assert str(missing) in proc.stderr


CORRUPTIONS = {
    "run": lambda r: r.update(run="sagan-shapes32-baseline-7"),
    "seed": lambda r: r.update(seed=7),
    "status": lambda r: r.update(status="exploded"),
    "diverged_at_step": lambda r: r.update(status="diverged"),
    "reason": lambda r: r.update(status="failed", best=None),
    "recipe.optimiser.lr_d": lambda r: r["recipe"]["optimiser"].update(lr_d="fast"),
    "recipe.training.steps": lambda r: r["recipe"]["training"].pop("steps"),
    "recipe.arch": lambda r: r["recipe"].pop("arch"),
    "params.G": lambda r: r["params"].update(G=1.5),
    "protocol.n_fake": lambda r: r["protocol"].pop("n_fake"),
    "protocol.versions": lambda r: r["protocol"].update(versions="new"),
    "generator": lambda r: r.update(generator="best"),
    "checkpoints[1].raw.fid": lambda r: r["checkpoints"][1]["raw"].update(fid="low"),
    "checkpoints[0].raw.status": lambda r: r["checkpoints"][0]["raw"].update(status="nan"),
    "checkpoints[2].raw": lambda r: r["checkpoints"][2].update(raw=None),
    "best": lambda r: r.update(best=None),
    "best.coverage": lambda r: r["best"].pop("coverage"),
    "truncation[0].psi": lambda r: r.update(truncation=[{"psi": -1.0, **scores(20.0)}]),
    "grids.none": lambda r: r["grids"].update(none="elsewhere/grid.png"),
    "grids.big": lambda r: r["grids"].update(big=f"evaluations/sagan/{RECORD}/big.png"),
    "attention_figure": lambda r: r.update(attention_figure=3),
}


@pytest.mark.parametrize("key", list(CORRUPTIONS))
def test_malformed_record_names_file_and_key(tmp_path: Path, key: str) -> None:
    make_study(tmp_path, "sagan")
    path = tmp_path / "metrics" / "sagan" / f"{RECORD}.json"
    rewrite(path, CORRUPTIONS[key])
    with pytest.raises(UserError, match=f"{re.escape(str(path))}: .*'{re.escape(key)}'"):
        run_report(tmp_path, "sagan")
    assert not (tmp_path / "reports").exists()


def test_invalid_json_is_named(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    path = tmp_path / "metrics" / "sagan" / f"{RECORD}.json"
    path.write_text("{not json")
    with pytest.raises(UserError, match=f"{re.escape(str(path))}: not valid JSON"):
        run_report(tmp_path, "sagan")


def test_missing_grid_names_file_and_stage(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    grid = tmp_path / "evaluations" / "sagan" / "sagan-shapes32-baseline-0" / "samples.png"
    grid.unlink()
    with pytest.raises(UserError, match=re.escape(str(grid))) as err:
        run_report(tmp_path, "sagan")
    assert "key 'grids.none'" in str(err.value)
    assert "dvc repro evaluate_sagan@sagan-shapes32-baseline-0" in str(err.value)
    assert not (tmp_path / "reports").exists()


def test_protocols_must_agree_but_training_may_differ(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    path = tmp_path / "metrics" / "sagan" / "sagan-shapes32-sn_d_1to1-2.json"
    change = {"steps": 800, "batch_size": 64, "steps_trained": 640, "device": "cuda"}
    rewrite(path, lambda r: r["protocol"].update(change))
    run_report(tmp_path, "sagan")  # training length, batch and devices are variant settings
    md = (tmp_path / "reports" / "sagan.md").read_text()
    assert "**Devices**: train cpu, eval cpu; train cpu, eval cuda." in md
    rec = json.loads(path.read_text())
    for key, value in (
        ("weights_sha256", "ff" * 32),
        ("n_real", 500),
        ("reference_split", "train"),
    ):
        bad = copy.deepcopy(rec)
        bad["protocol"][key] = value
        path.write_text(json.dumps(bad))
        with pytest.raises(UserError, match=f"{re.escape(str(path))}: key 'protocol.{key}'"):
            run_report(tmp_path, "sagan")


def test_seeds_of_a_variant_must_agree(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    path = tmp_path / "metrics" / "sagan" / "sagan-shapes32-attention16-1.json"
    rewrite(path, lambda r: r["recipe"]["arch"].update(ch=8))
    with pytest.raises(UserError, match="record different settings \\(key 'recipe'\\)"):
        run_report(tmp_path, "sagan")


def test_stale_classifier_and_mismatched_baselines_are_refused(tmp_path: Path) -> None:
    make_study(tmp_path, "lucic")
    classifier = tmp_path / "metrics" / "classifier" / "fashion_mnist.json"
    rewrite(classifier, lambda r: r.update(weights_sha256="ff" * 32))
    with pytest.raises(UserError, match=f"{re.escape(str(classifier))}: key 'weights_sha256'"):
        run_report(tmp_path, "lucic")
    rewrite(classifier, lambda r: r.update(weights_sha256=SHA))
    baselines = tmp_path / "metrics" / "lucic" / "baselines-fashion_mnist.json"
    rewrite(baselines, lambda r: r["protocol"].update(prdc_k=3))
    with pytest.raises(UserError, match=f"{re.escape(str(baselines))}: key 'protocol.prdc_k'"):
        run_report(tmp_path, "lucic")
    rewrite(baselines, lambda r: r["protocol"].update(prdc_k=5) or r["rows"].pop("real_train"))
    with pytest.raises(UserError, match=f"{re.escape(str(baselines))}: key 'rows.real_train'"):
        run_report(tmp_path, "lucic")
    baselines.unlink()
    with pytest.raises(UserError, match=f"file not found: {re.escape(str(baselines))}"):
        run_report(tmp_path, "lucic")
    assert not (tmp_path / "reports").exists()


def test_unknown_section_lists_the_choices(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    set_params(tmp_path, lambda p: p["studies"]["sagan"]["report"].update(sections=["mystery"]))
    with pytest.raises(ConfigError) as err:
        run_report(tmp_path, "sagan")
    assert err.value.key == "studies.sagan.report.sections" and err.value.value == "mystery"
    assert err.value.allowed == "one of " + ", ".join(SECTIONS.names())
    for name in ("sanity", "rank_agreement", "latex", "stabilisation", "attention_maps"):
        assert name in SECTIONS.names()
    assert {"truncation", "cifar10_reproductions"} <= set(SECTIONS.names())


def test_section_needing_a_published_table(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    set_params(tmp_path, lambda p: p["studies"]["sagan"]["report"].update(published=None))
    with pytest.raises(ConfigError, match="'studies.sagan.report.sections': got 'stabilisation'"):
        run_report(tmp_path, "sagan")
    set_params(
        tmp_path,
        lambda p: p["studies"]["sagan"]["report"].update(
            published="biggan2019", sections=["stabilisation"]
        ),
    )
    with pytest.raises(ConfigError, match="published table has curves"):
        run_report(tmp_path, "sagan")  # BigGAN's table has no curve rows
    set_params(tmp_path, lambda p: p["studies"]["sagan"]["report"].update(published="nope"))
    with pytest.raises(ConfigError, match="'studies.sagan.report.published': got 'nope'"):
        run_report(tmp_path, "sagan")


def test_a_study_without_sections_or_published_table(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    set_params(
        tmp_path, lambda p: p["studies"]["sagan"]["report"].update(published=None, sections=[])
    )
    run_report(tmp_path, "sagan")
    md = (tmp_path / "reports" / "sagan.md").read_text()
    assert "## Published" not in md and "maps to (published row)" not in md
    assert "## Our results (`shapes32`, shapes-cnn features)" in md


def test_an_image_that_is_not_the_recorded_one_is_refused(tmp_path: Path) -> None:
    """Records name their images with their SHA-256: a grid rewritten after its record (or a
    stale copy) stops the report instead of being shown beside the wrong numbers."""
    make_study(tmp_path, "sagan")
    for grid in (tmp_path / "evaluations" / "sagan").glob("*/samples.png"):
        grid.write_bytes(grid.read_bytes() + b"\0")
    with pytest.raises(UserError, match="SHA-256 differs"):
        run_report(tmp_path, "sagan")
    assert not (tmp_path / "reports").exists()
