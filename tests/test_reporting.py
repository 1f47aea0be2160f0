"""ganbench.reporting: the Lucic et al. report from fixture records shaped like evaluate's."""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from ganbench.config import Hyperparameters, load_params
from ganbench.errors import UserError
from ganbench.reporting import load_lucic_table2, write_lucic_report
from ganbench.reporting.latex import latex_escape
from ganbench.reporting.published import MODEL_NAMES
from ganbench.reporting.render import paper_heading

DATASET = "fashion_mnist"
MODELS = ("ns", "wgan", "began", "lsgan", "vae")
SEEDS = (0, 1, 2)
SHA = "ab12cd34ef56" + "0" * 52
HPARAMS = dataclasses.asdict(Hyperparameters())  # lr 2e-4, beta1 0.5, ... as in the brief
PROTOCOL = {
    "extractor": "classifier",
    "extractor_label": "fashion_mnist-cnn",
    "weights_sha256": SHA,
    "feature_dim": 128,
    "n_real": 10000,
    "n_fake": 10000,
    "reference_split": "test",
    "kid_subsets": 100,
    "kid_subset_size": 1000,
    "is_splits": 10,
    "standing_stats_batches": 20,
    "seed": 2020,
    "steps": 1200,
    "width": 0.25,
    "batch_size": 64,
    "device": "cpu",
    "versions": {"ganbench": "0.1.0", "torch": "2.14.1", "python": "3.11.7"},
}

# (model, seed) -> (status, checkpoint FIDs at steps 300, 600, 900). Best = lowest FID.
# ns seed 2 diverged after two checkpoints (a low best FID that must NOT enter the mean); wgan seed
# 2 failed with best null; lsgan diverged in every seed (seed 0 before its first checkpoint).
RUNS = {
    ("ns", 0): ("ok", (90.0, 41.3, 44.0)),
    ("ns", 1): ("ok", (85.0, 47.9, 38.1)),
    ("ns", 2): ("diverged", (70.0, 5.0)),
    ("wgan", 0): ("ok", (60.0, 33.3, 35.0)),
    ("wgan", 1): ("ok", (66.0, 36.1, 39.9)),
    ("wgan", 2): ("failed", ()),
    ("began", 0): ("ok", (99.0, 52.2, 50.4)),
    ("began", 1): ("ok", (98.0, 57.7, 55.8)),
    ("began", 2): ("ok", (97.0, 61.6, 60.6)),
    ("lsgan", 0): ("diverged", ()),
    ("lsgan", 1): ("diverged", (120.0,)),
    ("lsgan", 2): ("diverged", (130.0, 125.0)),
    ("vae", 0): ("ok", (150.0, 140.2, 141.0)),
    ("vae", 1): ("ok", (155.0, 148.8, 149.0)),
    ("vae", 2): ("ok", (152.0, 143.4, 144.4)),
}


def checkpoint(step: int, fid: float, seed: int) -> dict:
    return {
        "step": step,
        "fid": fid,
        "kid_mean": fid / 1000 + seed * 1e-4,
        "kid_std": 0.001,
        "is_mean": 9.0 - fid / 20,
        "is_std": 0.1,
    }


def make_record(model: str, seed: int) -> dict:
    status, fids = RUNS[(model, seed)]
    checkpoints = [checkpoint(300 * (i + 1), f, seed) for i, f in enumerate(fids)]
    best = min(checkpoints, key=lambda c: c["fid"]) if checkpoints else None
    if status == "diverged" and checkpoints:  # evaluate marks a checkpoint with NaN samples
        checkpoints = [{**c, "status": "ok"} for c in checkpoints]
        checkpoints.append({"step": 300 * (len(fids) + 1), "status": "nonfinite"})
    return {
        "run": f"lucic-{DATASET}-{model}-{seed}",
        "study": "lucic",
        "dataset": DATASET,
        "model": model,
        "seed": seed,
        "status": status,
        "diverged_at_step": 300 * len(fids) + 50 if status == "diverged" else None,
        "reason": "out of memory" if status == "failed" else None,
        "hparams": dict(HPARAMS),
        "protocol": copy.deepcopy(PROTOCOL),
        "best": best,
        "checkpoints": checkpoints,
    }


def baseline_row(fid: float) -> dict:
    return {"fid": fid, "kid_mean": fid / 1000, "kid_std": 0.0005, "is_mean": 8.5, "is_std": 0.05}


