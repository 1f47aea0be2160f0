"""Seconds per KID: ganbench's kernel_inception_distance against torch-fidelity, at equal precision.

Builds two seeded sets of ReLU-like features (N x d, correlated, non-negative like InceptionV3's
pool3 output; the second set shifted) and times ``ganbench.metrics.kid.kernel_inception_distance``
against torch-fidelity's ``kid_features_to_metric`` with the same subsets (same seed: same draws),
alternating within one process so load changes hit both alike. torch-fidelity computes in the
dtype of the tensors it is given (``features.cpu().numpy()``; float32 from its own extractors), so
each precision is timed at equal precision:

* float64: ours (``precision="float64"``, the default) vs torch-fidelity on float64 tensors;
* float32: ours (``precision="float32"``: float32 Gram and kernel, float64 sums) vs torch-fidelity
  on float32 tensors (float32 throughout, its sums included).

Prints median / min / max seconds, the speed-up of ours (target: >= 1x at equal precision) and the
values with their relative difference to the float64 result.

    python benchmarks/kid_speed.py [--n 10000] [--dim 2048] [--subsets 100] [--subset-size 1000]
                                   [--rounds 3] [--precision both|float64|float32]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch_fidelity.metric_kid import (
    KEY_METRIC_KID_MEAN,
    KEY_METRIC_KID_STD,
    kid_features_to_metric,
)

from ganbench.metrics.kid import kernel_inception_distance


def feature_sets(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two seeded float64 ReLU-feature sets (n x dim)."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    real = np.maximum(rng.normal(size=(n, dim)) @ mixing, 0.0)
    fake = np.maximum(rng.normal(size=(n, dim)) @ mixing * 1.05 + 0.05, 0.0)
    return real, fake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="features per set")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--subsets", type=int, default=100)
    parser.add_argument("--subset-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precision", choices=["both", "float64", "float32"], default="both")
    parser.add_argument("--seed", type=int, default=2020, help="subset draws (both sides)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    real, fake = feature_sets(args.n, args.dim, 0)
    settings = {"subsets": args.subsets, "subset_size": args.subset_size, "seed": args.seed}
    tf_settings = {
        "kid_subsets": args.subsets,
        "kid_subset_size": args.subset_size,
        "rng_seed": args.seed,
        "verbose": False,
    }
    precisions = ["float64", "float32"] if args.precision == "both" else [args.precision]

    def ours(precision: str, f1: np.ndarray, f2: np.ndarray) -> tuple[float, float]:
        return kernel_inception_distance(f1, f2, precision=precision, **settings)

    def theirs(f1: torch.Tensor, f2: torch.Tensor) -> tuple[float, float]:
        out = kid_features_to_metric(f1, f2, **tf_settings)
        return out[KEY_METRIC_KID_MEAN], out[KEY_METRIC_KID_STD]

    impls = {}
    for p in precisions:
        f1, f2 = real.astype(p), fake.astype(p)
        impls[f"ganbench {p}"] = lambda p=p, f1=f1, f2=f2: ours(p, f1, f2)
        t1, t2 = torch.from_numpy(f1), torch.from_numpy(f2)
        impls[f"torch-fidelity {p}"] = lambda t1=t1, t2=t2: theirs(t1, t2)
    precision = {
        "ganbench float64": "float64 throughout",
        "ganbench float32": "float32 features, Gram (sgemm/ssyrk) and kernel; float64 sums",
        "torch-fidelity float64": "float64 throughout (given float64 tensors)",
        "torch-fidelity float32": "float32 throughout, sums included (its extractors' dtype)",
    }
    kernel_inception_distance(real[:64], fake[:64], subsets=2, subset_size=32)  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in impls}
    values: dict[str, tuple[float, float]] = {}
    for r in range(args.rounds):  # alternate the order so drift hits all alike
        for name in list(impls)[:: 1 if r % 2 == 0 else -1]:
            start = time.perf_counter()
            values[name] = impls[name]()
            seconds[name].append(time.perf_counter() - start)
    med = {name: statistics.median(v) for name, v in seconds.items()}
    exact = values.get("ganbench float64", values[next(iter(values))])
    print(
        f"KID, {args.n} x {args.dim} features per set, {args.subsets} subsets x "
        f"{args.subset_size}, degree 3; numpy {np.__version__}, torch {torch.__version__}; "
        f"{args.rounds} rounds (median [min, max] s)"
    )
    for name in impls:
        mean, std = values[name]
        print(
            f"  {name:23s} {med[name]:7.2f} s [{min(seconds[name]):.2f}, {max(seconds[name]):.2f}]"
            f"  KID {mean:.10g} ± {std:.4g}  rel. diff to ganbench float64: mean "
            f"{abs(mean - exact[0]) / abs(exact[0]):.1e}, std {abs(std - exact[1]) / exact[1]:.1e}"
            f"\n  {'':23s} {precision[name]}"
        )
    for p in precisions:
        a, b = f"ganbench {p}", f"torch-fidelity {p}"
        print(
            f"  speed-up of ganbench over torch-fidelity at {p}: {med[b] / med[a]:.2f}x (per round: "
            + ", ".join(f"{x / y:.2f}" for x, y in zip(seconds[b], seconds[a], strict=True))
            + ")"
        )
    print("  target: >= 1x at equal precision")


if __name__ == "__main__":
    main()
