"""ImageFolder (ImageNet-style) datasets: crop/resize, labels, chunked writing, memory-mapped loading."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from ganbench.data import DATASETS, load_prepared
from ganbench.data.imagefolder import ImageFolderSource, load_square
from ganbench.errors import DataError
from ganbench.io import mmap_npz, write_npz_streamed

SIZES = [(20, 12), (9, 9), (30, 40), (16, 10)]


def make_folder(root, classes=("cat", "dog", "emu"), per_class=3, split_dirs=("train", "val")):
    rng = np.random.default_rng(0)
    for split in split_dirs:
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(per_class):
                w, h = SIZES[i % len(SIZES)]
                mode = ("RGB", "L", "RGBA")[i % 3]
                array = rng.integers(
                    0, 256, (h, w, {"RGB": 3, "L": 1, "RGBA": 4}[mode]), dtype=np.uint8
                )
                Image.fromarray(array.squeeze(-1) if mode == "L" else array, mode).save(
                    root / split / c / f"{i}.png"
                )
    return root


def test_load_square_crops_the_centre_and_resizes(tmp_path):
    array = np.zeros((10, 30, 3), dtype=np.uint8)
    array[:, 10:20] = 255  # the centre 10x10 square is white, the sides black
    Image.fromarray(array).save(tmp_path / "a.png")
    out = load_square(tmp_path / "a.png", 4)
    assert out.shape == (3, 4, 4) and out.dtype == np.uint8
    assert out.min() == 255  # only the centre square survives the crop


@pytest.mark.parametrize("workers", [1, 2])
def test_write_prepared_streams_and_loads_memory_mapped(tmp_path, workers):
    root = make_folder(tmp_path / "in")
    source = ImageFolderSource("tiny", resolution=8, num_classes=3, workers=workers)
    path = tmp_path / "tiny.npz"
    source.write_prepared(path, str(root))
    data = load_prepared(path)
    assert isinstance(data.x_train, np.memmap)
    assert data.x_train.shape == (9, 3, 8, 8) and data.x_test.shape == (9, 3, 8, 8)
    assert data.y_train.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    expected = load_square(root / "train" / "dog" / "1.png", 8)
    assert np.array_equal(data.x_train[4], expected)
    if workers == 2:  # the pool gives the same bytes as one process
        one = tmp_path / "one.npz"
        ImageFolderSource("tiny", resolution=8, num_classes=3, workers=1).write_prepared(
            one, str(root)
        )
        assert (
            hashlib.sha256(one.read_bytes()).digest() == hashlib.sha256(path.read_bytes()).digest()
        )


def test_imagenet_sources_are_registered():
    assert DATASETS.get("imagenet128").image_shape == (3, 128, 128)
    assert DATASETS.get("imagenet64").num_classes == 1000


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no_root", "set data.tiny.root"),
        ("no_val", "expected train/<class>"),
        ("corrupt", "not a readable image"),
        ("classes_differ", "class folders differ"),
        ("too_many_classes", "4 class folders, expected at most 3"),
    ],
)
def test_bad_folders_are_one_clear_error(tmp_path, setup, message):
    root = tmp_path / "in"
    if setup == "no_val":
        make_folder(root, split_dirs=("train",))
    elif setup == "classes_differ":
        make_folder(root, split_dirs=("train",))
        make_folder(root, classes=("cat", "dog", "fox"), split_dirs=("val",))
    elif setup == "too_many_classes":
        make_folder(root, classes=("a", "b", "c", "d"))
    else:
        make_folder(root)
    if setup == "corrupt":
        (root / "train" / "dog" / "0.png").write_bytes(b"not a png")
    source = ImageFolderSource("tiny", resolution=8, num_classes=3, workers=1)
    with pytest.raises(DataError, match=message):
        source.write_prepared(tmp_path / "out.npz", None if setup == "no_root" else str(root))
    assert not (tmp_path / "out.npz").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in"]  # no temp file left behind


def test_streamed_npz_round_trip_and_row_checks(tmp_path):
    x = np.arange(5 * 2 * 3, dtype=np.uint8).reshape(5, 2, 3)
    write_npz_streamed(
        tmp_path / "a.npz", {"x": (x.shape, np.uint8, [x[:2], x[2:]]), "n": np.array("t")}
    )
    with np.load(tmp_path / "a.npz") as f:
        assert np.array_equal(f["x"], x) and str(f["n"]) == "t"
    m = mmap_npz(tmp_path / "a.npz")
    assert np.array_equal(m["x"], x) and str(m["n"]) == "t"
    with pytest.raises(ValueError, match="chunks hold 2 rows, expected 5"):
        write_npz_streamed(tmp_path / "b.npz", {"x": (x.shape, np.uint8, [x[:2]])})
    assert not (tmp_path / "b.npz").exists()
