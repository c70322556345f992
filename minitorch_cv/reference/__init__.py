"""The textbook versions of the layers: what a lesson reads first.

Plain NumPy, no numba, no threads, each function short enough for a slide, with exactly
the names, signatures and caches of :mod:`minitorch_cv.functional` (the fast path the
``nn`` layers run). The tests hold the two equal in float64.

    >>> from minitorch_cv import reference
    >>> out, cache = reference.conv2d_forward(x, w, b, stride=1, padding=2)  # doctest: +SKIP
    >>> with reference.use():             # every nn layer on these functions  # doctest: +SKIP
    ...     logits = model(x)

Slow on purpose: :func:`conv2d_forward_loops` is the definition as nested loops (tiny
inputs only); :func:`conv2d_forward` is im2col with ONE matrix product for the batch.
"""

from .conv import (
    col2im,
    conv2d_backward,
    conv2d_backward_loops,
    conv2d_forward,
    conv2d_forward_loops,
    im2col,
)

__all__ = ["conv2d_forward_loops", "conv2d_backward_loops", "conv2d_forward",
           "conv2d_backward", "im2col", "col2im"]
