"""ganbench.reporting.ablation: the SAGAN / BigGAN reports from fixture records shaped like
evaluate_ablation's, and the statistics behind them."""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from scipy import stats

from ganbench.config import AblationStudy, from_dict
from ganbench.errors import UserError
from ganbench.reporting import PAPER_ROWS, amenable_to_truncation, write_ablation_report
from ganbench.reporting.ablation import (
    Delta,
    amenable_share,
    load_biggan_table1,
    load_cifar10_reproductions,
    load_sagan_table1,
    mean_std,
    verdict,
    welch_delta,
)

SHA = "ab12cd34ef56" + "0" * 52
PROTOCOL = {
    "extractor": "classifier",
    "extractor_label": "shapes-cnn",
    "weights_sha256": SHA,
    "feature_dim": 64,
    "n_real": 1000,
    "n_fake": 2000,
    "reference_split": "test",
    "kid_subsets": 10,
    "kid_subset_size": 500,
    "is_splits": 10,
    "prdc_k": 5,
    "standing_stats_batches": 4,
    "standing_stats_batch_size": 500,
    "seed": 2020,
    "device": "cpu",
    "versions": {"ganbench": "0.1.0", "torch": "2.14.1"},
    "steps": 400,
    "steps_trained": 400,
    "batch_size": 32,
    "train_device": "cpu",
}
STEP = 100

SAGAN = {
    "dataset": "shapes32",
    "seeds": [0, 1, 2],
    "baseline": "baseline",
    "model": {"ch": 4, "z_dim": 64},
    "variants": {
        "baseline": {"label": "SN-GAN, TTUR", "paper_rows": ["no_attention", "sn_gd_ttur"]},
        "attention16": {
            "label": "+ attention at 16x16",
            "paper_rows": ["attention_16"],
            "model": {"g_attention": [16], "d_attention": [16]},
        },
        "sn_d_1to1": {
            "label": "SN on D only, 1:1",
            "paper_rows": ["sn_d"],
            "model": {"g_spectral_norm": False},
            "train": {"lr_d": 0.0001},
        },
    },
}
# (variant, seed) -> (status, FID of the headline G at steps 100, 200, ...); best = lowest.
# attention16 seed 2 diverged with a low FID that must not enter the mean; sn_d_1to1 seed 1 failed.
SAGAN_RUNS = {
    ("baseline", 0): ("ok", (80.0, 60.0, 50.0, 52.0)),
    ("baseline", 1): ("ok", (82.0, 61.0, 55.0, 54.0)),
    ("baseline", 2): ("ok", (79.0, 58.0, 53.0, 51.0)),
    ("attention16", 0): ("ok", (70.0, 45.0, 40.0, 41.0)),
    ("attention16", 1): ("ok", (72.0, 47.0, 42.0, 43.0)),
    ("attention16", 2): ("diverged", (71.0, 20.0)),
    ("sn_d_1to1", 0): ("ok", (90.0, 85.0, 88.0, 50.0)),
    ("sn_d_1to1", 1): ("failed", ()),
    ("sn_d_1to1", 2): ("ok", (95.0, 80.0, 84.0, 62.0)),
}

BIGGAN = {
    "dataset": "shapes32",
    "seeds": [0, 1],
    "baseline": "baseline",
    "model": {"ch": 4, "z_dim": 64},
    "train": {"lr_g": 0.00005, "lr_d": 0.0002, "n_disc": 2},
    "variants": {
        "baseline": {"label": "SAGAN baseline", "paper_rows": ["1"]},
        "ortho": {
            "label": "+ shared, skip-z, ortho",
            "paper_rows": ["8"],
            "model": {"shared_embedding": True, "skip_z": True},
            "train": {"ortho_beta": 0.0001, "ema_decay": 0.999},
        },
    },
    "evaluate": {"truncation": [2.0, 1.0, 0.5], "grid_truncation": [0.5]},
}
BIGGAN_RUNS = {
    ("baseline", 0): ("ok", (60.0, 40.0, 30.0)),
    ("baseline", 1): ("ok", (62.0, 41.0, 32.0)),
    ("ortho", 0): ("ok", (50.0, 30.0, 20.0)),
    ("ortho", 1): ("ok", (52.0, 29.0, 22.0)),
}
# (variant, seed) -> [(psi, FID, IS)] of the truncation sweep. baseline seed 0 saturates (IS drops
# at small psi: not amenable); the others are amenable.
SWEEPS = {
    ("baseline", 0): [(None, 30.0, 5.0), (2.0, 29.0, 5.1), (1.0, 40.0, 4.0), (0.5, 60.0, 3.0)],
    ("baseline", 1): [(None, 32.0, 5.0), (2.0, 31.0, 5.5), (1.0, 33.0, 6.0), (0.5, 45.0, 7.0)],
    ("ortho", 0): [(None, 20.0, 6.0), (2.0, 19.5, 6.4), (1.0, 21.0, 7.0), (0.5, 30.0, 8.0)],
    ("ortho", 1): [(None, 22.0, 6.2), (2.0, 21.0, 6.5), (1.0, 22.5, 7.2), (0.5, 31.0, 8.4)],
}
PARAMS = {"G": 123_456, "D": 98_765}


