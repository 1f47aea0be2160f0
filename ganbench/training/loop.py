"""The one training loop: every study, every objective, one process or many (torchrun/DDP).

One *step* is one D update, as in Lucic et al. 2018; G is updated on every ``n_disc``-th step
(every step for objectives without a D optimizer, e.g. the VAE). The loop knows no objective or
architecture by name: the objective supplies losses and hooks (ganbench.losses), the plan the
networks (ganbench.plan). What the recipe switches on or off:

- class labels (``training.conditional``): real images come with their labels; fakes get labels
  drawn uniformly (as BigGAN-PyTorch draws ``y_``), fresh for the D step and for the G step;
- TTUR: separate G and D learning rates (Heusel et al. 2017); ``n_disc`` D steps per G step;
- D on real and fake in two forwards or one (``training.d_forward``);
- orthogonal regularisation of G (``ortho_beta``; not 1-D parameters, not the shared embedding);
- an EMA of G's weights (``ema_decay``, ``ema_start``), saved in every evaluation checkpoint;
- mixed precision (autocast bf16/fp16, a grad scaler for fp16);
- data parallelism (``rank``/``world`` > 1 under torchrun, see ganbench.training.distributed):
  the global batch and noise are drawn on every rank and sliced, losses averaged over ranks.

z and fake labels are drawn on the device from a generator seeded by (seed, step, stream) alone
(``noise_seed``; stream 0 for the D step, 1 for the G step): the same on every rank, a pure
function of the step, so a resumed run draws them again without any saved state, and no host
draw or host-to-device copy per step. Other randomness (penalties' interpolation) uses the
global RNG, which the resume checkpoint saves.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ganbench.models.sampling import LATENTS, noise_seed
from ganbench.plan import RunSpec, build_networks, build_objective
from ganbench.training import checkpoint as ckpt
from ganbench.training.data import BatchSampler
from ganbench.training.ema import EMA
from ganbench.training.progress import Progress
from ganbench.training.regularizers import orthogonal_regularization

SHARED_EMBEDDING = "shared."  # G's shared class embedding: never orthogonally regularised


@dataclass(frozen=True)
class TrainResult:
    status: str  # "ok" | "diverged" | "interrupted"
    steps_trained: int
    diverged_at_step: int | None
    checkpoints: list[int]


def checkpoint_steps(steps: int, num_checkpoints: int) -> list[int]:
    """Evenly spaced evaluation points ending at ``steps`` (Lucic et al.: every 5 epochs)."""
    return sorted({round(steps * (i + 1) / num_checkpoints) for i in range(num_checkpoints)})


def make_adam(
    params, lr: float, betas: tuple[float, float], device: torch.device, eps: float = 1e-8
):
    """Adam; the fused kernel (about 20% faster per step on CPU) where the device supports it."""
    fused = device.type in ("cpu", "cuda")
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, fused=fused)


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


class Trainer:
    """Owns one run's networks, optimizers and state; ``run`` trains to the end or to divergence."""

    def __init__(
        self,
        spec: RunSpec,
        images: Tensor,
        labels: Tensor | None,
        run_dir: str | Path,
        *,
        device: torch.device,
        live_dir: str | Path | None = None,
        rank: int = 0,
        world: int = 1,
        wrap=None,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        self.spec, self.run_dir, self.device = spec, Path(run_dir), device
        self.live_dir = Path(live_dir) if live_dir is not None and rank == 0 else None
        self.rank, self.world, self.is_main = rank, world, rank == 0
        opt, t = spec.recipe.optimiser, spec.recipe.training
        torch.manual_seed(spec.seed)  # the same initial weights on every rank
        self.objective = build_objective(spec)
        G, D = build_networks(spec)
        if world > 1:  # BatchNorm over the global batch, as one process would compute it
            from ganbench.training.distributed import convert_batchnorm

            convert_batchnorm(G, cuda=device.type == "cuda")
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.G = G.to(device, memory_format=self.memory_format)
        self.D = D.to(device, memory_format=self.memory_format)
        # The modules that take gradients: DDP wrappers under torchrun. Only the network being
        # updated goes through its wrapper (G's forward in the D step runs without gradients, D's
        # in the G step with D frozen), so each wrapper sees one forward per backward. G and D
        # themselves (state, checkpoints, EMA) stay plain; the four forwards may be compiled.
        self.G_train, self.D_train = (wrap(self.G), wrap(self.D)) if wrap else (self.G, self.D)
        self.G_fwd, self.D_fwd = self.G, self.D
        if compile:
            self.G_fwd, self.D_fwd = torch.compile(self.G), torch.compile(self.D)
            self.G_train, self.D_train = torch.compile(self.G_train), torch.compile(self.D_train)
        g_params = list(self.objective.generator_parameters(self.G, self.D))
        self.opt_g = make_adam(g_params, opt.lr_g, (opt.beta1, opt.beta2), device, opt.eps)
        self.opt_d = None
        if self.objective.trains_discriminator:
            self.opt_d = make_adam(
                self.D.parameters(), opt.lr_d, (opt.beta1, opt.beta2), device, opt.eps
            )
        # D parameters that the G step must not differentiate (all of D for GANs, none for a VAE)
        in_g = {id(p) for p in g_params}
        self._d_only = [p for p in self.D.parameters() if id(p) not in in_g]
        self.g_every = opt.n_disc if self.opt_d is not None else 1
        self.ema = EMA(self.G, decay=t.ema_decay, start_step=t.ema_start) if t.ema_decay else None
        self.sampler = BatchSampler(
            images,
            t.batch_size,
            seed=spec.seed,
            device=device,
            labels=labels if spec.num_classes else None,
            rank=rank,
            world=world,
            value_range=self.G.value_range,  # D sees real images in G's output range
        )
        self.latent = LATENTS.get(t.latent)
        # reseeded per draw (_fake_inputs); none on the meta device (benchmarks/preset_cost.py
        # counts a step there: shapes only, no values to draw)
        self._noise = torch.Generator(device=device) if device.type != "meta" else None
        self.scaler = torch.amp.GradScaler(device.type, enabled=t.precision == "fp16")
        self.step, self.history = 0, []

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "config": self.spec.to_dict(),
            "config_key": self.spec.training_key(),
            "step": self.step,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict() if self.opt_d else {},
            "objective": self.objective.state_dict(),
            "ema": self.ema.state_dict() if self.ema else {},
            "scaler": self.scaler.state_dict(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state()
            if self.device.type == "cuda"
            else torch.empty(0),
            "world": self.world,
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
        if self.ema:
            self.ema.load_state_dict(state["ema"])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"])
        if self.device.type == "cuda" and state["cuda_rng"].numel():
            torch.cuda.set_rng_state(state["cuda_rng"])

    def evaluation_state(self) -> dict:
        """What an evaluation checkpoint holds: the run, the step, G (and its EMA)."""
        state = {"config": self.spec.to_dict(), "step": self.step, "G": self.G.state_dict()}
        if self.ema is not None:
            state["G_ema"] = self.ema.ema_model().state_dict()
        return state

    # -- one step ------------------------------------------------------------------------------
    def _micro_batches(self, *tensors: Tensor | None):
        """``training.accumulate`` equal slices of each tensor (None stays None), in order."""
        k = self.spec.recipe.training.accumulate
        return zip(*((None,) * k if x is None else x.chunk(k) for x in tensors), strict=True)

    def _accumulate(self, module, micro_batches, loss_fn, add_last=None) -> dict[str, Tensor]:
        """Backward ``loss_fn(*micro_batch) / k`` for each micro-batch (gradients add up to the
        full batch's mean loss), ``add_last()`` (a term on the weights) added once, to the last
        one; DDP synchronises only on the last. Returns the logs' mean over the micro-batches."""
        k = self.spec.recipe.training.accumulate
        parts = []
        for i, batch in enumerate(micro_batches):
            last = i == k - 1
            sync = (
                contextlib.nullcontext()
                if last or not hasattr(module, "no_sync")
                else module.no_sync()
            )
            with sync:
                loss, logs = loss_fn(*batch)
                loss = loss if k == 1 else loss / k
                if last and add_last is not None:
                    name, term = add_last()
                    loss, logs = loss + term, {**logs, name: term.detach()}
                self.scaler.scale(loss).backward()
            parts.append(logs)
        if k == 1:
            return parts[0]
        return {key: torch.stack([p[key] for p in parts if key in p]).mean(0) for key in parts[-1]}

    def _step(self, opt: torch.optim.Optimizer) -> None:
        self.scaler.step(opt)
        self.scaler.update()

    def _fake_inputs(self, stream: int) -> tuple[Tensor, Tensor | None]:
        """z and uniform labels for the global batch, drawn on the device from the generator
        seeded by (seed, step, ``stream``); this rank's share."""
        n, share = self.spec.recipe.training.batch_size, self.sampler.share
        seed = noise_seed(self.spec.seed, self.step, stream)
        g = None if self._noise is None else self._noise.manual_seed(seed)
        z = self.latent(n, self.spec.z_dim, device=self.device, generator=g)[share]
        if not self.spec.num_classes:
            return z, None
        y = torch.randint(self.spec.num_classes, (n,), device=self.device, generator=g)
        return z, y[share]

    def train_step(self) -> dict[str, Tensor]:
        """One D step (if the objective has a D optimizer) and, every g_every steps, one G step
        (+ orthogonal regularisation, + EMA update). With ``training.accumulate`` = k each step's
        batch is k micro-batches whose gradients add up before the one optimizer step (BigGAN-
        PyTorch's ``num_D_accumulations`` / ``num_G_accumulations``, train_fns.py): the same update
        as the whole batch for a network without BatchNorm; BatchNorm in train mode normalises
        over each micro-batch, and spectral norm runs one power iteration per micro-batch forward,
        as there."""
        obj, t = self.objective, self.spec.recipe.training
        real, y_real = self.sampler.batch(self.step)  # (B, C, H, W) in G's range; labels or None
        real = real.contiguous(memory_format=self.memory_format)
        amp = autocast(self.device, t.precision)
        logs: dict[str, Tensor] = {}
        if self.opt_d is not None:
            z, y_fake = self._fake_inputs(0)

            def d_loss(real, y_real, z, y_fake):
                with amp:
                    return obj.d_loss(
                        G=self.G_fwd, D=self.D_train, real=real, z=z, y_real=y_real, y_fake=y_fake,
                        joint=t.d_forward == "joint",
                    )  # fmt: skip

            self.opt_d.zero_grad(set_to_none=True)
            logs = self._accumulate(
                self.D_train, self._micro_batches(real, y_real, z, y_fake), d_loss
            )
            self._step(self.opt_d)
            obj.after_d_step(self.D)
        if (self.step + 1) % self.g_every == 0:
            z, y_fake = self._fake_inputs(1)  # fresh z (and labels) for the G step
            for p in self._d_only:
                p.requires_grad_(False)

            def g_loss(real, z, y_fake):
                with amp:
                    return obj.g_loss(G=self.G_train, D=self.D_fwd, real=real, z=z, y_fake=y_fake)

            def ortho():  # once per G step (on the weights, not the batch)
                return "ortho", orthogonal_regularization(
                    self.G, beta=t.ortho_beta, exclude=(SHARED_EMBEDDING,)
                )

            self.opt_g.zero_grad(set_to_none=True)
            micro = self._micro_batches(real, z, y_fake)
            g_logs = self._accumulate(self.G_train, micro, g_loss, ortho if t.ortho_beta else None)
            logs = {**logs, **g_logs}
            self._step(self.opt_g)
            for p in self._d_only:
                p.requires_grad_(True)
            if self.ema is not None:
                self.ema.update(self.step)
        self.step += 1
        return self._mean_over_ranks(logs)

    def _mean_over_ranks(self, logs: dict[str, Tensor]) -> dict[str, Tensor]:
        if self.world == 1:
            return logs
        import torch.distributed as dist

        keys = sorted(logs)
        values = torch.stack([logs[k].float() for k in keys])
        dist.all_reduce(values)
        return dict(zip(keys, values / self.world, strict=True))

    # -- the run -------------------------------------------------------------------------------
    def run(self, *, progress: bool = True, stop_after: int | None = None) -> TrainResult:
        """Train to ``training.steps`` (or ``stop_after`` steps, to simulate an interruption);
        the data's prefetching threads stop when it returns or raises."""
        try:
            return self._run(progress, stop_after)
        finally:
            self.sampler.close()

    def _run(self, progress: bool, stop_after: int | None) -> TrainResult:
        t = self.spec.recipe.training
        resumed = ckpt.load_resume(self.run_dir, self.spec, reset=self.is_main)
        if resumed is not None:
            self.load_state_dict(resumed)
            print(f"{self.spec.name}: resuming from step {self.step}", flush=True)
        if self.is_main:
            ckpt.write_config(self.run_dir, self.spec)
        evals = set(checkpoint_steps(t.steps, t.num_checkpoints))
        end = t.steps if stop_after is None else min(t.steps, self.step + stop_after)
        window: list[tuple[int, dict[str, Tensor]]] = []
        self.G.train()
        self.D.train()
        with Progress(self.spec.name, t.steps, self.step, self.live_dir, show=progress) as bar:
            bar.start_live(self.history)
            while self.step < end:
                window.append((self.step + 1, self.train_step()))
                bar.update()
                s = self.step
                if s % bar.log_every and s not in evals and s % t.resume_every and s != end:
                    continue
                bad_step = self._flush(window, bar)
                window = []
                if bad_step is not None:
                    return self._finish("diverged", bad_step)
                if s in evals and self.is_main:
                    ckpt.save_checkpoint(self.run_dir, self.evaluation_state())
                if (s % t.resume_every == 0 or s == end) and self.is_main:
                    ckpt.save_resume(self.run_dir, self.state_dict())
        if self.step < t.steps:  # interrupted on purpose (tests): no status yet
            return TrainResult("interrupted", self.step, None, self._saved())
        return self._finish("ok", None)

    def _flush(self, window: list[tuple[int, dict[str, Tensor]]], bar: Progress) -> int | None:
        """Append the window's mean losses to the history; return the first non-finite step."""
        for s, logs in window:
            if not all(bool(torch.isfinite(v).all()) for v in logs.values()):
                return s
        keys = sorted({k for _, logs in window for k in logs})
        row: dict[str, float] = {"step": window[-1][0]}
        for k in keys:
            row[k] = float(torch.stack([logs[k].float() for _, logs in window if k in logs]).mean())
        self.history.append(row)
        bar.log(row)
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
