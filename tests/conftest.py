"""Shared fixtures. ``inception_weights``: a randomly initialised Inception weights file.

No Inception weights can be fetched offline, so the Inception code path (search, hash check, safe
load, torch-fidelity's network) is exercised with a file written here (see
:func:`ganbench.metrics.inception.write_random_inception_weights`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from ganbench.metrics.inception import write_random_inception_weights


@pytest.fixture(scope="module")
def one_thread():
    """Tiny networks gain nothing from threads; on a busy machine OpenMP's spinning costs 50x.
    Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory) -> tuple[Path, str]:
    """(path, sha256) of a random Inception weights file with torch-fidelity's keys."""
    path = write_random_inception_weights(tmp_path_factory.mktemp("inception") / "random.pth")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()
