"""Adam and AdamW, step for step as torch.optim.Adam / AdamW."""

import math

import numpy as np

from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba), with L2 ``weight_decay`` added to the gradient as in PyTorch.

    For each parameter, at step t (torch.optim.Adam's update rule)::

        g = g + weight_decay * p                      (Adam; AdamW decays p instead)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        m_hat = m / (1 - beta1^t)     v_hat = v / (1 - beta2^t)
        p = p - lr * m_hat / (sqrt(v_hat) + eps)
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        super().__init__(params, lr)
        if amsgrad:
            raise NotImplementedError("amsgrad is not supported")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1) or eps < 0 or weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: invalid betas={betas}, eps={eps} or "
                             f"weight_decay={weight_decay}")
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay

    def step(self):
        beta1, beta2 = self.betas
        for p, state in self._trainable():
            g = p.grad
            if self.weight_decay:
                if self._decoupled:
                    p.data *= p.data.dtype.type(1 - self.lr * self.weight_decay)
                else:
                    g = g + self.weight_decay * p.data
            if not state:
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(p.data)
                state["exp_avg_sq"] = np.zeros_like(p.data)
            state["step"] += 1
            t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            bias1 = 1 - beta1 ** t
            bias2 = 1 - beta2 ** t
            # PyTorch's order of operations: denom = sqrt(v) / sqrt(bias2) + eps
            denom = np.sqrt(v) / p.data.dtype.type(math.sqrt(bias2)) + p.data.dtype.type(self.eps)
            p.data -= p.data.dtype.type(self.lr / bias1) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p = p * (1 - lr * weight_decay)`` before the
    Adam step (torch.optim.AdamW; default weight_decay 0.01)."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
