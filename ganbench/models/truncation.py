"""The truncation trick of Brock et al. 2019 (BigGAN), sec. 3.1."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganbench.errors import UserError


def truncated_normal(
    n: int,
    dim: int,
    *,
    psi: float | None,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """z ~ N(0, I)^dim with every entry of ``|z| > psi`` resampled until inside ``[-psi, psi]``
    (Brock et al. 2019, sec. 3.1: "values which fall outside a range are resampled").

    ``psi`` is the threshold itself, so entries follow N(0, 1) truncated to ``[-psi, psi]``.
    (TF-Hub's BigGAN samples ``psi * truncnorm(-2, 2)`` instead, and BigGAN-PyTorch's sample
    script sweeps the variance of z; neither is this.) ``psi`` None or ``inf``: no truncation,
    plain ``randn``. Resampling is vectorised: each round redraws only the rejected entries, in
    one call, so the result is a function of the generator's state alone. Small ``psi`` needs
    many rounds (acceptance ``erf(psi / sqrt 2)`` per entry).
    """
    if psi is None or psi == math.inf:
        return torch.randn(n, dim, device=device, generator=generator)
    if not isinstance(psi, (int, float)) or isinstance(psi, bool) or not psi > 0:
        raise UserError(f"truncation psi: got {psi!r}; allowed: a number > 0, or None/inf")
    psi = float(psi)
    z = torch.randn(n, dim, device=device, generator=generator)
    outside = z.abs() > psi
    while True:
        count = int(outside.sum())
        if count == 0:
            return z
        fresh = torch.randn(count, device=device, generator=generator)
        z[outside] = fresh
        outside = z.abs() > psi
