"""im2col and col2im: turning a convolution into one matrix product.

For a batch ``x`` (N, C, H, W) padded with zeros into ``x_pad`` and a K_h x K_w window of
stride ``s``, im2col writes every window of every image as one column::

    cols[(c * K_h + i) * K_w + j, (n * H_out + oh) * W_out + ow] = x_pad[n, c, oh*s + i, ow*s + j]

so the convolution is ONE matrix product ``W.reshape(C_out, C * K_h * K_w) @ cols``.
col2im is its adjoint: every column entry is *added* back to the pixel it was copied from
(a pixel in several windows receives the sum of their gradients). The textbook version is
:func:`minitorch_cv.reference.im2col` / :func:`~minitorch_cv.reference.col2im`. These
kernels work on an already padded batch, without bounds checks: the innermost loop moves a
contiguous run of W_out numbers, which the compiler vectorizes.
"""

from ._jit import compile_kernel

__all__ = ["im2col_padded_loops", "col2im_padded_loops", "im2col_padded_compiled",
           "col2im_padded_compiled", "pad_loops", "pad_compiled", "output_size"]


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Number of window positions along one axis: ``(size + 2p - k) // s + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


def check_padded_geometry(x_pad, cols, kh, kw, stride_h, stride_w):
    """The checks that keep the padded kernels inside their arrays, once per call: a window
    of at least 1x1 that fits the padded image, strides >= 1, ``cols`` of the shape these
    give. Returns (H_out, W_out)."""
    n_images, channels, height_p, width_p = x_pad.shape
    if kh < 1 or kw < 1 or stride_h < 1 or stride_w < 1:
        raise ValueError("im2col/col2im: kernel sizes and strides must be >= 1")
    if height_p < kh or width_p < kw:
        raise ValueError("im2col/col2im: the window is larger than the padded image")
    out_h = (height_p - kh) // stride_h + 1
    out_w = (width_p - kw) // stride_w + 1
    if cols.shape[0] != channels * kh * kw or cols.shape[1] != n_images * out_h * out_w:
        raise ValueError("im2col/col2im: cols must have shape (C*K_h*K_w, N*H_out*W_out)")
    return out_h, out_w


def im2col_padded_loops(x_pad, cols, kh, kw, stride_h, stride_w):
    """Fill ``cols`` (C*kh*kw, N*H_out*W_out) from the padded batch ``x_pad`` (N, C, H_p, W_p).

    The numbers of :func:`minitorch_cv.reference.im2col`; each (row, image, output row)
    copies one run of W_out numbers, contiguous in both arrays with stride 1.
    """
    n_images, channels = x_pad.shape[:2]
    out_h, out_w = check_padded_geometry(x_pad, cols, kh, kw, stride_h, stride_w)
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
    """Adjoint of :func:`im2col_padded_loops`: add every entry of ``cols`` into the padded
    gradient ``dx_pad`` (N, C, H_p, W_p), which starts at zero (crop the padding off after).

    Each pixel receives its windows' gradients in the order of
    :func:`minitorch_cv.reference.col2im` (kernel offset, then window): bit-identical sums.
    """
    n_images, channels = dx_pad.shape[:2]
    out_h, out_w = check_padded_geometry(dx_pad, cols, kh, kw, stride_h, stride_w)
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
    whose border is already zero."""
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
