"""Conv2d: the layer class around :mod:`minitorch_cv.functional.conv`."""

import numpy as np

from .._dispatch import functional as F
from ..checks import check_float_dtype, check_input, check_int, check_same_dtype, pair
from .module import _operand, _WeightLayer

__all__ = ["Conv2d"]


class Conv2d(_WeightLayer):
    """2D convolution (cross-correlation, as in every deep-learning library).

    Parameters
    ----------
    padding : int, (int, int), "valid" or "same"
        Zeros added on each side; ``"valid"`` is 0. ``"same"`` (stride 1 only) pads
        ``(K - 1) // 2`` before and the rest after, as PyTorch. ``self.padding`` is the pair
        or ``"same"``; ``self.padding_sides`` is always ``((top, bottom), (left, right))``.
    rng : numpy.random.Generator or int, optional
        Source of the initial weights (PyTorch's kaiming_uniform with a=sqrt(5)).

    Shape
    -----
    (N, C_in, H, W) -> (N, C_out, H_out, W_out),
    ``H_out = floor((H + 2 * padding - K_h) / stride) + 1`` (W likewise); ``H_out = H``
    for ``padding="same"``.

    Backward
    --------
    ``db = sum dout``; ``dW = sum_n dout[n] @ cols[n].T``; ``dx = col2im(W2.T @ dout)``
    (the formulas: :mod:`minitorch_cv.reference.conv`), cropped for asymmetric "same" padding.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", rng=None,
                 dtype=None):
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", "Conv2d", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", "Conv2d", minimum=1)
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d", minimum=1)
        self.stride = pair(stride, "stride", "Conv2d", minimum=1)
        if (pair(dilation, "dilation", "Conv2d", minimum=1) != (1, 1)
                or check_int(groups, "groups", "Conv2d", minimum=1) != 1
                or padding_mode != "zeros"):
            raise NotImplementedError("Conv2d supports dilation=1, groups=1, "
                                      "padding_mode='zeros' only")
        self._padding_given = padding
        same = isinstance(padding, str) and padding == "same"
        if isinstance(padding, str) and not same and padding != "valid":
            raise ValueError(f"Conv2d: padding must be an int, a pair of ints, 'valid' "
                             f"or 'same', got {padding!r}")
        if same and self.stride != (1, 1):
            raise ValueError(
                f"Conv2d: padding='same' is not supported for strided convolutions "
                f"(stride={self.stride}; PyTorch refuses it too): no padding keeps the "
                "size when the stride skips positions. Give the padding as a number, "
                "e.g. theory.conv_output_size tells what each one gives")
        self.padding = ("same" if same else (0, 0) if isinstance(padding, str)   # "valid"
                        else pair(padding, "padding", "Conv2d", minimum=0))
        self.padding_sides = (tuple(((k - 1) // 2, k - 1 - (k - 1) // 2) for k in self.kernel_size)
                              if same else tuple((p, p) for p in self.padding))
        self._init_parameters((self.out_channels, self.in_channels) + self.kernel_size, bias,
                              rng, check_float_dtype(dtype, "Conv2d"))

    def forward(self, x):
        check_input(x, 4, "Conv2d", self.in_channels,
                    expected=f"(N, {self.in_channels}, H, W)")
        check_same_dtype(x, self.weight.dtype, "Conv2d")
        (top, bottom), (left, right) = self.padding_sides
        pad, crop = (top, left), None
        if top != bottom or left != right:   # PyTorch's "same" for an even kernel: pad, crop dx
            x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
            pad, crop = (0, 0), (top, left, x.shape[2] - bottom, x.shape[3] - right)
        out, cache = F.conv2d_forward(x, self.weight.data, _operand(self.bias), self.stride, pad)
        self._store((cache, crop))
        return out

    def backward(self, dout):
        cache, crop = self._take_cache()
        dx = self._backward_with(F.conv2d_backward, dout, cache)
        if crop is not None and dx is not None:
            top, left, bottom, right = crop
            dx = np.ascontiguousarray(dx[:, :, top:bottom, left:right])
        return dx

    def extra_repr(self):
        given = self._padding_given
        padding = repr(given) if isinstance(given, str) else self.padding
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={padding}")
        return s + ("" if self.bias is not None else ", bias=False")
