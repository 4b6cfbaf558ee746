"""Reading the engine's growing record buffers (``array.array``) with numpy, safely.

A numpy view of an ``array.array`` pins its memory: while any view is alive the array cannot
grow (``BufferError: cannot resize an array that is exporting buffers``). A view held in a
local variable can outlive its function — a sampling profiler (Dask's, for one) or a
traceback keeps the frame, and so its locals, alive. So views never leave these functions:
they copy what the caller needs and drop the view before returning.
"""

from __future__ import annotations

from array import array

import numpy as np


def copy_of(buf: array, dtype: type | str, start: int = 0, stop: int | None = None) -> np.ndarray:
    """A numpy copy of ``buf[start:stop]`` (never a view)."""
    view = np.frombuffer(buf, dtype=dtype)
    try:
        return view[start:stop].copy()
    finally:
        del view


def take(buf: array, dtype: type | str, index: np.ndarray) -> np.ndarray:
    """``buf[index]`` for an integer or boolean index array, as a new numpy array."""
    view = np.frombuffer(buf, dtype=dtype)
    try:
        return np.asarray(view[index]).copy()
    finally:
        del view
