"""ganbench.reporting: full reports built by the one ``write_report`` from synthetic run records
of a Lucic-like loss comparison and of SAGAN- and BigGAN-like ablations.

The builders here (``make_study``, ``run_report``, ``md_table``) are shared with
test_reporting_inputs.py.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from scipy import stats

from ganbench.config import Params, load_params, validate
from ganbench.io import sha256_file
from ganbench.reporting import welch_delta, write_report

SHA = "ab12cd34ef56" + "0" * 52
PROTOCOL = {
    "extractor": "classifier",
    "extractor_label": "shapes-cnn",
    "weights_sha256": SHA,
    "feature_dim": 64,
    "n_real": 10000,
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
    "steps_trained": 300,
    "train_device": "cpu",
}
# Lucic et al.'s measurement: Inception features (official weights), 10k vs 10k test images.
INCEPTION = PROTOCOL | {
    "extractor": "inception",
    "extractor_label": "inception-v3",
    "weights_sha256": "6726825d" + "0" * 56,
    "feature_dim": 2048,
    "n_fake": 10000,
}
STEP = 100
TRAINING = {"steps": 300, "batch_size": 32, "num_checkpoints": 3, "resume_every": 100}
EVALUATION = {"num_fake": 2000, "kid_subset_size": 500}

LUCIC = {
    "datasets": ["fashion_mnist"],
    "seeds": [0, 1, 2],
    "baseline": "ns",
    "search": {"space": "none", "trials": []},
    "report": {
        "title": "Loss comparison",
        "sections": ["sanity", "rank_agreement", "latex"],
        "published": "lucic2018_table2",
    },
    "recipe": {
        "arch": {"name": "infogan", "width": 0.25, "z_dim": 64, "d_batchnorm": True},
        "objective": {"name": "ns"},
        "penalty": {"name": "none"},
        "optimiser": {"lr_g": 0.001, "lr_d": 0.001},
        "training": TRAINING | {"latent": "uniform"},
        "evaluation": EVALUATION,
        "figures": {},
    },
    "variants": {
        "ns": {"label": "NS GAN", "paper_rows": ["ns"]},
        "wgan": {
            "label": "WGAN",
            "paper_rows": ["wgan"],
            "objective": {"name": "wgan", "clip": 0.01},
        },
        "began": {"label": "BEGAN", "paper_rows": ["began"], "objective": {"name": "began"}},
        "lsgan": {"label": "LSGAN", "paper_rows": ["lsgan"], "objective": {"name": "lsgan"}},
        "vae": {"label": "VAE", "paper_rows": ["vae"], "objective": {"name": "vae"}},
    },
}
# (variant, seed) -> (status, FID at steps 100, 200, ...); best = lowest. ns seed 2 diverged with
# a low FID that must not enter the mean; wgan seed 2 failed; lsgan diverged in every seed.
LUCIC_RUNS = {
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

RESNET = {"name": "resnet", "ch": 4, "g_attention": [], "d_attention": [], "g_spectral_norm": True}
SAGAN = {
    "datasets": ["shapes32"],
    "seeds": [0, 1, 2],
    "baseline": "baseline",
    "search": {"space": "none", "trials": []},
    "report": {"title": "SAGAN-like", "sections": ["stabilisation", "attention_maps"]}
    | {"published": "sagan2019"},
    "recipe": {
        "arch": RESNET,
        "objective": {"name": "hinge"},
        "penalty": {"name": "none"},
        "optimiser": {"lr_g": 0.0001, "lr_d": 0.0004, "beta1": 0.0, "beta2": 0.9},
        "training": TRAINING | {"steps": 400, "num_checkpoints": 4, "conditional": True},
        "evaluation": EVALUATION,
        "figures": {},
    },
    "variants": {
        "baseline": {"label": "SN-GAN, TTUR", "paper_rows": ["no_attention", "sn_gd_ttur"]},
        "attention16": {
            "label": "+ attention at 16x16",
            "paper_rows": ["attention_16"],
            "arch": {"g_attention": [16], "d_attention": [16]},
        },
        "sn_d_1to1": {
            "label": "SN on D only, 1:1",
            "paper_rows": ["sn_d"],
            "arch": {"g_spectral_norm": False},
            "optimiser": {"lr_d": 0.0001},
        },
    },
}
# attention16 seed 2 diverged with a low FID that must not enter the mean; sn_d_1to1 seed 1 failed.
SAGAN_RUNS = {
    ("baseline", 0): ("ok", (80.0, 60.0, 50.0, 52.0)),
    ("baseline", 1): ("ok", (82.0, 61.0, 55.0, 54.0)),
    ("baseline", 2): ("ok", (79.0, 58.0, 53.0, 51.0)),
    ("attention16", 0): ("ok", (70.0, 45.0, 42.0, 43.0)),
    ("attention16", 1): ("ok", (72.0, 47.0, 40.0, 41.0)),
    ("attention16", 2): ("diverged", (71.0, 20.0)),
    ("sn_d_1to1", 0): ("ok", (90.0, 85.0, 88.0, 50.0)),
    ("sn_d_1to1", 1): ("failed", ()),
    ("sn_d_1to1", 2): ("ok", (95.0, 80.0, 84.0, 62.0)),
}

BIGGAN = {
    "datasets": ["shapes32"],
    "seeds": [0, 1],
    "baseline": "baseline",
    "search": {"space": "none", "trials": []},
    "report": {"title": "BigGAN-like", "sections": ["truncation", "cifar10_reproductions"]}
    | {"published": "biggan2019"},
    "recipe": {
        "arch": RESNET | {"g_attention": [16], "d_attention": [16]},
        "objective": {"name": "hinge"},
        "penalty": {"name": "none"},
        "optimiser": {"lr_g": 0.00005, "lr_d": 0.0002, "n_disc": 2},
        "training": TRAINING | {"conditional": True},
        "evaluation": EVALUATION | {"truncation": [2.0, 1.0, 0.5]},
        "figures": {"grid_truncation": [0.5]},
    },
    "variants": {
        "baseline": {"label": "SAGAN baseline", "paper_rows": ["1"]},
        "ortho": {
            "label": "+ shared, skip-z, ortho",
            "paper_rows": ["8"],
            "arch": {"shared_embedding": True, "skip_z": True},
            "training": {"ortho_beta": 0.0001, "ema_decay": 0.999},
        },
    },
}
BIGGAN_RUNS = {
    ("baseline", 0): ("ok", (60.0, 40.0, 30.0)),
    ("baseline", 1): ("ok", (62.0, 41.0, 32.0)),
    ("ortho", 0): ("ok", (50.0, 30.0, 20.0)),
    ("ortho", 1): ("ok", (52.0, 29.0, 22.0)),
}
# (variant, seed) -> [(psi, FID, IS)]: baseline seed 0 saturates (IS drops at small psi: not
# amenable); the others are amenable.
SWEEPS = {
    ("baseline", 0): [(None, 30.0, 5.0), (2.0, 29.0, 5.1), (1.0, 40.0, 4.0), (0.5, 60.0, 3.0)],
    ("baseline", 1): [(None, 32.0, 5.0), (2.0, 31.0, 5.5), (1.0, 33.0, 6.0), (0.5, 45.0, 7.0)],
    ("ortho", 0): [(None, 20.0, 6.0), (2.0, 19.5, 6.4), (1.0, 21.0, 7.0), (0.5, 30.0, 8.0)],
    ("ortho", 1): [(None, 22.0, 6.2), (2.0, 21.0, 6.5), (1.0, 22.5, 7.2), (0.5, 31.0, 8.4)],
}
STUDIES = {
    "lucic": (LUCIC, LUCIC_RUNS),
    "sagan": (SAGAN, SAGAN_RUNS),
    "biggan": (BIGGAN, BIGGAN_RUNS),
}
PARAMS = {"G": 123_456, "D": 98_765}
NO_SEARCH = {"space": "none", "role": "seed", "trial": None, "hparams": {}}  # the recipe as set


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


def make_record(
    name: str, spec: dict, variant: str, seed: int, protocol: dict, outcome: tuple | None = None
) -> dict:
    """One run record in the schema the evaluate stage writes; ``outcome``: (status, FIDs at
    steps 100, 200, ...), by default the study's run (STUDIES)."""
    params = load_params_dict({name: spec})
    study = params.study(name)
    dataset = study.datasets[0]
    recipe = study.recipe_for(variant, f"studies.{name}")
    status, fids = outcome or STUDIES[name][1][(variant, seed)]
    ema = recipe.training.ema_decay > 0
    run = f"{name}-{dataset}-{variant}-{seed}"
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
    if fids and status != "failed":
        i = int(np.argmin(fids))
        best = {"step": STEP * (i + 1), **scores(fids[i], seed)}
    sweep = SWEEPS.get((variant, seed), []) if recipe.evaluation.truncation and fids else []
    folder = f"evaluations/{name}/{run}"
    grids = {"none": f"{folder}/samples.png"}
    grids |= {
        f"{psi:g}": f"{folder}/samples_psi{psi:g}.png" for psi in recipe.figures.grid_truncation
    }
    attention = recipe.arch.fields().get("g_attention")
    blocks = ("arch", "objective", "penalty", "optimiser", "training")
    return {
        "run": run,
        "study": name,
        "dataset": dataset,
        "variant": variant,
        "seed": seed,
        "search": dict(NO_SEARCH),
        "status": status,
        "diverged_at_step": STEP * len(fids) + 50 if status == "diverged" else None,
        "reason": "out of memory" if status == "failed" else None,
        "recipe": json.loads(json.dumps(recipe.model_dump(include=set(blocks)))),
        "params": dict(PARAMS),
        "protocol": copy.deepcopy(protocol)
        | {"steps": recipe.training.steps, "batch_size": recipe.training.batch_size},
        "generator": "ema" if ema else "raw",
        "checkpoints": checkpoints,
        "best": best,
        "truncation": [{"psi": psi, "status": "ok", **scores(f, seed, i)} for psi, f, i in sweep],
        "grids": grids,
        "attention_figure": f"{folder}/attention.png" if attention and fids else None,
    }


