"""Shared timing for the training-throughput benchmarks: loops alternate in rounds within one
process, so load changes hit them alike; the per-round ratio cancels slow drift."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed(step: Callable[[], object], n: int) -> float:
    """Steps per second of ``n`` calls of ``step``."""
    start = time.perf_counter()
    for _ in range(n):
        step()
    return n / (time.perf_counter() - start)


def paired_rounds(
    loops: dict[str, Callable[[], object]], *, steps: int, rounds: int, warmup: int = 3
) -> dict[str, list[float]]:
    """Steps/s of each loop per round; the order alternates from round to round."""
    for step in loops.values():  # allocator, kernels, Adam state
        timed(step, warmup)
    rates: dict[str, list[float]] = {name: [] for name in loops}
    for r in range(rounds):
        for name in list(loops)[:: 1 if r % 2 == 0 else -1]:
            rates[name].append(timed(loops[name], steps))
    return rates


def print_overhead(
    rates: dict[str, list[float]], ours: str = "ganbench", bare: str = "bare"
) -> float:
    """Print medians, the overhead of ``ours`` and the median per-round ratio; return the latter."""
    med = {k: statistics.median(v) for k, v in rates.items()}
    pairs = list(zip(rates[ours], rates[bare], strict=True))
    paired = statistics.median(b / o for o, b in pairs)
    for k, v in med.items():
        print(f"  {k:9s} {v:7.3f} D+G steps/s")
    print(
        f"  overhead of {ours} vs {bare} loop: {(med[bare] / med[ours] - 1) * 100:+.1f}% "
        f"(time per step ratio {med[bare] / med[ours]:.3f}; target <= 1.05)"
    )
    print(
        f"  median of per-round ratios: {paired:.3f} ({(paired - 1) * 100:+.1f}%; "
        f"rounds {', '.join(f'{b / o:.2f}' for o, b in pairs)})"
    )
    return paired
