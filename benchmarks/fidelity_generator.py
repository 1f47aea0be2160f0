"""Shared by the metric benchmarks: the generator both sides evaluate, in both sides' contracts."""

from __future__ import annotations

import torch
from torch import nn

from ganbench.config import Hyperparameters, RunConfig, TrainConfig
from ganbench.losses import LOSSES
from ganbench.training.loop import build_networks
from ganbench.training.sampling import to_uint8


def lucic_generator(device: torch.device) -> nn.Module:
    """The InfoGAN G of Lucic et al. at width 1 (28×28×1, NS GAN), seed 0, in eval mode."""
    run = RunConfig("lucic", "fashion_mnist", "ns", 0, Hyperparameters(), TrainConfig(width=1.0))
    torch.manual_seed(0)
    G, _ = build_networks(run, LOSSES.get("ns")(run.hparams), (1, 28, 28))
    return G.to(device).eval()


class UInt8RGB(nn.Module):
    """torch-fidelity's generator contract: z ~ U[0, 1) in, uint8 N×3×H×W out (G takes 2z − 1)."""

    def __init__(self, G: nn.Module) -> None:
        super().__init__()
        self.G = G

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return to_uint8(self.G(2 * z - 1)).expand(-1, 3, -1, -1)
