"""Feature extractors and the classifier: shapes, batch-size independence, the weights file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from ganbench.errors import ConfigError, UserError
from ganbench.io import torch_save
from ganbench.metrics.classifier import FeatureCNN, train_classifier
from ganbench.metrics.evaluate import features_and_stats
from ganbench.metrics.features import (
    FEATURE_EXTRACTORS,
    build_extractor,
    load_classifier,
    save_classifier,
)


def make_classifier_weights(path: Path) -> Path:
    torch.manual_seed(0)
    model = FeatureCNN(in_channels=1, num_classes=10, width=4, feature_dim=16)
    # Non-trivial BN running statistics, so eval vs train mode would differ.
    model.train()
    with torch.no_grad():
        model(torch.rand(32, 1, 28, 28))
    save_classifier(path, model.eval(), {"dataset": "test", "accuracy": 0.5})
    return path


# One weights maker per registered extractor: a new registry entry fails here until it has one.
# A maker takes (request, tmp_path) and returns the path of a weights file for that extractor.
WEIGHTS_MAKERS = {
    "classifier": lambda request, tmp_path: make_classifier_weights(tmp_path / "classifier.pt"),
    # random Inception weights, written once per session (conftest.py)
    "inception": lambda request, tmp_path: request.getfixturevalue("inception_weights")[0],
}
IMAGE_SHAPES = {"classifier": (1, 28, 28), "inception": (1, 28, 28)}


def test_every_extractor_has_a_weights_maker():
    assert sorted(WEIGHTS_MAKERS) == FEATURE_EXTRACTORS.names()
    assert sorted(IMAGE_SHAPES) == FEATURE_EXTRACTORS.names()


@pytest.fixture(params=FEATURE_EXTRACTORS.names())
def extractor_and_path(request, tmp_path):
    path = WEIGHTS_MAKERS[request.param](request, tmp_path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    extractor = build_extractor(
        request.param, weights_path=path, device="cpu", expected_sha256=digest[:8]
    )
    return extractor, path


def test_expected_sha256_is_checked(extractor_and_path):
    extractor, path = extractor_and_path
    with pytest.raises(UserError, match="does not start with"):
        build_extractor(extractor.name, weights_path=path, expected_sha256="00000000")


def random_images(n: int, shape: tuple[int, int, int], seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=generator)


def test_extractor_shapes_and_dtypes(extractor_and_path):
    extractor, _ = extractor_and_path
    features, logits = extractor(random_images(5, IMAGE_SHAPES[extractor.name]))
    assert features.shape == (5, extractor.feature_dim)
    assert logits.shape[0] == 5
    assert features.dtype == torch.float32 and logits.dtype == torch.float32
    assert not features.requires_grad and not logits.requires_grad


def test_all_at_once_equals_one_by_one(extractor_and_path):
    extractor, _ = extractor_and_path
    images = random_images(6, IMAGE_SHAPES[extractor.name])
    features, logits, _ = features_and_stats(extractor, [images])
    one_by_one = features_and_stats(extractor, (image[None] for image in images))
    assert features.dtype == np.float32 and logits.dtype == np.float32
    # float32 convolutions may pick a different algorithm per batch size: float32 tolerance
    tol = {"rtol": 1e-5, "atol": 1e-5}
    torch.testing.assert_close(torch.from_numpy(features), torch.from_numpy(one_by_one[0]), **tol)
    torch.testing.assert_close(torch.from_numpy(logits), torch.from_numpy(one_by_one[1]), **tol)


def test_weights_sha256_is_the_file_hash(extractor_and_path):
    extractor, path = extractor_and_path
    assert extractor.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_classifier_round_trip(tmp_path):
    path = make_classifier_weights(tmp_path / "c.pt")
    model, meta = load_classifier(path)
    assert meta == {"dataset": "test", "accuracy": 0.5}
    assert not model.training
    assert model.config == {"in_channels": 1, "num_classes": 10, "width": 4, "feature_dim": 16}
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(model.features_and_logits(x)[1], model(x))
    extractor = build_extractor("classifier", weights_path=path)
    images = random_images(3, (1, 28, 28))
    with torch.no_grad():
        expected = model.features(images.float() / 255.0)
    torch.testing.assert_close(extractor(images)[0], expected)


def test_missing_weights_file_names_path_and_fix(tmp_path):
    path = tmp_path / "absent.pt"
    with pytest.raises(UserError, match="dvc repro classifier@<dataset>") as info:
        build_extractor("classifier", weights_path=path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "content",
    [
        b"not a torch file",
        {"state_dict": {}},
        {"format": "other", "config": {}, "state_dict": {}, "meta": {}},
        {
            "format": "ganbench.classifier/1",
            "config": {"in_channels": 1},
            "state_dict": {},
            "meta": {},
        },
    ],
    ids=["garbage", "wrong-keys", "wrong-format", "wrong-config"],
)
def test_bad_weights_file_raises_user_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch_save(path, content)
    with pytest.raises(UserError, match="dvc repro classifier@<dataset>") as info:
        build_extractor("classifier", weights_path=path)
    assert str(path) in str(info.value)


def test_wrong_images_raise(tmp_path):
    extractor = build_extractor("classifier", weights_path=make_classifier_weights(tmp_path / "c"))
    with pytest.raises(UserError, match="uint8"):
        extractor(torch.rand(2, 1, 28, 28))
    with pytest.raises(UserError, match="N×1×H×W"):
        extractor(random_images(2, (3, 28, 28)))
    with pytest.raises(UserError, match="no images"):
        features_and_stats(extractor, [])


def test_unknown_extractor_lists_choices(tmp_path):
    with pytest.raises(ConfigError, match="features.extractor.*'nope'.*classifier, inception"):
        build_extractor("nope", weights_path=tmp_path / "x.pt")


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64)])
def test_feature_cnn_shapes(shape):
    model = FeatureCNN(in_channels=shape[0], num_classes=7, width=4).eval()
    x = torch.rand(2, *shape)
    with torch.no_grad():
        assert model.features(x).shape == (2, 128)
        assert model(x).shape == (2, 7)
        assert (model.features(x) >= 0).all()  # after the ReLU


def test_train_classifier_smoke_and_determinism():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(256, 1, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=256)
    kwargs = {"epochs": 1, "batch_size": 64, "lr": 1e-3, "width": 4, "seed": 0, "progress": False}
    model, accuracy = train_classifier(x[:192], y[:192], x[192:], y[192:], **kwargs)
    assert not model.training
    assert 0.0 <= accuracy <= 1.0
    again, accuracy_again = train_classifier(x[:192], y[:192], x[192:], y[192:], **kwargs)
    assert accuracy_again == accuracy
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[name], tensor, rtol=0, atol=0)


def test_scoring_refuses_a_reference_from_another_extractor(tmp_path):
    from types import SimpleNamespace

    from ganbench.config import Evaluation
    from ganbench.errors import DataError
    from ganbench.metrics.evaluate import Reference, score_images

    extractor = build_extractor("classifier", weights_path=make_classifier_weights(tmp_path / "c"))
    meta = {"extractor": "inception", "weights_sha256": "6726825d" + "0" * 56}
    reference = Reference(np.zeros(16), np.eye(16), np.zeros((4, 16), np.float32), meta)
    with pytest.raises(DataError, match="made by extractor 'inception'.*dvc repro refstats"):
        score_images(np.zeros((4, 1, 28, 28), np.uint8), extractor, reference, Evaluation())
    other = SimpleNamespace(name="classifier", weights_sha256="f" * 64)
    meta = {"extractor": "classifier", "weights_sha256": extractor.weights_sha256}
    with pytest.raises(DataError, match="same feature network"):
        score_images(
            np.zeros((4, 1, 28, 28), np.uint8),
            other,
            Reference(reference.mu, reference.sigma, reference.features, meta),
            Evaluation(),
        )
