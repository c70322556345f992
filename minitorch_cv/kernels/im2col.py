"""im2col and col2im: turning a convolution into one matrix product.

For a batch ``x`` of shape (N, C, H, W) and a K_h x K_w window, im2col writes every window
position of every image as one column::

    cols[(c * K_h + i) * K_w + j, (n * H_out + oh) * W_out + ow] = x_pad[n, c, oh*s + i, ow*s + j]

where ``x_pad`` is ``x`` with ``padding`` zeros on every side and ``s`` the stride. The
whole batch's convolution is then ONE matrix product,
``W.reshape(C_out, C * K_h * K_w) @ cols`` of shape (C_out, N * H_out * W_out): one large
product keeps BLAS far busier than N small ones.

col2im is its adjoint (the transpose of that linear map): every column entry is *added*
back to the pixel it was copied from. A pixel that lies in several windows receives the
sum of their gradients; pixels in the padding are dropped.

Versions of each, which the tests check agree exactly:

* ``im2col_loops`` / ``col2im_loops`` -- plain Python loops on the unpadded batch, each
  window position checked against the image: the definition above, written out;
* ``im2col_reference`` / ``col2im_reference`` -- vectorized NumPy, one loop over the
  K_h * K_w kernel offsets (a second, independent formulation);
* ``im2col_padded_loops`` / ``col2im_padded_loops`` and their ``*_compiled`` twins -- the
  same maps for a batch that is already padded, so without bounds checks: the innermost
  loop moves a contiguous run of W_out numbers, which the compiler vectorizes. This is
  what runs, in Conv2d and in :func:`im2col` / :func:`col2im` (one slice of the batch per
  thread, see :mod:`~minitorch_cv.kernels.parallel`). Faster than copying element by
  element, than NumPy's copy of a strided window view and than the bounds-checked loops
  (docs/results.md has the measurements), because the row copy is vectorized and no
  index is checked inside it. Compiled code also releases the GIL, which a NumPy copy of
  short rows does not: two threads copying at once do not queue.

Shapes: x (N, C, H, W) <-> cols (C * K_h * K_w, N * H_out * W_out), with
``H_out = (H + 2 * padding - K_h) // stride + 1`` (same for W).
"""

import numpy as np

from ._jit import compile_kernel
from .parallel import parallel_over

__all__ = ["im2col", "col2im", "im2col_loops", "col2im_loops",
           "im2col_reference", "col2im_reference",
           "im2col_padded_loops", "col2im_padded_loops", "im2col_padded_compiled",
           "col2im_padded_compiled", "pad_loops", "pad_compiled", "output_size"]


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Number of window positions along one axis: ``(size + 2p - k) // s + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