def scores(fid: float, seed: int = 0, is_mean: float | None = None) -> dict:
    """A full score set: every metric a simple function of the FID (and seed)."""
    return {
        "fid": fid,
        "kid_mean": fid / 1000 + seed * 1e-4,
        "kid_std": 0.001,
        "is_mean": 10.0 - fid / 20 if is_mean is None else is_mean,
        "is_std": 0.1,
        "precision": 0.9 - fid / 1000,
        "recall": 0.4 + 0.1 * seed,
        "density": 1.5 - fid / 100,
        "coverage": 0.7 - fid / 1000,
    }


def make_record(study_name: str, spec: dict, runs: dict, variant: str, seed: int) -> dict:
    """One metric record as evaluate_ablation writes it (see the record format in the brief)."""
    study = from_dict(AblationStudy, spec, study_name)
    _, model, train = study.resolve(variant, key=study_name)
    status, fids = runs[(variant, seed)]
    ema = train.ema_decay > 0
    run = f"{study_name}-{study.dataset}-{variant}-{seed}"
    checkpoints = [
        {
            "step": STEP * (i + 1),
            "raw": {"status": "ok", **scores(fid + 5.0 if ema else fid, seed)},
            "ema": {"status": "ok", **scores(fid, seed)} if ema else None,
        }
        for i, fid in enumerate(fids)
    ]
    if status == "diverged":
        checkpoints.append(
            {"step": STEP * (len(fids) + 1), "raw": {"status": "nonfinite"}, "ema": None}
        )
    best = None
    if fids:
        i = int(np.argmin(fids))
        best = {"step": STEP * (i + 1), **scores(fids[i], seed)}
    sweep = SWEEPS.get((variant, seed), []) if study_name == "biggan" and fids else []
    grids = {"none": f"evaluations/{run}/grid_none.png"}
    if study_name == "biggan":
        grids |= {"0.5": f"evaluations/{run}/grid_psi0.5.png"}
    attention = model.get("g_attention") and f"evaluations/{run}/attention.png"
    return {
        "run": run,
        "study": study_name,
        "dataset": study.dataset,
        "variant": variant,
        "seed": seed,
        "label": study.variant(variant).label,
        "paper_rows": list(study.variant(variant).paper_rows),
        "status": status,
        "diverged_at_step": STEP * len(fids) + 50 if status == "diverged" else None,
        "reason": "out of memory" if status == "failed" else None,
        "model": {
            "resolution": 32,
            "ch": 4,
            "num_classes": 4,
            "image_channels": 1,
            "z_dim": 64,
            "g_spectral_norm": True,
            "d_spectral_norm": True,
            "g_attention": [],
            "d_attention": [],
            "attention_block": "attention",
            "shared_embedding": False,
            "shared_dim": 128,
            "skip_z": False,
            "init": "ortho",
            **model,
        },
        "train": dataclasses.asdict(train),
        "params": dict(PARAMS),
        "protocol": copy.deepcopy(PROTOCOL)
        | {"steps": train.steps, "batch_size": train.batch_size},
        "generator": "ema" if ema else "raw",
        "checkpoints": checkpoints,
        "best": best,
        "truncation": [{"psi": psi, **scores(f, seed, i)} for psi, f, i in sweep],
        "grids": grids,
        "attention_figure": attention or None,
    }


def make_study(root: Path, study_name: str) -> AblationStudy:
    """Write params.yaml, metrics/ and evaluations/ under ``root``; returns the study."""
    spec, runs = (SAGAN, SAGAN_RUNS) if study_name == "sagan" else (BIGGAN, BIGGAN_RUNS)
    datasets = [spec["dataset"]]  # params must list the study's dataset (and lucic's)
    params = {"datasets": datasets, "lucic": {"datasets": datasets}, study_name: spec}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    (root / "metrics").mkdir(exist_ok=True)
    for shade, (variant, seed) in enumerate(runs):
        rec = make_record(study_name, spec, runs, variant, seed)
        (root / "metrics" / f"{rec['run']}.json").write_text(json.dumps(rec))
        for path in [*rec["grids"].values(), rec["attention_figure"]]:
            if path:
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                Image.new("L", (8, 8), color=10 * shade + len(path) % 7).save(root / path)
    return from_dict(AblationStudy, spec, study_name)


def run_report(root: Path, study_name: str, out: str = "reports") -> list[Path]:
    spec = SAGAN if study_name == "sagan" else BIGGAN
    return write_ablation_report(
        study_name,
        from_dict(AblationStudy, spec, study_name),
        metrics_dir=root / "metrics",
        evaluations_dir=root / "evaluations",
        out_dir=root / out,
    )


@pytest.fixture(scope="module")
def sagan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sagan")
    make_study(root, "sagan")
    run_report(root, "sagan")
    return root


@pytest.fixture(scope="module")
def biggan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("biggan")
    make_study(root, "biggan")
    run_report(root, "biggan")
    return root


