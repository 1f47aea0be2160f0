"""D+G steps per second of the ablation trainer against a bare PyTorch loop of the same ResNet.

The model is the 32x32 ResNet G and projection D of the SAGAN/BigGAN studies (channel base
``--ch``, default 64 as the issue asks; class-conditional, SN in G and D, hinge loss, TTUR Adam,
batch 64), without attention and with an attention block at 16x16 in G and D. The bare loop is the
textbook step written out below on networks built from the same config; both loops alternate in
rounds within one process. Prints steps/s of each and the overhead of ours (target: <= 5%).

    python benchmarks/resnet_throughput.py [--ch 64] [--batch 64] [--steps 2] [--rounds 8]
"""

from __future__ import annotations

import argparse
import tempfile

import torch
import torch.nn.functional as F
from paired_rounds import paired_rounds, print_overhead
from recipes import bench_spec

from ganbench.plan import build_networks
from ganbench.training.loop import Trainer


class BareLoop:
    """Hinge loss, one D step (real and fake in one forward) and one G step per call."""

    def __init__(self, spec, images, labels, batch: int, lr_g: float, lr_d: float) -> None:
        torch.manual_seed(0)
        self.G, self.D = build_networks(spec)
        betas = (0.0, 0.9)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=lr_g, betas=betas, fused=True)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=lr_d, betas=betas, fused=True)
        self.images, self.labels, self.batch = images, labels, batch
        self.z_dim, self.classes = spec.z_dim, spec.num_classes

    def step(self) -> None:
        idx = torch.randint(0, len(self.images), (self.batch,))
        real, y = self.images[idx].float() / 255, self.labels[idx]
        z, y_fake = torch.randn(self.batch, self.z_dim), torch.randint(self.classes, (self.batch,))
        with torch.no_grad():
            fake = self.G(z, y_fake)
        logits = self.D(torch.cat([real, fake]), torch.cat([y, y_fake]))
        d_loss = F.relu(1 - logits[: self.batch]).mean() + F.relu(1 + logits[self.batch :]).mean()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        z, y_fake = torch.randn(self.batch, self.z_dim), torch.randint(self.classes, (self.batch,))
        for p in self.D.parameters():
            p.requires_grad_(False)
        g_loss = -self.D(self.G(z, y_fake), y_fake).mean()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        for p in self.D.parameters():
            p.requires_grad_(True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ch", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2, help="steps per round and loop")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2048, 3, 32, 32), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 10, (2048,), generator=g)
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, 32x32x3, ch {args.ch}, "
        f"batch {args.batch}, {args.rounds} rounds x {args.steps} steps (median)"
    )
    for name, attention in (("no attention", ()), ("attention at 16x16", (16,))):
        arch = {"name": "resnet", "ch": args.ch, "z_dim": 128}
        arch |= {"g_attention": list(attention), "d_attention": list(attention)}
        opt = {"lr_g": 1e-4, "lr_d": 4e-4, "beta1": 0.0, "beta2": 0.9}
        spec = bench_spec(
            "cifar10", arch, "hinge", opt, batch_size=args.batch, conditional=True,
            d_forward="joint",
        )  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            ours = Trainer(spec, images, labels, tmp, device=torch.device("cpu"))
            bare = BareLoop(spec, images, labels, args.batch, opt["lr_g"], opt["lr_d"])
            loops = {"ganbench": ours.train_step, "bare": bare.step}
            rates = paired_rounds(loops, steps=args.steps, rounds=args.rounds, warmup=1)
        print(f"{name}:")
        print_overhead(rates)


if __name__ == "__main__":
    main()
