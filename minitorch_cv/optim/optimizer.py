"""Optimizer base class: parameter list, per-parameter state, zero_grad, state dicts."""

import numpy as np

__all__ = ["Optimizer"]


class Optimizer:
    """Holds the parameters and a ``state`` dict per parameter (momentum buffers, ...).

    Frozen parameters (``requires_grad=False``) and parameters without a gradient are
    skipped by ``step``, as in torch.optim.
    """

    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not lr >= 0.0:
            raise ValueError(f"{type(self).__name__}: learning rate must be >= 0, got {lr}")
        self.lr = lr
        self.state = [{} for _ in self.params]

    def _trainable(self):
        """Yield (parameter, its state) for every parameter that has a gradient to apply."""
        for p, state in zip(self.params, self.state):
            if p.requires_grad and p.grad is not None:
                yield p, state

    def step(self):
        raise NotImplementedError

    def zero_grad(self):
        """Reset gradients (to None, like PyTorch's set_to_none=True)."""
        for p in self.params:
            p.grad = None

    def state_dict(self):
        """Hyperparameters and state, as plain arrays (for checkpoints)."""
        hyper = {k: v for k, v in vars(self).items() if k not in ("params", "state")}
        return {"hyper": hyper,
                "state": [{k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                           for k, v in s.items()} for s in self.state]}

    def load_state_dict(self, sd):
        if len(sd["state"]) != len(self.params):
            raise ValueError(f"{type(self).__name__}.load_state_dict: state for "
                             f"{len(sd['state'])} parameters, optimizer has {len(self.params)}")
        for k, v in sd["hyper"].items():
            setattr(self, k, v)
        self.state = [dict(s) for s in sd["state"]]
