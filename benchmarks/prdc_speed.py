"""Precision/recall/density/coverage: ours (torch float64, chunked) against clovaai's ``prdc``
(the reference package: scikit-learn distances, full N x M matrices), on the same features.

    python benchmarks/prdc_speed.py [--real 10000] [--fake 2000] [--dim 128] [--threads 1]

Prints the seconds of the real set's k-NN radii (ours; computed once per evaluate process), of
one scoring with those radii (what each checkpoint costs), of ``prdc.compute_prdc`` (radii and
scoring together), and checks that the four numbers agree.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import prdc
import torch

from ganbench.metrics.prdc import precision_recall_density_coverage, real_knn_radii


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--real", type=int, default=10_000)
    p.add_argument("--fake", type=int, default=2_000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--k", type=int, default=5)
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads (NumPy's BLAS keeps its own)"
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    real = rng.standard_normal((args.real, args.dim)).astype(np.float32)
    fake = rng.standard_normal((args.fake, args.dim)).astype(np.float32)
    t = time.perf_counter()
    radii = real_knn_radii(real, args.k)
    t_radii = time.perf_counter() - t
    t = time.perf_counter()
    ours = precision_recall_density_coverage(real, fake, k=args.k, real_radii=radii)
    t_score = time.perf_counter() - t
    t = time.perf_counter()
    theirs = prdc.compute_prdc(real, fake, args.k)
    t_ref = time.perf_counter() - t
    print(
        f"{args.real:,} real x {args.fake:,} fake, d {args.dim}, k {args.k}, torch threads {args.threads}"
    )
    print(
        f"  ours: real k-NN radii {t_radii:.2f} s, one scoring {t_score:.2f} s, together {t_radii + t_score:.2f} s"
    )
    print(f"  prdc.compute_prdc: {t_ref:.2f} s ({t_ref / (t_radii + t_score):.2f}x ours)")
    same = all(abs(ours[key] - float(theirs[key])) < 1e-12 for key in ours)
    print(f"  the four numbers agree to 1e-12: {same}")


if __name__ == "__main__":
    main()
