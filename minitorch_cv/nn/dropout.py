"""Dropout layers: inverted dropout, active only in training mode."""

import numpy as np

from .._dispatch import functional as F
from ..checks import check_input, check_real
from . import init
from .module import _FunctionalLayer

__all__ = ["Dropout", "Dropout2d"]


class Dropout(_FunctionalLayer):
    """Zero each element with probability ``p`` and scale survivors by 1 / (1 - p).

    ``p`` is the probability of *dropping* (as in PyTorch), in [0, 1) (``p = 1`` leaves
    the scale undefined). In eval mode the layer is the identity.

    Shape: any -> same. Backward: ``dx = dout * mask`` (the same mask, scale included).
    """

    _backward = F.dropout_backward     # forward (below) calls F.dropout_forward in training
    _fields = ("p",)
    _channelwise = False

    def __init__(self, p=0.5, inplace=False, rng=None):
        super().__init__()
        try:
            self.p = check_real(p, "p", type(self).__name__, 0.0, 1.0, high_open=True)
        except ValueError as error:
            if p != 1:
                raise
            raise ValueError(f"{error}: p=1 drops every unit, and the 1/(1-p) scale of the kept "
                             "units is undefined; use p < 1 (or leave the layer out)") from None
        self.rng = init.get_rng(rng)   # None: the default generator, which manual_seed reseeds

    def forward(self, x):
        check_input(x, np.ndim(x), type(self).__name__)
        if not self.training or self.p == 0.0:
            self._store((np.ones((), x.dtype), x.shape))   # the identity: backward * 1
            return x
        if self._channelwise and x.ndim != 4:
            raise ValueError(f"Dropout2d: expected input (N, C, H, W), got shape {x.shape}")
        out, cache = F.dropout_forward(x, self.p, self.rng, channelwise=self._channelwise)
        self._store(cache)
        return out


class Dropout2d(Dropout):
    """Drop whole feature maps: one draw per (image, channel). (N, C, H, W) -> same."""

    _channelwise = True
