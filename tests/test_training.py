"""Training: evaluation points, the data order, latents, standing statistics, quantisation, and
the one Trainer's promises on the InfoGAN-style recipe of the loss comparison (unconditional, D on
real and fake in two forwards), for every objective and penalty: determinism, bit-exact resume,
a fresh start on a new config, divergence, the run directory's contents, the DVCLive curves; and
``train_run``, which clears a finished run. The ResNet recipe (labels, joint D, EMA, orthogonal
regularisation) is in test_ablation.py."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from ablation_helpers import LUCIC, assert_same_state, lucic_run, tiny_data
from torch import nn

from ganbench.errors import UserError
from ganbench.io import torch_save
from ganbench.losses import OBJECTIVES, PENALTIES
from ganbench.models.sampling import LATENTS, generate_uint8, standing_statistics, to_uint8
from ganbench.plan import RunSpec, build_networks
from ganbench.training import checkpoint as ckpt
from ganbench.training import data as data_module
from ganbench.training.data import BatchSampler
from ganbench.training.launch import train_run
from ganbench.training.loop import Trainer, TrainResult, checkpoint_steps

pytestmark = pytest.mark.usefixtures("one_thread")
CPU = torch.device("cpu")

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


def indices(sampler: BatchSampler, step: int) -> list[int]:
    x, _ = sampler.batch(step)
    return (x * 255).round().long().flatten().tolist()


def test_batch_order_is_a_pure_function_of_seed_and_step():
    images = indexed_images(64)
    walked = BatchSampler(images, 8, seed=3)
    seen = {step: indices(walked, step) for step in range(40)}
    assert indices(BatchSampler(images, 8, seed=3), 37) == seen[37]
    assert indices(walked, 2) == seen[2]  # going back to an earlier epoch
    assert indices(BatchSampler(images, 8, seed=4), 37) != seen[37]
    assert seen[5] == walked.indices(5).tolist()


def test_batches_cover_every_image_once_per_epoch():
    images = indexed_images(64)
    sampler = BatchSampler(images, 8, seed=0)
    epochs = []
    for epoch in range(3):
        order = [i for s in range(8 * epoch, 8 * epoch + 8) for i in indices(sampler, s)]
        assert sorted(order) == list(range(64))
        epochs.append(order)
    assert epochs[0] != epochs[1] != epochs[2]


def test_last_partial_batch_is_dropped():
    sampler = BatchSampler(indexed_images(20), 8, seed=0)
    assert sampler.per_epoch == 2
    epoch = indices(sampler, 0) + indices(sampler, 1)
    assert len(set(epoch)) == 16
    assert len(indices(sampler, 2)) == 8  # step 2 starts epoch 1


def test_batches_are_floats_in_unit_range_without_labels_unless_given():
    images = torch.tensor([0, 1, 128, 255], dtype=torch.uint8).reshape(4, 1, 1, 1)
    x, y = BatchSampler(images, 4, seed=0).batch(0)
    assert x.dtype == torch.float32 and y is None
    torch.testing.assert_close(
        x.flatten().sort().values, torch.tensor([0, 1, 128, 255]) / 255, rtol=0, atol=0
    )


def test_batches_in_minus_one_one_are_torchvision_normalize_of_to_tensor():
    """value_range (-1, 1): ToTensor (x / 255) then Normalize(mean 0.5, std 0.5), as
    BigGAN-PyTorch's loaders (utils.py get_data_loaders), to float32 rounding."""
    values = torch.arange(256, dtype=torch.uint8)
    x, _ = BatchSampler(values.reshape(256, 1, 1, 1), 256, seed=0, value_range=(-1.0, 1.0)).batch(0)
    expected = (values.float() / 255 - 0.5) / 0.5
    torch.testing.assert_close(x.flatten().sort().values, expected, rtol=0, atol=1.2e-7)
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0


