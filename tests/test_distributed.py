"""Data-parallel training on CPU: 2 gloo processes train the model 1 process trains, through the
one Trainer (rank, world, a DDP wrapper) and through ``train_run`` under torchrun's environment.
The run is the ablations' ResNet recipe (tests/ablation_helpers.py: class-conditional, joint D,
TTUR, n_disc 2, EMA, orthogonal regularisation) with attention in G and D.

Tolerance: after 6 steps (3 resumable + 3) the parameters of G, D and G's EMA agree with the
single-process run to ``atol = rtol = 1e-4`` (float32; the two differ only in the order of
floating-point sums: all-reduced gradients and global BatchNorm statistics).
"""

from __future__ import annotations

import copy
import os
import socket
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from ablation_helpers import resnet_run, tiny_data

from ganbench.io import read_json, torch_load
from ganbench.plan import RunSpec, build_networks
from ganbench.training.distributed import GlobalBatchNorm2d, convert_batchnorm, ddp_wrapper
from ganbench.training.launch import train_run
from ganbench.training.loop import Trainer, TrainResult

pytestmark = pytest.mark.usefixtures("one_thread")
TOL = dict(atol=1e-4, rtol=1e-4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _join(rank: int, world: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)


def _bn_worker(rank: int, world: int, port: int, out: str, offset: float = 0.0) -> None:
    _join(rank, world, port)
    try:
        torch.manual_seed(0)
        x = torch.randn(8, 3, 4, 4) + offset
        w = torch.randn(8, 3, 4, 4)
        bn = GlobalBatchNorm2d(3)
        with torch.no_grad():
            bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
            bn.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
        share = slice(rank * 4, rank * 4 + 4)
        xs = x[share].clone().requires_grad_(True)
        (bn(xs) * w[share]).sum().backward()
        result = {
            "y": bn(xs).detach(),
            "grad": xs.grad,
            "running_var": bn.running_var.clone(),
            "weight_grad": bn.weight.grad,
        }
        torch.save(result, f"{out}/bn{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_global_batchnorm_matches_batchnorm_on_the_whole_batch(tmp_path, offset):
    """Also with a mean 1000x the spread: E[x^2] - E[x]^2 in float32 would be off by ~0.06 of
    the variance there (y by ~3%); the two-pass variance is as accurate as torch's own BN."""
    port = _free_port()
    mp.spawn(_bn_worker, args=(2, port, str(tmp_path), offset), nprocs=2, join=True)
    torch.manual_seed(0)
    x = (torch.randn(8, 3, 4, 4) + offset).requires_grad_(True)
    w = torch.randn(8, 3, 4, 4)
    bn = torch.nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    (bn(x) * w).sum().backward()
    y_ref = bn(x).detach()  # second training-mode call, as in the workers
    parts = [torch.load(tmp_path / f"bn{r}.pt", weights_only=True) for r in (0, 1)]
    # at offset 1000 float32 holds x to ~6e-5: both means are that far apart (the old one-pass
    # variance put y off by up to 0.12 on these numbers)
    tol = dict(atol=1e-5, rtol=1e-5) if offset == 0 else dict(atol=5e-4, rtol=0)
    torch.testing.assert_close(torch.cat([p["y"] for p in parts]), y_ref, **tol)
    torch.testing.assert_close(torch.cat([p["grad"] for p in parts]), x.grad, **tol)
    torch.testing.assert_close(parts[0]["running_var"], bn.running_var, atol=1e-6, rtol=1e-5)
    # no DDP here: each rank's weight gradient is its share's; together they make the total
    total = parts[0]["weight_grad"] + parts[1]["weight_grad"]
    torch.testing.assert_close(total, bn.weight.grad, atol=1e-5, rtol=1e-5)


def test_on_cuda_the_conversion_is_torchs_sync_batchnorm():
    """SyncBatchNorm runs on CUDA only; converted here on the CPU: same state, and outside a
    process group (or in eval mode) the same output as the plain BatchNorm it replaced."""
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 1), torch.nn.BatchNorm2d(3, eps=1e-4))
    net(torch.randn(4, 1, 2, 2))
    ref = copy.deepcopy(net)
    convert_batchnorm(net, cuda=True)
    assert type(net[1]) is torch.nn.SyncBatchNorm and net[1].eps == 1e-4
    assert net.state_dict().keys() == ref.state_dict().keys()
    for k, v in net.state_dict().items():
        assert torch.equal(v, ref.state_dict()[k])
    x = torch.randn(4, 1, 2, 2)
    torch.testing.assert_close(net(x), ref(x), rtol=0, atol=1e-6)
    net.eval(), ref.eval()
    torch.testing.assert_close(net(x), ref(x), rtol=0, atol=1e-6)


