"""Training: evaluation points, the data order, latents, standing statistics, quantisation, and
the Trainer's promises (determinism, bit-exact resume, fresh start on a new config, divergence,
the run directory's contents)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from ganbench.config import Hyperparameters, RunConfig, TrainConfig
from ganbench.losses import LOSSES
from ganbench.models import ARCHITECTURES
from ganbench.training import checkpoint as ckpt
from ganbench.training.data import BatchSampler
from ganbench.training.loop import Trainer, checkpoint_steps
from ganbench.training.sampling import LATENTS, generate_uint8, standing_statistics, to_uint8


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny networks gain nothing from threads, and on a busy 2-core machine OpenMP's spinning
    makes them 50x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------
# checkpoint_steps


@pytest.mark.parametrize(
    "steps, n, expected",
    [
        (1000, 4, [250, 500, 750, 1000]),
        (15625, 4, [3906, 7812, 11719, 15625]),
        (40, 8, [5, 10, 15, 20, 25, 30, 35, 40]),
        (10, 3, [3, 7, 10]),
        (7, 7, [1, 2, 3, 4, 5, 6, 7]),
        (5, 1, [5]),
    ],
)
def test_checkpoint_steps(steps, n, expected):
    assert checkpoint_steps(steps, n) == expected


# ---------------------------------------------------------------------------------------------
# BatchSampler


def indexed_images(n: int) -> torch.Tensor:
    """n one-pixel images whose value is their index, so a batch tells which images it holds."""
    return torch.arange(n, dtype=torch.uint8).reshape(n, 1, 1, 1)


def indices(batch: torch.Tensor) -> list[int]:
    return (batch * 255).round().long().flatten().tolist()


def test_batch_order_is_a_pure_function_of_seed_and_step():
    images = indexed_images(64)
    walked = BatchSampler(images, 8, seed=3)
    seen = {step: indices(walked.batch(step)) for step in range(40)}
    assert indices(BatchSampler(images, 8, seed=3).batch(37)) == seen[37]
    assert indices(walked.batch(2)) == seen[2]  # going back to an earlier epoch
    assert indices(BatchSampler(images, 8, seed=4).batch(37)) != seen[37]


def test_batches_cover_every_image_once_per_epoch():
    images = indexed_images(64)
    sampler = BatchSampler(images, 8, seed=0)
    epochs = []
    for epoch in range(3):
        order = [i for s in range(8 * epoch, 8 * epoch + 8) for i in indices(sampler.batch(s))]
        assert sorted(order) == list(range(64))
        epochs.append(order)
    assert epochs[0] != epochs[1] != epochs[2]


def test_last_partial_batch_is_dropped():
    sampler = BatchSampler(indexed_images(20), 8, seed=0)
    assert sampler.per_epoch == 2
    epoch = indices(sampler.batch(0)) + indices(sampler.batch(1))
    assert len(set(epoch)) == 16
    assert len(indices(sampler.batch(2))) == 8  # step 2 starts epoch 1


def test_batches_are_floats_in_unit_range():
    images = torch.tensor([0, 1, 128, 255], dtype=torch.uint8).reshape(4, 1, 1, 1)
    batch = BatchSampler(images, 4, seed=0).batch(0)
    assert batch.dtype == torch.float32
    torch.testing.assert_close(
        batch.flatten().sort().values, torch.tensor([0, 1, 128, 255]) / 255, rtol=0, atol=0
    )


def test_batch_size_larger_than_the_data_is_refused():
    with pytest.raises(ValueError, match="batch_size 9 exceeds the 8 images"):
        BatchSampler(indexed_images(8), 9, seed=0)
    with pytest.raises(ValueError, match="uint8"):
        BatchSampler(torch.zeros(8, 1, 2, 2), 4, seed=0)


# ---------------------------------------------------------------------------------------------
# Latents, standing statistics, quantisation


def test_latents():
    g = torch.Generator().manual_seed(0)
    u = LATENTS.get("uniform")(100_000, 4, generator=g)
    assert u.shape == (100_000, 4)
    assert float(u.min()) >= -1.0 and float(u.max()) < 1.0
    assert float(u.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(u.std()) == pytest.approx(1 / math.sqrt(3), rel=0.01)
    n = LATENTS.get("normal")(100_000, 4, generator=g)
    assert n.shape == (100_000, 4)
    assert float(n.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(n.std()) == pytest.approx(1.0, rel=0.01)
    for name in LATENTS.names():  # seeded draws repeat
        a = LATENTS.get(name)(3, 5, generator=torch.Generator().manual_seed(1))
        b = LATENTS.get(name)(3, 5, generator=torch.Generator().manual_seed(1))
        assert a.shape == (3, 5) and torch.equal(a, b)


def test_standing_statistics_are_the_exact_mean_of_batch_statistics():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, momentum=0.001, eps=0.001))
    bn = model[1]
    bn.running_mean.fill_(5.0)  # trained statistics that must not leak into the estimate
    batches = [torch.randn(6, 3) for _ in range(3)]
    feed = iter(batches)
    standing_statistics(model, lambda n: next(feed), batches=3, batch_size=6)

    with torch.no_grad():
        hidden = [model[0](b) for b in batches]
    expected_mean = sum(h.mean(0) for h in hidden) / 3
    expected_var = sum(h.var(0, unbiased=True) for h in hidden) / 3
    torch.testing.assert_close(bn.running_mean, expected_mean, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(bn.running_var, expected_var, rtol=1e-6, atol=1e-7)
    assert int(bn.num_batches_tracked) == 3
    assert bn.momentum == 0.001
    assert not model.training


def test_standing_statistics_with_zero_batches_keeps_the_trained_statistics():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    model[1].running_mean.fill_(5.0)
    standing_statistics(
        model, lambda n: pytest.fail("no batch may be drawn"), batches=0, batch_size=6
    )
    assert torch.equal(model[1].running_mean, torch.full((4,), 5.0))
    assert not model.training


def test_to_uint8_rounds_to_nearest_and_clamps():
    k = torch.arange(256, dtype=torch.float32)
    assert torch.equal(to_uint8(k / 255), k.to(torch.uint8))  # 8-bit values survive
    assert torch.equal(to_uint8((k[:-1] + 0.49) / 255), k[:-1].to(torch.uint8))
    assert torch.equal(to_uint8((k[:-1] + 0.51) / 255), (k[:-1] + 1).to(torch.uint8))
    # Exact halves: torch.round rounds half to even (as numpy.rint).
    halves = torch.tensor([0.5, 1.5, 2.5, 253.5]) / 255
    assert to_uint8(halves).tolist() == [0, 2, 2, 254]
    assert to_uint8(torch.tensor([-0.5, -1e-6, 1.0 + 1e-6, 7.0])).tolist() == [0, 0, 255, 255]
    assert to_uint8(torch.tensor([0.5], dtype=torch.float64)).dtype == torch.uint8


def test_generate_uint8_yields_exactly_num_samples():
    G = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Unflatten(1, (1, 2, 2)))
    batches = list(generate_uint8(G, lambda n: torch.randn(n, 2), num_samples=10, batch_size=4))
    assert [b.shape[0] for b in batches] == [4, 4, 2]
    assert all(b.dtype == torch.uint8 and b.shape[1:] == (1, 2, 2) for b in batches)


# ---------------------------------------------------------------------------------------------
# The Trainer

IMAGE_SHAPE = (1, 8, 8)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    g = torch.Generator().manual_seed(123)
    return torch.randint(0, 256, (64, *IMAGE_SHAPE), dtype=torch.uint8, generator=g)


def make_config(
    model: str = "ns", *, seed: int = 0, steps: int = 20, n_disc: int = 2, lr: float = 1e-3, **train
) -> RunConfig:
    hp = Hyperparameters(lr=lr, beta1=0.5, n_disc=n_disc, d_batchnorm=True)
    settings = dict(
        steps=steps,
        batch_size=8,
        width=0.125,
        z_dim=8,
        num_checkpoints=4,
        resume_every=5,
        device="cpu",
    )
    return RunConfig("test", "mnist", model, seed, hp, TrainConfig(**{**settings, **train}))


def train(cfg: RunConfig, images: torch.Tensor, run_dir: Path, **kw):
    trainer = Trainer(cfg, images, run_dir)
    return trainer, trainer.run(progress=False, **kw)


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_same_config_and_seed_give_bitwise_identical_runs(images, tmp_path):
    cfg = make_config("ns")
    a, result_a = train(cfg, images, tmp_path / "a")
    b, result_b = train(cfg, images, tmp_path / "b")
    assert result_a == result_b
    assert_same_state(a.G.state_dict(), b.G.state_dict())
    assert_same_state(a.D.state_dict(), b.D.state_dict())
    assert (tmp_path / "a/log.csv").read_text() == (tmp_path / "b/log.csv").read_text()
    c, _ = train(make_config("ns", seed=1), images, tmp_path / "c")
    assert not torch.equal(a.G.fc[0].weight, c.G.fc[0].weight)


@pytest.mark.parametrize("model", LOSSES.names())
def test_interrupted_and_resumed_run_equals_uninterrupted(model, images, tmp_path):
    cfg = make_config(model)
    full, _ = train(cfg, images, tmp_path / "full")

    first, result = train(cfg, images, tmp_path / "split", stop_after=5)
    assert result.status == "interrupted" and result.steps_trained == 5
    assert not (tmp_path / "split/status.json").exists()
    second, result = train(cfg, images, tmp_path / "split")  # a new process, in effect
    assert result.status == "ok" and result.steps_trained == 20

    assert_same_state(second.G.state_dict(), full.G.state_dict())
    assert_same_state(second.D.state_dict(), full.D.state_dict())
    assert_same_state(second.objective.state_dict(), full.objective.state_dict())
    assert (tmp_path / "split/log.csv").read_text() == (tmp_path / "full/log.csv").read_text()
    for (step_a, path_a), (step_b, path_b) in zip(
        ckpt.list_checkpoints(tmp_path / "full"),
        ckpt.list_checkpoints(tmp_path / "split"),
        strict=True,
    ):
        assert step_a == step_b
        assert_same_state(
            torch.load(path_a, weights_only=True)["G"], torch.load(path_b, weights_only=True)["G"]
        )


def test_resume_in_several_pieces(images, tmp_path):
    cfg = make_config("wgan_gp")
    full, _ = train(cfg, images, tmp_path / "full")
    for _ in range(3):
        train(cfg, images, tmp_path / "split", stop_after=5)
    last, result = train(cfg, images, tmp_path / "split")
    assert result.steps_trained == 20
    assert_same_state(last.G.state_dict(), full.G.state_dict())


def test_a_changed_config_starts_fresh(images, tmp_path):
    old, new = make_config("ns", lr=1e-3), make_config("ns", lr=2e-4)
    train(old, images, tmp_path / "run", stop_after=10)
    assert (tmp_path / "run/resume.pt").exists()
    trainer = Trainer(new, images, tmp_path / "run")
    result = trainer.run(progress=False, stop_after=5)
    assert result.steps_trained == 5  # not 15: the old snapshot was not used
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "run")] == [5]  # old ones removed
    assert json.loads((tmp_path / "run/config.json").read_text()) == new.to_dict()
    resumed, _ = train(new, images, tmp_path / "run")
    fresh, _ = train(new, images, tmp_path / "fresh")
    assert_same_state(resumed.G.state_dict(), fresh.G.state_dict())


def test_an_unreadable_snapshot_starts_fresh(images, tmp_path):
    cfg = make_config("ns", steps=10)
    (tmp_path / "run").mkdir()
    (tmp_path / "run/resume.pt").write_bytes(b"not a checkpoint")
    trainer, result = train(cfg, images, tmp_path / "run")
    fresh, _ = train(cfg, images, tmp_path / "fresh")
    assert result.status == "ok"
    assert_same_state(trainer.G.state_dict(), fresh.G.state_dict())


@pytest.mark.parametrize(
    "which",
    [
        "d_loss",
        "g_loss",
    ],
)
def test_divergence_stops_the_run(which, images, tmp_path, monkeypatch):
    cfg = make_config("ns", steps=40, n_disc=1, num_checkpoints=8)  # checkpoints every 5 steps
    trainer = Trainer(cfg, images, tmp_path)
    original = getattr(trainer.objective, which)

    def nan_from_step_7(**kw):
        loss, logs = original(**kw)
        if trainer.step + 1 >= 7:  # trainer.step counts the steps already done
            loss = loss * float("nan")
            logs = {**logs, which: loss.detach()}
        return loss, logs

    monkeypatch.setattr(trainer.objective, which, nan_from_step_7)
    result = trainer.run(progress=False)
    assert result.status == "diverged"
    assert result.diverged_at_step == 7
    assert result.checkpoints == [5]  # nothing saved after the NaN
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "diverged"
    assert status["diverged_at_step"] == 7
    assert status["steps_trained"] == 7
    assert status["checkpoints"] == [5]
    assert not (tmp_path / "resume.pt").exists()
    state = torch.load(ckpt.checkpoint_path(tmp_path, 5), weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())


def test_run_directory_contents(images, tmp_path):
    cfg = make_config("wgan", steps=20, n_disc=2, num_checkpoints=4)
    trainer, result = train(cfg, images, tmp_path)
    assert result.status == "ok" and result.steps_trained == 20
    assert result.diverged_at_step is None
    assert result.checkpoints == checkpoint_steps(20, 4) == [5, 10, 15, 20]
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert names == ["checkpoints", "config.json", "log.csv", "resume.pt", "status.json"]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        f"step_{s:07d}.pt" for s in (5, 10, 15, 20)
    ]

    assert json.loads((tmp_path / "config.json").read_text()) == cfg.to_dict()
    assert RunConfig.from_dict(json.loads((tmp_path / "config.json").read_text())) == cfg
    status = json.loads((tmp_path / "status.json").read_text())
    assert status == {
        "status": "ok",
        "steps_trained": 20,
        "diverged_at_step": None,
        "checkpoints": [5, 10, 15, 20],
        "device": "cpu",
    }

    lines = (tmp_path / "log.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[0] == "step" and {"d_loss", "g_loss"} <= set(header)
    rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    assert [int(r["step"]) for r in rows] == [5, 10, 15, 20]
    assert all(math.isfinite(float(r["d_loss"])) for r in rows)

    for step, path in ckpt.list_checkpoints(tmp_path):
        state = torch.load(path, weights_only=True)
        assert state["step"] == step
        assert state["config"] == cfg.to_dict()
        assert state["image_shape"] == list(IMAGE_SHAPE)
        assert ckpt.load_checkpoint(path)["step"] == step
    G, _ = ARCHITECTURES.get("infogan")(
        image_shape=IMAGE_SHAPE, z_dim=8, width=0.125, discriminator="critic", d_batchnorm=True
    )
    G.load_state_dict(torch.load(ckpt.checkpoint_path(tmp_path, 20), weights_only=True)["G"])
    assert_same_state(G.state_dict(), trainer.G.state_dict())
    resume = torch.load(tmp_path / "resume.pt", weights_only=True)
    assert resume["step"] == 20 and resume["config_key"] == ckpt.config_key(cfg)


def test_a_finished_run_is_not_trained_again(images, tmp_path):
    cfg = make_config("ns", steps=10)
    first, _ = train(cfg, images, tmp_path)
    again, result = train(cfg, images, tmp_path)
    assert result.status == "ok" and result.steps_trained == 10
    assert_same_state(again.G.state_dict(), first.G.state_dict())
    assert result.checkpoints == checkpoint_steps(10, 4)
