"""The InfoGAN-style networks every model of Lucic et al. 2018 shares (their Table 4 / appendix).

Channel counts are the paper's times ``width``. Images are N x C x H x W in [0, 1] with H, W
divisible by 4 (28, 32, 64). 4x4 stride-2 convolutions with padding 1 match TF's SAME padding.

    D (critic):      conv 64 s2 -> lReLU -> conv 128 s2 -> [BN] -> lReLU -> FC 1024 -> [BN] -> lReLU -> FC 1
    G:               FC 1024 -> BN -> act -> FC 128*H/4*W/4 -> BN -> act -> deconv 64 -> BN -> act
                     -> deconv C -> sigmoid                                 (act: lReLU, VAE: ReLU)
    D (autoencoder): conv 64 s2 -> lReLU -> conv 128 s2 -> FC 64 [BN] -> lReLU -> FC 128*H/4*W/4 [BN]
                     -> lReLU -> deconv 64 [BN] -> lReLU -> deconv C -> sigmoid            (BEGAN)
    D (encoder):     the critic's trunk -> FC 2*z_dim -> (mu, sigma = 1e-6 + softplus)       (VAE)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganbench.models.init import batchnorm, init_lucic

SLOPE = 0.2  # leaky ReLU slope
CODE_DIM = 64  # BEGAN autoencoder bottleneck


def _ch(base: int, width: float) -> int:
    return max(1, round(base * width))


def _unconditional(y: Tensor | None) -> None:
    """Every network takes ``(input, y)``; these are unconditional (Lucic et al. 2018)."""
    if y is not None:
        raise ValueError("the InfoGAN-style networks are unconditional: y must be None")


def _act(name: str) -> nn.Module:
    return nn.LeakyReLU(SLOPE) if name == "lrelu" else nn.ReLU()


def _maybe_bn(enabled: bool, n: int, dims: int) -> list[nn.Module]:
    return [batchnorm(n, dims)] if enabled else []


class Generator(nn.Module):
    """z (N, z_dim) -> images (N, C, H, W) in [0, 1]; ``logits`` gives the pre-sigmoid output."""

    value_range = (0.0, 1.0)  # compare_gan v1: sigmoid output, data in [0, 1]

    def __init__(
        self, image_shape: tuple[int, int, int], z_dim: int, width: float, activation: str = "lrelu"
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        c1, c2, c3 = _ch(1024, width), _ch(128, width), _ch(64, width)
        self.image_shape, self.z_dim = tuple(image_shape), z_dim
        self._grid = (c2, h // 4, w // 4)
        self.fc = nn.Sequential(
            nn.Linear(z_dim, c1),
            batchnorm(c1, 1),
            _act(activation),
            nn.Linear(c1, c2 * (h // 4) * (w // 4)),
            batchnorm(c2 * (h // 4) * (w // 4), 1),
            _act(activation),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(c2, c3, 4, 2, 1),
            batchnorm(c3, 2),
            _act(activation),
            nn.ConvTranspose2d(c3, c, 4, 2, 1),
        )
        init_lucic(self)

    def logits(self, z: Tensor) -> Tensor:
        h = self.fc(z).view(z.shape[0], *self._grid)  # (N, 128w, H/4, W/4)
        return self.deconv(h)  # (N, C, H, W)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        _unconditional(y)
        return torch.sigmoid(self.logits(z))


class _Trunk(nn.Sequential):
    """conv 64 s2 -> lReLU -> conv 128 s2 -> [BN] -> lReLU -> FC 1024 -> [BN] -> lReLU."""

    def __init__(self, image_shape: tuple[int, int, int], width: float, bn: bool) -> None:
        c, h, w = image_shape
        c1, c2, c3 = _ch(64, width), _ch(128, width), _ch(1024, width)
        super().__init__(
            nn.Conv2d(c, c1, 4, 2, 1),
            nn.LeakyReLU(SLOPE),
            nn.Conv2d(c1, c2, 4, 2, 1),
            *_maybe_bn(bn, c2, 2),
            nn.LeakyReLU(SLOPE),
            nn.Flatten(),
            nn.Linear(c2 * (h // 4) * (w // 4), c3),
            *_maybe_bn(bn, c3, 1),
            nn.LeakyReLU(SLOPE),
        )
        self.out_features = c3


class Critic(nn.Module):
    """images (N, C, H, W) -> logits (N,)."""

    def __init__(self, image_shape: tuple[int, int, int], width: float, bn: bool) -> None:
        super().__init__()
        self.trunk = _Trunk(image_shape, width, bn)
        self.head = nn.Linear(self.trunk.out_features, 1)
        init_lucic(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        _unconditional(y)
        return self.head(self.trunk(x)).squeeze(1)


class Encoder(nn.Module):
    """images (N, C, H, W) -> (mu, sigma), each (N, z_dim); sigma = 1e-6 + softplus(.)."""

    def __init__(
        self, image_shape: tuple[int, int, int], width: float, bn: bool, z_dim: int
    ) -> None:
        super().__init__()
        self.trunk = _Trunk(image_shape, width, bn)
        self.head = nn.Linear(self.trunk.out_features, 2 * z_dim)
        init_lucic(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        _unconditional(y)
        mu, raw = self.head(self.trunk(x)).chunk(2, dim=1)
        return mu, 1e-6 + F.softplus(raw)


class Autoencoder(nn.Module):
    """BEGAN's discriminator: images (N, C, H, W) -> reconstructions (N, C, H, W) in [0, 1]."""

    def __init__(self, image_shape: tuple[int, int, int], width: float, bn: bool) -> None:
        super().__init__()
        c, h, w = image_shape
        c1, c2 = _ch(64, width), _ch(128, width)
        self._grid = (c2, h // 4, w // 4)
        flat = c2 * (h // 4) * (w // 4)
        self.encode = nn.Sequential(
            nn.Conv2d(c, c1, 4, 2, 1),
            nn.LeakyReLU(SLOPE),
            nn.Conv2d(c1, c2, 4, 2, 1),
            nn.Flatten(),
            nn.Linear(flat, CODE_DIM),
            *_maybe_bn(bn, CODE_DIM, 1),
            nn.LeakyReLU(SLOPE),
        )
        self.decode_fc = nn.Sequential(
            nn.Linear(CODE_DIM, flat), *_maybe_bn(bn, flat, 1), nn.LeakyReLU(SLOPE)
        )
        self.decode_conv = nn.Sequential(
            nn.ConvTranspose2d(c2, c1, 4, 2, 1),
            *_maybe_bn(bn, c1, 2),
            nn.LeakyReLU(SLOPE),
            nn.ConvTranspose2d(c1, c, 4, 2, 1),
            nn.Sigmoid(),
        )
        init_lucic(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        _unconditional(y)
        h = self.decode_fc(self.encode(x)).view(x.shape[0], *self._grid)
        return self.decode_conv(h)
