"""The report's search section and findings: the budget statistics, P(best of k beats), the
minimum detectable effect and Newcombe's interval by hand; the claims schema; a study with a
search (trial records, selections) against one without (test_reporting.py's builders)."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError
from scipy import stats
from test_reporting import (
    LUCIC,
    LUCIC_RUNS,
    PROTOCOL,
    make_record,
    make_study,
    md_tables,
    run_report,
)
from test_reporting_inputs import rewrite, run_stage_script, stage_args

from ganbench.errors import UserError
from ganbench.published import PUBLISHED
from ganbench.published.claims import Claims
from ganbench.reporting.budget import budget_curve, p_beat
from ganbench.reporting.stats import mde, newcombe_delta, share_mde, welch_delta, wilson
from ganbench.search import TRIAL_SEED, choose

# ---------------------------------------------------------------- the budget, by hand


def exact_best_of(pool: list[float], k: int) -> float:
    """E[min of k draws with replacement from pool], by enumerating all len(pool)^k draws."""
    draws = itertools.product(pool, repeat=k)
    return sum(min(d) for d in draws) / len(pool) ** k


def test_exact_enumeration_by_hand() -> None:
    # pool [1, 2, 3], k = 2: min 1 in 5 of 9 pairs, 2 in 3, 3 in 1
    assert exact_best_of([1.0, 2.0, 3.0], 2) == pytest.approx((1 * 5 + 2 * 3 + 3 * 1) / 9)
    # closed form: sum_i x_(i) [((N-i+1)/N)^k - ((N-i)/N)^k]
    assert exact_best_of([1.0, 2.0, 3.0], 3) == pytest.approx(
        1 * (1 - (2 / 3) ** 3) + 2 * ((2 / 3) ** 3 - (1 / 3) ** 3) + 3 * (1 / 3) ** 3
    )


def test_budget_curve_of_one_two_three() -> None:
    curve = budget_curve([1.0, 2.0, 3.0])
    assert curve.loc[0, "mean"] == pytest.approx(2.0, abs=0.03)  # k = 1: the pool mean
    assert curve.loc[1, "mean"] == pytest.approx(14 / 9, abs=0.03)  # 4.5 standard errors
    assert curve.loc[1, "median"] == 1.0  # P(min of 2 = 1) = 5/9 > 1/2


@pytest.mark.parametrize("pool", [[1.0, 2.0, 3.0], [40.0, 41.5, 60.0, 33.0, 90.0]])
def test_budget_curve_matches_exact_enumeration(pool: list[float]) -> None:
    curve = budget_curve(pool)
    assert curve["k"].tolist() == list(range(1, len(pool) + 1))
    # a best FID lies in [min, max], so its sd is at most (max − min) / 2 and the bootstrap
    # mean's standard error at most that / sqrt(10,000): allow 4 of them
    tolerance = 4 * (max(pool) - min(pool)) / 2 / 100
    for k in range(1, min(len(pool), 4) + 1):
        assert curve.loc[k - 1, "mean"] == pytest.approx(exact_best_of(pool, k), abs=tolerance)
    assert (np.diff(curve["mean"]) <= 0).all()  # more budget, never worse
    assert (curve["lo"] <= curve["mean"]).all() and (curve["mean"] <= curve["hi"]).all()
    assert set(curve["lo"]) <= set(pool) and set(curve["hi"]) <= set(pool)  # inverted_cdf
    assert (curve["p_all_failed"] == 0).all()


def test_budget_curve_with_failed_trials() -> None:
    pool = [10.0, math.inf, math.inf, 20.0]  # two trials that did not end ok
    curve = budget_curve(pool, seed=7)
    # the share of replicates whose k draws all failed is (2/4)^k
    for k, share in zip(curve["k"], curve["p_all_failed"], strict=True):
        assert share == pytest.approx(0.5**k, abs=0.015)
    assert curve["mean"].isna().all()  # some replicate drew only failures: no finite mean
    assert (curve["hi"] == math.inf).all()  # (1/2)^4 = 6% >= 2.5% drew only failures
    assert (curve["lo"] == 10.0).all()
    assert curve.loc[1, "median"] == 20.0  # k = 2: P(best <= 20) = 1 - (1/2)^2 = 3/4
    assert budget_curve(pool, seed=7).equals(curve)  # fixed seed: the same numbers


def test_budget_curve_of_one_trial() -> None:
    curve = budget_curve([5.0])
    assert curve.to_dict("records") == [
        {"k": 1, "mean": 5.0, "median": 5.0, "lo": 5.0, "hi": 5.0, "p_all_failed": 0.0}
    ]
    with pytest.raises(ValueError, match="non-empty pool"):
        budget_curve([])


def test_p_beat_by_hand() -> None:
    assert p_beat([1.0, 2.0], [3.0, 4.0], 2) == 1.0  # disjoint pools
    assert p_beat([3.0, 4.0], [1.0, 2.0], 2) == 0.0
    assert p_beat([5.0], [5.0], 3) == 0.5  # ties count 1/2
    assert p_beat([math.inf], [math.inf], 1) == 0.5  # two failures tie
    assert p_beat([10.0, math.inf], [math.inf], 1) == pytest.approx(0.75, abs=0.02)
    # k = 1, a = [1, 3], b = [2]: a wins when it draws 1
    assert p_beat([1.0, 3.0], [2.0], 1) == pytest.approx(0.5, abs=0.02)
    # k = 2, a = [1, 3], b = [2]: a loses only when both draws are 3: 1 - 1/4
    assert p_beat([1.0, 3.0], [2.0], 2) == pytest.approx(0.75, abs=0.02)


# ---------------------------------------------------------------- MDE and Newcombe, by hand


def test_mde_by_hand() -> None:
    a, b = [40.0, 42.0, 45.0], [50.0, 54.0]
    va, vb = np.var(a, ddof=1) / 3, np.var(b, ddof=1) / 2
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 1)
    expected = (stats.t.ppf(0.975, df) + stats.t.ppf(0.8, df)) * math.sqrt(va + vb)
    assert mde(a, b) == pytest.approx(expected) == pytest.approx(mde(b, a))
    # the interval's half-width is the first term: MDE exceeds it by t(0.8, df)·se
    d = welch_delta(a, b)
    assert mde(a, b) - (d.high - d.low) / 2 == pytest.approx(
        stats.t.ppf(0.8, df) * math.sqrt(va + vb)
    )
    assert math.isnan(mde([1.0], [1.0, 2.0])) and math.isnan(mde([2.0, 2.0], [3.0, 3.0]))


def test_wilson_by_hand() -> None:
    # 0/10: [0, z²/(n + z²)]
    z2 = stats.norm.ppf(0.975) ** 2
    low, high = wilson(0, 10)
    assert low == pytest.approx(0, abs=1e-12) and high == pytest.approx(z2 / (10 + z2))


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ((56, 70, 48, 80), (0.0524, 0.3339)),  # Newcombe 1998, Table II, example (a), method 10
        ((9, 10, 3, 10), (0.1705, 0.8090)),  # example (b)
        ((0, 10, 0, 10), (-0.2775, 0.2775)),  # ±(Wilson upper bound of 0/10), as computed above
    ],
)
def test_newcombe_against_the_paper(counts: tuple, expected: tuple) -> None:
    d = newcombe_delta(*counts)
    assert d.diff == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert (round(d.low, 4), round(d.high, 4)) == expected


def test_newcombe_and_share_mde_by_hand() -> None:
    # 2/2 vs 1/2 (the biggan fixture's shares): Newcombe's formula on the two Wilson intervals
    (l1, u1), (l2, u2) = wilson(2, 2), wilson(1, 2)
    d = newcombe_delta(2, 2, 1, 2)
    assert d.low == pytest.approx(0.5 - math.sqrt((1 - l1) ** 2 + (u2 - 0.5) ** 2))
    assert d.high == pytest.approx(0.5 + math.sqrt((u1 - 1) ** 2 + (0.5 - l2) ** 2))
    assert -1 <= d.low < 0 < d.high <= 1
    assert math.isnan(newcombe_delta(0, 0, 1, 2).low)
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)  # 2.8016
    assert share_mde(10, 20, 0.3) == pytest.approx(z * math.sqrt(0.3 * 0.7 * (1 / 10 + 1 / 20)))
    assert math.isnan(share_mde(4, 4, 0.0)) and math.isnan(share_mde(0, 4, 0.5))


# ---------------------------------------------------------------- the claims schema


def test_every_claim_names_rows_of_its_table() -> None:
    for name in ("lucic2018_table2", "sagan2019", "biggan2019"):
        table = PUBLISHED.get(name)
        assert 2 <= len([c for c in table.claims if c.kind != "untestable"]) <= 4, name
        for claim in table.claims:
            assert set(claim.rows()) <= set(table.row_keys), claim.id
            assert claim.text and claim.source
    lucic = {c.id: c for c in PUBLISHED.get("lucic2018_table2").claims}
    assert lucic["no_model_beats_ns"].reference == "ns" and lucic["vae_behind_every_gan"].worse == (
        "vae",
    )


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        ({"kind": "better", "better": ["a"]}, "worse"),
        ({"kind": "better", "better": ["a", "b"], "worse": ["c"], "pairing": "matched"}, "matched"),
        ({"kind": "share", "higher": ["a"], "lower": ["b"], "measure": "taste"}, "measure"),
        ({"kind": "none_better", "reference": "a", "others": ["b"], "consistently": 0.4}, "0.5"),
        ({"kind": "guess"}, "kind"),
    ],
)
def test_malformed_claims_are_refused(claim: dict, message: str) -> None:
    base = {"id": "x", "text": "t", "source": "s"}
    with pytest.raises(ValidationError, match=message):
        Claims.model_validate({"claims": [base | claim]})


# ---------------------------------------------------------------- a study with a search

TRIALS = [0, 1, 2, 3, 4, 5]
# variant -> per trial its best FID, or how it ended: ns trial 2 diverged, wgan trials 1 and 2
# failed, lsgan diverged in every trial (so its re-runs train the recipe as set)
TRIAL_BEST = {
    "ns": (45, 40, "diverged", 47, 52, 44),
    "wgan": (35, "failed", "failed", 38, 33, 41),
    "began": (50, 51, 49, 55, 60, 58),
    "lsgan": ("diverged",) * 6,
    "vae": (140, 150, 145, 139, 142, 155),
}
# (variant, trial) -> (status, FIDs at steps 100, 200, ...)
TRIAL_RUNS = {
    (v, t): ("ok", (x + 20.0, float(x))) if isinstance(x, int)
    else (x, (100.0,) if x == "diverged" else ())
    for v, best in TRIAL_BEST.items()
    for t, x in enumerate(best)
}  # fmt: skip
SEARCH = LUCIC | {"search": {"space": "wide", "trials": TRIALS}}


def hparams(variant: str, trial: int) -> dict:
    lr = 10.0 ** (-4 + trial / 4)
    out = {"optimiser.lr_g": lr, "optimiser.lr_d": lr, "optimiser.beta1": trial / 10}
    out["arch.d_batchnorm"] = trial % 2 == 0
    return out | ({"objective.clip": 0.01 * (trial + 1)} if variant == "wgan" else {})


def chosen(variant: str, trials: list[int] = TRIALS) -> int | None:
    results = [(t, *TRIAL_RUNS[(variant, t)]) for t in trials]
    return choose([(t, status, min(f) if status == "ok" else None) for t, status, f in results])


def write_search(root: Path, name: str, spec: dict) -> None:
    """The trial records, the selections, and the re-runs' search info for ``spec``."""
    records = root / "metrics" / name
    (records / "search").mkdir(parents=True, exist_ok=True)
    (root / "selections" / name).mkdir(parents=True, exist_ok=True)
    dataset, trials = spec["datasets"][0], spec["search"]["trials"]
    narrow_from = spec["search"].get("narrow_from") or math.inf
    for variant in spec["variants"]:
        for t in trials:
            rec = make_record(
                name, spec, variant, TRIAL_SEED + t, PROTOCOL, TRIAL_RUNS[(variant, t)]
            )
            run = f"{name}-{dataset}-{variant}-t{t}"
            space = "narrow" if t >= narrow_from else "wide"
            rec |= {"run": run, "grids": {}, "attention_figure": None, "image_sha256": {}}
            rec["search"] = {
                "space": space,
                "role": "trial",
                "trial": t,
                "hparams": hparams(variant, t),
            }
            (records / "search" / f"{run}.json").write_text(json.dumps(rec))
        best = chosen(variant, [t for t in trials if t < narrow_from])
        setting = {} if best is None else hparams(variant, best)
        selection = {"study": name, "dataset": dataset, "variant": variant, "space": "wide"}
        selection |= {"chosen": best, "hparams": setting, "reason": "the lowest FID"}
        path = root / "selections" / name / f"{name}-{dataset}-{variant}.json"
        path.write_text(json.dumps(selection))
        for seed in spec["seeds"]:
            info = {"space": "wide", "role": "seed", "trial": best, "hparams": setting}
            rewrite(
                records / f"{name}-{dataset}-{variant}-{seed}.json",
                lambda r, i=info: r.update(search=i),
            )


