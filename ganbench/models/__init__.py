"""Architectures, registered by name. An entry builds (G, D) for an objective's D variant."""

from __future__ import annotations

from torch import nn

from ganbench.errors import ConfigError
from ganbench.models.attention import SelfAttention
from ganbench.models.infogan import Autoencoder, Critic, Encoder, Generator
from ganbench.models.resnet import (
    ResNetConfig,
    ResNetDiscriminator,
    ResNetGenerator,
    build_resnet,
    count_parameters,
)
from ganbench.registry import Registry

ARCHITECTURES: Registry = Registry("architecture")
#: The SAGAN/BigGAN ablations' architectures: name -> builder(ResNetConfig) -> (G, D); G(z, y),
#: D(x, y), y None when unconditional. Params name them in ``<study>.arch``.
ABLATION_ARCHITECTURES: Registry = Registry("arch")
ABLATION_ARCHITECTURES.add("resnet", build_resnet)


@ARCHITECTURES.register("infogan")
def build_infogan(
    *,
    image_shape: tuple[int, int, int],
    z_dim: int,
    width: float,
    discriminator: str,
    d_batchnorm: bool,
    generator_activation: str = "lrelu",
) -> tuple[nn.Module, nn.Module]:
    """The networks of Lucic et al. 2018 for one objective's D variant."""
    _, h, w = image_shape
    if h % 4 or w % 4:
        raise ConfigError("dataset image size", (h, w), "height and width divisible by 4")
    builders = {
        "critic": lambda: Critic(image_shape, width, d_batchnorm),
        "autoencoder": lambda: Autoencoder(image_shape, width, d_batchnorm),
        "encoder": lambda: Encoder(image_shape, width, d_batchnorm, z_dim),
    }
    if discriminator not in builders:
        raise ConfigError("discriminator", discriminator, "one of " + ", ".join(builders))
    G = Generator(image_shape, z_dim, width, generator_activation)
    return G, builders[discriminator]()


__all__ = [
    "ABLATION_ARCHITECTURES",
    "ARCHITECTURES",
    "Autoencoder",
    "Critic",
    "Encoder",
    "Generator",
    "ResNetConfig",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "SelfAttention",
    "build_infogan",
    "build_resnet",
    "count_parameters",
]
