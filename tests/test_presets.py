"""The presets in configs/: each is a whole params file that loads as a plan, defines the four
studies dvc.yaml has stages for, runs the studies its header says, and holds the numbers of the
papers it encodes."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import yaml

from ganbench.config import Params, Recipe, load_params
from ganbench.plan import RunSpec, load_plan, resolve_run
from ganbench.reporting.sections import SECTIONS

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
PRESETS = sorted(p.name for p in CONFIGS.glob("*.yaml"))
STUDIES = {"lucic", "sagan", "biggan", "losses"}  # dvc.yaml has stage blocks for each
RUNNING = {  # the studies with seeds; the others are defined but switched off (seeds: [])
    "lucic_paper.yaml": {"lucic"},
    "losses_resnet.yaml": {"losses"},
    "sagan_biggan_cifar10.yaml": {"lucic", "sagan", "biggan"},
    "sagan_biggan_imagenet128.yaml": {"sagan", "biggan"},
    "ablations_cpu.yaml": {"sagan", "biggan"},
    "quick.yaml": {"lucic", "sagan", "biggan", "losses"},
}

# The authors' default hyperparameters of Lucic et al. 2018, "sample 0" of every search
# (compare_gan v1 src/params.py), as the old ganbench/training/hparams.py held them: model -> the
# values that differ from the old Hyperparameters() defaults (lr 2e-4, beta1 0.5, beta2 0.999,
# n_disc 1, d_batchnorm true, clip 0.01, penalty_weight 10, began_lambda_k 1e-3, began_gamma
# 0.75). beta2 is 0.999 everywhere.
AUTHOR_DEFAULTS: dict[str, dict] = {
    "mm": dict(beta1=0.0, lr=5e-5, n_disc=1, d_batchnorm=True),
    "ns": dict(beta1=0.0, lr=5e-5, n_disc=1, d_batchnorm=True),
    "lsgan": dict(beta1=0.5, lr=2e-4, n_disc=1, d_batchnorm=True),
    "wgan": dict(beta1=0.5, lr=5e-5, n_disc=5, d_batchnorm=True, clip=0.01),
    "wgan_gp": dict(beta1=0.5, lr=1e-4, n_disc=5, d_batchnorm=False, penalty_weight=10.0),
    "dragan": dict(beta1=0.5, lr=1e-4, n_disc=1, d_batchnorm=True, penalty_weight=10.0),
    "began": dict(
        beta1=0.5, lr=1e-4, n_disc=5, d_batchnorm=False, began_lambda_k=1e-3, began_gamma=0.75
    ),
    "vae": dict(beta1=0.5, lr=5e-5, n_disc=1, d_batchnorm=True),
}
# Lucic et al.'s models as (objective, penalty) of the new schema.
LUCIC_MODELS = {
    "mm": ("mm", "none"),
    "ns": ("ns", "none"),
    "lsgan": ("lsgan", "none"),
    "wgan": ("wgan", "none"),
    "wgan_gp": ("wgan", "gp"),
    "dragan": ("ns", "dragan"),
    "began": ("began", "none"),
    "vae": ("vae", "none"),
}


@functools.cache
def plan(name: str) -> Params:
    return load_plan(str(CONFIGS / name))


def run(preset: str, study: str, variant: str, dataset: str | None = None) -> RunSpec:
    """A resolved run of a study that runs (its first dataset and seed unless told)."""
    p = plan(preset)
    s = p.study(study)
    return resolve_run(p, study, dataset or s.datasets[0], variant, s.seeds[0])


def recipe(preset: str, study: str, variant: str) -> Recipe:
    """A variant's merged recipe, also for a switched-off study."""
    return plan(preset).study(study).recipe_for(variant, f"studies.{study}")


def test_every_preset_is_listed() -> None:
    assert set(PRESETS) == set(RUNNING)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_loads_as_a_plan_with_the_four_studies(preset: str) -> None:
    p = plan(preset)
    assert set(p.studies) == STUDIES
    assert {n for n, s in p.studies.items() if s.seeds} == RUNNING[preset]
    for name, study in p.studies.items():
        for section in study.report.sections:
            assert section in SECTIONS.names(), (name, section)


@pytest.mark.parametrize("preset", PRESETS)
def test_switched_off_studies_resolve_too(preset: str, tmp_path: Path) -> None:
    """load_plan resolves only the runs that exist; with a seed each, every variant of every
    study (the switched-off ones included) must resolve."""
    raw = yaml.safe_load((CONFIGS / preset).read_text())
    for study in raw["studies"].values():
        study["seeds"] = study["seeds"] or [0]
    path = tmp_path / preset
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    load_plan(str(path))


# -- lucic_paper: Lucic et al. 2018 at paper scale ----------------------------------------------


