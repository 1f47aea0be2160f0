"""Dataset sources: find the raw files, read them, validate, and return :class:`PreparedData`.

Each registered source looks, in order, in the ``root`` given in params (an explicit root must hold
the files), in system directories (Debian's ``dataset-*`` packages), and in ``download_dir``,
downloading with torchvision when it can. When all fail, one :class:`DataError` lists every way to
get the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from ganbench.data.celeba import IMAGE_DIR, PARTITION_FILE, read_celeba
from ganbench.data.cifar import TEST_BATCHES, TRAIN_BATCHES, read_cifar10
from ganbench.data.idx import read_idx
from ganbench.data.imagefolder import ImageFolderSource
from ganbench.data.prepared import PreparedData
from ganbench.data.procedural import ShapesSource
from ganbench.errors import DataError
from ganbench.registry import Registry

# where Debian's dataset-fashion-mnist puts the four .gz files (a constant so tests can patch it)
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class DatasetSource(Protocol):
    """What ``DATASETS`` holds: a named dataset that can load itself into :class:`PreparedData`."""

    name: str
    image_shape: tuple[int, int, int]  # (C, H, W)
    num_classes: int  # 0: unlabelled, every label is 0

    def load(
        self,
        root: str | None,
        *,
        download_dir: str | None,
        expected_counts: tuple[int, int] | None = None,
    ) -> PreparedData: ...


DATASETS: Registry[DatasetSource] = Registry("dataset")

# (x_train, y_train, x_test, y_test, {"x_train": file it came from, ...})
_Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, str]]


def download_with_torchvision(dataset_class: str, download_dir: str, *, train: bool) -> None:
    """Let ``torchvision.datasets.<dataset_class>`` download (and checksum) its files."""
    import torchvision.datasets  # deferred: importing torchvision is slow and only needed here

    getattr(torchvision.datasets, dataset_class)(download_dir, train=train, download=True)


@dataclass(frozen=True)
class _Source:
    """Shared lookup (root, system dirs, download) and validation; subclasses know the format."""

    name: str
    image_shape: tuple[int, int, int]
    num_classes: int
    counts: tuple[int, int] | None  # (train, test); None: whatever the files hold
    layout: ClassVar[str]  # what a root must hold, for messages
    system_package: ClassVar[str | None] = None  # the Debian package that installs the files

    def load(
        self,
        root: str | None,
        *,
        download_dir: str | None,
        expected_counts: tuple[int, int] | None = None,
    ) -> PreparedData:
        """Locate, read and validate; ``expected_counts`` overrides the real counts (for tests)."""
        directory = self._locate(root, download_dir)
        x_train, y_train, x_test, y_test, files = self.read(directory)
        counts = self.counts if expected_counts is None else expected_counts
        for i, (split, x, y) in enumerate([("train", x_train, y_train), ("test", x_test, y_test)]):
            where = files[f"x_{split}"]
            if x.shape[1:] != self.image_shape:
                raise DataError(f"{where}: images are {x.shape[1:]}, expected {self.image_shape}")
            if counts is not None and len(x) != counts[i]:
                raise DataError(f"{where}: {len(x)} {split} images, expected {counts[i]}")
            if len(y) and self.num_classes and not 0 <= y.min() <= y.max() < self.num_classes:
                raise DataError(
                    f"{files[f'y_{split}']}: labels span {y.min()}..{y.max()}, "
                    f"expected 0..{self.num_classes - 1}"
                )
        data = PreparedData(
            x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, name=self.name
        )
        data.validate()
        return data

    def read(self, directory: Path) -> _Raw:
        """The arrays (labels int64, images N×C×H×W) and where each came from, for messages."""
        raise NotImplementedError

    def find(self, directory: Path) -> Path | None:
        """``directory`` or a folder in it holding the files in the expected layout, else None."""
        raise NotImplementedError

    def system_dirs(self) -> list[Path]:
        """Directories a system package installs the files into, searched when no root is given."""
        return []

    def download(self, download_dir: str) -> None:
        raise NotImplementedError

    def _locate(self, root: str | None, download_dir: str | None) -> Path:
        if root is not None:
            found = self.find(Path(root))
            if found is None:
                problem = "not found there" if Path(root).is_dir() else "no such directory"
                raise DataError(
                    f"data.{self.name}.root = {root!r} in params.yaml: expected {self.layout}; "
                    f"{problem}"
                )
            return found
        for directory in [*self.system_dirs(), *([Path(download_dir)] if download_dir else [])]:
            if (found := self.find(directory)) is not None:
                return found
        if download_dir is None:
            raise DataError(self._how_to_get("no download directory was given"))
        try:
            self.download(download_dir)
        except (OSError, RuntimeError) as e:
            raise DataError(self._how_to_get(f"download failed: {e}")) from None
        found = self.find(Path(download_dir))
        if found is None:
            raise DataError(self._how_to_get(f"no {self.layout} in {download_dir} after download"))
        return found

    def _how_to_get(self, reason: str) -> str:
        ways = [f"set data.{self.name}.root in params.yaml to a directory holding {self.layout}"]
        if self.system_package:
            dirs = ", ".join(map(str, self.system_dirs()))
            ways.append(f"apt-get install {self.system_package} (installs the files in {dirs})")
        ways.append(f"be online so torchvision downloads it ({reason})")
        listed = "\n".join(f"  {i}. {way}" for i, way in enumerate(ways, start=1))
        return f"{self.name}: raw data not found. Get it in one of these ways:\n{listed}"


@dataclass(frozen=True)
class _IdxSource(_Source):
    """MNIST-style datasets: four IDX files, plain or .gz, in a directory or torchvision's raw/."""

    torchvision_class: str = ""
    layout: ClassVar[str] = "the four IDX files " + ", ".join(IDX_FILES.values()) + " (or .gz)"

    def find(self, directory: Path) -> Path | None:
        for candidate in (directory, directory / self.torchvision_class / "raw"):
            if all(_idx_path(candidate, base) for base in IDX_FILES.values()):
                return candidate
        return None

    def read(self, directory: Path) -> _Raw:
        paths = {key: _idx_path(directory, base) for key, base in IDX_FILES.items()}
        a = {key: read_idx(path) for key, path in paths.items()}
        for key, ndim in (("x_train", 3), ("y_train", 1), ("x_test", 3), ("y_test", 1)):
            if a[key].dtype != np.uint8 or a[key].ndim != ndim:
                raise DataError(
                    f"{paths[key]}: expected uint8 with {ndim} dims, got {a[key].dtype} "
                    f"of shape {a[key].shape}"
                )
        for x, y in (("x_train", "y_train"), ("x_test", "y_test")):
            if len(a[x]) != len(a[y]):
                raise DataError(
                    f"{paths[x]} holds {len(a[x])} images but {paths[y]} {len(a[y])} labels"
                )
        files = {key: str(path) for key, path in paths.items()}
        x_train, x_test = a["x_train"][:, None], a["x_test"][:, None]  # (N, H, W) -> (N, 1, H, W)
        return x_train, a["y_train"].astype(np.int64), x_test, a["y_test"].astype(np.int64), files

    def download(self, download_dir: str) -> None:
        for train in (True, False):
            download_with_torchvision(self.torchvision_class, download_dir, train=train)


