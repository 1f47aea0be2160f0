"""Seconds per FID from feature statistics: ganbench's frechet_distance against pytorch-fid.

Builds two seeded sets of ReLU-like features (N x d, correlated, non-negative like InceptionV3's
pool3 output; the second set shifted), takes their float64 mean and covariance, and times
``ganbench.metrics.fid.frechet_distance`` against pytorch-fid's ``calculate_frechet_distance``
(scipy.linalg.sqrtm of Σ1 Σ2) and, with --torch-fidelity, torch-fidelity's
``fid_statistics_to_metric`` (numpy.linalg.eigvals of Σ1 Σ2), all in float64, alternating within
one process so load changes hit all alike, after one untimed warm-up call each (printed as "first
call"). Prints median / min / max seconds, the speed-up of ours (target at d = 2048: >= 10x over
pytorch-fid) and the values with their relative difference (target <= 1e-6).

    python benchmarks/fid_speed.py [--dim 2048] [--samples 5000] [--rounds 3] [--torch-fidelity]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from pytorch_fid.fid_score import calculate_frechet_distance
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

from ganbench.metrics.fid import feature_statistics, frechet_distance


def statistics_pair(dim: int, samples: int, seed: int) -> tuple[np.ndarray, ...]:
    """(mu1, sigma1, mu2, sigma2) of two seeded ReLU-feature sets (samples x dim)."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    real = np.maximum(rng.normal(size=(samples, dim)) @ mixing, 0.0)
    fake = np.maximum(rng.normal(size=(samples, dim)) @ mixing * 1.05 + 0.05, 0.0)
    return (*feature_statistics(real), *feature_statistics(fake))


def torch_fidelity_fid(mu1, sigma1, mu2, sigma2) -> float:
    stats1, stats2 = {"mu": mu1, "sigma": sigma1}, {"mu": mu2, "sigma": sigma2}
    return fid_statistics_to_metric(stats1, stats2, verbose=False)[KEY_METRIC_FID]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=2048, help="feature dimension d")
    parser.add_argument("--samples", type=int, default=5000, help="features per set (> d: PD)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--torch-fidelity",
        action="store_true",
        help="also time torch-fidelity (~2 s per round at d = 2048)",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    stats = statistics_pair(args.dim, args.samples, args.seed)
    impls = {"ganbench": frechet_distance, "pytorch-fid": calculate_frechet_distance}
    if args.torch_fidelity:
        impls["torch-fidelity"] = torch_fidelity_fid
    precision = {
        "ganbench": "float64: Cholesky x2, 2 matmuls, eigvalsh (torch.linalg, MKL)",
        "pytorch-fid": "float64: scipy.linalg.sqrtm(Σ1 Σ2) (complex Schur)",
        "torch-fidelity": "float64: numpy.linalg.eigvals(Σ1 Σ2) (non-symmetric eig)",
    }
    first: dict[str, float] = {}
    for name, impl in impls.items():  # untimed warm-up round (one-time library set-up), reported
        start = time.perf_counter()
        impl(*stats)
        first[name] = time.perf_counter() - start
    seconds: dict[str, list[float]] = {name: [] for name in impls}
    values: dict[str, float] = {}
    for r in range(args.rounds):  # alternate the order so drift hits all alike
        for name in list(impls)[:: 1 if r % 2 == 0 else -1]:
            start = time.perf_counter()
            values[name] = float(impls[name](*stats))
            seconds[name].append(time.perf_counter() - start)
    med = {name: statistics.median(v) for name, v in seconds.items()}
    print(
        f"FID, d = {args.dim}, statistics of {args.samples} samples per set; torch "
        f"{torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}; "
        f"{args.rounds} rounds after a warm-up round (median [min, max] s)"
    )
    for name in impls:
        print(
            f"  {name:15s} {med[name]:8.3f} s [{min(seconds[name]):.3f}, {max(seconds[name]):.3f}]"
            f" (first call {first[name]:.3f} s)  FID {values[name]:.12g}  rel. diff to ganbench "
            f"{abs(values[name] - values['ganbench']) / abs(values['ganbench']):.1e}"
            f"\n  {'':15s} {precision[name]}"
        )
    for name in impls:
        if name != "ganbench":
            print(
                f"  speed-up of ganbench over {name}: {med[name] / med['ganbench']:.1f}x "
                f"(per round: "
                + ", ".join(
                    f"{a / b:.1f}" for a, b in zip(seconds[name], seconds["ganbench"], strict=True)
                )
                + ")"
            )
    print("  targets at d = 2048: >= 10x over pytorch-fid, rel. diff <= 1e-6")


if __name__ == "__main__":
    main()
