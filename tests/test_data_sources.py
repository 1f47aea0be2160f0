"""ganbench.data.sources: every registered dataset, read from tiny files in its real format."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganbench.data import DATASETS, read_idx
from ganbench.data import sources as sources_module
from ganbench.data.celeba import crop_and_resize
from ganbench.data.cifar import RestrictedUnpickler
from ganbench.data.imagefolder import ImageFolderSource
from ganbench.data.procedural import PROCEDURAL
from ganbench.data.sources import PaddedSource
from ganbench.errors import ConfigError, DataError

SMALL = (6, 4)  # (train, test) counts of the tiny fixtures
REAL_FASHION = Path("/usr/share/datasets/fashion-mnist")

# derived datasets (fashion_mnist32, shapes32: padded copies) are tested in test_ablation.py,
# ImageFolder ones (imagenet64/128) in test_data_imagefolder.py
FILE_DATASETS = [
    n
    for n in DATASETS.names()
    if n not in PROCEDURAL and not isinstance(DATASETS.get(n), (PaddedSource, ImageFolderSource))
]


# ---- writers: tiny files in each dataset's real format ---------------------------------------


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def write_mnist_like(directory: Path, *, suffix: str = "", seed: int = 0, **override) -> dict:
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (SMALL[0], 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, SMALL[0], dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (SMALL[1], 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, SMALL[1], dtype=np.uint8),
    } | override
    for name, array in arrays.items():
        write_idx(directory / f"{name}{suffix}", array)
    return arrays


def write_cifar(directory: Path, *, protocol: int = 2, labels_high: int = 10) -> np.ndarray:
    batches = directory / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, (SMALL[0] + SMALL[1], 3072), dtype=np.uint8)
    labels = rng.integers(0, labels_high, len(data))
    labels[0] = labels_high - 1
    parts = np.split(np.arange(SMALL[0] + SMALL[1]), [2, 3, 4, 5, SMALL[0]])  # 5 train + test
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, rows in zip(names, parts, strict=True):
        batch = {
            b"batch_label": name.encode(),
            b"data": data[rows],
            b"labels": labels[rows].tolist(),
        }
        (batches / name).write_bytes(pickle.dumps(batch, protocol=protocol))
    return data


def write_celeba(directory: Path, *, partition: str | None = None, size=(178, 218)) -> list[Path]:
    celeba = directory / "celeba"
    (celeba / "img_align_celeba").mkdir(parents=True)
    paths = []
    for i, colour in enumerate([(200, 10, 50), (0, 120, 255), (90, 90, 90), (255, 255, 0)] * 2):
        path = celeba / "img_align_celeba" / f"{i + 1:06d}.jpg"
        Image.new("RGB", size, colour).save(path, quality=95)
        paths.append(path)
    # 4 train, 1 valid, 3 test
    default = "".join(
        f"{p.name} {s}\n" for p, s in zip(paths, [0, 0, 0, 0, 1, 2, 2, 2], strict=True)
    )
    (celeba / "list_eval_partition.txt").write_text(default if partition is None else partition)
    return paths


WRITERS = {
    "fashion_mnist": lambda d: write_mnist_like(d, suffix=".gz"),
    "mnist": lambda d: write_mnist_like(d / "MNIST" / "raw"),
    "cifar10": write_cifar,
    "celeba": write_celeba,
}
COUNTS = {"fashion_mnist": SMALL, "mnist": SMALL, "cifar10": SMALL, "celeba": (4, 3)}


@pytest.fixture(autouse=True)
def no_system_data_no_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no system package and no network unless they put them there themselves."""
    monkeypatch.setattr(sources_module, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "no-system-dir")

    def offline(dataset_class: str, download_dir: str, *, train: bool) -> None:
        raise RuntimeError(f"Error downloading {dataset_class}: network unreachable")

    monkeypatch.setattr(sources_module, "download_with_torchvision", offline)


# ---- every registered dataset ------------------------------------------------------------------


