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
from ganbench.reporting import load_lucic_table2, paper_comparable, write_lucic_report
from ganbench.reporting.latex import latex_escape
from ganbench.reporting.published import MODEL_NAMES, measurement_differences
from ganbench.reporting.render import paper_column, paper_heading

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
    "prdc_k": 5,
    "standing_stats_batches": 20,
    "seed": 2020,
    "steps": 1200,
    "width": 0.25,
    "batch_size": 64,
    "device": "cpu",
    "versions": {"ganbench": "0.1.0", "torch": "2.14.1", "python": "3.11.7"},
}
# Lucic et al.'s measurement: Inception features, 10k generated vs 10k real test images.
INCEPTION_PROTOCOL = {
    **PROTOCOL,
    "extractor": "inception",
    "extractor_label": "inception-v3 (torch-fidelity)",
    "weights_sha256": "6726825d" + "0" * 56,
    "feature_dim": 2048,
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
        **prdc(fid, seed),
    }


def prdc(fid: float, seed: int) -> dict:
    """Precision/recall/density/coverage of a checkpoint, simple functions of its FID and seed."""
    return {
        "precision": 0.9 - fid / 1000,
        "recall": 0.4 + 0.1 * seed,
        "density": 1.5 - fid / 100,
        "coverage": 0.7 - fid / 1000 + 0.01 * seed,
    }


def make_record(model: str, seed: int, protocol: dict = PROTOCOL) -> dict:
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
        "protocol": copy.deepcopy(protocol),
        "best": best,
        "checkpoints": checkpoints,
    }


def baseline_row(fid: float, prdc: tuple[float, float, float, float]) -> dict:
    return {
        "fid": fid,
        "kid_mean": fid / 1000,
        "kid_std": 0.0005,
        "is_mean": 8.5,
        "is_std": 0.05,
        **dict(zip(("precision", "recall", "density", "coverage"), prdc, strict=True)),
    }


