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
BASE = yaml.safe_load((REPO / "params.yaml").read_text())
MODELS = ["ns", "wgan_gp", "began", "vae"]

EVALUATION = {
    "num_fake": 100,
    "kid_subsets": 2,
    "kid_subset_size": 50,
    "is_splits": 2,
    "standing_stats_batches": 1,
    "standing_stats_batch_size": 50,
    "batch_size": 50,
    "prdc_k": 3,
}
RESNET = {"ch": 2, "z_dim": 16, "shared_dim": 8}
RESNET_TRAINING = {"steps": 8, "batch_size": 8, "num_checkpoints": 2, "resume_every": 4}


def merged(base: dict, changes: dict) -> dict:
    """``changes`` deep-merged into ``base``; ``variants`` and ``data`` are replaced whole."""
    out = dict(base)
    for key, value in changes.items():
        is_section = (
            isinstance(value, dict)
            and isinstance(base.get(key), dict)
            and key not in ("data", "variants")
        )
        out[key] = merged(base[key], value) if is_section else value
    return out


def variants(study: str, names: list[str], **changes) -> dict:
    """The default's variants ``names`` of ``study``, with ``changes`` merged into some."""
    out = {n: dict(BASE["studies"][study]["variants"][n]) for n in names}
    for name, change in changes.items():
        out[name] = merged(out[name], change)
    return out


def study(name: str, dataset: str, recipe: dict, chosen: dict) -> dict:
    search = {"space": "none", "trials": []}
    return {
        "datasets": [dataset],
        "seeds": [0],
        "search": search,
        "recipe": recipe,
        "variants": chosen,
    }


OVERRIDES = {
    "datasets": ["shapes", "shapes32"],
    "data": {"shapes": {"root": None}},
    "pipeline": {"threads": 1},
    "features": {"batch_size": 250},
    "classifier": {"width": 8, "epochs": 1, "batch_size": 64, "lr": 0.003, "min_accuracy": 0.5},
    "studies": {
        "lucic": study(
            "lucic",
            "shapes",
            {
                "optimiser": {"lr_g": 0.0005, "lr_d": 0.0005},
                "training": {
                    "steps": 24,
                    "batch_size": 16,
                    "num_checkpoints": 2,
                    "resume_every": 12,
                },
                "evaluation": {**EVALUATION, "num_fake": 200, "kid_subset_size": 100},
                "figures": {"grid_size": 4},
            },
            variants("lucic", MODELS),
        )
        | {"search": {"space": "narrow", "trials": [0, 1]}},
        "sagan": study(
            "sagan",
            "shapes32",
            {
                "arch": RESNET,
                "training": RESNET_TRAINING,
                "evaluation": EVALUATION,
                "figures": {"grid_size": 3},
            },
            variants("sagan", ["baseline", "attention32"]),
        ),
        "biggan": study(
            "biggan",
            "shapes32",
            {
                "arch": RESNET,
                "training": {**RESNET_TRAINING, "ema_start": 2},
                "evaluation": {**EVALUATION, "truncation": [1.0, 0.5]},
                "figures": {"grid_size": 3, "grid_truncation": [0.5]},
            },
            variants(
                "biggan",
                ["baseline", "ortho"],
                ortho={"arch": {"ch": 4}, "training": {"batch_size": 16}},
            ),
        ),
        "losses": study(
            "losses",
            "shapes32",
            {
                "arch": RESNET,
                "training": {**RESNET_TRAINING, "steps": 10, "resume_every": 5},
                "evaluation": EVALUATION,
                "figures": {"grid_size": 3},
            },
            variants("losses", ["ns", "hinge", "wgan_gp"]),
        ),
    },
}


