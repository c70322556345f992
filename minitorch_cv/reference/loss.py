"""Losses, the textbook way: softmax cross-entropy, mean squared and mean absolute error."""

import numpy as np

from ..checks import check_grad, check_loss_grad
from ..functional.loss import check_cross_entropy_arguments, check_regression_arguments

__all__ = ["cross_entropy_forward", "cross_entropy_backward", "mse_loss_forward",
           "mse_loss_backward", "l1_loss_forward", "l1_loss_backward"]


def cross_entropy_forward(logits, labels, reduction="mean", weight=None, ignore_index=-100,
                          label_smoothing=0.0):
    """``loss = -mean over n of log softmax(logits[n])[labels[n]]``.

    ``labels`` are integers in [0, K), or ``ignore_index`` (samples that count for nothing);
    ``weight`` (K,) weighs the classes; ``label_smoothing`` is ``e`` below. The cache is
    ``(log_probs, labels, reduction)``, and the options' arrays when any is used.

    Shape
    -----
    logits (N, K) and labels (N,) -> a float, or (N,) for ``reduction="none"``.

    ``log softmax(z)_k = z_k - max(z) - log(sum_j exp(z_j - max(z)))``: subtracting the
    maximum first keeps ``exp`` from overflowing and changes nothing else.

    With the options, sample n aims at the smoothed distribution
    ``t_n = (1 - e) * onehot(y_n) + e / K`` and its loss is
    ``-sum_k w[k] * t_n[k] * log_probs[n, k]`` (0 when ``y_n == ignore_index``); "mean"
    divides the sum by ``sum_n w[y_n]`` over the samples not ignored (NaN when all are
    ignored, as in PyTorch).

    Backward
    --------
    ``dlogits = (softmax(logits) - onehot(labels)) / N`` (:func:`cross_entropy_backward`);
    with the options ``dlogits_n = (sum_k w[k] t_n[k]) * softmax(logits_n) - w * t_n``,
    divided by ``sum_n w[y_n]`` for "mean".
    """
    check_cross_entropy_arguments(logits, labels, reduction, weight, ignore_index,
                                  label_smoothing)           # refused as on the fast path
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n, k = logits.shape
    ignored = labels == ignore_index
    if weight is None and label_smoothing == 0 and not ignored.any():
        losses = -log_probs[np.arange(n), labels]
        loss = _reduce(losses, reduction)
        return loss, (log_probs, labels, reduction)
    labels = np.where(ignored, 0, labels)                       # any class: weighted by 0
    w = np.ones(k, dtype=logits.dtype) if weight is None else np.asarray(weight, logits.dtype)
    target = (1 - label_smoothing) * np.eye(k, dtype=logits.dtype)[labels] + label_smoothing / k
    keep = ~ignored
    losses = -(w * target * log_probs).sum(axis=1) * keep
    w_target = w[labels] * keep                                 # what "mean" divides by
    total_weight = float(w_target.sum())
    if reduction == "mean":
        loss = float(losses.sum() / total_weight) if total_weight else float("nan")
    else:
        loss = float(losses.sum()) if reduction == "sum" else losses
    return loss, (log_probs, labels, reduction,
                  (w, w_target, ignored, label_smoothing, total_weight))


def cross_entropy_backward(cache, dloss=1.0, *, layer="cross_entropy_backward"):
    """Gradient of :func:`cross_entropy_forward` with respect to the logits, given ``dloss``,
    the gradient arriving at the loss.

    Shape
    -----
    dloss a float (an ndarray (N,) for "none") -> dlogits (N, K), the shape of the logits.

    Backward
    --------
    ``dlogits = (softmax(logits) - onehot(labels)) * dloss``, divided by N for "mean"
    (``dloss`` is one number per image for "none"); with the options see
    :func:`cross_entropy_forward`.
    """
    log_probs, labels, reduction = cache[:3]
    n, k = log_probs.shape
    dloss = check_loss_grad(dloss, reduction, n, log_probs.dtype, layer)
    if len(cache) == 3:
        dlogits = np.exp(log_probs)                                # softmax
        dlogits[np.arange(n), labels] -= 1                         # minus the one-hot
        total_weight = n                                           # what "mean" divides by
    else:
        w, _, ignored, smoothing, total_weight = cache[3]
        w = np.ones(k, dtype=log_probs.dtype) if w is None else w
        keep = np.ones(n, dtype=bool) if ignored is None else ~ignored
        target = (1 - smoothing) * np.eye(k, dtype=log_probs.dtype)[labels] + smoothing / k
        weighted = w * target                                      # (N, K)
        dlogits = (weighted.sum(axis=1, keepdims=True) * np.exp(log_probs) - weighted)
        dlogits = dlogits * keep[:, None]
    if reduction == "none":
        return dlogits * np.reshape(dloss, (n, 1))
    if reduction == "mean":                                        # all ignored: zeros
        return dlogits * (dloss / total_weight if total_weight else 0.0)
    return dlogits * dloss


def mse_loss_forward(x, target, reduction="mean"):
    """``loss = mean((x - target)^2)`` over every element (``reduction="sum"``: the sum,
    ``"none"``: the squared errors); the cache is ``(x - target, reduction)``.

    Shape
    -----
    (*) and (*) -> a number.

    Backward
    --------
    ``dx = 2 * (x - target) / x.size`` for "mean" (:func:`mse_loss_backward`).
    """
    check_regression_arguments(x, target, reduction, "mse_loss")
    diff = x - target.astype(x.dtype)
    losses = diff ** 2
    loss = _reduce(losses, reduction)
    return loss, (diff, reduction)


def mse_loss_backward(cache, dloss=1.0, *, layer="mse_loss_backward"):
    """``dx = 2 * (x - target) * dloss``, divided by ``x.size`` for "mean", since
    d/dx (x - t)^2 = 2 (x - t). Shape: -> (*), the shape of x; ``dloss`` is an ndarray
    of x's shape for "none"."""
    diff, reduction = cache
    return 2 * diff * _upstream(dloss, reduction, diff, layer)


def l1_loss_forward(x, target, reduction="mean"):
    """``loss = mean(|x - target|)`` over every element; parameters, cache and shapes as
    :func:`mse_loss_forward`.

    Backward
    --------
    ``dx = sign(x - target) / x.size`` for "mean" (:func:`l1_loss_backward`).
    """
    check_regression_arguments(x, target, reduction, "l1_loss")
    diff = x - target.astype(x.dtype)
    losses = np.abs(diff)
    loss = _reduce(losses, reduction)
    return loss, (diff, reduction)


def l1_loss_backward(cache, dloss=1.0, *, layer="l1_loss_backward"):
    """``dx = sign(x - target) * dloss``, divided by ``x.size`` for "mean", since
    ``d/dx |x - t| = sign(x - t)``, and 0 where ``x == t`` (PyTorch's choice at the kink).
    Shape: -> (*), the shape of x."""
    diff, reduction = cache
    return np.sign(diff) * _upstream(dloss, reduction, diff, layer)


def _reduce(losses, reduction):
    """The losses' mean or sum (Python floats), or the array itself for "none"."""
    if reduction == "none":
        return losses
    return float(losses.mean() if reduction == "mean" else losses.sum())


def _upstream(dloss, reduction, diff, layer):
    """dL/d(loss), checked as the fast path checks it, with the mean's 1/size folded in."""
    if reduction == "none":
        return check_grad(dloss, diff.shape, diff.dtype, layer)
    dloss = check_loss_grad(dloss, reduction, diff.size, diff.dtype, layer)
    return dloss / diff.size if reduction == "mean" else dloss
