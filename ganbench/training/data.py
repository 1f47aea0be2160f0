"""Mini-batches whose order is a pure function of (seed, step), so a resumed run sees the same data.

A dataset that fits the device comfortably is moved there once and each batch is gathered there.
A larger one (e.g. a memory-mapped ImageNet at 128 px, 63 GB) stays on the host: then background
threads gather the batches of the next ``prefetch`` steps into pinned host memory while the
device trains, and each is copied to the device without blocking the host. What a step gets
does not depend on the path: the same indices, the same images, the same scaling.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import torch
from torch import Tensor

HOST_IMAGES_ABOVE = 2**31  # uint8 values: datasets above 2 GiB stay on the host
PREFETCH = 4  # host-resident data: batches gathered ahead of the step that needs them
WORKERS = 2  # threads gathering them (index_select releases the GIL)


class BatchSampler:
    """Shuffle once per epoch with a generator seeded by (seed, epoch); drop the last partial batch.

    ``images`` is uint8 (N, C, H, W); batches come back as floats on ``device`` in
    ``value_range`` (lo, hi): 0 -> lo, 255 -> hi, i.e. lo + (hi - lo) * x / 255 (for (-1, 1)
    torchvision's ``ToTensor`` then ``Normalize(0.5, 0.5)``, as BigGAN-PyTorch feeds D), with
    their ``labels`` (N,) int64 when given (else None). Under data
    parallelism (``world`` > 1) every process draws the same global batch of ``batch_size`` and
    keeps its ``rank``-th contiguous share, so the processes together see exactly the batch one
    process would. ``prefetch`` (default: :data:`PREFETCH` when the images stay on the host of a
    GPU, else 0) is how many later steps' batches background threads prepare; ``close`` stops
    them.
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
        prefetch: int | None = None,
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError("images must be uint8 (N, C, H, W)")
        if batch_size > images.shape[0]:
            raise ValueError(f"batch_size {batch_size} exceeds the {images.shape[0]} images")
        if labels is not None and labels.shape != (images.shape[0],):
            raise ValueError(f"labels must be ({images.shape[0]},), got {tuple(labels.shape)}")
        if batch_size % world or not 0 <= rank < world:
            raise ValueError(f"batch_size {batch_size} must split over {world} ranks (rank {rank})")
        self.device = torch.device(device)
        big = images.numel() > HOST_IMAGES_ABOVE and self.device.type != "cpu"
        self.images = images if big else images.to(device)
        self.labels = (
            None if labels is None else labels.to(device=self.images.device, dtype=torch.long)
        )
        self.batch_size, self.seed, self.value_range = batch_size, seed, value_range
        self.share = slice(rank * batch_size // world, (rank + 1) * batch_size // world)
        self.per_epoch = images.shape[0] // batch_size
        self._perms: dict[int, Tensor] = {}  # the last two epochs' permutations
        self.prefetch = (PREFETCH if big else 0) if prefetch is None else prefetch
        self._pin = self.device.type == "cuda" and self.images.device.type == "cpu"
        self._pool = ThreadPoolExecutor(WORKERS, "batches") if self.prefetch else None
        self._pending: dict[int, Future] = {}

    def permutation(self, epoch: int) -> Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.images.shape[0], generator=g)

    def indices(self, step: int) -> Tensor:
        epoch, i = divmod(step, self.per_epoch)
        if epoch not in self._perms:
            self._perms = {e: p for e, p in self._perms.items() if e == epoch - 1}
            self._perms[epoch] = self.permutation(epoch).to(self.images.device)
        return self._perms[epoch][i * self.batch_size : (i + 1) * self.batch_size][self.share]

    def batch(self, step: int) -> tuple[Tensor, Tensor | None]:
        """(images in ``value_range``, labels or None) of ``step``'s batch (this rank's share)."""
        x, y = self._prefetched(step) if self.prefetch else self._gather(self.indices(step))
        x = x.to(self.device, non_blocking=True).float().div_(255)
        lo, hi = self.value_range
        if (lo, hi) != (0.0, 1.0):
            x.mul_(hi - lo).add_(lo)
        return x, None if y is None else y.to(self.device, non_blocking=True)

    def _gather(self, idx: Tensor) -> tuple[Tensor, Tensor | None]:
        """The images (uint8) and labels at ``idx``, where the dataset lives; pinned when they
        are on the host of a GPU, so the copy to the device can be asynchronous."""
        x = torch.index_select(self.images, 0, idx)
        y = None if self.labels is None else self.labels[idx]
        if self._pin:
            x, y = x.pin_memory(), None if y is None else y.pin_memory()
        return x, y

    def _prefetched(self, step: int) -> tuple[Tensor, Tensor | None]:
        """``step``'s gathered batch, and the gathers of the next ``prefetch`` steps started. A
        step out of order (a resumed run) drops what was prepared for other steps."""
        for s in [s for s in self._pending if not step <= s <= step + self.prefetch]:
            self._pending.pop(s).cancel()
        for s in range(step, step + self.prefetch + 1):
            if s not in self._pending:  # indices on this thread: the permutation cache
                self._pending[s] = self._pool.submit(self._gather, self.indices(s))
        return self._pending.pop(step).result()

    def close(self) -> None:
        """Stop the prefetching threads (pending gathers are cancelled)."""
        if self._pool is not None:
            for f in self._pending.values():
                f.cancel()
            self._pending.clear()
            self._pool.shutdown(wait=True)
            self._pool = None
