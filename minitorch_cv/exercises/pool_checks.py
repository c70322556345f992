"""The checks of the pooling exercises: maxpool2d and avgpool2d.

As for conv2d, the cases are a base case and variants that change one setting each (the
default stride, stride 1 and kernel 3 -- overlapping windows, stride different from the
kernel size --, padding 1, a non-square input, float32, batch 1, tied maxima), plus one case
that changes several. The known mistakes' answers are written out here with plain loops
over the windows.
"""

import numpy as np

from .. import functional as F
from . import settings as S
from .checking import backward_case, forward_case, gradcheck_case
from .conv_checks import EMPTY_CROP, NOT_ACCUMULATED, NOT_CROPPED
from .diagnosis import Mistake, window_coverage

__all__ = ["build_maxpool2d", "build_avgpool2d", "pool_cases"]

NAMES = ["x", "kernel_size", "stride", "padding"]


def _size(h, k, s, p):
    return (h + 2 * p - k) // s + 1


def pool_cases(rng, kind):
    """``(settings, x, kernel, stride or None, padding)`` of a pooling exercise; the first
    is the base case."""
    base = {S.KERNEL_SIZE: 2, S.STRIDE: 2, S.PADDING: 0, S.INPUT: "square", S.BATCH: 2,
            S.DTYPE: "float64", S.TIES: False}
    shape = (2, 3, 6, 6)

    def normal(shape, dtype=np.float64):
        return rng.standard_normal(shape).astype(dtype)

    rows = [({}, normal(shape), 2, 2, 0),
            ({S.STRIDE: None}, normal(shape), 2, None, 0),
            ({S.STRIDE: 1}, normal(shape), 2, 1, 0),
            ({S.KERNEL_SIZE: 3}, normal(shape), 3, 2, 0),
            ({S.PADDING: 1}, normal(shape), 2, 2, 1),
            ({S.INPUT: "non-square"}, normal((2, 3, 6, 8)), 2, 2, 0),
            ({S.BATCH: 1}, normal((1, 3, 6, 6)), 2, 2, 0),
            ({S.DTYPE: "float32"}, normal(shape, np.float32), 2, 2, 0),
            ({S.KERNEL_SIZE: 3, S.PADDING: 1, S.INPUT: "non-square"}, normal((2, 2, 7, 5)),
             3, 2, 1)]
    if kind == "maxpool":
        rows.append(({S.TIES: True}, np.floor(rng.uniform(0, 3, shape)), 2, 2, 0))
    return [(dict(base, **change), *rest) for change, *rest in rows]


def _padded(x, p, fill):
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * p, w + 2 * p), fill, dtype=np.float64)
    xp[:, :, p:p + h, p:p + w] = x
    return xp


def _windows(x, k, s, p, fill):
    """Every window of x as (N, C, H_out, W_out, k*k), the padding filled with ``fill``."""
    n, c, h, w = x.shape
    xp = _padded(x, p, fill)
    oh, ow = _size(h, k, s, p), _size(w, k, s, p)
    out = np.empty((n, c, oh, ow, k * k))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = xp[:, :, i * s:i * s + k, j * s:j * s + k].reshape(n, c, -1)
    return out


def _scatter(x_shape, dout, k, s, p, weights, assign=False, where_max_only=False):
    """dx_pad cropped, each window (i, j) sending ``weights[:, :, i, j] * dout[:, :, i, j]``
    to its k*k positions: added (right), or ASSIGNED (the last window wins where windows
    overlap), the whole window or only its nonzero weights."""
    n, c, h, w = x_shape
    dxp = np.zeros((n, c, h + 2 * p, w + 2 * p))
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            part = (weights[:, :, i, j] * dout[:, :, i, j, None]).reshape(n, c, k, k)
            block = dxp[:, :, i * s:i * s + k, j * s:j * s + k]
            if not assign:
                block += part
            elif where_max_only:
                chosen = weights[:, :, i, j].reshape(n, c, k, k) > 0
                block[chosen] = part[chosen]
            else:
                block[...] = part
    return dxp[:, :, p:p + h, p:p + w]


def _first_max(win):
    return (np.arange(win.shape[-1]) == np.argmax(win, axis=-1)[..., None]).astype(float)


def _every_max(win):
    return (win == win.max(axis=-1, keepdims=True)).astype(float)


def _last_max(win):
    last = win.shape[-1] - 1 - np.argmax(win[..., ::-1], axis=-1)
    return (np.arange(win.shape[-1]) == last[..., None]).astype(float)


def _shape_mistakes(x, k, s, p, kind):
    n, c, h, w = x.shape
    stride = k if s is None else s
    mistakes = [Mistake(f"{kind}2d.padding_ignored", "padding ignored",
                        shape=(n, c, _size(h, k, stride, 0), _size(w, k, stride, 0)))]
    if s is None:
        mistakes.append(Mistake(f"{kind}2d.default_stride", (
            "stride=None must mean stride = kernel_size (PyTorch's default)"),
            shape=(n, c, _size(h, k, 1, p), _size(w, k, 1, p))))
    else:
        mistakes.append(Mistake(f"{kind}2d.stride_ignored", "stride ignored",
                                shape=(n, c, _size(h, k, 1, p), _size(w, k, 1, p))))
    mistakes.append(Mistake(f"{kind}2d.square_input", (
        "the width is taken from the height: H = x.shape[2], W = x.shape[3]"),
        shape=(n, c, _size(h, k, stride, p), _size(h, k, stride, p))))
    return mistakes