def load_params_dict(studies: dict) -> Params:
    """Validated params holding ``studies`` (and the datasets they list)."""
    datasets = sorted({d for spec in studies.values() for d in spec["datasets"]})
    raw = {"datasets": datasets, "studies": studies}
    return validate(Params, json.loads(json.dumps(raw)), "")


def make_study(
    root: Path, name: str, protocol: dict = PROTOCOL, study: tuple[dict, dict] | None = None
) -> Path:
    """Write params.yaml, metrics/<name>/, metrics/classifier/ and evaluations/<name>/ under
    ``root`` (with baselines for the sanity rows); returns the params path. ``study``: (spec,
    runs) in place of STUDIES[name]."""
    spec, runs = study or STUDIES[name]
    params = root / "params.yaml"
    params.write_text(
        yaml.safe_dump({"datasets": spec["datasets"], "studies": {name: spec}}, sort_keys=False)
    )
    records = root / "metrics" / name
    records.mkdir(parents=True, exist_ok=True)
    for shade, (variant, seed) in enumerate(runs):
        rec = make_record(name, spec, variant, seed, protocol, runs[(variant, seed)])
        rec["image_sha256"] = {}
        for path in [*rec["grids"].values(), rec["attention_figure"]]:
            if path:
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                Image.new("L", (8, 8), color=10 * shade + len(path) % 7).save(root / path)
                rec["image_sha256"][path] = sha256_file(root / path)
        (records / f"{rec['run']}.json").write_text(json.dumps(rec))
    dataset = spec["datasets"][0]
    baseline_protocol = {
        k: v for k, v in protocol.items() if k not in ("steps_trained", "train_device")
    }
    (records / f"baselines-{dataset}.json").write_text(
        json.dumps(
            {
                "dataset": dataset,
                "protocol": baseline_protocol,
                "rows": {
                    "real_train": scores(1.23) | {"precision": 0.76, "recall": 0.74},
                    "untrained_generator": scores(412.0) | {"recall": 0.0, "coverage": 0.0},
                },
            }
        )
    )
    (root / "metrics" / "classifier").mkdir(exist_ok=True)
    (root / "metrics" / "classifier" / f"{dataset}.json").write_text(
        json.dumps(
            {"dataset": dataset, "test_accuracy": 0.912, "weights_sha256": SHA, "epochs": 3}
            | {"width": 16, "lr": 0.003, "batch_size": 128, "seed": 0}
        )
    )
    return params