def md_tables(md: str) -> list[tuple[str, list[list[str]]]]:
    """Every Markdown table as (nearest heading above it, rows of cells; row 0 = header)."""
    tables, heading, current = [], "", None
    for line in md.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.startswith("|"):
            if current is None:
                current = (heading, [])
                tables.append(current)
            if not set(line) <= set("|-"):
                current[1].append([c.strip() for c in line.strip("|").split(" | ")])
        else:
            current = None
    return tables


def table_under(md: str, heading_start: str) -> list[list[str]]:
    found = [rows for heading, rows in md_tables(md) if heading.startswith(heading_start)]
    assert len(found) == 1, (heading_start, [h for h, _ in md_tables(md)])
    return found[0]


def best_fids(runs: dict, variant: str) -> list[float]:
    return [min(f) for (v, _), (status, f) in runs.items() if v == variant and status == "ok"]


# ---------------------------------------------------------------- statistics


@pytest.mark.parametrize(
    ("row", "baseline"),
    [
        ([40.0, 42.0], [50.0, 54.0, 51.0]),
        ([1.0, 2.0, 4.0, 8.0], [3.0, 3.5]),
        ([5.0, 5.5], [1.0, 2.0]),
    ],
)
def test_welch_delta_equals_scipy(row: list[float], baseline: list[float]) -> None:
    ci = stats.ttest_ind(row, baseline, equal_var=False).confidence_interval(0.95)
    d = welch_delta(row, baseline)
    assert d.diff == pytest.approx(np.mean(row) - np.mean(baseline))
    assert (d.low, d.high) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_welch_delta_by_hand() -> None:
    # a = [40, 42]: mean 41, var 2; b = [50, 54, 51]: mean 51.667, var 4.333
    se2 = 2 / 2 + (13 / 3) / 3
    df = se2**2 / ((2 / 2) ** 2 / 1 + ((13 / 3) / 3) ** 2 / 2)
    half = stats.t.ppf(0.975, df) * math.sqrt(se2)
    d = welch_delta([40.0, 42.0], [50.0, 54.0, 51.0])
    assert d.diff == pytest.approx(41 - 155 / 3)
    assert (d.low, d.high) == (pytest.approx(d.diff - half), pytest.approx(d.diff + half))


@pytest.mark.parametrize(
    ("row", "baseline"), [([1.0], [1.0, 2.0]), ([1.0, 2.0], [3.0]), ([2.0, 2.0], [3.0, 3.0])]
)
def test_welch_delta_without_interval(row: list[float], baseline: list[float]) -> None:
    d = welch_delta(row, baseline)
    assert d.diff == pytest.approx(np.mean(row) - np.mean(baseline))
    assert math.isnan(d.low) and math.isnan(d.high)
    assert verdict(d, lower_is_better=True) == "n/a"
    assert math.isnan(welch_delta([], [1.0, 2.0]).diff)


@pytest.mark.parametrize(
    ("low", "high", "lower_is_better", "expected"),
    [
        (-3.0, -1.0, True, "better"),
        (-3.0, -1.0, False, "worse"),
        (1.0, 3.0, True, "worse"),
        (1.0, 3.0, False, "better"),
        (-1.0, 2.0, True, "within noise"),
        (0.0, 2.0, True, "within noise"),
        (math.nan, math.nan, True, "n/a"),
    ],
)
def test_verdict(low: float, high: float, lower_is_better: bool, expected: str) -> None:
    assert verdict(Delta((low + high) / 2, low, high), lower_is_better) == expected


def test_mean_std() -> None:
    assert mean_std([40.0, 42.0]) == (pytest.approx(41.0), pytest.approx(math.sqrt(2)))
    mean, std = mean_std([3.0])
    assert mean == pytest.approx(3.0) and math.isnan(std)
    assert all(math.isnan(x) for x in mean_std([]))


def point(psi: float | None, fid: float, is_mean: float) -> dict:
    return {"psi": psi, **scores(fid, is_mean=is_mean)}


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [
        ([], None),
        ([point(1.0, 20, 6), point(0.5, 25, 7)], None),  # no untruncated point
        ([point(None, 20, 5)], None),  # nothing truncated
        ([point(None, 20, 5), point(1.0, 19, 6), point(0.5, 25, 7)], True),
        ([point(None, 20, 5), point(1.0, 20, 6), point(0.5, 25, 7)], True),  # FID equal: ok
        ([point(0.5, 25, 7), point(None, 20, 5), point(1.0, 19, 6)], True),  # any order
        ([point(None, 20, 5), point(1.0, 19, 6), point(0.5, 40, 4)], False),  # IS saturates
        ([point(None, 20, 5), point(1.0, 21, 6), point(0.5, 25, 7)], False),  # FID always worse
        ([point(None, 20, 5), point(1.0, 19, 6), point(0.5, 25, 5)], False),  # IS only equal
    ],
)
def test_amenable_to_truncation(sweep: list[dict], expected: bool | None) -> None:
    assert amenable_to_truncation(sweep) is expected


