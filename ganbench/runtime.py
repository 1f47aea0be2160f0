"""Where a stage computes (``pipeline.device``, ``pipeline.threads`` in params)."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def set_threads(threads: int) -> None:
    """torch's CPU threads (0 keeps torch's default)."""
    if threads:
        torch.set_num_threads(threads)
