"""What a params preset costs: FLOPs and kernel launches of every run it trains and evaluates,
turned into GPU-hours at a stated fraction of NVIDIA's datasheet peaks, and a launch-bound floor.

    python benchmarks/preset_cost.py configs/lucic_paper.yaml [--study lucic] [--no-time]

What is measured (all on this machine, one torch thread):

* Runs: ``ganbench.plan.study_runs`` lists every search trial and re-run. Runs are grouped by what
  changes their cost: study, dataset, variant, the architecture block (a search trial's drawn
  ``d_batchnorm``), ``n_disc``, the objective and penalty (learning rates, β, penalty weights and
  BEGAN's γ, λ_k change no work), the training length and the evaluation block. Re-runs are
  costed on the recipe as set: the setting the search will choose is not known before it runs.
* Training FLOPs and ops per step: one window of ``n_disc`` steps of the real training loop
  (``ganbench.training.loop.Trainer.train_step``: n_disc D updates and one G update, penalties,
  clipping, EMA, orthogonal regularisation as the recipe has them) under a dispatch mode that sees
  every aten op, forward and backward (double backward of the gradient penalties included),
  divided by n_disc. The networks live on the ``meta`` device: shapes without arithmetic, so the
  BigGAN-size presets count in seconds (``--count-on cpu`` counts with real arithmetic; the tests
  check both give the same numbers). FLOPs use the formulas of ``torch.utils.flop_counter``
  (``FlopCounterMode`` itself cannot be used: its module tracker raises on the penalties'
  ``autograd.grad`` of a leaf input), split into convolutions and matrix products; elementwise
  ops, normalisation and the optimiser count 0 FLOPs. The count is done at two batch sizes
  (``--batches``, default 4 and 8) and fitted as ``a + b * batch``; ``a`` (batch-independent:
  orthogonal regularisation) is reported as a share, and the op count must not depend on batch.
* Ops: every dispatched aten op that touches the device and is not a view, an allocation or a
  profiler marker; each launches at least one kernel on a GPU (many launch two or three). z and
  fake labels are drawn on the device (their draws count). Adam runs fused on
  CUDA in ganbench (``make_adam``); while counting it is not run and its launches are modelled
  from ``multi_tensor_apply``'s limits (36 tensors or 320 blocks of 65,536 elements per launch
  for Adam's 4 lists; one ``_foreach_add_`` of the step counters, 110 tensors per launch).
  ``--check`` recounts each timed model on the CPU at the timed batch with real arithmetic and
  the CPU's fused Adam (2 ops a step, without CUDA's per-launch limits): FLOPs test the linear
  fit at that batch; ops differ only where one fused Adam step needs more than one CUDA launch.
* Evaluation per run: ``num_checkpoints`` x generators (G, and its EMA when ``ema_decay`` > 0)
  scorings, plus one per truncation value and one untruncated on the best checkpoint when
  ``truncation`` is set (ganbench.evaluation.runs). A scoring is ``num_fake`` images through G
  and the feature extractor, and ``standing_stats_batches`` x ``standing_stats_batch_size`` G
  forwards when G has BatchNorm. Extractor FLOPs per image are counted on the real extractor: the
  Inception network of ganbench.metrics.inception with generated random weights (no real weights
  exist here; the code path and shapes are the real ones), or the classifier CNN at its width.
  FID and KID run in float64 NumPy on the host: their matrix products are counted by formula and
  reported as CPU core-hours at this machine's measured one-core float64 GEMM rate. PRDC's
  distances run in float64 on the evaluation device (counted by formula, at the GPU's FP64
  tensor-core peak times the same utilisation).
  Not counted: reference statistics and classifier training (once per dataset), sample grids.
* CPU time per step: the study's baseline variant (its re-runs) per dataset, on this CPU at batch
  64 (or the run's batch if smaller; halved while a window would exceed ``--cpu-gflop``), after a
  warm-up window; real arithmetic, fused Adam, one thread.

GPU time per phase = max(compute, launches), summed over steps and scorings:

* compute: convolution FLOPs at the dense TF32 tensor peak and matrix products at the FP32 peak
  (PyTorch's defaults: ``torch.backends.cudnn.allow_tf32`` is on, ``torch.backends.cuda.matmul.
  allow_tf32`` off, and ganbench sets neither; ``--matmul-tf32`` puts products at TF32 too), both
  times ``--util`` (default 0.4). bf16/fp16 recipes use the dense BF16/FP16 tensor peak. Peaks:
  A100 (NVIDIA A100 datasheet): FP32 19.5, TF32 156, BF16 312 TFLOPS; H100 SXM5 (NVIDIA H100
  datasheet; dense values in the Hopper architecture whitepaper, table 3): FP32 67, TF32 494.7,
  BF16 989.4 TFLOPS.
* launches: ops x ``--launch-us`` (default 5 µs) per GPU. NVIDIA's "Getting Started with CUDA
  Graphs" (developer.nvidia.com/blog/cuda-graphs/) measures about 4 µs per short kernel launched
  back to back from one stream without a graph; PyTorch's eager dispatch (Python, dispatcher,
  autograd) adds host time per op on top, so 5 µs per op is a floor, not an estimate. Under
  ``nproc`` > 1 every GPU launches the whole step's ops (DDP's all-reduce and SyncBatchNorm
  launches are not counted).
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # before NumPy loads its BLAS: the host-metric rate is one core's
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse
import contextlib
import dataclasses
import hashlib
import json
import math
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import flop_registry

import ganbench.training.loop as loop
from ganbench.data import DATASETS
from ganbench.plan import RunSpec, build_networks, load_plan, study_runs
from ganbench.training.data import BatchSampler

PEAKS = {  # dense TFLOPS (NVIDIA datasheets; H100 SXM5 dense values: Hopper whitepaper, table 3)
    "A100": {"fp32": 19.5e12, "tf32": 156e12, "bf16": 312e12, "fp64": 19.5e12},  # FP64 TC
    "H100": {"fp32": 67e12, "tf32": 494.7e12, "bf16": 989.4e12, "fp64": 67e12},  # FP64 TC
}
# Reference-split sizes of sources that do not state them (standard partitions).
KNOWN_SPLITS = {
    "celeba": {"train": 162_770, "test": 19_962},  # list_eval_partition.txt
    "imagenet128": {"train": 1_281_167, "test": 50_000},  # ILSVRC2012; test: the validation set
    "fashion_mnist32": {"train": 60_000, "test": 10_000},
}
# Dispatched ops that launch no kernel: allocations, aliasing, profiler markers.
FREE_OPS = {
    "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "detach",
    "alias", "lift_fresh", "_unsafe_view", "set_", "resize_", "_record_function_enter_new",
    "_record_function_exit",
}  # fmt: skip
CONV_OPS = {"convolution", "convolution_backward", "_convolution", "conv2d", "cudnn_convolution"}
ADAM_TENSORS, ADAM_BLOCKS, CHUNK, FOREACH_TENSORS = 36, 320, 65_536, 110


# -- counting ----------------------------------------------------------------------------------
class OpCounter(TorchDispatchMode):
    """FLOPs (torch.utils.flop_counter's formulas; ``conv`` and ``mm``) and kernel-level ops of
    the aten ops dispatched inside; with ``device``, only ops with a tensor on that device."""

    active: OpCounter | None = None

    def __init__(self, device: str | None = None) -> None:
        super().__init__()
        self.device, self.paused = device, False
        self.flops: Counter = Counter()
        self.ops: Counter = Counter()

    def __enter__(self):
        self._outer, OpCounter.active = OpCounter.active, self
        return super().__enter__()

    def __exit__(self, *exc):
        OpCounter.active = self._outer
        return super().__exit__(*exc)

    @contextlib.contextmanager
    def pause(self):
        self.paused = True
        try:
            yield
        finally:
            self.paused = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.paused or (self.device is not None and not _on(self.device, args, kwargs, out)):
            return out
        packet = func.overloadpacket
        formula = flop_registry.get(packet)
        if formula is not None:
            kind = "conv" if packet.__name__ in CONV_OPS else "mm"
            self.flops[kind] += formula(*args, **kwargs, out_val=out)
        if not func.is_view and packet.__name__ not in FREE_OPS:
            self.ops[packet.__name__] += 1
        return out

    @property
    def total_flops(self) -> int:
        return sum(self.flops.values())

    @property
    def total_ops(self) -> int:
        return sum(self.ops.values())


def _on(device: str, *trees) -> bool:
    leaves, _ = tree_flatten(trees)
    return any(isinstance(x, torch.Tensor) and x.device.type == device for x in leaves)


def adam_launches(numels: list[int]) -> int:
    """Kernel launches of one fused Adam step on CUDA over tensors of these sizes: the step
    counters' ``_foreach_add_`` and ``_fused_adam_``'s multi_tensor_apply launches."""
    launches, tensors, blocks = math.ceil(len(numels) / FOREACH_TENSORS), 0, 0
    for i, n in enumerate(numels):
        tensors += 1
        chunks = max(1, math.ceil(n / CHUNK))
        for c in range(chunks):
            blocks += 1
            last_chunk = c == chunks - 1
            if (
                (tensors == ADAM_TENSORS and last_chunk)
                or blocks == ADAM_BLOCKS
                or (i == len(numels) - 1 and last_chunk)
            ):
                launches, blocks = launches + 1, 0
                tensors = 0 if last_chunk else 1
    return launches


class ModelledAdam(torch.optim.Adam):
    """Adam on meta tensors: no update (there are no values); counts the launches of CUDA's
    fused kernel (:func:`adam_launches`) into the active counter."""

    def __init__(self, params, lr, betas, device, eps=1e-8):
        super().__init__(params, lr=lr, betas=betas, eps=eps, foreach=False)
        self.launches = adam_launches([p.numel() for g in self.param_groups for p in g["params"]])

    @torch.no_grad()
    def step(self, closure=None):
        if OpCounter.active is not None and not OpCounter.active.paused:
            OpCounter.active.ops["_fused_adam_ (modelled)"] += self.launches


@contextlib.contextmanager
def modelled_adam():
    made = loop.make_adam
    loop.make_adam = ModelledAdam
    try:
        yield
    finally:
        loop.make_adam = made


# -- specs and trainers ------------------------------------------------------------------------
def at_batch(spec: RunSpec, batch: int) -> RunSpec:
    """``spec`` trained in one process at global batch ``batch``, without accumulation: the same
    FLOPs per image; with ``accumulate`` = k a step launches its forward and backward ops k
    times, which this count (and so the launch-bound floor) leaves out."""
    t = spec.recipe.training.model_copy(update={"batch_size": batch, "nproc": 1, "accumulate": 1})
    return dataclasses.replace(spec, recipe=spec.recipe.model_copy(update={"training": t}))


def fake_data(spec: RunSpec, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, *spec.image_shape), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, spec.num_classes, (n,), generator=g) if spec.num_classes else None
    return images, labels


def make_trainer(spec: RunSpec, device: str, run_dir: str, *, counting: bool) -> loop.Trainer:
    """A Trainer on ``device``; ``counting``: Adam modelled (:class:`ModelledAdam`). z and the
    fake labels are drawn on the device and counted as the step's own ops."""
    images, labels = fake_data(
        spec, spec.recipe.training.batch_size * (8 * spec.recipe.optimiser.n_disc + 1)
    )
    adam = modelled_adam() if counting else contextlib.nullcontext()
    with torch.device(device), adam:
        trainer = loop.Trainer(spec, images, labels, run_dir, device=torch.device(device))
    trainer.sampler.indices(0)  # the epoch's permutation, drawn outside any count
    return trainer


def rebatch(trainer: loop.Trainer, spec: RunSpec) -> None:
    """Point ``trainer`` (same networks) at ``spec``'s batch size."""
    b = spec.recipe.training.batch_size
    images, labels = fake_data(spec, b * (8 * trainer.g_every + 1))
    trainer.spec, trainer.step = spec, 0
    trainer.sampler = BatchSampler(
        images, b, seed=spec.seed, device=trainer.device, labels=labels,
        value_range=trainer.G.value_range,
    )  # fmt: skip
    trainer.sampler.indices(0)


def count_window(trainer: loop.Trainer) -> OpCounter:
    """Counts of one window of g_every steps (n_disc D updates and one G update)."""
    with OpCounter("meta" if trainer.device.type == "meta" else None) as c:
        for _ in range(trainer.g_every):
            trainer.train_step()
    return c


@dataclasses.dataclass
class StepCost:
    """Per D step (a window / n_disc) at batch ``b``: ``conv + conv_b * b`` etc., ``ops``."""

    conv: float
    conv_b: float
    mm: float
    mm_b: float
    ops: float
    op_names: Counter

    def flops(self, batch: int) -> tuple[float, float]:
        return self.conv + self.conv_b * batch, self.mm + self.mm_b * batch

    def fixed_share(self, batch: int) -> float:
        return (self.conv + self.mm) / max(1.0, sum(self.flops(batch)))


def measure_training(spec: RunSpec, batches: tuple[int, int], device: str) -> StepCost:
    """FLOPs and ops per D step: one window at each batch size, FLOPs fitted as a + b * batch."""
    b1, b2 = batches
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(at_batch(spec, b1), device, tmp, counting=True)
        counts = []
        for b in (b1, b2):
            rebatch(trainer, at_batch(spec, b))
            counts.append(count_window(trainer))
    n = trainer.g_every
    (c1, c2) = counts
    if c1.ops != c2.ops:
        raise RuntimeError(f"{spec.name}: ops per window depend on batch ({c1.ops} vs {c2.ops})")
    fit = {}
    for kind in ("conv", "mm"):
        slope = (c2.flops[kind] - c1.flops[kind]) / (b2 - b1)
        fit[kind] = ((c1.flops[kind] - slope * b1) / n, slope / n)
    ops = Counter({k: v / n for k, v in c1.ops.items()})
    return StepCost(*fit["conv"], *fit["mm"], c1.total_ops / n, ops)


@dataclasses.dataclass
class Forward:
    """One forward pass: FLOPs per image and ops per call (batch-independent)."""

    conv: float
    mm: float
    ops: float

    @property
    def flops(self) -> float:
        return self.conv + self.mm


def measure_generator(spec: RunSpec, batches: tuple[int, int]) -> tuple[Forward, bool]:
    """G's forward in eval mode on meta (FLOPs per image, ops per call); whether G has BN."""
    with torch.device("meta"):
        G, _ = build_networks(spec)
    G.eval()
    counts = []
    for b in batches:
        z = torch.zeros(b, spec.z_dim, device="meta")
        y = torch.zeros(b, dtype=torch.long, device="meta") if spec.num_classes else None
        with torch.no_grad(), OpCounter("meta") as c:
            G(z, y)
        counts.append(c)
    has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in G.modules())
    return _per_image(counts, batches), has_bn


