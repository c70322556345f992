"""Adam and AdamW, step for step as torch.optim.Adam / AdamW."""

import math

import numpy as np

from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba): for each parameter, at step t, with its group's hyperparameters
    (torch.optim.Adam's update rule)::

        g = -g                                        (if maximize)
        g = g + weight_decay * p                      (Adam; AdamW decays p instead:
                                                       p = p * (1 - lr * weight_decay))
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        m_hat = m / (1 - beta1^t)     v_hat = v / (1 - beta2^t)
        p = p - lr * m_hat / (sqrt(v_hat) + eps)

    ``params`` may be parameter groups (:class:`~minitorch_cv.optim.Optimizer`);
    ``betas`` are in [0, 1); ``amsgrad=True`` is not supported (NotImplementedError)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": amsgrad,
                                  "maximize": maximize, "decoupled_weight_decay":
                                  decoupled_weight_decay})

    def _check_group(self, group, index):
        if group["amsgrad"]:
            raise NotImplementedError("amsgrad is not supported")
        super()._check_group(group, index)
        betas = group["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"{type(self).__name__}: betas must be a pair of numbers in "
                             f"[0, 1), got {betas!r}")
        group["betas"] = tuple(betas)
        for beta in betas:
            self._check_number({"betas": beta}, "betas", index, low=0.0, high=1.0, high_open=True)
        self._check_number(group, "eps", index, low=0.0)
        self._check_number(group, "weight_decay", index, low=0.0)

    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay = group["weight_decay"]
            for p, state in self._trainable(group):
                g = -p.grad if group["maximize"] else p.grad
                if weight_decay:
                    if group["decoupled_weight_decay"]:
                        p.data *= p.data.dtype.type(1 - lr * weight_decay)
                    else:
                        g = g + weight_decay * p.data
                if not state:
                    state.update(step=0, exp_avg=np.zeros_like(p.data),
                                 exp_avg_sq=np.zeros_like(p.data))
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                bias1, bias2 = 1 - beta1 ** t, 1 - beta2 ** t
                # PyTorch's order of operations: denom = sqrt(v) / sqrt(bias2) + eps
                denom = np.sqrt(v) / p.data.dtype.type(math.sqrt(bias2)) \
                    + p.data.dtype.type(eps)
                p.data -= p.data.dtype.type(lr / bias1) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p = p * (1 - lr * weight_decay)`` before the
    Adam step (torch.optim.AdamW; default weight_decay 0.01). Parameters as
    :class:`Adam`."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
