"""The checks of maxpool2d and avgpool2d, built like conv2d's (stride 1 and kernel 3 make
windows overlap). The known mistakes' answers come from the library on a changed input, or
from :func:`_scatter`, which sends each window's gradient where the mistake sends it."""

import numpy as np

from .. import functional as F
from ..theory import conv_output_size
from . import settings as S
from .checking import backward_case, float32_suffix, forward_case, gradcheck_case
from .conv_checks import NOT_ACCUMULATED, SQUARE_INPUT, dx_shape_mistakes
from .diagnosis import Mistake, window_coverage

__all__ = ["build_maxpool2d", "build_avgpool2d", "pool_cases"]

def pool_cases(rng, kind):
    """``(settings, x, kernel, stride or None, padding)`` of each case, the base case first."""
    base = {S.KERNEL_SIZE: 2, S.STRIDE: 2, S.PADDING: 0, S.INPUT: "square", S.BATCH: 2,
            S.DTYPE: "float64", S.TIES: False}
    square = (2, 3, 6, 6)
    rows = [({}, square, 2, 2, 0), ({S.STRIDE: None}, square, 2, None, 0),
            ({S.STRIDE: 1}, square, 2, 1, 0), ({S.KERNEL_SIZE: 3}, square, 3, 2, 0),
            ({S.PADDING: 1}, square, 2, 2, 1), ({S.INPUT: "non-square"}, (2, 3, 6, 8), 2, 2, 0),
            ({S.BATCH: 1}, (1, 3, 6, 6), 2, 2, 0), ({S.DTYPE: "float32"}, square, 2, 2, 0),
            ({S.KERNEL_SIZE: 3, S.PADDING: 1, S.INPUT: "non-square"}, (2, 2, 7, 5), 3, 2, 1)]
    found = [(dict(base, **change),
              rng.standard_normal(shape).astype(dict(base, **change)[S.DTYPE]), *rest)
             for change, shape, *rest in rows]
    if kind == "maxpool":
        found.append((dict(base, **{S.TIES: True}), np.floor(rng.uniform(0, 3, square)),
                      2, 2, 0))
    return found


def _padded(x, p, fill):
    return np.pad(x.astype(np.float64), ((0, 0), (0, 0), (p, p), (p, p)),
                  constant_values=fill)


def _max_at(window, which):
    """1 at the "first", "last" or "every" maximum (row-major) of each window, else 0."""
    flat = window.reshape(window.shape[0], window.shape[1], -1)
    if which == "every":
        chosen = flat == flat.max(axis=-1, keepdims=True)
    else:
        at = (flat.argmax(axis=-1) if which == "first"
              else flat.shape[-1] - 1 - flat[..., ::-1].argmax(axis=-1))
        chosen = np.arange(flat.shape[-1]) == at[..., None]
    return chosen.reshape(window.shape).astype(float)


def _scatter(x, dout, k, s, p, fill, weigh, mode="add"):
    """dx when each window (padding ``fill``) sends ``weigh(window) * dout[:, :, i, j]`` to its
    entries: added, or ASSIGNED ("assign", or "assign chosen": where the weight is not 0)."""
    xp = _padded(x, p, fill)
    dxp = np.zeros(xp.shape)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * s, i * s + k), slice(j * s, j * s + k)
            weights = weigh(xp[:, :, rows, cols])
            part, block = weights * dout[:, :, i:i + 1, j:j + 1], dxp[:, :, rows, cols]
            if mode == "add":
                block += part
            elif mode == "assign":
                block[...] = part
            else:
                block[weights > 0] = part[weights > 0]
    return dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]]


def _shape_mistakes(x, k, s, p, kind):
    """The mistakes that give ``out`` a wrong shape (``s`` None: the default stride)."""
    (n, c, h, w), stride = x.shape, k if s is None else s
    step_1 = (n, c) + conv_output_size((h, w), k, 1, p)
    return [Mistake(f"{kind}2d.padding_ignored", "padding ignored",
                    shape=(n, c) + conv_output_size((h, w), k, stride, 0)),
            Mistake(f"{kind}2d.default_stride", ("stride=None must mean stride = kernel_size "
                                                 "(PyTorch's default)"), shape=step_1)
            if s is None else Mistake(f"{kind}2d.stride_ignored", "stride ignored",
                                      shape=step_1),
            Mistake(f"{kind}2d.square_input", SQUARE_INPUT,
                    shape=(n, c) + conv_output_size((h, h), k, stride, p))]