def test_amenable_share() -> None:
    share = amenable_share([True, False, None, True])
    assert (share.amenable, share.judged) == (2, 3)
    assert share.percent == pytest.approx(200 / 3)
    empty = amenable_share([None])
    assert (empty.amenable, empty.judged) == (0, 0) and math.isnan(empty.percent)


# ---------------------------------------------------------------- published numbers


def test_published_tables_match_the_reference() -> None:
    sagan = load_sagan_table1()
    assert tuple(sagan.index) == (
        "no_attention",
        *(f"attention_{k}" for k in (8, 16, 32, 64)),
        *(f"residual_{k}" for k in (8, 16, 32, 64)),
        "sn_d",
        "sn_gd",
        "sn_gd_ttur",
    )
    assert set(sagan.index) == set(PAPER_ROWS["sagan"])
    assert (sagan.loc["no_attention", "fid"], sagan.loc["no_attention", "is"]) == (22.96, 42.87)
    assert (sagan.loc["attention_32", "fid"], sagan.loc["attention_32", "is"]) == (18.28, 51.43)
    assert (sagan.loc["residual_8", "fid"], sagan.loc["residual_8", "is"]) == (42.13, 23.17)
    assert sagan.loc["residual_32", "is"] == pytest.approx(38.50)
    assert math.isnan(sagan.loc["sn_d", "fid"]) and sagan.loc["sn_d", "setting"] == "SN on D, 1:1"

    biggan = load_biggan_table1()
    assert tuple(biggan.index) == PAPER_ROWS["biggan"] == tuple("123456789")
    row8 = biggan.loc["8"]
    assert (row8["batch"], row8["ch"], row8["params_m"]) == (2048, 96, 158.3)
    assert bool(row8["shared"] and row8["skip_z"] and row8["ortho"])
    assert (row8["itr_k"], row8["itr_k_std"]) == (165, 13)
    assert (row8["fid"], row8["fid_std"], row8["is"], row8["is_std"]) == (8.51, 0.32, 99.31, 2.10)
    assert (biggan.loc["1", "fid"], biggan.loc["1", "is"]) == (18.65, 52.52)
    assert math.isnan(biggan.loc["1", "is_std"]) and biggan.loc["2", "is_std"] == 1.18
    assert (biggan.loc["9", "params_m"], biggan.loc["9", "fid"]) == (71.3, 10.48)
    assert not biggan["verified"].any()  # the reference marks Table 1 unverified

    cifar = load_cifar10_reproductions()
    assert len(cifar) == 9
    mm = cifar[(cifar["source"] == "mmgeneration") & (cifar["model"] == "SAGAN (cond.)")]
    assert (mm["fid"].item(), mm["is"].item()) == (9.43, 9.32)
    assert cifar.loc[cifar["model"] == "WGAN-GP", "fid"].item() == 22.29


# ---------------------------------------------------------------- the SAGAN report


def test_sagan_outputs(sagan: Path) -> None:
    out = sagan / "reports"
    for name in (
        "sagan.md",
        "sagan.csv",
        "sagan/summary.json",
        "sagan/stabilisation.csv",
        "sagan/figures/stabilisation.png",
        "sagan/figures/samples_baseline.png",
        "sagan/figures/samples_attention16.png",
        "sagan/figures/samples_sn_d_1to1.png",
        "sagan/figures/attention_attention16.png",
    ):
        assert (out / name).is_file(), name
    # the best seed's grid and attention figure are copied (attention16: seed 0, FID 40)
    run = "sagan-shapes32-attention16-0"
    for name, source in (("samples", "grid_none"), ("attention", "attention")):
        copied = (out / "sagan" / "figures" / f"{name}_attention16.png").read_bytes()
        assert copied == (sagan / "evaluations" / run / f"{source}.png").read_bytes()
    md = (out / "sagan.md").read_text()
    assert "![attention16 samples, seed 0](sagan/figures/samples_attention16.png)" in md
    assert "![attention maps of attention16, seed 0](sagan/figures/attention_attention16.png)" in md


def test_sagan_header_states_what_and_how(sagan: Path) -> None:
    md = (sagan / "reports" / "sagan.md").read_text()
    assert "`dvc repro report_sagan`" in md and "`dvc repro`" in md
    assert "`shapes32`" in md and "3 variants × 3 seeds (0, 1, 2) = 9 runs" in md
    assert "steps 400 (every variant); batch 32 (every variant)" in md
    assert "lr_G / lr_D 0.0001 / 0.0004 (baseline, attention16); 0.0001 / 0.0001 (sn_d_1to1)" in md
    assert "G itself (no EMA) (every variant)" in md
    assert "`shapes-cnn` features" in md and "`ab12cd34ef56…`" in md
    assert "2,000 generated vs 1,000 real images of the `test` split" in md
    assert "by the size K of the K×K feature map" in md and "128×128" in md