def run_report(root: Path, name: str, out: str = "reports") -> list[Path]:
    return write_report(
        name,
        load_params(root / "params.yaml").study(name),
        records_dir=root / "metrics" / name,
        evaluations_dir=root / "evaluations" / name,
        classifier_dir=root / "metrics" / "classifier",
        out_dir=root / out,
        selections_dir=root / "selections" / name,
    )


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


def md_table(md: str, heading_start: str) -> list[dict[str, str]]:
    """The one table under a heading starting with ``heading_start``, as dicts by column."""
    found = [rows for heading, rows in md_tables(md) if heading.startswith(heading_start)]
    assert len(found) == 1, (heading_start, [h for h, _ in md_tables(md)])
    header, *rows = found[0]
    return [dict(zip(header, row, strict=True)) for row in rows]


def best_fids(name: str, variant: str) -> list[float]:
    runs = STUDIES[name][1]
    return [min(f) for (v, _), (status, f) in runs.items() if v == variant and status == "ok"]


def pm_str(values: list[float], decimals: int = 1) -> str:
    return f"{np.mean(values):.{decimals}f} ± {np.std(values, ddof=1):.{decimals}f}"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each study's report, built once: name -> its root (reports/ under it)."""
    out = {}
    for name in STUDIES:
        root = tmp_path_factory.mktemp(name)
        make_study(root, name)
        run_report(root, name)
        out[name] = root
    return out


