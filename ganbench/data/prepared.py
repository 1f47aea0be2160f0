"""The prepared-data contract: what the ``prepare`` stage writes and every later stage reads.

One ``.npz`` per dataset (``data/prepared/<dataset>.npz``) holding uint8 images N×C×H×W and int64
labels for a train and a test split, plus the dataset name. Members are stored uncompressed, so
loading memory-maps them: a dataset larger than memory (ImageNet at 128 px is 63 GB) is written in
chunks (:func:`save_prepared_streamed`) and read from disk batch by batch. Loading validates, so a
later stage can trust the arrays it gets.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganbench.errors import ConfigError, DataError
from ganbench.io import mmap_npz, write_npz, write_npz_streamed

SPLITS = ("train", "test")
_KEYS = ("x_train", "y_train", "x_test", "y_test", "name")


@dataclass(frozen=True, kw_only=True, eq=False)
class PreparedData:
    """Images (uint8, N×C×H×W, C in {1, 3}) and labels (int64, N) for the train and test splits."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(images, labels)`` of the split ``name`` ("train" or "test")."""
        if name not in SPLITS:
            raise ConfigError("split", name, "one of " + ", ".join(SPLITS))
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of every image."""
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    def validate(self) -> None:
        """Raise :class:`DataError` unless dtypes, ranks and sizes follow the contract."""
        where = f"prepared data '{self.name}'"
        for split in SPLITS:
            x, y = self.split(split)
            if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 4:
                raise DataError(
                    f"{where}: x_{split} must be a uint8 array N×C×H×W, got {_describe(x)}"
                )
            if x.shape[1] not in (1, 3):
                raise DataError(
                    f"{where}: x_{split} must have 1 or 3 channels (N×C×H×W), got shape {x.shape}"
                )
            if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.ndim != 1:
                raise DataError(
                    f"{where}: y_{split} must be an int64 array (N,), got {_describe(y)}"
                )
            if len(x) != len(y):
                raise DataError(
                    f"{where}: x_{split} has {len(x)} images but y_{split} {len(y)} labels"
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DataError(
                f"{where}: train images are {self.x_train.shape[1:]} but test images "
                f"{self.x_test.shape[1:]} (C, H, W)"
            )


def save_prepared(path: str | os.PathLike, data: PreparedData) -> None:
    """Validate ``data`` and write it to ``path`` as one ``.npz``, atomically."""
    data.validate()
    write_npz(
        path,
        x_train=data.x_train,
        y_train=data.y_train,
        x_test=data.x_test,
        y_test=data.y_test,
        name=np.array(data.name),
    )


def save_prepared_streamed(
    path: str | os.PathLike,
    *,
    name: str,
    image_shape: tuple[int, int, int],
    splits: dict[str, tuple[int, Iterable[np.ndarray], np.ndarray]],
) -> None:
    """Write the prepared-data file for a dataset larger than memory: ``splits`` maps "train" and
    "test" to ``(count, image chunks, labels)``; image chunks are uint8 (n, C, H, W) arrays
    produced lazily. Same file format as :func:`save_prepared`."""
    arrays: dict = {}
    for split in SPLITS:
        count, chunks, labels = splits[split]
        labels = np.asarray(labels)
        if labels.dtype != np.int64 or labels.shape != (count,):
            raise DataError(f"prepared data '{name}': y_{split} must be int64 ({count},)")
        arrays[f"x_{split}"] = ((count, *image_shape), np.uint8, chunks)
        arrays[f"y_{split}"] = labels
    arrays["name"] = np.array(name)
    write_npz_streamed(path, arrays)


def load_prepared(path: str | os.PathLike) -> PreparedData:
    """Read and validate the ``.npz`` written by :func:`save_prepared`.

    A missing file names the stage that makes it (the dataset name is the file's stem, as in
    ``data/prepared/<dataset>.npz``); a corrupt or incomplete one says so.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: prepared data not found; run the prepare stage: dvc repro prepare@{path.stem}"
        )
    arrays = _read_npz(path)
    data = PreparedData(
        x_train=arrays["x_train"],
        y_train=arrays["y_train"],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
        name=str(arrays["name"]),
    )
    try:
        data.validate()
    except DataError as e:
        raise DataError(f"{path}: {e}; {_rerun(path)}") from None
    return data


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays under ``_KEYS``, memory-mapped (see :func:`ganbench.io.mmap_npz`: a dataset
    larger than memory is read from disk as batches ask for it); a file that is not a complete
    ``.npz`` is a DataError."""
    try:
        arrays = mmap_npz(path)
    # a plain .npy or a damaged zip surface as BadZipFile, a truncated member as ValueError
    except (OSError, ValueError, EOFError, TypeError, KeyError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: corrupt prepared data ({e}); {_rerun(path)}") from None
    missing = [k for k in _KEYS if k not in arrays]
    if missing:
        raise DataError(
            f"{path}: not a prepared-data file: missing {', '.join(missing)}; {_rerun(path)}"
        )
    return {k: arrays[k] for k in _KEYS}


def _rerun(path: Path) -> str:
    return f"rerun the prepare stage: dvc repro -f prepare@{path.stem}"


def _describe(a: object) -> str:
    if isinstance(a, np.ndarray):
        return f"{a.dtype} array of shape {a.shape}"
    return type(a).__name__
