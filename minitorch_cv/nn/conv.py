"""Conv2d: the layer class around :mod:`minitorch_cv.functional.conv`."""

import math

from ..functional._checks import (
    check_float_dtype,
    check_input,
    check_int,
    check_same_dtype,
    pair,
)
from ..reference.switch import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["Conv2d"]


class Conv2d(Module):
    """2D convolution (cross-correlation, as in every deep-learning library).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, padding : int or (int, int)
        ``padding="same"`` (stride 1 only) pads so that H_out = H.
    bias : bool
    rng : numpy.random.Generator or int, optional
        Source of the initial weights (PyTorch's kaiming_uniform(a=sqrt(5))).

    Shape
    -----
    (N, C_in, H, W) -> (N, C_out, H_out, W_out),
    ``H_out = floor((H + 2 * padding - K_h) / stride) + 1`` (W likewise).

    Backward
    --------
    ``db = sum dout``; ``dW = sum_n dout[n] @ cols[n].T``; ``dx = col2im(W2.T @ dout)``
    (see :mod:`minitorch_cv.functional.conv`).
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
        if padding == "same":
            if self.stride != (1, 1) or any(k % 2 == 0 for k in self.kernel_size):
                raise ValueError("padding='same' needs stride 1 and odd kernel sizes")
            padding = tuple(k // 2 for k in self.kernel_size)
        elif padding == "valid":
            padding = 0
        self.padding = pair(padding, "padding", "Conv2d", minimum=0)
        dtype = check_float_dtype(dtype, "Conv2d")
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        rng = init.get_rng(rng)
        self.weight = Parameter(init.kaiming_uniform(shape, rng=rng, dtype=dtype))
        bound = 1 / math.sqrt(init.fan_in(shape))
        self.bias = Parameter(init.uniform(out_channels, bound, rng, dtype)) if bias else None

    def forward(self, x):
        check_input(x, 4, "Conv2d", self.in_channels,
                    expected=f"(N, {self.in_channels}, H, W)")
        check_same_dtype(x, self.weight.dtype, "Conv2d")
        b = self.bias.data if self.bias is not None else None
        out, cache = F.conv2d_forward(x, self.weight.data, b, self.stride, self.padding)
        self._store(cache)
        return out

    def backward(self, dout):
        need_dw = self.weight.requires_grad or (self.bias is not None
                                                and self.bias.requires_grad)
        dx, dw, db = F.conv2d_backward(dout, self._take_cache(), need_dx=self.needs_input_grad,
                                       need_dw=need_dw, layer="Conv2d.backward")
        if need_dw:
            self.weight.accumulate_grad(dw)
            if self.bias is not None:
                self.bias.accumulate_grad(db)
        return dx

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding}")
        return s + ("" if self.bias is not None else ", bias=False")
