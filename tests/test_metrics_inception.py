"""The Inception extractor: weights search order, hash check, safe loading, parity with torch-fidelity.

All offline: the weights file is the random one from ``conftest.inception_weights``; its hash is
injected where the official prefix would be checked.
"""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
import torch
import torch_fidelity
from torch.utils.data import Dataset
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torch_fidelity.metric_kid import kid_features_to_metric

from ganbench.config import FeaturesConfig, validate
from ganbench.errors import ConfigError, UserError
from ganbench.metrics.evaluate import features_and_stats
from ganbench.metrics.features import build_extractor, extractor_from_params
from ganbench.metrics.fid import feature_statistics, frechet_distance
from ganbench.metrics.inception import (
    INCEPTION_FILENAMES,
    INCEPTION_URL,
    WEIGHTS_ENV,
    build_inception_extractor,
    find_inception_weights,
    load_inception,
    read_verified,
)
from ganbench.metrics.inception_score import inception_score
from ganbench.metrics.kid import kernel_inception_distance

N_IMAGES = 8  # per set: a 299-px Inception forward costs ~0.2 s per image on 2 CPU cores


def images(n: int, channels: int, seed: int, size: int = 28) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g)


@pytest.fixture(scope="module")
def extractor(inception_weights):
    path, digest = inception_weights
    return build_extractor("inception", weights_path=path, expected_sha256=digest[:16])


# --- where the weights come from ---------------------------------------------------------------


def test_search_order_params_env_cache(tmp_path):
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    for name in INCEPTION_FILENAMES:
        (cache / name).write_bytes(b"x")
    given, from_env = tmp_path / "given.pth", tmp_path / "env.pth"
    given.write_bytes(b"x")
    from_env.write_bytes(b"x")
    env = {WEIGHTS_ENV: str(from_env)}
    never = None  # offline: a download would be an error, so a found file proves the order
    assert find_inception_weights(given, environ=env, cache_dir=cache, download=never) == given
    assert find_inception_weights(None, environ=env, cache_dir=cache, download=never) == from_env
    # torch-fidelity's file name first, then pytorch-fid's (same keys)
    assert find_inception_weights(None, environ={}, cache_dir=cache, download=never) == (
        cache / INCEPTION_FILENAMES[0]
    )
    (cache / INCEPTION_FILENAMES[0]).unlink()
    assert find_inception_weights(None, environ={}, cache_dir=cache, download=never) == (
        cache / INCEPTION_FILENAMES[1]
    )


def test_hub_cache_honours_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / INCEPTION_FILENAMES[1]).write_bytes(b"x")
    assert find_inception_weights(None, environ={}, download=None) == cache / INCEPTION_FILENAMES[1]


def test_missing_params_path_names_the_key(tmp_path):
    with pytest.raises(UserError, match=r"features\.weights_path.*nope\.pth.*does not exist"):
        find_inception_weights(tmp_path / "nope.pth", environ={}, cache_dir=tmp_path, download=None)


def test_missing_env_path_names_the_variable(tmp_path):
    env = {WEIGHTS_ENV: str(tmp_path / "gone.pth")}
    with pytest.raises(UserError, match=rf"{WEIGHTS_ENV}=.*gone\.pth.*does not exist"):
        find_inception_weights(None, environ=env, cache_dir=tmp_path, download=None)


def test_offline_without_file_says_where_it_looked_and_where_to_get_it(tmp_path):
    with pytest.raises(UserError) as err:
        find_inception_weights(None, environ={}, cache_dir=tmp_path, download=None)
    message = str(err.value)
    for part in (INCEPTION_FILENAMES[0], INCEPTION_FILENAMES[1], WEIGHTS_ENV, str(tmp_path)):
        assert part in message
    assert INCEPTION_URL in message and "features.weights_path" in message


def test_failed_download_gives_the_same_guidance(tmp_path):
    def offline(url, dst):
        raise OSError("network is unreachable")

    with pytest.raises(UserError, match="download failed.*network is unreachable.*torch hub cache"):
        find_inception_weights(None, environ={}, cache_dir=tmp_path, download=offline)


def test_download_goes_into_the_hub_cache(tmp_path, inception_weights):
    calls = []

    def fake_download(url, dst):
        calls.append((url, dst))
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(inception_weights[0], dst)

    cache = tmp_path / "checkpoints"
    got = find_inception_weights(None, environ={}, cache_dir=cache, download=fake_download)
    assert got == cache / INCEPTION_FILENAMES[0] and calls == [(INCEPTION_URL, got)]
    # the next search finds the cached file and downloads nothing
    assert find_inception_weights(None, environ={}, cache_dir=cache, download=None) == got