def _dx_shape_mistakes(x, p, kind):
    n, c, h, w = x.shape
    return [Mistake(f"{kind}2d.dx_not_cropped", NOT_CROPPED, shape=(n, c, h + 2 * p, w + 2 * p)),
            Mistake(f"{kind}2d.dx_empty_crop", EMPTY_CROP, shape=(n, c, 0, 0) if p == 0 else None)]


def _max_mistakes(x, k, s, p, dout):
    win = _windows(x, k, s, p, -np.inf)
    forward = []
    if p:
        forward.append(Mistake("maxpool2d.zero_padding", (
            "the padding is filled with 0; max pooling pads with -inf (a padded entry is "
            "never the maximum)"), _windows(x, k, s, p, 0.0).max(axis=-1)))
    first = _first_max(win)
    backward = [
        Mistake("maxpool2d.every_max", (
            "the gradient goes to EVERY maximum of a window; it must go to the first maximum "
            "only (row-major order, like PyTorch and np.argmax)"),
            _scatter(x.shape, dout, k, s, p, _every_max(win))),
        Mistake("maxpool2d.last_max", (
            "the gradient goes to the LAST maximum of a window; PyTorch sends it to the first "
            "(np.argmax returns the first)"), _scatter(x.shape, dout, k, s, p, _last_max(win))),
        Mistake("maxpool2d.dx_not_accumulated", NOT_ACCUMULATED,
                _scatter(x.shape, dout, k, s, p, first, assign=True)),
        Mistake("maxpool2d.dx_not_accumulated", NOT_ACCUMULATED,
                _scatter(x.shape, dout, k, s, p, first, assign=True, where_max_only=True))]
    if p:
        zero_win = _windows(x, k, s, p, 0.0)
        backward.append(Mistake("maxpool2d.zero_padding", (
            "the padding is filled with 0 in backward; pad with -inf, as in forward, so that "
            "a padded entry is never the maximum"),
            _scatter(x.shape, dout, k, s, p, _first_max(zero_win))))
    return forward, backward


def _avg_mistakes(x, k, s, p, dout, dx):
    forward = []
    if p:
        forward.append(Mistake("avgpool2d.count_exclude_pad", (
            "the padded zeros are left out of the mean (count_include_pad=False); PyTorch's "
            "default divides by kernel_size**2"),
            np.nanmean(_windows(x, k, s, p, np.nan), axis=-1)))
    ones = np.ones(_windows(x, k, s, p, 0.0).shape) / (k * k)
    backward = [
        Mistake("avgpool2d.dx_not_divided", ("dx is not divided by the window size: each "
                                             "input of a window gets dout / kernel_size**2"),
                dx * k * k),
        Mistake("avgpool2d.dx_not_accumulated", NOT_ACCUMULATED,
                _scatter(x.shape, dout, k, s, p, ones, assign=True))]
    return forward, backward


def _build_pool(plan, rng, kind):
    fwd, bwd = f"{kind}2d_forward", f"{kind}2d_backward"
    forward, backward = getattr(F, fwd), getattr(F, bwd)
    for settings, x, k, s, p in pool_cases(rng, kind):
        args = (x, k) if s is None else (x, k, s, p)
        stride = k if s is None else s
        label = (f"x {x.shape}, kernel {k}, " + ("stride not given (defaults to kernel_size)"
                                                  if s is None else f"stride {s}, padding {p}")
                 + (", tied maxima" if settings[S.TIES] else "")
                 + (", float32" if x.dtype == np.float32 else ""))
        out, cache = forward(x, k, s, p)
        dout = rng.standard_normal(out.shape).astype(x.dtype)
        dx = backward(dout, cache)
        if kind == "maxpool":
            out_mistakes, dx_mistakes = _max_mistakes(x, k, stride, p, dout)
        else:
            out_mistakes, dx_mistakes = _avg_mistakes(x, k, stride, p, dout, dx)
        forward_case(plan, fwd, label, args, [out], settings=settings, arg_names=NAMES,
                     mistakes={"out": out_mistakes + _shape_mistakes(x, k, s, p, kind)},
                     border=max(p, 1))
        backward_case(plan, fwd, bwd, label, args, dout, [dx], names=("dx",),
                      settings=settings, arg_names=NAMES, border=max(p, 1),
                      coverage=window_coverage(x.shape[2:], k, stride, p),
                      mistakes={"dx": dx_mistakes + _dx_shape_mistakes(x, p, kind)})
    x = rng.permutation(40).reshape(2, 1, 5, 4) * 0.1          # distinct: no ties to nudge
    dout = rng.standard_normal((2, 1, 3, 2))
    gradcheck_case(plan, fwd, bwd, "x (2, 1, 5, 4), kernel 3, stride 2, padding 1",
                   (x, 3, 2, 1), (0,), dout, names=("dx",), arg_names=NAMES)


def build_maxpool2d(plan, rng):
    _build_pool(plan, rng, "maxpool")


def build_avgpool2d(plan, rng):
    _build_pool(plan, rng, "avgpool")