def test_labels_follow_their_images():
    images, labels = tiny_data(n=64, classes=4, size=4)
    labels = (labels * 7 + torch.arange(64) // 4) % 10  # labels that tell images apart
    sampler = BatchSampler(images, 8, seed=5, labels=labels.to(torch.int32))
    for step in (0, 5, 11):
        idx = sampler.indices(step)
        x, y = sampler.batch(step)
        assert y.dtype == torch.int64 and torch.equal(y, labels[idx])
        torch.testing.assert_close(x, images[idx].float() / 255, rtol=0, atol=0)


def test_shards_partition_the_global_batch():
    images, labels = tiny_data(n=64, size=4)
    whole = BatchSampler(images, 8, seed=3, labels=labels)
    parts = [
        BatchSampler(images, 8, seed=3, labels=labels, rank=r, world=2) for r in (0, 1)
    ]  # fmt: skip
    for step in (0, 11):
        assert torch.equal(torch.cat([p.indices(step) for p in parts]), whole.indices(step))
        x, y = whole.batch(step)
        shares = [p.batch(step) for p in parts]
        assert torch.equal(torch.cat([s[0] for s in shares]), x)
        assert torch.equal(torch.cat([s[1] for s in shares]), y)


def test_prefetched_batches_equal_the_direct_ones_in_order_and_after_a_jump():
    """The background gathers (host-resident data of a GPU; forced here on the CPU) give every
    step the batch the direct path gives it: across epoch boundaries, after a jump forward
    (a resumed run) and back, with labels; ``close`` stops the threads."""
    images, labels = tiny_data(n=40, size=4)
    direct = BatchSampler(images, 8, seed=3, labels=labels, value_range=(-1.0, 1.0))
    ahead = BatchSampler(images, 8, seed=3, labels=labels, value_range=(-1.0, 1.0), prefetch=3)
    assert (direct.prefetch, ahead.prefetch) == (0, 3)
    for step in [*range(12), 30, 31, 2, 3]:  # 5 steps per epoch
        (x0, y0), (x1, y1) = direct.batch(step), ahead.batch(step)
        assert torch.equal(x0, x1) and torch.equal(y0, y1), step
        assert set(ahead._pending) == set(range(step + 1, step + 4))  # the next 3 in flight
    ahead.close()
    assert ahead._pool is None and not ahead._pending


def test_host_resident_data_of_a_gpu_is_prefetched_by_default(monkeypatch):
    """Only data that stays on the host of a GPU is gathered ahead; checked without a GPU by
    lowering the size threshold and asking for a device that is not the CPU."""
    monkeypatch.setattr(data_module, "HOST_IMAGES_ABOVE", 10)
    sampler = BatchSampler(indexed_images(64), 8, seed=0, device="meta")
    assert sampler.images.device.type == "cpu" and sampler.prefetch == data_module.PREFETCH
    sampler.close()
    assert BatchSampler(indexed_images(64), 8, seed=0).prefetch == 0  # on the CPU: gathered there


def test_bad_sampler_arguments_are_refused():
    with pytest.raises(ValueError, match="batch_size 9 exceeds the 8 images"):
        BatchSampler(indexed_images(8), 9, seed=0)
    with pytest.raises(ValueError, match="uint8"):
        BatchSampler(torch.zeros(8, 1, 2, 2), 4, seed=0)
    with pytest.raises(ValueError, match=r"labels must be \(8,\)"):
        BatchSampler(indexed_images(8), 4, seed=0, labels=torch.zeros(7))
    with pytest.raises(ValueError, match="split over 3"):
        BatchSampler(indexed_images(8), 8, seed=0, world=3)
    with pytest.raises(ValueError, match="rank 2"):
        BatchSampler(indexed_images(8), 8, seed=0, rank=2, world=2)


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
    assert LATENTS.names() == ["normal", "uniform"]
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


UNIT, SYMMETRIC = (0.0, 1.0), (-1.0, 1.0)


def test_to_uint8_rounds_to_nearest_and_clamps():
    k = torch.arange(256, dtype=torch.float32)
    assert torch.equal(to_uint8(k / 255, UNIT), k.to(torch.uint8))  # 8-bit values survive
    assert torch.equal(to_uint8((k[:-1] + 0.49) / 255, UNIT), k[:-1].to(torch.uint8))
    assert torch.equal(to_uint8((k[:-1] + 0.51) / 255, UNIT), (k[:-1] + 1).to(torch.uint8))
    # Exact halves: torch.round rounds half to even (as numpy.rint).
    halves = torch.tensor([0.5, 1.5, 2.5, 253.5]) / 255
    assert to_uint8(halves, UNIT).tolist() == [0, 2, 2, 254]
    outside = torch.tensor([-0.5, -1e-6, 1.0 + 1e-6, 7.0])
    assert to_uint8(outside, UNIT).tolist() == [0, 0, 255, 255]
    assert to_uint8(torch.tensor([0.5], dtype=torch.float64), UNIT).dtype == torch.uint8


def test_to_uint8_reads_images_in_minus_one_one_as_biggan_pytorch():
    """(x + 1) / 2 * 255 (BigGAN-PyTorch's de-normalisation): -1 -> 0, 0 -> 127.5 -> 128 (half to
    even), 1 -> 255; the sampler's scaling of every 8-bit value comes back unchanged."""
    x = torch.tensor([-1.0, -1.5, 0.0, 1.0, 1.2, 2 * 10.49 / 255 - 1])
    assert to_uint8(x, SYMMETRIC).tolist() == [0, 0, 128, 255, 255, 10]
    images = torch.arange(256, dtype=torch.uint8).reshape(256, 1, 1, 1)
    scaled, _ = BatchSampler(images, 256, seed=0, value_range=SYMMETRIC).batch(0)
    back = to_uint8(scaled, SYMMETRIC).flatten().sort().values
    assert torch.equal(back, torch.arange(256, dtype=torch.uint8))


def test_generate_uint8_yields_exactly_num_samples():
    G = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Unflatten(1, (1, 2, 2)))
    G.value_range = UNIT
    batches = list(generate_uint8(G, lambda n: torch.randn(n, 2), num_samples=10, batch_size=4))
    assert [b.shape[0] for b in batches] == [4, 4, 2]
    assert all(b.dtype == torch.uint8 and b.shape[1:] == (1, 2, 2) for b in batches)


