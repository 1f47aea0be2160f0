"""Exponential moving average of G's weights, used for evaluation (Brock et al. 2019, sec. 4)."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from ganbench.errors import UserError


class EMA:
    """A shadow copy of ``model``'s parameters and buffers.

    ``update(step)``: for ``step >= start_step``, ``ema = decay * ema + (1 - decay) * param``;
    before ``start_step`` the parameters are copied verbatim ("pegged", as BigGAN-PyTorch's
    ``utils.ema`` does with decay 0 before ``start_itr``). Buffers (BN running statistics,
    spectral-norm ``u``/``v`` vectors, ``num_batches_tracked``) are always copied, never averaged
    (BigGAN-PyTorch averages the whole state dict; standing statistics are re-estimated for
    sampling anyway). The shadow starts as a copy of the model at construction.

    Parameters are keyed by ``named_parameters()`` names, so a spectral-norm layer's raw
    ``parametrizations.weight.original`` is averaged and its normalised weight is recomputed from
    it when the EMA weights are used.
    """

    def __init__(self, model: nn.Module, *, decay: float = 0.9999, start_step: int = 0) -> None:
        if not 0.0 <= decay <= 1.0:
            raise UserError(f"EMA decay: got {decay!r}; allowed: a number in [0, 1]")
        self.model = model
        self.decay = float(decay)
        self.start_step = int(start_step)
        self.num_updates = 0
        with torch.no_grad():
            self.params: dict[str, Tensor] = {
                k: v.detach().clone() for k, v in model.named_parameters()
            }
            self.buffers: dict[str, Tensor] = {
                k: v.detach().clone() for k, v in model.named_buffers()
            }

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Fold the model's current weights into the shadow at training step ``step``."""
        params = dict(self.model.named_parameters())
        shadows = list(self.params.values())
        current = [params[k].detach() for k in self.params]
        if step < self.start_step:
            torch._foreach_copy_(shadows, current)
        else:  # one fused kernel per op over all tensors (was a Python loop per tensor)
            torch._foreach_mul_(shadows, self.decay)
            torch._foreach_add_(shadows, current, alpha=1.0 - self.decay)
        buffers = dict(self.model.named_buffers())
        if buffers:
            torch._foreach_copy_(list(self.buffers.values()), [buffers[k] for k in self.buffers])
        self.num_updates += 1

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Write the EMA parameters and buffers into ``model`` (same architecture)."""
        params = dict(model.named_parameters())
        buffers = dict(model.named_buffers())
        if params.keys() != self.params.keys() or buffers.keys() != self.buffers.keys():
            raise UserError("EMA.copy_to: the model's parameter/buffer names differ from the EMA's")
        for k, v in self.params.items():
            params[k].copy_(v)
        for k, v in self.buffers.items():
            buffers[k].copy_(v)

    def ema_model(self) -> nn.Module:
        """A deep copy of the model holding the EMA weights, in eval mode, without gradients."""
        model = copy.deepcopy(self.model)
        self.copy_to(model)
        model.requires_grad_(False)
        return model.eval()

    def state_dict(self) -> dict[str, Any]:
        """Plain tensors, ints and floats: loadable with ``torch.load(weights_only=True)``."""
        return {
            "decay": self.decay,
            "start_step": self.start_step,
            "num_updates": self.num_updates,
            "params": {k: v.clone() for k, v in self.params.items()},
            "buffers": {k: v.clone() for k, v in self.buffers.items()},
        }

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`; the names must match this EMA's model."""
        for part, mine in (("params", self.params), ("buffers", self.buffers)):
            theirs = state.get(part)
            if not isinstance(theirs, dict) or theirs.keys() != mine.keys():
                got = sorted(theirs) if isinstance(theirs, dict) else theirs
                raise UserError(f"EMA state '{part}': got names {got!r}; allowed: {sorted(mine)!r}")
            for k, v in theirs.items():
                if v.shape != mine[k].shape:
                    raise UserError(
                        f"EMA state '{part}.{k}': got shape {tuple(v.shape)}; "
                        f"allowed: {tuple(mine[k].shape)}"
                    )
                mine[k].copy_(v)
        self.decay = float(state["decay"])
        self.start_step = int(state["start_step"])
        self.num_updates = int(state["num_updates"])
