"""Gradient penalties, kept apart from the objectives they regularise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from pydantic import Field
from torch import Tensor

from ganbench.config import Block
from ganbench.registry import Registry


def _per_sample_grad(
    D: Callable[[Tensor], Tensor], x: Tensor, transform: Callable[[Tensor], Tensor] | None = None
) -> Tensor:
    """d(sum_i out_i)/dx with a graph for double backprop; rows are samples, shape (N, C*H*W)."""
    x = x.detach().requires_grad_(True)
    out = D(x)
    if transform is not None:
        out = transform(out)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.flatten(1)


def wgan_gp_penalty(
    D: Callable[[Tensor], Tensor], *, real: Tensor, fake: Tensor, alpha: Tensor
) -> Tensor:
    """Gulrajani et al. 2017, eq. 3: ``E (||grad l(x~)|| - 1)^2``, ``x~ = x + alpha (G(z) - x)``.

    ``alpha`` has shape (N, 1, 1, 1), drawn from U[0, 1]. The norm is ``sqrt(1e-4 + sum g^2)``
    as in compare_gan v1, which keeps its gradient finite at g = 0.
    """
    x_tilde = real + alpha * (fake - real)
    grad = _per_sample_grad(D, x_tilde)
    norm = torch.sqrt(1e-4 + grad.square().sum(dim=1))
    return (norm - 1).square().mean()


def dragan_penalty(
    D: Callable[[Tensor], Tensor], *, real: Tensor, noise: Tensor, alpha: Tensor
) -> Tensor:
    """Kodali et al. 2017 as in compare_gan v1: ``E (||grad sigmoid(l(x~))|| - 1)^2`` with
    ``x_p = x + 0.5 std(x) noise`` (noise ~ U[0, 1), one-sided), ``x~ = x + alpha (x_p - x)``.

    ``std(x)`` is the population standard deviation over the whole batch tensor (TF moments).
    The norm is ``sqrt(1e-4 + sum g^2)`` (compare_gan v1, src/gans/DRAGAN.py, ``slopes =
    tf.sqrt(0.0001 + tf.reduce_sum(tf.square(gradients), ...))``): without the 1e-4 a saturated
    sigmoid (g = 0) has an infinite derivative and the D step turns D into NaN.
    """
    x_p = real + 0.5 * real.std(unbiased=False) * noise
    x_tilde = real + alpha * (x_p - real)
    grad = _per_sample_grad(D, x_tilde, torch.sigmoid)
    norm = torch.sqrt(1e-4 + grad.square().sum(dim=1))
    return (norm - 1).square().mean()


class PenaltyParams(Block):
    weight: float = Field(10.0, ge=0)  # lambda of WGAN-GP and DRAGAN (Lucic et al.: 10)


@dataclass(frozen=True)
class Penalty:
    """A gradient penalty added to a logit objective's D loss as ``weight * fn(D, real, fake)``;
    ``fn`` draws its own interpolation noise from the global RNG."""

    weight: float
    fn: Callable[[Callable[[Tensor], Tensor], Tensor, Tensor], Tensor]


def _gp(D, real: Tensor, fake: Tensor) -> Tensor:
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    return wgan_gp_penalty(D, real=real, fake=fake, alpha=alpha)


def _dragan(D, real: Tensor, fake: Tensor) -> Tensor:
    noise = torch.rand_like(real)
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    return dragan_penalty(D, real=real, noise=noise, alpha=alpha)


#: name -> the penalty function; ``none`` adds nothing. Params: :class:`PenaltyParams`.
PENALTIES: Registry[Callable | None] = Registry("penalty.name")
PENALTIES.add("none", None)
PENALTIES.add("gp", _gp)  # WGAN-GP (Gulrajani et al. 2017)
PENALTIES.add("dragan", _dragan)  # DRAGAN (Kodali et al. 2017)
