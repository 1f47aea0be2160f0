"""Stage scripts at the bad-input boundary: one message naming the key, exit code 2, no outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]


def run_stage(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "stages" / f"{name}.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


def train_args(params: Path, data: Path, out: Path) -> tuple[str, ...]:
    """The train stage's command line for run shapes/ns/seed 0."""
    return (
        "--params", str(params), "--dataset", "shapes", "--model", "ns", "--seed", "0",
        "--data", str(data), "--out", str(out),
    )  # fmt: skip


def write_params(tmp_path: Path, **lucic) -> Path:
    params = {
        "data": {"shapes": {"root": None}},
        "lucic": {"datasets": ["shapes"], "models": ["ns"], "seeds": [0], **lucic},
    }
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.mark.parametrize(
    ("lucic", "key", "value"),
    [
        ({"models": ["ns", "nsgan"]}, "lucic.models[1]", "nsgan"),
        ({"train": {"steps": 0}}, "lucic.train.steps", "0"),
        ({"train": {"stepz": 10}}, "lucic.train.stepz", "10"),
        ({"shared": {"lr": -1.0}}, "lucic.shared.lr", "-1.0"),
        ({"shared": {"n_disc": 0}}, "lucic.shared.n_disc", "0"),
        ({"datasets": ["imagenet"]}, "lucic.datasets[0]", "imagenet"),
    ],
)
def test_bad_params_stop_the_train_stage_with_one_message(tmp_path, lucic, key, value):
    params = write_params(tmp_path, **lucic)
    out = tmp_path / "runs" / "r"
    proc = run_stage("train", *train_args(params, tmp_path / "none.npz", out), cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert key in lines[0] and value in lines[0] and "allowed" in lines[0]
    assert not out.exists()


def test_missing_prepared_data_names_the_stage_to_run(tmp_path):
    params = write_params(tmp_path)
    out = tmp_path / "runs" / "r"
    proc = run_stage("train", *train_args(params, tmp_path / "shapes.npz", out), cwd=tmp_path)
    assert proc.returncode == 2
    assert "prepare@shapes" in proc.stderr and not out.exists()


def test_prepare_writes_the_prepared_file_and_refuses_an_unknown_dataset(tmp_path):
    params = write_params(tmp_path)
    out = tmp_path / "prepared" / "shapes.npz"
    ok = run_stage(
        "prepare", "--params", str(params), "--dataset", "shapes", "--out", str(out), cwd=tmp_path
    )
    assert ok.returncode == 0, ok.stderr
    assert out.is_file() and not list(out.parent.glob(".*tmp"))
    bad = run_stage(
        "prepare",
        "--params",
        str(params),
        "--dataset",
        "imagenet",
        "--out",
        str(tmp_path / "x.npz"),
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and "imagenet" in bad.stderr and "fashion_mnist" in bad.stderr
    assert not (tmp_path / "x.npz").exists()


def test_a_corrupt_checkpoint_is_refused_by_evaluate(tmp_path):
    run = tmp_path / "runs" / "r"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_0000010.pt").write_bytes(b"not a checkpoint")
    (run / "status.json").write_text('{"status": "ok"}')
    from ganbench.errors import UserError
    from ganbench.training.checkpoint import load_checkpoint

    with pytest.raises(UserError, match="step_0000010.pt"):
        load_checkpoint(run / "checkpoints" / "step_0000010.pt")


def test_a_finished_run_trains_again_from_scratch(tmp_path):
    """DVC re-runs train only when code or params changed: a finished run must not be resumed."""
    params = write_params(
        tmp_path,
        train={
            "steps": 4,
            "batch_size": 8,
            "width": 0.125,
            "num_checkpoints": 1,
            "resume_every": 2,
        },
    )
    data = tmp_path / "shapes.npz"
    assert (
        run_stage(
            "prepare",
            "--params",
            str(params),
            "--dataset",
            "shapes",
            "--out",
            str(data),
            cwd=tmp_path,
        ).returncode
        == 0
    )
    out = tmp_path / "runs" / "r"
    args = (*train_args(params, data, out), "--quiet")
    first = run_stage("train", *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    status = (out / "status.json").read_text()

    def weights():
        path = out / "checkpoints" / "step_0000004.pt"
        return torch.load(path, weights_only=True)["G"]

    before = weights()
    second = run_stage("train", *args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "training again from scratch" in second.stdout
    assert "resuming" not in second.stdout
    assert (out / "status.json").read_text() == status  # same seed: same run
    after = weights()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
