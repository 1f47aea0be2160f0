"""The self-attention block of SAGAN (Zhang et al. 2019, arXiv 1805.08318, section 3).

As in the official code (brain-research/self-attention-gan), compare_gan and BigGAN-PyTorch, with
C channels and N = H*W positions:

    theta = conv1x1(x, C/8)                  # query, (n, C/8, N)
    phi   = maxpool2x2(conv1x1(x, C/8))      # key,   (n, C/8, N/4)
    g     = maxpool2x2(conv1x1(x, C/2))      # value, (n, C/2, N/4)
    beta  = softmax(theta^T phi, over keys)  # (n, N, N/4)
    o     = conv1x1(g beta^T, C)             # C/2 -> C
    y     = x + gamma * o                    # gamma: a learned scalar initialised to 0

All four 1x1 convolutions have no bias and are spectrally normalised (Miyato et al. 2018) unless
``spectral_norm=False``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

from ganbench.errors import ConfigError

INITS = ("ortho", "normal", "xavier")


def init_weight(weight: Tensor, scheme: str) -> None:
    """BigGAN-PyTorch's ``G_init``/``D_init``: orthogonal, N(0, 0.02) or Xavier (Glorot) uniform."""
    with torch.no_grad():
        if scheme == "ortho":
            nn.init.orthogonal_(weight)
        elif scheme == "normal":
            nn.init.normal_(weight, 0.0, 0.02)
        elif scheme == "xavier":
            nn.init.xavier_uniform_(weight)
        else:
            raise ConfigError("init", scheme, "one of " + ", ".join(INITS))


def make_layer(layer: nn.Module, *, spectral_norm: bool, init: str) -> nn.Module:
    """Initialise ``layer.weight`` (bias to 0), then wrap it in spectral norm if asked.

    Initialising before the parametrization is registered keeps its power-iteration vectors
    consistent with the weight they normalise.
    """
    init_weight(layer.weight, init)
    bias = getattr(layer, "bias", None)
    if bias is not None:
        nn.init.zeros_(bias)
    return _sn(layer) if spectral_norm else layer


class SelfAttention(nn.Module):
    """SAGAN's attention block: (n, C, H, W) -> (n, C, H, W), with C % 8 == 0 and H, W even.

    ``forward(x, return_attention=True)`` also returns beta, (n, H*W, H*W/4), whose rows (one per
    query position) sum to 1. With ``record_attention = True`` the latest beta is also kept,
    detached, in ``last_attention`` (for the attention-map figure; off by default, since at 32x32
    and batch 500 it holds half a gigabyte).
    """

    record_attention = False

    def __init__(self, channels: int, *, spectral_norm: bool = True, init: str = "ortho") -> None:
        super().__init__()
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 8:
            raise ConfigError("attention channels", channels, "a positive multiple of 8")
        if channels % 8:
            raise ConfigError("attention channels", channels, "a positive multiple of 8")
        c = channels
        self.channels = c

        def conv(cin: int, cout: int) -> nn.Module:
            return make_layer(
                nn.Conv2d(cin, cout, 1, bias=False), spectral_norm=spectral_norm, init=init
            )

        self.theta = conv(c, c // 8)
        self.phi = conv(c, c // 8)
        self.g = conv(c, c // 2)
        self.o = conv(c // 2, c)
        self.gamma = nn.Parameter(torch.zeros(()))
        self.last_attention: Tensor | None = None

    def forward(self, x: Tensor, return_attention: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(
                f"SelfAttention({self.channels}): expected input (n, {self.channels}, H, W), "
                f"got {tuple(x.shape)}"
            )
        n, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(
                f"SelfAttention({self.channels}): H and W must be even (2x2 max-pool), got {h}x{w}"
            )
        theta = self.theta(x).view(n, c // 8, h * w)  # (n, C/8, N)
        phi = F.max_pool2d(self.phi(x), 2).view(n, c // 8, h * w // 4)  # (n, C/8, N/4)
        g = F.max_pool2d(self.g(x), 2).view(n, c // 2, h * w // 4)  # (n, C/2, N/4)
        beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), dim=-1)  # (n, N, N/4)
        attended = torch.bmm(g, beta.transpose(1, 2)).view(n, c // 2, h, w)  # (n, C/2, H, W)
        y = x + self.gamma * self.o(attended)  # (n, C, H, W)
        if self.record_attention:
            self.last_attention = beta.detach()
        return (y, beta) if return_attention else y

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


__all__ = ["INITS", "SelfAttention", "init_weight", "make_layer"]
