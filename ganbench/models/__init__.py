"""Architectures, registered by name with their own params model and one builder signature:
``build(params, image_shape, num_classes) -> (G, D)``, with ``G(z, y)`` and ``D(x, y)`` (``y``
None when unconditional). ``discriminators`` lists the D variants an architecture can build for
an objective (``critic``, ``autoencoder``, ``encoder``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field
from torch import nn

from ganbench.config import Block, Seq
from ganbench.errors import ConfigError
from ganbench.models.infogan import Autoencoder, Critic, Encoder, Generator
from ganbench.models.resnet import ResNetConfig, build_resnet
from ganbench.registry import Registry


@dataclass(frozen=True)
class Architecture:
    Params: type[Block]
    build: Callable[[Block, tuple[int, int, int], int], tuple[nn.Module, nn.Module]]
    # the data-dependent rules, checked when params load: raises ConfigError("<field>", ...)
    check: Callable[[Block, tuple[int, int, int], int], object]
    discriminators: tuple[str, ...] = ("critic",)
    conditional: bool = False


ARCHITECTURES: Registry[Architecture] = Registry("arch.name")


def set_epsilons(*modules: nn.Module, bn_eps: float, sn_eps: float | None = None) -> None:
    """The recipe's epsilons on every BatchNorm (``eps`` in ``x / sqrt(var + eps)``) and
    spectral-norm parametrization (``eps`` of the power iteration's normalisation) of
    ``modules``, set once after construction (spectral norm's initial power iterations at
    construction run with torch's 1e-12, where no eps binds)."""
    from torch.nn.modules.batchnorm import _BatchNorm
    from torch.nn.utils.parametrizations import _SpectralNorm

    for module in modules:
        for m in module.modules():
            if isinstance(m, _BatchNorm):
                m.eps = bn_eps
            elif isinstance(m, _SpectralNorm) and sn_eps is not None:
                m.eps = sn_eps


class InfoGANParams(Block):
    """Lucic et al. 2018's networks (their Table 4): channel counts times ``width``."""

    width: float = Field(1.0, gt=0)
    z_dim: int = Field(64, ge=1)
    d_batchnorm: bool = True
    bn_eps: float = Field(1e-3, gt=0)  # compare_gan v1 ops.batch_norm: TF's epsilon=0.001
    # set from the objective by the plan: which D it needs and G's activation
    discriminator: Literal["critic", "autoencoder", "encoder"] = "critic"
    g_activation: Literal["lrelu", "relu"] = "lrelu"


def check_infogan(params: InfoGANParams, image_shape, num_classes: int) -> None:
    _, h, w = image_shape
    if h % 4 or w % 4:
        raise ConfigError("name", "infogan", f"an architecture for {h}x{w} images (needs 4 | H, W)")


def build_infogan(
    params: InfoGANParams, image_shape: tuple[int, int, int], num_classes: int
) -> tuple[nn.Module, nn.Module]:
    check_infogan(params, image_shape, num_classes)
    p = params
    D = {
        "critic": lambda: Critic(image_shape, p.width, p.d_batchnorm),
        "autoencoder": lambda: Autoencoder(image_shape, p.width, p.d_batchnorm),
        "encoder": lambda: Encoder(image_shape, p.width, p.d_batchnorm, p.z_dim),
    }[p.discriminator]
    G = Generator(image_shape, p.z_dim, p.width, p.g_activation)  # G first: the RNG order
    D = D()
    set_epsilons(G, D, bn_eps=p.bn_eps)
    return G, D


ARCHITECTURES.add(
    "infogan",
    Architecture(InfoGANParams, build_infogan, check_infogan, ("critic", "autoencoder", "encoder")),
)


class ResNetParams(Block):
    """The SNGAN/SAGAN/BigGAN ResNet's switches (:class:`ResNetConfig`, which adds the
    data-derived resolution, image channels and number of classes)."""

    ch: float = Field(64, gt=0)
    z_dim: int = Field(128, ge=1)
    g_spectral_norm: bool = True
    d_spectral_norm: bool = True
    g_attention: Seq[int] = ()
    d_attention: Seq[int] = ()
    attention_block: Literal["attention", "residual"] = "attention"
    shared_embedding: bool = False
    shared_dim: int = Field(128, ge=1)
    skip_z: bool = False
    init: Literal["ortho", "normal", "xavier"] = "ortho"
    # BigGAN-PyTorch's launch scripts: --BN_eps 1e-5 --SN_eps 1e-6; these defaults are torch's
    bn_eps: float = Field(1e-5, gt=0)
    sn_eps: float = Field(1e-12, gt=0)


def resnet_config(
    params: ResNetParams, image_shape: tuple[int, int, int], num_classes: int
) -> ResNetConfig:
    c, h, _ = image_shape
    fields = params.model_dump(exclude={"bn_eps", "sn_eps"})
    return ResNetConfig(**fields, resolution=h, image_channels=c, num_classes=num_classes)


def _build_resnet(params, image_shape, num_classes):
    G, D = build_resnet(resnet_config(params, image_shape, num_classes))
    set_epsilons(G, D, bn_eps=params.bn_eps, sn_eps=params.sn_eps)
    return G, D


ARCHITECTURES.add(
    "resnet", Architecture(ResNetParams, _build_resnet, resnet_config, ("critic",), True)
)