@dataclass(frozen=True)
class _FashionMnist(_IdxSource):
    system_package: ClassVar[str | None] = "dataset-fashion-mnist"

    def system_dirs(self) -> list[Path]:
        return [FASHION_MNIST_SYSTEM_DIR]  # read at call time, so tests can monkeypatch it


@dataclass(frozen=True)
class _Cifar10(_Source):
    layout: ClassVar[str] = "cifar-10-batches-py/ (data_batch_1..5, test_batch)"

    def find(self, directory: Path) -> Path | None:
        for candidate in (directory / "cifar-10-batches-py", directory):
            if (candidate / TRAIN_BATCHES[0]).is_file():
                return candidate
        return None

    def read(self, directory: Path) -> _Raw:
        train = f"{directory}/{{{','.join(TRAIN_BATCHES)}}}"
        test = ",".join(str(directory / b) for b in TEST_BATCHES)
        files = {"x_train": train, "y_train": train, "x_test": test, "y_test": test}
        return (*read_cifar10(directory), files)

    def download(self, download_dir: str) -> None:
        download_with_torchvision("CIFAR10", download_dir, train=True)


@dataclass(frozen=True)
class _CelebA(_Source):
    layout: ClassVar[str] = f"celeba/{IMAGE_DIR}/*.jpg and celeba/{PARTITION_FILE}"

    def find(self, directory: Path) -> Path | None:
        for candidate in (directory / "celeba", directory):
            if (candidate / PARTITION_FILE).is_file() and (candidate / IMAGE_DIR).is_dir():
                return candidate
        return None

    def read(self, directory: Path) -> _Raw:
        x_train, x_test = read_celeba(directory)
        files = dict.fromkeys(("x_train", "y_train", "x_test", "y_test"), str(directory))
        # unlabelled: all-zero labels keep the (x, y) contract
        y_train, y_test = np.zeros(len(x_train), np.int64), np.zeros(len(x_test), np.int64)
        return x_train, y_train, x_test, y_test, files

    def download(self, download_dir: str) -> None:
        raise DataError(self._how_to_get(""))

    def _how_to_get(self, reason: str) -> str:
        # no automatic download: Google Drive quotas make torchvision's CelebA download unreliable
        return (
            f"celeba: raw data not found and not downloaded automatically. Download it with "
            f"torchvision.datasets.CelebA(<dir>, download=True) (from Google Drive) or by hand "
            f"from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, then set data.celeba.root "
            f"in params.yaml to <dir>, the directory holding {self.layout}"
        )


