"""Models: every objective x architecture it can build x image shape builds, has the right output
shapes and takes one real D and G step through the Trainer; the initialisation and widths of
Lucic et al. 2018; the architecture registry's one builder signature and its data rules."""

from __future__ import annotations

import pytest
import torch
from ablation_helpers import LUCIC, RESNET, params_of, study_with
from torch import nn

from ganbench.config import validate
from ganbench.errors import ConfigError
from ganbench.losses import OBJECTIVES
from ganbench.models import ARCHITECTURES, InfoGANParams, build_infogan
from ganbench.models.infogan import SLOPE
from ganbench.models.sampling import LATENTS
from ganbench.plan import build_networks, resolve_run
from ganbench.training.loop import Trainer

WIDTH, Z_DIM, N = 0.125, 8, 4
D_KINDS = sorted({OBJECTIVES.get(name).discriminator for name in OBJECTIVES.names()})
CPU = torch.device("cpu")

pytestmark = pytest.mark.usefixtures("one_thread")


def build(model: str, shape, *, width: float = WIDTH, d_batchnorm: bool = True):
    """The InfoGAN-style networks for objective ``model``, as the plan builds them."""
    cls = OBJECTIVES.get(model)
    params = InfoGANParams(
        width=width,
        z_dim=Z_DIM,
        d_batchnorm=d_batchnorm,
        discriminator=cls.discriminator,
        g_activation=cls.generator_activation,
    )
    return ARCHITECTURES.get("infogan").build(params, shape, 0)


def one_step_run(base: dict, variant: str, dataset: str, conditional: bool = False):
    """A 4-step run of ``variant`` of ``base`` on ``dataset``: batch N, one D step per G step."""
    training = {"steps": 4, "batch_size": N, "num_checkpoints": 1, "resume_every": 4}
    training["conditional"] = conditional
    study = study_with(base, optimiser={"n_disc": 1}, training=training)
    study["datasets"] = [dataset]
    return resolve_run(params_of(lucic=study), "lucic", dataset, variant, 0)


# (architecture recipe, variant, dataset, conditional): every LUCIC variant on InfoGAN at 28 and
# 32 pixels; every logit objective and penalty on the ResNet, with and without labels
RESNET_VARIANTS = {
    "hinge": {},
    "ns": {"objective": {"name": "ns"}},
    "mm": {"objective": {"name": "mm"}},
    "lsgan": {"objective": {"name": "lsgan"}},
    "wgan": {"objective": {"name": "wgan", "clip": 0.01}},
    "wgan_gp": {"objective": {"name": "wgan"}, "penalty": {"name": "gp"}},
    "dragan": {"objective": {"name": "ns"}, "penalty": {"name": "dragan"}},
}
# SNGAN's Glorot init: the tiny ResNet's initial logits stay near 10 (orthogonal init: ~50, where
# a sigmoid's gradient underflows; see test_ablation.py for that recipe)
RESNET_STUDY = study_with(RESNET, RESNET_VARIANTS, arch={"init": "xavier"})
CASES = [
    *[("infogan", v, d, False) for v in LUCIC["variants"] for d in ("shapes", "cifar10")],
    *[
        ("resnet", v, d, c)
        for v in RESNET_VARIANTS
        for d, c in (("shapes32", True), ("cifar10", False))
    ],
]


