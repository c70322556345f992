"""Batch normalization layers (formulas: :func:`minitorch_cv.reference.batchnorm_forward`)."""

import numpy as np

from .._dispatch import functional as F
from ..checks import check_float_dtype, check_input, check_int, check_real, check_same_dtype
from .module import Module, Parameter, _operand

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; they set ``_ranks`` and ``_shape_text``."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None):
        super().__init__()
        if momentum is None:
            raise NotImplementedError("momentum=None (cumulative average) is not supported")
        name = type(self).__name__
        dtype = check_float_dtype(dtype, name)
        self.num_features = check_int(num_features, "num_features", name, minimum=1)
        self.eps = check_real(eps, "eps", name, low=0.0, low_open=True)
        self.momentum = check_real(momentum, "momentum", name, 0.0, 1.0)
        num_features = self.num_features
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x):
        name = type(self).__name__
        if not isinstance(x, np.ndarray) or x.ndim not in self._ranks:
            raise ValueError(f"{name}: expected input of shape {self._shape_text}, got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        check_input(x, x.ndim, name, self.num_features, expected=self._shape_text)
        if self.affine or self.track_running_stats:
            check_same_dtype(x, (self.weight if self.affine else self.running_mean).dtype, name)
        track = self.track_running_stats
        if self.training and track:
            self.num_batches_tracked = self.num_batches_tracked + 1
        out, cache = F.batchnorm_forward(
            x, _operand(self.weight), _operand(self.bias),       # None without affine
            self.running_mean if track else None, self.running_var if track else None,
            training=self.training, momentum=self.momentum, eps=self.eps)
        self._store(cache)
        return out

    def backward(self, dout):
        dx, dgamma, dbeta = F.batchnorm_backward(dout, self._take_cache(),
                                                 layer=f"{type(self).__name__}.backward")
        if self.affine:
            self.weight.accumulate_grad(dgamma)
            self.bias.accumulate_grad(dbeta)
        return dx

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch norm over features: (N, C) or (N, C, L), statistics per channel C.

    Forward (train): ``out = gamma * (x - mean) / sqrt(var + eps) + beta`` with the
    biased batch variance; ``running_var`` is updated with the unbiased one.
    Backward: ``dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))``, g = dout * gamma.
    """

    _ranks = (2, 3)
    _shape_text = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over feature maps: (N, C, H, W), statistics per channel over N, H, W.

    Same formulas as :class:`BatchNorm1d`, with means over N*H*W values per channel.
    """

    _ranks = (4,)
    _shape_text = "(N, C, H, W)"
