"""Latent priors, standing BatchNorm statistics and quantised sample generation."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import torch
from torch import Tensor, nn

from ganbench.registry import Registry

LATENTS: Registry[Callable[..., Tensor]] = Registry("latent")


def noise_seed(seed: int, step: int, stream: int) -> int:
    """A 63-bit seed for the noise of one training step: a hash of (run seed, step, stream), so
    nearby steps get unrelated streams and a step's noise depends on nothing else."""
    key = hashlib.blake2b(f"{seed}/{step}/{stream}".encode(), digest_size=8).digest()
    return int.from_bytes(key, "little") >> 1


@LATENTS.register("uniform")
def uniform_latent(
    n: int,
    z_dim: int,
    *,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> Tensor:
    """z ~ U(-1, 1)^z_dim (Lucic et al. 2018)."""
    return torch.rand(n, z_dim, device=device, generator=generator) * 2 - 1


@LATENTS.register("normal")
def normal_latent(
    n: int,
    z_dim: int,
    *,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> Tensor:
    """z ~ N(0, I) (VAE prior)."""
    return torch.randn(n, z_dim, device=device, generator=generator)


def _batchnorms(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def standing_statistics(
    G: nn.Module, sample_z: Callable[[int], Tensor], *, batches: int, batch_size: int
) -> None:
    """Re-estimate G's BatchNorm running statistics as the plain average over ``batches`` batches
    of fresh samples in train mode ("standing statistics", Brock et al. 2019, app. C).

    With TF's decay 0.999 the running averages of a short run still mostly hold their
    initial values; evaluation in eval mode would then use statistics G never trained with.
    Leaves G in eval mode. ``batches == 0`` keeps the running statistics as trained.
    """
    bns = _batchnorms(G)
    if batches > 0 and bns:
        momenta = [bn.momentum for bn in bns]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative moving average: the exact mean over the batches
        G.train()
        for _ in range(batches):
            G(sample_z(batch_size))
        for bn, m in zip(bns, momenta, strict=True):
            bn.momentum = m
    G.eval()


def to_uint8(images: Tensor, value_range: tuple[float, float]) -> Tensor:
    """Floats in ``value_range`` (lo, hi) -> uint8, lo -> 0 and hi -> 255, rounding as an 8-bit
    image file would store them. For (-1, 1) this is BigGAN-PyTorch's ``(x + 1) / 2`` before its
    Inception network and image files (utils.py ``sample_sheet``, inception_utils.py)."""
    lo, hi = value_range
    x = images.float() if lo == 0 else images.float() - lo
    x = x * 255 if hi - lo == 1 else x * (255 / (hi - lo))
    return x.round_().clamp_(0, 255).to(torch.uint8)


@torch.no_grad()
def generate_uint8(
    G: nn.Module, sample_z: Callable[[int], Tensor], *, num_samples: int, batch_size: int
) -> Iterator[Tensor]:
    """Yield uint8 batches (n, C, H, W) from G, ``num_samples`` in all; G is used as it is.

    Batches stay on G's device (the feature extractor takes them from there; no host round trip).
    G's images are read in its ``value_range``.
    """
    done = 0
    while done < num_samples:
        n = min(batch_size, num_samples - done)
        yield to_uint8(G(sample_z(n)), G.value_range)
        done += n
