"""The counting benchmarks/preset_cost.py relies on: FLOPs of one layer against the hand count
and against torch's FlopCounterMode, linearity in batch, which ops count as launches, the fused
Adam launch model, and meta (shapes only) counting the same as real arithmetic on the CPU."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ganbench.config import Evaluation, Figures
from ganbench.plan import build_networks, spec_from_recipe

pytestmark = pytest.mark.usefixtures("one_thread")

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "preset_cost.py"
_SPEC = importlib.util.spec_from_file_location("preset_cost", _PATH)
pc = sys.modules.setdefault("preset_cost", importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(pc)


def _count(fn, device=None) -> pc.OpCounter:
    with pc.OpCounter(device) as c:
        fn()
    return c


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_linear_forward_is_2_in_out_batch(batch):
    layer = nn.Linear(20, 30)
    x = torch.randn(batch, 20)
    c = _count(lambda: layer(x))
    assert c.flops["mm"] == 2 * 20 * 30 * batch
    assert c.flops["conv"] == 0
    assert c.total_ops == 1  # one addmm: the weight's transpose is a view


def test_conv_forward_is_2_cout_cin_k2_hw_batch():
    conv = nn.Conv2d(3, 8, 4, 2, 1)  # 16x16 -> 8x8
    x = torch.randn(5, 3, 16, 16)
    c = _count(lambda: conv(x))
    assert c.flops["conv"] == 2 * 8 * 3 * 4 * 4 * 8 * 8 * 5
    assert c.flops["mm"] == 0


def test_forward_backward_agrees_with_flop_counter_mode():
    net = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(),
                        nn.Linear(4 * 7 * 7, 16))  # fmt: skip
    x = torch.randn(6, 1, 14, 14, requires_grad=True)
    step = lambda: net(x).square().sum().backward()  # noqa: E731
    ours = _count(step).total_flops
    with FlopCounterMode(display=False) as reference:
        step()
    assert ours == reference.get_total_flops()
    # backward = input gradient + weight gradient, each the size of the forward
    forward = _count(lambda: net(x)).total_flops
    assert ours == 3 * forward


def test_flops_scale_linearly_with_batch_and_ops_do_not():
    net = nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 1))
    counts = {}
    for b in (4, 8, 16):
        x = torch.randn(b, 10)
        net.zero_grad(set_to_none=True)  # no accumulation into .grad: the same ops every time
        counts[b] = _count(lambda x=x: net(x).sum().backward())
    assert counts[8].total_flops == 2 * counts[4].total_flops
    assert counts[16].total_flops == 4 * counts[4].total_flops
    assert counts[4].ops == counts[8].ops == counts[16].ops


def test_views_and_allocations_launch_nothing():
    x = torch.randn(4, 6)
    c = _count(lambda: (x.view(6, 4).t().unsqueeze(0).detach(), torch.empty(3)))
    assert c.total_ops == 0
    assert _count(lambda: x + 1).total_ops == 1


def test_device_filter_skips_host_ops():
    host = torch.randn(3)
    dev = torch.zeros(3, device="meta")
    c = _count(lambda: (host * 2, dev + 1), device="meta")
    assert dict(c.ops) == {"add": 1}


def test_fused_adam_launch_model():
    # small nets: one _foreach_add_ of the step counters, one _fused_adam_
    assert pc.adam_launches([100] * 10) == 2
    assert pc.adam_launches([100] * 36) == 2
    assert pc.adam_launches([100] * 37) == 3  # 36 tensors per launch
    assert pc.adam_launches([320 * 65_536 + 1]) == 3  # 320 blocks per launch, then 1 block
    assert pc.adam_launches([100] * 111) == 2 + 4  # 2 step launches, 4 fused


def _spec(objective: str, penalty: str = "none", n_disc: int = 2):
    recipe = {
        "arch": {"name": "infogan", "width": 0.125, "z_dim": 8, "d_batchnorm": penalty == "none"},
        "objective": {"name": objective},
        "penalty": {"name": penalty},
        "optimiser": {"lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.5, "beta2": 0.999, "n_disc": n_disc},
        "training": {"steps": 100, "batch_size": 8, "latent": "uniform"},
        "evaluation": Evaluation().model_dump(),
        "figures": Figures().model_dump(),
    }
    return spec_from_recipe(recipe, "mnist")


@pytest.mark.parametrize("objective,penalty", [("ns", "none"), ("wgan", "gp")])
def test_meta_counts_equal_real_arithmetic(objective, penalty):
    spec = _spec(objective, penalty)
    meta = pc.measure_training(spec, (2, 4), "meta")
    cpu = pc.measure_training(spec, (2, 4), "cpu")
    assert (meta.conv, meta.conv_b, meta.mm, meta.mm_b) == (cpu.conv, cpu.conv_b, cpu.mm, cpu.mm_b)
    assert meta.op_names == cpu.op_names
    assert meta.conv == meta.mm == 0  # nothing batch-independent without orthogonal reg.
    # Adam steps: D every step, G every 2nd (1.5 per step), 2 launches each
    assert meta.op_names["_fused_adam_ (modelled)"] == 3


@pytest.mark.parametrize("n_disc", [1, 2, 5])
def test_one_step_is_a_d_update_and_1_over_n_disc_g_updates(n_disc):
    """NS GAN, D on real and fake separately. Per image, with f the forward FLOPs and f1 those of
    the first layer (whose input needs no gradient): D step = G forward (no grad) + D forward,
    weight and input gradients on real and fake = f_G + 2 (3 f_D - f1_D); G step = G forward and
    backward + D forward and input gradient = 3 f_G - f1_G + 2 f_D."""
    spec = _spec("ns", n_disc=n_disc)
    G, D = build_networks(spec)
    per_image = lambda fn: _count(fn).total_flops  # noqa: E731 (batch 1)
    f_g = per_image(lambda: G.eval()(torch.rand(1, spec.z_dim)))
    f_d = per_image(lambda: D.eval()(torch.rand(1, *spec.image_shape)))
    f1_g = 2 * spec.z_dim * G.fc[0].out_features
    conv = D.trunk[0]
    f1_d = 2 * conv.out_channels * conv.in_channels * 16 * 14 * 14  # 4x4 kernel, 28 -> 14
    d_step = f_g + 2 * (3 * f_d - f1_d)
    g_step = 3 * f_g - f1_g + 2 * f_d
    cost = pc.measure_training(spec, (2, 4), "meta")
    assert cost.conv_b + cost.mm_b == pytest.approx(d_step + g_step / n_disc)
