"""Weight regularisers of BigGAN (Brock et al. 2019) as pure, keyword-only functions."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn


def _excluded(name: str, exclude: Iterable[str]) -> bool:
    """True when ``name`` equals a pattern or starts with it at a ``.`` boundary.

    ``"shared."`` excludes ``shared.weight`` and ``G.shared.weight`` but not ``unshared.weight``.
    """
    dotted = "." + name
    return any(name == p or name.startswith(p) or ("." + p) in dotted for p in exclude if p)


def orthogonal_regularization(
    module: nn.Module, *, beta: float = 1e-4, exclude: Iterable[str] = ()
) -> Tensor:
    """Brock et al. 2019 (BigGAN), sec. 3.1, eq. 3: ``R_beta(W) = beta ||W^T W * (1 - I)||_F^2``
    summed over every parameter with at least 2 dimensions.

    Convention: each weight is reshaped to ``W = w.reshape(out, -1)`` (a conv weight
    ``(out, in, k, k)`` becomes ``(out, in*k*k)``) and the penalised Gram is ``W W^T``, the
    ``out x out`` Gram of the filters (rows), as in BigGAN-PyTorch's ``utils.ortho``
    (``torch.mm(w, w.t())``). The paper's ``W^T W`` is written in TF's ``(in, out)`` layout, where
    it is the same Gram of filters. Only the off-diagonal entries are penalised (the filters'
    norms are left free).

    Scale: this is the paper's loss. BigGAN-PyTorch never forms the loss; it adds the hand-written
    gradient ``2 beta (W W^T * (1 - I)) W`` to ``.grad``, which is the gradient of
    ``beta / 2 ||W W^T * (1 - I)||_F^2`` — half the gradient of this function for the same
    ``beta``. Pass ``beta = strength / 2`` to reproduce that code's update exactly.

    Skipped: 1-D parameters (biases, BN gains) and scalars; parameters whose qualified name
    matches a pattern of ``exclude`` (e.g. ``"shared."`` for the shared class embedding, as the
    paper and BigGAN-PyTorch's blacklist do). Spectral-norm parametrizations
    (``torch.nn.utils.parametrizations.spectral_norm``) are handled through
    ``named_parameters``, which yields the raw ``parametrizations.weight.original`` (and the old
    hook-based ``weight_orig``), never the normalised weight: the raw weight is the trained
    parameter, as in BigGAN-PyTorch whose SN layers keep the raw weight as the parameter.
    Shared parameters are counted once. Differentiable; returns a 0-d tensor (zero when no
    parameter qualifies). A weight with more rows than columns (N > M, e.g. G's first linear
    layer at ImageNet scale: 24576 x 148) is computed on the M x M side, see
    :func:`_off_diagonal_gram_energy`.
    """
    exclude = tuple(exclude)
    total: Tensor | None = None
    for name, param in module.named_parameters():
        if param.dim() < 2 or _excluded(name, exclude):
            continue
        term = _off_diagonal_gram_energy(param.reshape(param.shape[0], -1))
        total = term if total is None else total + term
    if total is None:
        p = next(iter(module.parameters()), None)
        device = p.device if p is not None else torch.device("cpu")
        return torch.zeros((), device=device)
    return beta * total


def _off_diagonal_gram_energy(w: Tensor) -> Tensor:
    """``||W W^T * (1 - I)||_F^2`` for ``W`` of shape (N, M), without an N x N matrix when N > M.

    N <= M: the N x N Gram with its diagonal zeroed in place (no mask is allocated).
    N > M: ``||W W^T||_F^2 = ||W^T W||_F^2`` (both are the sum of the squared singular values'
    squares) and the diagonal of ``W W^T`` holds the rows' squared norms, so the energy is
    ``||W^T W||_F^2 - sum_i ||w_i||^4``: an M x M Gram and N norms. Equal to the N x N form up to
    float rounding (tests/test_training_biggan.py).
    """
    n, m = w.shape
    if n <= m:
        gram = w @ w.T
        return gram.fill_diagonal_(0).square().sum()
    return (w.T @ w).square().sum() - w.square().sum(1).square().sum()
