"""Precision, recall, density and coverage of a generated feature set against a real one.

Real features X = {x₁ … x_N}, generated ("fake") features Y = {y₁ … y_M}, Euclidean distance
d(·,·). The k-NN radius of a sample is the distance to its k-th nearest neighbour in its own set,
the sample itself excluded; it is computed as the (k+1)-th smallest distance with the self-distance
(exactly 0) included, as the reference implementations do:

    r(xᵢ) = (k+1)-th smallest of {d(xᵢ, xₗ) : l = 1 … N},    likewise r(yⱼ) within Y.

Improved precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric
for Assessing Generative Models", NeurIPS, sec. 2, eq. 1–2):

    precision = 1/M Σⱼ 1[∃ i: d(yⱼ, xᵢ) < r(xᵢ)]    fake samples inside the real manifold
    recall    = 1/N Σᵢ 1[∃ j: d(xᵢ, yⱼ) < r(yⱼ)]    real samples inside the fake manifold

Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative
Models", ICML, sec. 3.1–3.2, eq. 3–4):

    density  = 1/(kM) Σⱼ Σᵢ 1[d(yⱼ, xᵢ) < r(xᵢ)]    (≥ 0, can exceed 1)
    coverage = 1/N Σᵢ 1[∃ j: d(xᵢ, yⱼ) < r(xᵢ)]     = 1/N Σᵢ 1[minⱼ d(xᵢ, yⱼ) < r(xᵢ)]

Conventions follow clovaai's reference package ``prdc`` (0.2, ``compute_prdc``): Euclidean
distances, radius = (k+1)-th smallest distance including the self-distance 0, and a *strict* ``<``
for all four metrics (the papers write the ball as closed, d ≤ r). Equal inputs give ``prdc``'s
numbers; the tests check this to 1e-12.

torch-fidelity 0.4.0 (``metric_prc.py``, default ``prc_neighborhood`` = 3, here ``k``) computes
the same precision and recall (its ``input1`` is the generated set, ``input2`` the real one, and it
also takes the (k+1)-th smallest distance including self) with two differences:

* it uses ``<=`` (closed balls), so a fake sample at exactly the radius of a real one counts for
  it and not here. The two agree whenever no cross distance equals a radius exactly, which is the
  case for continuous features; ties arise with duplicated or quantised features. A duplicated
  sample whose radius is 0 (k or more copies of it) covers nothing here and its copies there;
* it computes distances with ``torch.cdist`` in the features' dtype (float32 in its pipeline),
  whose matmul path does not give an exactly 0 self-distance; near-ties may then go either way.

It computes neither density nor coverage.

Device: the arithmetic runs in torch on ``device`` (the evaluation's: a GPU run scores there, in
chunks; default the CPU); inputs and outputs are NumPy. Numerics: all arithmetic is float64
(inputs are converted). Distances use
‖a − b‖² = ‖a‖² + ‖b‖² − 2 a·b, clipped at 0, in scikit-learn's order of operations, with
self-distances set to exactly 0 as scikit-learn (and hence ``prdc``) does. Both sets are first
shifted by the real set's mean rounded to integers: the metrics are translation invariant, the shift
removes large offsets that would make that formula cancel, and an integer shift is exact for
integer-valued and float32 features, so quantised data (exact ties, duplicates) gives exactly
``prdc``'s answer. ``prdc`` called on
float32 features rounds its distances to float32 before comparing; on such input a pair within one
float32 ulp of a radius may be decided differently here (a single-sample effect, if any).

Memory: distances are computed ``chunk_size`` rows at a time against the whole other set, so the
largest temporaries are two float64 (chunk_size, max(N, M)) arrays (about 400 MB for the default
chunk of 512 against 50 000 samples) plus the float64 copies of the inputs on ``device``; the full
N × M matrix is never built. Neither the chunking nor the device changes the result (tested: the
counts behind the four numbers are exact comparisons of the same float64 distances).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from ganbench.errors import UserError
from ganbench.metrics.checks import finite_matrix

DEFAULT_CHUNK_SIZE = 512
Device = torch.device | str


def precision_recall_density_coverage(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    k: int = 5,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    real_radii: np.ndarray | None = None,
    device: Device = "cpu",
) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` (M, d) against ``real`` (N, d).

    ``k`` is the neighbourhood size of the k-NN balls (Naeem et al. recommend 5, Kynkäänniemi et
    al. use 3); it must be below both N and M. ``chunk_size`` rows are processed at a time; it
    bounds memory and does not change the result. ``real_radii``: the real set's k-NN radii from
    :func:`real_knn_radii` (the same numbers; lets a fixed reference skip its N x N pass).
    ``device``: where the distances are computed. Returns a dict with float values for
    ``"precision"``, ``"recall"``, ``"density"`` and ``"coverage"``.
    """
    real = finite_matrix("real features", real, dtype=np.float64)
    fake = finite_matrix("fake features", fake, dtype=np.float64)
    if real.shape[1] != fake.shape[1]:
        raise UserError(
            f"real and fake features differ in dimension: {real.shape[1]} vs {fake.shape[1]}"
        )
    if not _is_int(k) or k < 1:
        raise UserError(f"PRDC k must be a positive integer; got {k!r}")
    if not _is_int(chunk_size) or chunk_size < 1:
        raise UserError(f"PRDC chunk_size must be a positive integer; got {chunk_size!r}")
    n_real, n_fake = len(real), len(fake)
    if k >= min(n_real, n_fake):
        raise UserError(
            f"PRDC k = {k} needs more than k samples in each set (the k-th neighbour excludes the "
            f"sample itself); got {n_real} real and {n_fake} fake samples"
        )
    if real_radii is not None and np.shape(real_radii) != (n_real,):
        raise UserError(f"real_radii must have shape ({n_real},), got {np.shape(real_radii)}")
    k, chunk_size = int(k), int(chunk_size)

    real, shift, real_sq = _shifted(torch.from_numpy(real).to(device))
    fake = torch.from_numpy(fake).to(device) - shift
    fake_sq = (fake * fake).sum(dim=1)
    if real_radii is None:
        radii = knn_radii(real, k, chunk_size=chunk_size, sq_norms=real_sq)  # (N,)
    else:
        radii = torch.as_tensor(np.asarray(real_radii, dtype=np.float64)).to(device)
    fake_radii = knn_radii(fake, k, chunk_size=chunk_size, sq_norms=fake_sq)  # (M,)

    fake_in_real = 0  # fake samples inside at least one real ball (precision)
    balls_hit = 0  # (fake, real ball containing it) pairs (density)
    real_recalled = torch.zeros(n_real, dtype=torch.bool, device=real.device)  # (recall)
    real_covered = torch.zeros_like(real_recalled)  # its ball holds a fake sample (coverage)
    for start, stop in _chunks(n_fake, chunk_size):
        dist = pairwise_distances(fake[start:stop], real, fake_sq[start:stop], real_sq)  # (c, N)
        inside_real = dist < radii[None, :]  # fake j inside the ball of real i
        fake_in_real += int(inside_real.any(dim=1).count_nonzero())
        balls_hit += int(inside_real.count_nonzero())
        real_covered |= inside_real.any(dim=0)
        del inside_real
        real_recalled |= (dist < fake_radii[start:stop, None]).any(dim=0)

    return {
        "precision": fake_in_real / n_fake,
        "recall": int(real_recalled.count_nonzero()) / n_real,
        "density": balls_hit / (k * n_fake),
        "coverage": int(real_covered.count_nonzero()) / n_real,
    }


