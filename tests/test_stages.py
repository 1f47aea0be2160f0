"""Stage scripts: at the bad-input boundary one message naming the params key, exit code 2, no
outputs; and the stages of one run working together on a tiny study (prepare, refstats, train with
its DVCLive curves, evaluate, baselines), a corrupt checkpoint refused by evaluate, a finished run
trained again from scratch. The refusals of bad params run the script as ``__main__`` in this
process (the same boundary, without an interpreter start-up each); the rest run as subprocesses."""

from __future__ import annotations

import copy
import json
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from ablation_helpers import LUCIC, study_with

from ganbench.metrics.classifier import FeatureCNN
from ganbench.metrics.features import save_classifier

REPO = Path(__file__).resolve().parents[1]
RUN = "lucic-shapes-ns-0"


def run_stage(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "stages" / f"{name}.py"), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


def run_in_process(name: str, *args, monkeypatch, capsys) -> subprocess.CompletedProcess:
    """The stage script run as ``__main__`` in this process (no interpreter start-up): its exit
    code (0 when it returns) and what it printed."""
    monkeypatch.setattr(sys, "argv", [f"{name}.py", *map(str, args)])
    capsys.readouterr()
    code = 0
    try:
        runpy.run_path(str(REPO / "stages" / f"{name}.py"), run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(sys.argv, code, out.out, out.err)


def train_args(params: Path, data: Path, out: Path, *, variant="ns", seed=0) -> tuple:
    """The train stage's command line for run lucic/shapes/<variant>/<seed>."""
    return (
        "--params", params, "--study", "lucic", "--dataset", "shapes", "--variant", variant,
        "--seed", seed, "--data", data, "--out", out,
    )  # fmt: skip


def study(**blocks) -> dict:
    """LUCIC at 4 steps, checkpoints at 2 and 4; ``blocks`` merged into its recipe."""
    base = study_with(
        LUCIC,
        training={"steps": 4, "num_checkpoints": 2, "resume_every": 2},
        figures={"grid_size": 2},
    )
    return study_with(base, **blocks) if blocks else base


def write_params(path: Path, lucic: dict | None = None, **top) -> Path:
    params = {
        "data": {"shapes": {"root": None}},
        "datasets": ["shapes"],
        "pipeline": {"device": "cpu", "threads": 0},  # 0: in-process runs leave torch alone
        "features": {"extractor": "classifier", "batch_size": 64},
        "studies": {"lucic": lucic or study()},
        **top,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def assert_one_message(proc: subprocess.CompletedProcess, *words: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, Path]:
    """params.yaml, the prepared data (prepare stage), a tiny classifier, its reference
    statistics (refstats stage)."""
    root = tmp_path_factory.mktemp("stages")
    params = write_params(root / "params.yaml")
    data = root / "prepared" / "shapes.npz"
    ok = run_stage("prepare", "--params", params, "--dataset", "shapes", "--out", data, cwd=root)
    assert ok.returncode == 0, ok.stderr
    assert data.is_file() and not list(data.parent.glob(".*tmp"))
    torch.manual_seed(0)
    weights = root / "classifier.pt"
    save_classifier(weights, FeatureCNN(1, 4, width=4, feature_dim=8).eval(), {"dataset": "shapes"})
    reference = root / "refstats.npz"
    ok = run_stage(
        "refstats", "--params", params, "--data", data, "--weights", weights, "--out", reference,
        cwd=root,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "reference shapes/test: n=1000" in ok.stdout
    return {"root": root, "params": params, "data": data, "weights": weights, "ref": reference}


L = "studies.lucic"


# (every key's message is in test_config.py, through load_plan; here: the stage's boundary)
@pytest.mark.parametrize(
    ("blocks", "key", "value"),
    [
        ({"objective": {"name": "nsgan"}}, f"{L}.recipe.objective.name", "'nsgan'"),
        ({"training": {"steps": 0}}, f"{L}.recipe.training.steps", "0"),
        ({"training": {"stepz": 10}}, f"{L}.recipe.training.stepz", "10"),
        ({"optimiser": {"lr_g": -1.0}}, f"{L}.recipe.optimiser.lr_g", "-1.0"),
        ({"datasets": ["imagenet"]}, f"{L}.datasets", "'imagenet'"),
        # another variant's problem stops this run's stage too: params are checked whole
        (
            {
                "variants": {
                    "dragan": {"objective": {"name": "began"}, "penalty": {"name": "dragan"}}
                }
            },
            f"{L}.variants.dragan.penalty.name",
            "'dragan'",
        ),
    ],
)
def test_bad_params_stop_the_train_stage_with_one_message(
    tmp_path, blocks, key, value, monkeypatch, capsys
):
    data = copy.deepcopy(study())
    for name, block in blocks.items():
        if name in ("datasets", "variants"):
            data[name] = block if name == "datasets" else {**data[name], **block}
        else:
            data["recipe"][name] = {**data["recipe"][name], **block}
    params = write_params(tmp_path / "params.yaml", data)
    out = tmp_path / "runs" / "r"
    args = train_args(params, tmp_path / "none.npz", out)
    proc = run_in_process("train", *args, monkeypatch=monkeypatch, capsys=capsys)
    assert_one_message(proc, f"params key '{key}': got {value}; allowed")
    assert not out.exists()


@pytest.mark.parametrize(
    ("variant", "seed", "key"),
    [("gan9000", 0, f"{L}.variants"), ("ns", 7, f"{L}.seeds")],
)
def test_a_run_outside_the_study_is_refused(
    workspace, tmp_path, variant, seed, key, monkeypatch, capsys
):
    out = tmp_path / "r"
    args = train_args(workspace["params"], workspace["data"], out, variant=variant, seed=seed)
    proc = run_in_process("train", *args, monkeypatch=monkeypatch, capsys=capsys)
    assert_one_message(proc, f"params key '{key}'")
    assert not out.exists()


def test_missing_prepared_data_names_the_stage_to_run(workspace, tmp_path, monkeypatch, capsys):
    out = tmp_path / "runs" / "r"
    args = train_args(workspace["params"], tmp_path / "shapes.npz", out)
    proc = run_in_process("train", *args, monkeypatch=monkeypatch, capsys=capsys)
    assert_one_message(proc, "prepare@shapes")
    assert not out.exists()


def test_prepare_refuses_an_unknown_dataset(workspace, tmp_path):
    args = ("--params", workspace["params"], "--dataset", "imagenet", "--out", tmp_path / "x.npz")
    assert_one_message(run_stage("prepare", *args, cwd=tmp_path), "imagenet", "fashion_mnist")
    assert not (tmp_path / "x.npz").exists()


@pytest.fixture(scope="module")
def trained(workspace) -> Path:
    """The train stage on lucic/shapes/ns/0, with its DVCLive curves."""
    root = workspace["root"]
    out, live = root / "runs" / RUN, root / "live" / RUN
    args = (*train_args(workspace["params"], workspace["data"], out), "--live", live, "--quiet")
    proc = run_stage("train", *args, cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert f"{RUN}: ok after 4 steps" in proc.stdout
    return out


def test_train_writes_the_run_and_its_curves(workspace, trained):
    assert sorted(p.name for p in trained.iterdir()) == [
        "checkpoints",
        "config.json",
        "log.csv",
        "resume.pt",
        "status.json",
    ]
    status = json.loads((trained / "status.json").read_text())
    assert (status["status"], status["checkpoints"], status["device"]) == ("ok", [2, 4], "cpu")
    config = json.loads((trained / "config.json").read_text())
    assert (config["study"], config["dataset"], config["variant"], config["seed"]) == (
        "lucic",
        "shapes",
        "ns",
        0,
    )
    live = workspace["root"] / "live" / RUN
    assert sorted(p.name for p in (live / "plots" / "metrics").iterdir()) == [
        "d_loss.tsv",
        "g_loss.tsv",
    ]


def evaluate_args(workspace, run: Path, out: Path) -> tuple:
    return (
        "--params", workspace["params"], "--study", "lucic", "--dataset", "shapes",
        "--variant", "ns", "--seed", 0, "--run", run, "--weights", workspace["weights"],
        "--reference", workspace["ref"], "--metrics", out / "metrics.json", "--out-dir", out / "evaluations" / RUN,
    )  # fmt: skip


def test_evaluate_and_baselines_write_their_records(workspace, trained, tmp_path):
    root = workspace["root"]
    proc = run_stage("evaluate", *evaluate_args(workspace, trained, tmp_path), cwd=root)
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["run"] == RUN and record["status"] == "ok" and record["generator"] == "raw"
    assert [c["step"] for c in record["checkpoints"]] == [2, 4]
    assert record["protocol"]["n_fake"] == 40 and record["protocol"]["extractor"] == "classifier"
    assert Path(record["grids"]["none"]).is_file()
    assert f"{RUN}: ok, best FID (raw G)" in proc.stdout
    proc = run_stage(
        "baselines", "--params", workspace["params"], "--study", "lucic", "--dataset", "shapes",
        "--data", workspace["data"], "--weights", workspace["weights"],
        "--reference", workspace["ref"], "--metrics", tmp_path / "baselines.json", cwd=root,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    baselines = json.loads((tmp_path / "baselines.json").read_text())
    assert baselines["dataset"] == "shapes"
    assert set(baselines["rows"]) == {"real_train", "untrained_generator"}


def test_a_corrupt_checkpoint_is_refused_by_evaluate(workspace, trained, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for name in ("status.json", "config.json"):
        (run / name).write_bytes((trained / name).read_bytes())
    bad = run / "checkpoints" / "step_0000002.pt"
    bad.write_bytes(b"not a checkpoint")
    proc = run_stage("evaluate", *evaluate_args(workspace, run, tmp_path), cwd=workspace["root"])
    assert proc.returncode == 2
    # the message quotes torch's (multi-line) reason after the one line that names the file
    first = proc.stderr.splitlines()[0]
    assert first.startswith(f"error: {bad}: not a readable ganbench checkpoint (")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "evaluations").exists()
    (run / "status.json").unlink()  # a run that has not finished training
    proc = run_stage("evaluate", *evaluate_args(workspace, run, tmp_path), cwd=workspace["root"])
    assert_one_message(proc, "has not finished training")


def test_a_finished_run_trains_again_from_scratch(workspace, trained, tmp_path):
    """DVC re-runs train only when code or params changed: a finished run must not be resumed."""
    out = tmp_path / RUN
    shutil.copytree(trained, out)
    status = (out / "status.json").read_text()

    def weights():
        return torch.load(out / "checkpoints" / "step_0000004.pt", weights_only=True)["G"]

    before = weights()
    (out / "checkpoints" / "step_0000004.pt").unlink()  # what a resumed run would not rewrite
    args = (*train_args(workspace["params"], workspace["data"], out), "--quiet")
    again = run_stage("train", *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "holds a finished run; training again" in again.stdout
    assert "resuming" not in again.stdout
    assert (out / "status.json").read_text() == status  # same seed: same run
    after = weights()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
