import hashlib

import pytest
import torch

from ganbench.io import torch_load, torch_save


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_torch_save_bytes_are_deterministic(tmp_path):
    obj = {"w": torch.arange(12.0).reshape(3, 4), "step": 7}
    torch_save(tmp_path / "a.pt", obj)
    torch_save(tmp_path / "b.pt", obj)
    torch_save(tmp_path / "a.pt", obj)  # overwrite through a fresh temp name
    assert _sha(tmp_path / "a.pt") == _sha(tmp_path / "b.pt")
    loaded = torch_load(tmp_path / "a.pt")
    torch.testing.assert_close(loaded["w"], obj["w"])
    assert loaded["step"] == 7


def test_torch_save_leaves_nothing_on_error(tmp_path):
    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        torch_save(tmp_path / "x.pt", {"bad": Unpicklable()})
    assert list(tmp_path.iterdir()) == []
