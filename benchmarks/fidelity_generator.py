"""Shared by the metric benchmarks: the generator both sides evaluate, in both sides' contracts."""

from __future__ import annotations

import torch
from recipes import bench_spec
from torch import nn

from ganbench.models.sampling import to_uint8
from ganbench.plan import build_networks


def lucic_generator(device: torch.device) -> nn.Module:
    """The InfoGAN G of Lucic et al. at width 1 (28×28×1, NS GAN), seed 0, in eval mode."""
    spec = bench_spec(
        "fashion_mnist", {"name": "infogan", "width": 1.0}, "ns", {}, latent="uniform"
    )
    torch.manual_seed(0)
    G, _ = build_networks(spec)
    return G.to(device).eval()


class UInt8RGB(nn.Module):
    """torch-fidelity's generator contract: z ~ U[0, 1) in, uint8 N×3×H×W out (G takes 2z − 1)."""

    def __init__(self, G: nn.Module) -> None:
        super().__init__()
        self.G = G

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return to_uint8(self.G(2 * z - 1), self.G.value_range).expand(-1, 3, -1, -1)
