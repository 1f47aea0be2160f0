"""The training loop: n_disc D steps per G step, resume, divergence detection.

One *step* is one D update, as in Lucic et al. 2018; G is updated on every ``n_disc``-th step
(every step for objectives without a D optimizer, e.g. the VAE). The loop knows no objective by
name: the objective supplies losses and hooks, the architecture registry the networks.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ganbench.config import RunConfig
from ganbench.io import write_json
from ganbench.losses import LOSSES, Objective
from ganbench.models import ARCHITECTURES
from ganbench.training import checkpoint as ckpt
from ganbench.training.data import BatchSampler
from ganbench.training.sampling import LATENTS

LOG_EVERY = 50


@dataclass(frozen=True)
class TrainResult:
    status: str  # "ok" | "diverged"
    steps_trained: int
    diverged_at_step: int | None
    checkpoints: list[int]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def checkpoint_steps(steps: int, num_checkpoints: int) -> list[int]:
    """Evenly spaced evaluation points ending at ``steps`` (Lucic et al.: every 5 epochs)."""
    return sorted({round(steps * (i + 1) / num_checkpoints) for i in range(num_checkpoints)})


def build_networks(
    cfg: RunConfig, objective: Objective, image_shape: tuple[int, int, int]
) -> tuple[nn.Module, nn.Module]:
    return ARCHITECTURES.get("infogan")(
        image_shape=image_shape,
        z_dim=cfg.train.z_dim,
        width=cfg.train.width,
        discriminator=objective.discriminator,
        d_batchnorm=cfg.hparams.d_batchnorm,
        generator_activation=objective.generator_activation,
    )


def make_adam(params, hp, device: torch.device) -> torch.optim.Adam:
    """Adam with the run's lr and betas; the fused kernel (about 20% faster per step on CPU at
    width 0.25) where the device supports it."""
    fused = device.type in ("cpu", "cuda")
    return torch.optim.Adam(params, lr=hp.lr, betas=(hp.beta1, hp.beta2), fused=fused)


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


class Trainer:
    """Owns one run's networks, optimizers and state; ``run`` trains to the end or to divergence."""

    is_main = True  # the process that writes files (rank 0 under torchrun)

    def __init__(self, cfg: RunConfig, images: Tensor, run_dir: str | Path) -> None:
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.device = resolve_device(cfg.train.device)
        hp = cfg.hparams
        torch.manual_seed(cfg.seed)
        self.image_shape = tuple(images.shape[1:])
        self.objective = LOSSES.get(cfg.model)(hp)
        self.G, self.D = (
            m.to(self.device) for m in build_networks(cfg, self.objective, self.image_shape)
        )
        g_params = list(self.objective.generator_parameters(self.G, self.D))
        self.opt_g = make_adam(g_params, hp, self.device)
        self.opt_d = (
            make_adam(self.D.parameters(), hp, self.device)
            if self.objective.trains_discriminator
            else None
        )
        # D parameters that the G step must not differentiate (all of D for GANs, none for a VAE)
        in_g = {id(p) for p in g_params}
        self._d_only = [p for p in self.D.parameters() if id(p) not in in_g]
        self.g_every = hp.n_disc if self.objective.trains_discriminator else 1
        self.sampler = BatchSampler(images, cfg.train.batch_size, seed=cfg.seed, device=self.device)
        self.latent = LATENTS.get(self.objective.latent)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.train.precision == "fp16")
        self.step, self.history = 0, []

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "config": self.cfg.to_dict(),
            "config_key": ckpt.config_key(self.cfg),
            "step": self.step,
            "image_shape": list(self.image_shape),
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict() if self.opt_d else {},
            "objective": self.objective.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state()
            if self.device.type == "cuda"
            else torch.empty(0),
            "history": self.history,
        }

    def load_state_dict(self, state: dict) -> None:
        self.step, self.history = state["step"], list(state["history"])
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        if self.opt_d:
            self.opt_d.load_state_dict(state["opt_d"])
        self.objective.load_state_dict(state["objective"])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"])
        if self.device.type == "cuda" and state["cuda_rng"].numel():
            torch.cuda.set_rng_state(state["cuda_rng"])

    def evaluation_state(self) -> dict:
        """What an evaluation checkpoint holds: the config, the step and G's weights."""
        return {
            "config": self.cfg.to_dict(),
            "step": self.step,
            "G": self.G.state_dict(),
            "image_shape": list(self.image_shape),
        }

    # -- one step ------------------------------------------------------------------------------
    def _optimise(self, loss: Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)
        self.scaler.update()

    def train_step(self) -> dict[str, Tensor]:
        """One D step (if the objective has a D optimizer) and, every g_every steps, one G step."""
        logs: dict[str, Tensor] = {}
        real = self.sampler.batch(self.step)  # (B, C, H, W) in [0, 1]
        n, z_dim = real.shape[0], self.cfg.train.z_dim
        amp = _autocast(self.device, self.cfg.train.precision)
        if self.opt_d is not None:
            z = self.latent(n, z_dim, device=self.device)
            with amp:
                loss, logs = self.objective.d_loss(G=self.G, D=self.D, real=real, z=z)
            self._optimise(loss, self.opt_d)
            self.objective.after_d_step(self.D)
        if (self.step + 1) % self.g_every == 0:
            z = self.latent(n, z_dim, device=self.device)  # fresh z for the G step
            for p in self._d_only:
                p.requires_grad_(False)
            with amp:
                loss, g_logs = self.objective.g_loss(G=self.G, D=self.D, real=real, z=z)
            self._optimise(loss, self.opt_g)
            for p in self._d_only:
                p.requires_grad_(True)
            logs = {**logs, **g_logs}
        self.step += 1
        return logs

    # -- the run -------------------------------------------------------------------------------
    def run(self, *, progress: bool = True, stop_after: int | None = None) -> TrainResult:
        """Train to ``cfg.train.steps`` (or ``stop_after`` steps, to simulate an interruption)."""
        from tqdm import tqdm

        cfg = self.cfg.train
        resumed = ckpt.load_resume(self.run_dir, self.cfg, reset=self.is_main)
        if resumed is not None:
            self.load_state_dict(resumed)
            print(f"{self.cfg.name}: resuming from step {self.step}", flush=True)
        if self.is_main:
            write_json(self.run_dir / "config.json", self.cfg.to_dict())
        evals = set(checkpoint_steps(cfg.steps, cfg.num_checkpoints))
        end = cfg.steps if stop_after is None else min(cfg.steps, self.step + stop_after)
        window: list[tuple[int, dict[str, Tensor]]] = []
        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            unit="step",
            disable=not progress,
            desc=self.cfg.name,
            mininterval=1.0,
        )
        self.G.train()
        self.D.train()
        with bar:
            while self.step < end:
                window.append((self.step + 1, self.train_step()))
                bar.update(1)
                s = self.step
                if s % LOG_EVERY and s not in evals and s % cfg.resume_every and s != end:
                    continue
                bad_step = self._flush(window, bar)
                window = []
                if bad_step is not None:
                    return self._finish("diverged", bad_step)
                if s in evals and self.is_main:
                    ckpt.save_checkpoint(self.run_dir, self.evaluation_state())
                if (s % cfg.resume_every == 0 or s == end) and self.is_main:
                    ckpt.save_resume(self.run_dir, self.state_dict())
        if self.step < cfg.steps:  # interrupted on purpose (tests): no status yet
            return TrainResult("interrupted", self.step, None, self._saved())
        return self._finish("ok", None)

    def _flush(self, window: list[tuple[int, dict[str, Tensor]]], bar) -> int | None:
        """Append the window's mean losses to the history; return the first non-finite step."""
        for s, logs in window:
            if not all(bool(torch.isfinite(v).all()) for v in logs.values()):
                return s
        keys = sorted({k for _, logs in window for k in logs})
        row: dict[str, float] = {"step": window[-1][0]}
        for k in keys:
            row[k] = float(torch.stack([logs[k].float() for _, logs in window if k in logs]).mean())
        self.history.append(row)
        bar.set_postfix({k: f"{v:.3g}" for k, v in row.items() if k != "step"}, refresh=False)
        return None

    def _saved(self) -> list[int]:
        return [s for s, _ in ckpt.list_checkpoints(self.run_dir)]

    def _finish(self, status: str, diverged_at: int | None) -> TrainResult:
        steps = self.step if diverged_at is None else diverged_at  # the step whose loss broke
        result = TrainResult(status, steps, diverged_at, self._saved())
        if not self.is_main:
            return result
        ckpt.write_log(self.run_dir, self.history)
        ckpt.write_status(
            self.run_dir,
            {
                "status": status,
                "steps_trained": steps,
                "diverged_at_step": diverged_at,
                "checkpoints": result.checkpoints,
                "device": str(self.device),
            },
        )
        if status == "diverged":
            (self.run_dir / ckpt.RESUME).unlink(missing_ok=True)
        return result
