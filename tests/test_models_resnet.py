"""SNGAN / SAGAN / BigGAN ResNets: shapes for every switch, one hinge step, the projection term,
shared embedding, skip-z and the config errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.errors import ConfigError
from ganbench.losses.functional import hinge_d_loss, wasserstein_g_loss
from ganbench.models.attention import SelfAttention
from ganbench.models.resnet import (
    ConditionalBatchNorm2d,
    ResidualControl,
    ResNetConfig,
    build_resnet,
    count_parameters,
)

CH, Z, N, K = 8, 16, 2, 5  # channel base, z_dim, batch, classes


pytestmark = pytest.mark.usefixtures("one_thread")


CASES = {
    "uncond": {},
    "cond": dict(num_classes=K),
    "no_sn": dict(g_spectral_norm=False, d_spectral_norm=False),
    "sn_d_only": dict(g_spectral_norm=False, num_classes=K),
    "attn16": dict(g_attention=[16], d_attention=[16], num_classes=K),
    "attn8_16": dict(g_attention=[8, 16], d_attention=[8, 16]),
    "residual8_16": dict(g_attention=[8, 16], d_attention=[8, 16], attention_block="residual"),
    "shared": dict(num_classes=K, shared_embedding=True, shared_dim=8),
    "shared_skipz": dict(num_classes=K, shared_embedding=True, shared_dim=8, skip_z=True),
    "biggan_normal": dict(num_classes=K, shared_embedding=True, skip_z=True, init="normal"),
    "xavier_ch1.5": dict(ch=CH * 1.5, init="xavier", g_attention=[32], d_attention=[8]),
    "res64": dict(
        resolution=64,
        num_classes=K,
        g_attention=[32],
        d_attention=[16],
        z_dim=20,
        shared_embedding=True,
        shared_dim=8,
        skip_z=True,
    ),
}


def make(**kw) -> tuple[nn.Module, nn.Module, ResNetConfig]:
    kw = {"ch": CH, "z_dim": Z, **kw}
    cfg = ResNetConfig(**kw)
    G, D = build_resnet(cfg)
    return G, D, cfg


def labels(cfg: ResNetConfig) -> torch.Tensor | None:
    return torch.randint(0, cfg.num_classes, (N,)) if cfg.num_classes else None


def _ids() -> list[str]:  # parameter counts in the test ids, for the BigGAN table
    out = []
    for name, kw in CASES.items():
        torch.manual_seed(0)
        G, D, _ = make(**kw)
        out.append(f"{name}-G{count_parameters(G)}-D{count_parameters(D)}")
    return out


@pytest.mark.parametrize("kw", list(CASES.values()), ids=_ids())
def test_shapes_range_and_modules(kw):
    torch.manual_seed(0)
    G, D, cfg = make(**kw)
    r = cfg.resolution
    y = labels(cfg)
    with torch.no_grad():
        x = G(torch.randn(N, cfg.z_dim), y)
        logits = D(x, y)
    assert x.shape == (N, 3, r, r)
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0  # tanh, as BigGAN-PyTorch's G
    assert G.value_range == (-1.0, 1.0)
    assert logits.shape == (N,)
    extra = SelfAttention if cfg.attention_block == "attention" else ResidualControl
    assert sum(isinstance(m, extra) for m in G.modules()) == len(cfg.g_attention)
    assert sum(isinstance(m, extra) for m in D.modules()) == len(cfg.d_attention)
    for net, sn in ((G, cfg.g_spectral_norm), (D, cfg.d_spectral_norm)):
        convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        assert all(hasattr(m, "parametrizations") == sn for m in convs)


def test_attention_positions_and_channel_plans():
    G, D, cfg = make(g_attention=[16], d_attention=[8])
    assert cfg.g_channels == (32, 32, 32, 32) and cfg.d_resolutions == (16, 8, 8, 8)
    assert list(G.extras) == ["1"] and list(D.extras) == ["1"]  # after the first 16 / 8 map
    cfg64 = ResNetConfig(resolution=64, ch=2)
    assert cfg64.g_channels == (32, 16, 8, 4, 2) and cfg64.d_channels == (2, 4, 8, 16, 32)
    cfg128 = ResNetConfig(resolution=128, ch=1)
    assert cfg128.g_channels == (16, 16, 8, 4, 2, 1) and cfg128.num_g_blocks == 5
    assert cfg128.d_resolutions == (64, 32, 16, 8, 4, 4)


@pytest.mark.parametrize("name", ["uncond", "attn16", "shared_skipz"])
def test_one_hinge_step_each(name):
    torch.manual_seed(0)
    G, D, cfg = make(**CASES[name])
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.0, 0.9))
    real, y = torch.rand(N, 3, 32, 32), labels(cfg)
    g0 = {k: p.detach().clone() for k, p in G.named_parameters()}
    d0 = {k: p.detach().clone() for k, p in D.named_parameters()}

    fake = G(torch.randn(N, cfg.z_dim), y).detach()
    d_loss = hinge_d_loss(real_logits=D(real, y), fake_logits=D(fake, y))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    d1 = {k: p.detach().clone() for k, p in D.named_parameters()}

    g_loss = wasserstein_g_loss(fake_logits=D(G(torch.randn(N, cfg.z_dim), y), y))  # hinge G
    opt_g.zero_grad()
    opt_d.zero_grad()
    g_loss.backward()
    opt_g.step()

    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)

    def frozen_by_gamma(k: str) -> bool:  # attention convs get no gradient while gamma is 0
        return k.startswith("extras.") and not k.endswith("gamma")

    for k, p in D.named_parameters():
        if p.ndim >= 2 and not frozen_by_gamma(k) or k.endswith("gamma"):
            assert not torch.equal(d0[k], d1[k]), k
        assert torch.equal(p.detach(), d1[k]), k  # the G step leaves D alone
    changed = [k for k, p in G.named_parameters() if not torch.equal(p.detach(), g0[k])]
    for k, p in G.named_parameters():
        if p.ndim >= 2 and not frozen_by_gamma(k) or k.endswith("gamma"):
            assert k in changed, k
    if cfg.shared_embedding:  # only the rows of classes drawn get a gradient
        assert "shared.weight" in changed


def test_projection_term_by_hand():
    torch.manual_seed(0)
    _, D, cfg = make(num_classes=K, d_spectral_norm=False)
    with torch.no_grad():
        D.linear.weight.zero_()
        D.linear.bias.zero_()
    x, y = torch.rand(N, 3, 32, 32), torch.tensor([1, 3])
    h = D.features(x)
    expected = torch.stack([D.embed.weight[y[i]] @ h[i] for i in range(N)])
    torch.testing.assert_close(D(x, y), expected)
    assert not torch.allclose(D(x, torch.tensor([0, 4])), expected)  # the label matters


def test_shared_embedding_has_fewer_params_and_feeds_every_cbn():
    kw = dict(num_classes=100, ch=8)
    G_per, _, _ = make(**kw)
    G_sh, _, _ = make(**kw, shared_embedding=True, shared_dim=4)
    assert count_parameters(G_sh) < count_parameters(G_per)
    cbns = [m for m in G_sh.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(cbns) == 2 * 3
    assert not any(isinstance(m, nn.Embedding) for c in cbns for m in c.modules())
    assert [m for m in G_sh.modules() if isinstance(m, nn.Embedding)] == [G_sh.shared]
    for c in cbns:
        assert c.gain.in_features == 4 and c.gain.bias is None and c.bias.bias is None


def test_shared_cbn_gain_is_one_plus_projection():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(4, num_classes=0, cond_dim=3, sn=False, init="ortho")
    x, c = torch.randn(6, 4, 2, 2), torch.randn(6, 3)
    norm = nn.functional.batch_norm(x, None, None, training=True, eps=cbn.bn.eps)
    gain, bias = 1 + c @ cbn.gain.weight.T, c @ cbn.bias.weight.T
    torch.testing.assert_close(cbn(x, c), norm * gain[..., None, None] + bias[..., None, None])


def test_skip_z_chunks_feed_blocks():
    torch.manual_seed(0)
    G, _, cfg = make(**CASES["shared_skipz"])  # z 16 = 4 chunks of 4; cond = 8 + 4
    assert G.z_chunk == 4 and G.linear.parametrizations.weight.original.shape[1] == 4
    assert all(b.bn1.gain.in_features == 12 for b in G.blocks)
    G.eval()
    z, y = torch.randn(N, Z), torch.tensor([0, 1])
    z2 = z.clone()
    z2[:, 12:] += 1.0  # only the last block's chunk
    assert not torch.allclose(G(z, y), G(z2, y))


@pytest.mark.parametrize(
    "kw, key",
    [
        (dict(skip_z=True, shared_embedding=True, num_classes=K, z_dim=18), "z_dim"),
        (dict(skip_z=True, num_classes=K), "skip_z"),
        (dict(shared_embedding=True), "shared_embedding"),
        (dict(resolution=48), "resolution"),
        (dict(ch=0), "ch"),
        (dict(ch="64"), "ch"),
        (dict(num_classes=-1), "num_classes"),
        (dict(g_spectral_norm=1), "g_spectral_norm"),
        (dict(g_attention=[4]), "g_attention"),
        (dict(d_attention=[32]), "d_attention"),
        (dict(g_attention=[16, 16]), "g_attention"),
        (dict(ch=2, g_attention=[16]), "g_attention"),  # 8 channels: C/8 = 1 works; ch 2 -> 8
        (dict(ch=3, g_attention=[16]), "g_attention"),  # 12 channels: not a multiple of 8
        (dict(attention_block="conv"), "attention_block"),
        (dict(init="kaiming"), "init"),
        (dict(z_dim=0), "z_dim"),
    ],
)
def test_config_errors_name_the_key(kw, key):
    if kw == dict(ch=2, g_attention=[16]):
        ResNetConfig(**kw)  # 4 * 2 = 8 channels: allowed
        return
    with pytest.raises(ConfigError) as err:
        ResNetConfig(**kw)
    assert err.value.key == f"resnet.{key}"


def test_build_resnet_kwargs_and_unknown_key():
    G, D = build_resnet(ch=4, z_dim=8)
    assert G(torch.randn(N, 8)).shape == (N, 3, 32, 32)
    with pytest.raises(ConfigError, match="resnet.width"):
        build_resnet(width=1.0)


def test_label_and_shape_errors():
    G, D, cfg = make(num_classes=K)
    with pytest.raises(ValueError, match="class labels"):
        G(torch.randn(N, Z))
    with pytest.raises(ValueError, match="z of shape"):
        G(torch.randn(N, Z + 1), torch.zeros(N, dtype=torch.long))
    with pytest.raises(RuntimeError, match="D input"):
        D(torch.rand(N, 3, 64, 64), torch.zeros(N, dtype=torch.long))
    G0, _, _ = make()
    with pytest.raises(ValueError, match="unconditional"):
        G0(torch.randn(N, Z), torch.zeros(N, dtype=torch.long))


@pytest.mark.parametrize("init", ["ortho", "normal", "xavier"])
def test_init_schemes(init):
    torch.manual_seed(0)
    G, _, _ = make(init=init, g_spectral_norm=False)
    w = G.blocks[0].conv1.weight.detach().flatten(1)  # (32, 288)
    if init == "ortho":
        torch.testing.assert_close(w @ w.T, torch.eye(32), atol=1e-5, rtol=0)
    elif init == "normal":
        assert float(w.std()) == pytest.approx(0.02, rel=0.1)
    else:
        assert float(w.abs().max()) <= (6 / (288 + 32 * 9)) ** 0.5 + 1e-6
    assert torch.count_nonzero(G.blocks[0].conv1.bias) == 0


def test_upsample2x_equals_interpolate_forward_and_backward():
    import torch.nn.functional as F

    from ganbench.models.resnet import upsample2x

    x = torch.randn(2, 3, 5, 4, requires_grad=True)
    w = torch.randn(2, 3, 10, 8)
    (upsample2x(x) * w).sum().backward()
    g = x.grad.clone()
    x.grad = None
    (F.interpolate(x, scale_factor=2) * w).sum().backward()
    torch.testing.assert_close(upsample2x(x), F.interpolate(x, scale_factor=2), rtol=0, atol=0)
    torch.testing.assert_close(g, x.grad)


@pytest.mark.parametrize("channels", [8, 16, 64, 256])
@pytest.mark.parametrize("sn", [True, False])
def test_residual_control_has_the_attention_blocks_parameters(channels, sn):
    """SAGAN sec. 5.2: "residual blocks with the same number of parameters": 1.25 C^2 + 1 each
    (attention: theta, phi C x C/8, g C x C/2, o C/2 x C, gamma; control: conv3x3 C -> C/8,
    conv1x1 C/8 -> C, gamma). The two 3x3 convolutions it replaced had 18 C^2 + 2 C."""

    def count(m):
        return sum(p.numel() for p in m.parameters())

    attention = SelfAttention(channels, spectral_norm=sn)
    control = ResidualControl(channels, spectral_norm=sn, init="ortho")
    assert count(control) == count(attention) == 1.25 * channels**2 + 1
    x = torch.randn(2, channels, 8, 8)
    assert torch.equal(control(x), x)  # gamma starts at 0: the identity, as attention
    with torch.no_grad():
        control.gamma.fill_(1.0)
    assert not torch.equal(control(x), x)