def page(reports: dict[str, Path], name: str) -> str:
    return (reports[name] / "reports" / f"{name}.md").read_text()


# ---------------------------------------------------------------- generic sections, every study


@pytest.mark.parametrize("name", list(STUDIES))
def test_every_output_exists(reports: dict[str, Path], name: str) -> None:
    out = reports[name] / "reports"
    for rel in (f"{name}.md", f"{name}.csv", f"{name}.json", f"{name}/fid_curves.csv"):
        assert (out / rel).is_file(), rel
    for fig in ("fid_vs_step", "fid_per_seed"):
        assert (out / name / "figures" / f"{fig}.png").is_file(), fig


@pytest.mark.parametrize("name", list(STUDIES))
def test_csv_and_json_statistics_match_numpy_and_scipy(reports: dict[str, Path], name: str) -> None:
    spec, runs = STUDIES[name]
    table = pd.read_csv(reports[name] / "reports" / f"{name}.csv").set_index("variant")
    summary = json.loads((reports[name] / "reports" / f"{name}.json").read_text())
    assert summary["baseline"] == spec["baseline"]
    got = summary["datasets"][spec["datasets"][0]]["variants"]
    assert list(table.index) == list(spec["variants"]) == list(got)
    base = best_fids(name, spec["baseline"])
    for v in spec["variants"]:
        fids, row = best_fids(name, v), table.loc[v]
        assert row["n_seeds"] == len(spec["seeds"]) and row["n_ok"] == len(fids)
        if not fids:
            assert math.isnan(row["fid_mean"]) and got[v]["fid_mean"] is None
            continue
        assert row["fid_mean"] == pytest.approx(np.mean(fids)) == got[v]["fid_mean"]
        assert row["is_mean"] == pytest.approx(np.mean([10 - f / 20 for f in fids]))
        assert row["precision_mean"] == pytest.approx(np.mean([0.9 - f / 1000 for f in fids]))
        if len(fids) > 1:
            assert row["fid_std"] == pytest.approx(np.std(fids, ddof=1))
        assert row["fid_best_run"] == min(fids)
        if v == spec["baseline"]:
            assert row["verdict_fid"] == row["verdict_is"] == "baseline"
            continue
        if len(fids) > 1:
            ci = stats.ttest_ind(fids, base, equal_var=False).confidence_interval(0.95)
            assert (row["delta_fid_low"], row["delta_fid_high"]) == (
                pytest.approx(ci.low),
                pytest.approx(ci.high),
            )
            assert got[v]["delta_fid_low"] == pytest.approx(ci.low)
            word = "better" if ci.high < 0 else "worse" if ci.low > 0 else "within noise"
            assert row["verdict_fid"] == got[v]["verdict_fid"] == word