def test_lucic_paper_authors_defaults_per_variant() -> None:
    preset = "lucic_paper.yaml"
    assert list(plan(preset).study("lucic").variants) == list(AUTHOR_DEFAULTS)
    for variant, hp in AUTHOR_DEFAULTS.items():
        r = run(preset, "lucic", variant).recipe
        opt, obj, pen = r.optimiser, r.objective.fields(), r.penalty.fields()
        assert (r.objective.name, r.penalty.name) == LUCIC_MODELS[variant]
        assert opt.lr_g == opt.lr_d == hp["lr"], variant  # the paper has one learning rate
        assert (opt.beta1, opt.beta2, opt.n_disc) == (hp["beta1"], 0.999, hp["n_disc"]), variant
        assert r.arch.fields()["d_batchnorm"] is hp["d_batchnorm"], variant
        if "clip" in hp:
            assert obj["clip"] == hp["clip"]
        if "penalty_weight" in hp:
            assert pen["weight"] == hp["penalty_weight"]
        if "began_gamma" in hp:
            assert (obj["gamma"], obj["lambda_k"]) == (hp["began_gamma"], hp["began_lambda_k"])
        assert r.training.latent == ("normal" if variant == "vae" else "uniform")
    assert run(preset, "lucic", "wgan_gp").recipe.objective.fields()["clip"] is None


def test_lucic_paper_scale() -> None:
    preset = "lucic_paper.yaml"
    p = plan(preset)
    lucic = p.study("lucic")
    assert lucic.datasets == ("mnist", "fashion_mnist", "cifar10", "celeba")
    # the paper's protocol: 100 wide trials, 50 narrow ones, the best wide setting on 50 seeds
    assert lucic.seeds == tuple(range(50))
    assert lucic.search.space == "wide" and lucic.search.trials == tuple(range(150))
    assert [lucic.space_for("ns", t) for t in (0, 99, 100, 149)] == ["wide"] * 2 + ["narrow"] * 2
    assert lucic.report.published == "lucic2018_table2"
    # 20 epochs at batch 64 (MNIST, Fashion-MNIST), 100 (CIFAR-10), 40 (CelebA)
    # and an evaluation every 5 epochs (compare_gan v1): 4, 20 and 8 checkpoints
    length = {}
    for d in lucic.datasets:
        t = run(preset, "lucic", "ns", d).recipe.training
        length[d] = (t.steps, t.num_checkpoints)
    assert length == {
        "mnist": (15625, 4), "fashion_mnist": (15625, 4),
        "cifar10": (78125, 20), "celeba": (101250, 8),
    }  # fmt: skip
    r = run(preset, "lucic", "ns").recipe
    assert r.arch.name == "infogan"
    assert (r.arch.fields()["width"], r.arch.fields()["z_dim"]) == (1.0, 64)
    assert r.training.batch_size == 64
    assert r.evaluation.num_fake == 10000  # 10k vs the 10k test images
    # scored with G's moving BatchNorm statistics (compare_gan evaluates with is_training=False)
    assert r.evaluation.standing_stats_batches == 0
    assert p.pipeline.reference_split == "test"
    assert p.features.extractor == "inception"
    assert p.features.weights_sha256 is None  # the official 6726825d


# -- sagan_biggan_imagenet128: the papers' settings ---------------------------------------------


def test_imagenet128_sagan() -> None:
    preset = "sagan_biggan_imagenet128.yaml"
    sagan = plan(preset).study("sagan")
    assert sagan.datasets == ("imagenet128",)
    assert {"attention_64", "residual_64"} <= {
        row for v in sagan.variants.values() for row in v.paper_rows
    }
    r = run(preset, "sagan", "baseline").recipe
    opt, t = r.optimiser, r.training
    assert (opt.lr_g, opt.lr_d, opt.beta1, opt.beta2, opt.n_disc) == (1e-4, 4e-4, 0.0, 0.9, 1)
    assert (t.batch_size, t.steps, t.nproc) == (256, 1_000_000, 8)
    assert (r.arch.fields()["ch"], r.arch.fields()["z_dim"]) == (64, 128)
    assert r.objective.name == "hinge"
    assert run(preset, "sagan", "sn_gd_1to1").recipe.optimiser.lr_d == 1e-4
    assert r.evaluation.num_fake == 50000


