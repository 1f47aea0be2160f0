"""ganbench.reporting's statistics and published tables, by hand and against scipy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ganbench.published import PUBLISHED, Column
from ganbench.reporting.latex import latex_escape
from ganbench.reporting.stats import (
    Delta,
    amenable_share,
    amenable_to_truncation,
    mean_std,
    spearman,
    summarise_variants,
    verdict,
    welch_delta,
)
from ganbench.reporting.tables import measurement_differences, paper_cell, pm

# ---------------------------------------------------------------- Welch intervals and verdicts


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
    assert verdict(d, lower_is_better=True) == "better"  # [-19.7, -1.6]: excludes 0


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
    assert pm(41.0, math.sqrt(2), 1) == "41.0 ± 1.4" and pm(3.0, math.nan, 2) == "3.00 ± n/a"
    assert pm(math.nan, math.nan, 1) == "—" and pm(0.012, 0.001, 2, 1e3) == "12.00 ± 1.00"


def test_summarise_variants_by_hand() -> None:
    rows = [  # (variant, seed, status, fid, is)
        ("base", 0, "ok", 50.0, 5.0),
        ("base", 1, "ok", 54.0, 5.5),
        ("base", 2, "ok", 52.0, 5.2),
        ("x", 0, "ok", 40.0, 6.0),
        ("x", 1, "ok", 42.0, 6.4),
        ("x", 2, "diverged", 10.0, 9.0),  # counted, never averaged
        ("y", 0, "failed", math.nan, math.nan),
        ("y", 1, "ok", 60.0, 4.0),
    ]
    runs = pd.DataFrame(rows, columns=["variant", "seed", "status", "fid", "is_mean"])
    for column in ("kid_mean", "fid_raw", "precision", "recall", "density", "coverage"):
        runs[column] = runs["fid"] / 100
    s = summarise_variants(runs, ["base", "x", "y"], "base").set_index("variant")
    assert s.loc["x", ["n_seeds", "n_ok", "n_diverged", "n_failed"]].tolist() == [3, 2, 1, 0]
    assert s.loc["x", "fid_mean"] == 41.0 and s.loc["x", "fid_std"] == pytest.approx(math.sqrt(2))
    assert s.loc["x", "best_seed"] == 0 and s.loc["x", "fid_best_run"] == 40.0
    # x vs base: [40, 42] vs [50, 54, 52]: diff -11, se² = 1 + 4/3; Welch df by hand
    se2 = 1 + 4 / 3
    df = se2**2 / (1**2 / 1 + (4 / 3) ** 2 / 2)
    half = stats.t.ppf(0.975, df) * math.sqrt(se2)
    assert s.loc["x", "delta_fid"] == pytest.approx(-11.0)
    assert s.loc["x", "delta_fid_low"] == pytest.approx(-11.0 - half)
    assert s.loc["x", "delta_fid_high"] == pytest.approx(-11.0 + half)
    assert s.loc["x", "verdict_fid"] == "better"  # IS +0.97 [-0.07, +2.0]: within noise
    assert s.loc["x", "verdict_is"] == "within noise"
    assert s.loc["y", "n_failed"] == 1 and math.isnan(s.loc["y", "fid_std"])
    assert s.loc["y", "verdict_fid"] == "n/a" and s.loc["y", "delta_fid"] == pytest.approx(8.0)
    assert s.loc["base", "verdict_fid"] == "baseline" and math.isnan(s.loc["base", "delta_fid"])


# ---------------------------------------------------------------- Spearman and truncation


def test_spearman_equals_scipy() -> None:
    ours = {"a": 40.0, "b": 30.0, "c": 55.0, "d": 20.0, "e": 1.0}
    theirs = {"a": 21.5, "b": 26.5, "c": 58.7, "d": 22.9}  # e has no published number
    expected = stats.spearmanr([40.0, 30.0, 55.0, 20.0], [21.5, 26.5, 58.7, 22.9])
    got = spearman(ours, theirs)
    assert got.variants == ("a", "b", "c", "d") and got.n == 4
    assert got.rho == pytest.approx(expected.statistic) and got.p_value == pytest.approx(
        expected.pvalue
    )
    assert spearman({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 1.0, "b": 2.0, "c": 3.0}).rho == 1.0
    few = spearman({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.0})
    assert few.n == 2 and math.isnan(few.rho) and math.isnan(few.p_value)
    assert math.isnan(spearman(dict.fromkeys("abc", 1.0), {"a": 1.0, "b": 2.0, "c": 3.0}).rho)


def point(psi: float | None, fid: float, is_mean: float) -> dict:
    return {"psi": psi, "fid": fid, "is_mean": is_mean}


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


# ---------------------------------------------------------------- published tables


def test_published_tables_match_the_reference() -> None:
    assert set(PUBLISHED.names()) >= {"lucic2018_table2", "sagan2019", "biggan2019"}
    lucic = PUBLISHED.get("lucic2018_table2")
    rows = {(r["model"], r["dataset"]): r for r in lucic.rows()}
    assert len(rows) == 32 and lucic.row_keys[:2] == ("mm", "ns")
    assert (
        rows[("ns", "fashion_mnist")]["fid_mean"],
        rows[("ns", "fashion_mnist")]["fid_std"],
    ) == ("26.5", "1.6")
    assert rows[("vae", "cifar10")]["verified"] == "false"
    assert rows[("lsgan", "cifar10")]["note"] == "other versions of the paper print 87.1 ± 0.9"
    assert lucic.row_name(rows[("ns", "mnist")]) == "Table 2 ns"

    sagan = PUBLISHED.get("sagan2019")
    assert sagan.row_keys == (
        "no_attention",
        *(f"attention_{k}" for k in (8, 16, 32, 64)),
        *(f"residual_{k}" for k in (8, 16, 32, 64)),
        "sn_d",
        "sn_gd",
        "sn_gd_ttur",
    )
    s = {r["row"]: r for r in sagan.rows()}
    assert (s["attention_32"]["fid"], s["attention_32"]["is"]) == ("18.28", "51.43")
    assert (s["residual_8"]["fid"], s["residual_8"]["is"]) == ("42.13", "23.17")
    assert sagan.row_name(s["sn_d"]) == "Figure 3 SN on D, 1:1" and s["sn_d"]["fid"] == ""
    assert [r["row"] for r in sagan.rows() if r["source"] == sagan.meta["curves"]["source"]] == [
        "sn_d",
        "sn_gd",
        "sn_gd_ttur",
    ]
    # checked: only SAGAN's final numbers, which its abstract and Table 2 repeat
    assert [r["row"] for r in sagan.rows() if r["verified"] == "true"] == ["attention_64"]
    assert (s["attention_64"]["fid"], s["attention_64"]["is"]) == ("18.65", "52.52")

    biggan = PUBLISHED.get("biggan2019")
    assert biggan.row_keys == tuple("123456789")
    b = {r["row"]: r for r in biggan.rows()}
    cells = {c.key: paper_cell(biggan, b["8"], c) for c in biggan.columns}
    assert cells == {
        "row": "8", "batch": "2048", "ch": "96", "params_m": "158.3", "shared": "✓",
        "skip_z": "✓", "ortho": "✓", "itr_k": "165 ± 13", "fid": "8.51 ± 0.32",
        "is": "99.31 ± 2.10",
    }  # fmt: skip
    assert paper_cell(biggan, b["1"], Column("IS", "is", 2, "is_std")) == "52.52"
    assert paper_cell(biggan, b["1"], Column("shared", "shared", tick=True)) == ""
    assert all(r["verified"] == "false" for r in biggan.rows())
    assert "Row 1 is SAGAN's own model and result" in biggan.notes  # not trained as our row 1
    assert biggan.meta["amenable_percent"] == {"without_ortho": 16, "with_ortho": 60}

    cifar = {(r["source"], r["model"]): r for r in PUBLISHED.get("cifar10_reproductions").rows()}
    assert len(cifar) == 9 and cifar[("mmgeneration", "SAGAN (cond.)")]["fid"] == "9.43"


PROTOCOL = {
    "extractor": "inception",
    "extractor_label": "inception-v3",
    "weights_sha256": "6726825d" + "0" * 56,
    "n_fake": 10_000,
    "n_real": 10_000,
    "reference_split": "test",
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, []),
        ({"extractor": "classifier", "extractor_label": "mnist-cnn"}, ["features `mnist-cnn` (paper: inception)"]),
        ({"weights_sha256": "ff" * 32}, ["Inception weights sha256 `ffffffffffff…` (paper: 6726825d)"]),
        ({"n_fake": 5000}, ["generated images 5,000 (paper: 10,000)"]),
        ({"n_real": 60_000, "reference_split": "train"},
         ["real images 60,000 (paper: 10,000)", "reference split `train` (paper: test)"]),
    ],
)  # fmt: skip
def test_measurement_differences(change: dict, expected: list[str]) -> None:
    table = PUBLISHED.get("lucic2018_table2")
    assert measurement_differences(PROTOCOL | change, table) == expected


def test_latex_escape() -> None:
    assert latex_escape("a_b & 5% ± — `x_y`") == r"a\_b \& 5\% $\pm$ --- \texttt{x\_y}"
    assert latex_escape("KID ×10³ ΔFID") == r"KID $\times 10^3$ $\Delta$FID"
