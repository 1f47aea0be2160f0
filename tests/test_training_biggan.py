"""BigGAN training pieces: orthogonal regularisation, EMA of weights, truncation, spectral norm."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganbench.errors import UserError
from ganbench.models.truncation import truncated_normal
from ganbench.training.ema import EMA
from ganbench.training.regularizers import orthogonal_regularization

# W = [[1, 2, 3], [4, 5, 6]]: W W^T = [[1+4+9, 4+10+18], [., 16+25+36]] = [[14, 32], [32, 77]];
# off-diagonal entries 32 and 32, so ||W W^T * (1 - I)||_F^2 = 2 * 32^2 = 2048.
W23 = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
W23_REG = 2048.0


def _linear(weight: torch.Tensor, bias: bool = True) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias)
    with torch.no_grad():
        layer.weight.copy_(weight)
    return layer


# --- orthogonal regularisation -----------------------------------------------------------------


def test_ortho_hand_computed_2x3() -> None:
    layer = _linear(W23)
    assert orthogonal_regularization(layer, beta=1.0).item() == pytest.approx(W23_REG)
    assert orthogonal_regularization(layer).item() == pytest.approx(1e-4 * W23_REG)


def test_ortho_conv_weight_reshaped_to_out_by_rest() -> None:
    # Conv weight (2, 3, 2, 1) = arange(1..12): rows of the (2, 6) matrix are 1..6 and 7..12.
    # Their dot product: 1*7 + 2*8 + 3*9 + 4*10 + 5*11 + 6*12 = 7+16+27+40+55+72 = 217,
    # so the penalty is 2 * 217^2 = 94178 (the 6x6 Gram of columns would give another value).
    conv = nn.Conv2d(3, 2, kernel_size=(2, 1), bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.arange(1.0, 13.0).reshape(2, 3, 2, 1))
    assert orthogonal_regularization(conv, beta=1.0).item() == pytest.approx(94178.0)


def test_ortho_zero_for_orthogonal_rows() -> None:
    q, _ = torch.linalg.qr(torch.randn(5, 3, generator=torch.Generator().manual_seed(0)))
    layer = _linear(q.T)  # (3, 5) with orthonormal rows
    assert orthogonal_regularization(layer, beta=1.0).item() == pytest.approx(0.0, abs=1e-10)
    # Only the off-diagonal is penalised: rows of any norms stay free.
    layer = _linear(q.T * torch.tensor([[2.0], [0.5], [3.0]]))
    assert orthogonal_regularization(layer, beta=1.0).item() == pytest.approx(0.0, abs=1e-9)


def _masked_reference(w: torch.Tensor) -> torch.Tensor:
    """The N x N form, as BigGAN-PyTorch's utils.ortho builds it."""
    gram = w @ w.T
    return (gram * (1 - torch.eye(w.shape[0], dtype=w.dtype))).square().sum()


def test_ortho_tall_weight_hand_computed_3x2() -> None:
    # W = W23^T: rows (1, 4), (2, 5), (3, 6); their dot products 22, 27, 36:
    # 2 * (22^2 + 27^2 + 36^2) = 2 * 2509 = 5018, computed on the 2 x 2 side.
    assert orthogonal_regularization(_linear(W23.T), beta=1.0).item() == pytest.approx(5018.0)


@pytest.mark.parametrize("shape", [(40, 7), (7, 40), (64, 64), (300, 3)])
@pytest.mark.parametrize("orthonormal_columns", [False, True])
def test_ortho_value_and_gradient_match_the_n_by_n_form(shape, orthonormal_columns) -> None:
    g = torch.Generator().manual_seed(sum(shape))
    w = torch.randn(*shape, generator=g, dtype=torch.float64)
    if orthonormal_columns and shape[0] >= shape[1]:
        w = torch.linalg.qr(w)[0]  # near the regulariser's target: the most cancellation
    ours, ref = _linear(w.float()), _linear(w.float())
    reg = orthogonal_regularization(ours, beta=1.0)
    expected = _masked_reference(ref.weight)
    torch.testing.assert_close(reg, expected, rtol=1e-5, atol=1e-5)
    reg.backward()
    expected.backward()
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, rtol=1e-4, atol=1e-5)


def test_ortho_of_a_tall_weight_forms_no_n_by_n_matrix() -> None:
    """G's first linear layer at ImageNet scale (BigGAN, ch 96: 4*4*16*96 = 24576 outputs, 20 +
    128 inputs): its N x N Gram would take 2.4 GB; the M x M side takes 88 kB."""
    layer = nn.Linear(148, 24576, bias=False)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        orthogonal_regularization(layer).backward()
    biggest = max(e.cpu_memory_usage for e in prof.key_averages())
    assert biggest < 100 * 2**20  # bytes: the weight itself is 14.5 MB


