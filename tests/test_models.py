"""Models: every objective x architecture x image shape builds, has the right output shapes and
takes one real D and G step; the initialisation and widths of Lucic et al. 2018."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.config import Hyperparameters, RunConfig, TrainConfig
from ganbench.errors import ConfigError
from ganbench.losses import LOSSES
from ganbench.models import ARCHITECTURES
from ganbench.models.infogan import SLOPE
from ganbench.training import loop
from ganbench.models.sampling import LATENTS

SHAPES = [(1, 28, 28), (3, 32, 32)]
WIDTH, Z_DIM, N = 0.125, 8, 4
D_KINDS = sorted({LOSSES.get(name).discriminator for name in LOSSES.names()})


pytestmark = pytest.mark.usefixtures("one_thread")


def build(arch: str, model: str, shape, *, width: float = WIDTH, d_batchnorm: bool = True):
    """As ganbench.training.loop.build_networks, for any registered architecture."""
    objective = LOSSES.get(model)(Hyperparameters(d_batchnorm=d_batchnorm))
    return ARCHITECTURES.get(arch)(
        image_shape=shape,
        z_dim=Z_DIM,
        width=width,
        discriminator=objective.discriminator,
        d_batchnorm=d_batchnorm,
        generator_activation=objective.generator_activation,
    )


def run_config(model: str) -> RunConfig:
    hp = Hyperparameters(lr=1e-3, n_disc=1, d_batchnorm=True)
    train = TrainConfig(
        steps=4,
        batch_size=N,
        width=WIDTH,
        z_dim=Z_DIM,
        num_checkpoints=1,
        resume_every=4,
        device="cpu",
    )
    return RunConfig("test", "mnist", model, 0, hp, train)


@pytest.mark.parametrize("model", LOSSES.names())
def test_objective_names_known_variants(model):
    cls = LOSSES.get(model)
    assert cls.discriminator in {"critic", "autoencoder", "encoder"}
    assert cls.latent in LATENTS
    assert cls.generator_activation in {"lrelu", "relu"}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("arch", ARCHITECTURES.names())
@pytest.mark.parametrize("model", LOSSES.names())
def test_shapes_and_one_train_step(model, arch, shape, tmp_path, monkeypatch):
    torch.manual_seed(0)
    G, D = build(arch, model, shape)
    objective = LOSSES.get(model)
    z = LATENTS.get(objective.latent)(N, Z_DIM)
    with torch.no_grad():
        images = G(z)
        assert images.shape == (N, *shape)
        assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
        assert G.logits(z).shape == (N, *shape)
        out = D(images)
    if objective.discriminator == "critic":
        assert out.shape == (N,)
    elif objective.discriminator == "autoencoder":
        assert out.shape == (N, *shape)
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    elif objective.discriminator == "encoder":
        mu, sigma = out
        assert mu.shape == sigma.shape == (N, Z_DIM)
        assert bool((sigma > 0).all())
    else:
        pytest.fail(f"no shape check for discriminator kind {objective.discriminator!r}")

    # One real step through the Trainer, on this architecture.
    monkeypatch.setattr(
        loop, "build_networks", lambda cfg, obj, image_shape: build(arch, model, image_shape)
    )
    data = torch.randint(0, 256, (2 * N, *shape), dtype=torch.uint8)
    trainer = loop.Trainer(run_config(model), data, tmp_path)
    G, D = trainer.G, trainer.D
    g_before = {k: p.detach().clone() for k, p in G.named_parameters()}
    d_before = {k: p.detach().clone() for k, p in D.named_parameters()}
    d_at_g_step: dict[str, torch.Tensor] = {}
    g_loss = trainer.objective.g_loss

    def spy(**kw):  # D's parameters as the G step finds them
        d_at_g_step.update({k: p.detach().clone() for k, p in D.named_parameters()})
        return g_loss(**kw)

    trainer.objective.g_loss = spy
    logs = trainer.train_step()

    assert trainer.step == 1
    expected_logs = {"g_loss"} | ({"d_loss"} if trainer.objective.trains_discriminator else set())
    assert expected_logs <= set(logs)
    for key, value in logs.items():
        assert torch.isfinite(value).all(), key
    assert all(p.requires_grad for p in D.parameters())

    def assert_trained(module: nn.Module, before: dict[str, torch.Tensor]) -> None:
        for k, p in module.named_parameters():
            has_grad = p.grad is not None and bool(p.grad.abs().max() > 0)
            if p.ndim >= 2 or has_grad:  # every weight; any other tensor that got a gradient
                assert not torch.equal(p.detach(), before[k]), f"{k} did not change"

    assert_trained(G, g_before)
    assert_trained(D, d_before)  # by the D step, or for the VAE by the G optimizer
    if trainer.objective.trains_discriminator:  # the G step of a GAN leaves D alone
        for k, p in D.named_parameters():
            assert torch.equal(p.detach(), d_at_g_step[k]), k
    else:  # the VAE's G step trains the encoder
        assert_trained(D, d_at_g_step)


@pytest.mark.parametrize("kind", D_KINDS)
@pytest.mark.parametrize("arch", ARCHITECTURES.names())
def test_initialisation(arch, kind):
    model = next(n for n in LOSSES.names() if LOSSES.get(n).discriminator == kind)
    torch.manual_seed(0)
    for net in build(arch, model, (3, 32, 32), width=0.5):
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                assert float(m.weight.detach().abs().max()) <= 0.04  # truncated at 2 std
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and m.bias is not None:
                assert torch.count_nonzero(m.bias) == 0
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                assert m.momentum == pytest.approx(0.001)  # TF decay 0.999
                assert m.eps == pytest.approx(0.001)
                assert torch.equal(m.weight.detach(), torch.ones_like(m.weight))
                assert torch.count_nonzero(m.bias) == 0
            if isinstance(m, nn.LeakyReLU):
                assert m.negative_slope == pytest.approx(SLOPE) == pytest.approx(0.2)


def test_weight_scales_at_paper_width():
    torch.manual_seed(0)
    G, D = build("infogan", "ns", (1, 28, 28), width=1.0)
    fc = next(m for m in D.modules() if isinstance(m, nn.Linear))
    std = float(fc.weight.detach().std())  # 6272 x 1024 draws of N(0, 0.02)
    assert std == pytest.approx(0.02, rel=0.01)
    conv = next(m for m in D.modules() if isinstance(m, nn.Conv2d) and m.weight.numel() > 10**5)
    # N(0, 0.02) truncated at +-2 std has std 0.02 * 0.8796.
    assert float(conv.weight.detach().std()) == pytest.approx(0.02 * 0.8796, rel=0.02)


@pytest.mark.parametrize(
    "width, expected", [(1.0, (64, 128, 1024)), (0.5, (32, 64, 512)), (0.125, (8, 16, 128))]
)
def test_channel_counts_scale_with_width(width, expected):
    c64, c128, c1024 = expected
    G, D = build("infogan", "ns", (1, 28, 28), width=width, d_batchnorm=True)
    convs = [m.out_channels for m in D.modules() if isinstance(m, nn.Conv2d)]
    fcs = [m.out_features for m in D.modules() if isinstance(m, nn.Linear)]
    assert convs == [c64, c128]
    assert fcs == [c1024, 1]
    assert [m.num_features for m in D.modules() if isinstance(m, nn.BatchNorm2d)] == [c128]
    assert [m.out_features for m in G.modules() if isinstance(m, nn.Linear)] == [
        c1024,
        c128 * 7 * 7,
    ]
    assert [m.out_channels for m in G.modules() if isinstance(m, nn.ConvTranspose2d)] == [c64, 1]


@pytest.mark.parametrize("kind, expected", [("critic", 2), ("encoder", 2), ("autoencoder", 3)])
def test_d_batchnorm_is_a_switch(kind, expected):
    model = next(n for n in LOSSES.names() if LOSSES.get(n).discriminator == kind)
    for bn, count in [(True, expected), (False, 0)]:
        _, D = build("infogan", model, (1, 28, 28), d_batchnorm=bn)
        assert sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules()) == count


@pytest.mark.parametrize("model", LOSSES.names())
def test_generator_activation_follows_the_objective(model):
    G, _ = build("infogan", model, (1, 8, 8))
    act = LOSSES.get(model).generator_activation
    kinds = {type(m) for m in G.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))}
    assert kinds == ({nn.LeakyReLU} if act == "lrelu" else {nn.ReLU})


@pytest.mark.parametrize("arch", ARCHITECTURES.names())
@pytest.mark.parametrize("shape", [(1, 30, 30), (3, 32, 30), (1, 6, 8)])
def test_image_size_not_divisible_by_4_is_a_config_error(arch, shape):
    with pytest.raises(ConfigError, match="divisible by 4") as err:
        build(arch, "ns", shape)
    assert err.value.value == shape[1:]


def test_unknown_discriminator_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="critic, autoencoder, encoder"):
        ARCHITECTURES.get("infogan")(
            image_shape=(1, 8, 8), z_dim=4, width=0.125, discriminator="mystery", d_batchnorm=True
        )