# ---------------------------------------------------------------------------------------------
# The Trainer on the loss comparison's recipe (tests/ablation_helpers.py: LUCIC, 20 steps,
# n_disc 2, checkpoints every 5 steps, a snapshot every 5)

VARIANTS = list(LUCIC["variants"])


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return tiny_data(n=64, size=28)[0]


def train(spec: RunSpec, images: torch.Tensor, run_dir: Path, *, live_dir=None, **kw):
    trainer = Trainer(spec, images, None, run_dir, device=CPU, live_dir=live_dir)
    return trainer, trainer.run(progress=False, **kw)


def test_the_variants_cover_every_objective_and_penalty():
    specs = [lucic_run(v) for v in VARIANTS]
    assert {s.recipe.objective.name for s in specs} == set(OBJECTIVES.names())
    assert {s.recipe.penalty.name for s in specs} == set(PENALTIES.names())


def test_same_config_and_seed_give_bitwise_identical_runs(images, tmp_path):
    spec = lucic_run("ns")
    a, result_a = train(spec, images, tmp_path / "a")
    b, result_b = train(spec, images, tmp_path / "b")
    assert result_a == result_b
    assert_same_state(a.G.state_dict(), b.G.state_dict())
    assert_same_state(a.D.state_dict(), b.D.state_dict())
    assert (tmp_path / "a/log.csv").read_text() == (tmp_path / "b/log.csv").read_text()
    c, _ = train(lucic_run("ns", seed=1), images, tmp_path / "c")
    assert not torch.equal(a.G.fc[0].weight, c.G.fc[0].weight)