# the repo's params.yaml with tiny sizes: every key DVC tracks stays present
TINY = merged(BASE, OVERRIDES)


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
    for name in ("stages", "ganbench", "configs"):
        shutil.copytree(
            REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    for study in params["studies"]:  # as committed: a select stage's input dir before any trial
        (root / f"metrics/{study}/search").mkdir(parents=True, exist_ok=True)
        (root / f"metrics/{study}/search/.gitkeep").touch()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    return root


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return make_repo(tmp_path_factory.mktemp("repo"), TINY)


def run_names(seeds=(0,)) -> list[str]:
    return [f"lucic-shapes-{m}-{s}" for m in MODELS for s in seeds]


def record(repo: Path, run: str) -> dict:
    study, trial = run.split("-")[0], run.rsplit("-", 1)[1].startswith("t")
    return json.loads((repo / f"metrics/{study}/{'search/' * trial}{run}.json").read_text())


def test_repro_writes_every_declared_output(repo):
    dvc(repo, "repro")
    assert (repo / "data/prepared/shapes.npz").is_file()
    assert (repo / "models/classifier-shapes.pt").is_file()
    assert (repo / "refstats/shapes.npz").is_file()
    baselines = json.loads((repo / "metrics/lucic/baselines-shapes.json").read_text())
    assert set(baselines["rows"]) == {"real_train", "untrained_generator"}
    # the floor sits below the ceiling
    assert baselines["rows"]["real_train"]["fid"] < baselines["rows"]["untrained_generator"]["fid"]
    for run in run_names():
        rec = record(repo, run)
        assert rec["status"] in ("ok", "diverged")
        assert [c["step"] for c in rec["checkpoints"]] == [12, 24]
        assert rec["protocol"]["n_fake"] == 200 and rec["protocol"]["reference_split"] == "test"
        assert (repo / f"evaluations/lucic/{run}/samples.png").is_file()
        assert (repo / f"runs/lucic/{run}/status.json").is_file()
        assert (repo / f"dvclive/lucic/{run}/metrics.json").is_file()  # DVCLive's curves
    for out in ("reports/lucic.md", "reports/lucic.csv", "reports/lucic/fid_curves.csv"):
        assert (repo / out).is_file(), out
    report = (repo / "reports/lucic.md").read_text()
    for name in ("NS GAN", "WGAN GP", "BEGAN", "VAE", "Lucic et al. 2018"):
        assert name in report
    assert "real train" in report.lower() and "untrained" in report.lower()
    status = dvc(repo, "status").stdout
    assert "changed" not in status, status
    assert "metrics/lucic/lucic-shapes-ns-0.json" in dvc(repo, "metrics", "show").stdout


def test_the_search_trains_trials_selects_one_and_re_runs_it(repo):
    """Lucic et al.'s method on the tiny lucic study (narrow space, trials 0 and 1): each trial's
    record carries its drawn setting; the selection names the best ok trial; the re-run trains
    exactly that setting on its seed."""
    for m in MODELS:
        trials = [record(repo, f"lucic-shapes-{m}-t{t}") for t in (0, 1)]
        for t, rec in enumerate(trials):
            assert rec["search"] == {**rec["search"], "role": "trial", "trial": t}
            assert rec["seed"] == 10_000 + t and rec["search"]["space"] == "narrow"
            for path, value in rec["search"]["hparams"].items():
                block, field = path.split(".")
                assert rec["recipe"][block][field] == value, (m, path)
        if m != "vae":  # n_disc is searched where D has an optimiser of its own
            assert trials[1]["search"]["hparams"]["optimiser.n_disc"] == 1
        selected = json.loads((repo / f"selections/lucic/lucic-shapes-{m}.json").read_text())
        ok = {t: r["best"]["fid"] for t, r in enumerate(trials) if r["status"] == "ok"}
        assert selected["chosen"] == (min(ok, key=lambda t: (ok[t], t)) if ok else None)
        rerun = record(repo, f"lucic-shapes-{m}-0")["search"]
        assert rerun["role"] == "seed" and rerun["trial"] == selected["chosen"]
        assert rerun["hparams"] == selected["hparams"]


def test_adding_a_trial_trains_only_it_and_re_selects(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["studies"]["lucic"]["search"]["trials"] = [0, 1, 2]
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    # DVC names a matrix stage by its values: trial 2 of ns is search_lucic@lucic-shapes-ns-2
    new = {f"{stage}_lucic@lucic-shapes-{m}-2" for stage in ("search", "search_evaluate")
           for m in MODELS}  # fmt: skip
    selects = {f"select_lucic@lucic-shapes-{m}" for m in MODELS}
    # the re-runs hang on the selection's content: stale only if the new trial wins
    assert stale_stages(repo) == new | selects | {"report_lucic@lucic"}
    params["studies"]["lucic"]["search"]["trials"] = [0, 1]
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    assert stale_stages(repo) == set()


def test_repro_runs_the_tiny_resnet_studies(repo):
    """Runs after the test above (same repo, same `dvc repro`): SAGAN, BigGAN and the fourth
    study (losses on the ResNet), all through the same stages."""
    for name, chosen in (("sagan", ["baseline", "attention32"]), ("biggan", ["baseline", "ortho"]),
                         ("losses", ["ns", "hinge", "wgan_gp"])):  # fmt: skip
        steps = [5, 10] if name == "losses" else [4, 8]
        for variant in chosen:
            run = f"{name}-shapes32-{variant}-0"
            rec = record(repo, run)
            assert rec["status"] == "ok" and rec["variant"] == variant
            assert [c["step"] for c in rec["checkpoints"]] == steps
            assert (repo / f"evaluations/{name}/{run}/samples.png").is_file()
            assert (repo / f"runs/{name}/{run}/status.json").is_file()
        report = (repo / f"reports/{name}.md").read_text()
        assert all(f"`{v}`" in report for v in chosen), name
        assert (repo / f"reports/{name}.csv").is_file()
    sagan = record(repo, "sagan-shapes32-attention32-0")
    assert sagan["generator"] == "raw" and sagan["attention_figure"].endswith("attention.png")
    assert (repo / "reports/sagan/stabilisation.csv").is_file()
    ortho = record(repo, "biggan-shapes32-ortho-0")
    assert ortho["generator"] == "ema" and ortho["recipe"]["training"]["ortho_beta"] == 0.0001
    assert [t["psi"] for t in ortho["truncation"]] == [None, 1.0, 0.5]
    assert set(ortho["grids"]) == {"none", "0.5"}
    assert ortho["params"]["G"] > record(repo, "biggan-shapes32-baseline-0")["params"]["G"]
    assert (repo / "reports/biggan/truncation.csv").is_file()
    assert "amenable" in (repo / "reports/biggan.md").read_text().lower()
    gp = record(repo, "losses-shapes32-wgan_gp-0")["recipe"]
    assert gp["objective"] == {"name": "wgan", "clip": None}
    assert gp["penalty"] == {"name": "gp", "weight": 10.0}
    assert gp["arch"]["d_spectral_norm"] and not gp["arch"]["g_spectral_norm"]


def stale_stages(repo: Path) -> set[str]:
    status = dvc(repo, "status").stdout
    # stage lines are flush left; their "changed deps:"-style details are indented
    return {
        line.rstrip(":") for line in status.splitlines() if line.endswith(":") and line[:1].strip()
    }


def test_adding_a_seed_runs_only_its_stages_and_its_report(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["studies"]["sagan"]["seeds"] = [0, 1]
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    new = {f"{stage}_sagan@sagan-shapes32-{v}-1" for stage in ("train", "evaluate")
           for v in ("baseline", "attention32")}  # fmt: skip
    # the new seed's train and evaluate stages, and the SAGAN report (its params changed)
    assert stale_stages(repo) == new | {"report_sagan@sagan"}
    params["studies"]["sagan"]["seeds"] = [0]
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    assert stale_stages(repo) == set()


def test_changing_a_grid_size_re_evaluates_without_retraining(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["studies"]["sagan"]["recipe"]["figures"]["grid_size"] = 4
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    stale = stale_stages(repo)
    assert not any(s.startswith("train_") for s in stale), stale
    assert {s for s in stale if s.startswith("evaluate_")} == {
        "evaluate_sagan@sagan-shapes32-baseline-0",
        "evaluate_sagan@sagan-shapes32-attention32-0",
    }
    params["studies"]["sagan"]["recipe"]["figures"]["grid_size"] = 3
    (repo / "params.yaml").write_text(yaml.safe_dump(params))


def test_killed_training_resumes_to_the_same_result(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    lucic = params["studies"]["lucic"]
    lucic["variants"] = {"ns": lucic["variants"]["ns"]}
    lucic["search"] = {"space": "none", "trials": []}
    lucic["recipe"]["training"].update(steps=400, resume_every=20, num_checkpoints=2)
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    run, run_dir = "lucic-shapes-ns-0", repo / "runs/lucic/lucic-shapes-ns-0"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro", f"train_lucic@{run}"],
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

    out = dvc(repo, "repro", f"evaluate_lucic@{run}").stdout
    assert "resuming from step" in out
    resumed = record(repo, run)
    live = (repo / f"dvclive/lucic/{run}/plots/metrics/d_loss.tsv").read_text().splitlines()
    steps = [int(line.split("\t")[0]) for line in live[1:]]
    assert steps == sorted(set(steps)), "DVCLive rows repeated after the resume"

    shutil.rmtree(run_dir)  # retrain from scratch, uninterrupted
    dvc(repo, "repro", f"train_lucic@{run}")
    dvc(repo, "repro", f"evaluate_lucic@{run}")
    fresh = record(repo, run)
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
            "studies": {
                "lucic": {
                    "variants": {"ns": TINY["studies"]["lucic"]["variants"]["ns"]},
                    "recipe": {
                        "training": {"steps": 12, "num_checkpoints": 1},
                        "evaluation": {"num_fake": 60, "kid_subset_size": 50, "batch_size": 60},
                    },
                },
            },
        },
    )
    root = make_repo(tmp_path / "repo", params)
    dvc(root, "repro", "report_lucic")  # the Lucic study only: its report reads its own records
    assert not (root / "runs/sagan").exists()
    with np.load(root / "refstats/shapes.npz") as f:
        meta = json.loads(str(f["meta"]))
        assert f["mu"].shape == (2048,) and f["sigma"].shape == (2048, 2048)
    assert meta["extractor"] == "inception" and meta["weights_sha256"] == digest
    baselines = json.loads((root / "metrics/lucic/baselines-shapes.json").read_text())
    rec = record(root, "lucic-shapes-ns-0")
    for protocol in (baselines["protocol"], rec["protocol"]):
        assert protocol["extractor"] == "inception" and protocol["weights_sha256"] == digest
        assert protocol["feature_dim"] == 2048
        assert protocol["extractor_label"] == "inception-v3 (torch-fidelity)"
    assert set(rec["best"]) >= {"fid", "kid_mean", "is_mean", "precision", "coverage"}
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
