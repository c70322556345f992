"""The checks of conv2d: a base case, variants that each change ONE setting and one that
changes several. The known mistakes' answers come from :mod:`minitorch_cv.functional` on
changed inputs (a flipped kernel) or from the wrong computation written out."""

import numpy as np

from .. import functional as F
from ..theory import conv_output_size
from . import settings as S
from .checking import backward_case, cases, float32_suffix, forward_case, gradcheck_case, normal
from .diagnosis import Mistake, window_coverage

__all__ = ["build_conv2d", "conv_cases"]

FLIPPED = ("the kernel is flipped: that is true convolution; deep learning's convolution is "
           "cross-correlation, out[i, j] = sum of x[window at (i, j)] * w, with no flip")
MEAN_OVER_BATCH = ("{name} is the right one divided by the batch size: it is averaged over "
                   "the batch instead of summed (dout already carries the loss's 1/N)")
NOT_ACCUMULATED = ("dx keeps only one window's contribution where windows overlap: the "
                   "gradient is assigned instead of added. Add every window's contribution "
                   "(dx_pad[...] += ..., or np.add.at); `a[idx] += v` with repeated indices "
                   "adds only ONE of them")
EMPTY_CROP = ("dx is empty at padding 0: a crop like dx_pad[:, :, P:-P, P:-P] is empty when "
              "P = 0 (-0 is 0); crop with dx_pad[:, :, P:P + H, P:P + W]")
NOT_CROPPED = "the padding is not cropped off dx: dx = dx_pad[:, :, P:P + H, P:P + W]"
SQUARE_INPUT = "the width is taken from the height: H = x.shape[2], W = x.shape[3]"


def mean_over_batch(layer, name, grad, n):
    """The mistake of gradient ``name`` averaged over a batch of ``n`` instead of summed."""
    return Mistake(f"{layer}.{name}_mean", MEAN_OVER_BATCH.format(name=name),
                   None if grad is None or n == 1 else grad / n)


def dx_shape_mistakes(layer, x_shape, padding):
    """The mistakes that give ``dx`` a wrong shape: padding not cropped, or cropped with -P."""
    n, c, h, w = x_shape
    return [Mistake(f"{layer}.dx_not_cropped", NOT_CROPPED,
                    shape=(n, c, h + 2 * padding, w + 2 * padding)),
            Mistake(f"{layer}.dx_empty_crop", EMPTY_CROP,
                    shape=(n, c, 0, 0) if padding == 0 else None)]


def _conv(x, w, b, s, p):
    return F.conv2d_forward(x, w, b, s, p)[0]


def conv_cases():
    """``(settings, (N, C, H, W), (F, K_h, K_w), stride, padding, bias, dtype)`` of each
    conv2d case, the base case first."""
    base = {S.INPUT: "square", S.KERNEL: "square", S.STRIDE: 1, S.PADDING: 1, S.BATCH: 2,
            S.BIAS: True, S.DTYPE: "float64"}
    rows = [(settings, (settings[S.BATCH], 3, 7, 7 if settings[S.INPUT] == "square" else 5),
             (4, 3, 3 if settings[S.KERNEL] == "square" else 2), settings[S.STRIDE],
             settings[S.PADDING], settings[S.BIAS], getattr(np, settings[S.DTYPE]))
            for settings in cases(base, {S.PADDING: 0}, {S.PADDING: 2}, {S.STRIDE: 2},
                                  {S.INPUT: "non-square"}, {S.KERNEL: "non-square"},
                                  {S.BATCH: 1}, {S.BIAS: False}, {S.DTYPE: "float32"})]
    several = {S.PADDING: 0, S.STRIDE: 2, S.INPUT: "non-square", S.KERNEL: "non-square"}
    return rows + [(dict(base, **several), (2, 2, 8, 6), (3, 3, 2), 2, 0, True, np.float64)]


def _dx_assigned(x_shape, w, dout, s, p, order):
    """dx ASSIGNED instead of added: the last window (``order="window"``) or, as im2col's
    ``dx_pad[idx] += dcols`` with repeated indices, the last kernel offset wins."""
    n, c, h, wd = x_shape
    _, _, kh, kw = w.shape
    oh, ow = dout.shape[2:]
    dxp = np.zeros((n, c, h + 2 * p, wd + 2 * p))
    if order == "window":
        for i in range(oh):
            for j in range(ow):
                dxp[:, :, i * s:i * s + kh, j * s:j * s + kw] = np.tensordot(
                    dout[:, :, i, j], w, axes=([1], [0]))
    else:
        for u in range(kh):
            for v in range(kw):
                dxp[:, :, u:u + s * oh:s, v:v + s * ow:s] = np.einsum(
                    "nfij,fc->ncij", dout, w[:, :, u, v])
    return dxp[:, :, p:p + h, p:p + wd]


