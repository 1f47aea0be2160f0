"""Mini-batches whose order is a pure function of (seed, step), so a resumed run sees the same data."""

from __future__ import annotations

import torch
from torch import Tensor


class BatchSampler:
    """Shuffle once per epoch with a generator seeded by (seed, epoch); drop the last partial batch.

    ``images`` is uint8 (N, C, H, W); batches come back as float in [0, 1] on ``device``.
    """

    def __init__(
        self, images: Tensor, batch_size: int, *, seed: int, device: torch.device | str = "cpu"
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError("images must be uint8 (N, C, H, W)")
        if batch_size > images.shape[0]:
            raise ValueError(f"batch_size {batch_size} exceeds the {images.shape[0]} images")
        self.images = images.to(device)
        self.batch_size, self.seed = batch_size, seed
        self.per_epoch = images.shape[0] // batch_size
        self._epoch, self._perm = -1, None

    def permutation(self, epoch: int) -> Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.images.shape[0], generator=g)

    def batch(self, step: int) -> Tensor:
        epoch, i = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._epoch, self._perm = epoch, self.permutation(epoch).to(self.images.device)
        idx = self._perm[i * self.batch_size : (i + 1) * self.batch_size]
        return self.images[idx].float().div_(255)