def make_study(root: Path) -> Path:
    """Write params.yaml, metrics/ and evaluations/ under ``root``; returns the params path."""
    params = root / "params.yaml"
    params.write_text(
        f"lucic:\n  datasets: [{DATASET}]\n  models: [{', '.join(MODELS)}]\n"
        f"  seeds: [{', '.join(map(str, SEEDS))}]\n"
    )
    metrics = root / "metrics"
    metrics.mkdir()
    for model in MODELS:
        for seed in SEEDS:
            rec = make_record(model, seed)
            (metrics / f"{rec['run']}.json").write_text(json.dumps(rec))
            grid = root / "evaluations" / rec["run"] / "samples.png"
            grid.parent.mkdir(parents=True)
            Image.new("L", (16, 16), color=10 * seed + MODELS.index(model)).save(grid)
    baseline_protocol = {
        k: v for k, v in PROTOCOL.items() if k not in ("steps", "width", "batch_size")
    }
    (metrics / f"lucic-{DATASET}-baselines.json").write_text(
        json.dumps(
            {
                "dataset": DATASET,
                "protocol": baseline_protocol,
                "rows": {
                    "real_train": baseline_row(1.23),
                    "untrained_generator": baseline_row(412.0),
                },
            }
        )
    )
    (metrics / f"classifier-{DATASET}.json").write_text(
        json.dumps({"dataset": DATASET, "test_accuracy": 0.912, "weights_sha256": SHA, "epochs": 3})
    )
    return params


def run_report(root: Path, out: str = "reports") -> list[Path]:
    lucic = load_params(root / "params.yaml").lucic
    return write_lucic_report(
        lucic,
        metrics_dir=root / "metrics",
        evaluations_dir=root / "evaluations",
        out_dir=root / out,
    )


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("study")
    make_study(root)
    run_report(root)
    return root


def best_fids(model: str, statuses: tuple[str, ...] = ("ok",)) -> np.ndarray:
    return np.array([min(RUNS[(model, s)][1]) for s in SEEDS if RUNS[(model, s)][0] in statuses])


def test_every_output_exists(study: Path) -> None:
    out = study / "reports"
    names = [
        "lucic.md",
        "lucic.csv",
        "lucic.tex",
        "lucic/figures/fid_vs_step.png",
        "lucic/figures/fid_per_seed.png",
        "lucic/fid_curves.csv",
        "lucic/summary.json",
    ]
    names += [f"lucic/figures/samples_{DATASET}_{m}.png" for m in MODELS if m != "lsgan"]
    for name in names:
        assert (out / name).is_file(), name
    assert not (out / f"lucic/figures/samples_{DATASET}_lsgan.png").exists()  # no ok run, no grid
    # the grid is the lowest ok seed's, copied byte for byte
    source = study / "evaluations" / f"lucic-{DATASET}-ns-0" / "samples.png"
    assert (out / f"lucic/figures/samples_{DATASET}_ns.png").read_bytes() == source.read_bytes()


@pytest.mark.parametrize("model", ["ns", "wgan", "began", "vae"])
def test_csv_means_and_stds_match_numpy(study: Path, model: str) -> None:
    table = pd.read_csv(study / "reports" / "lucic.csv").set_index("model")
    fids = best_fids(model)
    ok_seeds = [s for s in SEEDS if RUNS[(model, s)][0] == "ok"]
    kids = np.array([min(RUNS[(model, s)][1]) / 1000 + s * 1e-4 for s in ok_seeds])
    iss = 9.0 - fids / 20
    row = table.loc[model]
    assert row["fid_mean"] == pytest.approx(np.mean(fids), rel=1e-12)
    assert row["fid_std"] == pytest.approx(np.std(fids, ddof=1), rel=1e-12)
    assert row["fid_best_run"] == pytest.approx(np.min(fids), rel=1e-12)
    assert row["kid_mean"] == pytest.approx(np.mean(kids), rel=1e-12)
    assert row["kid_std"] == pytest.approx(np.std(kids, ddof=1), rel=1e-9)
    assert row["is_mean"] == pytest.approx(np.mean(iss), rel=1e-12)
    assert row["is_std"] == pytest.approx(np.std(iss, ddof=1), rel=1e-9)
    assert row["features"] == "fashion_mnist-cnn"