def test_main_table_cells(reports: dict[str, Path]) -> None:
    rows = {r["variant"]: r for r in md_table(page(reports, "sagan"), "Our results")}
    att = rows["`attention16`"]
    assert att["label"] == "+ attention at 16x16"
    assert att["maps to (published row)"] == "Table 1 attn feat16"
    assert att["seeds ok / total"] == "2 / 3 (1 diverged)"
    assert att["FID (shapes-cnn), mean ± std"] == "41.0 ± 1.4"  # seed 2's FID 20 is left out
    assert att["best run FID"] == "40.0 (seed 1)"
    assert att["G scored"] == "raw" and att["params G+D"] == "222.2k"
    d = welch_delta([42.0, 40.0], best_fids("sagan", "baseline"))
    assert att["ΔFID vs baseline [95% CI]"] == f"{d.diff:+.1f} [{d.low:+.1f}, {d.high:+.1f}]"
    assert att["verdict (FID)"] == "better" and att["verdict (IS)"] == "better"
    base = rows["`baseline`"]
    assert base["maps to (published row)"] == "Table 1 no attention; Figure 3 SN on G/D + TTUR"
    assert base["ΔFID vs baseline [95% CI]"] == "baseline" and base["verdict (FID)"] == "—"
    assert rows["`sn_d_1to1`"]["seeds ok / total"] == "2 / 3 (1 failed)"
    assert "FID of raw G (its best ckpt)" not in base  # no variant scores an EMA


def test_diverged_and_failed_seeds_are_noted(reports: dict[str, Path]) -> None:
    md = page(reports, "lucic")
    assert "- `ns` seed 2 diverged at step 250." in md
    assert "- `wgan` seed 2 failed: out of memory." in md
    assert "- `lsgan` seed 0 diverged at step 50." in md
    assert "Every seed ended ok." in page(reports, "biggan")


def test_variant_without_an_ok_run(reports: dict[str, Path]) -> None:
    md = page(reports, "lucic")
    row = next(r for r in md_table(md, "Our results") if r["variant"] == "`lsgan`")
    assert row["seeds ok / total"] == "0 / 3 (3 diverged)"
    assert row["FID (shapes-cnn), mean ± std"] == row["best run FID"] == "—"
    assert row["ΔFID vs baseline [95% CI]"] == "—" and row["verdict (FID)"] == "n/a"
    grids = {r["variant (seed)"]: r for r in md_table(md, "Sample grids")}
    assert grids["`lsgan` (no ok run)"]["untruncated"] == "—"
    figures = reports["lucic"] / "reports" / "lucic" / "figures"
    assert not (figures / "samples_fashion_mnist_lsgan.png").exists()


def test_header_states_what_was_run(reports: dict[str, Path]) -> None:
    md = page(reports, "lucic")
    for text in (
        "# Loss comparison: ganbench at small scale",
        "- **Data**: `fashion_mnist` (1×28×28, 10 classes); unconditional (every variant).",
        "5 variants × 3 seeds (0, 1, 2) × 1 dataset = 15 runs; baseline `ns`.",
        "arch name infogan, width 0.25, z_dim 64, d_batchnorm yes; objective name ns;",
        "  - `wgan` (WGAN): objective.name wgan, objective.clip 0.01.",
        "  - `ns` (NS GAN): the baseline recipe.",
        "G itself (no EMA) (every variant)",
        "`shapes-cnn` features (classifier, 64-d, weights sha256 `ab12cd34ef56…`; test accuracy "
        "91.2% after 3 epochs); 2,000 generated vs 10,000 real images of the `test` split",
        "**Devices**: train cpu, eval cpu. **Software**: ganbench 0.1.0, torch 2.14.1.",
        "ours differs in features `shapes-cnn` (paper: inception), generated images 2,000 "
        "(paper: 10,000)",
    ):
        assert text in md, text
    big = page(reports, "biggan")
    assert "G itself (no EMA) (baseline); EMA of G's weights (ortho)" in big
    assert (
        "  - `ortho` (+ shared, skip-z, ortho): arch.shared_embedding yes, arch.skip_z yes" in big
    )


def test_prdc_table(reports: dict[str, Path]) -> None:
    rows = md_table(page(reports, "lucic"), "Precision, recall, density, coverage")
    assert list(rows[0]) == [
        "variant",
        *(f"{k} (k=5)" for k in ("precision", "recall", "density", "coverage")),
    ]
    ns = rows[0]
    fids = best_fids("lucic", "ns")  # seeds 0 and 1
    assert ns["precision (k=5)"] == pm_str([0.9 - f / 1000 for f in fids], 3)
    assert ns["recall (k=5)"] == pm_str([0.4, 0.5], 3)


