"""A smoke run of every preset on the GPU this machine has: training and evaluation throughput,
peak memory, and the overhead of ganbench's loop over a bare PyTorch loop of the same model.

    python benchmarks/gpu_smoke.py [configs/*.yaml ...] [--steps 200] [--eval-images 5000]

For each preset, each study it runs: the baseline variant (and BigGAN's row 8, ``ortho``, where
the preset has it) at the study's first dataset, seed 0, on synthetic uint8 data of the dataset's
shape (no dataset needed). A run that the preset spreads over ``nproc`` GPUs is run here as one
GPU's share: batch / nproc per step, the preset's ``accumulate`` micro-batches. Prints per run:
D steps/s and images/s of ``Trainer.train_step`` after a warm-up, the peak GPU memory of those
steps, the bare loop's steps/s on the same networks (hinge or NS loss, fused Adam, z and labels
drawn on the device, batches gathered there) and the ratio; then the evaluation's images/s
(G's samples through the preset's feature extractor, Inception v3 with random weights: the
same work as the real weights). Without a GPU it prints "no GPU" and exits 0 (``--allow-cpu``
runs the same code on the CPU, for the tests).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ganbench.metrics.evaluate import FeatureSink
from ganbench.models.sampling import LATENTS, generate_uint8
from ganbench.plan import RunSpec, build_networks, load_plan, resolve_run
from ganbench.training.loop import Trainer, make_adam

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs").glob("*.yaml"))
GIB = 2**30
# the bare loop's losses on D's logits l: (D loss on real and fake, G loss)
BARE_LOSSES = {
    "hinge": (lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(), lambda f: -f.mean()),
    "ns": (lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(), lambda f: F.softplus(-f).mean()),
}  # fmt: skip


def smoke_runs(preset: str) -> list[RunSpec]:
    """The preset's runs to measure, each as one GPU's share of its batch."""
    params = load_plan(str(ROOT / preset))
    runs = []
    for name, study in params.studies.items():
        if not study.seeds:
            continue
        variants = [study.baseline] + (
            ["ortho"] if name == "biggan" and "ortho" in study.variants else []
        )
        for variant in variants:
            spec = resolve_run(params, name, study.datasets[0], variant, study.seeds[0])
            t = spec.recipe.training
            share = t.model_copy(update={"batch_size": t.batch_size // t.nproc, "nproc": 1})
            runs.append(
                dataclasses.replace(spec, recipe=spec.recipe.model_copy(update={"training": share}))
            )
    return runs  # fmt: skip


def synthetic_data(spec: RunSpec, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, *spec.image_shape), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, spec.num_classes, (n,), generator=g) if spec.num_classes else None
    return images, labels


def timed(step, steps: int, device: torch.device) -> float:
    """Seconds per call of ``step`` over ``steps`` calls, the device synchronised."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - start) / steps


class BareLoop:
    """The textbook step on the run's own networks: D on real and fake in one forward, then G
    on fresh z (every ``n_disc``-th step), fused Adam, no accumulation, EMA or penalties."""

    def __init__(self, spec: RunSpec, images, labels, device: torch.device) -> None:
        torch.manual_seed(0)
        G, D = build_networks(spec)
        self.G, self.D, self.device, self.spec = G.to(device), D.to(device), device, spec
        o = spec.recipe.optimiser
        self.opt_g = make_adam(self.G.parameters(), o.lr_g, (o.beta1, o.beta2), device, o.eps)
        self.opt_d = make_adam(self.D.parameters(), o.lr_d, (o.beta1, o.beta2), device, o.eps)
        self.images, self.labels = images.to(device), None if labels is None else labels.to(device)
        self.d_loss, self.g_loss = BARE_LOSSES[spec.recipe.objective.name]
        self.latent, self.step_count = LATENTS.get(spec.recipe.training.latent), 0

    def fake(self, n: int):
        z = self.latent(n, self.spec.z_dim, device=self.device)
        y = (
            torch.randint(self.spec.num_classes, (n,), device=self.device)
            if self.labels is not None
            else None
        )
        return z, y  # fmt: skip

    def step(self) -> None:
        n = self.spec.recipe.training.batch_size
        idx = torch.randint(len(self.images), (n,), device=self.device)
        lo, hi = self.G.value_range
        real = self.images[idx].float().mul_((hi - lo) / 255).add_(lo)
        y = None if self.labels is None else self.labels[idx]
        z, y_fake = self.fake(n)
        with torch.no_grad():
            fake = self.G(z, y_fake)
        both = None if y is None else torch.cat([y, y_fake])
        logits = self.D(torch.cat([real, fake]), both)
        self.opt_d.zero_grad(set_to_none=True)
        self.d_loss(logits[:n], logits[n:]).backward()
        self.opt_d.step()
        self.step_count += 1
        if self.step_count % self.spec.recipe.optimiser.n_disc:
            return
        z, y_fake = self.fake(n)
        self.D.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        self.g_loss(self.D(self.G(z, y_fake), y_fake)).backward()
        self.opt_g.step()
        self.D.requires_grad_(True)


