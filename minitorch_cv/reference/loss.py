"""Softmax cross-entropy, the textbook way (same signatures and cache as
:mod:`minitorch_cv.functional.loss`)."""

import numpy as np

from ..functional._checks import check_loss_grad

__all__ = ["cross_entropy_forward", "cross_entropy_backward"]


def cross_entropy_forward(logits, labels, reduction="mean"):
    """``loss = -mean over n of log softmax(logits[n])[labels[n]]``.

    Parameters
    ----------
    logits : ndarray (N, K), the scores before the softmax
    labels : ndarray (N,), integers in [0, K)
    reduction : "mean", "sum" or "none" (one loss per image)

    Returns
    -------
    loss : float (an ndarray (N,) for "none")
    cache : ``(log_probs, labels, reduction)``

    Shape
    -----
    (N, K) and (N,) -> a number.

    ``log softmax(z)_k = z_k - max(z) - log(sum_j exp(z_j - max(z)))``: subtracting the
    maximum first keeps ``exp`` from overflowing and changes nothing else.

    Backward
    --------
    ``dlogits = (softmax(logits) - onehot(labels)) / N`` (:func:`cross_entropy_backward`).
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    losses = -log_probs[np.arange(len(labels)), labels]
    loss = {"mean": lambda: float(losses.mean()), "sum": lambda: float(losses.sum()),
            "none": lambda: losses}[reduction]()
    return loss, (log_probs, labels, reduction)


def cross_entropy_backward(cache, dloss=1.0, *, layer="cross_entropy_backward"):
    """Gradient of :func:`cross_entropy_forward` with respect to the logits.

    Parameters
    ----------
    cache : from :func:`cross_entropy_forward`
    dloss : float (an ndarray (N,) for "none"), the gradient arriving at the loss
        (anything else: a TypeError or ValueError naming ``layer``, as in functional)

    Returns
    -------
    dlogits : ndarray (N, K)

    Shape
    -----
    -> (N, K), the shape of the logits.

    Backward
    --------
    ``dlogits = (softmax(logits) - onehot(labels)) * dloss``, divided by N for "mean"
    (``dloss`` is one number per image for "none").
    """
    log_probs, labels, reduction = cache
    n = len(labels)
    dloss = check_loss_grad(dloss, reduction, n, log_probs.dtype, layer)
    dlogits = np.exp(log_probs)                                    # softmax
    dlogits[np.arange(n), labels] -= 1                             # minus the one-hot
    if reduction == "none":
        return dlogits * np.reshape(dloss, (n, 1))
    return dlogits * (dloss / n if reduction == "mean" else dloss)