def test_the_recipe_reaches_the_trainer(images, tmp_path):
    spec = lucic_run("ns", optimiser={"lr_g": 1e-4, "lr_d": 3e-4, "beta1": 0.0, "beta2": 0.9})
    trainer = Trainer(spec, images, None, tmp_path, device=CPU)
    assert trainer.opt_g.param_groups[0]["lr"] == 1e-4
    assert trainer.opt_d.param_groups[0]["lr"] == 3e-4
    assert trainer.opt_g.param_groups[0]["betas"] == (0.0, 0.9)
    assert trainer.opt_d.param_groups[0]["betas"] == (0.0, 0.9)
    assert trainer.g_every == 2 and trainer.ema is None and trainer.sampler.labels is None
    keys = [sorted(trainer.train_step()) for _ in range(4)]
    assert keys == [["d_loss"], ["d_loss", "g_loss"]] * 2  # n_disc 2: G every other step
    vae = Trainer(lucic_run("vae"), images, None, tmp_path / "vae", device=CPU)
    assert vae.opt_d is None and vae.g_every == 1  # one optimizer: every step is a G step
    assert [sorted(vae.train_step()) for _ in range(2)] == [["g_loss"], ["g_loss"]]


def test_a_labelled_dataset_trains_unconditionally_when_the_recipe_says_so(images, tmp_path):
    """Labels passed in are dropped (num_classes 0): the same run as without them."""
    spec = lucic_run("ns", training={"steps": 5, "num_checkpoints": 1})
    labels = torch.arange(64) % 4
    with_labels = Trainer(spec, images, labels, tmp_path / "a", device=CPU)
    assert with_labels.sampler.labels is None
    with_labels.run(progress=False)
    without, _ = train(spec, images, tmp_path / "b")
    assert_same_state(with_labels.G.state_dict(), without.G.state_dict())


@pytest.mark.parametrize("variant", VARIANTS)
def test_interrupted_and_resumed_run_equals_uninterrupted(variant, images, tmp_path):
    spec = lucic_run(variant)
    full, _ = train(spec, images, tmp_path / "full")

    first, result = train(spec, images, tmp_path / "split", stop_after=5)
    assert result == TrainResult("interrupted", 5, None, [5])
    assert not (tmp_path / "split/status.json").exists()
    second, result = train(spec, images, tmp_path / "split")  # a new process, in effect
    assert result == TrainResult("ok", 20, None, [5, 10, 15, 20])

    assert_same_state(second.G.state_dict(), full.G.state_dict())
    assert_same_state(second.D.state_dict(), full.D.state_dict())
    assert_same_state(second.objective.state_dict(), full.objective.state_dict())
    assert_same_state(second.opt_g.state_dict()["state"][0], full.opt_g.state_dict()["state"][0])
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
    resume_a = torch.load(tmp_path / "full/resume.pt", weights_only=True)
    resume_b = torch.load(tmp_path / "split/resume.pt", weights_only=True)
    assert torch.equal(resume_a["rng"], resume_b["rng"])  # the same random stream from here
    if variant == "began":  # k is part of the run's state
        assert float(second.objective.k) != 0.0


def test_resume_in_several_pieces(images, tmp_path):
    spec = lucic_run("wgan_gp")
    full, _ = train(spec, images, tmp_path / "full")
    for _ in range(3):
        train(spec, images, tmp_path / "split", stop_after=5)
    last, result = train(spec, images, tmp_path / "split")
    assert result.steps_trained == 20
    assert_same_state(last.G.state_dict(), full.G.state_dict())
    assert_same_state(last.D.state_dict(), full.D.state_dict())


def test_a_changed_config_starts_fresh(images, tmp_path):
    old, new = lucic_run("ns"), lucic_run("ns", optimiser={"lr_g": 2e-4})
    train(old, images, tmp_path / "run", stop_after=10)
    assert (tmp_path / "run/resume.pt").exists()
    result = Trainer(new, images, None, tmp_path / "run", device=CPU).run(
        progress=False, stop_after=5
    )
    assert result.steps_trained == 5  # not 15: the old snapshot was not used
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "run")] == [5]  # old ones removed
    assert json.loads((tmp_path / "run/config.json").read_text()) == new.to_dict()
    resumed, _ = train(new, images, tmp_path / "run")
    fresh, _ = train(new, images, tmp_path / "fresh")
    assert_same_state(resumed.G.state_dict(), fresh.G.state_dict())


def test_a_change_outside_training_resumes(images, tmp_path):
    """Evaluation and figures do not decide the weights: the snapshot stays valid."""
    old = lucic_run("ns")
    new = lucic_run("ns", evaluation={"num_fake": 60}, figures={"grid_size": 4})
    train(old, images, tmp_path / "run", stop_after=10)
    _, result = train(new, images, tmp_path / "run", stop_after=5)
    assert result.steps_trained == 15
    full, _ = train(old, images, tmp_path / "full")
    resumed, _ = train(new, images, tmp_path / "run")
    assert_same_state(resumed.G.state_dict(), full.G.state_dict())


