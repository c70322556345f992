"""Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d."""

from .._dispatch import functional as F
from ..checks import check_input, check_pool_padding, pair
from .module import Module, is_grad_enabled

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]


def _window(kernel_size, stride, padding, layer):
    """Checked (kernel_size, stride, padding) pairs; stride defaults to the kernel size."""
    kernel = pair(kernel_size, "kernel_size", layer, minimum=1)
    stride = kernel if stride is None else pair(stride, "stride", layer, minimum=1)
    padding = pair(padding, "padding", layer, minimum=0)
    check_pool_padding(padding, kernel, layer)
    return kernel, stride, padding


class MaxPool2d(Module):
    """Maximum over K_h x K_w windows (stride defaults to the kernel size).

    Shape
    -----
    (N, C, H, W) -> (N, C, H_out, W_out), ``H_out = floor((H + 2p - K_h) / s) + 1``.

    Backward
    --------
    Each output's gradient goes to the input position of its window's maximum (the first
    one in row-major order if several are equal); every other input gets zero.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 return_indices=False):
        super().__init__()
        if pair(dilation, "dilation", "MaxPool2d", 1) != (1, 1) or ceil_mode or return_indices:
            raise NotImplementedError("MaxPool2d supports dilation=1, ceil_mode=False, "
                                      "return_indices=False only")
        self.kernel_size, self.stride, self.padding = _window(kernel_size, stride, padding,
                                                              "MaxPool2d")

    def forward(self, x):
        check_input(x, 4, "MaxPool2d", expected="(N, C, H, W)")
        out, cache = F.maxpool2d_forward(x, self.kernel_size, self.stride, self.padding,
                                         for_backward=is_grad_enabled())
        self._store(cache)
        return out

    def backward(self, dout):
        return F.maxpool2d_backward(dout, self._take_cache(), layer="MaxPool2d.backward")

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over K_h x K_w windows (zero padding counted, PyTorch's default).

    Shape: as :class:`MaxPool2d`. Backward: ``dout / (K_h * K_w)`` to every window pixel.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        if ceil_mode or not count_include_pad:
            raise NotImplementedError("AvgPool2d supports ceil_mode=False, "
                                      "count_include_pad=True only")
        self.kernel_size, self.stride, self.padding = _window(kernel_size, stride, padding,
                                                              "AvgPool2d")

    def forward(self, x):
        check_input(x, 4, "AvgPool2d", expected="(N, C, H, W)")
        out, cache = F.avgpool2d_forward(x, self.kernel_size, self.stride, self.padding)
        self._store(cache)
        return out

    def backward(self, dout):
        return F.avgpool2d_backward(dout, self._take_cache(), layer="AvgPool2d.backward")

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, whatever the input size.

    Shape: (N, C, H, W) -> (N, C, H_o, W_o). ``AdaptiveAvgPool2d(1)`` is global average
    pooling (ResNet). Backward: each bin's gradient divided evenly over its pixels.
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = pair(output_size, "output_size", "AdaptiveAvgPool2d", minimum=1)

    def forward(self, x):
        check_input(x, 4, "AdaptiveAvgPool2d", expected="(N, C, H, W)")
        out, cache = F.adaptive_avgpool2d_forward(x, self.output_size)
        self._store(cache)
        return out

    def backward(self, dout):
        return F.adaptive_avgpool2d_backward(dout, self._take_cache(),
                                             layer="AdaptiveAvgPool2d.backward")

    def extra_repr(self):
        return f"output_size={self.output_size}"