# ----------------------------------------------------------------------------- loops
def valid_range(size, kernel_offset, stride, padding, out_size):
    """Output positions ``o`` whose input ``o * stride + kernel_offset - padding`` lies in
    ``[0, size)``: returns (first, stop). Outside it the window reads padding zeros."""
    first = max(0, -((kernel_offset - padding) // stride))        # ceil((p - k) / s)
    stop = min(out_size, (size - 1 + padding - kernel_offset) // stride + 1)
    return first, max(first, stop)


def im2col_loops(x, cols, kh, kw, stride_h, stride_w, pad_h, pad_w):
    """Fill ``cols`` (C*kh*kw, N*H_out*W_out) with the windows of ``x`` (N, C, H, W)."""
    n_images, channels, height, width = x.shape
    out_h = (height + 2 * pad_h - kh) // stride_h + 1
    out_w = (width + 2 * pad_w - kw) // stride_w + 1
    for n in range(n_images):
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    # columns ow in [w0, w1) read inside the image; the rest read padding
                    w0, w1 = valid_range(width, j, stride_w, pad_w, out_w)
                    for oh in range(out_h):
                        ih = oh * stride_h + i - pad_h
                        col = (n * out_h + oh) * out_w
                        if ih < 0 or ih >= height:
                            for ow in range(out_w):
                                cols[row, col + ow] = 0.0
                            continue
                        for ow in range(w0):
                            cols[row, col + ow] = 0.0
                        for ow in range(w0, w1):
                            cols[row, col + ow] = x[n, c, ih, ow * stride_w + j - pad_w]
                        for ow in range(w1, out_w):
                            cols[row, col + ow] = 0.0
    return cols


def col2im_loops(cols, dx, kh, kw, stride_h, stride_w, pad_h, pad_w):
    """Add every entry of ``cols`` back into ``dx`` (N, C, H, W), which must start at zero.

    Entries that came from the padding have nowhere to go and are dropped.
    """
    n_images, channels, height, width = dx.shape
    out_h = (height + 2 * pad_h - kh) // stride_h + 1
    out_w = (width + 2 * pad_w - kw) // stride_w + 1
    for n in range(n_images):
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    w0, w1 = valid_range(width, j, stride_w, pad_w, out_w)
                    for oh in range(out_h):
                        ih = oh * stride_h + i - pad_h
                        if ih < 0 or ih >= height:
                            continue
                        col = (n * out_h + oh) * out_w
                        for ow in range(w0, w1):
                            dx[n, c, ih, ow * stride_w + j - pad_w] += cols[row, col + ow]
    return dx




# ----------------------------------------------------------------------------- NumPy
def im2col_reference(x, kh, kw, stride=(1, 1), padding=(0, 0)):
    """Vectorized NumPy im2col: one strided slice per kernel offset (i, j)."""
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, w = x.shape
    out_h, out_w = output_size(h, kh, sh, ph), output_size(w, kw, sw, pw)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((c, kh, kw, n, out_h, out_w), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            window = xp[:, :, i:i + sh * out_h:sh, j:j + sw * out_w:sw]   # (N, C, H_o, W_o)
            cols[:, i, j] = window.transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * out_h * out_w)


def col2im_reference(cols, x_shape, kh, kw, stride=(1, 1), padding=(0, 0)):
    """Vectorized NumPy col2im: the adjoint of :func:`im2col_reference`."""
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, w = x_shape
    out_h, out_w = output_size(h, kh, sh, ph), output_size(w, kw, sw, pw)
    cols = cols.reshape(c, kh, kw, n, out_h, out_w)
    dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + sh * out_h:sh, j:j + sw * out_w:sw] += \
                cols[:, i, j].transpose(1, 0, 2, 3)
    return dxp[:, :, ph:ph + h, pw:pw + w]


# ----------------------------------------------------------------------------- padded batch
def check_padded_geometry(channels, height_p, width_p, kh, kw, stride_h, stride_w):
    """The checks that keep the padded kernels inside their arrays, once per call (never in
    the loops): a window of at least 1x1 that fits the padded image, strides of at least 1.
    The caller then checks that ``cols`` has the shape these give."""
    if kh < 1 or kw < 1 or stride_h < 1 or stride_w < 1:
        raise ValueError("im2col/col2im: kernel sizes and strides must be >= 1")
    if height_p < kh or width_p < kw:
        raise ValueError("im2col/col2im: the window is larger than the padded image")


def im2col_padded_loops(x_pad, cols, kh, kw, stride_h, stride_w):
    """im2col of a batch that is already padded: fill ``cols`` (C*kh*kw, N*H_out*W_out)
    from ``x_pad`` (N, C, H_p, W_p).

    The same numbers as :func:`im2col_loops` on the unpadded batch, without its bounds
    checks: every window lies inside ``x_pad``. Each (row, image, output row) copies one
    run of W_out numbers; with stride 1 that run is contiguous in both arrays, and the
    compiler turns the innermost loop into vector instructions. This is what Conv2d runs.
    """
    n_images, channels, height_p, width_p = x_pad.shape
    check_padded_geometry(channels, height_p, width_p, kh, kw, stride_h, stride_w)
    out_h = (height_p - kh) // stride_h + 1
    out_w = (width_p - kw) // stride_w + 1
    if cols.shape[0] != channels * kh * kw or cols.shape[1] != n_images * out_h * out_w:
        raise ValueError("im2col: cols must have shape (C*K_h*K_w, N*H_out*W_out)")
    for c in range(channels):
        for i in range(kh):
            for j in range(kw):
                row = (c * kh + i) * kw + j
                for n in range(n_images):
                    for oh in range(out_h):
                        col = (n * out_h + oh) * out_w
                        source = x_pad[n, c, oh * stride_h + i]          # one input row
                        target = cols[row, col:col + out_w]
                        if stride_w == 1:
                            source = source[j:j + out_w]
                            for ow in range(out_w):
                                target[ow] = source[ow]
                        else:
                            for ow in range(out_w):
                                target[ow] = source[ow * stride_w + j]
    return cols


def col2im_padded_loops(cols, dx_pad, kh, kw, stride_h, stride_w):
    """Adjoint of :func:`im2col_padded_loops`: add every entry of ``cols`` back into the
    padded gradient ``dx_pad`` (N, C, H_p, W_p), which must start at zero.

    Crop the padding off afterwards (``dx_pad[:, :, p_h:p_h + H, p_w:p_w + W]``) to get
    what :func:`col2im_loops` gives. Each pixel receives its windows' gradients in the same
    order as there, so the sums are bit-identical.
    """
    n_images, channels, height_p, width_p = dx_pad.shape
    check_padded_geometry(channels, height_p, width_p, kh, kw, stride_h, stride_w)
    out_h = (height_p - kh) // stride_h + 1
    out_w = (width_p - kw) // stride_w + 1
    if cols.shape[0] != channels * kh * kw or cols.shape[1] != n_images * out_h * out_w:
        raise ValueError("col2im: cols must have shape (C*K_h*K_w, N*H_out*W_out)")
    for n in range(n_images):
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    for oh in range(out_h):
                        col = (n * out_h + oh) * out_w
                        source = cols[row, col:col + out_w]
                        target = dx_pad[n, c, oh * stride_h + i]         # one input row
                        if stride_w == 1:
                            target = target[j:j + out_w]
                            for ow in range(out_w):
                                target[ow] += source[ow]
                        else:
                            for ow in range(out_w):
                                target[ow * stride_w + j] += source[ow]
    return dx_pad


def pad_loops(x, x_pad, pad_h, pad_w):
    """Copy ``x`` (N, C, H, W) into the middle of ``x_pad`` (N, C, H + 2p_h, W + 2p_w),
    whose border must already be zero. Row by row: each row is one contiguous run."""
    n_images, channels, height, width = x.shape
    if pad_h < 0 or pad_w < 0 or x_pad.shape[0] != n_images or x_pad.shape[1] != channels \
            or x_pad.shape[2] != height + 2 * pad_h or x_pad.shape[3] != width + 2 * pad_w:
        raise ValueError("pad: x_pad must have shape (N, C, H + 2*pad_h, W + 2*pad_w)")
    for n in range(n_images):
        for c in range(channels):
            for ih in range(height):
                source = x[n, c, ih]
                target = x_pad[n, c, ih + pad_h, pad_w:pad_w + width]
                for iw in range(width):
                    target[iw] = source[iw]
    return x_pad


check_padded_geometry = compile_kernel(check_padded_geometry)     # called by the kernels
im2col_padded_compiled = compile_kernel(im2col_padded_loops)
pad_compiled = compile_kernel(pad_loops)
col2im_padded_compiled = compile_kernel(col2im_padded_loops)


# ----------------------------------------------------------------------------- entry points
def _padded(x, pad_h, pad_w):
    """``x`` (N, C, H, W) with zeros around it, by :func:`pad_compiled` (``x`` itself when
    there is no padding)."""
    if pad_h == 0 and pad_w == 0:
        return x
    n, c, h, w = x.shape
    return pad_compiled(x, np.zeros((n, c, h + 2 * pad_h, w + 2 * pad_w), dtype=x.dtype),
                        pad_h, pad_w)


def _checked_geometry(x, kernel_size, stride, padding, name):
    """The checks of the functional layers, for the public entry points here."""
    from ..checks import check_input, check_kernel_dtype, check_window, pair

    check_input(x, 4, name, expected="(N, C, H, W)")
    check_kernel_dtype(x, name)
    kernel = pair(kernel_size, "kernel_size", name, minimum=1)
    stride = pair(stride, "stride", name, minimum=1)
    padding = pair(padding, "padding", name, minimum=0)
    check_window(x.shape[2:], kernel, stride, padding, name)
    return kernel, stride, padding


def im2col(x, kernel_size, stride=(1, 1), padding=(0, 0), out=None):
    """Windows of ``x`` as columns, computed by the compiled kernel Conv2d runs.

    Parameters
    ----------
    x : ndarray (N, C, H, W)
    kernel_size, stride, padding : (int, int)
    out : ndarray (C*K_h*K_w, N*H_out*W_out), optional
        A buffer to write into (reused across steps to avoid allocation).

    Returns
    -------
    cols : ndarray (C * K_h * K_w, N * H_out * W_out), dtype of ``x``

    Raises
    ------
    TypeError, ValueError
        ``x`` not a float32/float64 (N, C, H, W) array, sizes or strides below 1, negative
        padding, or a window larger than the padded image.
    """
    (kh, kw), (sh, sw), (ph, pw) = _checked_geometry(x, kernel_size, stride, padding, "im2col")
    n, c, h, w = x.shape
    shape = (c * kh * kw, n * output_size(h, kh, sh, ph) * output_size(w, kw, sw, pw))
    if out is None or out.shape != shape or out.dtype != x.dtype:
        out = np.empty(shape, dtype=x.dtype)
    x = np.ascontiguousarray(x)
    # each thread fills the columns of its own images: cols[:, lo*H_out*W_out:hi*H_out*W_out]
    per_image = shape[1] // n if n else 0

    def fill(lo, hi):
        im2col_padded_compiled(_padded(x[lo:hi], ph, pw),
                               out[:, lo * per_image:hi * per_image], kh, kw, sh, sw)

    parallel_over(fill, n)
    return out


def col2im(cols, x_shape, kernel_size, stride=(1, 1), padding=(0, 0)):
    """Adjoint of :func:`im2col`: sum the columns back into an (N, C, H, W) array.

    ``cols`` must have the shape :func:`im2col` gives for ``x_shape`` (ValueError otherwise).
    """
    try:
        x_shape = tuple(int(v) for v in x_shape)
    except (TypeError, ValueError):
        raise TypeError(f"col2im: x_shape must be a tuple of 4 ints, got {x_shape!r}") from None
    if len(x_shape) != 4 or min(x_shape) < 0:
        raise ValueError(f"col2im: x_shape must be (N, C, H, W), got {x_shape}")
    like = np.empty((0,) + x_shape[1:], dtype=getattr(cols, "dtype", np.float64))
    geometry = _checked_geometry(like, kernel_size, stride, padding, "col2im")
    (kh, kw), (sh, sw), (ph, pw) = geometry
    n, c, h, w = x_shape
    expected = (c * kh * kw, n * output_size(h, kh, sh, ph) * output_size(w, kw, sw, pw))
    if not isinstance(cols, np.ndarray) or cols.shape != expected:
        raise ValueError(f"col2im: expected cols of shape {expected} for x_shape {x_shape}, "
                         f"got {getattr(cols, 'shape', type(cols).__name__)}")
    dx = np.empty(x_shape, dtype=cols.dtype)
    cols = np.ascontiguousarray(cols)
    per_image = cols.shape[1] // n if n else 0

    def add_back(lo, hi):
        dx_pad = np.zeros((hi - lo, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
        col2im_padded_compiled(cols[:, lo * per_image:hi * per_image], dx_pad, kh, kw, sh, sw)
        dx[lo:hi] = dx_pad[:, :, ph:ph + h, pw:pw + w]               # crop the padding

    parallel_over(add_back, n)
    return dx
