"""Dropout layers: inverted dropout, active only in training mode."""

from ..reference.switch import functional as F
from . import init
from .module import Module

__all__ = ["Dropout", "Dropout2d"]


class Dropout(Module):
    """Zero each element with probability ``p`` and scale survivors by 1 / (1 - p).

    ``p`` is the probability of *dropping* (as in PyTorch), not of keeping. In eval mode
    the layer is the identity, so no rescaling is needed at test time.

    Shape: any -> same. Backward: ``dx = dout * mask`` (the same mask, scale included).
    """

    _channelwise = False

    def __init__(self, p=0.5, inplace=False, rng=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p = float(p)
        self.rng = init.get_rng(rng)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self._store(1.0)                   # the identity: backward multiplies by 1
            return x
        if self._channelwise and x.ndim != 4:
            raise ValueError(f"Dropout2d: expected input (N, C, H, W), got shape {x.shape}")
        out, mask = F.dropout_forward(x, self.p, self.rng, channelwise=self._channelwise)
        self._store(mask)
        return out

    def backward(self, dout):
        return F.dropout_backward(dout, self._take_cache())

    def extra_repr(self):
        return f"p={self.p}"


class Dropout2d(Dropout):
    """Drop whole feature maps: one draw per (image, channel). (N, C, H, W) -> same."""

    _channelwise = True
