"""Peak memory of one training step of a preset's run, measured on the CPU at small micro-batches
and extrapolated to the per-GPU micro-batch the preset trains with.

    python benchmarks/step_memory.py configs/sagan_biggan_imagenet128.yaml biggan ortho [--batches 2 4]

One fresh process per micro-batch b (peak RSS is per process): it builds the run's Trainer (G, D,
Adam for both, the EMA of G when the recipe keeps one) without accumulation at batch b, runs two
windows of ``n_disc`` steps (each window ends with a G step; the first allocates the gradients and
Adam's state), and reports the peak RSS and the RSS before the first step.
Memory on a GPU = model state + activations: the model state (weights, gradients, Adam's two
moments, the EMA copy of G) is counted exactly from the parameter counts; the activations are the
growth of the peak over the pre-step RSS, fitted as ``a + s * b`` over the measured b and taken at
the preset's micro-batch ``batch_size / (nproc * accumulate)``. What the CPU measurement does not
see: cuDNN workspaces, the CUDA context (~0.5-1 GB) and the caching allocator's fragmentation;
the script adds nothing for them and says so. Gradients and Adam's moments, allocated during the
measured steps, are taken out of the fitted intercept and counted in the model state.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

GIB = 2**30


def measure(preset: str, study: str, variant: str, batch: int) -> dict:
    """In this process: the peak RSS (bytes) of two training steps at micro-batch ``batch``."""
    import dataclasses

    import torch

    from ganbench.plan import load_plan, resolve_run
    from ganbench.training.loop import Trainer

    torch.set_num_threads(1)
    params = load_plan(preset)
    spec = resolve_run(params, study, params.study(study).datasets[0], variant, 0)
    t = spec.recipe.training.model_copy(update={"batch_size": batch, "nproc": 1, "accumulate": 1})
    spec = dataclasses.replace(spec, recipe=spec.recipe.model_copy(update={"training": t}))
    n = batch * 4 * spec.recipe.optimiser.n_disc
    images = torch.randint(0, 256, (n, *spec.image_shape), dtype=torch.uint8)
    labels = torch.randint(0, max(spec.num_classes, 1), (n,)) if spec.num_classes else None
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(spec, images, labels, run_dir, device=torch.device("cpu"))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        for _ in range(spec.recipe.optimiser.n_disc * 2):
            trainer.train_step()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    counts = {net: sum(p.numel() for p in getattr(trainer, net).parameters()) for net in "GD"}
    return {"batch": batch, "before": before, "peak": peak, "params": counts,
            "ema": bool(spec.recipe.training.ema_decay),
            "micro_batch": spec.recipe.training.batch_size}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset")
    parser.add_argument("study")
    parser.add_argument("variant")
    parser.add_argument("--batches", type=int, nargs=2, default=[2, 4])
    parser.add_argument("--gpu-gib", type=float, default=80.0, help="the GPU's memory to compare")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure in-process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.preset, args.study, args.variant, args.one)))
        return
    runs = []
    for b in args.batches:
        out = subprocess.run(
            [sys.executable, __file__, args.preset, args.study, args.variant, "--one", str(b)],
            check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
        ).stdout  # fmt: skip
        runs.append(json.loads(out.splitlines()[-1]))
    (b1, r1), (b2, r2) = ((r["batch"], r["peak"] - r["before"]) for r in runs)
    slope = (r2 - r1) / (b2 - b1)
    intercept = r1 - slope * b1
    from ganbench.plan import load_plan

    t = load_plan(args.preset).study(args.study).recipe_for(args.variant, "").training
    micro = t.batch_size // (t.nproc * t.accumulate)
    g, d = runs[0]["params"]["G"], runs[0]["params"]["D"]
    # fp32: weights + gradients + Adam's exp_avg and exp_avg_sq, for G and D; the EMA copy of G.
    # The steps' growth over the pre-step RSS holds the gradients and Adam's moments (allocated
    # by the first steps) beside the activations: they leave the intercept here.
    state = 4 * (4 * (g + d) + (g if t.ema_decay else 0))
    intercept -= 4 * 3 * (g + d)
    activations = intercept + slope * micro
    total = state + activations
    print(f"{args.preset} {args.study}/{args.variant}: batch {t.batch_size} over nproc {t.nproc} "
          f"x accumulate {t.accumulate} = micro-batch {micro} per GPU")  # fmt: skip
    for r in runs:
        print(f"  CPU, micro-batch {r['batch']}: step peak - pre-step RSS "
              f"{(r['peak'] - r['before']) / GIB:.2f} GiB")  # fmt: skip
    print(f"  activations: {intercept / GIB:.2f} + {slope / GIB:.3f} GiB x micro-batch "
          f"-> {activations / GIB:.1f} GiB at {micro}")  # fmt: skip
    print(f"  model state (G {g:,} + D {d:,} parameters; fp32 weights, grads, Adam x2, EMA of G): "
          f"{state / GIB:.2f} GiB")  # fmt: skip
    print(f"  estimated peak per GPU: {total / GIB:.1f} GiB of {args.gpu_gib:g} GiB "
          f"({'fits' if total / GIB < args.gpu_gib else 'does not fit'}; CUDA context, cuDNN "
          "workspaces and allocator fragmentation not included)")  # fmt: skip


if __name__ == "__main__":
    main()