def test_an_unreadable_snapshot_starts_fresh(images, tmp_path):
    spec = lucic_run("ns", training={"steps": 10})
    (tmp_path / "run").mkdir()
    (tmp_path / "run/resume.pt").write_bytes(b"not a checkpoint")
    trainer, result = train(spec, images, tmp_path / "run")
    fresh, _ = train(spec, images, tmp_path / "fresh")
    assert result.status == "ok"
    assert_same_state(trainer.G.state_dict(), fresh.G.state_dict())


@pytest.mark.parametrize("which", ["d_loss", "g_loss"])
def test_divergence_stops_the_run(which, images, tmp_path, monkeypatch):
    spec = lucic_run(
        "ns",
        optimiser={"n_disc": 1},
        training={"steps": 40, "num_checkpoints": 8},  # checkpoints every 5 steps
    )
    trainer = Trainer(spec, images, None, tmp_path, device=CPU)
    original = getattr(trainer.objective, which)

    def nan_from_step_7(**kw):
        loss, logs = original(**kw)
        if trainer.step + 1 >= 7:  # trainer.step counts the steps already done
            loss = loss * float("nan")
            logs = {**logs, which: loss.detach()}
        return loss, logs

    monkeypatch.setattr(trainer.objective, which, nan_from_step_7)
    result = trainer.run(progress=False)
    assert result == TrainResult("diverged", 7, 7, [5])  # nothing saved after the NaN
    status = json.loads((tmp_path / "status.json").read_text())
    assert status == {
        "status": "diverged",
        "steps_trained": 7,
        "diverged_at_step": 7,
        "checkpoints": [5],
        "device": "cpu",
    }
    assert not (tmp_path / "resume.pt").exists()  # a diverged run is not resumed
    state = torch.load(ckpt.checkpoint_path(tmp_path, 5), weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in rows[1:]] == [5]  # the finite window only


def test_run_directory_contents(images, tmp_path):
    spec = lucic_run("wgan")
    trainer, result = train(spec, images, tmp_path)
    assert result == TrainResult("ok", 20, None, [5, 10, 15, 20])
    assert result.checkpoints == checkpoint_steps(20, 4)
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert names == ["checkpoints", "config.json", "log.csv", "resume.pt", "status.json"]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        f"step_{s:07d}.pt" for s in (5, 10, 15, 20)
    ]

    assert json.loads((tmp_path / "config.json").read_text()) == spec.to_dict()
    assert ckpt.read_config(tmp_path) == spec
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
    assert header == ["step", "d_loss", "g_loss"]
    rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    assert [int(r["step"]) for r in rows] == [5, 10, 15, 20]
    assert all(math.isfinite(float(r[k])) for r in rows for k in ("d_loss", "g_loss"))

    for step, path in ckpt.list_checkpoints(tmp_path):
        state = torch.load(path, weights_only=True)
        assert set(state) == {"config", "step", "G"}  # no EMA in this recipe
        assert state["step"] == step and state["config"] == spec.to_dict()
        assert ckpt.load_checkpoint(path)["step"] == step
    G, _ = build_networks(RunSpec.from_dict(torch.load(path, weights_only=True)["config"]))
    G.load_state_dict(torch.load(ckpt.checkpoint_path(tmp_path, 20), weights_only=True)["G"])
    assert_same_state(G.state_dict(), trainer.G.state_dict())
    resume = torch.load(tmp_path / "resume.pt", weights_only=True)
    assert resume["step"] == 20 and resume["config_key"] == spec.training_key()
    assert resume["world"] == 1 and resume["config"] == spec.to_dict()
    assert resume["history"] == trainer.history and len(trainer.history) == 4
    # the WGAN's clipping held after every D step
    assert max(float(p.detach().abs().max()) for p in trainer.D.parameters()) <= 0.01


