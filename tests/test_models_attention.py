"""SAGAN's self-attention block against a loop-by-loop implementation of Zhang et al. 2019."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.errors import ConfigError
from ganbench.models.attention import SelfAttention

pytestmark = pytest.mark.usefixtures("one_thread")


def loop_attention(block: SelfAttention, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """y = x + gamma * o, with every sum and softmax written out over positions."""
    n, c, h, w = x.shape
    x = x.double()
    wt, wp, wg, wo = (
        m.weight.detach().double().view(m.weight.shape[0], -1)
        for m in (block.theta, block.phi, block.g, block.o)
    )
    gamma = float(block.gamma.detach())
    y = torch.empty_like(x)
    beta_all = torch.empty(n, h * w, h * w // 4, dtype=torch.float64)
    for b in range(n):
        feats = x[b].reshape(c, h * w)  # (C, N), position p = i * w + j
        theta = wt @ feats  # (C/8, N)
        phi_full = (wp @ feats).view(-1, h, w)
        g_full = (wg @ feats).view(-1, h, w)
        keys, values = [], []
        for i in range(0, h, 2):  # 2x2 max-pool, row-major key positions
            for j in range(0, w, 2):
                keys.append(phi_full[:, i : i + 2, j : j + 2].amax(dim=(1, 2)))
                values.append(g_full[:, i : i + 2, j : j + 2].amax(dim=(1, 2)))
        for q in range(h * w):
            scores = [float(theta[:, q] @ k) for k in keys]
            top = max(scores)
            exps = [torch.tensor(s - top, dtype=torch.float64).exp() for s in scores]
            total = sum(exps)
            weights = [e / total for e in exps]
            beta_all[b, q] = torch.stack(weights)
            attended = sum(wk * v for wk, v in zip(weights, values, strict=True))  # (C/2,)
            y[b, :, q // w, q % w] = x[b, :, q // w, q % w] + gamma * (wo @ attended)
    return y, beta_all


@pytest.mark.parametrize("sn", [True, False], ids=["sn", "no_sn"])
@pytest.mark.parametrize("hw", [(4, 4), (6, 4)], ids=["4x4", "6x4"])
def test_matches_loop_implementation(sn, hw):
    torch.manual_seed(0)
    block = SelfAttention(16, spectral_norm=sn)
    with torch.no_grad():
        block.gamma.fill_(0.7)
    block.eval()  # spectral norm: no power iteration, fixed weights
    x = torch.randn(2, 16, *hw)
    y, beta = block(x, return_attention=True)
    y_ref, beta_ref = loop_attention(block, x)
    torch.testing.assert_close(beta.double(), beta_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(y.double(), y_ref, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(y, x)  # gamma != 0 changes the output
    assert block.last_attention is None  # not kept unless asked
    block.record_attention = True
    block(x)
    assert torch.equal(block.last_attention, beta.detach())


@pytest.mark.parametrize("sn", [True, False], ids=["sn", "no_sn"])
def test_gamma_zero_at_init_is_identity(sn):
    torch.manual_seed(1)
    block = SelfAttention(8, spectral_norm=sn)
    assert float(block.gamma.detach()) == 0.0 and block.gamma.requires_grad
    x = torch.randn(3, 8, 8, 8)
    assert torch.equal(block(x), x)


@pytest.mark.parametrize("n, c, h, w", [(1, 8, 2, 2), (2, 16, 8, 8), (3, 32, 16, 8), (2, 64, 4, 6)])
def test_shapes_and_rows_sum_to_one(n, c, h, w):
    torch.manual_seed(2)
    block = SelfAttention(c)
    x = torch.randn(n, c, h, w)
    y, beta = block(x, return_attention=True)
    assert y.shape == x.shape
    assert beta.shape == (n, h * w, h * w // 4)
    torch.testing.assert_close(beta.sum(-1), torch.ones(n, h * w))
    assert bool((beta >= 0).all())


def test_spectral_norm_switch_and_no_bias():
    on, off = SelfAttention(16), SelfAttention(16, spectral_norm=False)
    for conv in (on.theta, on.phi, on.g, on.o):
        assert hasattr(conv, "parametrizations") and conv.bias is None
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
        assert float(sigma) == pytest.approx(1.0, rel=1e-2)
    for conv in (off.theta, off.phi, off.g, off.o):
        assert not hasattr(conv, "parametrizations") and conv.bias is None
    assert [(m.in_channels, m.out_channels) for m in off.modules() if isinstance(m, nn.Conv2d)] == [
        (16, 2),
        (16, 2),
        (16, 8),
        (8, 16),
    ]


def test_gradient_reaches_gamma_and_convs():
    torch.manual_seed(3)
    block = SelfAttention(8)
    with torch.no_grad():
        block.gamma.fill_(0.5)
    block(torch.randn(2, 8, 4, 4)).square().sum().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().max() > 0), name


@pytest.mark.parametrize("channels", [0, 4, 12, 7, 8.0, True])
def test_channels_must_be_a_multiple_of_8(channels):
    with pytest.raises(ConfigError, match="multiple of 8"):
        SelfAttention(channels)


def test_odd_size_and_wrong_channels_are_clear_errors():
    block = SelfAttention(8)
    with pytest.raises(ValueError, match="must be even"):
        block(torch.randn(1, 8, 5, 4))
    with pytest.raises(ValueError, match=r"expected input \(n, 8, H, W\)"):
        block(torch.randn(1, 16, 4, 4))