def test_sagan_csv_and_json(sagan: Path) -> None:
    table = pd.read_csv(sagan / "reports" / "sagan.csv").set_index("variant")
    assert list(table.index) == list(SAGAN["variants"])
    for variant in SAGAN["variants"]:
        fids = best_fids(SAGAN_RUNS, variant)
        assert table.loc[variant, "fid_mean"] == pytest.approx(np.mean(fids))
        assert table.loc[variant, "fid_std"] == pytest.approx(np.std(fids, ddof=1))
        assert table.loc[variant, "is_mean"] == pytest.approx(np.mean([10 - f / 20 for f in fids]))
    base = best_fids(SAGAN_RUNS, "baseline")
    ci = stats.ttest_ind(best_fids(SAGAN_RUNS, "attention16"), base, equal_var=False)
    ci = ci.confidence_interval(0.95)
    row = table.loc["attention16"]
    assert (row["delta_fid_low"], row["delta_fid_high"]) == (
        pytest.approx(ci.low),
        pytest.approx(ci.high),
    )
    assert row["verdict_fid"] == "better" and row["verdict_is"] == "better"
    assert table.loc["sn_d_1to1", "verdict_fid"] == "within noise"
    assert table.loc["baseline", "verdict_fid"] == "baseline"
    assert table.loc["attention16", "paper_rows"] == "attention_16"
    assert table.loc["baseline", "paper_rows"] == "no_attention;sn_gd_ttur"
    summary = json.loads((sagan / "reports" / "sagan" / "summary.json").read_text())
    assert summary["variants"]["attention16"]["fid_mean"] == pytest.approx(41.0)
    assert summary["variants"]["attention16"]["verdict_fid"] == "better"
    assert summary["variants"]["sn_d_1to1"]["n_ok"] == 2


def test_diverged_and_failed_seeds_are_excluded_and_counted(sagan: Path) -> None:
    md = (sagan / "reports" / "sagan.md").read_text()
    rows = {r[0]: r for r in table_under(md, "Our results")[1:]}
    assert rows["`attention16`"][3] == "2 / 3 (1 diverged)"
    assert rows["`attention16`"][5] == "41.0 ± 1.4"  # seeds 0 and 1; seed 2's FID 20 left out
    assert rows["`sn_d_1to1`"][3] == "2 / 3 (1 failed)"
    assert rows["`baseline`"][3] == "3 / 3"
    assert "- `attention16` seed 2 diverged at step 250." in md
    assert "- `sn_d_1to1` seed 1 failed: out of memory." in md
    assert "excluded from every mean" in md


def test_sagan_main_table(sagan: Path) -> None:
    md = (sagan / "reports" / "sagan.md").read_text()
    header, *rows = table_under(md, "Our results")
    assert header == [
        "variant",
        "label",
        "maps to (published row)",
        "seeds ok / total",
        "G scored",
        "FID (shapes-cnn), mean ± std",
        "IS mean ± std",
        "KID ×10³ mean ± std",
        "ΔFID vs baseline [95% CI]",
        "verdict (FID)",
        "ΔIS vs baseline [95% CI]",
    ]
    d = welch_delta([40.0, 42.0], best_fids(SAGAN_RUNS, "baseline"))
    assert rows[1][:3] == ["`attention16`", "+ attention at 16x16", "Table 1 attn feat16"]
    assert rows[1][8] == f"{d.diff:+.1f} [{d.low:+.1f}, {d.high:+.1f}]"
    assert rows[1][9] == "better"
    assert rows[0][2] == "Table 1 no attention; Fig. 3 SN on G/D + TTUR"
    assert rows[0][8] == "baseline" and rows[0][9] == "—"


def test_paper_numbers_never_under_our_columns(sagan: Path) -> None:
    md = (sagan / "reports" / "sagan.md").read_text()
    ours = table_under(md, "Our results")
    published = table_under(md, "Published: Zhang et al. 2019 (SAGAN), ImageNet 128×128")
    paper_names = ("Zhang", "SAGAN", "paper", "Table 1", "published")
    our_header = " ".join(ours[0][:2] + ours[0][3:])  # every column but "maps to (published row)"
    assert not any(name in our_header for name in paper_names)
    our_numbers = {c for row in ours[1:] for c in row[5:8]}
    assert "41.0 ± 1.4" in our_numbers
    assert not our_numbers & {c for row in published for c in row}
    for cell in (c for row in ours[1:] for c in row[5:8]):
        assert cell not in md.split("## Published:")[1].split("\n## ")[0]
    assert published[0] == ["source", "setting", "FID", "IS", "finding", "our variants mapped here"]
    rows = {r[1]: r for r in published[1:]}
    assert rows["attn feat32"][2:4] == ["18.28", "51.43"]
    assert rows["residual feat32"][3] == "38.50"
    assert rows["attn feat16"][5] == "`attention16`"
    assert rows["SN on D, 1:1"] == [
        "Figure 3",
        "SN on D, 1:1",
        "—",
        "—",
        "unstable at 1:1 updates",
        "`sn_d_1to1`",
    ]
    assert rows["SN on G/D + TTUR"][5] == "`baseline`"
    # the CSV and the summary hold only our numbers
    for name in ("sagan.csv", "sagan/summary.json"):
        text = (sagan / "reports" / name).read_text()
        assert "18.28" not in text and "51.43" not in text, name


