"""Atomic writes: every output appears whole or not at all (write to a temp file, then os.replace).

numpy and torch are imported by the functions that use them, so a stage that only reads and
writes JSON (the selection stage) does not pay for importing torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganbench.errors import UserError

if TYPE_CHECKING:
    import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> dict:
    """A JSON object; a missing or unparsable file is a UserError naming it."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def write_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def torch_save(path: str | os.PathLike, obj: Any) -> None:
    """Save through a file handle: given a path, torch.save names the zip archive after the (random)
    temp file, so the bytes, and every hash of them, would change on each rebuild."""
    import torch

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)


def torch_load(path: str | os.PathLike) -> Any:
    """Load a checkpoint we wrote; ``weights_only=True`` so a file can never run code."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def _json_default(obj: Any) -> Any:
    np = sys.modules.get("numpy")  # not imported: the object is no numpy value
    if np is not None and isinstance(obj, np.generic):
        return obj.item()
    if np is not None and isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_npz_streamed(path: str | os.PathLike, arrays: dict[str, Any]) -> None:
    """An ``.npz`` (as ``np.savez`` writes it: uncompressed members) whose arrays are written in
    chunks, so it can be larger than memory. ``arrays`` maps a name to an ndarray or to a
    ``(shape, dtype, chunks)`` triple, ``chunks`` an iterable of arrays whose concatenation along
    axis 0 has that shape. Atomic like every writer here."""
    import zipfile

    import numpy as np

    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for name, spec in arrays.items():
            if isinstance(spec, np.ndarray):
                spec = (spec.shape, spec.dtype, [spec])
            shape, dtype, chunks = spec
            dtype = np.dtype(dtype)
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                header = {
                    "descr": np.lib.format.dtype_to_descr(dtype),
                    "fortran_order": False,
                    "shape": tuple(shape),
                }
                np.lib.format.write_array_header_2_0(f, header)
                rows = 0
                for chunk in chunks:
                    chunk = np.ascontiguousarray(chunk, dtype=dtype)
                    if chunk.shape[1:] != tuple(shape[1:]):
                        raise ValueError(
                            f"{name}: chunk of shape {chunk.shape}, expected (*, {shape[1:]})"
                        )
                    f.write(chunk.tobytes())
                    rows += len(chunk) if chunk.ndim else 1
                expected = shape[0] if len(shape) else 1
                if rows != expected:
                    raise ValueError(f"{name}: chunks hold {rows} rows, expected {expected}")


def mmap_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The members of an uncompressed ``.npz`` as copy-on-write memory maps (nothing is read until
    used, so a file larger than memory works); compressed members are read into memory."""
    import zipfile

    import numpy as np

    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as raw:
        for info in zf.infolist():
            name = info.filename.removesuffix(".npy")
            if info.compress_type != zipfile.ZIP_STORED:
                with zf.open(info) as f:
                    out[name] = np.lib.format.read_array(f, allow_pickle=False)
                continue
            # the member's data start after its local header (30 bytes + name + extra field)
            raw.seek(info.header_offset + 26)
            name_len, extra_len = np.frombuffer(raw.read(4), dtype="<u2")
            start = info.header_offset + 30 + int(name_len) + int(extra_len)
            raw.seek(start)
            version = np.lib.format.read_magic(raw)
            read_header = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(version)
            shape, fortran, dtype = read_header(raw) if read_header else ((), False, None)
            if dtype is not None and dtype.hasobject:
                raise ValueError(
                    f"{path}: member {name} holds pickled Python objects (refused: allow_pickle=False)"
                )
            if dtype is None or not shape or 0 in shape:  # np.memmap cannot map these
                raw.seek(start)
                out[name] = np.lib.format.read_array(raw, allow_pickle=False)
            else:
                out[name] = np.memmap(
                    path,
                    dtype=dtype,
                    mode="c",
                    offset=raw.tell(),
                    shape=shape,
                    order="F" if fortran else "C",
                )
    return out


def sha256_file(path: str | os.PathLike) -> str:
    """The file's SHA-256, hex (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
