"""ganbench.data.prepared: the .npz contract round-trips exactly and refuses anything else."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ganbench.data.prepared import PreparedData, load_prepared, save_prepared
from ganbench.errors import ConfigError, DataError


def make_data(*, channels: int = 1, n_train: int = 5, n_test: int = 3) -> PreparedData:
    rng = np.random.default_rng(0)
    return PreparedData(
        x_train=rng.integers(0, 256, (n_train, channels, 8, 8), dtype=np.uint8),
        y_train=rng.integers(0, 10, n_train).astype(np.int64),
        x_test=rng.integers(0, 256, (n_test, channels, 8, 8), dtype=np.uint8),
        y_test=rng.integers(0, 10, n_test).astype(np.int64),
        name="toy",
    )


@pytest.mark.parametrize("channels", [1, 3])
def test_round_trip(tmp_path: Path, channels: int) -> None:
    data = make_data(channels=channels)
    path = tmp_path / "prepared" / "toy.npz"
    save_prepared(path, data)
    loaded = load_prepared(path)
    assert loaded.name == "toy"
    for field in ("x_train", "y_train", "x_test", "y_test"):
        got, expected = getattr(loaded, field), getattr(data, field)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    assert [p.name for p in path.parent.iterdir()] == ["toy.npz"]  # no temporary left behind


def test_split() -> None:
    data = make_data()
    assert data.split("train")[0] is data.x_train and data.split("train")[1] is data.y_train
    assert data.split("test")[0] is data.x_test and data.split("test")[1] is data.y_test
    with pytest.raises(ConfigError, match="'valid'.*one of train, test"):
        data.split("valid")


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_data().name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"x_train": np.zeros((5, 1, 8, 8), np.float32)}, "x_train must be a uint8"),
        ({"x_test": np.zeros((3, 8, 8), np.uint8)}, "x_test must be a uint8 array N×C×H×W"),
        ({"x_train": np.zeros((5, 2, 8, 8), np.uint8)}, "1 or 3 channels"),
        ({"y_train": np.zeros(5, np.int32)}, "y_train must be an int64"),
        ({"y_test": np.zeros((3, 1), np.int64)}, "y_test must be an int64 array"),
        ({"y_train": np.zeros(4, np.int64)}, "x_train has 5 images but y_train 4 labels"),
        ({"x_test": np.zeros((3, 1, 9, 8), np.uint8)}, "train images are"),
        ({"x_train": [[0]]}, "x_train must be a uint8 array N×C×H×W, got list"),
    ],
)
def test_validate(change: dict, problem: str, tmp_path: Path) -> None:
    data = dataclasses.replace(make_data(), **change)
    with pytest.raises(DataError, match=problem):
        data.validate()
    with pytest.raises(DataError, match=problem):
        save_prepared(tmp_path / "toy.npz", data)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_missing_file_names_the_stage(tmp_path: Path) -> None:
    path = tmp_path / "fashion_mnist.npz"
    with pytest.raises(DataError) as info:
        load_prepared(path)
    message = str(info.value)
    assert str(path) in message
    assert "run the prepare stage: dvc repro prepare@fashion_mnist" in message


def _truncated(path: Path) -> None:
    save_prepared(path, make_data())
    path.write_bytes(path.read_bytes()[:200])


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not an npz archive at all")


def _npy(path: Path) -> None:
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))


def _pickled(path: Path) -> None:
    keys = ("x_train", "y_train", "x_test", "y_test", "name")
    np.savez(path, **{k: np.array([{"a": 1}], dtype=object) for k in keys})


def _missing_key(path: Path) -> None:
    data = make_data()
    np.savez(path, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test)


def _wrong_dtype(path: Path) -> None:
    data = make_data()
    np.savez(
        path,
        x_train=data.x_train.astype(np.float32),
        y_train=data.y_train,
        x_test=data.x_test,
        y_test=data.y_test,
        name=np.array("toy"),
    )


def _bad_member(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for key in ("x_train", "y_train", "x_test", "y_test", "name"):
            z.writestr(f"{key}.npy", b"\x93NUMPY garbage")


@pytest.mark.parametrize(
    ("write", "problem"),
    [
        (_truncated, "corrupt prepared data"),
        (_garbage, "corrupt prepared data"),
        (_npy, "corrupt prepared data"),
        (_pickled, "corrupt prepared data.*allow_pickle"),
        (_missing_key, "missing y_test, name"),
        (_wrong_dtype, "x_train must be a uint8"),
        (_bad_member, "corrupt prepared data"),
    ],
)
def test_corrupt_file(tmp_path: Path, write, problem: str) -> None:
    path = tmp_path / "toy.npz"
    write(path)
    with pytest.raises(DataError, match=problem) as info:
        load_prepared(path)
    message = str(info.value)
    assert str(path) in message
    assert "dvc repro -f prepare@toy" in message
