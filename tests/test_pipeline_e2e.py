"""End to end: the real `dvc repro` in a temporary copy of the repo, on a tiny params file.

Checks every declared output, the report rows, that adding a seed trains only the new run, and
that a training run killed mid-way resumes under `dvc repro` and ends where an uninterrupted
run ends.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
MODELS = ["ns", "wgan_gp", "began", "vae"]

ABLATION_EVALUATE = {
    "num_fake": 100,
    "kid_subsets": 2,
    "kid_subset_size": 50,
    "is_splits": 2,
    "standing_stats_batches": 1,
    "standing_stats_batch_size": 50,
    "batch_size": 50,
    "grid_size": 3,
    "prdc_k": 3,
}
ABLATION_TRAIN = {
    "steps": 8,
    "batch_size": 8,
    "num_checkpoints": 2,
    "resume_every": 4,
    "threads": 1,
}
SAGAN_VARIANTS = {
    "baseline": {"label": "SN-GAN", "paper_rows": ["no_attention", "sn_gd_ttur"]},
    "attention16": {
        "paper_rows": ["attention_16"],
        "model": {"g_attention": [16], "d_attention": [16]},
    },
}
BIGGAN_VARIANTS = {
    "baseline": {"paper_rows": ["1"]},
    "ortho": {
        "paper_rows": ["8"],
        "model": {"ch": 4, "shared_embedding": True, "skip_z": True},
        "train": {"batch_size": 16, "ortho_beta": 0.0001},
    },
}
OVERRIDES = {
    "datasets": ["shapes", "shapes32"],
    "data": {"shapes": {"root": None}},
    "features": {"batch_size": 250},
    "classifier": {"width": 8, "epochs": 1, "batch_size": 64, "lr": 0.003, "min_accuracy": 0.5},
    "lucic": {
        "datasets": ["shapes"],
        "models": MODELS,
        "seeds": [0],
        "shared": {"lr": 0.0005},
        "train": {
            "steps": 24,
            "batch_size": 16,
            "width": 0.125,
            "num_checkpoints": 2,
            "resume_every": 12,
            "threads": 1,
        },
        "evaluate": {
            "num_fake": 200,
            "kid_subsets": 5,
            "kid_subset_size": 100,
            "is_splits": 2,
            "standing_stats_batches": 2,
            "batch_size": 100,
            "grid_size": 4,
        },
    },
    "sagan": {
        "dataset": "shapes32",
        "seeds": [0],
        "model": {"ch": 2, "z_dim": 16, "shared_dim": 8},
        "train": ABLATION_TRAIN,
        "variants": SAGAN_VARIANTS,
        "evaluate": ABLATION_EVALUATE,
    },
    "biggan": {
        "dataset": "shapes32",
        "seeds": [0],
        "model": {"ch": 2, "z_dim": 16, "shared_dim": 8, "g_attention": [16], "d_attention": [16]},
        "train": {**ABLATION_TRAIN, "ema_start": 2},
        "variants": BIGGAN_VARIANTS,
        "evaluate": {**ABLATION_EVALUATE, "truncation": [1.0, 0.5], "grid_truncation": [0.5]},
    },
}


def merged(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        is_section = (
            isinstance(value, dict)
            and isinstance(base.get(key), dict)
            and key not in ("data", "variants")
        )
        out[key] = merged(base[key], value) if is_section else value
    return out


# the repo's params.yaml with tiny sizes: every key DVC tracks stays present
TINY = merged(yaml.safe_load((REPO / "params.yaml").read_text()), OVERRIDES)


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if check and proc.returncode:
        raise AssertionError(f"dvc {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_repo(root: Path, params: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in ("dvc.yaml", "pyproject.toml"):
        shutil.copy(REPO / name, root / name)
    for name in ("stages", "ganbench"):
        shutil.copytree(
            REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    return root


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return make_repo(tmp_path_factory.mktemp("repo"), TINY)


def run_names(seeds=(0,)) -> list[str]:
    return [f"lucic-shapes-{m}-{s}" for m in MODELS for s in seeds]


def test_repro_writes_every_declared_output(repo):
    dvc(repo, "repro")
    assert (repo / "data/prepared/shapes.npz").is_file()
    assert (repo / "models/classifier-shapes.pt").is_file()
    assert (repo / "refstats/shapes.npz").is_file()
    baselines = json.loads((repo / "metrics/lucic-shapes-baselines.json").read_text())
    assert set(baselines["rows"]) == {"real_train", "untrained_generator"}
    # the floor sits below the ceiling
    assert baselines["rows"]["real_train"]["fid"] < baselines["rows"]["untrained_generator"]["fid"]
    for run in run_names():
        record = json.loads((repo / f"metrics/{run}.json").read_text())
        assert record["status"] in ("ok", "diverged")
        assert [c["step"] for c in record["checkpoints"]] == [12, 24]
        assert (
            record["protocol"]["n_fake"] == 200 and record["protocol"]["reference_split"] == "test"
        )
        assert (repo / f"evaluations/{run}/samples.png").is_file()
        assert (repo / f"runs/{run}/status.json").is_file()
    for out in (
        "reports/lucic.md",
        "reports/lucic.csv",
        "reports/lucic.tex",
        "reports/lucic/summary.json",
        "reports/lucic/fid_curves.csv",
        "reports/lucic/figures/fid_vs_step.png",
    ):
        assert (repo / out).is_file(), out
    report = (repo / "reports/lucic.md").read_text()
    for name in ("NS GAN", "WGAN GP", "BEGAN", "VAE", "Lucic et al. 2018"):
        assert name in report
    assert "real train" in report.lower() and "untrained" in report.lower()
    status = dvc(repo, "status").stdout
    assert "changed" not in status, status
    assert "metrics/lucic-shapes-ns-0.json" in dvc(repo, "metrics", "show").stdout


def test_repro_runs_the_tiny_sagan_and_biggan_studies(repo):
    """Runs after the test above (same repo, same `dvc repro`)."""
    for study, variants in (("sagan", SAGAN_VARIANTS), ("biggan", BIGGAN_VARIANTS)):
        for variant in variants:
            run = f"{study}-shapes32-{variant}-0"
            record = json.loads((repo / f"metrics/{run}.json").read_text())
            assert record["status"] == "ok" and record["variant"] == variant
            assert [c["step"] for c in record["checkpoints"]] == [4, 8]
            assert (repo / f"evaluations/{run}/samples.png").is_file()
            assert (repo / f"runs/{run}/status.json").is_file()
        report = (repo / f"reports/{study}.md").read_text()
        assert all(f"`{v}`" in report or v in report for v in variants)
        assert (repo / f"reports/{study}.csv").is_file()
        assert (repo / f"reports/{study}/summary.json").is_file()
    sagan = json.loads((repo / "metrics/sagan-shapes32-attention16-0.json").read_text())
    assert sagan["generator"] == "raw" and sagan["attention_figure"].endswith("attention.png")
    assert (repo / "reports/sagan/stabilisation.csv").is_file()
    ortho = json.loads((repo / "metrics/biggan-shapes32-ortho-0.json").read_text())
    assert ortho["generator"] == "ema" and ortho["train"]["ortho_beta"] == 0.0001
    assert [t["psi"] for t in ortho["truncation"]] == [None, 1.0, 0.5]
    assert set(ortho["grids"]) == {"none", "0.5"}
    assert (
        ortho["params"]["G"]
        > json.loads((repo / "metrics/biggan-shapes32-baseline-0.json").read_text())["params"]["G"]
    )
    assert (repo / "reports/biggan/truncation.csv").is_file()
    assert "amenable" in (repo / "reports/biggan.md").read_text().lower()


def test_adding_a_seed_trains_only_the_new_runs(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["lucic"]["seeds"] = [0, 1]
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    status = dvc(repo, "status").stdout
    stale = {line.strip().rstrip(":") for line in status.splitlines() if line.endswith(":")}
    assert {f"train@shapes-{m}-1" for m in MODELS} <= stale, status
    assert not {f"train@shapes-{m}-0" for m in MODELS} & stale, status
    params["lucic"]["seeds"] = [0]
    (repo / "params.yaml").write_text(yaml.safe_dump(params))


def test_killed_training_resumes_to_the_same_result(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["lucic"].update(models=["ns"], seeds=[0])
    params["lucic"]["train"].update(steps=400, resume_every=20, num_checkpoints=2)
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    run_dir = repo / "runs/lucic-shapes-ns-0"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro", "train@shapes-ns-0"],
        cwd=repo,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    resume = run_dir / "resume.pt"
    deadline = time.time() + 120
    while time.time() < deadline and not (
        resume.exists() and resume.stat().st_mtime > 0 and _snapshot_step(resume) >= 40
    ):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = _snapshot_step(resume)
    assert 40 <= killed_at < 400, "training finished before it could be killed"
    assert not (run_dir / "status.json").exists()

    out = dvc(repo, "repro", "evaluate@shapes-ns-0").stdout
    assert "resuming from step" in out
    resumed = json.loads((repo / "metrics/lucic-shapes-ns-0.json").read_text())

    shutil.rmtree(run_dir)  # retrain from scratch, uninterrupted
    dvc(repo, "repro", "train@shapes-ns-0")
    dvc(repo, "repro", "evaluate@shapes-ns-0")
    fresh = json.loads((repo / "metrics/lucic-shapes-ns-0.json").read_text())
    assert resumed["checkpoints"] == fresh["checkpoints"]
    assert resumed["best"] == fresh["best"]


def _snapshot_step(path: Path) -> int:
    import torch

    try:
        return int(torch.load(path, weights_only=True)["step"])
    except Exception:
        return -1


def test_params_switch_every_stage_to_inception(tmp_path, inception_weights):
    """features.extractor: inception -> reference stats, baselines, evaluation and report all use
    torch-fidelity's InceptionV3 (a random weights file, its hash injected through params)."""
    path, digest = inception_weights
    params = merged(
        TINY,
        {
            "features": {
                "extractor": "inception",
                "weights_path": str(path),
                "weights_sha256": digest[:16],
                "batch_size": 100,
            },
            "lucic": {
                "models": ["ns"],
                "train": {"steps": 12, "num_checkpoints": 1},
                "evaluate": {"num_fake": 60, "kid_subset_size": 50, "batch_size": 60},
            },
        },
    )
    root = make_repo(tmp_path / "repo", params)
    # the Lucic study only: `dvc repro report` would also run the ablations (report depends on the
    # whole metrics/ directory, which holds their records too), Inception on CPU for every one
    dvc(root, "repro", "baselines", "evaluate")
    dvc(root, "repro", "--single-item", "report")
    with np.load(root / "refstats/shapes.npz") as f:
        meta = json.loads(str(f["meta"]))
        assert f["mu"].shape == (2048,) and f["sigma"].shape == (2048, 2048)
    assert meta["extractor"] == "inception" and meta["weights_sha256"] == digest
    baselines = json.loads((root / "metrics/lucic-shapes-baselines.json").read_text())
    record = json.loads((root / "metrics/lucic-shapes-ns-0.json").read_text())
    for protocol in (baselines["protocol"], record["protocol"]):
        assert protocol["extractor"] == "inception" and protocol["weights_sha256"] == digest
        assert protocol["feature_dim"] == 2048
        assert protocol["extractor_label"] == "inception-v3 (torch-fidelity)"
    assert set(record["best"]) >= {"fid", "kid_mean", "is_mean", "precision", "coverage"}
    report = (root / "reports/lucic.md").read_text()
    assert "inception-v3 (torch-fidelity) features" in report
    # random weights and 60 samples: never beside the paper's column
    assert "Side by side" not in report


def test_wrong_inception_weights_stop_refstats_with_one_message(tmp_path, inception_weights):
    path, _ = inception_weights
    params = merged(TINY, {"features": {"extractor": "inception", "weights_path": str(path)}})
    root = make_repo(tmp_path / "repo", params)
    proc = dvc(root, "repro", "refstats@shapes", check=False)
    assert proc.returncode != 0
    assert "does not start with the expected '6726825d'" in proc.stdout + proc.stderr
    assert not (root / "refstats/shapes.npz").exists()