def search_study(root: Path, spec: dict = SEARCH) -> Path:
    params = make_study(root, "lucic", study=(spec, LUCIC_RUNS))
    write_search(root, "lucic", spec)
    return params


def table(md: str, column: str) -> dict[str, dict[str, str]]:
    """The one Markdown table with a column ``column``: rows by their first cell."""
    found = [rows for _, rows in md_tables(md) if column in rows[0]]
    assert len(found) == 1, column
    header, *rows = found[0]
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Lucic-like study with a search of 6 trials; its report, built once."""
    root = tmp_path_factory.mktemp("searched")
    search_study(root)
    run_report(root, "lucic")
    return root


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The studies of test_reporting.py (no search); their reports, built once."""
    out = {}
    for name in ("lucic", "sagan", "biggan"):
        out[name] = tmp_path_factory.mktemp(name)
        make_study(out[name], name)
        run_report(out[name], name)
    return out


def page(root: Path) -> str:
    return next((root / "reports").glob("*.md")).read_text()


def csv(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(next((root / "reports").glob(f"*/{name}")))


def pool(variant: str) -> list[float]:
    runs = [TRIAL_RUNS[(variant, t)] for t in TRIALS]
    return [min(f) if status == "ok" else math.inf for status, f in runs]


def test_search_writes_its_figures_and_csvs(searched: Path) -> None:
    out = searched / "reports" / "lucic"
    for rel in ("search_trials.csv", "budget.csv", "p_beat.csv", "findings.csv"):
        assert (out / rel).is_file(), rel
    for fig in ("search_fid.png", "budget.png"):
        assert (out / "figures" / fig).stat().st_size > 1000, fig
    md = page(searched)
    assert "## Hyperparameter search (Lucic et al. 2018)" in md
    assert "6 search trials per dataset (phase 1: trials 0–5; space wide)" in md
    assert "- **Search**: 6 trials per variant and dataset = 30 trial runs" in md
    assert "![best FID of k trials against k](lucic/figures/budget.png)" in md
    assert "[lucic/budget.csv](lucic/budget.csv)" in md


def test_budget_csv(searched: Path) -> None:
    budget = csv(searched, "budget.csv")
    assert list(budget.columns) == [
        "dataset", "variant", "phase", "k", "mean", "median", "lo", "hi", "p_all_failed"
    ]  # fmt: skip
    curves = {v: budget[budget["variant"] == v].reset_index(drop=True) for v in LUCIC["variants"]}
    assert all(c["k"].tolist() == list(range(1, 7)) for c in curves.values())
    began = curves["began"]  # every trial ok: k = 1 is the pool mean
    assert began.loc[0, "mean"] == pytest.approx(np.mean(pool("began")), abs=0.2)
    assert began.loc[1, "mean"] == pytest.approx(exact_best_of(pool("began"), 2), abs=0.2)
    pd.testing.assert_frame_equal(
        began[["k", "mean", "median", "lo", "hi", "p_all_failed"]], budget_curve(pool("began"))
    )
    ns = curves["ns"]  # 1 of 6 diverged: a replicate of k = 1 fails with chance 1/6
    assert ns.loc[0, "p_all_failed"] == pytest.approx(1 / 6, abs=0.02)
    assert math.isnan(ns.loc[0, "mean"]) and ns.loc[5, "p_all_failed"] < 1e-3
    lsgan = curves["lsgan"]  # every trial diverged: no mean, every replicate failed
    assert lsgan["mean"].isna().all() and (lsgan["p_all_failed"] == 1).all()
    assert (lsgan["lo"] == math.inf).all()


def test_p_beat_csv_and_table(searched: Path) -> None:
    beats = csv(searched, "p_beat.csv")
    assert list(beats.columns) == ["dataset", "variant", "opponent", "phase", "k", "p_beat"]
    assert (beats["k"] == 6).all() and len(beats) == 5 * 4
    p = beats.set_index(["variant", "opponent"])["p_beat"]
    for a, b in itertools.permutations(LUCIC["variants"], 2):
        assert p[(a, b)] + p[(b, a)] == pytest.approx(1.0)
    assert p[("began", "vae")] == 1.0  # disjoint pools, every trial ok
    assert p[("wgan", "vae")] == pytest.approx(1.0, abs=0.01)  # unless wgan drew only failures
    assert p[("lsgan", "began")] == 0.0 and p[("ns", "wgan")] < 0.05
    assert p[("ns", "began")] == pytest.approx(p_beat(pool("ns"), pool("began"), 6))
    rows = table(page(searched), "P(row beats column)")
    assert rows["`began`"]["`vae`"] == "1.00" and rows["`began`"]["`began`"] == "—"


def test_search_trials_csv(searched: Path) -> None:
    trials = csv(searched, "search_trials.csv")
    assert len(trials) == 5 * 6
    assert list(trials.columns[:8]) == [
        "dataset", "variant", "trial", "phase", "space", "seed", "status", "fid"
    ]  # fmt: skip
    assert set(trials.columns[8:]) == set(hparams("wgan", 0))
    wgan = trials[trials["variant"] == "wgan"].set_index("trial")
    assert wgan.loc[4, "fid"] == 33.0 and wgan.loc[4, "objective.clip"] == pytest.approx(0.05)
    assert wgan.loc[1, "status"] == "failed" and math.isnan(wgan.loc[1, "fid"])
    assert trials.loc[trials["variant"] == "ns", "objective.clip"].isna().all()
    assert (trials["seed"] == TRIAL_SEED + trials["trial"]).all()


def test_chosen_settings_table(searched: Path) -> None:
    rows = table(page(searched), "chosen trial")
    wgan = rows["`wgan`"]
    assert (wgan["trials ok / total"], wgan["chosen trial"], wgan["its FID"]) == (
        "4 / 6",
        "4",
        "33.0",
    )
    setting = wgan["setting (recipe path value)"]
    assert setting.startswith("optimiser.lr_g 0.001, optimiser.lr_d 0.001, optimiser.beta1 0.4")
    assert "objective.clip 0.05" in setting and "arch.d_batchnorm yes" in setting
    assert wgan["FID of the re-runs (shapes-cnn), mean ± std (seeds ok)"] == "34.7 ± 2.0 (2 / 3 ok)"
    lsgan = rows["`lsgan`"]
    assert (lsgan["trials ok / total"], lsgan["chosen trial"], lsgan["its FID"]) == (
        "0 / 6",
        "—",
        "—",
    )
    assert lsgan["setting (recipe path value)"] == "—"
    summary = json.loads((searched / "reports" / "lucic.json").read_text())
    assert summary["datasets"]["fashion_mnist"]["search"]["wgan"] == {"chosen": 4}


# ---------------------------------------------------------------- findings


def findings(root: Path) -> pd.DataFrame:
    return csv(root, "findings.csv").set_index(["claim", "basis"])


def test_without_search_the_sections_are_todays_plus_findings(plain: dict[str, Path]) -> None:
    headings = {
        n: [x for x in page(root).splitlines() if x.startswith("## ")] for n, root in plain.items()
    }
    today = {
        "lucic": ["Our results (`fashion_mnist`, shapes-cnn features)", "Published: Lucic et al. 2018, Table 2",
                  "Sanity rows (`fashion_mnist`, shapes-cnn features, same reference split)",
                  "Rank agreement with Lucic et al. 2018 (`fashion_mnist`)"],
        "sagan": ["Our results (`shapes32`, shapes-cnn features)", "Published: Zhang et al. 2019 (SAGAN), Table 1, Figure 3",
                  "Stabilisation (Zhang et al. 2019 (SAGAN), Figure 3)", "Attention maps"],
        "biggan": ["Our results (`shapes32`, shapes-cnn features)", "Published: Brock et al. 2019 (BigGAN), Table 1",
                   "Truncation and orthogonal regularisation",
                   "Published: Mimicry, StudioGAN, mmgeneration, CIFAR-10 32×32 reproductions by other groups (side reference)"],
    }  # fmt: skip
    for name, sections in today.items():
        grids = "`fashion_mnist`" if name == "lucic" else "`shapes32`"
        expected = ["What was run", *sections, "Findings: the papers' claims at our scale"]
        expected += ["Figures", f"Sample grids ({grids})", "Data"]
        assert headings[name] == [f"## {h}" for h in expected], name
        assert "Hyperparameter search" not in page(plain[name])
        assert not list((plain[name] / "reports").glob("*/budget.csv"))


def test_a_claim_over_several_pairs_by_hand(plain: dict[str, Path]) -> None:
    root = plain["lucic"]
    row = findings(root).loc[("vae_behind_every_gan", "re-runs")]
    vae, began = [140.2, 148.8, 143.4], [50.4, 55.8, 60.6]  # the smallest gap: began
    d = welch_delta(vae, began)
    assert row["comparison"] == "FID `vae` − `began`" and row["n"] == "3, 3"
    assert (row["effect"], row["low"], row["high"]) == (
        pytest.approx(d.diff),
        pytest.approx(d.low),
        pytest.approx(d.high),
    )
    assert row["mde"] == pytest.approx(mde(vae, began))
    assert row["verdict"] == "holds, for 3 of 4 pairs"  # lsgan has no ok run
    assert "fewer than 2 ok runs: `vae` − `lsgan`" in row["note"]
    assert "no variant stands for mm, wgan_gp, dragan" in row["note"]
    md = table(page(root), "MDE (power 0.8)")
    cell = next(
        r for r in md.values() if r["comparison (> 0: as claimed)"] == "FID `vae` − `began`"
    )
    assert cell["effect [95% CI]"] == f"{d.diff:+.1f} [{d.low:+.1f}, {d.high:+.1f}]"
    ns = findings(root).loc[("no_model_beats_ns", "re-runs")]  # wgan − ns: [-14.3, +4.3]
    assert ns["comparison"] == "FID `wgan` − `ns`"
    assert ns["verdict"].startswith("not contradicted (effects below the MDE not excluded)")
    assert ("no_model_beats_ns", "budget") not in findings(root).index  # no search
    untestable = findings(root).loc[("similar_scores_with_budget", np.nan)]
    assert untestable["verdict"] == "not testable at this scale"
    assert untestable["note"].startswith('"Similar" comes with no margin')
    summary = json.loads((root / "reports" / "lucic.json").read_text())["datasets"]
    got = summary["fashion_mnist"]["findings"]["vae_behind_every_gan"]["re-runs"]
    assert got["verdict"] == "holds, for 3 of 4 pairs" and got["low"] == pytest.approx(d.low)


def test_a_share_claim_by_hand(plain: dict[str, Path]) -> None:
    row = findings(plain["biggan"]).loc[("ortho_makes_truncation_amenable", "re-runs")]
    d = newcombe_delta(2, 2, 1, 2)  # ortho: 2 of 2 amenable; baseline: 1 of 2
    assert row["comparison"] == "share amenable to truncation: `ortho` − `baseline`"
    assert (row["effect"], row["low"], row["high"]) == (
        0.5,
        pytest.approx(d.low),
        pytest.approx(d.high),
    )
    assert row["mde"] == pytest.approx(share_mde(2, 2, 3 / 4)) and row["n"] == "2/2, 1/2"
    assert row["verdict"] == "not separated (effects below the MDE not excluded)"
    absent = findings(plain["biggan"]).loc[("larger_batch_better", np.nan)]
    assert (
        absent["verdict"] == "not in this study" and absent["note"] == "no variant stands for 2, 3"
    )


@pytest.mark.parametrize(
    ("rows", "claim", "expected"),
    [
        # attention16 [42, 40] stands for feat32, the baseline [50, 54, 51] for no attention
        ({"attention16": ["attention_32"], "baseline": ["no_attention"]},
         "attention_feat32_beats_no_attention", ("baseline", "attention16", "holds")),
        ({"attention16": ["no_attention"], "baseline": ["attention_32"]},
         "attention_feat32_beats_no_attention", ("attention16", "baseline", "contradicted")),
        # matched pairs: feat16 attention against feat16 residual only, not feat8's
        ({"attention16": ["attention_16"], "sn_d_1to1": ["residual_16"], "baseline": ["residual_8"]},
         "attention_beats_residual", ("sn_d_1to1", "attention16", None)),
    ],
)  # fmt: skip
def test_claims_map_to_variants_through_paper_rows(
    tmp_path: Path, rows: dict, claim: str, expected: tuple
) -> None:
    make_study(tmp_path, "sagan")
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    for variant, paper_rows in rows.items():
        params["studies"]["sagan"]["variants"][variant]["paper_rows"] = paper_rows
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run_report(tmp_path, "sagan")
    row = findings(tmp_path).loc[(claim, "re-runs")]
    worse, better, word = expected
    best = {"baseline": [50.0, 54.0, 51.0], "attention16": [42.0, 40.0], "sn_d_1to1": [50.0, 62.0]}
    d = welch_delta(best[worse], best[better])
    assert row["comparison"] == f"FID `{worse}` − `{better}`"
    assert row["effect"] == pytest.approx(d.diff) and row["low"] == pytest.approx(d.low)
    assert row["verdict"].startswith(word or ("holds" if d.low > 0 else "not separated"))
    assert row["note"].startswith("1 of 1 pairs hold" if row["verdict"] == "holds" else "0 of 1")


def test_the_budget_verdict_with_a_search(searched: Path) -> None:
    f = findings(searched)
    budget = f.loc[("no_model_beats_ns", "budget")]
    p = csv(searched, "p_beat.csv").set_index(["variant", "opponent"])["p_beat"]
    assert budget["comparison"] == "P(best of 6 trials of `wgan` beats `ns`'s)"
    assert budget["effect"] == pytest.approx(p[("wgan", "ns")]) and budget["effect"] >= 0.95
    assert budget["verdict"] == "contradicted" and budget["n"] == "6 trials each"
    assert "'consistently' read as P ≥ 0.95" in budget["note"]
    assert f.loc[("no_model_beats_ns", "re-runs")]["comparison"] == "FID `wgan` − `ns`"


def test_a_study_without_a_published_table(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["studies"]["sagan"]["report"] |= {"published": None, "sections": []}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run_report(tmp_path, "sagan")
    assert "no published table (`report.published`): no claims" in page(tmp_path)
    frame = csv(tmp_path, "findings.csv")
    assert frame.empty and list(frame.columns)[:4] == ["dataset", "claim", "basis", "comparison"]


# ---------------------------------------------------------------- phases and inputs


def test_a_narrow_phase(tmp_path: Path) -> None:
    spec = SEARCH | {"search": {"space": "wide", "trials": TRIALS, "narrow_from": 4}}
    search_study(tmp_path, spec)
    run_report(tmp_path, "lucic")
    budget = csv(tmp_path, "budget.csv")
    assert budget.groupby("phase")["k"].max().to_dict() == {1: 4, 2: 2}
    beats = csv(tmp_path, "p_beat.csv")
    assert beats.groupby("phase")["k"].unique().map(list).to_dict() == {1: [4], 2: [2]}
    md = page(tmp_path)
    assert "P(best of 4 beats), phase 1: trials 0–3" in md
    assert "P(best of 2 beats), phase 2: trials 4–5 in the narrow space" in md
    wgan = table(md, "chosen trial")["`wgan`"]  # trial 4 (33.0) is phase 2: not a candidate
    assert (wgan["chosen trial"], wgan["its FID"]) == ("0", "35.0")
    trials = csv(tmp_path, "search_trials.csv")
    assert trials.groupby("phase")["space"].unique().map(list).to_dict() == {
        1: ["wide"],
        2: ["narrow"],
    }


def test_stage_reads_the_selections(tmp_path: Path) -> None:
    search_study(tmp_path)
    args = stage_args(tmp_path, "lucic")
    proc = run_stage_script(args)
    assert proc.returncode == 2 and "--selections-dir selections/lucic" in proc.stderr
    proc = run_stage_script([*args, "--selections-dir", str(tmp_path / "selections" / "lucic")])
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "reports" / "lucic" / "budget.csv").is_file()


def corrupt_selection(root: Path) -> Path:
    path = root / "selections" / "lucic" / "lucic-fashion_mnist-began.json"
    rewrite(path, lambda s: s.update(chosen=0))
    return path


def corrupt_rerun(root: Path) -> Path:
    """Every re-run of began trained trial 0, not the chosen trial 2."""
    paths = [root / "metrics" / "lucic" / f"lucic-fashion_mnist-began-{s}.json" for s in (0, 1, 2)]
    for path in paths:
        rewrite(path, lambda r: r["search"].update(trial=0))
    return paths[0]


def corrupt_trial(root: Path) -> Path:
    path = root / "metrics" / "lucic" / "search" / "lucic-fashion_mnist-ns-t3.json"
    rewrite(path, lambda r: r["search"].update(trial=4))
    return path


def corrupt_protocol(root: Path) -> Path:
    path = root / "metrics" / "lucic" / "search" / "lucic-fashion_mnist-vae-t5.json"
    rewrite(path, lambda r: r["protocol"].update(n_real=500))
    return path


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (corrupt_selection, r"{path}: key 'chosen' is 0; the trial records give 2; re-run: dvc repro "
                            r"select_lucic@lucic-fashion_mnist-began"),
        (corrupt_rerun, r"{path}: key 'search.trial' is 0 but .* chose 2; re-run: dvc repro "
                        r"evaluate_lucic@lucic-fashion_mnist-began-0"),
        (corrupt_trial, r"{path}: key 'search.trial' is 4; expected 3"),
        (corrupt_protocol, r"{path}: key 'protocol.n_real' is 500"),
    ],
)  # fmt: skip
def test_inputs_that_do_not_fit_are_named(tmp_path: Path, corrupt, message: str) -> None:
    search_study(tmp_path)
    path = corrupt(tmp_path)
    with pytest.raises(UserError, match=message.format(path=re.escape(str(path)))):
        run_report(tmp_path, "lucic")
    assert not (tmp_path / "reports").exists()


def test_missing_search_inputs_name_the_stage(tmp_path: Path) -> None:
    search_study(tmp_path)
    trial = tmp_path / "metrics" / "lucic" / "search" / "lucic-fashion_mnist-ns-t3.json"
    text = trial.read_text()
    trial.unlink()
    with pytest.raises(UserError, match=re.escape(str(trial))) as err:
        run_report(tmp_path, "lucic")
    assert "dvc repro search_evaluate_lucic@lucic-fashion_mnist-ns-t3" in str(err.value)
    trial.write_text(text)
    selection = tmp_path / "selections" / "lucic" / "lucic-fashion_mnist-vae.json"
    selection.unlink()
    with pytest.raises(UserError, match=f"selection not found: {re.escape(str(selection))}"):
        run_report(tmp_path, "lucic")
    assert not (tmp_path / "reports").exists()
