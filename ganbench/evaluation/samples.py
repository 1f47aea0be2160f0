"""Sampling a trained G for evaluation: the latent stream, sample grids and attention maps.

Every G is called as ``G(z, y)``. The scoring code (ganbench.metrics.evaluate) drives a label-free
callable, so :class:`LabelledGenerator` takes z with the class label in its last column: the i-th
sample of a stream has label ``i mod num_classes`` (balanced, like the reference test split, and
independent of the batch size); unconditional runs ignore it. z follows the run's prior (U(-1, 1)
or N(0, I)), optionally truncated at ``psi`` (resample ``|z| > psi``, Brock et al. 2019).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from ganbench.errors import UserError
from ganbench.io import atomic_path
from ganbench.models.attention import SelfAttention
from ganbench.models.sampling import LATENTS, standing_statistics, to_uint8
from ganbench.models.truncation import truncated_normal

LATENT_BLOCK = 1024  # z is drawn in blocks of this many rows


def draw_latent(prior: str, n: int, z_dim: int, *, psi: float | None, generator) -> Tensor:
    """``n`` latents from ``prior``, truncated at ``psi`` (N(0, I) only), on the host."""
    if prior == "normal":
        return truncated_normal(n, z_dim, psi=psi, generator=generator)
    if psi is not None:
        raise UserError(f"truncation psi {psi} needs the normal prior, not '{prior}'")
    return LATENTS.get(prior)(n, z_dim, generator=generator)


class LabelledGenerator(nn.Module):
    """Takes ``(N, z_dim + 1)``: z and, in the last column, the class label (a conditional G) or
    ``(N, z_dim)`` (an unconditional one), so the label-free scoring code can drive any G.
    Its images are G's, in G's ``value_range``."""

    def __init__(self, G: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.G, self.num_classes, self.value_range = G, num_classes, G.value_range

    def forward(self, zy: Tensor) -> Tensor:
        if not self.num_classes:
            return self.G(zy, None)
        return self.G(zy[:, :-1], zy[:, -1].long())


def latent_stream(prior: str, num_classes: int, psi: float | None):
    """A sampler for :func:`~ganbench.metrics.evaluate.seeded_latent`: z, with balanced labels
    appended when ``num_classes`` > 0.

    Truncated or labelled z is drawn in fixed blocks of :data:`LATENT_BLOCK` rows and handed out
    from a buffer, so the samples (and the scores) never depend on the evaluation batch size:
    truncation resamples a data-dependent number of entries. Plain z is drawn as asked (the CPU
    streams of both priors are the same drawn at once or in pieces of 16 values).

    Each stream (each seeded generator the sampler is called with) has its own buffer and label
    counter: :func:`~ganbench.metrics.evaluate.score_generator` draws the standing statistics
    from evaluation.seed + 1 and the samples from evaluation.seed, and the sample set is
    evaluation.seed's stream from its first row, labels 0, 1, 2, ... (until issue 10 the two
    streams shared one buffer, so a sample set began with the standing stream's leftover rows).
    """
    if not num_classes and psi is None:
        return lambda n, z_dim, *, device="cpu", generator=None: draw_latent(
            prior, n, z_dim, psi=None, generator=generator
        ).to(device)
    streams: dict[int, list] = {}  # id(generator) -> [the generator, label counter, buffer]

    def sample(n: int, z_dim: int, *, device="cpu", generator=None) -> Tensor:
        if id(generator) not in streams:
            streams[id(generator)] = [generator, 0, torch.empty(0, z_dim)]  # keeps it alive
        state = streams[id(generator)]
        while state[2].shape[0] < n:
            block = draw_latent(prior, LATENT_BLOCK, z_dim, psi=psi, generator=generator)
            state[2] = torch.cat([state[2], block])
        z, state[2] = state[2][:n], state[2][n:]
        if not num_classes:
            return z.to(device)
        y = torch.arange(state[1], state[1] + n) % num_classes
        state[1] += n
        return torch.cat([z, y[:, None].float()], dim=1).to(device)

    return sample


def standing(G: nn.Module, prior: str, num_classes: int, z_dim: int, evaluation, device) -> None:
    """Standing BatchNorm statistics of G from the evaluation's ``seed + 1`` stream."""
    from ganbench.metrics.evaluate import seeded_latent

    standing_statistics(
        LabelledGenerator(G, num_classes),
        seeded_latent(latent_stream(prior, num_classes, None), z_dim, evaluation.seed + 1, device),
        batches=evaluation.standing_stats_batches,
        batch_size=evaluation.standing_stats_batch_size,
    )