def test_published_table_in_its_own_section(reports: dict[str, Path]) -> None:
    md = page(reports, "lucic")
    rows = {r["model"]: r for r in md_table(md, "Published: Lucic et al. 2018, Table 2")}
    assert list(rows) == ["mm", "ns", "lsgan", "wgan", "wgan_gp", "dragan", "began", "vae"]
    assert rows["ns"]["FID mean ± std"] == "26.5 ± 1.6" and rows["ns"]["dataset"] == "fashion_mnist"
    assert (
        rows["ns"]["our variants mapped here"] == "`ns`"
        and rows["mm"]["our variants mapped here"] == "—"
    )
    assert rows["vae"]["note"].startswith("unverified")
    ours = md_table(md, "Our results")
    assert not any("Lucic" in c or "paper" in c for c in ours[0] if c != "maps to (published row)")
    published = {c for r in rows.values() for c in r.values()}
    assert not published & {c for r in ours for c in list(r.values())[5:]} - {"—", ""}
    for rel in ("lucic.csv", "lucic.json", "lucic/lucic.tex"):
        text = (reports["lucic"] / "reports" / rel).read_text()
        assert "26.5" not in text and "58.7" not in text, rel
    sagan = {r["setting"]: r for r in md_table(page(reports, "sagan"), "Published: Zhang")}
    assert sagan["attn feat32"]["FID"] == "18.28" and sagan["residual feat32"]["IS"] == "38.50"
    assert sagan["SN on D, 1:1"] == {
        "source": "Figure 3",
        "setting": "SN on D, 1:1",
        "FID": "—",
        "IS": "—",
        "finding": "unstable at 1:1 updates",
        "our variants mapped here": "`sn_d_1to1`",
        "note": "unverified (not checked against the paper)",
    }
    assert sagan["SN on G/D + TTUR"]["our variants mapped here"] == "`baseline`"
    big = md_table(page(reports, "biggan"), "Published: Brock")
    assert list(big[7].values()) == [
        "8", "2048", "96", "158.3", "✓", "✓", "✓", "165 ± 13", "8.51 ± 0.32", "99.31 ± 2.10",
        "`ortho`",
    ]  # fmt: skip
    assert (
        big[0]["itr ×10³"] == "1000" and big[0]["IS"] == "52.52" and big[1]["IS"] == "58.77 ± 1.18"
    )
    assert "Every row is unverified" in page(reports, "biggan")


def test_fid_curves_csv(reports: dict[str, Path]) -> None:
    curves = pd.read_csv(reports["lucic"] / "reports" / "lucic" / "fid_curves.csv")
    assert list(curves.columns) == ["run", "variant", "seed", "step", "fid", "kid_mean", "is_mean"]
    assert len(curves) == sum(len(f) for _, f in LUCIC_RUNS.values())
    assert curves["variant"].drop_duplicates().tolist() == ["ns", "wgan", "began", "lsgan", "vae"]
    ns2 = curves[curves["run"] == "lucic-fashion_mnist-ns-2"]
    assert ns2["fid"].tolist() == [70.0, 5.0] and ns2["step"].tolist() == [100, 200]
    big = pd.read_csv(reports["biggan"] / "reports" / "biggan" / "fid_curves.csv")
    assert big.loc[big["run"] == "biggan-shapes32-ortho-0", "fid"].tolist() == [50.0, 30.0, 20.0]


def test_sample_grids_are_the_lowest_ok_seed(reports: dict[str, Path]) -> None:
    root = reports["sagan"]
    rows = {r["variant (seed)"]: r for r in md_table(page(reports, "sagan"), "Sample grids")}
    assert rows["`sn_d_1to1` (seed 0)"]["untruncated"] == (
        "![sn_d_1to1 ψ none](sagan/figures/samples_shapes32_sn_d_1to1.png)"
    )
    copied = root / "reports" / "sagan" / "figures" / "samples_shapes32_attention16.png"
    source = root / "evaluations" / "sagan" / "sagan-shapes32-attention16-0" / "samples.png"
    assert copied.read_bytes() == source.read_bytes()
    big = md_table(page(reports, "biggan"), "Sample grids")
    assert list(big[1]) == ["variant (seed)", "untruncated", "ψ = 0.5"]
    assert big[1]["ψ = 0.5"] == "![ortho ψ 0.5](biggan/figures/samples_shapes32_ortho_psi0.5.png)"


# ---------------------------------------------------------------- study-specific sections


def test_sanity_rows(reports: dict[str, Path]) -> None:
    rows = md_table(page(reports, "lucic"), "Sanity rows")
    assert rows[0]["Row"] == "real train images vs test (floor)" and rows[0]["FID"] == "1.2"
    assert rows[0]["precision (k=5)"] == "0.760" and rows[1]["FID"] == "412.0"
    assert rows[1]["KID ×10³ mean ± std"] == "412.00 ± 1.00"
    summary = json.loads((reports["lucic"] / "reports" / "lucic.json").read_text())
    assert summary["datasets"]["fashion_mnist"]["sanity"]["untrained_generator"]["fid"] == 412.0