def test_stabilisation_section(sagan: Path) -> None:
    md = (sagan / "reports" / "sagan.md").read_text()
    header, *rows = table_under(md, "Stabilisation")
    assert header[:2] == ["variant", "stands for"] and header[-1] == "not ok"
    assert header[2:-1] == [f"FID at step {s}" for s in (100, 200, 300, 400)]
    assert [r[0] for r in rows] == ["`baseline`", "`sn_d_1to1`"]
    assert rows[1][2] == pm_str([90.0, 95.0]) and rows[1][-1] == "seed 1 failed"
    assert rows[0][4] == pm_str([50.0, 55.0, 53.0])
    curves = pd.read_csv(sagan / "reports" / "sagan" / "stabilisation.csv")
    assert list(curves.columns) == [
        "variant", "seed", "status", "step", "generator", "fid", "is_mean", "kid_mean"
    ]  # fmt: skip
    assert len(curves) == 4 * 3 + 4 * 2
    assert curves["variant"].drop_duplicates().tolist() == ["baseline", "sn_d_1to1"]


def pm_str(values: list[float]) -> str:
    return f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f}"


# ---------------------------------------------------------------- the BigGAN report


def test_biggan_outputs_and_table(biggan: Path) -> None:
    out = biggan / "reports"
    for name in ("biggan.md", "biggan.csv", "biggan/summary.json", "biggan/truncation.csv"):
        assert (out / name).is_file(), name
    for name in ("truncation", "samples_baseline", "samples_ortho_psi0.5", "samples_ortho"):
        assert (out / "biggan" / "figures" / f"{name}.png").is_file(), name
    assert not (out / "biggan" / "figures" / "stabilisation.png").exists()
    md = (out / "biggan.md").read_text()
    header, *rows = table_under(md, "Our results")
    assert header[5:13] == [
        "batch",
        "ch",
        "params G+D",
        "shared",
        "skip-z",
        "ortho β",
        "FID (shapes-cnn), mean ± std",
        "FID of raw G (its best ckpt)",
    ]
    ortho = rows[1]
    assert ortho[:5] == ["`ortho`", "+ shared, skip-z, ortho", "Table 1 row 8", "2 / 2", "EMA"]
    assert ortho[5:11] == ["32", "4", "222.2k", "yes", "yes", "0.0001"]
    assert ortho[11] == pm_str([20.0, 22.0]) and ortho[12] == pm_str([25.0, 27.0])
    assert rows[0][4] == "raw" and rows[0][10] == "off" and rows[0][12] == rows[0][11]
    assert "EMA of G's weights (ortho)" in md and "G itself (no EMA) (baseline)" in md


def test_biggan_published_table(biggan: Path) -> None:
    md = (biggan / "reports" / "biggan.md").read_text()
    heading = "Published: Brock et al. 2019 (BigGAN), ImageNet 128×128"
    assert f"## {heading}" in md and "(Table 1) *(unverified)*" in md
    header, *rows = table_under(md, heading)
    assert header[-1] == "our variants mapped here" and len(rows) == 9
    assert rows[7] == [
        "8", "2048", "96", "158.3", "✓", "✓", "✓", "165 ± 13", "8.51 ± 0.32", "99.31 ± 2.10",
        "`ortho`",
    ]  # fmt: skip
    assert rows[0][7:] == ["1000", "18.65", "52.52", "`baseline`"]
    assert rows[1][-1] == "—"
    ours = table_under(md, "Our results")
    assert not {c for r in ours[1:] for c in r[11:15]} & {c for r in rows for c in r}
    assert "CIFAR-10" not in md  # only for a cifar10 study


def test_truncation_and_amenability(biggan: Path) -> None:
    md = (biggan / "reports" / "biggan.md").read_text()
    means = pd.read_csv(biggan / "reports" / "biggan" / "truncation.csv", dtype={"psi": str})
    assert means[means["variant"] == "ortho"]["psi"].tolist() == ["none", "2", "1", "0.5"]
    row = means[(means["variant"] == "baseline") & (means["psi"] == "0.5")].iloc[0]
    assert (row["n_runs"], row["fid_mean"], row["is_mean"]) == (2, 52.5, 5.0)
    assert row["fid_std"] == pytest.approx(np.std([60.0, 45.0], ddof=1))
    assert "the IS at the smallest ψ of the sweep is higher than the untruncated IS" in md
    assert table_under(md, "Truncation")[1:] == [
        ["`baseline`", "off", "2", "1"],
        ["`ortho`", "0.0001", "2", "2"],
    ]
    assert "ortho β > 0 (`ortho`): 2 of 2 ok runs amenable (100%)" in md
    assert "ortho β = 0 (`baseline`): 1 of 2 ok runs amenable (50%)" in md
    assert "16% amenable without orthogonal regularisation, 60% with it" in md
    summary = json.loads((biggan / "reports" / "biggan" / "summary.json").read_text())
    assert summary["amenable"]["with_ortho"] == {"amenable": 2, "judged": 2, "percent": 100.0}
    assert summary["amenable"]["without_ortho"]["percent"] == pytest.approx(50.0)
    table = pd.read_csv(biggan / "reports" / "biggan.csv").set_index("variant")
    assert (table.loc["baseline", "amenable_runs"], table.loc["baseline", "judged_runs"]) == (1, 2)