def test_diverged_runs_are_counted_and_excluded(study: Path) -> None:
    table = pd.read_csv(study / "reports" / "lucic.csv").set_index("model")
    assert table.loc["ns", ["n_ok", "n_diverged", "n_failed"]].tolist() == [2, 1, 0]
    assert table.loc["wgan", ["n_ok", "n_diverged", "n_failed"]].tolist() == [2, 0, 1]
    with_diverged = best_fids("ns", ("ok", "diverged"))
    assert table.loc["ns", "fid_mean"] != pytest.approx(with_diverged.mean())
    assert table.loc["lsgan", ["n_ok", "n_diverged"]].tolist() == [0, 3]
    assert np.isnan(table.loc["lsgan", "fid_mean"])
    md = (study / "reports" / "lucic.md").read_text()
    assert "| LSGAN | — (all 3 runs diverged) | — |" in md
    assert "**LSGAN: all 3 runs diverged**" in md
    assert "| 2 / 1 |" in md and "| 2 / 0 (+1 failed) |" in md
    summary = json.loads((study / "reports" / "lucic" / "summary.json").read_text())
    assert summary[DATASET]["models"]["lsgan"] == {
        "fid_mean": None,
        "fid_std": None,
        "n_ok": 0,
        "n_diverged": 3,
    }
    assert summary[DATASET]["models"]["ns"]["n_diverged"] == 1


def test_paper_numbers_only_in_their_own_section(study: Path) -> None:
    md = (study / "reports" / "lucic.md").read_text()
    heading = "### Lucic et al. 2018 Table 2 (Inception FID, 10k vs 10k test, 15,625 steps, "
    assert md.count(heading) == 1
    before, after = md.split(heading)
    section, rest = after.split("\n### ", 1)
    paper = load_lucic_table2().set_index(["model", "dataset"])
    for model in MODELS:
        cell = (
            f"{paper.loc[(model, DATASET), 'fid_mean']:.1f} ± "
            f"{paper.loc[(model, DATASET), 'fid_std']:.1f}"
        )
        assert cell in section and cell not in before and cell not in rest, model
    assert "| VAE | 58.7 ± 1.2 | unverified" in section
    assert "### Our results" in before  # ours come first, under their own heading
    for name in ("lucic.csv", "lucic.tex"):
        text = (study / "reports" / name).read_text()
        assert "26.5" not in text and "58.7" not in text, name


def test_spearman_equals_scipy(study: Path) -> None:
    paper = load_lucic_table2().set_index(["model", "dataset"])
    models = ["ns", "wgan", "began", "vae"]  # in both, with ok runs; lsgan has none
    ours = [best_fids(m).mean() for m in models]
    theirs = [paper.loc[(m, DATASET), "fid_mean"] for m in models]
    expected = stats.spearmanr(ours, theirs)
    got = json.loads((study / "reports" / "lucic" / "summary.json").read_text())[DATASET]
    assert got["spearman"]["n"] == 4
    assert got["spearman"]["rho"] == pytest.approx(expected.statistic, abs=1e-12)
    assert got["spearman"]["p_value"] == pytest.approx(expected.pvalue, abs=1e-12)
    md = (study / "reports" / "lucic.md").read_text()
    assert f"ρ = {expected.statistic:.3f}, p = {expected.pvalue:.3g}" in md


def test_markdown_states_protocol_and_hparams(study: Path) -> None:
    md = (study / "reports" / "lucic.md").read_text()
    assert "`dvc repro report`" in md and "`make repro`" in md
    for text in (
        "`fashion_mnist-cnn`",
        SHA[:12],
        "test accuracy 91.2%",
        "10,000 generated",
        "10,000 real",
        "`test`",
        "1,200 steps",
        "batch 64",
        "width ×0.25",
        "device cpu",
        "seeds 0, 1, 2",
        "All 5 models use one setting",
        "| real train images vs test (floor) | 1.2 |",
        "| untrained generator (ceiling) | 412.0 |",
        "![FID against training step](lucic/figures/fid_vs_step.png)",
        "(lucic/figures/samples_fashion_mnist_ns.png)",
    ):
        assert text in md, text
    assert "FID (fashion_mnist-cnn features), best ckpt, mean ± std" in md


def test_latex_and_curves(study: Path) -> None:
    tex = (study / "reports" / "lucic.tex").read_text()
    for text in (
        r"\toprule",
        r"\midrule",
        r"\bottomrule",
        r"fashion\_mnist-cnn",
        r"$\pm$",
        r"KID $\times 10^3$",
    ):
        assert text in tex, text
    assert "fashion_mnist-cnn" not in tex and "±" not in tex
    assert latex_escape("a_b & 5% ± —") == r"a\_b \& 5\% $\pm$ ---"
    curves = pd.read_csv(study / "reports" / "lucic" / "fid_curves.csv")
    assert list(curves.columns) == ["run", "model", "seed", "step", "fid", "kid_mean", "is_mean"]
    assert len(curves) == sum(len(fids) for _, fids in RUNS.values())