def test_rank_agreement_equals_scipy(reports: dict[str, Path]) -> None:
    paper = {"ns": 26.5, "wgan": 21.5, "began": 22.9, "vae": 58.7}  # lsgan: no ok run
    ours = [np.mean(best_fids("lucic", v)) for v in paper]
    expected = stats.spearmanr(ours, list(paper.values()))
    summary = json.loads((reports["lucic"] / "reports" / "lucic.json").read_text())
    got = summary["datasets"]["fashion_mnist"]["spearman"]
    assert got["n"] == 4
    assert got["rho"] == pytest.approx(expected.statistic, abs=1e-12)
    assert got["p_value"] == pytest.approx(expected.pvalue, abs=1e-12)
    md = page(reports, "lucic")
    assert f"ρ = {expected.statistic:.3f}, p = {expected.pvalue:.3g}." in md
    assert "(`ns`, `wgan`, `began`, `vae`)" in md and "numbers of `vae` are unverified" in md
    assert "Side by side" not in md  # classifier features: never beside the paper's numbers


def test_inception_protocol_puts_paper_beside_ours(tmp_path: Path) -> None:
    make_study(tmp_path, "lucic", INCEPTION)
    run_report(tmp_path, "lucic")
    md = (tmp_path / "reports" / "lucic.md").read_text()
    assert "`fashion_mnist`: measured as theirs" in md
    rows = md_table(md, "Side by side")
    ours, theirs = list(rows[0])[1:3]
    assert ours.startswith("ours: FID (inception-v3 features, 10,000 vs 10,000 test")
    assert theirs == "Lucic et al. 2018 Table 2: FID, mean ± std"
    ns = rows[0]
    assert ns[ours] == pm_str(best_fids("lucic", "ns")) and ns[theirs] == "26.5 ± 1.6"
    assert rows[-1]["note"].startswith("unverified")


def test_latex(reports: dict[str, Path]) -> None:
    tex = (reports["lucic"] / "reports" / "lucic" / "lucic.tex").read_text()
    for text in (r"\toprule", r"\bottomrule", r"\texttt{wgan}", r"$\pm$", r"KID $\times 10^3$"):
        assert text in tex, text
    assert r"shapes-cnn" in tex and r"fashion\_mnist" in tex and "±" not in tex
    assert tex.count(r"\begin{tabular}") == 2 and "Table 2" in tex  # our rows name their row
    ns = next(line for line in tex.splitlines() if line.startswith(r"\texttt{ns} & NS GAN"))
    assert pm_str(best_fids("lucic", "ns")).replace("±", r"$\pm$") in ns
    assert "[lucic/lucic.tex](lucic/lucic.tex)" in page(reports, "lucic")


def test_stabilisation_section(reports: dict[str, Path]) -> None:
    md = page(reports, "sagan")
    assert "## Stabilisation (Zhang et al. 2019 (SAGAN), Figure 3)" in md
    assert "Figure 3 SN on D, 1:1: unstable at 1:1 updates" in md
    header, *rows = [r for h, r in md_tables(md) if h == "`shapes32`"][0]
    assert header[2:-1] == [f"FID at step {s}" for s in (100, 200, 300, 400)]
    assert [r[0] for r in rows] == ["`baseline`", "`sn_d_1to1`"]  # the Figure 3 rows' variants
    assert rows[1][2] == pm_str([90.0, 95.0]) and rows[1][-1] == "seed 1 failed"
    assert rows[0][4] == pm_str([50.0, 55.0, 53.0])
    curves = pd.read_csv(reports["sagan"] / "reports" / "sagan" / "stabilisation.csv")
    assert list(curves.columns) == [
        "dataset", "variant", "seed", "status", "step", "generator", "fid", "is_mean", "kid_mean"
    ]  # fmt: skip
    assert len(curves) == 4 * 3 + 4 * 2
    assert (reports["sagan"] / "reports" / "sagan" / "figures" / "stabilisation.png").is_file()