def test_ortho_skips_1d_params_and_excluded_names() -> None:
    model = nn.Module()
    model.fc = _linear(W23)  # weight counted, bias (1-D) skipped
    model.bn = nn.BatchNorm1d(2)  # weight and bias are 1-D: skipped
    model.shared = nn.Embedding(10, 4)  # 2-D, excluded by name below
    with torch.no_grad():
        model.bn.weight.fill_(7.0)
        model.fc.bias.fill_(3.0)
    excluded = orthogonal_regularization(model, beta=1.0, exclude=("shared.",))
    assert excluded.item() == pytest.approx(W23_REG)
    included = orthogonal_regularization(model, beta=1.0)
    assert included.item() > W23_REG + 1.0
    # Matching is at a name boundary: "shared." also excludes nested "G.shared.weight".
    outer = nn.Module()
    outer.G = model
    assert orthogonal_regularization(outer, beta=1.0, exclude=("shared.",)).item() == (
        pytest.approx(W23_REG)
    )
    assert orthogonal_regularization(nn.BatchNorm2d(3), beta=1.0).item() == 0.0


def test_ortho_through_spectral_norm_uses_original_weight() -> None:
    layer = spectral_norm(_linear(W23))
    names = [n for n, p in layer.named_parameters() if p.dim() >= 2]
    assert names == ["parametrizations.weight.original"]
    reg = orthogonal_regularization(layer, beta=1.0)
    assert reg.item() == pytest.approx(W23_REG)  # raw weight, not weight / sigma
    reg.backward()
    assert layer.parametrizations.weight.original.grad is not None
    assert orthogonal_regularization(layer, beta=1.0, exclude=("parametrizations",)).item() == 0.0


def test_ortho_gradient_is_twice_biggan_pytorch_hand_gradient() -> None:
    w = torch.randn(4, 3, 3, 3, generator=torch.Generator().manual_seed(1))
    conv = nn.Conv2d(3, 4, 3)
    with torch.no_grad():
        conv.weight.copy_(w)
    beta = 1e-2
    orthogonal_regularization(conv, beta=beta).backward()
    m = w.reshape(4, -1)
    # BigGAN-PyTorch utils.ortho adds strength * 2 (W W^T * (1 - I)) W to .grad.
    biggan_pytorch = (2 * ((m @ m.T) * (1 - torch.eye(4))) @ m).reshape(w.shape)
    torch.testing.assert_close(conv.weight.grad, 2 * beta * biggan_pytorch)
    assert conv.bias.grad is None


# --- EMA ----------------------------------------------------------------------------------------


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))


def test_ema_closed_form_with_constant_params() -> None:
    model = _model()
    p0 = {k: v.detach().clone() for k, v in model.named_parameters()}
    ema = EMA(model, decay=0.9, start_step=0)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(2.5)
    k = 5
    for step in range(k):
        ema.update(step)
    for name, shadow in ema.params.items():
        expected = 2.5 + (p0[name] - 2.5) * 0.9**k
        torch.testing.assert_close(shadow, expected)
    assert ema.num_updates == k


def test_ema_copies_before_start_step_then_averages() -> None:
    model = _model()
    ema = EMA(model, decay=0.5, start_step=10)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0)
    ema.update(3)
    for shadow in ema.params.values():
        torch.testing.assert_close(shadow, torch.ones_like(shadow))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(3.0)
    ema.update(10)  # first averaged step
    for shadow in ema.params.values():
        torch.testing.assert_close(shadow, torch.full_like(shadow, 2.0))


def test_ema_foreach_update_is_the_per_tensor_formula_bitwise() -> None:
    """The fused update (torch._foreach_*) does per element what the per-tensor loop
    ``shadow.mul_(decay).add_(param, alpha=1 - decay)`` did: the same bits."""
    model = _model()
    ema = EMA(model, decay=0.97, start_step=2)
    reference = {k: v.detach().clone() for k, v in model.named_parameters()}
    for step in range(6):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        model.train()
        model(torch.randn(8, 3))  # moves BN's running statistics (buffers, copied)
        ema.update(step)
        for k, p in model.named_parameters():
            if step < 2:
                reference[k].copy_(p.detach())
            else:
                reference[k].mul_(0.97).add_(p.detach(), alpha=1.0 - 0.97)
        for k in reference:
            assert torch.equal(ema.params[k], reference[k]), (step, k)
        for k, b in model.named_buffers():
            assert torch.equal(ema.buffers[k], b), (step, k)


