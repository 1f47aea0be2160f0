"""ImageFolder datasets (ImageNet) at a fixed square resolution, written in chunks.

Layout of ``root`` (torchvision's ImageFolder, per split)::

    root/train/<class>/<image>      root/val/<class>/<image>   (or root/test/...)

Labels are the class folders' indices in sorted order (as torchvision's ImageFolder). Every image
is converted to RGB, centre-cropped to a square on its short side and resized with bicubic
interpolation (BigGAN-PyTorch's ``CenterCropLongEdge`` + ``Resize``). Decoding runs in a process
pool and the prepared file is written chunk by chunk (:func:`save_prepared_streamed`), so ImageNet
at 128 px (63 GB of uint8) never has to fit in memory; later stages memory-map it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ganbench.data.prepared import PreparedData, load_prepared, save_prepared_streamed
from ganbench.errors import DataError

EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".webp", ".tif", ".tiff")
TEST_DIRS = ("val", "test")
CHUNK = 1024  # images decoded and written per chunk


def list_split(directory: Path) -> tuple[list[Path], np.ndarray, list[str]]:
    """Image files, their labels (int64) and the sorted class names of one split folder."""
    classes = sorted(d.name for d in directory.iterdir() if d.is_dir())
    files, labels = [], []
    for index, name in enumerate(classes):
        found = sorted(p for p in (directory / name).rglob("*") if p.suffix.lower() in EXTENSIONS)
        files += found
        labels += [index] * len(found)
    return files, np.asarray(labels, dtype=np.int64), classes


def load_square(path: Path, resolution: int) -> np.ndarray:
    """One image as uint8 (3, R, R): RGB, centre crop on the short side, bicubic resize."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            w, h = img.size
            s = min(w, h)
            left, top = (w - s) // 2, (h - s) // 2
            img = img.crop((left, top, left + s, top + s))
            img = img.resize((resolution, resolution), Image.Resampling.BICUBIC)
            return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).copy()
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise DataError(f"{path}: not a readable image ({err})") from None


def _load(args: tuple[Path, int]) -> np.ndarray:
    return load_square(*args)


def _chunks(files: list[Path], resolution: int, workers: int) -> Iterator[np.ndarray]:
    jobs = [(f, resolution) for f in files]
    if workers <= 1:
        for start in range(0, len(jobs), CHUNK):
            yield np.stack([_load(j) for j in jobs[start : start + CHUNK]])
        return
    with get_context("spawn").Pool(workers) as pool:
        batch = []
        for image in pool.imap(_load, jobs, chunksize=64):
            batch.append(image)
            if len(batch) == CHUNK:
                yield np.stack(batch)
                batch = []
        if batch:
            yield np.stack(batch)


@dataclass(frozen=True)
class ImageFolderSource:
    """An ImageFolder dataset resized to ``resolution``; ``root`` must be given in params
    (``data.<name>.root``): ImageNet cannot be downloaded automatically."""

    name: str
    resolution: int
    num_classes: int
    workers: int = 0  # decoding processes (0: all CPUs)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (3, self.resolution, self.resolution)

    layout = "train/<class>/<images> and val/<class>/<images> (torchvision ImageFolder)"

    def _splits(self, root: str | None) -> dict[str, Path]:
        if root is None:
            raise DataError(
                f"{self.name}: set data.{self.name}.root in params.yaml to a directory holding "
                f"{self.layout}; ImageNet is not downloaded automatically"
            )
        base = Path(root)
        test = next((base / d for d in TEST_DIRS if (base / d).is_dir()), None)
        if not (base / "train").is_dir() or test is None:
            raise DataError(
                f"data.{self.name}.root = {root!r} in params.yaml: expected {self.layout}; "
                "not found there"
            )
        return {"train": base / "train", "test": test}

    def write_prepared(self, path: str | os.PathLike, root: str | None) -> None:
        """Decode, crop, resize and write the prepared file in chunks."""
        splits, names = {}, None
        for split, directory in self._splits(root).items():
            files, labels, classes = list_split(directory)
            if not files:
                raise DataError(
                    f"{directory}: no images ({', '.join(EXTENSIONS)}) in class folders"
                )
            if names is not None and classes != names:
                raise DataError(f"{directory}: class folders differ from the train split's")
            names = classes
            if len(classes) > self.num_classes:
                raise DataError(
                    f"{directory}: {len(classes)} class folders, expected at most "
                    f"{self.num_classes} for {self.name}"
                )
            workers = self.workers or os.cpu_count() or 1
            splits[split] = (len(files), _chunks(files, self.resolution, workers), labels)
        save_prepared_streamed(path, name=self.name, image_shape=self.image_shape, splits=splits)

    def load(
        self,
        root: str | None,
        *,
        download_dir: str | None = None,
        expected_counts: tuple[int, int] | None = None,
    ) -> PreparedData:
        """The whole dataset in memory-mapped arrays (via a temporary prepared file)."""
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            self.write_prepared(Path(tmp) / f"{self.name}.npz", root)
            data = load_prepared(Path(tmp) / f"{self.name}.npz")
            return PreparedData(
                x_train=np.array(data.x_train),
                y_train=np.array(data.y_train),
                x_test=np.array(data.x_test),
                y_test=np.array(data.y_test),
                name=data.name,
            )