@pytest.mark.parametrize(("arch", "variant", "dataset", "conditional"), CASES)
def test_shapes_and_one_train_step(arch, variant, dataset, conditional, tmp_path):
    base = LUCIC if arch == "infogan" else RESNET_STUDY
    spec = one_step_run(base, variant, dataset, conditional)
    shape, kind = spec.image_shape, OBJECTIVES.get(spec.recipe.objective.name).discriminator
    torch.manual_seed(0)
    G, D = build_networks(spec)
    z = LATENTS.get(spec.recipe.training.latent)(N, spec.z_dim)
    y = torch.arange(N) % spec.num_classes if conditional else None
    with torch.no_grad():
        images = G(z, y)
        assert images.shape == (N, *shape)
        lo, hi = G.value_range  # InfoGAN: sigmoid, [0, 1]; ResNet: tanh, [-1, 1]
        assert (lo, hi) == ((0.0, 1.0) if arch == "infogan" else (-1.0, 1.0))
        assert float(images.min()) >= lo and float(images.max()) <= hi
        if arch == "infogan":
            assert G.logits(z).shape == (N, *shape)
        out = D(images, y)
    if kind == "critic":
        assert out.shape == (N,)
    elif kind == "autoencoder":
        assert out.shape == (N, *shape)
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    elif kind == "encoder":
        mu, sigma = out
        assert mu.shape == sigma.shape == (N, spec.z_dim)
        assert bool((sigma > 0).all())
    else:
        pytest.fail(f"no shape check for discriminator kind {kind!r}")

    # One real step through the Trainer, on this architecture.
    data = torch.randint(0, 256, (2 * N, *shape), dtype=torch.uint8)
    trainer = Trainer(spec, data, torch.arange(2 * N) % 4, tmp_path, device=CPU)
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
    for net in (G, D):
        assert all(torch.isfinite(p).all() for p in net.parameters())
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
def test_initialisation(kind):
    model = next(n for n in OBJECTIVES.names() if OBJECTIVES.get(n).discriminator == kind)
    torch.manual_seed(0)
    for net in build(model, (3, 32, 32), width=0.5):
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
    G, D = build("ns", (1, 28, 28), width=1.0)
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
    G, D = build("ns", (1, 28, 28), width=width, d_batchnorm=True)
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
    model = next(n for n in OBJECTIVES.names() if OBJECTIVES.get(n).discriminator == kind)
    for bn, count in [(True, expected), (False, 0)]:
        _, D = build(model, (1, 28, 28), d_batchnorm=bn)
        assert sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules()) == count


@pytest.mark.parametrize("variant", list(LUCIC["variants"]))
def test_generator_activation_follows_the_objective(variant):
    """The plan sets the InfoGAN G's activation from the objective (ReLU for the VAE)."""
    spec = one_step_run(LUCIC, variant, "shapes")
    G, _ = build_networks(spec)
    act = OBJECTIVES.get(spec.recipe.objective.name).generator_activation
    assert spec.recipe.arch.fields()["g_activation"] == act
    kinds = {type(m) for m in G.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))}
    assert kinds == ({nn.LeakyReLU} if act == "lrelu" else {nn.ReLU})


@pytest.mark.parametrize("shape", [(1, 30, 30), (3, 32, 30), (1, 6, 8)])
def test_image_size_not_divisible_by_4_is_a_config_error(shape):
    params = InfoGANParams(width=WIDTH, z_dim=Z_DIM)
    for call in (ARCHITECTURES.get("infogan").check, build_infogan):
        with pytest.raises(ConfigError) as err:
            call(params, shape, 0)
        assert (err.value.key, err.value.value) == ("name", "infogan")
        assert f"{shape[1]}x{shape[2]}" in err.value.allowed and "4 | H, W" in err.value.allowed


def test_unknown_discriminator_kind_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        validate(InfoGANParams, {"discriminator": "mystery"}, "arch")
    assert (err.value.key, err.value.value) == ("arch.discriminator", "mystery")
    assert err.value.allowed == "one of critic, autoencoder or encoder"


def test_infogan_networks_refuse_labels():
    G, D = build("ns", (1, 8, 8))
    y = torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="unconditional"):
        G(torch.rand(2, Z_DIM), y)
    with pytest.raises(ValueError, match="unconditional"):
        D(torch.rand(2, 1, 8, 8), y)


def test_architecture_registry():
    assert ARCHITECTURES.names() == ["infogan", "resnet"]
    infogan, resnet = ARCHITECTURES.get("infogan"), ARCHITECTURES.get("resnet")
    assert set(infogan.discriminators) == set(D_KINDS) and not infogan.conditional
    assert resnet.discriminators == ("critic",) and resnet.conditional
    # every objective has an architecture that builds its D
    for name in OBJECTIVES.names():
        kind = OBJECTIVES.get(name).discriminator
        assert any(kind in ARCHITECTURES.get(a).discriminators for a in ARCHITECTURES.names())
    # one builder signature: (params, image_shape, num_classes) -> (G, D)
    params = resnet.Params(ch=2, z_dim=16, shared_dim=8)
    G, D = resnet.build(params, (3, 32, 32), 5)
    assert G.cfg.num_classes == D.cfg.num_classes == 5 and G.cfg.image_channels == 3
    x = G(torch.randn(2, 16), torch.tensor([0, 4]))
    assert x.shape == (2, 3, 32, 32) and D(x, torch.tensor([0, 4])).shape == (2,)