def make_study(root: Path, protocol: dict = PROTOCOL) -> Path:
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
            rec = make_record(model, seed, protocol)
            (metrics / f"{rec['run']}.json").write_text(json.dumps(rec))
            grid = root / "evaluations" / rec["run"] / "samples.png"
            grid.parent.mkdir(parents=True)
            Image.new("L", (16, 16), color=10 * seed + MODELS.index(model)).save(grid)
    baseline_protocol = {
        k: v for k, v in protocol.items() if k not in ("steps", "width", "batch_size")
    }
    (metrics / f"lucic-{DATASET}-baselines.json").write_text(
        json.dumps(
            {
                "dataset": DATASET,
                "protocol": baseline_protocol,
                "rows": {
                    "real_train": baseline_row(1.23, (0.76, 0.74, 0.98, 0.95)),
                    "untrained_generator": baseline_row(412.0, (0.0, 0.0, 0.0, 0.0)),
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
    assert row["prdc_k"] == 5
    for key in ("precision", "recall", "density", "coverage"):
        values = np.array([prdc(min(RUNS[(model, s)][1]), s)[key] for s in ok_seeds])
        assert row[f"{key}_mean"] == pytest.approx(np.mean(values), rel=1e-12), key
        assert row[f"{key}_std"] == pytest.approx(np.std(values, ddof=1), rel=1e-9), key


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
        r"Kynk\"{a}\"{a}nniemi et al. 2019",
        "Model & precision (k=5) & recall (k=5) & density (k=5) & coverage (k=5) \\\\",
        r"NS GAN & 0.860 $\pm$ 0.002 & 0.450 $\pm$ 0.071 & 1.103 $\pm$ 0.023 & 0.665 $\pm$ 0.009",
    ):
        assert text in tex, text
    assert "fashion_mnist-cnn" not in tex and "±" not in tex and "ä" not in tex
    # our FID/KID/IS table and our PRDC table; no table with the paper's numbers
    assert tex.count(r"\begin{tabular}") == 2 and "Table 2" not in tex
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == 2
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
    elif how == "best.precision":
        del rec["best"]["precision"]
    elif how == "checkpoints[0].coverage":
        del rec["checkpoints"][0]["coverage"]
    elif how == "protocol.prdc_k":
        del rec["protocol"]["prdc_k"]
    elif how == "protocol.n_real":
        rec["protocol"]["n_real"] = "10k"


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
        "best.precision",
        "checkpoints[0].coverage",
        "protocol.prdc_k",
        "protocol.n_real",
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


def md_tables(md: str) -> list[tuple[str, list[list[str]]]]:
    """Every Markdown table of ``md`` as (nearest heading above it, rows of cells; row 0 = header)."""
    tables, heading, current = [], "", None
    for line in md.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.startswith("|"):
            if current is None:
                current = (heading, [])
                tables.append(current)
            if not set(line) <= set("|-"):  # skip the |---| rule
                current[1].append([c.strip() for c in line.strip("|").split(" | ")])
        else:
            current = None
    return tables


def table_under(md: str, heading_start: str) -> list[list[str]]:
    found = [rows for heading, rows in md_tables(md) if heading.startswith(heading_start)]
    assert len(found) == 1, (heading_start, [h for h, _ in md_tables(md)])
    return found[0]


def test_prdc_table_rows(study: Path) -> None:
    md = (study / "reports" / "lucic.md").read_text()
    rows = table_under(md, "Precision, recall, density, coverage (Fashion-MNIST, fashion_mnist-cnn")
    assert rows == [
        ["Model", "precision (k=5)", "recall (k=5)", "density (k=5)", "coverage (k=5)"],
        ["NS GAN", "0.860 ± 0.002", "0.450 ± 0.071", "1.103 ± 0.023", "0.665 ± 0.009"],
        ["WGAN", "0.865 ± 0.002", "0.450 ± 0.071", "1.153 ± 0.020", "0.670 ± 0.005"],
        ["BEGAN", "0.844 ± 0.005", "0.500 ± 0.100", "0.944 ± 0.051", "0.654 ± 0.005"],
        ["LSGAN", "—", "—", "—", "—"],
        ["VAE", "0.756 ± 0.004", "0.500 ± 0.100", "0.059 ± 0.043", "0.566 ± 0.009"],
    ]
    # it sits under "Our results", before the paper's section
    ours, paper = md.index("### Our results"), md.index("### Lucic et al. 2018 Table 2")
    assert ours < md.index("#### Precision, recall, density, coverage") < paper
    assert "Kynkäänniemi et al. 2019" in md and "Naeem et al. 2020" in md
    assert "k = 5 nearest neighbours" in md
    sanity = table_under(md, "Sanity rows (fashion_mnist-cnn features")
    assert sanity[0][-4:] == ["precision (k=5)", "recall (k=5)", "density (k=5)", "coverage (k=5)"]
    assert sanity[1][0] == "real train images vs test (floor)"
    assert sanity[1][-4:] == ["0.760", "0.740", "0.980", "0.950"]
    assert sanity[2][-4:] == ["0.000"] * 4


def test_every_table_of_ours_names_its_extractor(study: Path) -> None:
    md = (study / "reports" / "lucic.md").read_text()
    tables = md_tables(md)
    assert len(tables) == 4  # ours, PRDC, paper, sanity (one hparams setting: a sentence)
    for heading, rows in tables:
        if heading == "Hyperparameters" or heading.startswith("Lucic et al. 2018 Table 2"):
            continue
        assert "fashion_mnist-cnn" in heading + " ".join(rows[0]), heading


@pytest.mark.parametrize(
    ("change", "comparable"),
    [
        ({}, True),
        ({"extractor": "classifier"}, False),
        ({"n_real": 5000}, False),
        ({"n_fake": 5000}, False),
        ({"reference_split": "train"}, False),
        # random or converted Inception weights are never the paper's network
        ({"weights_sha256": "1278e657" + "0" * 56}, False),
        # training does not enter: it changes what is measured, not how
        ({"steps": 10, "width": 0.125, "batch_size": 32}, True),
    ],
)
def test_paper_comparable(change: dict, comparable: bool) -> None:
    protocol = {**INCEPTION_PROTOCOL, **change}
    assert paper_comparable(protocol) is comparable
    differences = measurement_differences(protocol)
    assert (differences == []) is comparable
    if "n_fake" in change:
        assert differences == ["5,000 generated images (paper: 10,000)"]
    if "extractor" in change:
        assert differences == ["inception-v3 (torch-fidelity) features (paper: Inception)"]
    if "weights_sha256" in change:
        assert differences == [
            "Inception weights with SHA-256 1278e6570000… (paper: the 2015-12-05 graph, 6726825d…)"
        ]


@pytest.fixture(scope="module")
def inception_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inception_study")
    make_study(root, INCEPTION_PROTOCOL)
    run_report(root)
    return root


OURS_INCEPTION = (
    "ours: FID (inception-v3 (torch-fidelity) features, 10k vs 10k test, 1,200 steps, "
    "width ×0.25, one setting, 3 seeds), mean ± std"
)


def test_inception_protocol_puts_paper_beside_ours(inception_study: Path) -> None:
    md = (inception_study / "reports" / "lucic.md").read_text()
    paper = paper_column(DATASET)
    assert paper == (
        "Lucic et al. 2018 Table 2: FID (Inception, 10k vs 10k test, 15,625 steps, "
        "best of 100-point search, 50 seeds), mean ± std"
    )
    rows = table_under(md, "Side by side: our FID and Lucic et al. 2018 Table 2")
    assert rows == [
        ["Model", OURS_INCEPTION, paper, "note"],
        ["NS GAN", "39.7 ± 2.3 (2 of 3 runs ok)", "26.5 ± 1.6", ""],
        ["WGAN", "34.7 ± 2.0 (2 of 3 runs ok)", "21.5 ± 1.6", ""],
        ["BEGAN", "55.6 ± 5.1", "22.9 ± 0.9", ""],
        ["LSGAN", "— (all 3 runs diverged)", "30.7 ± 2.2", ""],
        ["VAE", "144.1 ± 4.3", "58.7 ± 1.2", "unverified (not checked against the PDF)"],
    ]
    # the paper's own table stays, and the side-by-side one follows it
    assert md.index(f"### {paper_heading(DATASET)}") < md.index("### Side by side")
    for text in (
        "Inception-v3 pool3 features (`inception-v3 (torch-fidelity)`: torch-fidelity's "
        "TF1-parity port",
        "with 10,000 generated vs 10,000 real images of the test split, and so do we",
        "1,200 steps (paper: 15,625); width ×0.25 (paper: ×1); one hyperparameter setting "
        "(paper: best of a 100-point search); 3 seeds (paper: 50)",
    ):
        assert text in md, text
    assert "not Inception" not in md and "ours differs" not in md
    # every table of our numbers still names the extractor
    for heading, table in md_tables(md):
        if heading == "Hyperparameters" or heading.startswith("Lucic et al. 2018 Table 2"):
            continue
        assert "inception-v3 (torch-fidelity)" in heading + " ".join(table[0]), heading
    tex = (inception_study / "reports" / "lucic.tex").read_text()
    assert tex.count(r"\begin{tabular}") == 3
    assert latex_escape(OURS_INCEPTION) in tex and latex_escape(paper) in tex
    assert r"NS GAN & 39.7 $\pm$ 2.3 (2 of 3 runs ok) & 26.5 $\pm$ 1.6 &  \\" in tex
    assert "(not Inception)" not in tex
    csv = (inception_study / "reports" / "lucic.csv").read_text()
    assert "26.5" not in csv  # the CSV holds our numbers only


def assert_no_table_mixes_ours_and_paper(md: str, label: str) -> None:
    paper = load_lucic_table2().set_index(["model", "dataset"])
    paper_cells = {
        f"{paper.loc[(m, DATASET), 'fid_mean']:.1f} ± {paper.loc[(m, DATASET), 'fid_std']:.1f}"
        for m in MODELS
    }
    for heading, rows in md_tables(md):
        header = " ".join([heading, *rows[0]])
        cells = {c for row in rows[1:] for c in row}
        ours = label in header or "ours" in header
        theirs = "Lucic" in header or "paper" in header or bool(cells & paper_cells)
        assert not (ours and theirs), heading


def test_classifier_protocol_keeps_paper_apart(study: Path) -> None:
    md = (study / "reports" / "lucic.md").read_text()
    assert_no_table_mixes_ours_and_paper(md, "fashion_mnist-cnn")
    assert "Side by side" not in md
    assert not any(c.startswith("ours:") for _, rows in md_tables(md) for c in rows[0])
    assert "not Inception, so the values are not on the paper's scale" in md
    assert "ours differs: fashion_mnist-cnn features (paper: Inception)" in md
    assert "(features, training length and search differ)" in md


def test_inception_with_other_counts_keeps_paper_apart(tmp_path: Path) -> None:
    make_study(tmp_path, {**INCEPTION_PROTOCOL, "n_fake": 5000})
    run_report(tmp_path)
    md = (tmp_path / "reports" / "lucic.md").read_text()
    assert_no_table_mixes_ours_and_paper(md, "inception-v3 (torch-fidelity)")
    assert "Side by side" not in md
    assert "ours differs: 5,000 generated images (paper: 10,000)" in md
    assert "not Inception" not in md
    tex = (tmp_path / "reports" / "lucic.tex").read_text()
    assert tex.count(r"\begin{tabular}") == 2 and "Table 2" not in tex


def test_no_side_by_side_without_table2_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ganbench.reporting.lucic as lucic_module

    empty = load_lucic_table2().iloc[:0].set_index("model")
    monkeypatch.setattr(lucic_module, "lucic_table2", lambda dataset: empty)
    make_study(tmp_path, INCEPTION_PROTOCOL)
    run_report(tmp_path)
    md = (tmp_path / "reports" / "lucic.md").read_text()
    assert "Side by side" not in md
    assert "but Table 2 has no numbers for these models on Fashion-MNIST" in md
    assert (tmp_path / "reports" / "lucic.tex").read_text().count(r"\begin{tabular}") == 2


def test_baselines_need_prdc_and_the_runs_k(tmp_path: Path) -> None:
    make_study(tmp_path)
    path = tmp_path / "metrics" / f"lucic-{DATASET}-baselines.json"
    good = json.loads(path.read_text())
    rec = copy.deepcopy(good)
    del rec["rows"]["real_train"]["precision"]
    path.write_text(json.dumps(rec))
    with pytest.raises(
        UserError, match=re.escape(f"{path}: missing key 'rows.real_train.precision'")
    ):
        run_report(tmp_path)
    rec = copy.deepcopy(good)
    rec["protocol"]["prdc_k"] = 3
    path.write_text(json.dumps(rec))
    with pytest.raises(UserError, match=re.escape(f"{path}: key 'protocol.prdc_k' is 3")):
        run_report(tmp_path)


def load_stage():
    path = Path(__file__).resolve().parents[1] / "stages" / "report.py"
    spec = importlib.util.spec_from_file_location("stage_report", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
