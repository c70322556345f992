"""Stochastic gradient descent, step for step as torch.optim.SGD."""

from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with momentum, dampening, Nesterov momentum and L2 weight decay: for each
    parameter p with gradient g, with its group's hyperparameters (torch.optim.SGD's rule)::

        g = -g                                        (if maximize)
        g = g + weight_decay * p
        if momentum:
            buf = g                                   (first step)
            buf = momentum * buf + (1 - dampening) * g   (later steps)
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g

    ``params`` may be parameter groups (:class:`~minitorch_cv.optim.Optimizer`)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov,
                                  "maximize": maximize})

    def _check_group(self, group, index):
        super()._check_group(group, index)
        self._check_number(group, "momentum", index, low=0.0)
        self._check_number(group, "weight_decay", index, low=0.0)
        self._check_number(group, "dampening", index)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires momentum > 0 and dampening 0")

    def step(self):
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for p, state in self._trainable(group):
                g = -p.grad if group["maximize"] else p.grad
                if weight_decay:
                    g = g + weight_decay * p.data
                if momentum:
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = g.copy()
                    else:
                        buf *= momentum
                        buf += (1 - dampening) * g
                    g = g + momentum * buf if nesterov else buf
                p.data -= p.data.dtype.type(lr) * g
