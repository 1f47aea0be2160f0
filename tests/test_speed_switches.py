"""The pipeline's speed switches (issue 11): each is off by default and, on the CPU, gives the
run it switches on (channels-last, torch.compile) to float rounding; compile is refused with a
penalty; the CUDA backend flags are set as asked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from ablation_helpers import resnet_run, tiny_data

from ganbench.config import load_params
from ganbench.errors import ConfigError
from ganbench.plan import load_plan
from ganbench.runtime import set_backends
from ganbench.training.loop import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = Path(__file__).resolve().parents[1]


def steps(tmp_path, name: str, n: int = 3, **switches) -> Trainer:
    images, labels = tiny_data()
    spec = resnet_run("baseline", training={"ortho_beta": 1e-4})
    trainer = Trainer(spec, images, labels, tmp_path / name, device=torch.device("cpu"), **switches)
    for _ in range(n):
        trainer.train_step()
    return trainer


def assert_same_run(a: Trainer, b: Trainer, tol: float) -> None:
    """Equal weights (every >= 2-D parameter) and equal outputs of G and D in train mode on fixed
    inputs. Biases that feed a BatchNorm are not compared: BN cancels them, so their gradient is
    rounding noise that Adam scales up to steps of ~lr (as in test_distributed.py)."""
    for net in ("G", "D"):
        pa, pb = dict(getattr(a, net).named_parameters()), dict(getattr(b, net).named_parameters())
        assert pa.keys() == pb.keys()  # plain modules: no compile or layout prefix in checkpoints
        for key in pa:
            if pa[key].dim() >= 2:
                torch.testing.assert_close(pb[key], pa[key], rtol=tol, atol=tol)
    g = torch.Generator().manual_seed(5)
    z, y = torch.randn(8, a.spec.z_dim, generator=g), torch.arange(8) % 4
    with torch.no_grad():
        fakes = [t.G.train()(z, y) for t in (a, b)]
        torch.testing.assert_close(fakes[1], fakes[0], rtol=tol, atol=tol)
        logits = [t.D.train()(fakes[0], y) for t in (a, b)]
        torch.testing.assert_close(logits[1], logits[0], rtol=tol, atol=tol)


def test_switches_are_off_in_the_default_and_its_cpu_presets():
    for path in ("params.yaml", "configs/ablations_cpu.yaml", "configs/quick.yaml"):
        p = load_params(str(ROOT / path)).pipeline
        assert not (p.cudnn_benchmark or p.tf32 or p.channels_last or p.compile), path
    p = load_params(str(ROOT / "configs/sagan_biggan_imagenet128.yaml")).pipeline
    assert p.cudnn_benchmark and p.tf32 and p.channels_last


def test_channels_last_trains_the_same_run(tmp_path):
    plain = steps(tmp_path, "plain")
    nhwc = steps(tmp_path, "nhwc", channels_last=True)
    conv = next(m for m in nhwc.G.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert_same_run(plain, nhwc, 1e-4)


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler for inductor"
)
def test_compile_trains_the_same_run(tmp_path):
    plain = steps(tmp_path, "plain", n=2)
    compiled = steps(tmp_path, "compiled", n=2, compile=True)
    assert_same_run(plain, compiled, 1e-4)


def test_compile_is_refused_with_a_penalty(tmp_path):
    text = (ROOT / "params.yaml").read_text().replace("compile: false", "compile: true", 1)
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_plan(str(path))
    message = str(err.value)
    assert "pipeline.compile" in message and "penalty" in message and "gp" in message


def test_backend_flags_are_set_as_asked():
    before = (
        torch.backends.cudnn.benchmark,
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
    )
    try:
        set_backends(cudnn_benchmark=True, tf32=True)
        assert torch.backends.cudnn.benchmark and torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32
        set_backends(cudnn_benchmark=False, tf32=False)
        assert not (torch.backends.cudnn.benchmark or torch.backends.cuda.matmul.allow_tf32)
    finally:
        torch.backends.cudnn.benchmark = before[0]
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before[1:]
