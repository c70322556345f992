"""Fully connected layer: ``out = x @ W.T + b`` (the textbook version, with the formulas:
:func:`minitorch_cv.reference.linear_forward`).

The products run with single-threaded BLAS (:mod:`minitorch_cv.kernels.parallel` says
why); a large one is shared out among the library's threads in blocks of rows that depend
on the shapes alone, so every thread count gives the same numbers.
"""

import numpy as np

from ..checks import check_grad, check_input
from ..kernels.parallel import parallel_over, single_threaded_blas

__all__ = ["linear_forward", "linear_backward", "check_linear_arrays",
           "MIN_PARALLEL_MULTIPLY_ADDS"]

MIN_PARALLEL_MULTIPLY_ADDS = 1 << 24      # below: one thread (handing work out costs more)
ROW_BLOCKS = 8            # a large product is cut into at most 8 blocks of rows ...
MIN_BLOCK_ROWS = 32       # ... of at least 32 rows (BLAS is slow on thinner blocks)


def _product(a, b):
    """``a @ b`` for 2-D arrays, BLAS on one thread, large products in blocks of rows of a."""
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a.dtype, b.dtype))
    rows = a.shape[0]
    if rows * a.shape[1] * b.shape[1] < MIN_PARALLEL_MULTIPLY_ADDS:
        with single_threaded_blas():
            np.matmul(a, b, out=out)
        return out
    block = max(MIN_BLOCK_ROWS, -(-rows // ROW_BLOCKS))

    def multiply_blocks(lo, hi):                 # lo is a multiple of block: whole blocks
        for r0 in range(lo, hi, block):
            r1 = min(r0 + block, hi)
            np.matmul(a[r0:r1], b, out=out[r0:r1])

    parallel_over(multiply_blocks, rows, block=block)
    return out


def check_linear_arrays(x, w, b):
    """x (N, in), w (out, in) and b (out,): float arrays of one dtype."""
    check_input(x, 2, "linear", expected="(N, in_features)")
    check_input(w, 2, "linear (w)", x.shape[1], expected="(out_features, in_features)")
    if b is not None:
        check_input(b, 1, "linear (b)", w.shape[0], channel_axis=0, expected="(out_features,)")
    if w.dtype != x.dtype or (b is not None and b.dtype != x.dtype):
        raise TypeError(f"linear: x, w and b must have one dtype, got x {x.dtype}, "
                        f"w {w.dtype}, b {None if b is None else b.dtype}")


def linear_forward(x, w, b=None):
    """Returns ``(out, (x, w, has_bias))``; TypeError or ValueError for shapes that do
    not fit together or mixed dtypes. Shape: x (N, in_features), w (out_features,
    in_features), b (out_features,) or None -> out (N, out_features)."""
    check_linear_arrays(x, w, b)
    out = _product(x, w.T)
    if b is not None:
        out += b
    return out, (x, w, b is not None)


def linear_backward(dout, cache, need_dx=True, need_dw=True, *, layer="linear_backward"):
    """Returns ``(dx, dw, db)``; an unneeded gradient is None. ``dout`` (N, out_features)
    is checked against forward's output (ValueError naming ``layer``)."""
    x, w, has_bias = cache
    dout = check_grad(dout, (x.shape[0], w.shape[0]), x.dtype, layer)
    dx = _product(dout, w) if need_dx else None
    dw = _product(dout.T, x) if need_dw else None
    db = dout.sum(axis=0) if (need_dw and has_bias) else None
    return dx, dw, db