def test_biggan_grids_side_by_side(biggan: Path) -> None:
    md = (biggan / "reports" / "biggan.md").read_text()
    header, *rows = table_under(md, "Sample grids")
    assert header == ["variant (seed)", "untruncated", "ψ = 0.5"]
    assert rows[1] == [
        "`ortho` (0)",
        "![ortho ψ none](biggan/figures/samples_ortho.png)",
        "![ortho ψ 0.5](biggan/figures/samples_ortho_psi0.5.png)",
    ]


def test_biggan_without_ortho_variant_says_so(tmp_path: Path) -> None:
    make_study(tmp_path, "biggan")
    spec = copy.deepcopy(BIGGAN)
    spec["variants"]["ortho"]["train"]["ortho_beta"] = 0.0
    for seed in (0, 1):
        path = tmp_path / "metrics" / f"biggan-shapes32-ortho-{seed}.json"
        rec = json.loads(path.read_text())
        rec["train"]["ortho_beta"] = 0.0
        path.write_text(json.dumps(rec))
    write_ablation_report(
        "biggan",
        from_dict(AblationStudy, spec, "biggan"),
        metrics_dir=tmp_path / "metrics",
        evaluations_dir=tmp_path / "evaluations",
        out_dir=tmp_path / "reports",
    )
    md = (tmp_path / "reports" / "biggan.md").read_text()
    assert "No variant with orthogonal regularisation, ortho β > 0: the share is not" in md
    assert "ortho β = 0 (`baseline`, `ortho`): 3 of 4 ok runs amenable (75%)" in md


def test_cifar10_study_prints_the_reproductions(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    spec = copy.deepcopy(SAGAN) | {"dataset": "cifar10"}
    for path in (tmp_path / "metrics").glob("*.json"):
        rec = json.loads(path.read_text())
        rec["run"] = rec["run"].replace("shapes32", "cifar10")
        rec["dataset"] = "cifar10"
        for key, value in rec["grids"].items():
            rec["grids"][key] = value.replace("shapes32", "cifar10")
        if rec["attention_figure"]:
            rec["attention_figure"] = rec["attention_figure"].replace("shapes32", "cifar10")
        (tmp_path / "metrics" / f"{rec['run']}.json").write_text(json.dumps(rec))
    for run_dir in list((tmp_path / "evaluations").iterdir()):
        run_dir.rename(run_dir.with_name(run_dir.name.replace("shapes32", "cifar10")))
    write_ablation_report(
        "sagan",
        from_dict(AblationStudy, spec, "sagan"),
        metrics_dir=tmp_path / "metrics",
        evaluations_dir=tmp_path / "evaluations",
        out_dir=tmp_path / "reports",
    )
    md = (tmp_path / "reports" / "sagan.md").read_text()
    rows = table_under(md, "Published: CIFAR-10 32×32 reproductions")
    assert rows[0] == ["source", "protocol", "model", "FID", "IS"]
    assert ["mmgeneration", "50k vs train", "SAGAN (cond.)", "9.43", "9.32"] in rows


# ---------------------------------------------------------------- inputs and determinism


@pytest.mark.parametrize("study_name", ["sagan", "biggan"])
def test_report_is_deterministic(tmp_path: Path, study_name: str) -> None:
    make_study(tmp_path, study_name)
    first = run_report(tmp_path, study_name, "a")
    second = run_report(tmp_path, study_name, "b")
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        p.relative_to(tmp_path / "b") for p in second
    ]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert sorted(p for p in (tmp_path / "a").rglob("*") if p.is_file()) == sorted(first)


