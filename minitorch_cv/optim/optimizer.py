"""Optimizer base class: parameter list, per-parameter state, zero_grad, state dicts."""

import copy

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
        """Hyperparameters and state, as copies (for checkpoints).

        Returns
        -------
        dict
            ``{"hyper": {name: value}, "state": [one dict per parameter]}``; the state
            holds arrays (momentum buffers, moments) and ints (Adam's ``step``).
        """
        hyper = {k: copy.deepcopy(v) for k, v in vars(self).items()
                 if k not in ("params", "state")}
        return {"hyper": hyper,
                "state": [{k: (np.array(v, copy=True) if isinstance(v, np.ndarray)
                               else copy.deepcopy(v))
                           for k, v in s.items()} for s in self.state]}

    def load_state_dict(self, sd):
        """Load what :meth:`state_dict` returned, as copies.

        Arrays are copied (floating ones cast to their parameter's dtype, as
        torch.optim does), so later steps never write into the caller's dict, and
        that dict can be loaded again. A tuple hyperparameter (Adam's ``betas``) stays a
        tuple when it comes back as a list (from JSON).

        Raises
        ------
        ValueError
            If the state is for another number of parameters, an array's shape differs
            from its parameter's, or a hyperparameter is unknown to this optimizer.
            Nothing is changed then.
        TypeError
            If a parameter's state is not a dict.
        """
        name = type(self).__name__
        try:
            hyper, states = dict(sd["hyper"]), list(sd["state"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'hyper' and "
                             "'state', as state_dict() returns") from None
        if len(states) != len(self.params):
            raise ValueError(f"{name}.load_state_dict: state for "
                             f"{len(states)} parameters, optimizer has {len(self.params)}")
        current = vars(self)
        unknown = sorted(k for k in hyper if k in ("params", "state") or k not in current)
        if unknown:
            raise ValueError(f"{name}.load_state_dict: unknown hyperparameters {unknown}")
        new_state = []
        for i, (p, s) in enumerate(zip(self.params, states)):
            if not isinstance(s, dict):
                raise TypeError(f"{name}.load_state_dict: the state of parameter {i} is a "
                                 f"{type(s).__name__}, not a dict")
            entry = {}
            for key, value in s.items():
                if isinstance(value, np.ndarray):
                    if value.ndim and value.shape != p.data.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: state[{i}][{key!r}] has shape "
                            f"{value.shape}, its parameter {p.data.shape}")
                    floating = np.issubdtype(value.dtype, np.floating)
                    value = np.array(value, dtype=p.data.dtype if floating else value.dtype,
                                     copy=True)
                else:
                    value = copy.deepcopy(value)
                entry[key] = value
            new_state.append(entry)
        for key, value in hyper.items():
            if isinstance(current[key], tuple) and isinstance(value, list):
                value = tuple(value)
            setattr(self, key, copy.deepcopy(value))
        self.state = new_state
