"""Feature extraction from a generator, images/s: ganbench's streaming path against torch-fidelity's.

Both sides turn the same latent codes into the same uint8 images with the same generator (the
InfoGAN G of Lucic et al. at width 1, 28×28×1, tiled to RGB) and push them through the same
network, torch-fidelity's InceptionV3 at 299×299, with the same weights file and batch size:

- ours: ``generate_uint8`` → ``InceptionExtractor`` → ``FeatureSink`` (float32 features and logits
  into preallocated arrays, float64 running mean/covariance), as ``score_generator`` does;
- torch-fidelity: ``get_featuresdict_from_generative_model`` (its generator-input path) with a
  ``GenerativeModelModuleWrapper`` around the same G, then ``fid_features_to_statistics`` (its
  float64 mean and covariance), because ours computes those statistics while streaming: both
  timings run from latent codes to features plus FID statistics.

Rounds alternate the two so load changes hit both alike; medians are printed with the ratio
(target: ours/theirs >= 1.0). No weights can be downloaded here, so by default a random weights
file with torch-fidelity's keys is written (speed does not depend on the values); pass
``--weights`` for the real file.

    python benchmarks/extract_speed.py [--num 96] [--batch 32] [--rounds 3] [--device auto]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from fidelity_generator import UInt8RGB, lucic_generator

from ganbench.metrics.evaluate import FeatureSink
from ganbench.metrics.inception import build_inception_extractor, write_random_inception_weights
from ganbench.models.sampling import generate_uint8
from ganbench.training.loop import resolve_device


def ours(G, extractor, num: int, batch: int, seed: int, device) -> tuple[float, np.ndarray]:
    rng = np.random.RandomState(seed)  # the same z stream as torch-fidelity's uniform_0_1

    def sample_z(n: int) -> torch.Tensor:
        z = torch.from_numpy(rng.rand(n, 64)).float()
        return (2 * z - 1).to(device)

    start = time.perf_counter()
    sink = FeatureSink(capacity=num)
    for images in generate_uint8(G, sample_z, num_samples=num, batch_size=batch):
        sink.update(*extractor(images))
    features, _, stats = sink.result()
    stats.mean(), stats.cov()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return num / (time.perf_counter() - start), features


def theirs(G, fidelity_model, num: int, batch: int, seed: int, device) -> tuple[float, np.ndarray]:
    from torch_fidelity.generative_model_modulewrapper import GenerativeModelModuleWrapper
    from torch_fidelity.metric_fid import fid_features_to_statistics
    from torch_fidelity.utils import get_featuresdict_from_generative_model

    wrapped = GenerativeModelModuleWrapper(UInt8RGB(G), 64, "uniform_0_1", 0)
    start = time.perf_counter()
    out = get_featuresdict_from_generative_model(
        wrapped, fidelity_model, num, batch, device.type == "cuda", seed, False
    )
    fid_features_to_statistics(out["2048"])
    if device.type == "cuda":
        torch.cuda.synchronize()
    return num / (time.perf_counter() - start), out["2048"].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=96, help="images per round and side")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--weights", default=None, help="Inception weights (default: random)")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.weights) if args.weights else None
        if path is None:
            path = write_random_inception_weights(Path(tmp) / "random-inception.pth")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        extractor = build_inception_extractor(
            weights_path=path, device=device, expected_sha256=digest, download=None
        )
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        fidelity_model = FeatureExtractorInceptionV3(
            "inception-v3-compat",
            ["2048", "logits_unbiased"],
            feature_extractor_weights_path=str(path),
        ).to(device)

    G = lucic_generator(device)

    # warm-up (allocator, oneDNN/cuDNN algorithm choice) and the same-images check
    _, f_ours = ours(G, extractor, args.batch, args.batch, 0, device)
    _, f_theirs = theirs(G, fidelity_model, args.batch, args.batch, 0, device)
    same = float(np.max(np.abs(f_ours - f_theirs)))

    rates = {"ours": [], "torch-fidelity": []}
    for r in range(args.rounds):
        order = [("ours", ours, extractor), ("torch-fidelity", theirs, fidelity_model)]
        for name, fn, model in order if r % 2 == 0 else order[::-1]:
            rate, _ = fn(G, model, args.num, args.batch, r + 1, device)
            rates[name].append(rate)

    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(
        f"{args.num} images per round, batch {args.batch}, {args.rounds} rounds, 28×28×1 → 299×299×3"
    )
    print(f"max |features ours − torch-fidelity| on the same images: {same:.3g}")
    for name, values in rates.items():
        print(
            f"{name:15s} images/s median {statistics.median(values):7.2f}   "
            f"rounds {', '.join(f'{v:.2f}' for v in values)}"
        )
    ratio = statistics.median(rates["ours"]) / statistics.median(rates["torch-fidelity"])
    print(f"ratio ours / torch-fidelity: {ratio:.3f}  (target >= 1.0)")


if __name__ == "__main__":
    main()