def train_figures(spec: RunSpec, device: torch.device, steps: int, warmup: int) -> dict:
    images, labels = synthetic_data(spec, 8 * spec.recipe.training.batch_size)
    out = {}
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(spec, images, labels, run_dir, device=device)
        timed(trainer.train_step, warmup, device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        out["s_per_step"] = timed(trainer.train_step, steps, device)
        if device.type == "cuda":
            out["peak_gib"] = torch.cuda.max_memory_allocated(device) / GIB
        trainer.sampler.close()
        if spec.recipe.objective.name in BARE_LOSSES and spec.recipe.training.accumulate == 1:
            bare = BareLoop(spec, images, labels, device)
            timed(bare.step, warmup, device)
            out["bare_s_per_step"] = timed(bare.step, steps, device)
        out["G"] = trainer.G
    return out


def eval_images_per_s(spec: RunSpec, G, device: torch.device, n: int, extractor) -> float:
    G.eval()
    latent = LATENTS.get(spec.recipe.training.latent)

    class Unlabelled(torch.nn.Module):  # class 0 for a conditional G: the cost is the same
        value_range = G.value_range

        def forward(self, z):
            y = torch.zeros(len(z), dtype=torch.long, device=z.device) if spec.num_classes else None
            return G(z, y)

    def run() -> None:
        sink = FeatureSink(capacity=n)
        stream = generate_uint8(Unlabelled(), lambda k: latent(k, spec.z_dim, device=device),
                                num_samples=n, batch_size=spec.recipe.evaluation.batch_size)  # fmt: skip
        for images in stream:  # Inception tiles 1-channel images itself
            sink.update(*extractor(images))
        sink.result()

    with torch.no_grad():
        return n / timed(run, 1, device)


def make_extractor(preset: str, spec: RunSpec, device: torch.device, tmp: Path):
    if load_plan(str(ROOT / preset)).features.extractor == "inception":
        from ganbench.metrics.inception import (
            build_inception_extractor,
            write_random_inception_weights,
        )

        path = write_random_inception_weights(tmp / "inception.pth")
        return build_inception_extractor(weights_path=path, device=device, download=None)
    from ganbench.metrics.classifier import FeatureCNN
    from ganbench.metrics.features import ClassifierExtractor

    return ClassifierExtractor(FeatureCNN(spec.image_shape[0], 10), "0" * 64, device)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("presets", nargs="*", default=PRESETS)
    p.add_argument("--steps", type=int, default=200, help="timed training steps per run")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--eval-images", type=int, default=5000)
    p.add_argument("--allow-cpu", action="store_true", help=argparse.SUPPRESS)  # the tests
    args = p.parse_args(argv)
    if not torch.cuda.is_available() and not args.allow_cpu:
        print("no GPU: nothing measured (this script measures the presets on a CUDA device)")
        return 0
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"{name}, torch {torch.__version__}, {args.steps} steps after {args.warmup} warm-up")
    for preset in args.presets:
        for spec in smoke_runs(preset):
            t = spec.recipe.training
            f = train_figures(spec, device, args.steps, args.warmup)
            line = (f"{preset} {spec.study}/{spec.variant} ({spec.dataset}, batch {t.batch_size}"
                    f" x accumulate {t.accumulate}): {1 / f['s_per_step']:.2f} steps/s, "
                    f"{t.batch_size / f['s_per_step']:.0f} images/s")  # fmt: skip
            if "peak_gib" in f:
                line += f", peak {f['peak_gib']:.2f} GiB"
            if "bare_s_per_step" in f:
                ratio = f["s_per_step"] / f["bare_s_per_step"]
                line += f", bare loop {1 / f['bare_s_per_step']:.2f} steps/s (ours/bare time {ratio:.3f})"
            print(line, flush=True)
            with tempfile.TemporaryDirectory() as tmp:
                extractor = make_extractor(preset, spec, device, Path(tmp))
                rate = eval_images_per_s(spec, f["G"], device, args.eval_images, extractor)
            print(f"  evaluation: {rate:.0f} images/s (G + {extractor.name} features)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