def test_ema_buffers_copied_and_ema_model() -> None:
    model = _model()
    ema = EMA(model, decay=0.999)
    model.train()
    model(torch.randn(8, 3))  # moves BN running stats
    ema.update(0)
    for name, b in model.named_buffers():
        torch.testing.assert_close(ema.buffers[name], b)
    g = ema.ema_model()
    assert not g.training
    assert all(not p.requires_grad for p in g.parameters())
    for name, p in g.named_parameters():
        torch.testing.assert_close(p, ema.params[name])
    assert g is not model and model.training
    other = _model()
    ema.copy_to(other)
    for name, p in other.named_parameters():
        torch.testing.assert_close(p, ema.params[name])


def test_ema_spectral_norm_model() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(spectral_norm(nn.Linear(4, 3)))
    ema = EMA(model, decay=0.9)
    model(torch.randn(2, 4))  # power iteration updates u, v
    ema.update(0)
    g = ema.ema_model()
    torch.testing.assert_close(
        g[0].parametrizations.weight.original, ema.params["0.parametrizations.weight.original"]
    )
    torch.testing.assert_close(
        g[0].parametrizations.weight[0]._u, model[0].parametrizations.weight[0]._u
    )


def test_ema_state_dict_round_trip(tmp_path) -> None:
    model = _model()
    ema = EMA(model, decay=0.95, start_step=2)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    for step in range(4):
        ema.update(step)
    path = tmp_path / "ema.pt"
    torch.save(ema.state_dict(), path)
    state = torch.load(path, weights_only=True)
    fresh = EMA(_model(), decay=0.5)
    fresh.load_state_dict(state)
    assert (fresh.decay, fresh.start_step, fresh.num_updates) == (0.95, 2, 4)
    for name in ema.params:
        torch.testing.assert_close(fresh.params[name], ema.params[name])
    for name in ema.buffers:
        torch.testing.assert_close(fresh.buffers[name], ema.buffers[name])
    with pytest.raises(UserError, match="params"):
        EMA(nn.Linear(3, 2)).load_state_dict(state)


# --- truncation ---------------------------------------------------------------------------------


def test_truncated_normal_bounds_and_seed() -> None:
    z = truncated_normal(500, 16, psi=0.7, generator=torch.Generator().manual_seed(3))
    assert z.shape == (500, 16) and z.dtype == torch.float32
    assert z.abs().max().item() <= 0.7
    again = truncated_normal(500, 16, psi=0.7, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(z, again, rtol=0, atol=0)
    other = truncated_normal(500, 16, psi=0.7, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(z, other)


def test_truncated_normal_distribution() -> None:
    psi = 0.5
    z = truncated_normal(2000, 64, psi=psi, generator=torch.Generator().manual_seed(0))
    # Var of N(0, 1) truncated to [-a, a]: 1 - 2 a phi(a) / (2 Phi(a) - 1) = 0.0806 at a = 0.5.
    phi = math.exp(-(psi**2) / 2) / math.sqrt(2 * math.pi)
    var = 1 - 2 * psi * phi / math.erf(psi / math.sqrt(2))
    assert z.mean().item() == pytest.approx(0.0, abs=5e-3)
    assert z.var().item() == pytest.approx(var, rel=2e-2)
    assert var < 0.1


def test_no_truncation_is_plain_normal() -> None:
    for psi in (None, math.inf):
        z = truncated_normal(4, 8, psi=psi, generator=torch.Generator().manual_seed(5))
        torch.testing.assert_close(z, torch.randn(4, 8, generator=torch.Generator().manual_seed(5)))


@pytest.mark.parametrize("psi", [0.0, -1.0, math.nan])
def test_truncation_psi_must_be_positive(psi: float) -> None:
    with pytest.raises(UserError, match="psi"):
        truncated_normal(2, 2, psi=psi)


# --- spectral norm ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer", [lambda: nn.Linear(16, 8), lambda: nn.Conv2d(3, 6, 3)], ids=["linear", "conv"]
)
def test_spectral_norm_top_singular_value_is_one(layer) -> None:
    """torch's spectral_norm on a conv normalises the (out, in*k*k) reshaped matrix, as
    Miyato et al. 2018 do (not the operator norm of the convolution)."""
    torch.manual_seed(0)
    sn = spectral_norm(layer())
    sn.train()
    x = torch.randn(2, 16) if isinstance(sn, nn.Linear) else torch.randn(2, 3, 8, 8)
    for _ in range(20):  # one power iteration per forward pass in train mode
        sn(x)
    sn.eval()
    w = sn.weight.detach()
    sigma = torch.linalg.svdvals(w.reshape(w.shape[0], -1))[0].item()
    assert sigma == pytest.approx(1.0, abs=1e-2)
