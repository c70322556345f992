"""Optimizer base class: parameter groups, per-parameter state, zero_grad, state dicts.

The layout is torch.optim's. ``optimizer.param_groups`` is a list of dicts, each holding
``"params"`` (a list of parameters) and that group's hyperparameters under torch's names
(``"lr"``, ``"momentum"``, ``"weight_decay"``, ``"betas"``, ...)::

    opt = optim.SGD([{"params": model[0].parameters()},              # lr 0.1 (the default)
                     {"params": model[2].parameters(), "lr": 0.01}],  # its own lr
                    lr=0.1, momentum=0.9)
    opt.param_groups[1]["lr"] = 0.001          # what a learning-rate scheduler does

``state_dict()`` is torch's too: ``{"state": {index: {...}}, "param_groups": [{...,
"params": [index, ...]}]}``, parameters numbered 0, 1, ... through the groups in order.
"""

import copy
import numbers

import numpy as np

from ..nn.module import Parameter

__all__ = ["Optimizer"]

# Keys a parameter group may hold besides its optimizer's hyperparameters: "params" and
# "initial_lr", which a learning-rate scheduler writes (as torch's do).
_GROUP_KEYS = ("params", "initial_lr")


class _Required:
    """The default of a hyperparameter every parameter group must give (none yet)."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Parameter groups with their hyperparameters, and a ``state`` dict per parameter.

    Parameters
    ----------
    params : iterable of Parameter, or iterable of dict
        The parameters to optimize, or parameter groups: dicts with ``"params"`` and, for
        any hyperparameter that differs from ``defaults``, its value.
    defaults : dict
        The hyperparameters of a group that does not give its own.

    Attributes
    ----------
    param_groups : list of dict
        ``{"params": [Parameter, ...], "lr": ..., ...}`` per group (torch's layout). A
        scheduler, or your own code, changes a group's ``"lr"`` here.
    state : list of dict
        One dict per parameter, numbered through the groups in order (momentum buffers,
        Adam's moments and step count); ``state[i]`` belongs to ``params[i]``. (torch keys
        its ``state`` by the tensor; its ``state_dict()`` by this same number.)
    params : list of Parameter
        All parameters, group after group.

    Notes
    -----
    A hyperparameter is also an attribute, for code written before parameter groups:
    ``opt.lr`` reads the learning rate when every group has the same one (an
    ``AttributeError`` names the groups' values otherwise), and ``opt.lr = 0.01`` sets
    it in every group.

    Frozen parameters (``requires_grad=False``) and parameters without a gradient are
    skipped by ``step``, as in torch.optim.
    """

    def __init__(self, params, defaults):
        if not isinstance(defaults, dict):     # the signature before parameter groups
            defaults = {"lr": defaults}
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = []
        name = type(self).__name__
        if isinstance(params, (Parameter, np.ndarray, dict)):
            raise TypeError(f"{name}: params should be an iterable of Parameters or of "
                            f"dicts (parameter groups), got a {type(params).__name__}; "
                            "pass model.parameters() or a list")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: parameters need a fixed order (a list, or "
                            "model.parameters()), not a set, whose order varies per run")
        params = list(params)
        if not params:
            raise ValueError(f"{name} got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)
        if not self.params:
            raise ValueError(f"{name} got an empty parameter list")

    # ----------------------------------------------------------------- groups
    @property
    def params(self):
        """All parameters, group after group (the numbering of ``state``)."""
        return [p for group in self.param_groups for p in group["params"]]

    def add_param_group(self, param_group):
        """Add a group of parameters with its own hyperparameters (torch's method).

        Useful to train a frozen part of a network later on (fine-tuning): its parameters
        join with, for example, a smaller learning rate.

        Parameters
        ----------
        param_group : dict
            ``"params"`` (a Parameter or an iterable of them) and any hyperparameter that
            differs from this optimizer's defaults.

        Raises
        ------
        TypeError
            If ``param_group`` is not a dict, its params are a set (no fixed order) or
            hold something that is not a Parameter.
        ValueError
            If a parameter is already optimized (in this or another group), a key is not
            a hyperparameter of this optimizer, or a value is out of range. Nothing is
            added then.
        """
        name = type(self).__name__
        params = self._new_group_params(param_group)
        unknown = sorted(k for k in param_group
                         if k not in self.defaults and k not in _GROUP_KEYS)
        if unknown:
            raise ValueError(f"{name}: unknown hyperparameters {unknown} in a parameter "
                             f"group (this optimizer has {sorted(self.defaults)})")
        group = {"params": params}
        for key, default in self.defaults.items():
            if key in param_group:
                group[key] = param_group[key]
            elif default is required:
                raise ValueError(f"{name}: the parameter group gives no {key!r}, which "
                                 "has no default")
            else:
                group[key] = copy.deepcopy(default)
        if "initial_lr" in param_group:
            group["initial_lr"] = param_group["initial_lr"]
        self._check_group(group, len(self.param_groups))
        self.param_groups.append(group)
        self.state.extend({} for _ in params)

    def _new_group_params(self, param_group):
        """The parameters of a group to add, as a list, or a clear error: not a dict, no
        ``params``, a set (no fixed order), something else than Parameters, a parameter
        twice or already optimized."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: a parameter group is a dict with "
                            f"'params', got a {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}.add_param_group: the group has no 'params'")
        params = param_group["params"]
        if isinstance(params, Parameter):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: parameters need a fixed order (a list, or "
                            "model.parameters()), not a set, whose order varies per run")
        else:
            params = list(params)
        for p in params:
            if isinstance(p, tuple) and len(p) == 2 and isinstance(p[1], Parameter):
                raise TypeError(f"{name}: got (name, parameter) pairs; pass "
                                "model.parameters(), not model.named_parameters()")
            if not isinstance(p, Parameter):
                raise TypeError(f"{name} can only optimize Parameters, got a "
                                f"{type(p).__name__}")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{name}: a parameter group holds the same parameter twice")
        if set(ids) & {id(p) for p in self.params}:
            raise ValueError(f"{name}: some parameters appear in more than one parameter "
                             "group")
        return params

    def _check_group(self, group, index):
        """Raise ValueError if a hyperparameter of ``group`` is out of range (subclasses
        extend it); ``index`` is the group's position, for the message."""
        self._check_number(group, "lr", index, low=0.0)

    def _check_number(self, group, key, index, low=None, high=None, high_open=False):
        """``group[key]`` is a real number in [low, high] (or [low, high)), or ValueError."""
        value = group[key]
        where = f" (parameter group {index})" if index else ""
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) \
            and (low is None or value >= low) \
            and (high is None or (value < high if high_open else value <= high))
        if not ok:
            bounds = " and ".join(b for b in (
                f">= {low}" if low is not None else "",
                (f"< {high}" if high_open else f"<= {high}") if high is not None else "")
                if b)
            what = "learning rate" if key == "lr" else key
            raise ValueError(f"{type(self).__name__}: {what} must be a number {bounds}, "
                             f"got {value!r}{where}")

    def __getattr__(self, name):
        # Only reached when ordinary lookup fails: a hyperparameter read as an attribute.
        defaults = self.__dict__.get("defaults", {})
        groups = self.__dict__.get("param_groups")
        if name in defaults and groups:
            values = [group[name] for group in groups]
            if all(v == values[0] for v in values[1:]):
                return values[0]
            raise AttributeError(f"{type(self).__name__}.{name}: the parameter groups have "
                                 f"different values {values}; read "
                                 f"optimizer.param_groups[i][{name!r}]")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name, value):
        defaults = self.__dict__.get("defaults", {})
        groups = self.__dict__.get("param_groups")
        if name in defaults and groups is not None:
            for i, group in enumerate(groups):       # check all before changing any
                self._check_group({**group, name: value}, i)
            for group in groups:
                group[name] = copy.deepcopy(value)
        else:
            object.__setattr__(self, name, value)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in group.items() if k != "params")
        return "\n".join(lines) + "\n)"

    # ----------------------------------------------------------------- stepping
    def _trainable(self, group):
        """Yield (parameter, its state) for every parameter of ``group`` that has a
        gradient to apply."""
        start = 0
        for g in self.param_groups:
            if g is group:
                break
            start += len(g["params"])
        for i, p in enumerate(group["params"]):
            if p.requires_grad and p.grad is not None:
                yield p, self.state[start + i]

    def step(self):
        raise NotImplementedError

    def zero_grad(self):
        """Reset gradients (to None, like PyTorch's set_to_none=True)."""
        for p in self.params:
            p.grad = None

    # ----------------------------------------------------------------- state dicts
    def state_dict(self):
        """Hyperparameters and state in torch.optim's layout, as copies (for checkpoints).

        Returns
        -------
        dict
            ``{"state": {index: {...}}, "param_groups": [{hyperparameters...,
            "params": [index, ...]}]}``: parameters are numbered 0, 1, ... through the
            groups in order; ``state`` lists only parameters that have state (momentum
            buffers, Adam's moments as arrays, Adam's ``step`` as an int).
        """
        groups, start = [], 0
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(packed)
        state = {i: {k: (np.array(v, copy=True) if isinstance(v, np.ndarray)
                         else copy.deepcopy(v)) for k, v in s.items()}
                 for i, s in enumerate(self.state) if s}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load what :meth:`state_dict` returned, as copies.

        Parameters are matched by position, as in torch: the i-th index listed in the
        saved groups is this optimizer's i-th parameter. Arrays are copied (floating ones
        cast to their parameter's dtype, as torch.optim does), so later steps never write
        into the caller's dict, and that dict can be loaded again. State keys may be
        strings (``"0"``, from JSON) and a tuple hyperparameter (Adam's ``betas``) stays a
        tuple when it comes back as a list.

        The layout of versions before parameter groups, ``{"hyper": {name: value},
        "state": [one dict per parameter]}``, is accepted as well (one set of
        hyperparameters for every group), so their checkpoints still load.

        Raises
        ------
        ValueError
            If the state is for other groups or another number of parameters, an array's
            shape differs from its parameter's, or a hyperparameter is unknown to this
            optimizer or out of range. Nothing is changed then.
        TypeError
            If a parameter's state is not a dict.
        """
        name = type(self).__name__
        if isinstance(state_dict, dict) and "hyper" in state_dict:
            state_dict = self._from_hyper_layout(state_dict)
        try:
            states, groups = state_dict["state"], list(state_dict["param_groups"])
            states = dict(states.items()) if isinstance(states, dict) else None
        except (KeyError, TypeError, ValueError, AttributeError):
            states = None
        if states is None:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             "'param_groups', as state_dict() returns")
        new_groups, position = self._loaded_groups(groups)
        new_state = self._loaded_state(states, position)
        for current, group in zip(self.param_groups, new_groups):
            current.clear()                  # in place: references to a group stay valid
            current.update(group)
        self.state = new_state

    def _loaded_groups(self, groups):
        """The saved ``param_groups`` checked against this optimizer's, as new groups (the
        current parameters, the saved hyperparameters), and the position of each saved
        parameter index among this optimizer's parameters."""
        name = type(self).__name__
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: {len(groups)} parameter groups "
                             f"saved, the optimizer has {len(self.param_groups)}")
        position, new_groups = {}, []
        for i, (saved, current) in enumerate(zip(groups, self.param_groups)):
            if not isinstance(saved, dict):
                raise TypeError(f"{name}.load_state_dict: parameter group {i} is a "
                                f"{type(saved).__name__}, not a dict")
            indices = list(saved.get("params", ()))
            if len(indices) != len(current["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} was saved "
                                 f"with {len(indices)} parameters, here it has "
                                 f"{len(current['params'])}")
            unknown = sorted(k for k in saved
                             if k not in self.defaults and k not in _GROUP_KEYS)
            if unknown:
                raise ValueError(f"{name}.load_state_dict: unknown hyperparameters "
                                 f"{unknown} in parameter group {i}")
            group = dict(current)
            for key, value in saved.items():
                if key == "params":
                    continue
                if isinstance(self.defaults.get(key), tuple) and isinstance(value, list):
                    value = tuple(value)
                group[key] = copy.deepcopy(value)
            self._check_group(group, i)
            new_groups.append(group)
            for index in indices:
                position[str(index)] = len(position)
        return new_groups, position

    def _loaded_state(self, states, position):
        """The saved per-parameter state as copies, one dict per parameter of this
        optimizer: arrays of their parameter's shape, floating ones in its dtype."""
        name = type(self).__name__
        params = self.params
        new_state = [{} for _ in params]
        for key, s in states.items():
            i = position.get(str(key))
            if i is None:
                raise ValueError(f"{name}.load_state_dict: state for parameter {key!r}, "
                                 "which no saved parameter group lists")
            if not isinstance(s, dict):
                raise TypeError(f"{name}.load_state_dict: the state of parameter {i} is a "
                                f"{type(s).__name__}, not a dict")
            p = params[i]
            for k, value in s.items():
                if isinstance(value, np.ndarray):
                    if value.ndim and value.shape != p.data.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: state[{i}][{k!r}] has shape "
                            f"{value.shape}, its parameter {p.data.shape}")
                    floating = np.issubdtype(value.dtype, np.floating)
                    value = np.array(value, dtype=p.data.dtype if floating else value.dtype,
                                     copy=True)
                else:
                    value = copy.deepcopy(value)
                new_state[i][k] = value
        return new_state

    def _from_hyper_layout(self, state_dict):
        """The layout before parameter groups, as :meth:`state_dict` writes it now."""
        name = type(self).__name__
        try:
            hyper, states = dict(state_dict["hyper"]), list(state_dict["state"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'hyper' and "
                             "'state' (the layout before parameter groups)") from None
        params = self.params
        if len(states) != len(params):
            raise ValueError(f"{name}.load_state_dict: state for "
                             f"{len(states)} parameters, optimizer has {len(params)}")
        unknown = sorted(k for k in hyper if k not in self.defaults)
        if unknown:
            raise ValueError(f"{name}.load_state_dict: unknown hyperparameters {unknown}")
        groups, start = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            groups.append({**hyper, "params": list(range(start, start + n))})
            start += n
        return {"state": {i: s for i, s in enumerate(states) if s != {}},
                "param_groups": groups}