def _max_mistakes(x, k, s, p, dout):
    def sent(which, fill=-np.inf, mode="add"):
        return _scatter(x, dout, k, s, p, fill, lambda window: _max_at(window, which), mode)

    forward = [Mistake("maxpool2d.zero_padding", (
        "the padding is filled with 0; max pooling pads with -inf (a padded entry is never "
        "the maximum)"), F.maxpool2d_forward(_padded(x, p, 0.0), k, s)[0])] if p else []
    backward = [
        Mistake("maxpool2d.every_max", (
            "the gradient goes to EVERY maximum of a window; it must go to the first maximum "
            "only (row-major order, like PyTorch and np.argmax)"), sent("every")),
        Mistake("maxpool2d.last_max", (
            "the gradient goes to the LAST maximum of a window; PyTorch sends it to the first "
            "(np.argmax returns the first)"), sent("last")),
        Mistake("maxpool2d.dx_not_accumulated", NOT_ACCUMULATED, sent("first", mode="assign")),
        Mistake("maxpool2d.dx_not_accumulated", NOT_ACCUMULATED,
                sent("first", mode="assign chosen"))]
    if p:
        backward.append(Mistake("maxpool2d.zero_padding", (
            "the padding is filled with 0 in backward; pad with -inf, as in forward, so that "
            "a padded entry is never the maximum"), sent("first", 0.0)))
    return forward, backward


def _avg_mistakes(x, k, s, p, dout, dx):
    mean_of_real = (F.avgpool2d_forward(x, k, s, p)[0]
                    / F.avgpool2d_forward(np.ones_like(x), k, s, p)[0])
    forward = [Mistake("avgpool2d.count_exclude_pad", (
        "the padded zeros are left out of the mean (count_include_pad=False); PyTorch's "
        "default divides by kernel_size**2"), mean_of_real)] if p else []
    backward = [
        Mistake("avgpool2d.dx_not_divided", ("dx is not divided by the window size: each "
                                             "input of a window gets dout / kernel_size**2"),
                dx * k * k),
        Mistake("avgpool2d.dx_not_accumulated", NOT_ACCUMULATED, _scatter(
            x, dout, k, s, p, 0.0, lambda window: np.ones(window.shape) / (k * k), "assign"))]
    return forward, backward


def _build_pool(plan, rng, kind):
    fwd, bwd = f"{kind}2d_forward", f"{kind}2d_backward"
    for settings, x, k, s, p in pool_cases(rng, kind):
        args, stride = ((x, k), k) if s is None else ((x, k, s, p), s)
        label = (f"x {x.shape}, kernel {k}, " + ("stride not given (defaults to kernel_size)"
                                                  if s is None else f"stride {s}, padding {p}")
                 + (", tied maxima" if settings[S.TIES] else "") + float32_suffix(x.dtype))
        out, cache = getattr(F, fwd)(x, k, s, p)
        dout = rng.standard_normal(out.shape).astype(x.dtype)
        dx = getattr(F, bwd)(dout, cache)
        out_mistakes, dx_mistakes = (_max_mistakes(x, k, stride, p, dout) if kind == "maxpool"
                                     else _avg_mistakes(x, k, stride, p, dout, dx))
        forward_case(plan, fwd, label, args, [out], settings=settings,
                     mistakes={"out": out_mistakes + _shape_mistakes(x, k, s, p, kind)},
                     border=max(p, 1))
        backward_case(plan, fwd, bwd, label, args, dout, [dx], names=("dx",),
                      settings=settings, border=max(p, 1),
                      coverage=window_coverage(x.shape[2:], k, stride, p),
                      mistakes={"dx": dx_mistakes + dx_shape_mistakes(f"{kind}2d", x.shape, p)})
    x = rng.permutation(40).reshape(2, 1, 5, 4) * 0.1          # distinct: no ties to nudge
    gradcheck_case(plan, fwd, bwd, "x (2, 1, 5, 4), kernel 3, stride 2, padding 1",
                   (x, 3, 2, 1), (0,), rng.standard_normal((2, 1, 3, 2)), names=("dx",))


def build_maxpool2d(plan, rng):
    _build_pool(plan, rng, "maxpool")


def build_avgpool2d(plan, rng):
    _build_pool(plan, rng, "avgpool")