def _shifted(real: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Translation invariance: an integer shift near the real mean removes large offsets (less
    cancellation in ‖a‖² + ‖b‖² − 2a·b) and is exact for integer and float32 inputs. Returns the
    shifted real rows, the shift and their squared norms."""
    shift = torch.round(real.mean(dim=0))  # half to even, as NumPy
    real = real - shift
    return real, shift, (real * real).sum(dim=1)


def real_knn_radii(
    real: np.ndarray, k: int, *, chunk_size: int = DEFAULT_CHUNK_SIZE, device: Device = "cpu"
) -> np.ndarray:
    """The real set's k-NN radii exactly as :func:`precision_recall_density_coverage` computes
    them, to pass back as its ``real_radii`` when one reference is scored many times."""
    real = finite_matrix("real features", real, dtype=np.float64)
    if not _is_int(k) or not 1 <= k < len(real):
        raise UserError(f"PRDC k must be an integer in [1, {len(real) - 1}]; got {k!r}")
    shifted, _, sq = _shifted(torch.from_numpy(real).to(device))
    return knn_radii(shifted, int(k), chunk_size=chunk_size, sq_norms=sq).cpu().numpy()


def knn_radii(
    features: Tensor | np.ndarray,
    k: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    sq_norms: Tensor | None = None,
) -> Tensor:
    """Distance of each row of ``features`` (N, d) to its k-th nearest other row, shape (N,),
    float64 on the features' device.

    The (k+1)-th smallest distance with the self-distance set to exactly 0 (``prdc``'s rule), so a
    row with k or more exact duplicates gets radius 0. Requires 1 ≤ k < N.
    """
    features = torch.as_tensor(features, dtype=torch.float64)
    if sq_norms is None:
        sq_norms = (features * features).sum(dim=1)
    n = len(features)
    radii = features.new_empty(n)
    for start, stop in _chunks(n, chunk_size):
        dist = pairwise_distances(features[start:stop], features, sq_norms[start:stop], sq_norms)
        rows = torch.arange(stop - start, device=features.device)
        dist[rows, start + rows] = 0.0
        # the (k+1)-th smallest: topk of the k+1 smallest, sorted (5x faster than kthvalue on
        # the CPU at 512 x 10k, as fast as NumPy's partition)
        radii[start:stop] = torch.topk(dist, k + 1, dim=1, largest=False).values[:, k]
    return radii


def pairwise_distances(A: Tensor, B: Tensor, A_sq: Tensor, B_sq: Tensor) -> Tensor:
    """Euclidean distances (len(A), len(B)) from ‖a‖² + ‖b‖² − 2a·b, clipped at 0; float64.

    ``A_sq`` and ``B_sq`` are the rows' squared norms. Same order of operations as scikit-learn's
    ``euclidean_distances``: −2AB, then + ‖a‖², then + ‖b‖².
    """
    dist = A @ B.T
    dist *= -2.0
    dist += A_sq[:, None]
    dist += B_sq[None, :]
    return dist.clamp_min_(0.0).sqrt_()


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(start + size, n)


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
