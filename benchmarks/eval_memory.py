"""Peak memory (RSS) of a 50,000-sample evaluation: ganbench's streaming path against torch-fidelity.

One fresh process per side (peak RSS is per process), each evaluating the same generator (the
InfoGAN G of Lucic et al. at width 1) on ``--num-fake`` samples against a reference of
``--num-real`` images, computing FID, KID (100 subsets of 1000), IS (10 splits) and
precision/recall:

- ours: ``score_generator`` (FeatureSink: float32 features/logits preallocated, float64 running
  statistics; PRDC in chunks; images dropped batch by batch);
- torch-fidelity: ``calculate_metrics`` with the generator as input1 (``fid, kid, isc, prc``).

The Inception network runs at ~10 images/s on a 2-core CPU, so 50k samples would take well over
an hour there; by default both sides use the same stand-in extractor with Inception's output shapes
(2048-d pool3-like features, 1008 logits: a fixed random projection of the pixels), which keeps
every array the metrics hold at its real size. ``--extractor inception`` (on a GPU) uses the real
network (random weights unless ``--weights``). Prints peak RSS of each side, the RSS before the
evaluation starts (interpreter, torch, models), and the ratio.

    python benchmarks/eval_memory.py [--num-fake 50000] [--num-real 10000] [--extractor standin]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from fidelity_generator import UInt8RGB, lucic_generator

from ganbench.metrics.inception import FEATURE_DIM, NUM_LOGITS


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def make_standin_class():
    """The stand-in as a torch-fidelity FeatureExtractorBase (both sides call the same module)."""
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

    class StandIn(FeatureExtractorBase):
        def __init__(self, name="standin", features_list=("2048", "logits_unbiased"), **kwargs):
            super().__init__(name, list(features_list))
            g = torch.Generator().manual_seed(0)
            self.register_buffer("W", torch.randn(3 * 28 * 28, FEATURE_DIM, generator=g) / 40)
            self.register_buffer("V", torch.randn(FEATURE_DIM, NUM_LOGITS, generator=g) / 40)

        @staticmethod
        def get_provided_features_list():
            return ("2048", "logits_unbiased")

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return {"isc": "logits_unbiased"}.get(metric, "2048")

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return None

        def forward(self, x):
            x = x.to(torch.float32).flatten(1) / 255.0
            f = torch.relu(x @ self.W)
            out = {"2048": f, "logits_unbiased": f @ self.V}
            return tuple(out[name] for name in self.features_list)  # in the order asked for

    return StandIn


def real_images(n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 3, 28, 28), dtype=np.uint8)


def side(args) -> dict:
    from ganbench.training.loop import resolve_device

    device = resolve_device(args.device)
    G = lucic_generator(device)
    if args.extractor == "standin":
        model = make_standin_class()().to(device).eval()
    else:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        model = FeatureExtractorInceptionV3(
            "inception-v3-compat",
            ["2048", "logits_unbiased"],
            feature_extractor_weights_path=args.weights,
        ).to(device)
    images = real_images(args.num_real)
    before = rss_mb()
    start = time.perf_counter()
    if args.side == "ours":
        from ganbench.config import Evaluation
        from ganbench.metrics.evaluate import build_reference, score_generator
        from ganbench.models.sampling import LATENTS

        class Extractor:
            name, feature_dim, weights_sha256 = args.extractor, FEATURE_DIM, "0" * 64

            @torch.no_grad()
            def __call__(self, x):
                x = x.to(device)
                return model(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)

        meta = {"dataset": "bench", "split": "test", "extractor_label": args.extractor}
        reference = build_reference(Extractor(), images, batch_size=args.batch, meta=meta)
        cfg = Evaluation(
            num_fake=args.num_fake, batch_size=args.batch, standing_stats_batches=0, prdc_k=3
        )
        scores = score_generator(G, LATENTS.get("uniform"), 64, Extractor(), reference, cfg, device)
        scores = {k: scores[k] for k in ("fid", "kid_mean", "is_mean", "precision", "recall")}
    else:
        import torch_fidelity
        from torch.utils.data import Dataset
        from torch_fidelity.generative_model_modulewrapper import GenerativeModelModuleWrapper

        if args.extractor == "standin":
            torch_fidelity.register_feature_extractor("standin", make_standin_class())

        class Real(Dataset):
            def __len__(self):
                return len(images)

            def __getitem__(self, i):
                return torch.from_numpy(images[i])

        out = torch_fidelity.calculate_metrics(
            input1=GenerativeModelModuleWrapper(UInt8RGB(G), 64, "uniform_0_1", 0),
            input1_model_num_samples=args.num_fake,
            input2=Real(),
            cuda=device.type == "cuda",
            batch_size=args.batch,
            fid=True,
            kid=True,
            isc=True,
            prc=True,
            feature_extractor="standin" if args.extractor == "standin" else "inception-v3-compat",
            feature_extractor_weights_path=args.weights,
            save_cpu_ram=True,
            cache=False,
            verbose=False,
        )
        scores = {k: float(v) for k, v in out.items() if not k.endswith("_std")}
    return {
        "side": args.side,
        "rss_before_mb": before,
        "peak_rss_mb": rss_mb(),
        "seconds": time.perf_counter() - start,
        "scores": scores,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-fake", type=int, default=50000)
    parser.add_argument("--num-real", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--extractor", choices=("standin", "inception"), default="standin")
    parser.add_argument("--weights", default=None, help="Inception weights (default: random)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--side", choices=("ours", "torch-fidelity"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(side(args)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        if args.extractor == "inception" and args.weights is None:
            from ganbench.metrics.inception import write_random_inception_weights

            args.weights = str(write_random_inception_weights(Path(tmp) / "random.pth"))
        results = []
        for name in ("ours", "torch-fidelity"):
            cmd = [sys.executable, __file__, "--side", name] + [
                f"--{k.replace('_', '-')}={v}"
                for k, v in vars(args).items()
                if k != "side" and v is not None
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))

    print(
        f"{args.num_fake:,} generated vs {args.num_real:,} real, extractor {args.extractor} "
        f"({FEATURE_DIM}-d features, {NUM_LOGITS} logits), batch {args.batch}, device {args.device}"
    )
    for r in results:
        print(
            f"{r['side']:15s} peak RSS {r['peak_rss_mb']:8.0f} MB  (before evaluation "
            f"{r['rss_before_mb']:6.0f} MB)  {r['seconds']:6.1f} s  {r['scores']}"
        )
    ours, theirs = results
    print(
        f"peak RSS ratio ours / torch-fidelity: {ours['peak_rss_mb'] / theirs['peak_rss_mb']:.2f}"
    )


if __name__ == "__main__":
    main()