def test_imagenet128_biggan() -> None:
    preset = "sagan_biggan_imagenet128.yaml"
    biggan = plan(preset).study("biggan")
    assert len(biggan.seeds) == 8  # Table 1 rows 5-9 are over 8 seeds
    batch = {v: run(preset, "biggan", v).recipe.training.batch_size for v in biggan.variants}
    assert batch == {
        "baseline": 256, "batch2": 512, "batch4": 1024, "batch8": 2048, "ch150": 2048,
        "shared": 2048, "skip_z": 2048, "ortho": 2048, "ch64_all": 2048,
    }  # fmt: skip
    ch = {v: run(preset, "biggan", v).recipe.arch.fields()["ch"] for v in biggan.variants}
    assert {v for v, c in ch.items() if c == 96} == {"ch150", "shared", "skip_z", "ortho"}
    r = run(preset, "biggan", "baseline").recipe
    opt, t = r.optimiser, r.training
    assert (opt.lr_g, opt.lr_d, opt.beta1, opt.beta2, opt.n_disc) == (5e-5, 2e-4, 0.0, 0.999, 2)
    assert (t.steps, t.ema_decay, t.ema_start, t.nproc) == (2_000_000, 0.9999, 40000, 8)
    assert r.arch.fields()["z_dim"] == 120
    assert r.arch.fields()["g_attention"] == r.arch.fields()["d_attention"] == (64,)
    assert run(preset, "biggan", "ortho").recipe.training.ortho_beta == 1e-4
    assert r.evaluation.num_fake == 50000
    # BigGAN-PyTorch scripts/launch_BigGAN_bs256x8.sh: --batch_size 256 over the GPUs,
    # --num_G_accumulations 8 --num_D_accumulations 8, --adam_eps 1e-6 --SN_eps 1e-6 --BN_eps 1e-5
    for v in biggan.variants:
        t = run(preset, "biggan", v).recipe.training
        assert t.batch_size // t.accumulate == 256, v  # per accumulation step, over the GPUs
        assert t.batch_size // (t.accumulate * t.nproc) == 32, v  # per GPU
    assert run(preset, "biggan", "ortho").recipe.training.accumulate == 8
    assert opt.eps == 1e-6
    assert (r.arch.fields()["bn_eps"], r.arch.fields()["sn_eps"]) == (1e-5, 1e-6)


# -- sagan_biggan_cifar10: the published reproductions' scale -----------------------------------


def test_cifar10_ablations() -> None:
    preset = "sagan_biggan_cifar10.yaml"
    for study in ("sagan", "biggan"):
        s = plan(preset).study(study)
        assert s.datasets == ("cifar10",)
        assert "cifar10_reproductions" in s.report.sections
    r = run(preset, "sagan", "baseline").recipe
    opt = r.optimiser
    assert (opt.lr_g, opt.lr_d, r.training.batch_size, r.training.steps) == (1e-4, 4e-4, 64, 100000)
    r = run(preset, "biggan", "baseline").recipe
    opt, t = r.optimiser, r.training
    assert (opt.lr_g, opt.lr_d, opt.beta2, opt.n_disc) == (2e-4, 2e-4, 0.999, 4)
    assert (t.batch_size, t.steps, t.ema_decay, t.ema_start) == (50, 500000, 0.9999, 4000)
    assert run(preset, "biggan", "batch4").recipe.training.batch_size == 200
    assert r.evaluation.num_fake == 10000


# -- losses_resnet: Kurach et al. 2019 style, SNGAN's ResNet and CIFAR-10 recipe ----------------


def test_losses_resnet_objectives_on_the_sngan_resnet() -> None:
    preset = "losses_resnet.yaml"
    losses = plan(preset).study("losses")
    assert losses.seeds == (0, 1, 2)
    pairs = {}
    for variant in losses.variants:
        r = run(preset, "losses", variant).recipe
        pairs[variant] = (r.objective.name, r.penalty.name)
        arch, opt = r.arch.fields(), r.optimiser
        assert r.arch.name == "resnet"
        assert arch["d_spectral_norm"] is True and arch["g_spectral_norm"] is False, variant
        assert arch["init"] == "xavier"
        assert (opt.lr_g, opt.lr_d, opt.beta1, opt.beta2, opt.n_disc) == (2e-4, 2e-4, 0.0, 0.9, 5)
    # every Lucic GAN whose D is a critic (not BEGAN's autoencoder, the VAE's encoder) + hinge
    critics = {k: v for k, v in LUCIC_MODELS.items() if k not in ("began", "vae")}
    assert pairs == {**critics, "hinge": ("hinge", "none")}
    assert recipe(preset, "losses", "wgan").objective.fields()["clip"] == 0.01


def off(studies: dict) -> dict:
    """Studies without their seeds and trial lists (what switches a study on)."""
    return {
        n: s.model_copy(update={"seeds": (), "search": s.search.model_copy(update={"trials": ()})})
        for n, s in studies.items()
    }


def test_ablations_cpu_is_the_default_with_every_row() -> None:
    """The default runs a subset of the ablations' rows; this preset runs every row, on the
    default's recipes and seeds."""
    default, preset = load_params(str(ROOT / "params.yaml")), plan("ablations_cpu.yaml")
    for name in ("sagan", "biggan"):
        ours, full = default.study(name), preset.study(name)
        assert set(ours.variants) < set(full.variants) and ours.seeds == full.seeds
        assert ours.recipe == full.recipe
        assert all(full.variants[v] == ours.variants[v] for v in ours.variants)
    assert not preset.study("lucic").seeds and not preset.study("losses").seeds


def test_losses_resnet_is_the_default_with_other_seeds() -> None:
    """The default params.yaml with only the losses study switched on."""
    default, preset = load_params(str(ROOT / "params.yaml")), plan("losses_resnet.yaml")
    assert off(preset.studies) == off(default.studies)
    assert preset.model_copy(update={"studies": {}}) == default.model_copy(update={"studies": {}})