@dataclass(frozen=True)
class PaddedSource:
    """Another dataset with ``pad`` zero pixels on every side, e.g. Fashion-MNIST at 32x32 for the
    ResNet ablations (the LeNet convention; the garments' background is black, so zeros extend
    it). It reads its base's raw files: ``data.<base>.root`` applies unless ``data.<name>`` is set."""

    name: str
    base: str
    pad: int

    @property
    def _base(self) -> DatasetSource:
        return DATASETS.get(self.base)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self._base.image_shape
        return (c, h + 2 * self.pad, w + 2 * self.pad)

    @property
    def num_classes(self) -> int:
        return self._base.num_classes

    def load(
        self,
        root: str | None,
        *,
        download_dir: str | None,
        expected_counts: tuple[int, int] | None = None,
    ) -> PreparedData:
        data = self._base.load(root, download_dir=download_dir, expected_counts=expected_counts)
        widths = ((0, 0), (0, 0), (self.pad, self.pad), (self.pad, self.pad))
        padded = PreparedData(
            x_train=np.pad(data.x_train, widths),
            y_train=data.y_train,
            x_test=np.pad(data.x_test, widths),
            y_test=data.y_test,
            name=self.name,
        )
        padded.validate()
        return padded


def _idx_path(directory: Path, base: str) -> Path | None:
    """``directory/base`` if it exists, else ``directory/base.gz`` if that does, else None."""
    for path in (directory / base, directory / f"{base}.gz"):
        if path.is_file():
            return path
    return None


for _source in (
    _FashionMnist(
        name="fashion_mnist",
        image_shape=(1, 28, 28),
        num_classes=10,
        counts=(60000, 10000),
        torchvision_class="FashionMNIST",
    ),
    _IdxSource(
        name="mnist",
        image_shape=(1, 28, 28),
        num_classes=10,
        counts=(60000, 10000),
        torchvision_class="MNIST",
    ),
    _Cifar10(name="cifar10", image_shape=(3, 32, 32), num_classes=10, counts=(50000, 10000)),
    _CelebA(name="celeba", image_shape=(3, 64, 64), num_classes=0, counts=None),
):
    DATASETS.add(_source.name, _source)
DATASETS.add(ShapesSource.name, ShapesSource())
for _resolution in (64, 128):  # ImageNet (ImageFolder layout) for the SAGAN/BigGAN presets
    DATASETS.add(
        f"imagenet{_resolution}",
        ImageFolderSource(name=f"imagenet{_resolution}", resolution=_resolution, num_classes=1000),
    )
for _name, _base in (("fashion_mnist32", "fashion_mnist"), ("shapes32", "shapes")):
    DATASETS.add(_name, PaddedSource(name=_name, base=_base, pad=2))
