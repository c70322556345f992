"""Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d."""

from .._dispatch import functional as F
from ..checks import check_pool_padding, pair
from .module import _FunctionalLayer, is_grad_enabled

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]


class _Pool2d(_FunctionalLayer):
    """A window pooling; the stride defaults to the kernel size."""

    _input_shape = "(N, C, H, W)"
    _fields = ("kernel_size", "stride", "padding")

    def __init__(self, kernel_size, stride, padding):
        super().__init__()
        layer = type(self).__name__
        self.kernel_size = pair(kernel_size, "kernel_size", layer, minimum=1)
        self.stride = (self.kernel_size if stride is None
                       else pair(stride, "stride", layer, minimum=1))
        self.padding = pair(padding, "padding", layer, minimum=0)
        check_pool_padding(self.padding, self.kernel_size, layer)


class MaxPool2d(_Pool2d):
    """Maximum over K_h x K_w windows (stride defaults to the kernel size).

    Shape
    -----
    (N, C, H, W) -> (N, C, H_out, W_out), ``H_out = floor((H + 2p - K_h) / s) + 1``.

    Backward
    --------
    Each output's gradient goes to the input position of its window's maximum (the first
    one in row-major order if several are equal); every other input gets zero.
    """

    _forward, _backward = F.maxpool2d_forward, F.maxpool2d_backward

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 return_indices=False):
        if pair(dilation, "dilation", "MaxPool2d", 1) != (1, 1) or ceil_mode or return_indices:
            raise NotImplementedError("MaxPool2d supports dilation=1, ceil_mode=False, "
                                      "return_indices=False only")
        super().__init__(kernel_size, stride, padding)

    def _arguments(self):
        return super()._arguments() + (is_grad_enabled(),)        # for_backward


class AvgPool2d(_Pool2d):
    """Mean over K_h x K_w windows (zero padding counted, PyTorch's default).

    Shape: as :class:`MaxPool2d`. Backward: ``dout / (K_h * K_w)`` to every window pixel.
    """

    _forward, _backward = F.avgpool2d_forward, F.avgpool2d_backward

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        if ceil_mode or not count_include_pad:
            raise NotImplementedError("AvgPool2d supports ceil_mode=False, "
                                      "count_include_pad=True only")
        super().__init__(kernel_size, stride, padding)


class AdaptiveAvgPool2d(_FunctionalLayer):
    """Average pooling to a fixed output size, whatever the input size.

    Shape: (N, C, H, W) -> (N, C, H_o, W_o). ``AdaptiveAvgPool2d(1)`` is global average
    pooling (ResNet). Backward: each bin's gradient divided evenly over its pixels.
    """

    _forward, _backward = F.adaptive_avgpool2d_forward, F.adaptive_avgpool2d_backward
    _fields = ("output_size",)
    _input_shape = "(N, C, H, W)"

    def __init__(self, output_size):
        super().__init__()
        self.output_size = pair(output_size, "output_size", "AdaptiveAvgPool2d", minimum=1)
