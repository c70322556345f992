"""Losses: cross-entropy on logits (through a stable log-softmax), mean squared error and
mean absolute error. The formulas, also with PyTorch's options (``weight``, ``ignore_index``,
``label_smoothing``), are in the textbook versions, :mod:`minitorch_cv.reference.loss`.

``*_forward`` returns ``(loss, cache)``: a Python float (summed in float64), or the array
of per-sample (per-element) losses for ``reduction="none"``. ``*_backward(cache, dloss=1.0)``
takes dL/d(loss): a number, or an array of the loss's shape for ``"none"``.
"""

import numpy as np

from ..checks import check_grad, check_input, check_int, check_loss_grad, check_real
from .activation import log_softmax

__all__ = ["cross_entropy_forward", "cross_entropy_backward", "mse_loss_forward",
           "mse_loss_backward", "l1_loss_forward", "l1_loss_backward", "check_reduction",
           "check_labels", "check_class_weight", "check_cross_entropy_arguments",
           "check_regression_arguments"]

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction, layer="loss"):
    """Raise a ValueError unless ``reduction`` is "mean", "sum" or "none"."""
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"{layer}: reduction must be 'mean', 'sum' or 'none', "
                         f"got {reduction!r}")
    return reduction


def check_labels(logits, labels, layer="CrossEntropyLoss", ignore_index=-100):
    """Raise a clear error unless ``labels`` are N integers in [0, K) or ``ignore_index``."""
    if not isinstance(logits, np.ndarray) or logits.ndim != 2:
        raise ValueError(f"{layer}: expected logits of shape (N, num_classes), got "
                         f"{getattr(logits, 'shape', type(logits).__name__)}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        raise ValueError(f"{layer}: expected labels of shape ({logits.shape[0]},) to match "
                         f"logits {logits.shape}, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        hint = (" (class probabilities as targets are not supported: give class indices)"
                if np.issubdtype(labels.dtype, np.floating) else "")
        raise TypeError(f"{layer}: expected integer class labels, got dtype "
                        f"{labels.dtype}{hint}")
    k = logits.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        bad = labels[((labels < 0) | (labels >= k)) & (labels != ignore_index)]
        if bad.size:
            raise ValueError(f"{layer}: labels must be in [0, {k - 1}] (or ignore_index="
                             f"{ignore_index}), got {bad[:5].tolist()}")
    return labels


def check_class_weight(weight, k, layer="CrossEntropyLoss"):
    """``weight`` (None, or K real numbers) as a float array, or a clear error."""
    if weight is None:
        return None
    w = np.asarray(weight)
    real = np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)
    if not real or w.dtype == np.bool_:
        raise TypeError(f"{layer}: weight must be an array of K real numbers, got dtype "
                        f"{w.dtype}")
    if w.shape != (k,):
        raise ValueError(f"{layer}: weight must have one entry per class, shape ({k},), "
                         f"got {w.shape}")
    return w


def check_cross_entropy_arguments(logits, labels, reduction, weight, ignore_index,
                                   label_smoothing):
    """Checked arguments of :func:`cross_entropy_forward` (shared with the textbook path)."""
    layer = "cross_entropy"
    check_reduction(reduction, layer)
    ignore_index = check_int(ignore_index, "ignore_index", layer)
    label_smoothing = check_real(label_smoothing, "label_smoothing", layer, 0.0, 1.0)
    labels = check_labels(logits, labels, ignore_index=ignore_index)
    weight = check_class_weight(weight, logits.shape[1], layer)
    return labels, weight, ignore_index, label_smoothing


def cross_entropy_forward(logits, labels, reduction="mean", weight=None, ignore_index=-100,
                          label_smoothing=0.0):
    """Cross-entropy of logits against class labels, with PyTorch's options; the textbook
    version, with the formulas: :func:`minitorch_cv.reference.cross_entropy_forward`.

    Shape
    -----
    logits (N, K) and labels (N,) -> a float, or (N,) for ``reduction="none"``.
    """
    labels, weight, ignore_index, label_smoothing = check_cross_entropy_arguments(
        logits, labels, reduction, weight, ignore_index, label_smoothing)
    logp = log_softmax(logits, axis=1)
    n, k = logp.shape
    ignored = labels == ignore_index if 0 <= ignore_index < k or (
        labels.size and labels.min() < 0) else None
    if weight is None and label_smoothing == 0.0 and (ignored is None or not ignored.any()):
        # The plain loss (the training hot path): no weights, nothing to smooth or ignore.
        return _reduce(-logp[np.arange(n), labels], reduction), (logp, labels, reduction)
    # PyTorch's options: ignored samples get the weight 0 (and any class as their target)
    targets = labels if ignored is None else np.where(ignored, 0, labels)
    w = None if weight is None else weight.astype(logp.dtype)
    w_target = np.ones(n, dtype=logp.dtype) if w is None else w[targets]
    if ignored is not None:
        w_target[ignored] = 0
    losses = (1 - label_smoothing) * w_target * -logp[np.arange(n), targets]
    if label_smoothing:
        smooth = -(logp.sum(axis=1) if w is None else logp @ w)
        if ignored is not None:
            smooth[ignored] = 0
        losses = losses + (label_smoothing / k) * smooth
    total_weight = float(w_target.sum(dtype=np.float64))
    loss = _reduce(losses, reduction, count=total_weight)      # "mean": NaN if all ignored
    return loss, (logp, targets, reduction, (w, w_target, ignored, label_smoothing,
                                             total_weight))


