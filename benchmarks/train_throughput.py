"""D+G steps per second of ganbench's training loop against a bare PyTorch loop of the same model.

The model is the InfoGAN-style network of Lucic et al. at width 1 (NS GAN, BN in D, batch 64,
28x28x1 images, Adam). The bare loop below is written from scratch with plain nn.Sequential
layers; both loops alternate in rounds within one process so load changes hit both alike.
Prints steps/s of each and the overhead of ours (target: <= 5%).

    python benchmarks/train_throughput.py [--steps 10] [--rounds 24] [--threads 0]
"""

from __future__ import annotations

import argparse
import tempfile

import torch
import torch.nn.functional as F
from paired_rounds import paired_rounds, print_overhead
from recipes import bench_spec
from torch import nn

from ganbench.training.loop import Trainer


def bare_networks(width: float = 1.0) -> tuple[nn.Module, nn.Module]:
    c1, c2, c3 = int(64 * width), int(128 * width), int(1024 * width)
    G = nn.Sequential(
        nn.Linear(64, c3),
        nn.BatchNorm1d(c3),
        nn.LeakyReLU(0.2),
        nn.Linear(c3, c2 * 49),
        nn.BatchNorm1d(c2 * 49),
        nn.LeakyReLU(0.2),
        nn.Unflatten(1, (c2, 7, 7)),
        nn.ConvTranspose2d(c2, c1, 4, 2, 1),
        nn.BatchNorm2d(c1),
        nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(c1, 1, 4, 2, 1),
        nn.Sigmoid(),
    )
    D = nn.Sequential(
        nn.Conv2d(1, c1, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(c1, c2, 4, 2, 1),
        nn.BatchNorm2d(c2),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(c2 * 49, c3),
        nn.BatchNorm1d(c3),
        nn.LeakyReLU(0.2),
        nn.Linear(c3, 1),
    )
    return G, D


class BareLoop:
    """The textbook NS GAN step: D on real and detached fake, then G on fresh z."""

    def __init__(self, images: torch.Tensor, batch: int) -> None:
        self.G, self.D = bare_networks()
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
        self.images, self.batch, self.i = images, batch, 0

    def step(self) -> None:
        idx = torch.randint(0, len(self.images), (self.batch,))
        real = self.images[idx].float() / 255
        z = torch.rand(self.batch, 64) * 2 - 1
        with torch.no_grad():
            fake = self.G(z)
        d_loss = F.softplus(-self.D(real)).mean() + F.softplus(self.D(fake)).mean()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        z = torch.rand(self.batch, 64) * 2 - 1
        for p in self.D.parameters():
            p.requires_grad_(False)
        g_loss = F.softplus(-self.D(self.G(z))).mean()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        for p in self.D.parameters():
            p.requires_grad_(True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps per round and loop")
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = (torch.rand(6400, 1, 28, 28) * 255).to(torch.uint8)
    spec = bench_spec(
        "fashion_mnist",
        {"name": "infogan", "width": 1.0, "z_dim": 64},
        "ns",
        {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5},
        batch_size=64,
        latent="uniform",
    )
    with tempfile.TemporaryDirectory() as tmp:
        ours = Trainer(spec, images, None, tmp, device=torch.device("cpu"))
        bare = BareLoop(images, 64)
        loops = {"ganbench": ours.train_step, "bare": bare.step}
        rates = paired_rounds(loops, steps=args.steps, rounds=args.rounds, warmup=10)
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, width 1, batch 64, "
        f"{args.rounds} rounds x {args.steps} steps (median)"
    )
    print_overhead(rates)


if __name__ == "__main__":
    main()
