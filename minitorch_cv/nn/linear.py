"""Linear (fully connected) layer."""

import math

from .._dispatch import functional as F
from ..checks import check_float_dtype, check_input, check_int, check_same_dtype
from . import init
from .module import Module, Parameter

__all__ = ["Linear"]


class Linear(Module):
    """``out = x @ W.T + b``.

    Shape
    -----
    (N, in_features) -> (N, out_features)

    Backward
    --------
    ``dx = dout @ W``, ``dW = dout.T @ x``, ``db = sum_n dout[n]``.
    """

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=None):
        super().__init__()
        self.in_features = check_int(in_features, "in_features", "Linear", minimum=1)
        self.out_features = check_int(out_features, "out_features", "Linear", minimum=1)
        dtype = check_float_dtype(dtype, "Linear")
        rng = init.get_rng(rng)
        shape = (self.out_features, self.in_features)
        self.weight = Parameter(init.kaiming_uniform(shape, rng=rng, dtype=dtype))
        bound = 1 / math.sqrt(self.in_features)
        self.bias = Parameter(init.uniform(out_features, bound, rng, dtype)) if bias else None

    def forward(self, x):
        check_input(x, 2, "Linear", self.in_features, channel_axis=1,
                    expected=f"(N, {self.in_features})")
        check_same_dtype(x, self.weight.dtype, "Linear")
        b = self.bias.data if self.bias is not None else None
        out, cache = F.linear_forward(x, self.weight.data, b)
        self._store(cache)
        return out

    def backward(self, dout):
        need_dw = self.weight.requires_grad or (self.bias is not None
                                                and self.bias.requires_grad)
        dx, dw, db = F.linear_backward(dout, self._take_cache(), need_dx=self.needs_input_grad,
                                       need_dw=need_dw, layer="Linear.backward")
        if need_dw:
            self.weight.accumulate_grad(dw)
            if self.bias is not None:
                self.bias.accumulate_grad(db)
        return dx

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