# --- hash check and safe loading --------------------------------------------------------------


def test_official_hash_prefix_is_checked_by_default(inception_weights):
    path, digest = inception_weights
    with pytest.raises(UserError, match=rf"SHA-256 {digest}.*does not start with.*'6726825d'"):
        read_verified(path, None)
    with pytest.raises(UserError, match="features.weights_sha256"):
        build_extractor("inception", weights_path=path)


def test_injected_hash_prefix_any_case(inception_weights):
    path, digest = inception_weights
    data, got = read_verified(path, digest[:8].upper())
    assert got == digest and hashlib.sha256(data).hexdigest() == digest


def test_record_carries_the_full_sha256(extractor, inception_weights):
    assert extractor.weights_sha256 == inception_weights[1]
    assert extractor.name == "inception" and extractor.feature_dim == 2048


class Payload:  # a pickled object: loading it would need code, so weights_only refuses it
    def __reduce__(self):
        return (print, ("this must never run",))


def test_file_that_needs_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"w": Payload()}, path)
    data, _ = read_verified(path, hashlib.sha256(path.read_bytes()).hexdigest())
    with pytest.raises(UserError, match="cannot be read safely"):
        load_inception(data, source=str(path))


def test_wrong_keys_are_refused(tmp_path):
    path = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, path)
    data, _ = read_verified(path, hashlib.sha256(path.read_bytes()).hexdigest())
    with pytest.raises(UserError, match="does not fit torch-fidelity's InceptionV3"):
        load_inception(data, source=str(path))


def test_not_a_torch_file_is_refused(tmp_path):
    path = tmp_path / "text.pth"
    path.write_text("not weights")
    data, digest = read_verified(path, hashlib.sha256(b"not weights").hexdigest()[:8])
    with pytest.raises(UserError, match="cannot be read safely"):
        load_inception(data, source=str(path))


def test_params_switch_to_inception(inception_weights, tmp_path):
    path, digest = inception_weights
    cfg = FeaturesConfig(extractor="inception", weights_path=str(path), weights_sha256=digest[:10])
    # the classifier file the pipeline trained is ignored for an external-weights extractor
    got = extractor_from_params(cfg, trained_weights=tmp_path / "classifier.pt")
    assert got.name == "inception" and got.weights_sha256 == digest


@pytest.mark.parametrize("bad", ["xyz12345", "123", "6726825d" * 9])
def test_bad_sha256_param(bad):
    with pytest.raises(ConfigError, match="features.weights_sha256") as err:
        validate(FeaturesConfig, {"extractor": "inception", "weights_sha256": bad}, "features")
    assert (err.value.key, err.value.value) == ("features.weights_sha256", bad)
    good = validate(FeaturesConfig, {"weights_sha256": "6726825D"}, "features")
    assert good.weights_sha256 == "6726825D"  # a prefix of 8 to 64 hex digits, either case


# --- the network ------------------------------------------------------------------------------


def test_shapes_dtypes_and_input_checks(extractor):
    features, logits = extractor(images(2, 3, seed=0))
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)
    assert features.dtype == torch.float32 and logits.dtype == torch.float32
    for bad in (
        images(2, 3, 0).float(),
        images(2, 2, 0),
        torch.zeros(3, 28, 28, dtype=torch.uint8),
    ):
        with pytest.raises(UserError, match="uint8 N×1×H×W or N×3×H×W"):
            extractor(bad)


def test_grayscale_is_tiled_to_rgb(extractor):
    gray = images(2, 1, seed=1)
    torch.testing.assert_close(extractor(gray), extractor(gray.expand(-1, 3, -1, -1).contiguous()))


def test_always_eval_mode(extractor):
    x = images(2, 3, seed=2)
    before = extractor(x)
    extractor.model.train()  # somebody flips the mode: BN must still use running statistics
    torch.testing.assert_close(extractor(x), before)
    assert not extractor.model.training


class UInt8Dataset(Dataset):
    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


@pytest.fixture(scope="module")
def two_sets():
    # Grayscale Fashion-MNIST-like sets, given to torch-fidelity tiled to RGB as it requires.
    a, b = images(N_IMAGES, 1, seed=10), images(N_IMAGES, 1, seed=11)
    return a, b


