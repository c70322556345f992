"""Linear (fully connected) layer."""

from .._dispatch import functional as F
from ..checks import check_float_dtype, check_input, check_int, check_same_dtype
from .module import _operand, _WeightLayer

__all__ = ["Linear"]


class Linear(_WeightLayer):
    """``out = x @ W.T + b``.

    Parameters
    ----------
    rng : numpy.random.Generator or int, optional
        Source of the initial weights (PyTorch's kaiming_uniform with a=sqrt(5)).

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
        self._init_parameters((self.out_features, self.in_features), bias, rng,
                              check_float_dtype(dtype, "Linear"))

    def forward(self, x):
        check_input(x, 2, "Linear", self.in_features, channel_axis=1,
                    expected=f"(N, {self.in_features})")
        check_same_dtype(x, self.weight.dtype, "Linear")
        out, cache = F.linear_forward(x, self.weight.data, _operand(self.bias))
        self._store(cache)
        return out

    def backward(self, dout):
        return self._backward_with(F.linear_backward, dout, self._take_cache())

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