def _forward_mistakes(x, w, b, s, p, out):
    (n, _, h, wd), (f, _, kh, kw) = x.shape, w.shape
    out_s1 = _conv(x, w, b, 1, p)
    return [
        Mistake("conv2d.flipped_kernel", FLIPPED, _conv(x, w[..., ::-1, ::-1].copy(), b, s, p)),
        Mistake("conv2d.windows_step_1", (
            "the windows move by 1, not by the stride: window (i, j) starts at row i*stride, "
            "column j*stride"), out_s1[:, :, :out.shape[2], :out.shape[3]]),
        Mistake("conv2d.no_bias", "the bias is not added",
                _conv(x, w, None, s, p) if b is not None else None),
        Mistake("conv2d.stride_ignored", ("stride ignored: H_out = (H + 2*padding - K_h) // "
                                          "stride + 1"), shape=out_s1.shape),
        Mistake("conv2d.padding_ignored", ("padding ignored: pad x with `padding` zeros on "
                                           "every side first"),
                shape=(n, f) + conv_output_size((h, wd), (kh, kw), s, 0)),
        Mistake("conv2d.square_kernel", ("the kernel's width is taken from its height: "
                                         "K_h = w.shape[2], K_w = w.shape[3]"),
                shape=(n, f) + conv_output_size((h, wd), kh, s, p)),
        Mistake("conv2d.square_input", SQUARE_INPUT,
                shape=(n, f) + conv_output_size((h, h), (kh, kw), s, p)),
    ]


def _backward_mistakes(x, w, b, s, p, dout, grads):
    n = x.shape[0]
    _, dw, db = grads
    flipped_dx = F.conv2d_backward(dout, F.conv2d_forward(x, w[..., ::-1, ::-1].copy(), b, s,
                                                          p)[1])[0]
    return {
        "dx": [Mistake("conv2d.dx_not_accumulated", NOT_ACCUMULATED,
                       _dx_assigned(x.shape, w, dout, s, p, "window")),
               Mistake("conv2d.dx_not_accumulated", NOT_ACCUMULATED,
                       _dx_assigned(x.shape, w, dout, s, p, "offset")),
               Mistake("conv2d.dx_flipped", (
                   "dx uses the kernel the wrong way round: as a full convolution of dout, "
                   "dx needs the kernel rotated by 180 degrees (w[:, :, ::-1, ::-1]); as a "
                   "scatter, dx_pad[window at (i, j)] += w * dout[i, j] with w unflipped"),
                   flipped_dx)] + dx_shape_mistakes("conv2d", x.shape, p),
        "dw": [mean_over_batch("conv2d", "dw", dw, n),
               Mistake("conv2d.dw_flipped", ("dw is flipped: dw[f, c, u, v] = sum of dout * "
                                             "x[window shifted by (u, v)] (no flip)"),
                       dw[..., ::-1, ::-1])],
        "db": [mean_over_batch("conv2d", "db", db, n)],
    }


def build_conv2d(plan, rng):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    forward_case(plan, "conv2d_forward", "fixed 1x1x4x4 image, 2x2 kernel [[1, 2], [3, 4]]",
                 (x, w, np.zeros(1), 1, 0), [_conv(x, w, np.zeros(1), 1, 0)],
                 mistakes={"out": [Mistake("conv2d.flipped_kernel", FLIPPED, _conv(
                     x, w[..., ::-1, ::-1].copy(), np.zeros(1), 1, 0))]})
    for settings, (n, c, h, wd), (f, kh, kw), s, p, bias, dtype in conv_cases():
        x, w = normal(rng, (n, c, h, wd), dtype), normal(rng, (f, c, kh, kw), dtype)
        b = normal(rng, f, dtype) if bias else None
        out, cache = F.conv2d_forward(x, w, b, s, p)
        label = (f"x {x.shape}, w {w.shape}, stride {s}, padding {p}"
                 + ("" if bias else ", b=None") + float32_suffix(dtype))
        forward_case(plan, "conv2d_forward", label, (x, w, b, s, p), [out],
                     mistakes={"out": _forward_mistakes(x, w, b, s, p, out)},
                     border=max(p, 1), settings=settings)
        dout = normal(rng, out.shape, dtype)
        grads = F.conv2d_backward(dout, cache)
        backward_case(plan, "conv2d_forward", "conv2d_backward", label, (x, w, b, s, p), dout,
                      list(grads), names=("dx", "dw", "db"), settings=settings,
                      coverage=window_coverage((h, wd), (kh, kw), s, p),
                      border=max(p, 1), mistakes=_backward_mistakes(x, w, b, s, p, dout, grads))
    x, w, b = normal(rng, (2, 2, 5, 4)), normal(rng, (3, 2, 3, 2)), normal(rng, 3)
    gradcheck_case(plan, "conv2d_forward", "conv2d_backward",
                   "x (2, 2, 5, 4), w (3, 2, 3, 2), stride 2, padding 1", (x, w, b, 2, 1),
                   (0, 1, 2), normal(rng, (2, 3, 3, 3)), names=("dx", "dw", "db"))
