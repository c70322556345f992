"""Optimizer base class: parameter groups, per-parameter state and state dicts, in
torch.optim's layout, hyperparameters under torch's names (docs/layers.md shows them)."""

import copy
import numbers

import numpy as np

from ..nn.module import Parameter

__all__ = ["Optimizer"]

# What a group holds besides hyperparameters ("initial_lr" is a scheduler's, as in torch)
_GROUP_KEYS = ("params", "initial_lr")


def _refuse_set(name, params):
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{name}: parameters need a fixed order (a list, or "
                        "model.parameters()), not a set, whose order varies per run")


class Optimizer:
    """Parameter groups with their hyperparameters, and a ``state`` dict per parameter.

    ``params`` are Parameters, or groups: dicts with ``"params"`` and any hyperparameter
    that differs from ``defaults``. ``state`` holds one dict per parameter, numbered
    through the groups. ``opt.lr`` reads the lr every group shares, ``opt.lr = 0.01`` sets
    it in every group. ``step`` skips frozen parameters and those without a gradient.
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
        _refuse_set(name, params)
        params = list(params)
        if params and not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)
        if not self.params:
            raise ValueError(f"{name} got an empty parameter list")

    @property
    def params(self):
        """All parameters, group after group (the numbering of ``state``)."""
        return [p for group in self.param_groups for p in group["params"]]

    def _numbered_groups(self):
        """(group, the indices of its parameters) for each group, numbered as ``state``."""
        start = 0
        for group in self.param_groups:
            yield group, list(range(start, start + len(group["params"])))
            start += len(group["params"])

    def _unknown_keys(self, group):
        return sorted(k for k in group if k not in self.defaults and k not in _GROUP_KEYS)

    def add_param_group(self, param_group):
        """Add a group of parameters with its own hyperparameters (torch's method), e.g. a
        frozen part of a network to fine-tune later with a smaller learning rate. A bad
        group (a parameter already optimized, an unknown key, a value out of range, not
        Parameters) raises ValueError or TypeError, and nothing is added."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: a parameter group is a dict with "
                            f"'params', got a {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}.add_param_group: the group has no 'params'")
        params = param_group["params"]
        _refuse_set(name, params)
        params = [params] if isinstance(params, Parameter) else list(params)
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
        unknown = self._unknown_keys(param_group)
        if unknown:
            raise ValueError(f"{name}: unknown hyperparameters {unknown} in a parameter "
                             f"group (this optimizer has {sorted(self.defaults)})")
        group = {"params": params, **copy.deepcopy(self.defaults)}
        group.update((k, v) for k, v in param_group.items() if k != "params")
        self._check_group(group, len(self.param_groups))
        self.param_groups.append(group)
        self.state.extend({} for _ in params)

    def _check_group(self, group, index):
        """Raise ValueError if a hyperparameter of group ``index`` is out of range."""
        self._check_number(group, "lr", index, low=0.0)

    def _check_number(self, group, key, index, low=None, high=None, high_open=False):
        """``group[key]`` is a real number in [low, high] (or [low, high)), or ValueError."""
        value = group[key]
        in_range = (isinstance(value, numbers.Real) and not isinstance(value, bool)
                    and (low is None or value >= low)
                    and (high is None or (value < high if high_open else value <= high)))
        if not in_range:
            bounds = [f">= {low}"] if low is not None else []
            if high is not None:
                bounds.append(f"< {high}" if high_open else f"<= {high}")
            what = "learning rate" if key == "lr" else key
            where = f" (parameter group {index})" if index else ""
            raise ValueError(f"{type(self).__name__}: {what} must be a number "
                             f"{' and '.join(bounds)}, got {value!r}{where}")

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

    def _trainable(self, group):
        """(parameter, its state) for each parameter of ``group`` with a gradient to apply."""
        indices = next(i for g, i in self._numbered_groups() if g is group)
        for i, p in zip(indices, group["params"]):
            if p.requires_grad and p.grad is not None:
                yield p, self.state[i]

    def step(self):
        raise NotImplementedError

    def zero_grad(self):
        """Reset gradients (to None, like PyTorch's set_to_none=True)."""
        for p in self.params:
            p.grad = None

    def state_dict(self):
        """Hyperparameters and state as copies, in torch.optim's layout: ``{"state":
        {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}`` (``state`` lists
        only parameters that have state)."""
        groups = [{**{k: copy.deepcopy(v) for k, v in group.items() if k != "params"},
                   "params": indices} for group, indices in self._numbered_groups()]
        state = {i: {k: (np.array(v, copy=True) if isinstance(v, np.ndarray)
                         else copy.deepcopy(v)) for k, v in s.items()}
                 for i, s in enumerate(self.state) if s}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load what :meth:`state_dict` returned (or the layout before parameter groups,
        ``{"hyper": {...}, "state": [...]}``) as copies in the parameters' dtypes, matching
        parameters by position as torch does. A state that does not fit raises ValueError
        or TypeError and changes nothing."""
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
        """The saved groups checked and applied to copies, and each saved index's position."""
        name = f"{type(self).__name__}.load_state_dict"
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{name}: {len(groups)} parameter groups saved, the optimizer "
                             f"has {len(self.param_groups)}")
        position, new_groups = {}, []
        for i, (saved, current) in enumerate(zip(groups, self.param_groups)):
            if not isinstance(saved, dict):
                raise TypeError(f"{name}: parameter group {i} is a {type(saved).__name__}, "
                                "not a dict")
            indices = list(saved.get("params", ()))
            if len(indices) != len(current["params"]):
                raise ValueError(f"{name}: parameter group {i} was saved with {len(indices)} "
                                 f"parameters, here it has {len(current['params'])}")
            unknown = self._unknown_keys(saved)
            if unknown:
                raise ValueError(f"{name}: unknown hyperparameters {unknown} in parameter "
                                 f"group {i}")
            group = dict(current)
            for key, value in saved.items():
                if isinstance(self.defaults.get(key), tuple) and isinstance(value, list):
                    value = tuple(value)
                if key != "params":
                    group[key] = copy.deepcopy(value)
            self._check_group(group, i)
            new_groups.append(group)
            for index in indices:
                position[str(index)] = len(position)
        return new_groups, position

    def _loaded_state(self, states, position):
        """The saved state as copies, one dict per parameter (arrays checked and cast)."""
        name = f"{type(self).__name__}.load_state_dict"
        params = self.params
        new_state = [{} for _ in params]
        for key, s in states.items():
            i = position.get(str(key))
            if i is None:
                raise ValueError(f"{name}: state for parameter {key!r}, which no saved "
                                 "parameter group lists")
            if not isinstance(s, dict):
                raise TypeError(f"{name}: the state of parameter {i} is a "
                                f"{type(s).__name__}, not a dict")
            p = params[i]
            for k, value in s.items():
                if not isinstance(value, np.ndarray):
                    new_state[i][k] = copy.deepcopy(value)
                    continue
                if value.ndim and value.shape != p.data.shape:
                    raise ValueError(f"{name}: state[{i}][{k!r}] has shape {value.shape}, "
                                     f"its parameter {p.data.shape}")
                floating = np.issubdtype(value.dtype, np.floating)
                new_state[i][k] = np.array(value, copy=True,
                                           dtype=p.data.dtype if floating else value.dtype)
        return new_state

    def _from_hyper_layout(self, state_dict):
        """The layout before parameter groups, as :meth:`state_dict` writes it now."""
        name = f"{type(self).__name__}.load_state_dict"
        try:
            hyper, states = dict(state_dict["hyper"]), list(state_dict["state"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{name}: expected a dict with 'hyper' and 'state' (the layout "
                             "before parameter groups)") from None
        if len(states) != len(self.params):
            raise ValueError(f"{name}: state for {len(states)} parameters, optimizer has "
                             f"{len(self.params)}")
        return {"state": {i: s for i, s in enumerate(states) if s != {}},
                "param_groups": [{**hyper, "params": indices}
                                 for _, indices in self._numbered_groups()]}
