"""ganbench.data.idx: exact round trips for every dtype code, plain and gzip; corruption named."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from ganbench.data.idx import IDX_DTYPES, read_idx
from ganbench.errors import DataError


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """An IDX file's bytes, written independently of the reader: header, big-endian dims, data."""
    dtype = IDX_DTYPES[code]
    header = bytes([0, 0, code, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(dtype).tobytes()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("code", sorted(IDX_DTYPES))
def test_round_trip_every_dtype(tmp_path: Path, code: int, suffix: str) -> None:
    rng = np.random.default_rng(code)
    expected = rng.integers(-100, 100, size=(3, 4, 5)).astype(IDX_DTYPES[code].newbyteorder("="))
    if IDX_DTYPES[code] == np.uint8:
        expected = rng.integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
    path = write(tmp_path / f"a-idx3-ubyte{suffix}", idx_bytes(expected, code))
    got = read_idx(path)
    assert got.dtype == expected.dtype and got.dtype.isnative
    np.testing.assert_array_equal(got, expected)
    got[0, 0, 0] = 1  # a private, writable copy


def test_one_dimensional_labels(tmp_path: Path) -> None:
    labels = np.arange(10, dtype=np.uint8)
    path = write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels, 0x08))
    np.testing.assert_array_equal(read_idx(path), labels)


def test_gzip_detected_without_suffix(tmp_path: Path) -> None:
    images = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(gzip.compress(idx_bytes(images, 0x08)))
    np.testing.assert_array_equal(read_idx(path), images)


def _images() -> bytes:
    return idx_bytes(np.zeros((2, 3, 4), dtype=np.uint8), 0x08)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x01\x02" + _images()[2:], "bad magic number 0x01020803"),
        (b"\x00\x00\x00\x00", "bad magic number 0x00000000"),
        (b"\x00\x00\x07\x03" + _images()[4:], "unknown dtype code 0x07"),
        (_images()[:-1], "truncated"),
        (_images() + b"\x00", "trailing data"),
        (_images()[:9], "truncated header"),
        (b"\x00\x00", "too short"),
        (b"", "too short"),
    ],
)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_corrupt_files_name_the_file(
    tmp_path: Path, data: bytes, problem: str, suffix: str
) -> None:
    path = write(tmp_path / f"train-images-idx3-ubyte{suffix}", data)
    with pytest.raises(DataError, match=problem) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_bad_magic_says_what_was_expected(tmp_path: Path) -> None:
    path = write(tmp_path / "train-images-idx3-ubyte.gz", b"\x00" * 16)
    with pytest.raises(DataError) as info:
        read_idx(path)
    message = str(info.value)
    assert message.startswith(f"{path}: bad magic number 0x00000000")
    assert "expected an IDX file (0x0000 08 03 for images" in message


@pytest.mark.parametrize("damage", ["flip", "truncate", "not_gzip"])
def test_corrupt_gzip(tmp_path: Path, damage: str) -> None:
    packed = bytearray(gzip.compress(_images() * 50))
    if damage == "flip":
        packed[len(packed) // 2] ^= 0xFF
        packed[-6] ^= 0xFF  # the CRC too, so the damage cannot go unnoticed
    elif damage == "truncate":
        packed = packed[: len(packed) // 2]
    else:
        packed = bytearray(b"plain text, not gzip")
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(DataError, match="corrupt gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "t10k-labels-idx1-ubyte"
    with pytest.raises(DataError, match="file not found") as info:
        read_idx(path)
    assert str(path) in str(info.value)
