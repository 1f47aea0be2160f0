"""Time and memory of the SAGAN self-attention block as the feature map grows.

For each feature-map size K×K (N = K² query positions, N/4 pooled keys), times a forward and
backward pass of ``ganbench.models.attention.SelfAttention`` at batch B and C channels and reports
the size of the attention map (B × N × N/4 floats), which grows as K⁴ and dominates memory at
large K, and the process's peak RSS after that size (sizes run in increasing order, so each peak
is that size's high-water mark). Alongside: a 3×3 convolution with C channels on the same input,
the cost of one plain layer at that size, for scale.

    python benchmarks/attention_scaling.py [--channels 64] [--batch 16] [--sizes 8 16 32 64]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
from torch import nn

from ganbench.models.attention import SelfAttention


def timed(fn, rounds: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    block = SelfAttention(args.channels)
    with torch.no_grad():
        block.gamma.fill_(0.5)  # as after some training: the attention path contributes
    conv = nn.Conv2d(args.channels, args.channels, 3, padding=1)

    print(
        f"SelfAttention, C = {args.channels}, batch {args.batch}, forward + backward, "
        f"median of {args.rounds}; torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(
        f"{'K×K':>7} {'N':>6} {'attention ms':>13} {'conv3x3 ms':>11} {'ratio':>6} "
        f"{'attn map MB':>12} {'peak RSS MB':>12}"
    )
    for k in args.sizes:
        x = torch.randn(args.batch, args.channels, k, k, requires_grad=True)

        def attention_step(x=x):
            block(x).sum().backward()

        def conv_step(x=x):
            conv(x).sum().backward()

        t_attn, t_conv = timed(attention_step, args.rounds), timed(conv_step, args.rounds)
        n = k * k
        map_mb = args.batch * n * (n // 4) * 4 / 2**20
        print(
            f"{k:>3}×{k:<3} {n:>6} {t_attn * 1e3:>13.2f} {t_conv * 1e3:>11.2f} "
            f"{t_attn / t_conv:>6.1f} {map_mb:>12.1f} "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:>12.0f}"
        )


if __name__ == "__main__":
    main()