def test_report_is_deterministic(tmp_path: Path) -> None:
    make_study(tmp_path)
    first, second = run_report(tmp_path, "a"), run_report(tmp_path, "b")
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        p.relative_to(tmp_path / "b") for p in second
    ]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_missing_metrics_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    params = make_study(tmp_path)
    missing = tmp_path / "metrics" / f"lucic-{DATASET}-wgan-1.json"
    missing.unlink()
    with pytest.raises(UserError, match=re.escape(str(missing))):
        run_report(tmp_path)
    assert not (tmp_path / "reports").exists()  # nothing half-written
    stage = load_stage()
    with pytest.raises(SystemExit) as exit_info:
        stage.main(
            [
                "--params",
                str(params),
                "--metrics-dir",
                str(tmp_path / "metrics"),
                "--evaluations-dir",
                str(tmp_path / "evaluations"),
                "--out-dir",
                str(tmp_path / "reports"),
            ]
        )
    assert exit_info.value.code == 2
    assert str(missing) in capsys.readouterr().err


def corrupt(rec: dict, how: str) -> None:
    if how == "best.fid":
        rec["best"]["fid"] = "low"
    elif how == "status":
        rec["status"] = "great"
    elif how == "diverged_at_step":
        rec["status"] = "diverged"
    elif how == "checkpoints[1].step":
        del rec["checkpoints"][1]["step"]
    elif how == "protocol.n_fake":
        del rec["protocol"]["n_fake"]
    elif how == "best.is_mean":
        rec["best"]["is_mean"] = float("nan")
    elif how == "seed":
        rec["seed"] = 7


@pytest.mark.parametrize(
    "key",
    [
        "best.fid",
        "status",
        "diverged_at_step",
        "checkpoints[1].step",
        "protocol.n_fake",
        "best.is_mean",
        "seed",
    ],
)
def test_malformed_record_names_file_and_key(tmp_path: Path, key: str) -> None:
    make_study(tmp_path)
    path = tmp_path / "metrics" / f"lucic-{DATASET}-ns-1.json"
    rec = json.loads(path.read_text())
    corrupt(rec, key)
    path.write_text(json.dumps(rec))
    with pytest.raises(UserError, match=f"{re.escape(str(path))}: .*'{re.escape(key)}'"):
        run_report(tmp_path)


def test_mixed_protocols_and_stale_classifier_are_refused(tmp_path: Path) -> None:
    make_study(tmp_path)
    path = tmp_path / "metrics" / f"lucic-{DATASET}-began-2.json"
    rec = json.loads(path.read_text())
    rec["protocol"]["weights_sha256"] = "ff" * 32
    path.write_text(json.dumps(rec))
    with pytest.raises(UserError, match="protocol.weights_sha256"):
        run_report(tmp_path)
    path.write_text(json.dumps(make_record("began", 2)))
    classifier = tmp_path / "metrics" / f"classifier-{DATASET}.json"
    classifier.write_text(
        json.dumps({"dataset": DATASET, "test_accuracy": 0.9, "weights_sha256": "ee" * 32})
    )
    with pytest.raises(UserError, match=re.escape(f"{classifier}: key 'weights_sha256'")):
        run_report(tmp_path)


def test_hyperparameters_per_model_when_they_differ(tmp_path: Path) -> None:
    make_study(tmp_path)
    for seed in SEEDS:
        path = tmp_path / "metrics" / f"lucic-{DATASET}-wgan-{seed}.json"
        rec = json.loads(path.read_text())
        rec["hparams"]["n_disc"] = 5
        path.write_text(json.dumps(rec))
    run_report(tmp_path)
    md = (tmp_path / "reports" / "lucic.md").read_text()
    assert "Per model (params `lucic.hparams: shared`" in md
    assert "| WGAN | 0.0002 | 0.5 | 0.999 | 5 | yes |" in md
    assert "| NS GAN | 0.0002 | 0.5 | 0.999 | 1 | yes |" in md
    rec["hparams"]["n_disc"] = 1  # now seed 2 disagrees with seeds 0 and 1
    path.write_text(json.dumps(rec))
    with pytest.raises(UserError, match="lucic-fashion_mnist-wgan-2"):
        run_report(tmp_path)


def test_published_table() -> None:
    table = load_lucic_table2()
    assert len(table) == 8 * 4
    assert set(table["model"]) <= set(MODEL_NAMES)
    assert set(table["dataset"]) == {"mnist", "fashion_mnist", "cifar10", "celeba"}
    assert table.loc[~table["verified"], "model"].unique().tolist() == ["vae"]
    row = table[(table["model"] == "ns") & (table["dataset"] == "fashion_mnist")].iloc[0]
    assert (row["fid_mean"], row["fid_std"]) == (pytest.approx(26.5), pytest.approx(1.6))
    assert "78,125 steps" in paper_heading("cifar10")


def load_stage():
    path = Path(__file__).resolve().parents[1] / "stages" / "report.py"
    spec = importlib.util.spec_from_file_location("stage_report", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
