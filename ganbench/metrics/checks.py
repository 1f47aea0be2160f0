"""Input checks shared by the metric functions: one message for one mistake, wherever it is made."""

from __future__ import annotations

import numpy as np

from ganbench.errors import UserError


def finite_matrix(
    name: str, x: np.ndarray, *, columns: str = "d", dtype: type | None = None
) -> np.ndarray:
    """``x`` as a 2-D (N, ``columns``) array of finite values.

    Float arrays keep their dtype (so float32 features are not copied to float64 as a whole)
    unless ``dtype`` is given; other arrays become float64.
    """
    x = np.asarray(x)
    if dtype is not None:
        x = x.astype(dtype, copy=False)
    elif not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if x.ndim != 2:
        raise UserError(f"{name} must be a 2-D array (N, {columns}); got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise UserError(f"{name}: NaN or infinite values found")
    return x
