"""The checks of one SGD-momentum step and one Adam step (torch.optim's rules), against
:func:`minitorch_cv.reference.sgd_momentum_step` and :class:`minitorch_cv.optim.Adam`."""

import numpy as np

from ..nn.module import Parameter
from ..optim import Adam
from ..reference.optim import sgd_momentum_step
from . import settings as S
from .checking import cases, float32_suffix, forward_case, normal
from .diagnosis import Mistake

__all__ = ["build_sgd_momentum", "build_adam"]


def adam_answer(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """(w_new, m_new, v_new) by :class:`minitorch_cv.optim.Adam` at 1-based step ``t``."""
    p = Parameter(np.array(w, copy=True))
    p.grad = np.array(dw, copy=True)
    opt = Adam([p], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    opt.state[0].update(step=t - 1, exp_avg=np.array(m, copy=True),
                        exp_avg_sq=np.array(v, copy=True))
    opt.step()
    return p.data, opt.state[0]["exp_avg"], opt.state[0]["exp_avg_sq"]


def build_sgd_momentum(plan, rng):
    for settings in cases({S.STEP: "later", S.MOMENTUM: 0.9, S.WEIGHT_DECAY: 0.0,
                           S.DTYPE: "float64"}, {S.STEP: "first"}, {S.MOMENTUM: 0.0},
                          {S.WEIGHT_DECAY: 0.01}, {S.DTYPE: "float32"}):
        dtype = getattr(np, settings[S.DTYPE])
        lr, mu, wd = 0.05, settings[S.MOMENTUM], settings[S.WEIGHT_DECAY]
        w, dw = normal(rng, (3, 4), dtype), normal(rng, (3, 4), dtype)
        v = np.zeros_like(w) if settings[S.STEP] == "first" else normal(rng, (3, 4), dtype)
        g = dw + wd * w
        label = (f"{settings[S.STEP]} step, lr {lr}, momentum {mu}, weight_decay {wd}"
                 + float32_suffix(dtype))
        mistakes = [
            Mistake("sgd.cs231n", ("the CS231n form v = momentum*v - lr*g, w = w + v; this "
                                   "exercise (like torch.optim.SGD) keeps v = momentum*v + g "
                                   "and steps w = w - lr*v"), w + (mu * v - lr * g)),
            Mistake("sgd.dampened", ("the velocity is an average, momentum*v + (1 - momentum)"
                                     "*g; torch adds the whole gradient: v = momentum*v + g"),
                    w - lr * (mu * v + (1 - mu) * g)),
            Mistake("sgd.lr_in_velocity", ("the learning rate is inside the velocity (v = "
                                           "momentum*v + lr*g); torch: v = momentum*v + g, "
                                           "then w = w - lr*v"), w - (mu * v + lr * g)),
            Mistake("sgd.no_weight_decay", ("weight_decay is ignored: add weight_decay * w to "
                                            "the gradient first"),
                    sgd_momentum_step(w, dw, v, lr, mu, 0.0)[0] if wd else None),
        ]
        forward_case(plan, "sgd_momentum_step", label, (w, dw, v, lr, mu, wd),
                     list(sgd_momentum_step(w, dw, v, lr, mu, wd)),
                     what="(w_new, velocity_new)", names=("w_new", "velocity_new"),
                     mistakes={"w_new": mistakes}, settings=settings,
                     name=f"step, {label}", group="step")


def build_adam(plan, rng):
    for settings in cases({S.STEP: "later", S.WEIGHT_DECAY: 0.0, S.DTYPE: "float64",
                           S.SCALE: 1}, {S.STEP: "first"}, {S.WEIGHT_DECAY: 0.1},
                          {S.DTYPE: "float32"}, {S.SCALE: 1e-5}):
        dtype = getattr(np, settings[S.DTYPE])
        t = 1 if settings[S.STEP] == "first" else 4
        lr, wd, scale = 1e-2, settings[S.WEIGHT_DECAY], settings[S.SCALE]
        w = rng.standard_normal((3, 4)).astype(dtype)
        dw = (scale * rng.standard_normal((3, 4))).astype(dtype)
        if t == 1:
            m, v = np.zeros_like(w), np.zeros_like(w)
        else:
            m = (0.1 * scale * rng.standard_normal((3, 4))).astype(dtype)
            v = (0.1 * scale ** 2 * rng.uniform(0.1, 1, (3, 4))).astype(dtype)
        g = dw + wd * w
        m_new, v_new = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        m_hat, v_hat = m_new / (1 - 0.9 ** t), v_new / (1 - 0.999 ** t)
        label = (f"{'first step (m, v zeros)' if t == 1 else f'step t = {t}'}, lr {lr}"
                 + (f", weight_decay {wd}" if wd else "") + float32_suffix(dtype)
                 + (f", gradients of about {scale:g}" if scale != 1 else ""))
        mistakes = [
            Mistake("adam.no_bias_correction", (
                "Adam without bias correction: divide m by (1 - beta1**t) and v by "
                "(1 - beta2**t) before the step"), w - lr * m_new / (np.sqrt(v_new) + 1e-8)),
            Mistake("adam.t_minus_1", (
                "the bias correction uses t - 1: t is the 1-based step count (1 on the first "
                "step)"), w - lr * (m_new / (1 - 0.9 ** (t - 1))) / (
                    np.sqrt(v_new / (1 - 0.999 ** (t - 1))) + 1e-8) if t > 1 else None),
            Mistake("adam.eps_inside_sqrt", (
                "eps is inside the square root; Adam adds it outside: w - lr * m_hat / "
                "(sqrt(v_hat) + eps)"), w - lr * m_hat / np.sqrt(v_hat + 1e-8)),
            Mistake("adam.adamw", ("weight decay applied to w (AdamW); Adam adds "
                                   "weight_decay * w to the gradient"),
                    adam_answer(w * (1 - lr * wd), dw, m, v, t, lr)[0] if wd else None),
        ]
        forward_case(plan, "adam_step", label, (w, dw, m, v, t, lr, 0.9, 0.999, 1e-8, wd),
                     list(adam_answer(w, dw, m, v, t, lr, weight_decay=wd)), count=3,
                     what="(w_new, m_new, v_new)", names=("w_new", "m_new", "v_new"),
                     mistakes={"w_new": mistakes}, settings=settings, name=f"step, {label}",
                     group="step")