@torch.no_grad()
def sample_grid(G, spec, evaluation, grid_size: int, psi: float | None, device) -> Tensor:
    """uint8 (rows * grid_size, C, H, W): one row per class when conditional, else grid_size
    rows; standing statistics first, z from ``evaluation.seed``."""
    prior = spec.recipe.training.latent
    standing(G, prior, spec.num_classes, spec.z_dim, evaluation, device)
    rows = spec.num_classes or grid_size
    g = torch.Generator().manual_seed(evaluation.seed)
    z = draw_latent(prior, rows * grid_size, spec.z_dim, psi=psi, generator=g)
    y = torch.arange(rows).repeat_interleave(grid_size).to(device) if spec.num_classes else None
    return to_uint8(G(z.to(device), y), G.value_range).cpu()


def write_grid_png(path, images: Tensor, *, nrow: int, padding: int = 2) -> None:
    """uint8 (N, C, H, W) -> one PNG with ``nrow`` images per row, ``padding`` black pixels apart."""
    from PIL import Image

    n, c, h, w = images.shape
    rows = -(-n // nrow)
    grid = torch.zeros(
        c, padding + rows * (h + padding), padding + nrow * (w + padding), dtype=torch.uint8
    )
    for i in range(n):
        r, k = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + k * (w + padding)
        grid[:, y : y + h, x : x + w] = images[i]
    array = grid.permute(1, 2, 0).numpy()
    image = Image.fromarray(array[..., 0] if c == 1 else array)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


@torch.no_grad()
def attention_maps(G, spec, evaluation, queries: int, device):
    """One generated image (class 0) and, for ``queries`` query locations of G's last attention
    block (on a ring around the centre, where the object is), the attention over key positions
    upsampled to the image size: (image (C, R, R) uint8, maps (Q, R, R), query pixels, map size)."""
    block = [m for m in G.modules() if isinstance(m, SelfAttention)][-1]
    standing(G, spec.recipe.training.latent, spec.num_classes, spec.z_dim, evaluation, device)
    block.record_attention = True
    try:
        g = torch.Generator().manual_seed(evaluation.seed)
        z = torch.randn(1, spec.z_dim, generator=g).to(device)
        y = torch.zeros(1, dtype=torch.long, device=device) if spec.num_classes else None
        image = to_uint8(G(z, y), G.value_range)[0].cpu()
        beta = block.last_attention[0].float().cpu()  # (N, N/4)
    finally:
        block.record_attention, block.last_attention = False, None
    size = math.isqrt(beta.shape[0])  # the block's feature map is size x size
    res = image.shape[-1]
    angles = np.linspace(0, 2 * np.pi, queries, endpoint=False) + np.pi / 4
    radius = size / 4
    points = [
        (
            int(np.clip(round(size / 2 - 0.5 + radius * np.sin(a)), 0, size - 1)),
            int(np.clip(round(size / 2 - 0.5 + radius * np.cos(a)), 0, size - 1)),
        )
        for a in angles
    ]
    maps = []
    for r, c in points:
        m = beta[r * size + c].view(1, 1, size // 2, size // 2)
        maps.append(torch.nn.functional.interpolate(m, size=(res, res), mode="nearest")[0, 0])
    scale = res / size
    pixels = [(int((r + 0.5) * scale), int((c + 0.5) * scale)) for r, c in points]
    return image, torch.stack(maps), pixels, size


def save_attention_figure(path, G, spec, evaluation, queries: int, device) -> None:
    """The SAGAN paper's attention figure: the image with the query points, then one panel per
    query showing where the attention block attends (the softmax weights over key positions)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    image, maps, pixels, size = attention_maps(G, spec, evaluation, queries, device)
    q = len(pixels)
    fig = Figure(figsize=(2.0 * (q + 1), 2.3), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, q + 1)
    img = image.permute(1, 2, 0).numpy()
    cmap = "gray" if img.shape[-1] == 1 else None
    img = img[..., 0] if img.shape[-1] == 1 else img
    colours = ["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:cyan"]
    axes[0].imshow(img, cmap=cmap, vmin=0, vmax=255)
    axes[0].set_title(f"sample (attention at {size}x{size})", fontsize=7)
    for i, (r, c) in enumerate(pixels):
        colour = colours[i % len(colours)]
        axes[0].plot(c, r, "o", color=colour, markersize=5)
        axes[i + 1].imshow(img, cmap=cmap, vmin=0, vmax=255)
        axes[i + 1].imshow(maps[i].numpy(), cmap="inferno", alpha=0.6)
        axes[i + 1].plot(c, r, "o", color=colour, markersize=5)
        axes[i + 1].set_title(f"query {i + 1}", fontsize=7)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
