import numpy as np
import pytest

from ganbench.data import DATASETS
from ganbench.data.procedural import PROCEDURAL, generate_shapes


@pytest.mark.parametrize("name", PROCEDURAL)
def test_procedural_datasets_are_registered_and_valid(name):
    data = DATASETS.get(name).load(None, download_dir=None, expected_counts=(40, 12))
    data.validate()
    assert data.x_train.shape == (40, *DATASETS.get(name).image_shape)
    assert data.x_test.shape == (12, *DATASETS.get(name).image_shape)


def test_shapes_are_a_pure_function_of_the_seed():
    a, la = generate_shapes(16, seed=3)
    b, lb = generate_shapes(16, seed=3)
    c, _ = generate_shapes(16, seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(a, c)


def test_shapes_classes_differ_in_geometry():
    images, labels = generate_shapes(400, seed=0)
    assert set(labels.tolist()) == {0, 1, 2, 3}
    # horizontal bars are wider than tall, vertical bars taller than wide
    ink = images[:, 0] > 127
    width = ink.any(axis=1).sum(axis=1)
    height = ink.any(axis=2).sum(axis=1)
    assert np.all(width[labels == 2] > height[labels == 2])
    assert np.all(height[labels == 3] > width[labels == 3])
    assert images.min() == 0 and images.max() == 255
