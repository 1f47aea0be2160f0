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
    parameter qualifies).
    """
    exclude = tuple(exclude)
    total: Tensor | None = None
    for name, param in module.named_parameters():
        if param.dim() < 2 or _excluded(name, exclude):
            continue
        w = param.reshape(param.shape[0], -1)
        gram = w @ w.T
        off_diag = gram * (1 - torch.eye(gram.shape[0], device=gram.device, dtype=gram.dtype))
        term = off_diag.square().sum()
        total = term if total is None else total + term
    if total is None:
        p = next(iter(module.parameters()), None)
        device = p.device if p is not None else torch.device("cpu")
        return torch.zeros((), device=device)
    return beta * total