def test_convert_batchnorm_keeps_state_and_outside_a_group_is_plain():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 1), torch.nn.BatchNorm2d(3))
    net(torch.randn(4, 1, 2, 2))  # move the running stats
    state = {k: v.clone() for k, v in net.state_dict().items()}
    convert_batchnorm(net)
    assert type(net[1]) is GlobalBatchNorm2d
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, state[k])
    x = torch.randn(4, 1, 2, 2)
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 1), torch.nn.BatchNorm2d(3))
    ref.load_state_dict(state)
    torch.testing.assert_close(net(x), ref(x))


SPEC = dict(variant="attention")  # G attention at 16x16, D at 8x8


def _train_worker(rank: int, world: int, port: int, run_dir: str, stop_after) -> None:
    _join(rank, world, port)
    try:
        images, labels = tiny_data()
        trainer = Trainer(
            resnet_run(**SPEC),
            images,
            labels,
            run_dir,
            device=torch.device("cpu"),
            rank=rank,
            world=world,
            wrap=ddp_wrapper(torch.device("cpu")),
        )
        trainer.run(progress=False, stop_after=stop_after)
    finally:
        dist.destroy_process_group()


def _launch_worker(rank: int, world: int, port: int, out: str) -> None:
    """A torchrun worker: the environment torchrun sets, then the train stage's call."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
    )
    torch.set_num_threads(1)
    images, labels = tiny_data()
    spec = resnet_run(**SPEC, training={"nproc": world})
    result = train_run(
        spec, images, labels, f"{out}/run", device="cpu", live_dir=f"{out}/live", progress=False
    )
    torch.save({"result": None if result is None else asdict(result)}, f"{out}/r{rank}.pt")
    assert not dist.is_initialized()  # train_run leaves no process group behind


def _single(run_dir, stop_after=None) -> Trainer:
    images, labels = tiny_data()
    trainer = Trainer(resnet_run(**SPEC), images, labels, run_dir, device=torch.device("cpu"))
    trainer.run(progress=False, stop_after=stop_after)
    return trainer


def _assert_same_state(a: dict, b: dict) -> None:
    """Same D parameters; same G function and G parameters (and EMA of G), except the biases of
    convolutions that feed a BatchNorm and the running means: BN cancels those biases, so their
    gradients are rounding noise, which Adam's normalisation turns into steps of size ~lr. They
    change no output (checked on G's train-mode output, where the next BN removes them)."""
    assert a["step"] == b["step"]
    for k in a["D"]:
        torch.testing.assert_close(a["D"][k].float(), b["D"][k].float(), **TOL, msg=f"D.{k}")

    def cancelled(k: str) -> bool:
        return (k.endswith(".bias") and not k.startswith("out_conv")) or k.endswith("running_mean")

    assert a["G"].keys() == b["G"].keys()
    for k in a["G"]:
        if not cancelled(k):
            torch.testing.assert_close(a["G"][k].float(), b["G"][k].float(), **TOL, msg=f"G.{k}")
    for k in a["ema"]["params"]:
        if not cancelled(k):
            torch.testing.assert_close(
                a["ema"]["params"][k], b["ema"]["params"][k], **TOL, msg=f"ema.{k}"
            )
    spec = RunSpec.from_dict(a["config"])
    outputs = []
    for state in (a, b):
        G, _ = build_networks(spec)
        G.load_state_dict(state["G"])
        g = torch.Generator().manual_seed(5)
        z, y = torch.randn(16, spec.z_dim, generator=g), torch.arange(16) % 4
        outputs.append(G(z, y).detach())  # train mode: batch statistics
    torch.testing.assert_close(outputs[0], outputs[1], **TOL)


def _assert_same_log(one: Path, two: Path) -> None:
    """The logged losses are the global-batch means, as one process logs them."""
    log_one = (one / "log.csv").read_text().splitlines()
    log_two = (two / "log.csv").read_text().splitlines()
    assert log_one[0] == log_two[0] and len(log_one) == len(log_two)
    for a, b in zip(log_one[1:], log_two[1:], strict=True):
        for x, y in zip(a.split(","), b.split(","), strict=True):
            assert float(x) == pytest.approx(float(y), rel=1e-3, abs=1e-4)


def test_two_processes_train_the_same_model_as_one(tmp_path):
    _single(tmp_path / "one")
    port = _free_port()
    mp.spawn(_train_worker, args=(2, port, str(tmp_path / "two"), None), nprocs=2, join=True)
    two = torch_load(tmp_path / "two" / "resume.pt")
    one = torch_load(tmp_path / "one" / "resume.pt")
    assert two["world"] == 2 and one["world"] == 1
    _assert_same_state(one, two)
    # rank 0 alone wrote the outputs, and they are complete
    files = sorted(p.name for p in (tmp_path / "two").iterdir())
    assert files == ["checkpoints", "config.json", "log.csv", "resume.pt", "status.json"]
    assert len(list((tmp_path / "two" / "checkpoints").iterdir())) == 2
    _assert_same_log(tmp_path / "one", tmp_path / "two")


def test_resume_across_world_sizes(tmp_path):
    """3 steps on 2 processes, then 3 more on 1 process = 6 steps on 1 process."""
    port = _free_port()
    run_dir = tmp_path / "mixed"
    mp.spawn(_train_worker, args=(2, port, str(run_dir), 3), nprocs=2, join=True)
    assert torch_load(run_dir / "resume.pt")["step"] == 3
    resumed = _single(run_dir)
    assert resumed.step == 6 and read_json(run_dir / "status.json")["status"] == "ok"
    _single(tmp_path / "straight")
    _assert_same_state(
        torch_load(tmp_path / "straight" / "resume.pt"), torch_load(run_dir / "resume.pt")
    )


def test_train_run_under_torchrun_trains_the_model_one_process_trains(tmp_path):
    """``training.nproc: 2`` and torchrun's environment: train_run joins the group, wraps the
    networks in DDP, rank 0 writes the run and the curves and returns the result."""
    port = _free_port()
    mp.spawn(_launch_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    results = [torch.load(tmp_path / f"r{r}.pt", weights_only=True)["result"] for r in (0, 1)]
    assert results[0] == asdict(TrainResult("ok", 6, None, [3, 6]))
    assert results[1] is None  # only rank 0 reports
    run = tmp_path / "run"
    two = torch_load(run / "resume.pt")
    assert two["world"] == 2 and RunSpec.from_dict(two["config"]).recipe.training.nproc == 2
    one = _single(tmp_path / "one")
    _assert_same_state(torch_load(tmp_path / "one" / "resume.pt"), two)
    _assert_same_log(tmp_path / "one", run)
    assert read_json(run / "status.json")["status"] == "ok"
    curves = sorted(p.name for p in (tmp_path / "live" / "plots" / "metrics").iterdir())
    assert curves == ["d_loss.tsv", "g_loss.tsv", "ortho.tsv"]
    d_loss = (tmp_path / "live" / "plots" / "metrics" / "d_loss.tsv").read_text().splitlines()
    assert [int(line.split("\t")[0]) for line in d_loss[1:]] == [r["step"] for r in one.history]
