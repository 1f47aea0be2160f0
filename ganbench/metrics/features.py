"""Feature extractors: uint8 images in, (features, logits) out, looked up by name.

``FEATURE_EXTRACTORS`` maps a name (params key ``features.extractor``) to a *builder*
``(*, weights_path, device) -> FeatureExtractor``. Every extractor takes its weights from a file so
its numbers are tied to ``weights_sha256``; an ``inception`` entry (torch-fidelity's InceptionV3
with a local weights file) registers with the same builder signature.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ganbench.errors import UserError
from ganbench.io import torch_load, torch_save
from ganbench.metrics.classifier import FeatureCNN
from ganbench.registry import Registry

CLASSIFIER_FORMAT = "ganbench.classifier/1"
CLASSIFIER_KEYS = ("format", "config", "state_dict", "meta")


class FeatureExtractor(Protocol):
    """What every registered builder returns."""

    name: str
    feature_dim: int
    weights_sha256: str

    def __call__(self, images_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C, H, W) uint8 -> features (N, feature_dim) and logits (N, classes), float."""
        ...


ExtractorBuilder = Callable[..., FeatureExtractor]  # (*, weights_path, device) -> extractor
FEATURE_EXTRACTORS: Registry[ExtractorBuilder] = Registry("features.extractor")


def build_extractor(
    name: str, *, weights_path: str | os.PathLike, device: str | torch.device = "cpu"
) -> FeatureExtractor:
    """Build the extractor registered as ``name``; an unknown name raises ConfigError (choices)."""
    return FEATURE_EXTRACTORS.get(name)(weights_path=weights_path, device=device)


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_classifier(path: str | os.PathLike, model: FeatureCNN, meta: dict[str, Any]) -> None:
    """Write the classifier weights file atomically: state_dict, constructor args and ``meta``.

    ``meta`` (data set, accuracy, training params, ...) must hold only plain values
    (str/int/float/bool/list/dict) so the file loads with ``weights_only=True``.
    """
    state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    checkpoint = {
        "format": CLASSIFIER_FORMAT,
        "config": dict(model.config),
        "state_dict": state_dict,
        "meta": dict(meta),
    }
    torch_save(path, checkpoint)


def load_classifier(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[FeatureCNN, dict[str, Any]]:
    """Read a file written by :func:`save_classifier`; returns (model in eval mode, meta)."""
    path = Path(path)
    how = "make it with `dvc repro classifier@<dataset>`"
    if not path.is_file():
        raise UserError(f"classifier weights file {path} does not exist; {how}")
    try:
        checkpoint = torch_load(path)
    except Exception as exc:  # any unreadable file: pickle, zip or torch errors
        raise UserError(f"classifier weights file {path} cannot be read ({exc}); {how}") from exc
    if (
        not isinstance(checkpoint, dict)
        or set(checkpoint) != set(CLASSIFIER_KEYS)
        or checkpoint["format"] != CLASSIFIER_FORMAT
    ):
        found = sorted(map(str, checkpoint)) if isinstance(checkpoint, dict) else type(checkpoint)
        raise UserError(
            f"classifier weights file {path} is not a {CLASSIFIER_FORMAT} file "
            f"(expected keys {list(CLASSIFIER_KEYS)}, found {found}); {how}"
        )
    try:
        model = FeatureCNN(**checkpoint["config"])
        model.load_state_dict(checkpoint["state_dict"])
    except (TypeError, RuntimeError) as exc:
        raise UserError(
            f"classifier weights file {path} does not match FeatureCNN ({exc}); {how}"
        ) from exc
    return model.to(device).eval(), checkpoint["meta"]


class ClassifierExtractor:
    """Features and logits of a trained :class:`FeatureCNN` (see ``classifier.py``)."""

    name = "classifier"

    def __init__(self, model: FeatureCNN, weights_sha256: str, device: str | torch.device) -> None:
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.feature_dim = model.feature_dim
        self.in_channels = model.config["in_channels"]
        self.weights_sha256 = weights_sha256

    @torch.no_grad()
    def __call__(self, images_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if (
            not isinstance(images_uint8, torch.Tensor)
            or images_uint8.dtype != torch.uint8
            or images_uint8.dim() != 4
            or images_uint8.shape[1] != self.in_channels
        ):
            got = (
                f"{images_uint8.dtype} {tuple(images_uint8.shape)}"
                if isinstance(images_uint8, torch.Tensor)
                else type(images_uint8).__name__
            )
            raise UserError(
                f"the classifier extractor takes uint8 N×{self.in_channels}×H×W tensors; got {got}"
            )
        self.model.eval()  # BN must use its running statistics, never batch statistics
        x = images_uint8.to(self.device, torch.float32) / 255.0  # (N, C, H, W) in [0, 1]
        return self.model.features_and_logits(x)


@FEATURE_EXTRACTORS.register("classifier")
def build_classifier_extractor(
    *, weights_path: str | os.PathLike, device: str | torch.device = "cpu"
) -> ClassifierExtractor:
    model, _ = load_classifier(weights_path, device=device)
    return ClassifierExtractor(model, sha256_file(weights_path), device)


def extract_features(
    extractor: FeatureExtractor, batches: Iterable[torch.Tensor]
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``extractor`` over batches of uint8 images; returns float64 (features, logits).

    Only the small outputs are kept, so the images can stream from disk or from a generator.
    """
    features, logits = [], []
    for images in batches:
        batch_features, batch_logits = extractor(images)
        features.append(batch_features.detach().to("cpu", torch.float64).numpy())
        logits.append(batch_logits.detach().to("cpu", torch.float64).numpy())
    if not features:
        raise UserError(f"extract_features got no images for the '{extractor.name}' extractor")
    return np.concatenate(features), np.concatenate(logits)