def _per_image(counts: list[OpCounter], batches: tuple[int, int]) -> Forward:
    (c1, c2), (b1, b2) = counts, batches
    conv, mm = ((c2.flops[k] - c1.flops[k]) / (b2 - b1) for k in ("conv", "mm"))
    return Forward(conv, mm, float(c1.total_ops))


def measure_extractor(name: str, shape, params, weights: list) -> Forward:
    """The feature extractor's FLOPs per image at ``shape`` (C, H, W) and ops per call, counted
    on the CPU with real arithmetic (batches of 1 and 2)."""
    if name == "inception":
        from ganbench.metrics.inception import (
            build_inception_extractor,
            write_random_inception_weights,
        )

        if not weights:  # generated once: random weights, torch-fidelity's keys
            tmp = tempfile.mkdtemp()
            path = write_random_inception_weights(Path(tmp) / "random-inception.pth")
            weights.append((path, hashlib.sha256(path.read_bytes()).hexdigest()))
        path, digest = weights[0]
        extractor = build_inception_extractor(weights_path=path, expected_sha256=digest,
                                              download=None)  # fmt: skip
    else:
        from ganbench.metrics.classifier import FeatureCNN
        from ganbench.metrics.features import ClassifierExtractor

        model = FeatureCNN(shape[0], 10, width=params.classifier.width)
        extractor = ClassifierExtractor(model, "0" * 64, "cpu")
    counts = []
    for b in (1, 2):
        images = torch.randint(0, 256, (b, *shape), dtype=torch.uint8)
        with OpCounter() as c:
            extractor(images)
        counts.append(c)
    return _per_image(counts, (1, 2))


