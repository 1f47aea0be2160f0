"""The one Trainer on the SAGAN/BigGAN ablations' recipe (tests/ablation_helpers.py: RESNET):
class-conditional ResNet, D on real and fake in one forward, TTUR with 2 D steps per G step, an
EMA of G from step 2, orthogonal regularisation. One real step for every switch of the
architecture and the recipe; labels; bit-exact resume with the EMA; divergence; the curves; and
the padded dataset the ablations train on. (Evaluation of such runs: test_evaluation.py.)"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from ablation_helpers import assert_same_state, resnet_run, tiny_data

from ganbench.data import DATASETS
from ganbench.io import torch_load
from ganbench.models.attention import SelfAttention
from ganbench.training import checkpoint as ckpt
from ganbench.training.loop import SHARED_EMBEDDING, Trainer, TrainResult
from ganbench.training.regularizers import orthogonal_regularization

pytestmark = pytest.mark.usefixtures("one_thread")
CPU = torch.device("cpu")


def trainer_for(spec, run_dir, **kw) -> Trainer:
    images, labels = tiny_data()
    return Trainer(spec, images, labels, run_dir, device=CPU, **kw)


# one real training step for every switch of the architecture and the training recipe
SWITCHES = {
    "baseline": {},
    "no_sn_g": {"arch": {"g_spectral_norm": False}},
    "no_sn": {"arch": {"g_spectral_norm": False, "d_spectral_norm": False}},
    "attention_8_16": {"arch": {"g_attention": [8, 16], "d_attention": [8]}},
    "attention_32": {"arch": {"g_attention": [32], "d_attention": [16]}},
    "residual": {"arch": {"g_attention": [16], "d_attention": [16], "attention_block": "residual"}},
    "unconditional": {"training": {"conditional": False}},
    "shared": {"arch": {"shared_embedding": True}},
    "skip_z": {"arch": {"shared_embedding": True, "skip_z": True}},
    "ch_x1.5": {"arch": {"ch": 3}},
    "init_normal": {"arch": {"init": "normal"}},
    "init_xavier": {"arch": {"init": "xavier"}},
    "no_ema_no_ortho": {"training": {"ema_decay": 0.0, "ortho_beta": 0.0}},
    "separate_d": {"training": {"d_forward": "separate"}},
    "ns_objective": {"objective": {"name": "ns"}},
    "wgan_gp": {"objective": {"name": "wgan"}, "penalty": {"name": "gp"}},
    "dragan_separate_d": {
        "objective": {"name": "ns"},
        "penalty": {"name": "dragan"},
        "training": {"d_forward": "separate"},
    },
    "bf16": {"training": {"precision": "bf16"}},
}


@pytest.mark.parametrize("name", list(SWITCHES))  # dragan_separate_d: saturated logits (~50)
def test_one_real_step_for_every_switch(name, tmp_path):
    spec = resnet_run("x", variants={"x": SWITCHES[name]})
    trainer = trainer_for(spec, tmp_path)
    g0 = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    d0 = {k: v.clone() for k, v in trainer.D.state_dict().items()}
    logs = [trainer.train_step() for _ in range(2)]
    assert all(torch.isfinite(v).all() for step in logs for v in step.values())
    assert sorted(logs[0]) == [
        "d_loss",
        *(["penalty"] if spec.recipe.penalty.name != "none" else []),
    ]
    assert {"d_loss", "g_loss"} <= set(logs[1])  # n_disc 2: the second step updates G
    assert any(not torch.equal(v, trainer.D.state_dict()[k]) for k, v in d0.items())
    assert any(not torch.equal(v, trainer.G.state_dict()[k]) for k, v in g0.items())
    assert ("ortho" in logs[1]) == bool(spec.recipe.training.ortho_beta)
    if "ortho" in logs[1]:
        assert float(logs[1]["ortho"]) > 0
    assert (trainer.ema is not None) == bool(spec.recipe.training.ema_decay)
    z = torch.randn(3, spec.z_dim)
    y = torch.tensor([0, 1, 2]) if spec.num_classes else None
    x = trainer.G(z, y)
    assert x.shape == (3, 1, 32, 32) and x.min() >= -1 and x.max() <= 1  # tanh
    assert trainer.D(x, y).shape == (3,)
    attention = [m for m in trainer.G.modules() if isinstance(m, SelfAttention)]
    g_attention = spec.recipe.arch.fields()["g_attention"]
    block = spec.recipe.arch.fields()["attention_block"]
    assert len(attention) == (len(g_attention) if block == "attention" else 0)


def test_the_recipe_reaches_the_trainer(tmp_path):
    spec = resnet_run(optimiser={"lr_g": 1e-4, "lr_d": 4e-4, "beta1": 0.0, "beta2": 0.9})
    trainer = trainer_for(spec, tmp_path)
    assert trainer.opt_g.param_groups[0]["lr"] == 1e-4  # TTUR: separate learning rates
    assert trainer.opt_d.param_groups[0]["lr"] == 4e-4
    assert trainer.opt_g.param_groups[0]["betas"] == (0.0, 0.9)
    assert (trainer.ema.decay, trainer.ema.start_step) == (0.9, 2)
    keys = [sorted(trainer.train_step()) for _ in range(4)]
    assert keys == [["d_loss"], ["d_loss", "g_loss", "ortho"]] * 2
    assert trainer.ema.num_updates == 2  # the EMA follows G's updates


def test_labels_reach_the_objective(tmp_path, monkeypatch):
    """Real images come with their labels; fake labels are uniform over the classes, fresh for
    the D step and for the G step; D sees real and fake in one forward, the real images in the
    ResNet G's range [-1, 1] (BigGAN-PyTorch's Normalize(0.5, 0.5))."""
    spec = resnet_run()
    images, labels = tiny_data()
    trainer = Trainer(spec, images, labels, tmp_path, device=CPU)
    calls = []
    for which in ("d_loss", "g_loss"):
        original = getattr(trainer.objective, which)

        def spy(_original=original, _which=which, **kw):
            calls.append((_which, kw))
            return _original(**kw)

        monkeypatch.setattr(trainer.objective, which, spy)
    for _ in range(4):
        trainer.train_step()
    assert [c[0] for c in calls] == ["d_loss", "d_loss", "g_loss"] * 2
    step_d = [kw for which, kw in calls if which == "d_loss"]
    for step, kw in enumerate(step_d):
        idx = trainer.sampler.indices(step)
        assert torch.equal(kw["y_real"], labels[idx])
        scaled = images[idx].float() / 255 * 2 - 1
        torch.testing.assert_close(kw["real"], scaled, rtol=0, atol=0)
        assert kw["real"].min() == -1 and kw["real"].max() == 1
        assert kw["joint"] is True
        assert kw["y_fake"].shape == (8,) and kw["y_fake"].dtype == torch.int64
        assert int(kw["y_fake"].min()) >= 0 and int(kw["y_fake"].max()) < 4
        assert kw["z"].shape == (8, spec.z_dim)
    fakes = [kw["y_fake"] for _, kw in calls]
    assert any(not torch.equal(fakes[0], f) for f in fakes[1:])  # fresh labels per step
    drawn = torch.cat(fakes)
    assert set(drawn.tolist()) == {0, 1, 2, 3}


def test_resnet_networks_check_their_labels(tmp_path):
    """A conditional G refuses to run without labels, an unconditional one with them."""
    spec = resnet_run()
    trainer = trainer_for(spec, tmp_path)
    with pytest.raises(ValueError, match="labels"):
        trainer.G(torch.randn(2, spec.z_dim), None)
    unconditional = resnet_run(training={"conditional": False})
    assert unconditional.num_classes == 0
    G = trainer_for(unconditional, tmp_path / "u").G
    with pytest.raises(ValueError, match="unconditional"):
        G(torch.randn(2, spec.z_dim), torch.tensor([0, 1]))


def test_orthogonal_regularisation_skips_the_shared_embedding(tmp_path):
    # normal init: an orthogonally initialised embedding would add 0 either way
    spec = resnet_run(
        arch={"shared_embedding": True, "init": "normal"}, training={"ortho_beta": 1e-3}
    )
    trainer = trainer_for(spec, tmp_path)
    trainer.train_step()  # D only
    G = trainer.G
    assert "shared.weight" in dict(G.named_parameters())
    with torch.no_grad():
        expected = orthogonal_regularization(G, beta=1e-3, exclude=(SHARED_EMBEDDING,))
        everything = orthogonal_regularization(G, beta=1e-3)
    assert float(everything) > float(expected) * 1.0001  # the embedding would count
    logs = trainer.train_step()  # D, then G with the penalty on G as it was
    assert float(logs["ortho"]) == pytest.approx(float(expected), rel=1e-6)


def test_same_seed_same_weights_and_resume_is_exact(tmp_path):
    spec = resnet_run("attention")
    straight = trainer_for(spec, tmp_path / "a")
    assert straight.run(progress=False) == TrainResult("ok", 6, None, [3, 6])
    again = trainer_for(spec, tmp_path / "c")
    again.run(progress=False)
    assert_same_state(straight.G.state_dict(), again.G.state_dict())
    first = trainer_for(spec, tmp_path / "b")
    assert first.run(progress=False, stop_after=3) == TrainResult("interrupted", 3, None, [3])
    resumed = trainer_for(spec, tmp_path / "b")
    assert resumed.run(progress=False) == TrainResult("ok", 6, None, [3, 6])
    a, b = torch_load(tmp_path / "a" / "resume.pt"), torch_load(tmp_path / "b" / "resume.pt")
    assert a.keys() == b.keys()
    for net in ("G", "D"):
        assert_same_state(a[net], b[net])
    for part in ("params", "buffers"):
        assert_same_state(a["ema"][part], b["ema"][part])
    assert a["ema"]["num_updates"] == b["ema"]["num_updates"] == 3
    for opt in ("opt_g", "opt_d"):
        for i, state in a[opt]["state"].items():
            assert_same_state(state, b[opt]["state"][i])
    assert torch.equal(a["rng"], b["rng"]) and a["history"] == b["history"]
    assert (tmp_path / "a/log.csv").read_text() == (tmp_path / "b/log.csv").read_text()
    # evaluation checkpoints hold the raw and the EMA generator, which differ; same in both runs
    for (_, pa), (_, pb) in zip(
        ckpt.list_checkpoints(tmp_path / "a"), ckpt.list_checkpoints(tmp_path / "b"), strict=True
    ):
        ca, cb = torch_load(pa), torch_load(pb)
        assert set(ca) == {"config", "step", "G", "G_ema"}
        assert_same_state(ca["G"], cb["G"])
        assert_same_state(ca["G_ema"], cb["G_ema"])
    name = "out_conv.parametrizations.weight.original"
    assert not torch.equal(ca["G"][name], ca["G_ema"][name])
    assert_same_state(ca["G_ema"], straight.ema.ema_model().state_dict())
    assert_same_state(ca["G"], straight.G.state_dict())


def test_bf16_autocast_trains_a_few_steps_on_cpu(tmp_path):
    spec = resnet_run(training={"precision": "bf16", "steps": 4, "num_checkpoints": 1})
    result = trainer_for(spec, tmp_path).run(progress=False)
    assert result == TrainResult("ok", 4, None, [4])


def test_divergence_is_recorded_as_diverged(tmp_path, monkeypatch):
    spec = resnet_run(training={"steps": 8, "num_checkpoints": 4, "resume_every": 2})
    trainer = trainer_for(spec, tmp_path)
    original = trainer.objective.g_loss

    def nan_from_step_4(**kw):
        loss, logs = original(**kw)
        if trainer.step + 1 >= 4:
            loss = loss * float("inf") * 0
            logs = {**logs, "g_loss": loss.detach()}
        return loss, logs

    monkeypatch.setattr(trainer.objective, "g_loss", nan_from_step_4)
    assert trainer.run(progress=False) == TrainResult("diverged", 4, 4, [2])
    status = json.loads((tmp_path / "status.json").read_text())
    assert (status["status"], status["diverged_at_step"], status["checkpoints"]) == (
        "diverged",
        4,
        [2],
    )
    assert not (tmp_path / "resume.pt").exists()


def test_the_curves_are_rewritten_on_resume(tmp_path):
    spec = resnet_run(training={"steps": 6, "resume_every": 2, "num_checkpoints": 1})
    full = trainer_for(spec, tmp_path / "a", live_dir=tmp_path / "la")
    full.run(progress=False)
    trainer_for(spec, tmp_path / "b", live_dir=tmp_path / "lb").run(progress=False, stop_after=4)
    with open(tmp_path / "lb/plots/metrics/ortho.tsv", "a") as f:
        f.write("6\t123.0\n")  # a row of a step the resumed run trains again
    trainer_for(spec, tmp_path / "b", live_dir=tmp_path / "lb").run(progress=False)
    for name in ("d_loss", "g_loss", "ortho"):
        a = (tmp_path / "la/plots/metrics" / f"{name}.tsv").read_text()
        b = (tmp_path / "lb/plots/metrics" / f"{name}.tsv").read_text()
        assert a == b
        rows = list(csv.DictReader(a.splitlines(), delimiter="\t"))
        assert [int(r["step"]) for r in rows] == [2, 4, 6]
        assert [float(r[name]) for r in rows] == [h[name] for h in full.history]


# -- the ablations' data ------------------------------------------------------------------------


def test_padded_dataset_source():
    source = DATASETS.get("shapes32")
    data = source.load(None, download_dir=None)
    assert data.x_train.shape[1:] == (1, 32, 32) == source.image_shape
    assert source.num_classes == DATASETS.get("shapes").num_classes == 4
    base = DATASETS.get("shapes").load(None, download_dir=None)
    assert np.array_equal(data.x_train[:, :, 2:-2, 2:-2], base.x_train)
    assert np.array_equal(data.x_test[:, :, 2:-2, 2:-2], base.x_test)
    assert data.x_train[:, :, :2].max() == 0 and data.x_train[:, :, :, -2:].max() == 0
    assert np.array_equal(data.y_train, base.y_train)
    assert data.name == "shapes32"


def test_noise_is_a_pure_function_of_seed_step_and_stream(tmp_path):
    """z and fake labels come from a generator on the device seeded by (seed, step, stream):
    the same for the same step whatever came before (so a resumed run draws them again), new
    for every step and for the D and the G step of one step, other with another seed."""
    spec = resnet_run()
    images, labels = tiny_data()
    a = Trainer(spec, images, labels, tmp_path / "a", device=CPU)
    b = Trainer(spec, images, labels, tmp_path / "b", device=CPU)
    draws = {}
    for step in range(3):
        a.step = step
        draws[step] = [a._fake_inputs(stream) for stream in (0, 1)]
        torch.rand(5)  # the global RNG moves (penalties, dropout): the noise does not
    b.step = 2
    for (za, ya), (zb, yb) in zip(draws[2], (b._fake_inputs(0), b._fake_inputs(1)), strict=True):
        assert torch.equal(za, zb) and torch.equal(ya, yb)
    flat = [z for step in draws.values() for z, _ in step]
    assert all(not torch.equal(p, q) for i, p in enumerate(flat) for q in flat[i + 1 :])
    other = Trainer(resnet_run(seed=1), images, labels, tmp_path / "c", device=CPU)
    other.step = 2
    assert not torch.equal(other._fake_inputs(0)[0], draws[2][0][0])
    z, y = draws[0][0]
    assert z.shape == (8, spec.z_dim) and y.dtype == torch.int64
    assert int(y.min()) >= 0 and int(y.max()) < spec.num_classes  # uniform over the classes
