"""The checks of the optimizer exercises: one SGD-momentum step and one Adam step.

Both are pure functions (they return new arrays and change none of their inputs) with
torch.optim's update rules; the right answers come from :mod:`minitorch_cv.optim`, whose
SGD and Adam follow torch.optim step for step.
"""

import numpy as np

from ..nn.module import Parameter
from ..optim import SGD, Adam
from .checking import forward_case

__all__ = ["build_sgd_momentum", "build_adam"]


def _param(w, dw):
    p = Parameter(np.array(w, copy=True))
    p.grad = np.array(dw, copy=True)
    return p


def sgd_momentum_answer(w, dw, velocity, lr, momentum=0.9, weight_decay=0.0):
    """(w_new, velocity_new) by :class:`minitorch_cv.optim.SGD`."""
    p = _param(w, dw)
    opt = SGD([p], lr=lr, momentum=momentum, weight_decay=weight_decay)
    if momentum:
        opt.state[0]["momentum_buffer"] = np.array(velocity, copy=True)
        opt.step()
        return p.data, opt.state[0]["momentum_buffer"]
    opt.step()
    return p.data, (dw + weight_decay * w).astype(w.dtype)


def adam_answer(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """(w_new, m_new, v_new) by :class:`minitorch_cv.optim.Adam` at 1-based step ``t``."""
    p = _param(w, dw)
    opt = Adam([p], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    opt.state[0].update(step=t - 1, exp_avg=np.array(m, copy=True),
                        exp_avg_sq=np.array(v, copy=True))
    opt.step()
    return p.data, opt.state[0]["exp_avg"], opt.state[0]["exp_avg_sq"]


def build_sgd_momentum(plan, rng):
    names = ["w", "dw", "velocity", "lr", "momentum", "weight_decay"]
    cases = [  # (label, dtype, first step, lr, momentum, weight_decay, tags)
        ("first step (velocity zeros), lr 0.1, momentum 0.9", np.float64, True, 0.1, 0.9, 0.0,
         ()),
        ("later step, lr 0.05, momentum 0.9", np.float64, False, 0.05, 0.9, 0.0, ()),
        ("later step, lr 0.05, momentum 0.8, weight_decay 0.01", np.float64, False, 0.05, 0.8,
         0.01, ("weight decay",)),
        ("momentum 0 (plain SGD), lr 0.1", np.float64, False, 0.1, 0.0, 0.0, ()),
        ("float32, lr 0.1, momentum 0.9", np.float32, False, 0.1, 0.9, 0.0, ("float32",)),
    ]
    for label, dtype, first, lr, mu, wd, tags in cases:
        w = rng.standard_normal((3, 4)).astype(dtype)
        dw = rng.standard_normal((3, 4)).astype(dtype)
        v = np.zeros_like(w) if first else rng.standard_normal((3, 4)).astype(dtype)
        expected = sgd_momentum_answer(w, dw, v, lr, mu, wd)
        g = dw + wd * w
        mistakes = [
            (("the CS231n form v = momentum*v - lr*g, w = w + v; this exercise (like "
             "torch.optim.SGD) keeps v = momentum*v + g and steps w = w - lr*v"),
             w + (mu * v - lr * g)),
            (("the velocity is an average, momentum*v + (1 - momentum)*g; torch adds the whole "
             "gradient: v = momentum*v + g"), w - lr * (mu * v + (1 - mu) * g)),
            (("the learning rate is inside the velocity (v = momentum*v + lr*g); torch: v = "
             "momentum*v + g, then w = w - lr*v"), w - (mu * v + lr * g)),
            ("weight_decay is ignored: add weight_decay * w to the gradient first",
             sgd_momentum_answer(w, dw, v, lr, mu, 0.0)[0] if wd else None),
        ]
        forward_case(plan, "sgd_momentum_step", label, (w, dw, v, lr, mu, wd), list(expected),
                     what="(w_new, velocity_new)", names=("w_new", "velocity_new"),
                     mistakes=mistakes, tags=tags, arg_names=names,
                     name=f"step, {label}")


def build_adam(plan, rng):
    names = ["w", "dw", "m", "v", "t", "lr", "beta1", "beta2", "eps", "weight_decay"]
    cases = [  # (label, dtype, t, lr, weight_decay, tags)
        ("t = 1 (m, v zeros), lr 0.001", np.float64, 1, 1e-3, 0.0, ()),
        ("t = 5, lr 0.01", np.float64, 5, 1e-2, 0.0, ()),
        ("t = 3, lr 0.01, weight_decay 0.1", np.float64, 3, 1e-2, 0.1, ("weight decay",)),
        ("float32, t = 2, lr 0.001", np.float32, 2, 1e-3, 0.0, ("float32",)),
    ]
    for label, dtype, t, lr, wd, tags in cases:
        w = rng.standard_normal((3, 4)).astype(dtype)
        dw = rng.standard_normal((3, 4)).astype(dtype)
        if t == 1:
            m, v = np.zeros_like(w), np.zeros_like(w)
        else:
            m = 0.1 * rng.standard_normal((3, 4)).astype(dtype)
            v = 0.1 * rng.uniform(0.1, 1, (3, 4)).astype(dtype)
        expected = adam_answer(w, dw, m, v, t, lr, weight_decay=wd)
        g = dw + wd * w
        m_new, v_new = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        mistakes = [
            (("Adam without bias correction: divide m by (1 - beta1**t) and v by "
             "(1 - beta2**t) before the step"), w - lr * m_new / (np.sqrt(v_new) + 1e-8)),
            (("the bias correction uses t - 1: t is the 1-based step count (1 on the first "
             "step)"), w - lr * (m_new / (1 - 0.9 ** (t - 1))) / (
                 np.sqrt(v_new / (1 - 0.999 ** (t - 1))) + 1e-8) if t > 1 else None),
            ("weight decay applied to w (AdamW); Adam adds weight_decay * w to the gradient",
             adam_answer(w * (1 - lr * wd), dw, m, v, t, lr)[0] if wd else None),
        ]
        forward_case(plan, "adam_step", label, (w, dw, m, v, t, lr, 0.9, 0.999, 1e-8, wd),
                     list(expected), what="(w_new, m_new, v_new)",
                     names=("w_new", "m_new", "v_new"), mistakes=mistakes, tags=tags,
                     arg_names=names, name=f"step, {label}", count=3)
