"""Shared fixtures. ``inception_weights``: a randomly initialised Inception weights file.

No Inception weights can be fetched offline, so the Inception code path (search, hash check, safe
load, torch-fidelity's network) is exercised with a file written here: torch-fidelity's own
InceptionV3 with random weights, and BatchNorm running statistics set from one forward pass in
train mode so activations neither vanish nor explode through the 90-odd layers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch


def write_random_inception_weights(path: Path, seed: int = 0) -> Path:
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    with pytest.MonkeyPatch.context() as mp:
        # Build the module without any weights: no download, no load.
        mp.setattr(fe, "load_state_dict_from_url", lambda *a, **k: {})
        mp.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
        torch.manual_seed(seed)
        model = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"])
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average: one batch sets the statistics exactly
            m.reset_running_stats()
    model.train()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model(torch.randint(0, 256, (8, 3, 64, 64), dtype=torch.uint8, generator=generator))
    # Scale the last block so pool3 features are O(1), like the real network's (post-ReLU means
    # around 0.3-1): KID's cubic kernel on features of ~20 would need more than float32 digits.
    with torch.no_grad():
        for m in model.Mixed_7c.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.mul_(0.05)
                m.bias.mul_(0.05)
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, path)
    return path


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory) -> tuple[Path, str]:
    """(path, sha256) of a random Inception weights file with torch-fidelity's keys."""
    path = write_random_inception_weights(tmp_path_factory.mktemp("inception") / "random.pth")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()
