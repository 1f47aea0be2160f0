"""Feature extractors: uint8 images in, (features, logits) out, looked up by name.

``FEATURE_EXTRACTORS`` maps a name (params key ``features.extractor``) to an :class:`ExtractorSpec`:
a builder ``(*, weights_path, device, expected_sha256) -> FeatureExtractor``, where its weights come
from (trained by the pipeline's ``classifier@<dataset>`` stage, or an external file such as the
Inception weights) and the label its numbers carry in reports ("FID (fashion_mnist-cnn features)").
Every extractor takes its weights from a file, so every number is tied to ``weights_sha256``.

Registered: ``classifier`` (the small CNN trained offline here, see ``classifier.py``) and
``inception`` (torch-fidelity's TF1-parity InceptionV3, see ``inception.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch

from ganbench.errors import UserError
from ganbench.io import sha256_file, torch_load, torch_save
from ganbench.metrics.classifier import FeatureCNN
from ganbench.registry import Registry

if TYPE_CHECKING:
    from ganbench.config import FeaturesConfig

CLASSIFIER_FORMAT = "ganbench.classifier/1"
CLASSIFIER_KEYS = ("format", "config", "state_dict", "meta")


class FeatureExtractor(Protocol):
    """What every registered builder returns."""

    name: str
    feature_dim: int
    weights_sha256: str
    device: torch.device  # where it runs (and where the scores' PRDC distances are computed)

    def __call__(self, images_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C, H, W) uint8 -> features (N, feature_dim) and logits (N, classes), float."""
        ...


ExtractorBuilder = Callable[..., FeatureExtractor]  # (*, weights_path, device, expected_sha256)


@dataclass(frozen=True)
class ExtractorSpec:
    """A registered extractor: how to build it, where its weights come from, how to label it."""

    build: ExtractorBuilder
    trained_in_pipeline: bool  # True: weights from classifier@<dataset>; False: an external file
    label: Callable[[str], str]  # dataset name -> label shown next to every number it makes


FEATURE_EXTRACTORS: Registry[ExtractorSpec] = Registry("features.extractor")


def build_extractor(
    name: str,
    *,
    weights_path: str | os.PathLike | None,
    device: str | torch.device = "cpu",
    expected_sha256: str | None = None,
) -> FeatureExtractor:
    """Build the extractor registered as ``name``; an unknown name raises ConfigError (choices).

    ``expected_sha256`` (a hex prefix of the weights file's SHA-256) is checked when given; the
    Inception extractor checks its official prefix when it is not.
    """
    spec = FEATURE_EXTRACTORS.get(name)
    return spec.build(weights_path=weights_path, device=device, expected_sha256=expected_sha256)


def extractor_from_params(
    features: FeaturesConfig,
    *,
    trained_weights: str | os.PathLike,
    device: str | torch.device = "cpu",
) -> FeatureExtractor:
    """The extractor ``features.extractor`` names, with its weights: the file the pipeline trained
    (``trained_weights``, the classifier) or the external one from ``features.weights_path``."""
    spec = FEATURE_EXTRACTORS.get(features.extractor, "features.extractor")
    weights = trained_weights if spec.trained_in_pipeline else features.weights_path
    return spec.build(weights_path=weights, device=device, expected_sha256=features.weights_sha256)


def extractor_label(name: str, dataset: str) -> str:
    """The label of the numbers extractor ``name`` makes on ``dataset`` (e.g. fashion_mnist-cnn)."""
    return FEATURE_EXTRACTORS.get(name, "features.extractor").label(dataset)


def check_uint8_images(images: torch.Tensor, channels: tuple[int, ...], extractor: str) -> None:
    """Refuse anything but a uint8 N×C×H×W tensor with C in ``channels``, naming what came."""
    if (
        not isinstance(images, torch.Tensor)
        or images.dtype != torch.uint8
        or images.dim() != 4
        or images.shape[1] not in channels
    ):
        got = (
            f"{images.dtype} {tuple(images.shape)}"
            if isinstance(images, torch.Tensor)
            else type(images).__name__
        )
        allowed = " or ".join(f"N×{c}×H×W" for c in channels)
        raise UserError(f"the {extractor} extractor takes uint8 {allowed} tensors; got {got}")


def check_sha256(
    path: str | os.PathLike,
    digest: str,
    expected_sha256: str | None,
    hint: str = "wrong or changed file",
) -> None:
    """Raise when ``expected_sha256`` is given and ``digest`` (the file's SHA-256) does not start
    with it; ``hint`` says what to do about it."""
    if expected_sha256 is not None and not digest.startswith(expected_sha256.lower()):
        raise UserError(
            f"weights file {path} has SHA-256 {digest}, which does not start with the expected "
            f"{expected_sha256.lower()!r} (params key 'features.weights_sha256'): {hint}"
        )


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
        check_uint8_images(images_uint8, (self.in_channels,), self.name)
        self.model.eval()  # BN must use its running statistics, never batch statistics
        x = images_uint8.to(self.device, torch.float32) / 255.0  # (N, C, H, W) in [0, 1]
        return self.model.features_and_logits(x)


def build_classifier_extractor(
    *,
    weights_path: str | os.PathLike,
    device: str | torch.device = "cpu",
    expected_sha256: str | None = None,
) -> ClassifierExtractor:
    model, _ = load_classifier(weights_path, device=device)
    digest = sha256_file(weights_path)
    check_sha256(weights_path, digest, expected_sha256)
    return ClassifierExtractor(model, digest, device)


def _build_inception(**kwargs: Any) -> FeatureExtractor:
    from ganbench.metrics.inception import build_inception_extractor  # imports torch-fidelity

    return build_inception_extractor(**kwargs)


FEATURE_EXTRACTORS.add(
    "classifier",
    ExtractorSpec(build_classifier_extractor, True, lambda dataset: f"{dataset}-cnn"),
)
FEATURE_EXTRACTORS.add(
    "inception",
    ExtractorSpec(_build_inception, False, lambda dataset: "inception-v3 (torch-fidelity)"),
)
