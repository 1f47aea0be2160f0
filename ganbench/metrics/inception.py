"""The standard Inception extractor: torch-fidelity's TF1-parity InceptionV3, registered as ``inception``.

We do not port the network: ``torch_fidelity.feature_extractor_inceptionv3.FeatureExtractorInceptionV3``
is the port of the 2015-12-05 TensorFlow graph that torch-fidelity holds to TF1 (FID within 1e-5
relative). It takes uint8 N×3×H×W, resizes to 299×299 with TF1-compatible bilinear interpolation and
scales to [-1, 1]; we ask it for

- ``'2048'``: pool3 features, used for FID, KID and precision/recall/density/coverage;
- ``'logits_unbiased'``: the 1008 logits without the fc bias, used for IS (as torch-fidelity and the
  TF reference do).

Grayscale images are tiled to 3 channels. The module is always in eval mode (BatchNorm uses its
running statistics; a network left in train mode silently changes FID).

Weights (``weights-inception-2015-12-05-6726825d.pth``, or pytorch-fid's
``pt_inception-2015-12-05-6726825d.pth`` with the same keys) are found, in order, at:

1. the path in params (``features.weights_path``);
2. the ``GANBENCH_INCEPTION_WEIGHTS`` environment variable;
3. the torch hub checkpoint cache (``$TORCH_HOME/hub/checkpoints``) under either file name;
4. else they are downloaded into that cache from torch-fidelity's release (online users).

The file's SHA-256 must start with the expected prefix (``6726825d``, the torch hub convention of the
file names; ``features.weights_sha256`` overrides it for a converted file of your own, and tests use
that for a randomly initialised file they write). The full SHA-256 goes into every metric record.

Safety: torch-fidelity loads its weights with ``torch.load(..., weights_only=False)``. We read the
file once, check its hash, load it with ``weights_only=True`` (a file that needs code to unpickle is
refused here), and hand torch-fidelity the same verified bytes in memory, never the path.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch_fidelity import feature_extractor_inceptionv3 as fidelity_inception
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from ganbench.errors import UserError
from ganbench.io import torch_save
from ganbench.metrics.features import check_sha256, check_uint8_images

INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth"
)
INCEPTION_FILENAMES = (
    "weights-inception-2015-12-05-6726825d.pth",  # torch-fidelity
    "pt_inception-2015-12-05-6726825d.pth",  # pytorch-fid, same keys
)
INCEPTION_SHA256_PREFIX = "6726825d"
WEIGHTS_ENV = "GANBENCH_INCEPTION_WEIGHTS"
FEATURE_DIM = 2048
NUM_LOGITS = 1008
# torch-fidelity's feature names: pool3 and the bias-free logits.
FIDELITY_FEATURES = ("2048", "logits_unbiased")

Downloader = Callable[[str, Path], None]


def hub_checkpoint_dir() -> Path:
    """The torch hub checkpoint cache (honours ``TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def _download(url: str, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    # Writes to a temporary file, checks the hash prefix, then moves it into place.
    torch.hub.download_url_to_file(
        url, str(dst), hash_prefix=INCEPTION_SHA256_PREFIX, progress=True
    )


def find_inception_weights(
    path: str | os.PathLike | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: Downloader | None = _download,
) -> Path:
    """The Inception weights file, looked for in the documented order (see the module docstring).

    A path given in params or in the environment must exist (a typo is an error, not a silent
    fall-through). ``download=None`` means offline: no file found is then an error naming the file,
    every place looked in and where to get it.
    """
    environ = os.environ if environ is None else environ
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise UserError(
                f"params key 'features.weights_path': Inception weights file {str(p)!r} does not "
                f"exist; give the path of {INCEPTION_FILENAMES[0]} (or null to search the usual places)"
            )
        return p
    if environ.get(WEIGHTS_ENV):
        p = Path(environ[WEIGHTS_ENV]).expanduser()
        if not p.is_file():
            raise UserError(
                f"environment variable {WEIGHTS_ENV}={str(p)!r}: Inception weights file does not "
                f"exist; point it at {INCEPTION_FILENAMES[0]} or unset it"
            )
        return p
    cache = Path(cache_dir) if cache_dir is not None else hub_checkpoint_dir()
    for name in INCEPTION_FILENAMES:
        if (cache / name).is_file():
            return cache / name

    looked = (
        "params key 'features.weights_path' (null), "
        f"environment variable {WEIGHTS_ENV} (unset), "
        f"the torch hub cache {cache} (no {' or '.join(INCEPTION_FILENAMES)})"
    )
    how = (
        f"download {INCEPTION_URL} (or pytorch-fid's {INCEPTION_FILENAMES[1]}) on a machine that is "
        f"online and put it in {cache}, or set features.weights_path / {WEIGHTS_ENV} to it"
    )
    if download is None:
        raise UserError(
            f"Inception weights {INCEPTION_FILENAMES[0]} not found; looked in {looked}; {how}"
        )
    dst = cache / INCEPTION_FILENAMES[0]
    try:
        download(INCEPTION_URL, dst)
    except Exception as exc:  # offline, proxy, HTTP errors: all end the same way for the user
        raise UserError(
            f"Inception weights {INCEPTION_FILENAMES[0]} not found and the download failed ({exc}); "
            f"looked in {looked}; {how}"
        ) from None
    if not dst.is_file():
        raise UserError(f"downloading {INCEPTION_URL} did not produce {dst}; {how}")
    return dst


def read_verified(path: str | os.PathLike, expected_sha256: str | None) -> tuple[bytes, str]:
    """The file's bytes and full SHA-256, after checking the hash starts with ``expected_sha256``."""
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    check_sha256(
        path,
        digest,
        expected_sha256 or INCEPTION_SHA256_PREFIX,
        hint=f"wrong or corrupt Inception weights; use {INCEPTION_FILENAMES[0]} ({INCEPTION_URL}), "
        "or set features.weights_sha256 to the hash of your own converted file",
    )
    return data, digest


def load_inception(
    data: bytes, *, source: str, device: str | torch.device = "cpu"
) -> torch.nn.Module:
    """torch-fidelity's InceptionV3 with the weights in ``data`` (already hash-checked), eval mode."""
    how = f"use {INCEPTION_FILENAMES[0]} ({INCEPTION_URL})"
    try:
        state_dict = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, or one that needs code to unpickle
        raise UserError(
            f"Inception weights file {source} cannot be read safely ({exc}); {how}"
        ) from None
    if not isinstance(state_dict, dict) or not all(
        isinstance(v, torch.Tensor) for v in state_dict.values()
    ):
        raise UserError(f"Inception weights file {source} is not a state dict of tensors; {how}")
    try:
        # Same verified bytes, re-read from memory: torch-fidelity never touches the file itself.
        model = fidelity_inception.FeatureExtractorInceptionV3(
            "inception-v3-compat",
            list(FIDELITY_FEATURES),
            feature_extractor_weights_path=io.BytesIO(data),
        )
    except RuntimeError as exc:  # load_state_dict: missing/unexpected keys, shape mismatch
        first = str(exc).splitlines()[0]
        raise UserError(
            f"Inception weights file {source} does not fit torch-fidelity's InceptionV3 ({first}); {how}"
        ) from None
    return model.to(device).eval()


# torch-fidelity's InceptionV3 stages in forward order, from the resized, normalised input to pool3.
INCEPTION_STAGES = (
    "Conv2d_1a_3x3",
    "Conv2d_2a_3x3",
    "Conv2d_2b_3x3",
    "MaxPool_1",
    "Conv2d_3b_1x1",
    "Conv2d_4a_3x3",
    "MaxPool_2",
    "Mixed_5b",
    "Mixed_5c",
    "Mixed_5d",
    "Mixed_6a",
    "Mixed_6b",
    "Mixed_6c",
    "Mixed_6d",
    "Mixed_6e",
    "Mixed_7a",
    "Mixed_7b",
    "Mixed_7c",
    "AvgPool",
)


class InceptionExtractor:
    """uint8 N×{1,3}×H×W -> pool3 features (N, 2048) and unbiased logits (N, 1008), float32.

    Runs torch-fidelity's modules in the order of its ``forward`` (TF1 bilinear resize to 299,
    ``(x − 128) / 128``, the Inception stages, pool3, ``x @ fcᵀ``), with one difference in where
    the channels are tiled: a grayscale image is resized and normalised on its one channel and
    tiled to RGB afterwards. Both steps act on each channel alone, so the result is bit-identical
    to tiling first (the tests compare with torch-fidelity's own forward, tolerance 0), and the
    resize, about 5% of the work, costs a third.
    """

    name = "inception"
    feature_dim = FEATURE_DIM

    def __init__(self, model: torch.nn.Module, weights_sha256: str, device: str | torch.device):
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.weights_sha256 = weights_sha256
        self.stages = [getattr(self.model, name) for name in INCEPTION_STAGES]

    @torch.no_grad()
    def __call__(self, images_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_uint8_images(images_uint8, (1, 3), self.name)
        self.model.eval()  # BN must use its running statistics, never batch statistics
        x = images_uint8.to(self.device, torch.float32)
        x = interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)
        x = (x - 128) / 128
        x = x.expand(-1, 3, -1, -1)  # grayscale tiled to RGB, as the reference tools do
        for stage in self.stages:
            x = stage(x)
        features = torch.flatten(x, 1)  # pool3, (N, 2048)
        logits = features.mm(self.model.fc.weight.T)  # without the fc bias, (N, 1008)
        return features, logits


def build_inception_extractor(
    *,
    weights_path: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    expected_sha256: str | None = None,
    environ: Mapping[str, str] | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: Downloader | None = _download,
) -> InceptionExtractor:
    """Find, verify and load the weights; see the module docstring for the search order."""
    path = find_inception_weights(
        weights_path, environ=environ, cache_dir=cache_dir, download=download
    )
    data, digest = read_verified(path, expected_sha256)
    return InceptionExtractor(load_inception(data, source=str(path), device=device), digest, device)


def write_random_inception_weights(path: str | os.PathLike, seed: int = 0) -> Path:
    """Write a randomly initialised weights file with torch-fidelity's keys (offline tests, benchmarks).

    torch-fidelity's own InceptionV3 is built without loading anything; BatchNorm running statistics
    are set from one forward pass in train mode so activations neither vanish nor explode through
    the 90-odd layers, and the last block is scaled so pool3 features are O(1) like the real
    network's (post-ReLU means around 0.3-1). Its numbers mean nothing; its code path is the real one.
    """
    from unittest import mock

    with (
        mock.patch.object(fidelity_inception, "load_state_dict_from_url", lambda *a, **k: {}),
        mock.patch.object(
            fidelity_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None
        ),
    ):
        torch.manual_seed(seed)
        model = fidelity_inception.FeatureExtractorInceptionV3(
            "inception-v3-compat", list(FIDELITY_FEATURES)
        )
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average: one batch sets the statistics exactly
            m.reset_running_stats()
    model.train()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model(torch.randint(0, 256, (8, 3, 64, 64), dtype=torch.uint8, generator=generator))
        for m in model.Mixed_7c.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.mul_(0.05)
                m.bias.mul_(0.05)
    torch_save(path, {k: v.detach().clone() for k, v in model.state_dict().items()})
    return Path(path)
