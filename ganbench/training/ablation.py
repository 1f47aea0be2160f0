"""Training of the SAGAN / BigGAN ablation runs: conditional ResNet GANs.

The loop, checkpoints, resume and divergence handling are :class:`~ganbench.training.loop.Trainer`'s;
this class supplies what the ablations add (Zhang et al. 2019; Brock et al. 2019):

- class labels: real images come with their labels; fakes get labels drawn uniformly (as
  BigGAN-PyTorch draws ``y_``), fresh for the D step and for the G step;
- TTUR: separate G and D learning rates and betas (Heusel et al. 2017);
- ``n_disc`` D steps per G step (a step is one D update, as in the Lucic loop);
- orthogonal regularisation of G (``ortho_beta``; not 1-D parameters, not the shared embedding);
- an EMA of G's weights (``ema_decay``, ``ema_start``), saved in every evaluation checkpoint
  beside the raw G;
- mixed precision (autocast bf16/fp16, a grad scaler for fp16), ``device: auto``.

z ~ N(0, I) during training (truncation is a sampling-time trick). The objective is any registered
logit loss (hinge by default); its D/G loss functions and penalty are used as they are.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ganbench.config import AblationRunConfig, Hyperparameters
from ganbench.losses import LOSSES
from ganbench.models import ABLATION_ARCHITECTURES
from ganbench.training.data import BatchSampler
from ganbench.training.ema import EMA
from ganbench.training.loop import Trainer, _autocast, resolve_device
from ganbench.training.regularizers import orthogonal_regularization

SHARED_EMBEDDING = "shared."  # G's shared class embedding: never orthogonally regularised


def build_ablation_networks(cfg: AblationRunConfig) -> tuple[nn.Module, nn.Module]:
    return ABLATION_ARCHITECTURES.get(cfg.arch, f"{cfg.study}.arch")(cfg.resnet())


class Labelled(nn.Module):
    """``net`` with its class labels bound: ``Labelled(D, y)(x) == D(x, y)``. Lets the objective's
    penalty (written for unconditional D) run on a conditional D."""

    def __init__(self, net: nn.Module, y: Tensor | None) -> None:
        super().__init__()
        self.net, self.y = net, y

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x, self.y)


class AblationTrainer(Trainer):
    """One ablation run; ``rank``/``world`` > 1 under torchrun (see ganbench.training.distributed)."""

    def __init__(
        self,
        cfg: AblationRunConfig,
        images: Tensor,
        labels: Tensor | None,
        run_dir: str | Path,
        *,
        rank: int = 0,
        world: int = 1,
        device: torch.device | None = None,
        wrap=None,
    ) -> None:
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.rank, self.world = rank, world
        self.is_main = rank == 0
        t = cfg.train
        self.device = device or resolve_device(t.device)
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        self.image_shape = tuple(images.shape[1:])
        self.objective = LOSSES.get(t.loss)(Hyperparameters())
        G, D = build_ablation_networks(cfg)
        if world > 1:  # BatchNorm over the global batch, as one process would compute it
            from ganbench.training.distributed import convert_batchnorm

            convert_batchnorm(G)
        self.G, self.D = G.to(self.device), D.to(self.device)
        self.num_classes = self.G.cfg.num_classes
        # The modules that take gradients: DDP wrappers under torchrun. Only the network being
        # updated goes through its wrapper (G's forward in the D step runs without gradients, D's
        # in the G step with D frozen), so each wrapper sees one forward per backward.
        self.G_train, self.D_train = (wrap(self.G), wrap(self.D)) if wrap else (self.G, self.D)
        fused = self.device.type in ("cpu", "cuda")
        self.opt_g = torch.optim.Adam(
            self.G.parameters(), lr=t.lr_g, betas=(t.beta1, t.beta2), fused=fused
        )
        self.opt_d = torch.optim.Adam(
            self.D.parameters(), lr=t.lr_d, betas=(t.beta1, t.beta2), fused=fused
        )
        self._d_only = list(self.D.parameters())
        self.g_every = t.n_disc
        self.ema = EMA(self.G, decay=t.ema_decay, start_step=t.ema_start) if t.ema_decay else None
        self.sampler = BatchSampler(
            images,
            t.batch_size,
            seed=cfg.seed,
            device=self.device,
            labels=labels if self.num_classes else None,
            rank=rank,
            world=world,
        )
        self.share = self.sampler.share  # this rank's rows of the global batch
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=t.precision == "fp16")
        self.step, self.history = 0, []

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = super().state_dict()
        state["ema"] = self.ema.state_dict() if self.ema else {}
        state["world"] = self.world
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if self.ema:
            self.ema.load_state_dict(state["ema"])

    def evaluation_state(self) -> dict:
        state = super().evaluation_state()
        if self.ema is not None:
            state["G_ema"] = self.ema.ema_model().state_dict()
        return state

    # -- one step ------------------------------------------------------------------------------
    def _fake_inputs(self) -> tuple[Tensor, Tensor | None]:
        """z ~ N(0, I) and uniform labels for the global batch, drawn on the host from the global
        RNG (the same stream on every rank), this rank's share moved to the device."""
        n = self.cfg.train.batch_size
        z = torch.randn(n, self.G.cfg.z_dim)[self.share].to(self.device)
        if not self.num_classes:
            return z, None
        return z, torch.randint(self.num_classes, (n,))[self.share].to(self.device)

    def _mean_over_ranks(self, logs: dict[str, Tensor]) -> dict[str, Tensor]:
        if self.world == 1:
            return logs
        import torch.distributed as dist

        keys = sorted(logs)
        values = torch.stack([logs[k].float() for k in keys])
        dist.all_reduce(values)
        return dict(zip(keys, values / self.world, strict=True))

    def train_step(self) -> dict[str, Tensor]:
        """One D step and, every ``n_disc`` steps, one G step (+ orthogonal reg., + EMA update)."""
        obj, t = self.objective, self.cfg.train
        if self.num_classes:
            real, y_real = self.sampler.labelled_batch(self.step)
        else:
            real, y_real = self.sampler.batch(self.step), None
        amp = _autocast(self.device, t.precision)
        z, y_fake = self._fake_inputs()
        n = real.shape[0]
        with amp:
            with torch.no_grad():
                fake = self.G(z, y_fake)
            # real and fake in one D forward (as BigGAN-PyTorch): one spectral-norm power
            # iteration per D step, and one forward per backward under DDP
            y_both = None if y_real is None else torch.cat([y_real, y_fake])
            logits = self.D_train(torch.cat([real, fake.to(real.dtype)]), y_both)
            loss = type(obj).d_fn(real_logits=logits[:n], fake_logits=logits[n:])
            logs = {"d_loss": loss.detach()}
            penalty = obj.penalty(Labelled(self.D, y_real), real, fake)
            if penalty is not None:
                logs["penalty"] = penalty.detach()
                loss = loss + obj.hp.penalty_weight * penalty
        self._optimise(loss, self.opt_d)
        obj.after_d_step(self.D)
        if (self.step + 1) % self.g_every == 0:
            z, y = self._fake_inputs()
            for p in self._d_only:
                p.requires_grad_(False)
            with amp:
                loss = type(obj).g_fn(fake_logits=self.D(self.G_train(z, y), y))
            logs["g_loss"] = loss.detach()
            if t.ortho_beta:
                ortho = orthogonal_regularization(
                    self.G, beta=t.ortho_beta, exclude=(SHARED_EMBEDDING,)
                )
                logs["ortho"] = ortho.detach()
                loss = loss + ortho
            self._optimise(loss, self.opt_g)
            for p in self._d_only:
                p.requires_grad_(True)
            if self.ema is not None:
                self.ema.update(self.step)
        self.step += 1
        return self._mean_over_ranks(logs)
