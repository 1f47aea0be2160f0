"""Read CelebA in torchvision's on-disk format (Liu et al. 2015, https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html).

``celeba/img_align_celeba/*.jpg`` (178×218 aligned faces) and ``celeba/list_eval_partition.txt``
(lines ``000001.jpg 0``; partition 0 = train, 1 = valid, 2 = test). Each face is center-cropped to
160×160 and resized to 64×64, the common GAN-benchmark protocol (e.g. Lucic et al. 2018).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ganbench.errors import DataError

IMAGE_DIR = "img_align_celeba"
PARTITION_FILE = "list_eval_partition.txt"
PARTITIONS = {"train": 0, "valid": 1, "test": 2}
CROP = 160
SIZE = 64


def read_celeba(directory: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(x_train, x_test)``, uint8 N×3×64×64, from a ``celeba`` directory.

    The partition file and the images found must agree one to one; a missing, extra or unreadable
    image raises :class:`DataError` naming it.
    """
    directory = Path(directory)
    partition = read_partition(directory / PARTITION_FILE)
    image_dir = directory / IMAGE_DIR
    if not image_dir.is_dir():
        raise DataError(f"{image_dir}: directory not found")
    found = {p.name for p in image_dir.glob("*.jpg")}
    _check_same(partition_file=directory / PARTITION_FILE, listed=set(partition), found=found)
    splits = []
    for split in ("train", "test"):
        names = [n for n, p in partition.items() if p == PARTITIONS[split]]
        splits.append(_read_images([image_dir / n for n in names]))
    return splits[0], splits[1]


def read_partition(path: Path) -> dict[str, int]:
    """``{file name: partition}`` in file order; a malformed line is a DataError naming it."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read: {e}") from None
    partition: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or fields[1] not in {"0", "1", "2"}:
            raise DataError(
                f"{path}, line {number}: expected '<name>.jpg <0|1|2>', got {line.strip()!r}"
            )
        if fields[0] in partition:
            raise DataError(f"{path}, line {number}: {fields[0]} is listed twice")
        partition[fields[0]] = int(fields[1])
    return partition


def _check_same(*, partition_file: Path, listed: set[str], found: set[str]) -> None:
    missing, extra = sorted(listed - found), sorted(found - listed)
    if missing or extra:
        raise DataError(
            f"{partition_file}: lists {len(listed)} images but {len(found)} were found in "
            f"{partition_file.parent / IMAGE_DIR}; missing: {_some(missing)}; "
            f"not listed: {_some(extra)}"
        )


def _read_images(paths: list[Path]) -> np.ndarray:
    out = np.empty((len(paths), 3, SIZE, SIZE), dtype=np.uint8)  # (N, C, H, W)
    for i, path in enumerate(paths):
        out[i] = crop_and_resize(path).transpose(2, 0, 1)
    return out


def crop_and_resize(path: Path) -> np.ndarray:
    """One face as uint8 (64, 64, 3): 160×160 center crop, then bilinear (antialiased) resize."""
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path}: not a readable image: {e}") from None
    width, height = image.size
    if width < CROP or height < CROP:
        raise DataError(f"{path}: image is {width}×{height}, smaller than the {CROP}×{CROP} crop")
    left, top = (width - CROP) // 2, (height - CROP) // 2
    image = image.crop((left, top, left + CROP, top + CROP))
    # PIL's bilinear filter widens its support when downscaling, i.e. it antialiases
    return np.asarray(image.resize((SIZE, SIZE), Image.Resampling.BILINEAR))


def _some(names: list[str], limit: int = 5) -> str:
    if not names:
        return "none"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
