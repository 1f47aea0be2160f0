"""Read IDX files, the format of MNIST and Fashion-MNIST (LeCun et al., http://yann.lecun.com/exdb/mnist/).

Layout: two zero bytes, a dtype code byte, a byte with the number of dimensions, one big-endian
uint32 per dimension, then the data in C order (multi-byte values big-endian). Files ending in
``.gz`` (or starting with the gzip magic) are decompressed transparently.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from ganbench.errors import DataError

# dtype code -> big-endian numpy dtype (the format stores multi-byte values big-endian)
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_EXPECTED = "expected an IDX file (0x0000 08 03 for images, 0x0000 08 01 for labels)"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Return the array stored in the IDX file ``path`` (plain or gzip), in native byte order.

    Raises :class:`DataError` naming the file for a missing file, corrupt gzip, bad magic number,
    unknown dtype code, or a data section whose size differs from the product of the dimensions.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(
            f"{path}: file is {len(raw)} bytes, too short for an IDX header; {_EXPECTED}"
        )
    magic = int.from_bytes(raw[:4], "big")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: bad magic number 0x{magic:08x}; {_EXPECTED}")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        allowed = ", ".join(f"0x{c:02x} ({d.name})" for c, d in IDX_DTYPES.items())
        raise DataError(
            f"{path}: bad magic number 0x{magic:08x}: unknown dtype code 0x{code:02x} "
            f"(allowed: {allowed}); {_EXPECTED}"
        )
    header_bytes = 4 + 4 * ndim
    if len(raw) < header_bytes:
        raise DataError(
            f"{path}: truncated header: {ndim} dimensions need {header_bytes} header bytes, "
            f"file has {len(raw)}"
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header_bytes
    if found != expected:
        problem = "truncated" if found < expected else "trailing data"
        raise DataError(
            f"{path}: {problem}: shape {shape} of {dtype.name} needs {expected} data bytes, "
            f"file has {found}"
        )
    array = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header_bytes)
    # astype copies: the result is writable and in native byte order
    return array.reshape(shape).astype(dtype.newbyteorder("="))


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it is gzip; every failure is a DataError naming it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e}") from None
    if path.suffix != ".gz" and not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupt gzip data ({e}); delete it and fetch it again") from None