def test_attention_maps(reports: dict[str, Path]) -> None:
    md = page(reports, "sagan")
    assert (
        "![attention maps of attention16](sagan/figures/attention_shapes32_attention16.png)" in md
    )
    assert "`baseline`** (" not in md  # no attention, no figure
    root = reports["sagan"]
    copied = root / "reports" / "sagan" / "figures" / "attention_shapes32_attention16.png"
    run = root / "evaluations" / "sagan" / "sagan-shapes32-attention16-0"
    assert copied.read_bytes() == (run / "attention.png").read_bytes()
    assert "Attention maps" not in page(reports, "biggan")  # not a section of that study
    # ch 4 at 16x16: G and D have 16 channels there: 1.25 * 16^2 + 1 = 321 parameters each way
    assert "| `attention16` | G | 16x16 | 16 | attention | 321 | 321 |" in md
    assert "| `attention16` | D | 16x16 | 16 | attention | 321 | 321 |" in md


def test_truncation_and_amenability(reports: dict[str, Path]) -> None:
    md, root = page(reports, "biggan"), reports["biggan"] / "reports"
    means = pd.read_csv(root / "biggan" / "truncation.csv", dtype={"psi": str})
    assert means[means["variant"] == "ortho"]["psi"].tolist() == ["none", "2", "1", "0.5"]
    row = means[(means["variant"] == "baseline") & (means["psi"] == "0.5")].iloc[0]
    assert (row["n_runs"], row["fid_mean"], row["is_mean"]) == (2, 52.5, 5.0)
    assert row["fid_std"] == pytest.approx(np.std([60.0, 45.0], ddof=1))
    assert "the IS at the smallest ψ of the sweep is higher than the untruncated IS" in md
    assert [list(r.values()) for r in md_table(md, "`shapes32`")] == [
        ["`baseline`", "off", "2", "1"],
        ["`ortho`", "0.0001", "2", "2"],
    ]
    assert "ortho β > 0 (`ortho`): 2 of 2 ok runs amenable (100%)" in md
    assert "ortho β = 0 (`baseline`): 1 of 2 ok runs amenable (50%)" in md
    assert "16% of their models amenable without orthogonal regularisation, 60% with it" in md
    summary = json.loads((root / "biggan.json").read_text())["datasets"]["shapes32"]
    assert summary["amenable"]["with_ortho"] == {"amenable": 2, "judged": 2, "percent": 100.0}
    assert summary["amenable"]["without_ortho"]["percent"] == pytest.approx(50.0)
    assert (root / "biggan" / "figures" / "truncation.png").is_file()
    ortho = next(r for r in md_table(md, "Our results") if r["variant"] == "`ortho`")
    assert ortho["G scored"] == "EMA" and ortho["FID (shapes-cnn), mean ± std"] == pm_str(
        [20.0, 22.0]
    )
    assert ortho["FID of raw G (its best ckpt)"] == pm_str([25.0, 27.0])


def test_cifar10_reproductions_section(reports: dict[str, Path]) -> None:
    rows = md_table(page(reports, "biggan"), "Published: Mimicry")
    assert list(rows[0]) == ["source", "protocol", "model", "FID", "IS"]
    assert {"source": "mmgeneration", "protocol": "50k vs train", "model": "SAGAN (cond.)",
            "FID": "9.43", "IS": "9.32"} in rows  # fmt: skip


def test_truncation_without_a_sweep(tmp_path: Path) -> None:
    make_study(tmp_path, "biggan")
    for path in (tmp_path / "metrics" / "biggan").glob("biggan-*.json"):
        path.write_text(json.dumps(json.loads(path.read_text()) | {"truncation": []}))
    written = run_report(tmp_path, "biggan")
    md = (tmp_path / "reports" / "biggan.md").read_text()
    assert "The records have no truncation sweep (params `studies.biggan.recipe.evaluation" in md
    means = pd.read_csv(tmp_path / "reports" / "biggan" / "truncation.csv")
    assert means.empty and "fid_mean" in means.columns  # written, header only
    assert tmp_path / "reports" / "biggan" / "figures" / "truncation.png" not in written


def test_report_is_deterministic(tmp_path: Path) -> None:
    make_study(tmp_path, "sagan")
    first, second = run_report(tmp_path, "sagan", "a"), run_report(tmp_path, "sagan", "b")
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        p.relative_to(tmp_path / "b") for p in second
    ]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert sorted(p for p in (tmp_path / "a").rglob("*") if p.is_file()) == sorted(first)
