"""SAGAN/BigGAN ablation: params, the trainer's features, and the evaluation record."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ablation_helpers import tiny_data, tiny_params, tiny_run

from ganbench.config import ConfigError, load_params, resolve_ablation_run
from ganbench.data import DATASETS
from ganbench.io import torch_load
from ganbench.metrics.ablation import (
    LabelledGenerator,
    attention_maps,
    conditional_latent,
    evaluate_ablation_run,
)
from ganbench.metrics.classifier import FeatureCNN
from ganbench.metrics.evaluate import build_reference, seeded_latent
from ganbench.metrics.features import ClassifierExtractor
from ganbench.training.ablation import AblationTrainer, build_ablation_networks

pytestmark = pytest.mark.usefixtures("one_thread")

# one real training step for every switch of the architecture and the training recipe
SWITCHES = {
    "baseline": ({}, {}),
    "no_sn_g": ({"g_spectral_norm": False}, {}),
    "no_sn": ({"g_spectral_norm": False, "d_spectral_norm": False}, {}),
    "attention_8_16": ({"g_attention": [8, 16], "d_attention": [8]}, {}),
    "attention_32": ({"g_attention": [32], "d_attention": [16]}, {}),
    "residual": ({"g_attention": [16], "d_attention": [16], "attention_block": "residual"}, {}),
    "unconditional": ({}, {"conditional": False}),
    "shared": ({"shared_embedding": True}, {}),
    "skip_z": ({"shared_embedding": True, "skip_z": True}, {}),
    "ch_x1.5": ({"ch": 3}, {}),
    "init_normal": ({"init": "normal"}, {}),
    "ortho_ema_ndisc2": ({}, {"ortho_beta": 1e-4, "ema_decay": 0.9, "n_disc": 2}),
    "ns_loss": ({}, {"loss": "ns"}),
    "wgan_gp_loss": ({}, {"loss": "wgan_gp"}),
    "bf16": ({}, {"precision": "bf16"}),
}


@pytest.mark.parametrize("name", list(SWITCHES))
def test_one_real_step_for_every_switch(name, tmp_path):
    model, train = SWITCHES[name]
    cfg = tiny_run(model=model, train={**train, "steps": 2, "num_checkpoints": 1})
    images, labels = tiny_data()
    trainer = AblationTrainer(cfg, images, labels, tmp_path)
    g0 = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    d0 = {k: v.clone() for k, v in trainer.D.state_dict().items()}
    logs = [trainer.train_step() for _ in range(2)]
    assert all(torch.isfinite(v).all() for step in logs for v in step.values())
    assert "d_loss" in logs[0]
    assert any(not torch.equal(v, trainer.D.state_dict()[k]) for k, v in d0.items())
    g_changed = any(not torch.equal(v, trainer.G.state_dict()[k]) for k, v in g0.items())
    assert g_changed  # n_disc 2: the second step updates G
    if train.get("ortho_beta"):
        assert "ortho" in logs[1] and logs[1]["ortho"] > 0
    z = torch.randn(3, cfg.model["z_dim"])
    y = torch.tensor([0, 1, 2]) if cfg.model["num_classes"] else None
    x = trainer.G(z, y)
    assert x.shape == (3, 1, 32, 32) and x.min() >= 0 and x.max() <= 1
    assert trainer.D(x, y).shape == (3,)


def test_n_disc_updates_g_every_other_step(tmp_path):
    cfg = tiny_run(train={"n_disc": 2, "steps": 4})
    trainer = AblationTrainer(cfg, *tiny_data(), tmp_path)
    keys = [sorted(trainer.train_step()) for _ in range(4)]
    assert keys == [["d_loss"], ["d_loss", "g_loss"]] * 2


def test_ttur_learning_rates_and_betas(tmp_path):
    cfg = tiny_run(train={"lr_g": 1e-4, "lr_d": 4e-4, "beta1": 0.0, "beta2": 0.9})
    trainer = AblationTrainer(cfg, *tiny_data(), tmp_path)
    assert trainer.opt_g.param_groups[0]["lr"] == 1e-4
    assert trainer.opt_d.param_groups[0]["lr"] == 4e-4
    assert trainer.opt_g.param_groups[0]["betas"] == (0.0, 0.9)


def test_same_seed_same_weights_and_resume_is_exact(tmp_path):
    cfg = tiny_run(train={"ema_decay": 0.9, "ema_start": 2, "steps": 6, "resume_every": 3})
    images, labels = tiny_data()
    straight = AblationTrainer(cfg, images, labels, tmp_path / "a")
    straight.run(progress=False)
    AblationTrainer(cfg, images, labels, tmp_path / "b").run(progress=False, stop_after=3)
    resumed = AblationTrainer(cfg, images, labels, tmp_path / "b")
    resumed.run(progress=False)
    a, b = torch_load(tmp_path / "a" / "resume.pt"), torch_load(tmp_path / "b" / "resume.pt")
    for net in ("G", "D"):
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k}"
    for k in a["ema"]["params"]:
        assert torch.equal(a["ema"]["params"][k], b["ema"]["params"][k])
    # evaluation checkpoints hold the raw and the EMA generator, which differ
    ck = torch_load(sorted((tmp_path / "a" / "checkpoints").iterdir())[-1])
    assert set(ck) >= {"G", "G_ema", "config", "step"}
    name = "out_conv.parametrizations.weight.original"
    assert not torch.equal(ck["G"][name], ck["G_ema"][name])


def test_bf16_autocast_trains_a_few_steps_on_cpu(tmp_path):
    cfg = tiny_run(train={"precision": "bf16", "steps": 4, "num_checkpoints": 1})
    result = AblationTrainer(cfg, *tiny_data(), tmp_path).run(progress=False)
    assert result.status == "ok" and result.steps_trained == 4


def test_sampler_labels_follow_images(tmp_path):
    cfg = tiny_run()
    images, labels = tiny_data()
    trainer = AblationTrainer(cfg, images, labels, tmp_path)
    idx = trainer.sampler.indices(5)
    x, y = trainer.sampler.labelled_batch(5)
    assert torch.equal(y, labels[idx])
    torch.testing.assert_close(x, images[idx].float() / 255)


def test_sampler_shards_partition_the_global_batch():
    from ganbench.training.data import BatchSampler

    images, labels = tiny_data()
    whole = BatchSampler(images, 8, seed=3, labels=labels).indices(11)
    parts = [
        BatchSampler(images, 8, seed=3, labels=labels, rank=r, world=2).indices(11) for r in (0, 1)
    ]
    assert torch.equal(torch.cat(parts), whole)
    with pytest.raises(ValueError, match="split over 3"):
        BatchSampler(images, 8, seed=3, world=3)


# -- params ------------------------------------------------------------------------------------
def test_variant_overrides_and_data_derived_fields():
    params = tiny_params(
        variants={"baseline": {}, "attn": {"model": {"g_attention": [16]}, "train": {"lr_d": 1e-3}}}
    )
    cfg = resolve_ablation_run(params, "sagan", "attn", 1)
    assert cfg.name == "sagan-shapes32-attn-1"
    assert cfg.model["g_attention"] == (16,) and cfg.train.lr_d == 1e-3
    assert cfg.model["resolution"] == 32 and cfg.model["num_classes"] == 4
    assert cfg.model["image_channels"] == 1


@pytest.mark.parametrize(
    ("variants", "key"),
    [
        ({"baseline": {"model": {"resolution": 64}}}, "sagan.variants.baseline.model.resolution"),
        (
            {"baseline": {"model": {"g_attention": [5]}}},
            "sagan.variants.baseline.model.g_attention",
        ),
        ({"baseline": {"model": {"colour": 1}}}, "sagan.variants.baseline.model.colour"),
        ({"baseline": {"train": {"lr_g": -1}}}, "sagan.variants.baseline.train.lr_g"),
        ({"baseline": {"train": {"loss": "vae"}}}, "sagan.variants.baseline.train.loss"),
        ({"baseline": {"paper_rows": ["row_99"]}}, "sagan.variants.baseline.paper_rows"),
        ({"Bad-Name": {}}, "sagan.variants"),
        ({"other": {}}, "sagan.baseline"),
    ],
)
def test_bad_params_name_the_key(variants, key):
    with pytest.raises(ConfigError) as err:
        tiny_params(variants=variants)
    assert err.value.key == key


def test_penalty_losses_refused_with_several_processes():
    with pytest.raises(ConfigError, match="nproc > 1"):
        tiny_params(train={"nproc": 2, "loss": "wgan_gp"})
    tiny_params(train={"nproc": 2, "loss": "hinge"})


def test_default_params_resolve_every_row():
    params = load_params("params.yaml")
    for name in ("sagan", "biggan"):
        study = params.study(name)
        assert study.dataset == "fashion_mnist32"
        assert len(study.seeds) >= 2
        for variant in study.variants:
            resolve_ablation_run(params, name, variant, study.seeds[0])
    # BigGAN rows 5-8 use channels x1.5 and batch x4 of the baseline
    b = params.biggan
    base = resolve_ablation_run(params, "biggan", "baseline", 0)
    ortho = resolve_ablation_run(params, "biggan", "ortho", 0)
    assert ortho.model["ch"] == 1.5 * base.model["ch"]
    assert ortho.train.batch_size == 4 * base.train.batch_size and ortho.train.ortho_beta == 1e-4
    assert b.baseline == "baseline"


def test_padded_dataset_source(tmp_path):
    source = DATASETS.get("shapes32")
    data = source.load(None, download_dir=None)
    assert data.x_train.shape[1:] == (1, 32, 32) == source.image_shape
    base = DATASETS.get("shapes").load(None, download_dir=None)
    assert np.array_equal(data.x_train[:, :, 2:-2, 2:-2], base.x_train)
    assert data.x_train[:, :, :2].max() == 0 and data.x_train[:, :, :, -2:].max() == 0
    assert np.array_equal(data.y_train, base.y_train)


# -- evaluation --------------------------------------------------------------------------------
def test_conditional_latent_labels_balanced_and_batch_independent():
    def draw(batch):
        sample = seeded_latent(conditional_latent(4, None), 5, seed=9, device="cpu")
        return torch.cat([sample(min(batch, 12 - i)) for i in range(0, 12, batch)])

    a, b = draw(12), draw(5)
    assert torch.equal(a, b)
    assert a[:, -1].tolist() == [i % 4 for i in range(12)]
    truncated = seeded_latent(conditional_latent(4, 0.5), 5, seed=9, device="cpu")(50)
    assert truncated[:, :-1].abs().max() <= 0.5


def _tiny_extractor_and_reference(images):
    torch.manual_seed(0)
    net = FeatureCNN(1, 4, width=4, feature_dim=8).eval()
    extractor = ClassifierExtractor(net, weights_sha256="0" * 64, device="cpu")
    reference = build_reference(
        extractor,
        images.numpy(),
        batch_size=32,
        meta={"dataset": "shapes32", "split": "test", "extractor_label": "tiny"},
    )
    return extractor, reference


def test_evaluate_record_figures_and_truncation(tmp_path):
    images, labels = tiny_data()
    cfg = tiny_run(
        model={"g_attention": [16]},
        train={"ema_decay": 0.5, "steps": 4, "num_checkpoints": 2},
    )
    AblationTrainer(cfg, images, labels, tmp_path / "run").run(progress=False)
    extractor, reference = _tiny_extractor_and_reference(images)
    ev = tiny_params().sagan.evaluate
    ev = dataclasses.replace(ev, truncation=(1.0, 2.0), grid_truncation=(0.5,))
    record = evaluate_ablation_run(
        tmp_path / "run",
        extractor=extractor,
        reference=reference,
        cfg=ev,
        device=torch.device("cpu"),
        out_dir=tmp_path / "ev",
        label="lbl",
        paper_rows=("attention_16",),
    )
    json.dumps(record)  # serialisable
    assert record["generator"] == "ema" and record["status"] == "ok"
    assert [c["step"] for c in record["checkpoints"]] == [2, 4]
    for c in record["checkpoints"]:
        assert c["raw"]["status"] == "ok" and c["ema"]["status"] == "ok"
        assert c["raw"]["fid"] != c["ema"]["fid"]
    best = min(record["checkpoints"], key=lambda c: c["ema"]["fid"])
    assert record["best"]["step"] == best["step"] and record["best"]["fid"] == best["ema"]["fid"]
    assert [t["psi"] for t in record["truncation"]] == [None, 2.0, 1.0]
    assert record["truncation"][0]["fid"] == pytest.approx(
        record["best"]["fid"], rel=1e-3, abs=1e-8
    )
    assert set(record["grids"]) == {"none", "0.5"}
    for path in [*record["grids"].values(), record["attention_figure"]]:
        assert Path(path).parent == tmp_path / "ev" and Path(path).suffix == ".png"
        assert Path(path).is_file()
    from PIL import Image

    grid = Image.open(record["grids"]["none"])
    assert grid.size == (2 + 3 * 34, 2 + 4 * 34)  # 3 columns, a row per class
    assert record["params"]["G"] > 0 and record["paper_rows"] == ["attention_16"]


def test_attention_maps_rows_sum_to_one(tmp_path):
    cfg = tiny_run(model={"g_attention": [16]})
    trainer = AblationTrainer(cfg, *tiny_data(), tmp_path)
    ev = tiny_params().sagan.evaluate
    image, maps, pixels, size = attention_maps(trainer.G.eval(), cfg, ev, torch.device("cpu"))
    assert size == 16 and image.shape == (1, 32, 32) and image.dtype == torch.uint8
    assert maps.shape == (ev.attention_queries, 32, 32)
    # nearest upsampling of an (8 x 8) softmax over keys: each 4x4 block holds one weight
    torch.testing.assert_close(maps.sum(dim=(1, 2)) / 16, torch.ones(len(pixels)))
    block = [m for m in trainer.G.modules() if type(m).__name__ == "SelfAttention"][0]
    assert block.last_attention is None and not block.record_attention


def test_labelled_generator_routes_labels():
    cfg = tiny_run()
    trainer_G, _ = build_ablation_networks(cfg)
    trainer_G.eval()
    z = torch.randn(4, cfg.model["z_dim"])
    y = torch.tensor([0, 1, 2, 3])
    out = LabelledGenerator(trainer_G)(torch.cat([z, y[:, None].float()], dim=1))
    torch.testing.assert_close(out, trainer_G(z, y))


@pytest.mark.parametrize("preset", sorted(p.name for p in Path("configs").glob("*.yaml")))
def test_every_preset_is_a_complete_params_file(preset):
    """dvc.yaml reads datasets, lucic, sagan and biggan from whichever params.yaml is in place."""
    params = load_params(f"configs/{preset}")
    assert params.datasets and params.sagan is not None and params.biggan is not None
    for name in ("sagan", "biggan"):
        study = params.study(name)
        assert study.dataset in params.datasets
        for variant in study.variants:
            resolve_ablation_run(params, name, variant, study.seeds[0])