@pytest.mark.parametrize("name", FILE_DATASETS)
def test_every_dataset_loads_its_format(tmp_path: Path, name: str) -> None:
    assert name in WRITERS, f"dataset '{name}' has no fixture writer in this test"
    source = DATASETS.get(name)
    assert source.name == name and len(source.image_shape) == 3
    WRITERS[name](tmp_path)
    data = source.load(str(tmp_path), download_dir=None, expected_counts=COUNTS[name])
    data.validate()
    assert data.name == name
    assert data.x_train.shape == (COUNTS[name][0], *source.image_shape)
    assert data.x_test.shape == (COUNTS[name][1], *source.image_shape)
    with pytest.raises(DataError, match="images, expected 5"):
        source.load(str(tmp_path), download_dir=None, expected_counts=(5, 5))


@pytest.mark.parametrize("name", FILE_DATASETS)
def test_explicit_root_without_files_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    WRITERS["fashion_mnist"](tmp_path / "system")  # a valid system dir must not be used instead
    monkeypatch.setattr(sources_module, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "system")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=rf"data\.{name}\.root = '.*empty'.*not found there"):
        DATASETS.get(name).load(str(tmp_path / "empty"), download_dir=None, expected_counts=SMALL)


def test_unknown_dataset_lists_choices() -> None:
    with pytest.raises(
        ConfigError,
        match="celeba, cifar10, fashion_mnist, fashion_mnist32, imagenet128, imagenet64, mnist, shapes",
    ):
        DATASETS.get("imagenet")


