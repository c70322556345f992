"""Optimizer steps as pure functions: they return new arrays and modify nothing.

The update rules of torch.optim.SGD (with momentum) and torch.optim.Adam, which
:class:`minitorch_cv.optim.SGD` and :class:`minitorch_cv.optim.Adam` run in place on every
parameter.
"""

import numpy as np

__all__ = ["sgd_momentum_step", "adam_step"]


def sgd_momentum_step(w, dw, velocity, lr, momentum=0.9, weight_decay=0.0):
    """One step of SGD with momentum.

    ::

        g            = dw + weight_decay * w
        velocity_new = momentum * velocity + g
        w_new        = w - lr * velocity_new

    ``velocity`` is zeros before the first step, which gives torch's "first step:
    velocity = g". Returns ``(w_new, velocity_new)``. Shape: w, dw, velocity of any one
    shape -> the same.
    """
    g = dw + weight_decay * w
    velocity_new = momentum * velocity + g
    return w - lr * velocity_new, velocity_new


def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """One step of Adam (Kingma and Ba), L2 weight decay added to the gradient as torch does.

    ::

        g     = dw + weight_decay * w
        m_new = beta1 * m + (1 - beta1) * g                  (mean of the gradients)
        v_new = beta2 * v + (1 - beta2) * g**2               (mean of their squares)
        m_hat = m_new / (1 - beta1**t)    v_hat = v_new / (1 - beta2**t)   (bias correction)
        w_new = w - lr * m_hat / (sqrt(v_hat) + eps)

    ``m`` and ``v`` are zeros before the first step; ``t`` counts the steps from 1 (without
    the bias correction the first steps would be far too small, since m and v start at
    zero). Returns ``(w_new, m_new, v_new)``. Shape: w, dw, m, v of any one shape -> the
    same.
    """
    g = dw + weight_decay * w
    m_new = beta1 * m + (1 - beta1) * g
    v_new = beta2 * v + (1 - beta2) * g ** 2
    m_hat = m_new / (1 - beta1 ** t)
    v_hat = v_new / (1 - beta2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v_new