def cross_entropy_backward(cache, dloss=1.0, *, layer="cross_entropy_backward"):
    """dlogits = (softmax - onehot) * dloss (/ N for the mean); with PyTorch's options
    see :func:`minitorch_cv.reference.cross_entropy_forward`."""
    logp, labels, reduction = cache[:3]
    n = labels.shape[0]
    dloss = check_loss_grad(dloss, reduction, n, logp.dtype, layer)
    dz = np.exp(logp)
    if len(cache) == 3:
        dz[np.arange(n), labels] -= 1
        return _scaled(dz, dloss, reduction, dloss / n if reduction == "mean" else None)
    w, w_target, ignored, smoothing, total_weight = cache[3]
    k = logp.shape[1]
    on_target = (1 - smoothing) * w_target                      # (N,), 0 where ignored
    scale = on_target.copy()                                    # the factor of softmax
    if smoothing:
        spread = np.full(n, smoothing / k * (k if w is None else w.sum()), dtype=dz.dtype)
        if ignored is not None:
            spread[ignored] = 0
        scale += spread
    dz *= scale[:, None]
    dz[np.arange(n), labels] -= on_target
    if smoothing:
        uniform = (smoothing / k) * (np.ones(k, dtype=dz.dtype) if w is None else w)
        keep = np.ones(n, dtype=dz.dtype) if ignored is None else (~ignored).astype(dz.dtype)
        dz -= keep[:, None] * uniform
    factor = None
    if reduction == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.float64(dloss) / np.float64(total_weight)
        if not np.isfinite(factor):                             # every sample ignored
            factor = 0.0                                        # PyTorch: zero gradient
    return _scaled(dz, dloss, reduction, factor)


# --------------------------------------------------------------------------- regression
def check_regression_arguments(x, target, reduction, layer):
    """``target`` (a float array of x's shape) in x's dtype, or a clear error."""
    check_reduction(reduction, layer)
    check_input(x, np.ndim(x), layer)
    if not isinstance(target, np.ndarray):
        raise TypeError(f"{layer}: expected the target as a NumPy array of shape {x.shape}, "
                        f"got {type(target).__name__}")
    if target.shape != x.shape:
        raise ValueError(f"{layer}: the target's shape {target.shape} differs from the "
                         f"input's {x.shape} (no broadcasting: reshape one of them)")
    if not np.issubdtype(target.dtype, np.floating):
        raise TypeError(f"{layer}: expected a floating-point target, got dtype {target.dtype} "
                        f"(convert it: target.astype(np.{x.dtype}))")
    return target.astype(x.dtype, copy=False)


def _reduce(losses, reduction, count=None):
    """The losses' float64 sum, or for "mean" the sum over ``count`` (default their number;
    NaN when 0, as torch), or the losses themselves for "none"."""
    if reduction == "none":
        return losses
    with np.errstate(invalid="ignore", divide="ignore"):
        total = losses.sum(dtype=np.float64)
        return float(total / (losses.size if count is None else count)
                     if reduction == "mean" else total)


def _scaled(grad, dloss, reduction, mean_factor):
    """``grad`` (in place) times ``mean_factor`` for "mean", ``dloss`` otherwise (a number, or
    an array with one entry per sample or element for "none")."""
    if reduction == "mean":
        grad *= grad.dtype.type(mean_factor)
    elif reduction == "sum":
        grad *= grad.dtype.type(dloss)
    else:
        grad *= np.asarray(dloss, dtype=grad.dtype).reshape(
            np.shape(dloss) + (1,) * (grad.ndim - np.ndim(dloss)))
    return grad


def mse_loss_forward(x, target, reduction="mean"):
    """Mean squared error ``mean((x - target)^2)``; ``target`` (a float array of x's shape) is
    converted to x's dtype. See :func:`minitorch_cv.reference.mse_loss_forward`.

    Shape
    -----
    (*) and (*) -> a float, or (*) for ``reduction="none"``.
    """
    return _regression_forward(x, target, reduction, "mse_loss", np.square)


def mse_loss_backward(cache, dloss=1.0, *, layer="mse_loss_backward"):
    """dx = 2 (x - target) * dloss (/ x.size for the mean)."""
    diff, reduction = cache
    return _regression_backward(2 * diff, diff, dloss, reduction, layer)


def l1_loss_forward(x, target, reduction="mean"):
    """Mean absolute error ``mean(|x - target|)``; see
    :func:`minitorch_cv.reference.l1_loss_forward`.

    Shape
    -----
    (*) and (*) -> a float, or (*) for ``reduction="none"``.
    """
    return _regression_forward(x, target, reduction, "l1_loss", np.abs)


def l1_loss_backward(cache, dloss=1.0, *, layer="l1_loss_backward"):
    """dx = sign(x - target) * dloss (/ x.size for the mean; sign(0) = 0)."""
    diff, reduction = cache
    return _regression_backward(np.sign(diff), diff, dloss, reduction, layer)


def _regression_forward(x, target, reduction, layer, elementwise):
    target = check_regression_arguments(x, target, reduction, layer)
    diff = x - target
    return _reduce(elementwise(diff), reduction), (diff, reduction)


def _regression_backward(grad, diff, dloss, reduction, layer):
    """``grad`` times dL/d(loss): a number, or for "none" an array of the losses' shape."""
    if reduction == "none":
        dloss = check_grad(dloss, diff.shape, diff.dtype, layer)
    else:
        dloss = check_loss_grad(dloss, reduction, diff.size, diff.dtype, layer)
    return _scaled(grad, dloss, reduction,
                   dloss / max(grad.size, 1) if reduction == "mean" else None)
