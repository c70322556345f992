"""CrossEntropyLoss: log-softmax and negative log-likelihood in one stable step."""

import math

from ..reference.switch import functional as F
from .module import is_grad_enabled

__all__ = ["CrossEntropyLoss"]


class CrossEntropyLoss:
    """Mean cross-entropy of logits (N, K) against integer labels (N,).

    ``loss = -(1/N) sum_n log softmax(z_n)[y_n]``; ``backward()`` returns
    ``dL/dz = (softmax(z) - onehot(y)) / N``, ready for ``model.backward``.

    Raises
    ------
    ValueError, TypeError
        Labels that are not integers in [0, K), or shapes that do not match.
    FloatingPointError
        The loss is not finite (diverged training, NaN inputs).
    """

    def __init__(self, reduction="mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self._cache = None

    def __call__(self, logits, labels) -> float:
        return self.forward(logits, labels)

    def forward(self, logits, labels) -> float:
        loss, cache = F.cross_entropy_forward(logits, labels, self.reduction)
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"CrossEntropyLoss: the loss is {loss} (non-finite). The logits contain "
                "NaN/inf -- training has probably diverged; try a smaller learning rate.")
        self._cache = cache if is_grad_enabled() else None
        return loss

    def backward(self, dloss: float = 1.0):
        """dL/dlogits, shape (N, K)."""
        if self._cache is None:
            raise RuntimeError("CrossEntropyLoss.backward called before a forward pass "
                               "(or the forward ran under nn.no_grad())")
        return F.cross_entropy_backward(self._cache, dloss, layer="CrossEntropyLoss.backward")

    def __repr__(self):
        return f"CrossEntropyLoss(reduction={self.reduction!r})"
