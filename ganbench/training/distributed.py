"""One ablation run on several processes (one per GPU) with torchrun and DistributedDataParallel.

``training.nproc: N`` in a recipe makes the train stage re-launch itself as ``torchrun
--standalone --nproc_per_node N stages/train.py ... --worker``; every worker builds the same
:class:`~ganbench.training.loop.Trainer` with its rank. The design makes N processes
train the model one process would train on the same global batch:

- data: every rank draws the same global batch (a pure function of seed and step) and keeps its
  contiguous share (:class:`~ganbench.training.data.BatchSampler`);
- z and fake labels: every rank draws the global batch's from the same seeded stream and keeps its
  share, so the random streams, and the RNG state saved for resume, are the same on every rank;
- BatchNorm in G normalises over the global batch (cross-replica BN, as BigGAN): torch's
  ``nn.SyncBatchNorm`` on CUDA (fused kernels, Welford variance), :class:`GlobalBatchNorm2d` on
  the CPU, where ``SyncBatchNorm`` has no gloo path (the tests);
- gradients are averaged by DDP (each rank's loss is the mean over its share);
- logged losses are averaged over ranks, so every rank takes the same divergence decision;
- rank 0 alone writes checkpoints, the resume snapshot, the log and the status; a snapshot
  resumes under any number of processes (its state does not depend on the world size).

Backends: NCCL on CUDA, gloo on CPU (what the tests use).
"""

from __future__ import annotations

import os
import subprocess
import sys

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ganbench.errors import UserError


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the gradient of each rank's input is the sum of every rank's gradient."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the global batch across processes
    (differentiable all-reduces); plain BatchNorm2d outside a process group or in eval mode.
    Two passes: the global mean first, then the global sum of squared deviations from it (no
    E[x²] − E[x]², which cancels when the mean is large against the spread). Running statistics
    are updated from the global (unbiased) variance."""

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        if dist.get_world_size() == 1:
            return super().forward(x)
        c = x.shape[1]
        xf = x.float()
        local = torch.cat([xf.sum(dim=(0, 2, 3)), xf.new_full((1,), x.numel() / c)])
        total = _AllReduceSum.apply(local)
        count = total[-1]
        mean = total[:c] / count
        centred = xf - mean[None, :, None, None]
        var = _AllReduceSum.apply((centred * centred).sum(dim=(0, 2, 3))) / count
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None
                    else self.momentum
                )
                unbiased = var * count / (count - 1).clamp_min(1)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(unbiased.detach(), alpha=m)
        y = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y.to(x.dtype)


def convert_batchnorm(module: nn.Module, *, cuda: bool = False) -> nn.Module:
    """Replace every BatchNorm2d in ``module`` by a cross-replica one holding the same parameters
    and buffers (state-dict compatible, so checkpoints load into either): ``nn.SyncBatchNorm``
    when ``cuda`` (it runs on CUDA only), else :class:`GlobalBatchNorm2d`."""
    cls = nn.SyncBatchNorm if cuda else GlobalBatchNorm2d
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            new = cls(
                child.num_features,
                eps=child.eps,
                momentum=child.momentum,
                affine=child.affine,
                track_running_stats=child.track_running_stats,
            ).to(next(iter(child.buffers()), torch.empty(0)).device)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            convert_batchnorm(child, cuda=cuda)
    return module


def launch_torchrun(script: str, argv: list[str], nproc: int) -> None:
    """Run ``script argv --worker`` under ``torchrun --standalone --nproc_per_node nproc``;
    a failed worker is a UserError (torchrun has printed its traceback)."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        script,
        *argv,
        "--worker",
    ]
    print("launching: " + " ".join(cmd[2:]), flush=True)
    code = subprocess.call(cmd)
    if code != 0:
        raise UserError(f"torchrun with {nproc} processes failed (exit {code}); see the log above")


def init_process_group(device_name: str) -> tuple[int, int, torch.device]:
    """Join the torchrun process group; returns (rank, world size, this rank's device)."""
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    use_cuda = device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return rank, world, device


def ddp_wrapper(device: torch.device):
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return lambda module: DistributedDataParallel(module, device_ids=ids)  # syncs SN/BN buffers