def test_checkpoints_that_are_not_ours_are_refused(tmp_path):
    path = tmp_path / "step_0000005.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a readable ganbench checkpoint"):
        ckpt.load_checkpoint(path)
    torch_save(path, {"step": 5})
    with pytest.raises(UserError, match=r"lacks \['G', 'config'\]; re-run its train stage"):
        ckpt.load_checkpoint(path)


def test_a_finished_run_directory_resumes_at_its_end(images, tmp_path):
    """The Trainer on a finished run: the final snapshot, no step trained again."""
    spec = lucic_run("ns", training={"steps": 10})
    first, _ = train(spec, images, tmp_path)
    again, result = train(spec, images, tmp_path)
    assert result == TrainResult("ok", 10, None, checkpoint_steps(10, 4))
    assert_same_state(again.G.state_dict(), first.G.state_dict())
    assert again.history == first.history


def test_train_run_trains_a_finished_run_again_from_scratch(images, tmp_path, capsys):
    """DVC re-runs train only when code or params changed: a finished run must not be resumed;
    an interrupted one is."""
    spec = lucic_run("ns", training={"steps": 10})
    run = tmp_path / "run"
    train(spec, images, run, stop_after=5)
    capsys.readouterr()
    result = train_run(spec, images, None, run, device="cpu", progress=False)
    assert result == TrainResult("ok", 10, None, checkpoint_steps(10, 4))
    assert "resuming from step 5" in capsys.readouterr().out
    before = torch.load(ckpt.checkpoint_path(run, 10), weights_only=True)["G"]
    status = (run / "status.json").read_text()
    (run / "checkpoints" / "step_0000099.pt").write_bytes(b"stale")  # must not survive
    again = train_run(spec, images, None, run, device="cpu", progress=False)
    out = capsys.readouterr().out
    assert "holds a finished run; training again" in out and "resuming" not in out
    assert again == result
    assert [s for s, _ in ckpt.list_checkpoints(run)] == checkpoint_steps(10, 4)
    assert (run / "status.json").read_text() == status  # same seed: same run
    assert_same_state(before, torch.load(ckpt.checkpoint_path(run, 10), weights_only=True)["G"])


# ---------------------------------------------------------------------------------------------
# DVCLive: the training curves


def live_rows(live_dir: Path) -> dict[str, list[tuple[int, float]]]:
    plots = live_dir / "plots" / "metrics"
    out = {}
    for path in sorted(plots.glob("*.tsv")):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        out[path.stem] = [(int(r["step"]), float(r[path.stem])) for r in rows]
    return out


def test_dvclive_curves_are_the_logged_history(images, tmp_path):
    spec = lucic_run("dragan")
    trainer, _ = train(spec, images, tmp_path / "run", live_dir=tmp_path / "live")
    assert not (tmp_path / "run" / "live").exists()  # the curves live where they are told
    curves = live_rows(tmp_path / "live")
    assert set(curves) == {"d_loss", "g_loss", "penalty"}
    for key, rows in curves.items():
        assert rows == [(int(r["step"]), r[key]) for r in trainer.history]
    summary = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert summary == {**trainer.history[-1], "step": 20}


@pytest.mark.parametrize("damage", ["none", "extra_rows", "deleted"])
def test_dvclive_curves_are_rewritten_from_the_restored_history_on_resume(damage, images, tmp_path):
    spec = lucic_run("ns")
    train(spec, images, tmp_path / "full", live_dir=tmp_path / "live_full")
    live = tmp_path / "live"
    train(spec, images, tmp_path / "split", live_dir=live, stop_after=10)
    assert [s for s, _ in live_rows(live)["d_loss"]] == [5, 10]
    if damage == "extra_rows":  # rows of steps the resumed run trains again (a killed run)
        with open(live / "plots" / "metrics" / "d_loss.tsv", "a") as f:
            f.write("15\t999.0\n")
    elif damage == "deleted":
        shutil.rmtree(live)
    train(spec, images, tmp_path / "split", live_dir=live)
    assert live_rows(live) == live_rows(tmp_path / "live_full")
    assert (live / "metrics.json").read_text() == (tmp_path / "live_full/metrics.json").read_text()