# ---- IDX datasets ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_fashion_mnist_round_trip(tmp_path: Path, suffix: str) -> None:
    arrays = write_mnist_like(tmp_path, suffix=suffix)
    data = DATASETS.get("fashion_mnist").load(
        str(tmp_path), download_dir=None, expected_counts=SMALL
    )
    np.testing.assert_array_equal(data.x_train[:, 0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(data.x_test[:, 0], arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert data.y_train.dtype == np.int64 and data.x_train.dtype == np.uint8


def test_fashion_mnist_from_system_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = write_mnist_like(tmp_path / "sys", suffix=".gz", seed=3)
    monkeypatch.setattr(sources_module, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "sys")
    data = DATASETS.get("fashion_mnist").load(None, download_dir=None, expected_counts=SMALL)
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte"])


@pytest.mark.parametrize(
    ("name", "folder"), [("fashion_mnist", "FashionMNIST"), ("mnist", "MNIST")]
)
def test_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, folder: str) -> None:
    calls = []

    def fake_download(dataset_class: str, download_dir: str, *, train: bool) -> None:
        calls.append((dataset_class, train))
        write_mnist_like(Path(download_dir) / dataset_class / "raw")  # what torchvision leaves

    monkeypatch.setattr(sources_module, "download_with_torchvision", fake_download)
    dl = str(tmp_path / "dl")
    data = DATASETS.get(name).load(None, download_dir=dl, expected_counts=SMALL)
    assert data.x_train.shape == (SMALL[0], 1, 28, 28)
    assert calls == [(folder, True), (folder, False)]
    DATASETS.get(name).load(None, download_dir=dl, expected_counts=SMALL)
    assert len(calls) == 2  # already there: no second download


@pytest.mark.parametrize("download_dir", [None, "dl"])
def test_missing_fashion_mnist_lists_three_ways(tmp_path: Path, download_dir: str | None) -> None:
    dl = None if download_dir is None else str(tmp_path / download_dir)
    with pytest.raises(DataError) as info:
        DATASETS.get("fashion_mnist").load(None, download_dir=dl)
    message = str(info.value)
    assert "1. set data.fashion_mnist.root in params.yaml to a directory holding" in message
    assert "train-images-idx3-ubyte" in message
    assert "2. apt-get install dataset-fashion-mnist" in message
    assert "3. be online so torchvision downloads it" in message
    if download_dir:
        assert "network unreachable" in message


def _images(shape) -> np.ndarray:
    return np.zeros(shape, np.uint8)


@pytest.mark.parametrize(
    ("override", "bad_file", "problem"),
    [
        ({"train-images-idx3-ubyte": _images((6, 27, 28))}, "train-images", r"\(1, 27, 28\)"),
        ({"t10k-labels-idx1-ubyte": np.full(4, 10)}, "t10k-labels", r"labels span 10\.\.10"),
        ({"train-labels-idx1-ubyte": np.zeros(5)}, "train-labels", "6 images but"),
        ({"t10k-images-idx3-ubyte": _images((4, 28))}, "t10k-images", "expected uint8 with 3"),
    ],
)
def test_bad_idx_contents(tmp_path: Path, override: dict, bad_file: str, problem: str) -> None:
    write_mnist_like(tmp_path, **override)
    with pytest.raises(DataError, match=problem) as info:
        DATASETS.get("mnist").load(str(tmp_path), download_dir=None, expected_counts=SMALL)
    assert bad_file in str(info.value)


def test_real_counts_are_the_default(tmp_path: Path) -> None:
    write_mnist_like(tmp_path)
    with pytest.raises(DataError, match="train-images-idx3-ubyte: 6 train images, expected 60000"):
        DATASETS.get("fashion_mnist").load(str(tmp_path), download_dir=None)


def test_corrupt_idx_file_is_named(tmp_path: Path) -> None:
    write_mnist_like(tmp_path, suffix=".gz")
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b broken")
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: corrupt gzip"):
        DATASETS.get("fashion_mnist").load(str(tmp_path), download_dir=None, expected_counts=SMALL)


# ---- CIFAR-10 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_layout(tmp_path: Path, protocol: int) -> None:
    rows = write_cifar(tmp_path, protocol=protocol)
    data = DATASETS.get("cifar10").load(str(tmp_path), download_dir=None, expected_counts=SMALL)
    # row layout: 1024 red, 1024 green, 1024 blue values, each 32×32 row-major
    i, c, h, w = 7, 2, 5, 30
    assert data.x_test[i - SMALL[0], c, h, w] == rows[i, c * 1024 + h * 32 + w]
    np.testing.assert_array_equal(data.x_train.reshape(SMALL[0], -1), rows[: SMALL[0]])


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_restricted_unpickler_refuses_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_cifar(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(pickle.dumps({b"data": _Exploit(), b"labels": []}))
    with pytest.raises(DataError, match=r"data_batch_3: not a safe .*refusing to load .*system"):
        DATASETS.get("cifar10").load(str(tmp_path), download_dir=None, expected_counts=SMALL)
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval"):
        RestrictedUnpickler(io.BytesIO(pickle.dumps(eval))).load()


@pytest.mark.parametrize(
    ("batch", "problem"),
    [
        ({b"data": np.zeros((2, 3071), np.uint8), b"labels": [0, 1]}, "3071 values"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "uint8 array"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "2 images but 'labels'"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, "missing key 'labels'"),
        ([1, 2], "expected a dict"),
        (None, "not a safe CIFAR-10 batch pickle"),
    ],
)
def test_bad_cifar_batch(tmp_path: Path, batch, problem: str) -> None:
    write_cifar(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(b"garbage" if batch is None else pickle.dumps(batch))
    with pytest.raises(DataError, match=problem) as info:
        DATASETS.get("cifar10").load(str(tmp_path), download_dir=None, expected_counts=SMALL)
    assert str(path) in str(info.value)


def test_cifar_labels_and_missing_batch(tmp_path: Path) -> None:
    write_cifar(tmp_path, labels_high=11)
    with pytest.raises(DataError, match=r"data_batch_1,.*: labels span \d+\.\.10, expected 0\.\.9"):
        DATASETS.get("cifar10").load(str(tmp_path), download_dir=None, expected_counts=SMALL)
    (tmp_path / "cifar-10-batches-py" / "data_batch_5").unlink()
    with pytest.raises(DataError, match=r"data_batch_5: file not found"):
        DATASETS.get("cifar10").load(str(tmp_path), download_dir=None, expected_counts=SMALL)


# ---- CelebA ------------------------------------------------------------------------------------


def test_celeba_crop_resize_and_partition(tmp_path: Path) -> None:
    paths = write_celeba(tmp_path)
    data = DATASETS.get("celeba").load(str(tmp_path), download_dir=None)
    assert data.x_train.shape == (4, 3, 64, 64) and data.x_test.shape == (3, 3, 64, 64)
    assert not data.y_train.any() and not data.y_test.any() and data.y_test.dtype == np.int64
    np.testing.assert_array_equal(data.x_test[0], crop_and_resize(paths[5]).transpose(2, 0, 1))
    # solid colours survive JPEG, crop and resize to within a few levels
    mean = data.x_train[0].reshape(3, -1).mean(axis=1)
    np.testing.assert_allclose(mean, [200, 10, 50], atol=4)


def test_celeba_crop_is_centered(tmp_path: Path) -> None:
    image = np.zeros((218, 178, 3), np.uint8)
    image[29 : 29 + 160, 9 : 9 + 160] = 255  # exactly the 160×160 center crop is white
    Image.fromarray(image).save(tmp_path / "face.png")
    np.testing.assert_array_equal(crop_and_resize(tmp_path / "face.png"), 255)


def _remove_image(images: Path) -> None:
    (images / "000002.jpg").unlink()


def _extra_image(images: Path) -> None:
    shutil.copy(images / "000001.jpg", images / "x.jpg")


def _bad_partition(images: Path) -> None:
    (images.parent / "list_eval_partition.txt").write_text("000001.jpg 5\n")


def _not_a_jpeg(images: Path) -> None:
    (images / "000003.jpg").write_bytes(b"not a jpeg")


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (_remove_image, "lists 8 images but 7 were found.*missing: 000002.jpg"),
        (_extra_image, "not listed: x.jpg"),
        (_bad_partition, r"list_eval_partition\.txt, line 1: expected"),
        (_not_a_jpeg, "000003.jpg: not a readable image"),
    ],
)
def test_bad_celeba(tmp_path: Path, mutate, problem: str) -> None:
    write_celeba(tmp_path)
    mutate(tmp_path / "celeba" / "img_align_celeba")
    with pytest.raises(DataError, match=problem):
        DATASETS.get("celeba").load(str(tmp_path), download_dir=None)


def test_celeba_small_image_and_no_download(tmp_path: Path) -> None:
    write_celeba(tmp_path / "small", size=(150, 200))
    with pytest.raises(DataError, match="150×200, smaller than the 160×160 crop"):
        DATASETS.get("celeba").load(str(tmp_path / "small"), download_dir=None)
    for dl in (None, str(tmp_path / "dl")):
        with pytest.raises(DataError, match=r"torchvision\.datasets\.CelebA.*data\.celeba\.root"):
            DATASETS.get("celeba").load(None, download_dir=dl)


# ---- the real thing ----------------------------------------------------------------------------


@pytest.mark.skipif(not REAL_FASHION.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_real_fashion_mnist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sources_module, "FASHION_MNIST_SYSTEM_DIR", REAL_FASHION)
    data = DATASETS.get("fashion_mnist").load(None, download_dir=None)
    assert data.x_train.shape == (60000, 1, 28, 28) and data.x_test.shape == (10000, 1, 28, 28)
    np.testing.assert_array_equal(np.bincount(data.y_train, minlength=10), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(data.y_test, minlength=10), [1000] * 10)
    # parity with torchvision's own IDX reader on the test images
    from torchvision.datasets.mnist import read_image_file

    plain = tmp_path / "t10k-images-idx3-ubyte"
    plain.write_bytes(gzip.decompress((REAL_FASHION / f"{plain.name}.gz").read_bytes()))
    np.testing.assert_array_equal(read_image_file(str(plain)).numpy(), data.x_test[:, 0])
    np.testing.assert_array_equal(read_idx(plain), data.x_test[:, 0])


@pytest.mark.parametrize("name", FILE_DATASETS)
def test_missing_data_message_names_the_root_key(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataError, match=rf"data\.{name}\.root in params\.yaml") as info:
        DATASETS.get(name).load(None, download_dir=str(tmp_path / "dl"))
    assert "raw data not found" in str(info.value)
