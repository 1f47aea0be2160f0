"""Where and how a stage computes (``pipeline.device``, ``threads``, ``cudnn_benchmark``, ``tf32``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def set_threads(threads: int) -> None:
    """torch's CPU threads (0 keeps torch's default: one per core).

    The thread count is part of what decides the numbers: the trained weights differ bitwise
    between 1 and 2 threads (``benchmarks/stage_overhead.py`` compares them).
    """
    if threads:
        import torch

        torch.set_num_threads(threads)


def set_backends(*, cudnn_benchmark: bool, tf32: bool) -> None:
    """CUDA's speed switches (no effect on the CPU): cuDNN's per-shape algorithm search, and
    TensorFloat-32 for float32 matmuls and convolutions (10-bit mantissa products)."""
    import torch

    torch.backends.cudnn.benchmark = cudnn_benchmark
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