@pytest.mark.parametrize("channels", [1, 3])
def test_features_equal_torch_fidelity(extractor, inception_weights, channels):
    """Bit-identical to torch-fidelity's own forward, grayscale (tiled after the resize here,
    before it there) and RGB."""
    a = images(4, channels, seed=20 + channels, size=32)
    theirs = FeatureExtractorInceptionV3(
        "inception-v3-compat",
        ["2048", "logits_unbiased"],
        feature_extractor_weights_path=str(inception_weights[0]),
    )
    their_features, their_logits = theirs(a.expand(-1, 3, -1, -1).contiguous())
    our_features, our_logits = extractor(a)
    torch.testing.assert_close(our_features, their_features, rtol=0, atol=0)
    torch.testing.assert_close(our_logits, their_logits, rtol=0, atol=0)


def test_metrics_equal_torch_fidelity_calculate_metrics(extractor, inception_weights, two_sets):
    """torch-fidelity end to end (its datasets, loader, extractor, metrics) vs our path."""
    a, b = two_sets
    theirs = torch_fidelity.calculate_metrics(
        input1=UInt8Dataset(a.expand(-1, 3, -1, -1).contiguous()),
        input2=UInt8Dataset(b.expand(-1, 3, -1, -1).contiguous()),
        cuda=False,
        isc=True,
        fid=True,
        kid=True,
        feature_extractor="inception-v3-compat",
        feature_extractor_weights_path=str(inception_weights[0]),
        batch_size=N_IMAGES,
        kid_subsets=1,
        kid_subset_size=N_IMAGES,
        isc_splits=2,
        rng_seed=2020,
        save_cpu_ram=True,
        cache=False,
        verbose=False,
    )
    fa, la, _ = features_and_stats(extractor, [a])
    fb, _, _ = features_and_stats(extractor, [b])
    fa, fb = fa.astype(np.float64), fb.astype(np.float64)
    fid = frechet_distance(*feature_statistics(fa), *feature_statistics(fb))
    kid, _ = kernel_inception_distance(fa, fb, subsets=1, subset_size=N_IMAGES, seed=2020)
    is_mean, is_std = inception_score(la, splits=2, seed=2020)
    # With 8 samples both covariances have rank 7 in 2048-d: every eigenvalue route (ours,
    # torch-fidelity's, pytorch-fid's sqrtm) loses about 1e-6 relative there. The exact value comes
    # from the samples: Tr((Σa Σb)^½) = Σ singular values of A Bᵀ / (n − 1), A and B the centred
    # features. Ours is held to that at 1e-6; torch-fidelity's at 1e-5.
    A, B = fa - fa.mean(0), fb - fb.mean(0)
    tr_exact = np.linalg.svd(A @ B.T / (N_IMAGES - 1), compute_uv=False).sum()
    diff = fa.mean(0) - fb.mean(0)
    trace_a, trace_b = (np.trace(np.cov(x, rowvar=False)) for x in (fa, fb))
    fid_exact = diff @ diff + trace_a + trace_b - 2 * tr_exact
    assert fid == pytest.approx(fid_exact, rel=1e-6)
    assert fid == pytest.approx(theirs["frechet_inception_distance"], rel=1e-5)
    # torch-fidelity's KID runs in the features' dtype: float32 inside calculate_metrics, whose
    # cubic kernel loses digits to cancellation (here ~1e-4 relative). On the same features in
    # float64 its own KID function agrees with ours to 1e-6; the float32 number to 1e-3.
    their_kid64 = kid_features_to_metric(
        torch.from_numpy(fa),
        torch.from_numpy(fb),
        kid_subsets=1,
        kid_subset_size=N_IMAGES,
        rng_seed=2020,
        verbose=False,
    )["kernel_inception_distance_mean"]
    assert kid == pytest.approx(their_kid64, rel=1e-6)
    assert kid == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-3)
    assert is_mean == pytest.approx(theirs["inception_score_mean"], rel=1e-6)
    assert is_std == pytest.approx(theirs["inception_score_std"], rel=1e-6, abs=1e-9)


def test_batch_size_independent(extractor, two_sets):
    a, _ = two_sets
    whole = features_and_stats(extractor, [a])
    halves = features_and_stats(extractor, [a[: N_IMAGES // 2], a[N_IMAGES // 2 :]])
    np.testing.assert_allclose(whole[0], halves[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(whole[1], halves[1], rtol=1e-5, atol=1e-5)


def test_build_inception_extractor_uses_env(inception_weights, tmp_path):
    path, digest = inception_weights
    got = build_inception_extractor(
        environ={WEIGHTS_ENV: str(path)}, cache_dir=tmp_path, download=None, expected_sha256=digest
    )
    assert got.weights_sha256 == digest