def load_stage():
    path = Path(__file__).resolve().parents[1] / "stages" / "report_ablation.py"
    spec = importlib.util.spec_from_file_location("stage_report_ablation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stage_args(root: Path, study_name: str) -> list[str]:
    return [
        "--study", study_name, "--params", str(root / "params.yaml"),
        "--metrics-dir", str(root / "metrics"), "--evaluations-dir", str(root / "evaluations"),
        "--out-dir", str(root / "reports"),
    ]  # fmt: skip


def test_stage_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_study(tmp_path, "sagan")
    load_stage().main(stage_args(tmp_path, "sagan"))
    assert (tmp_path / "reports" / "sagan.md").is_file()
    assert "report_ablation: wrote" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        load_stage().main(stage_args(tmp_path, "biggan"))  # not in this params file
    assert exit_info.value.code == 2
    assert "params key 'study': got 'biggan'" in capsys.readouterr().err


def test_missing_record_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_study(tmp_path, "sagan")
    missing = tmp_path / "metrics" / "sagan-shapes32-attention16-1.json"
    missing.unlink()
    with pytest.raises(UserError, match=re.escape(str(missing))) as err:
        run_report(tmp_path, "sagan")
    assert "dvc repro evaluate_sagan@attention16-1" in str(err.value)
    assert not (tmp_path / "reports").exists()  # nothing half-written
    with pytest.raises(SystemExit) as exit_info:
        load_stage().main(stage_args(tmp_path, "sagan"))
    assert exit_info.value.code == 2
    assert str(missing) in capsys.readouterr().err


def corrupt(rec: dict, key: str) -> None:
    if key == "checkpoints[1].raw.fid":
        rec["checkpoints"][1]["raw"]["fid"] = "low"
    elif key == "checkpoints[0].raw.status":
        rec["checkpoints"][0]["raw"]["status"] = "nan"
    elif key == "protocol.n_fake":
        del rec["protocol"]["n_fake"]
    elif key == "paper_rows[0]":
        rec["paper_rows"] = ["attention_128"]
    elif key == "generator":
        rec["generator"] = "best"
    elif key == "seed":
        rec["seed"] = 7
    elif key == "best.coverage":
        del rec["best"]["coverage"]
    elif key == "truncation[0].psi":
        rec["truncation"] = [{"psi": -1.0, **scores(20.0)}]
    elif key == "params.G":
        rec["params"]["G"] = 1.5
    elif key == "model.g_attention":
        del rec["model"]["g_attention"]
    elif key == "grids.none":
        rec["grids"]["none"] = "elsewhere/grid.png"


@pytest.mark.parametrize(
    "key",
    [
        "checkpoints[1].raw.fid",
        "checkpoints[0].raw.status",
        "protocol.n_fake",
        "paper_rows[0]",
        "generator",
        "seed",
        "best.coverage",
        "truncation[0].psi",
        "params.G",
        "model.g_attention",
        "grids.none",
    ],
)
def test_malformed_record_names_file_and_key(tmp_path: Path, key: str) -> None:
    make_study(tmp_path, "sagan")
    path = tmp_path / "metrics" / "sagan-shapes32-baseline-1.json"
    rec = json.loads(path.read_text())
    corrupt(rec, key)
    path.write_text(json.dumps(rec))
    with pytest.raises(UserError, match=f"{re.escape(str(path))}: .*'{re.escape(key)}'"):
        run_report(tmp_path, "sagan")


def test_missing_grid_is_named(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    grid = tmp_path / "evaluations" / "sagan-shapes32-baseline-0" / "grid_none.png"
    grid.unlink()
    with pytest.raises(UserError, match=re.escape(str(grid))) as err:
        run_report(tmp_path, "sagan")
    assert "dvc repro evaluate_sagan@baseline-0" in str(err.value)


def test_protocols_must_agree_but_training_may_differ(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    path = tmp_path / "metrics" / "sagan-shapes32-sn_d_1to1-2.json"
    rec = json.loads(path.read_text())
    rec["protocol"] |= {"steps": 800, "batch_size": 64, "steps_trained": 640, "device": "cuda"}
    path.write_text(json.dumps(rec))
    run_report(tmp_path, "sagan")  # training length, batch and devices are variant settings
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
    path = tmp_path / "metrics" / "sagan-shapes32-attention16-1.json"
    rec = json.loads(path.read_text())
    rec["model"]["ch"] = 8
    path.write_text(json.dumps(rec))
    with pytest.raises(UserError, match="record different settings"):
        run_report(tmp_path, "sagan")


def rewrite(root: Path, run: str, change) -> None:
    path = root / "metrics" / f"{run}.json"
    rec = json.loads(path.read_text())
    change(rec)
    path.write_text(json.dumps(rec))


def test_variant_without_an_ok_run(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    for seed in (0, 1):
        rewrite(
            tmp_path,
            f"sagan-shapes32-attention16-{seed}",
            lambda rec: rec.update(status="diverged", diverged_at_step=150),
        )
    run_report(tmp_path, "sagan")
    md = (tmp_path / "reports" / "sagan.md").read_text()
    row = next(r for r in table_under(md, "Our results") if r[0] == "`attention16`")
    assert row[3] == "0 / 3 (3 diverged)"
    assert row[5:10] == ["—", "—", "—", "—", "n/a"]
    assert "**`attention16`**: no grid (no ok run)." in md
    assert "**`attention16`**: no ok run, no figure." in md
    figures = tmp_path / "reports" / "sagan" / "figures"
    assert not (figures / "samples_attention16.png").exists()
    summary = json.loads((tmp_path / "reports" / "sagan" / "summary.json").read_text())
    assert summary["variants"]["attention16"]["fid_mean"] is None


def test_biggan_without_a_sweep(tmp_path: Path) -> None:
    make_study(tmp_path, "biggan")
    for run in BIGGAN_RUNS:
        rewrite(
            tmp_path, f"biggan-shapes32-{run[0]}-{run[1]}", lambda rec: rec.update(truncation=[])
        )
    written = run_report(tmp_path, "biggan")
    md = (tmp_path / "reports" / "biggan.md").read_text()
    assert "The records have no truncation sweep (params `biggan.evaluate.truncation`" in md
    means = pd.read_csv(tmp_path / "reports" / "biggan" / "truncation.csv")
    assert means.empty and "fid_mean" in means.columns  # written, header only
    assert tmp_path / "reports" / "biggan" / "figures" / "truncation.png" not in written
