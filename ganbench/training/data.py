"""Mini-batches whose order is a pure function of (seed, step), so a resumed run sees the same data."""

from __future__ import annotations

import torch
from torch import Tensor

HOST_IMAGES_ABOVE = 2**31  # uint8 values: datasets above 2 GiB stay on the host


class BatchSampler:
    """Shuffle once per epoch with a generator seeded by (seed, epoch); drop the last partial batch.

    ``images`` is uint8 (N, C, H, W); batches come back as floats on ``device`` in
    ``value_range`` (lo, hi): 0 -> lo, 255 -> hi, i.e. lo + (hi - lo) * x / 255 (for (-1, 1)
    torchvision's ``ToTensor`` then ``Normalize(0.5, 0.5)``, as BigGAN-PyTorch feeds D), with
    their ``labels`` (N,) int64 when given (else None). Under data
    parallelism (``world`` > 1) every process draws the same global batch of ``batch_size`` and
    keeps its ``rank``-th contiguous share, so the processes together see exactly the batch one
    process would.
    """

    def __init__(
        self,
        images: Tensor,
        batch_size: int,
        *,
        seed: int,
        device: torch.device | str = "cpu",
        labels: Tensor | None = None,
        rank: int = 0,
        world: int = 1,
        value_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError("images must be uint8 (N, C, H, W)")
        if batch_size > images.shape[0]:
            raise ValueError(f"batch_size {batch_size} exceeds the {images.shape[0]} images")
        if labels is not None and labels.shape != (images.shape[0],):
            raise ValueError(f"labels must be ({images.shape[0]},), got {tuple(labels.shape)}")
        if batch_size % world or not 0 <= rank < world:
            raise ValueError(f"batch_size {batch_size} must split over {world} ranks (rank {rank})")
        # Images stay on the host when they would not fit the device comfortably (e.g. a
        # memory-mapped ImageNet); batches are then gathered there and moved one at a time.
        self.device = torch.device(device)
        big = images.numel() > HOST_IMAGES_ABOVE and self.device.type != "cpu"
        self.images = images if big else images.to(device)
        self.labels = (
            None if labels is None else labels.to(device=self.images.device, dtype=torch.long)
        )
        self.batch_size, self.seed, self.value_range = batch_size, seed, value_range
        self.share = slice(rank * batch_size // world, (rank + 1) * batch_size // world)
        self.per_epoch = images.shape[0] // batch_size
        self._epoch, self._perm = -1, None

    def permutation(self, epoch: int) -> Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.images.shape[0], generator=g)

    def indices(self, step: int) -> Tensor:
        epoch, i = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._epoch, self._perm = epoch, self.permutation(epoch).to(self.images.device)
        return self._perm[i * self.batch_size : (i + 1) * self.batch_size][self.share]

    def batch(self, step: int) -> tuple[Tensor, Tensor | None]:
        """(images in ``value_range``, labels or None) of ``step``'s batch (this rank's share)."""
        idx = self.indices(step)
        x = self.images[idx].to(self.device).float().div_(255)
        lo, hi = self.value_range
        if (lo, hi) != (0.0, 1.0):
            x.mul_(hi - lo).add_(lo)
        return x, None if self.labels is None else self.labels[idx].to(self.device)