def host_gemm_rate() -> float:
    """float64 GEMM FLOP/s of one core here (the PRDC chunk shape: 512 x 2048 by 2048 x 4096),
    the fastest of the products run in 1.5 s (the least disturbed by other load)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((512, 2048)), rng.standard_normal((2048, 4096))
    best, start = math.inf, time.perf_counter()
    while time.perf_counter() - start < 1.5:
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * 512 * 2048 * 4096 / best


def cpu_time(spec: RunSpec, cost: StepCost, budget_gflop: float, check: bool) -> dict:
    """Seconds per D step of the real loop (fused Adam) on this CPU, one thread, at batch 64 or
    the run's batch if smaller, halved while a window would exceed ``budget_gflop``; with
    ``check``, one more window counted there (real arithmetic) against the fit's prediction."""
    b = min(64, spec.recipe.training.batch_size)
    while b > 2 and sum(cost.flops(b)) * spec.recipe.optimiser.n_disc > budget_gflop * 1e9:
        b = max(2, b // 2)  # BatchNorm needs 2
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(at_batch(spec, b), "cpu", tmp, counting=False)
        n = trainer.g_every
        for _ in range(n):  # warm-up window
            trainer.train_step()
        windows, t0 = 0, time.perf_counter()
        while windows < 1 or (time.perf_counter() - t0 < 3.0 and windows < 3):
            for _ in range(n):
                trainer.train_step()
            windows += 1
        seconds = (time.perf_counter() - t0) / (windows * n)
        out = {"batch": b, "s_per_step": seconds, "gflops": sum(cost.flops(b)) / seconds / 1e9}
        if check:  # fused Adam as run
            c = count_window(trainer)
            out["cpu_flops"], out["cpu_ops"] = c.total_flops / n, c.total_ops / n
    return out


# -- plan --------------------------------------------------------------------------------------
def cost_key(spec: RunSpec) -> tuple:
    """What a run's cost depends on (see the module docstring)."""
    r = spec.recipe
    t = r.training
    objective = (r.objective.name, r.objective.fields().get("clip") is not None)
    training = (t.steps, t.batch_size, t.d_forward, t.conditional, bool(t.ema_decay),
                bool(t.ortho_beta), t.precision, t.nproc, t.num_checkpoints)  # fmt: skip
    return (
        spec.study, spec.dataset, spec.variant,
        json.dumps(r.arch.model_dump(mode="json"), sort_keys=True),
        objective, r.penalty.name, r.optimiser.n_disc, training,
        json.dumps(r.evaluation.model_dump(mode="json"), sort_keys=True),
    )  # fmt: skip


def reference_size(params, dataset: str) -> tuple[int, bool]:
    """(size of the reference split, whether it is known rather than assumed)."""
    split = params.pipeline.reference_split
    counts = getattr(DATASETS.get(dataset), "counts", None)
    if counts is not None:
        return counts[0 if split == "train" else 1], True
    if dataset in KNOWN_SPLITS:
        return KNOWN_SPLITS[dataset][split], True
    return 0, False


@dataclasses.dataclass
class Group:
    spec: RunSpec
    runs: int
    trials: int
    cost: StepCost | None = None
    gen: Forward | None = None
    g_has_bn: bool = True
    extractor: Forward | None = None
    feature_dim: int = 2048
    ref_n: int = 0


def scorings(spec: RunSpec) -> int:
    t, e = spec.recipe.training, spec.recipe.evaluation
    per_checkpoint = 2 if t.ema_decay else 1
    sweep = 1 + len(set(e.truncation)) if getattr(e, "truncation", ()) else 0
    return t.num_checkpoints * per_checkpoint + sweep


def host_flops(g: Group) -> float:
    """float64 FLOPs of the host's scores of one run, per scoring: KID (4 m^2 d per subset: two
    syrk and one gemm), the running covariance (2 M d^2) and FID (~6 d^3)."""
    e, d = g.spec.recipe.evaluation, g.feature_dim
    m, M = e.kid_subset_size, e.num_fake
    return scorings(g.spec) * (e.kid_subsets * 4 * m * m * d + 2 * M * d * d + 6 * d**3)


def prdc_flops(g: Group) -> float:
    """float64 FLOPs of one run's PRDC on the evaluation device (ganbench.metrics.prdc): per
    scoring the fake k-NN radii (2 M^2 d) and fake-real distances (2 M N d); once per run the
    real k-NN radii (2 N^2 d)."""
    e, d = g.spec.recipe.evaluation, g.feature_dim
    M, N = e.num_fake, g.ref_n or e.num_fake
    return scorings(g.spec) * (2 * M * M * d + 2 * M * N * d) + 2 * N * N * d


@dataclasses.dataclass
class Totals:
    runs: int = 0
    train_flops: float = 0.0
    eval_flops: float = 0.0
    host_flops: float = 0.0
    compute_s: dict = dataclasses.field(default_factory=lambda: defaultdict(float))
    launch_s: float = 0.0
    est_s: dict = dataclasses.field(default_factory=lambda: defaultdict(float))
    steps: set = dataclasses.field(default_factory=set)

    def add(self, other: Totals) -> None:
        self.runs += other.runs
        self.train_flops += other.train_flops
        self.eval_flops += other.eval_flops
        self.host_flops += other.host_flops
        self.launch_s += other.launch_s
        for gpu in PEAKS:
            self.compute_s[gpu] += other.compute_s[gpu]
            self.est_s[gpu] += other.est_s[gpu]
        self.steps |= other.steps


def seconds(conv: float, mm: float, precision: str, gpu: str, args) -> float:
    peaks = PEAKS[gpu]
    if precision in ("bf16", "fp16"):
        return (conv + mm) / (peaks["bf16"] * args.util)
    mm_peak = peaks["tf32"] if args.matmul_tf32 else peaks["fp32"]
    return conv / (peaks["tf32"] * args.util) + mm / (mm_peak * args.util)


def group_totals(g: Group, args) -> Totals:
    """Training and evaluation of the group's runs: FLOPs, compute and launch seconds."""
    s, t, e = g.spec, g.spec.recipe.training, g.spec.recipe.evaluation
    out = Totals(runs=g.runs, steps={t.steps})
    conv, mm = g.cost.flops(t.batch_size)
    train_ops = g.cost.ops * t.nproc  # every GPU launches the step's ops
    out.train_flops = g.runs * t.steps * (conv + mm)
    out.host_flops = g.runs * host_flops(g)
    n = scorings(s)
    batches = math.ceil(e.num_fake / e.batch_size)
    standing = e.standing_stats_batches if g.g_has_bn else 0
    g_images = e.num_fake + standing * e.standing_stats_batch_size
    ev_conv = g_images * g.gen.conv + e.num_fake * g.extractor.conv
    ev_mm = g_images * g.gen.mm + e.num_fake * g.extractor.mm
    ev_ops = (batches + standing) * g.gen.ops + batches * g.extractor.ops
    out.eval_flops = g.runs * n * (ev_conv + ev_mm)
    launch_step, launch_eval = train_ops * args.launch_us * 1e-6, ev_ops * args.launch_us * 1e-6
    out.launch_s = g.runs * (t.steps * launch_step + n * launch_eval)
    prdc = prdc_flops(g)
    out.eval_flops += g.runs * prdc
    for gpu in PEAKS:
        step = seconds(conv, mm, t.precision, gpu, args)
        score = seconds(ev_conv, ev_mm, "fp32", gpu, args)
        prdc_s = prdc / (PEAKS[gpu]["fp64"] * args.util)
        out.compute_s[gpu] = g.runs * (t.steps * step + n * score + prdc_s)
        out.est_s[gpu] = g.runs * (
            t.steps * max(step, launch_step) + n * max(score, launch_eval) + prdc_s
        )
    return out


# -- output ------------------------------------------------------------------------------------
def fmt(x: float, digits: int = 3) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 10 ** (digits + 2):
        return f"{x:,.0f}"
    return f"{x:,.{max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths, strict=True)))  # fmt: skip
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def summary_row(label: str, t: Totals, host_rate: float) -> list[str]:
    steps = sorted(t.steps)
    h = 1 / 3600
    bound = "launch" if t.launch_s > t.compute_s["H100"] else "compute"
    total = t.train_flops + t.eval_flops
    return [
        label, f"{t.runs:,}", f"{steps[0]:,}" if len(steps) == 1 else f"{steps[0]:,}-{steps[-1]:,}",
        fmt(t.train_flops / 1e15), fmt(t.eval_flops / 1e15), fmt(total / 1e15),
        fmt(t.compute_s["A100"] * h), fmt(t.compute_s["H100"] * h), fmt(t.launch_s * h),
        fmt(t.est_s["A100"] * h), fmt(t.est_s["H100"] * h), bound,
        fmt(t.host_flops / host_rate * h),
    ]  # fmt: skip


SUMMARY = ["", "runs", "steps/run", "train PFLOP", "eval PFLOP", "total PFLOP", "A100 cmp h",
           "H100 cmp h", "launch h", "A100 h", "H100 h", "bound (H100)", "host core-h"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", help="a params file (configs/*.yaml)")
    parser.add_argument("--study", action="append", help="only these studies (default: all)")
    parser.add_argument(
        "--batches",
        type=int,
        nargs=2,
        default=(4, 8),
        help="the two batch sizes the FLOPs are counted at",
    )
    parser.add_argument(
        "--count-on",
        choices=("cpu", "meta"),
        default="meta",
        help="count on meta (shapes only) or on the CPU (real arithmetic)",
    )
    parser.add_argument("--util", type=float, default=0.4, help="fraction of the peak reached")
    parser.add_argument("--launch-us", type=float, default=5.0, help="µs per kernel launch")
    parser.add_argument("--matmul-tf32", action="store_true", help="matmuls at the TF32 peak")
    parser.add_argument("--no-time", action="store_true", help="skip the CPU seconds per step")
    parser.add_argument(
        "--check",
        action="store_true",
        help="recount the timed models on the CPU (real arithmetic, fused Adam)",
    )
    parser.add_argument(
        "--cpu-gflop",
        type=float,
        default=150.0,
        help="largest window (n_disc steps) timed on the CPU, GFLOP",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()

    params = load_plan(args.preset)
    studies = args.study or list(params.studies)
    extractor_name = params.features.extractor
    groups: dict[tuple, Group] = {}
    for study in studies:
        for spec in study_runs(params, study):
            g = groups.setdefault(cost_key(spec), Group(spec, 0, 0))
            g.runs += 1
            g.trials += spec.search["role"] == "trial"
    if not groups:
        print(f"{args.preset}: no runs in {', '.join(studies)}")
        return

    gens, extractors, weights = {}, {}, []
    for g in groups.values():
        s = g.spec
        g.cost = measure_training(s, tuple(args.batches), args.count_on)
        gkey = (s.dataset, json.dumps(s.recipe.arch.model_dump(mode="json"), sort_keys=True),
                s.num_classes)  # fmt: skip
        if gkey not in gens:
            gens[gkey] = measure_generator(s, tuple(args.batches))
        g.gen, g.g_has_bn = gens[gkey]
        if s.image_shape not in extractors:
            extractors[s.image_shape] = measure_extractor(extractor_name, s.image_shape, params,
                                                          weights)  # fmt: skip
        g.extractor = extractors[s.image_shape]
        g.feature_dim = 2048 if extractor_name == "inception" else 128
        g.ref_n, _ = reference_size(params, s.dataset)
    host_rate = host_gemm_rate()

    timed = {}
    if not args.no_time:
        for study in studies:
            s = params.study(study)
            for dataset in s.datasets:
                cands = [g for g in groups.values()
                         if g.spec.study == study and g.spec.dataset == dataset]  # fmt: skip
                if not cands:
                    continue
                base = [g for g in cands if g.spec.variant == s.baseline and g.trials < g.runs]
                rep = (base or sorted(cands, key=lambda g: -g.runs))[0]
                timed[(study, dataset)] = (rep, cpu_time(rep.spec, rep.cost, args.cpu_gflop,
                                                         args.check))  # fmt: skip

    print(f"# {args.preset}: cost of every run (torch {torch.__version__}, 1 thread)")
    print(f"# compute: conv FLOPs at the dense TF32 peak, matmul FLOPs at the "
          f"{'TF32' if args.matmul_tf32 else 'FP32'} peak, x {args.util:g} utilisation; "
          f"A100 {PEAKS['A100']['tf32'] / 1e12:g}/{PEAKS['A100']['fp32'] / 1e12:g}, "
          f"H100 SXM {PEAKS['H100']['tf32'] / 1e12:g}/{PEAKS['H100']['fp32'] / 1e12:g} TFLOPS "
          f"(TF32/FP32)")  # fmt: skip
    print(
        f"# launch floor: {args.launch_us:g} µs per op; A100 h / H100 h: per step and scoring "
        f"the larger of compute and launches; host: score FLOPs (float64) at "
        f"{host_rate / 1e9:.1f} GFLOP/s per core measured here"
    )
    grand = Totals()
    for study in studies:
        sg = [g for g in groups.values() if g.spec.study == study]
        if not sg:
            continue
        print(f"\n## study {study}")
        rows = []
        per_model: dict[tuple, list[Group]] = defaultdict(list)
        for g in sg:
            per_model[(g.spec.dataset, g.spec.variant)].append(g)
        for (dataset, variant), gs in per_model.items():
            runs = sum(g.runs for g in gs)
            t = gs[0].spec.recipe.training
            step_flops = sum(g.runs * sum(g.cost.flops(t.batch_size)) for g in gs) / runs
            ops = sum(g.runs * g.cost.ops for g in gs) / runs
            fixed = max(g.cost.fixed_share(t.batch_size) for g in gs)
            h100 = sum(g.runs * seconds(*g.cost.flops(t.batch_size), t.precision, "H100", args)
                       for g in gs) / runs  # fmt: skip
            nd = Counter()
            for g in gs:
                nd[g.spec.recipe.optimiser.n_disc] += g.runs
            mix = " ".join(f"{k}:{v}" for k, v in sorted(nd.items()))
            rows.append([dataset, variant, f"{runs:,}", f"{t.batch_size}", mix,
                         fmt(step_flops / 1e9), f"{fixed:.1%}", fmt(ops, 4),
                         fmt(h100 * 1e3), fmt(ops * t.nproc * args.launch_us / 1e3)])  # fmt: skip
        print("\nper model (averaged over its runs; GFLOP and ops per D step at the run's batch):")
        print(table(["dataset", "variant", "runs", "batch", "n_disc:runs", "GFLOP/step",
                     "fixed", "ops/step", "H100 cmp ms", "launch ms"], rows))  # fmt: skip
        ev_rows = []
        for dataset in dict.fromkeys(g.spec.dataset for g in sg):
            ds = [g for g in sg if g.spec.dataset == dataset]
            g = ds[0]
            e = g.spec.recipe.evaluation
            g_lo, g_hi = min(x.gen.flops for x in ds) / 1e6, max(x.gen.flops for x in ds) / 1e6
            n_lo, n_hi = min(scorings(x.spec) for x in ds), max(scorings(x.spec) for x in ds)
            ref_n, known = reference_size(params, dataset)
            ev_rows.append([
                dataset, f"{n_lo}" if n_lo == n_hi else f"{n_lo}-{n_hi}", f"{e.num_fake:,}",
                f"{e.standing_stats_batches if g.g_has_bn else 0}x{e.standing_stats_batch_size}",
                fmt(g.extractor.flops / 1e9),
                fmt(g_lo) if g_lo == g_hi else f"{fmt(g_lo)}-{fmt(g_hi)}", fmt(g.extractor.ops, 4),
                fmt(g.gen.ops, 4), f"{ref_n:,}" if known else f"{e.num_fake:,} (assumed)",
                fmt(host_flops(g) / 1e12), fmt(prdc_flops(g) / 1e12),
            ])  # fmt: skip
        print(
            f"\nevaluation per run ({extractor_name} features; ops per call of the first model; "
            f"float64 FLOPs of the scores: FID/KID on the host, PRDC on the device):"
        )
        print(table(["dataset", "scorings", "images", "standing", "extractor GFLOP/img",
                     "G MFLOP/img", "extractor ops/batch", "G ops/batch", "reference",
                     "host TFLOP/run", "PRDC TFLOP/run"], ev_rows))  # fmt: skip
        if timed:
            rows = []
            for (st, dataset), (rep, t) in timed.items():
                if st != study:
                    continue
                row = [dataset, rep.spec.variant, f"{t['batch']}", f"{t['s_per_step']:.3f}",
                       f"{t['gflops']:.1f}", fmt(sum(rep.cost.flops(t["batch"])) / 1e9),
                       fmt(rep.cost.ops, 4)]  # fmt: skip
                if args.check:
                    row += [fmt(t["cpu_flops"] / 1e9), fmt(t["cpu_ops"], 4)]
                rows.append(row)
            head = ["dataset", "model", "batch", "CPU s/step", "CPU GFLOP/s", "GFLOP/step",
                    "ops/step"]  # fmt: skip
            if args.check:
                head += ["CPU-counted GFLOP", "CPU-counted ops"]
            print(
                "\nmeasured on this CPU (1 thread, real training loop, after one warm-up window):"
            )
            print(table(head, rows))
        rows, study_total = [], Totals()
        for dataset in dict.fromkeys(g.spec.dataset for g in sg):
            t = Totals()
            for g in sg:
                if g.spec.dataset == dataset:
                    t.add(group_totals(g, args))
            rows.append(summary_row(dataset, t, host_rate))
            study_total.add(t)
        rows.append(summary_row("all", study_total, host_rate))
        grand.add(study_total)
        print(f"\ntotals of study {study} (GPU-hours; host: CPU core-hours of the scores):")
        print(table(SUMMARY, rows))
    if len([s for s in studies if any(g.spec.study == s for g in groups.values())]) > 1:
        print("\n## all studies")
        print(table(SUMMARY, [summary_row("total", grand, host_rate)]))
    print(f"\n# {len(groups)} cost groups measured in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
