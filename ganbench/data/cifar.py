"""Read CIFAR-10 in torchvision's on-disk format (https://www.cs.toronto.edu/~kriz/cifar.html).

``cifar-10-batches-py/{data_batch_1..5,test_batch}`` are Python pickles of dicts with ``data``
(N×3072 uint8: 1024 red, then green, then blue values, each a 32×32 image in row order) and
``labels`` (N ints). A pickle can run arbitrary code, so we read them with an unpickler that only
builds numpy arrays; anything else is refused.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ganbench.errors import DataError

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)

# the exact callables numpy's own pickles reference, taken from numpy so no private import is needed
_RECONSTRUCT = np.zeros(1).__reduce__()[0]  # protocol <= 4
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]  # protocol 5
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how protocol <= 2 pickles spell Python 3 bytes
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds dicts, lists, str, bytes, numbers and numpy arrays, nothing else.

    ``find_class`` is the only door through which a pickle reaches code; it opens for numpy's
    array reconstruction helpers and ``_codecs.encode`` (str -> bytes) only.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only numpy arrays are allowed"
            ) from None


def read_cifar10(
    directory: str | Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(x_train, y_train, x_test, y_test)`` from a ``cifar-10-batches-py`` directory.

    Images are uint8 N×3×32×32, labels int64 N. Raises :class:`DataError` naming the batch file
    that is missing, not a safe pickle, or not shaped like a CIFAR batch.
    """
    directory = Path(directory)
    x_train, y_train = _concat([_read_batch(directory / b) for b in TRAIN_BATCHES])
    x_test, y_test = _concat([_read_batch(directory / b) for b in TEST_BATCHES])
    return x_train, y_train, x_test, y_test


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            # latin1, as torchvision does: the original files are Python 2 pickles
            batch = RestrictedUnpickler(f, encoding="latin1").load()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, OSError) as e:
        raise DataError(f"{path}: not a safe CIFAR-10 batch pickle: {e}") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: expected a dict, got {type(batch).__name__}")
    data, labels = _field(batch, "data", path), _field(batch, "labels", path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise DataError(f"{path}: 'data' must be a uint8 array N×3072, got {_describe(data)}")
    if data.shape[1] != 3 * 32 * 32:
        raise DataError(
            f"{path}: 'data' rows hold {data.shape[1]} values; a 32×32×3 image needs 3072"
        )
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{path}: 'labels' must be a list of integers") from None
    if y.shape != (len(data),):
        raise DataError(f"{path}: {len(data)} images but 'labels' has shape {y.shape}")
    # (N, 3072) -> (N, C, H, W): channel planes, each row-major
    return data.reshape(-1, 3, 32, 32), y


def _field(batch: dict, key: str, path: Path) -> Any:
    """``batch[key]``; Python 3 pickles have bytes keys under latin1, Python 2 ones str keys."""
    for k in (key, key.encode()):
        if k in batch:
            return batch[k]
    raise DataError(f"{path}: missing key '{key}' (keys: {sorted(map(str, batch))})")


def _concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


def _describe(a: object) -> str:
    if isinstance(a, np.ndarray):
        return f"{a.dtype} array of shape {a.shape}"
    return type(a).__name__
