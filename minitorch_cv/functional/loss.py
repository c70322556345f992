"""Cross-entropy loss on logits, through a numerically stable log-softmax.

For logits z (N, K) and integer labels y (N,)::

    loss = -(1/N) * sum_n log softmax(z_n)[y_n]            (reduction="mean")
    dz   = (softmax(z) - onehot(y)) / N
"""

import numpy as np

from ._checks import check_loss_grad
from .activation import log_softmax

__all__ = ["cross_entropy_forward", "cross_entropy_backward"]


def check_labels(logits, labels, layer="CrossEntropyLoss"):
    """Raise a clear error unless ``labels`` are N integers in [0, K)."""
    if not isinstance(logits, np.ndarray) or logits.ndim != 2:
        raise ValueError(f"{layer}: expected logits of shape (N, num_classes), got "
                         f"{getattr(logits, 'shape', type(logits).__name__)}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        raise ValueError(f"{layer}: expected labels of shape ({logits.shape[0]},) to match "
                         f"logits {logits.shape}, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{layer}: expected integer class labels, got dtype {labels.dtype}")
    k = logits.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        bad = labels[(labels < 0) | (labels >= k)]
        raise ValueError(f"{layer}: labels must be in [0, {k - 1}], got {bad[:5].tolist()}")
    return labels


def cross_entropy_forward(logits, labels, reduction="mean"):
    """Returns ``(loss, cache)``; ``loss`` is a Python float for mean/sum reduction."""
    labels = check_labels(logits, labels)
    logp = log_softmax(logits, axis=1)
    picked = -logp[np.arange(labels.shape[0]), labels]
    if reduction == "mean":
        loss = float(picked.mean(dtype=np.float64))
    elif reduction == "sum":
        loss = float(picked.sum(dtype=np.float64))
    elif reduction == "none":
        loss = picked
    else:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return loss, (logp, labels, reduction)


def cross_entropy_backward(cache, dloss=1.0, *, layer="cross_entropy_backward"):
    """dlogits = (softmax - onehot) * dloss (/ N for the mean).

    ``dloss`` is dL/d(loss): a real number for mean or sum reduction, an (N,) float array
    for ``reduction="none"`` (TypeError or ValueError naming ``layer`` otherwise).
    """
    logp, labels, reduction = cache
    n = labels.shape[0]
    dloss = check_loss_grad(dloss, reduction, n, logp.dtype, layer)
    dz = np.exp(logp)
    dz[np.arange(n), labels] -= 1
    if reduction == "mean":
        dz *= dz.dtype.type(dloss / n)
    elif reduction == "sum":
        dz *= dz.dtype.type(dloss)
    else:
        dz *= np.asarray(dloss, dtype=dz.dtype).reshape(n, 1)
    return dz
