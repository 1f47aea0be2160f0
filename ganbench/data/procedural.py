"""Procedural datasets: generated, not read, so they work anywhere (smoke runs, tests, CI).

``shapes``: 28x28 grayscale images of four shape classes (filled square, disc, horizontal bar,
vertical bar) at random positions and sizes, anti-aliased by 4x4 supersampling; 4,000 train and
1,000 test images, identical on every machine (fixed seed, numpy only).
"""

from __future__ import annotations

import numpy as np

from ganbench.data.prepared import PreparedData

SIZE, SUPER = 28, 4


def _shape(kind: int, rng: np.random.RandomState) -> np.ndarray:
    n = SIZE * SUPER
    yy, xx = (np.mgrid[0:n, 0:n] + 0.5) / SUPER  # pixel-unit coordinates of the sub-samples
    r = rng.uniform(4, 9)
    cx, cy = rng.uniform(r + 1, SIZE - r - 1, size=2)
    if kind == 0:  # square
        mask = (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r)
    elif kind == 1:  # disc
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
    elif kind == 2:  # horizontal bar
        mask = (np.abs(xx - cx) < r + 3) & (np.abs(yy - cy) < r / 3)
    else:  # vertical bar
        mask = (np.abs(xx - cx) < r / 3) & (np.abs(yy - cy) < r + 3)
    coverage = mask.reshape(SIZE, SUPER, SIZE, SUPER).mean(axis=(1, 3))
    return np.round(coverage * 255).astype(np.uint8)


def generate_shapes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images (n, 1, 28, 28) uint8 and their labels (n,) int64, a pure function of ``seed``."""
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, 4, size=n).astype(np.int64)
    images = np.stack([_shape(int(k), rng) for k in labels])[:, None]
    return images, labels


class ShapesSource:
    """The ``shapes`` dataset; ``root`` and ``download_dir`` are accepted and unused."""

    name = "shapes"
    image_shape = (1, SIZE, SIZE)
    num_classes = 4
    counts = (4000, 1000)

    def load(
        self,
        root: str | None,
        *,
        download_dir: str | None,
        expected_counts: tuple[int, int] | None = None,
    ) -> PreparedData:
        n_train, n_test = expected_counts or self.counts
        x_train, y_train = generate_shapes(n_train, seed=0)
        x_test, y_test = generate_shapes(n_test, seed=1)
        data = PreparedData(
            x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, name=self.name
        )
        data.validate()
        return data


PROCEDURAL = ("shapes",)
