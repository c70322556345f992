"""Module, Parameter and ``no_grad``: the mechanics every layer shares.

``forward(x)`` computes the output and keeps what backward needs; ``backward(dout)`` adds
dL/d(parameter) into each ``Parameter.grad`` (gradients accumulate until ``zero_grad``) and
returns dL/d(input). No autograd: composite modules chain their children's backward passes.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections import OrderedDict

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from ..checks import check_input
from . import init

__all__ = ["Parameter", "Module", "no_grad", "is_grad_enabled", "has_trainable_parameters",
           "backward_through"]

_grad_state = threading.local()


def is_grad_enabled() -> bool:
    """True unless inside a ``with no_grad():`` block."""
    return getattr(_grad_state, "enabled", True)


@contextlib.contextmanager
def no_grad():
    """Run forward passes that keep nothing for backward (inference, evaluation): no layer
    stores its cache, and calling ``backward`` afterwards raises an error."""
    previous = is_grad_enabled()
    _grad_state.enabled = False
    try:
        yield
    finally:
        _grad_state.enabled = previous


def _operand(value):
    """A Parameter as its array; anything else unchanged."""
    return value.data if isinstance(value, Parameter) else value


class Parameter(NDArrayOperatorsMixin):
    """A trainable array and its gradient.

    Attributes
    ----------
    data : np.ndarray
    grad : np.ndarray or None
        dL/d(data), same shape as ``data``; ``None`` until the first backward pass.
    requires_grad : bool
        A frozen parameter (``False``) receives no gradient and optimizers skip it.

    Notes
    -----
    Works where NumPy expects an array: ``np.asarray(p)`` is ``p.data`` and ``p.shape`` its
    shape; ``p * 2``, ``np.exp(p)``, ``p[0]`` give plain ndarrays (no autograd), and
    ``p -= lr * p.grad`` changes ``p.data`` in place. ``==`` compares identity (``p in
    model.parameters()``), so compare values with ``np.array_equal(p, q)``; ``bool(p)`` is
    always True.
    """

    def __init__(self, data, requires_grad: bool = True):
        self.data = np.asarray(data)
        self.grad: np.ndarray | None = None
        self.requires_grad = requires_grad

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    def accumulate_grad(self, g: np.ndarray) -> None:
        """Add ``g`` into ``grad`` (allocating it on first use)."""
        if not self.requires_grad:
            return
        if self.grad is None:
            self.grad = np.array(g, dtype=self.data.dtype, copy=True)
        else:
            self.grad += g

    # NumPy interoperability: reads of ``data``, results are plain arrays.
    def __array__(self, dtype=None, copy=None):
        if copy is False and dtype is not None and np.dtype(dtype) != self.data.dtype:
            raise ValueError(f"Parameter: {self.data.dtype} data cannot be read as {dtype} "
                             "without a copy")
        # ``data`` itself when no copy is needed (NumPy 1.x refuses copy=None)
        return np.array(self.data, dtype, copy=True) if copy else np.asarray(self.data, dtype)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        return self.data[_operand(index)]

    def __bool__(self):
        return True

    # The operators (``p * 2``, ``x @ p``, ``-p``, ``p < 0``, ``p -= g``) come from NumPy's
    # mixin, which calls the ufunc; it runs here on ``data``.
    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        inputs = [_operand(value) for value in inputs]
        if out is None:
            return getattr(ufunc, method)(*inputs, **kwargs)
        # In place: write into ``data`` and keep this Parameter (else ``p -= lr * p.grad``
        # would rebind ``p`` to a plain array and leave the parameter unchanged).
        getattr(ufunc, method)(*inputs, out=tuple(_operand(o) for o in out), **kwargs)
        return out[0] if len(out) == 1 else out

    # Identity, not elementwise, so containers of parameters behave (see Notes).
    __eq__, __ne__, __hash__ = object.__eq__, object.__ne__, object.__hash__

    def __repr__(self) -> str:
        return (f"Parameter(shape={self.data.shape}, dtype={self.data.dtype}, "
                f"requires_grad={self.requires_grad})")


class Module:
    """Base class of every layer and network.

    Assigning a :class:`Parameter` or :class:`Module` as an attribute registers it;
    :meth:`register_buffer` registers non-trained state (running statistics). ``state_dict``
    lists own parameters, own buffers, then each child's with a dotted prefix, as PyTorch.
    """

    def __init__(self):
        self.__dict__.update(_parameters=OrderedDict(), _buffers=OrderedDict(),
                             _modules=OrderedDict(), training=True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}.__init__ must call super().__init__() "
                "before assigning attributes")
        if name in self._parameters and not (value is None or isinstance(value, Parameter)):
            raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                            f"(Parameter or None expected); to change the values assign "
                            f"to {name}.data")
        table = (self._parameters if isinstance(value, Parameter)
                 else self._modules if isinstance(value, Module)
                 else self._buffers if name in self._buffers
                 else None)
        for other in (self._parameters, self._buffers, self._modules):
            if other is not table:
                other.pop(name, None)
        if table is None:
            object.__setattr__(self, name, value)
        else:
            self.__dict__.pop(name, None)      # e.g. a bias that was None
            table[name] = value                # a name already there keeps its place

    def __getattr__(self, name):
        # Called only when normal lookup fails: look in the registries.
        for table in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(table, ()):
                return self.__dict__[table][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value) -> None:
        """Register a non-trainable array (e.g. ``running_mean``) saved in the state dict."""
        self.__dict__.pop(name, None)
        self._buffers[name] = value

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *inputs):                 # a loss takes (input, target)
        return self.forward(*inputs)

    @property
    def needs_input_grad(self) -> bool:
        """Whether ``backward`` must compute and return dL/dx (default True); False stops
        the backward pass after the last layer that trains (``backward`` returns None)."""
        return self.__dict__.get("_needs_input_grad", True)

    @needs_input_grad.setter
    def needs_input_grad(self, value: bool) -> None:
        object.__setattr__(self, "_needs_input_grad", bool(value))

    def _store(self, cache):
        """Keep ``cache`` for backward unless inside ``no_grad()``."""
        object.__setattr__(self, "_cache", cache if is_grad_enabled() else None)

    def _take_cache(self):
        """Return the forward cache, raising a clear error when there is none."""
        cache = self.__dict__.get("_cache")
        if cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before a forward pass that kept "
                "its cache (was forward run under nn.no_grad()?)")
        return cache

    def children(self):
        return iter(self._modules.values())

    def named_children(self):
        return iter(self._modules.items())

    def named_modules(self, prefix: str = ""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def _entries(self, tables, prefix=""):
        """(dotted name, table, name) of each module's ``tables``, in PyTorch's order."""
        for mprefix, m in self.named_modules(prefix):
            for table in (m.__dict__[t] for t in tables):
                for name in table:
                    yield (f"{mprefix}.{name}" if mprefix else name), table, name

    def named_parameters(self, prefix: str = ""):
        return ((key, table[name]) for key, table, name in self._entries(["_parameters"], prefix))

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = ""):
        return ((key, table[name]) for key, table, name in self._entries(["_buffers"], prefix))

    def _state_entries(self):
        """(key, table, name) of the parameters and buffers a state dict holds."""
        return [(key, table, name) for key, table, name
                in self._entries(("_parameters", "_buffers")) if table[name] is not None]

    def train(self, mode: bool = True) -> Module:
        """Training mode: BatchNorm uses batch statistics, Dropout drops."""
        return self.apply(lambda m: object.__setattr__(m, "training", bool(mode)))

    def eval(self) -> Module:
        """Evaluation mode: BatchNorm uses running statistics, Dropout is the identity."""
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze (True) every parameter of this module."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def apply(self, fn) -> Module:
        """Call ``fn`` on every submodule, children first and this module last; returns it."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Cast floating parameters, buffers and gradients to a dtype; returns this module.

        Takes PyTorch's forms (``to(np.float64)``, ``to(device="cpu")``, ``to("cpu", dtype)``);
        another device (``"cuda"``, ``"mps"``) is a ValueError: this library is CPU-only.
        """
        dtype = _parse_to_arguments(type(self).__name__ + ".to", args, kwargs)
        if dtype is None:
            return self
        for _, table, name in self._state_entries():
            value = table[name]
            array = _operand(value)
            if isinstance(array, np.ndarray) and np.issubdtype(array.dtype, np.floating):
                _assign(table, name, array.astype(dtype))
                if isinstance(value, Parameter) and value.grad is not None:
                    value.grad = value.grad.astype(dtype)
        return self

    def float(self) -> Module:
        """Cast floating parameters and buffers to float32 (``to(np.float32)``)."""
        return self.to(np.float32)

    def double(self) -> Module:
        """Cast floating parameters and buffers to float64 (``to(np.float64)``)."""
        return self.to(np.float64)

    def cpu(self) -> Module:
        """Nothing to move: everything already lives on the CPU. Returns this module."""
        return self

    def cuda(self, device=None) -> Module:
        """Always a ValueError: this library has no GPU support (see :meth:`to`)."""
        _parse_to_arguments("Module.cuda", ("cuda" if device is None else f"cuda:{device}",), {})

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Parameters and buffers by dotted name, in PyTorch's order (copies)."""
        return OrderedDict((key, np.array(_operand(table[name]), copy=True))
                           for key, table, name in self._state_entries())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy arrays from ``state_dict`` into this module's parameters and buffers.

        Every problem (missing or unexpected keys, wrong shapes) is reported at once and a
        refused load changes no weight; ``strict=False`` allows missing and unexpected keys.
        Returns ``(missing_keys, unexpected_keys)``, two lists.
        """
        targets = {key: (table, name) for key, table, name in self._state_entries()}
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        found = {key: np.asarray(_operand(table[name])) for key, (table, name) in targets.items()
                 if key in state_dict}
        wrong = [f"{key}: expected shape {old.shape}, got {np.shape(state_dict[key])}"
                 for key, old in found.items() if old.shape != np.shape(state_dict[key])]
        problems = [f"{label}: " + ", ".join(keys) for label, keys in
                    (("missing keys", missing), ("unexpected keys", unexpected))
                    if strict and keys]
        if wrong:
            problems.append("wrong shapes: " + "; ".join(wrong))
        if problems:
            raise ValueError(f"{type(self).__name__}.load_state_dict refused (no weight was "
                             "changed):\n  " + "\n  ".join(problems))
        for key, old in found.items():
            _assign(*targets[key], np.array(state_dict[key], dtype=old.dtype, copy=True))
        return missing, unexpected

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = "".join(f"\n  ({name}): " + repr(child).replace("\n", "\n  ")
                           for name, child in self._modules.items())
        body = self.extra_repr() + (children + "\n" if children else "")
        return f"{type(self).__name__}({body})"


def _assign(table, name, array):
    """Put ``array`` into entry ``name`` of ``table``: a Parameter's data, or the buffer."""
    if isinstance(table[name], Parameter):
        table[name].data = array
    else:
        table[name] = array


class _FunctionalLayer(Module):
    """A layer that is a pair of :mod:`minitorch_cv.functional` functions: ``forward`` runs
    ``_forward(x, *self._arguments())`` and keeps its cache; ``backward`` runs ``_backward``."""

    _forward = _backward = None   # e.g. F.relu_forward, F.relu_backward
    _input_shape = None           # e.g. "(N, C, H, W)": forward checks a 4-D floating input
    _fields = ()                  # attributes passed to ``_forward`` after x, and shown by repr

    def _arguments(self):
        return tuple(getattr(self, name) for name in self._fields)

    def extra_repr(self):
        return ", ".join(f"{name}={getattr(self, name)}" for name in self._fields)

    def forward(self, x):
        if self._input_shape:
            check_input(x, 4, type(self).__name__, expected=self._input_shape)
        out, cache = type(self)._forward(x, *self._arguments())
        self._store(cache)
        return out

    def backward(self, dout):
        return type(self)._backward(dout, self._take_cache(),
                                    layer=f"{type(self).__name__}.backward")


class _WeightLayer(Module):
    """Shared by Linear and Conv2d: ``weight`` (out, in, ...) and an optional ``bias``."""

    def _init_parameters(self, shape, bias, rng, dtype):
        """PyTorch's default: weight, then bias, U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        rng = init.get_rng(rng)
        self.weight = Parameter(init.kaiming_uniform(shape, rng=rng, dtype=dtype))
        bound = 1 / math.sqrt(init.fan_in(shape))
        self.bias = Parameter(init.uniform(shape[0], bound, rng, dtype)) if bias else None

    def _backward_with(self, function, dout, cache):
        """dx from ``function``; dW and db (computed only if one trains) into the grads."""
        need_dw = self.weight.requires_grad or (self.bias is not None
                                                and self.bias.requires_grad)
        dx, dw, db = function(dout, cache, need_dx=self.needs_input_grad, need_dw=need_dw,
                              layer=f"{type(self).__name__}.backward")
        if need_dw:
            self.weight.accumulate_grad(dw)
            if self.bias is not None:
                self.bias.accumulate_grad(db)
        return dx


# Device names PyTorch knows: one of them in ``to(...)`` is a device, not a dtype.
_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "xla", "meta", "hip", "ipu", "hpu", "mtia",
                 "vulkan", "lazy", "ve", "fpga", "ort", "mkldnn", "opengl", "opencl", "ideep",
                 "privateuseone")


def _device_type(device) -> str:
    return str(device).split(":")[0].strip().lower()      # "cuda:0" -> "cuda"


def _parse_to_arguments(where, args, kwargs):
    """The dtype (or None) in PyTorch's ``to(device, dtype)`` arguments; a device other than
    the CPU is a ValueError."""
    # non_blocking means nothing without a GPU: accepted
    unexpected = sorted(set(kwargs) - {"device", "dtype", "non_blocking"})
    if unexpected or len(args) > 2:
        raise TypeError(f"{where}: expected at most (device, dtype) and the keywords device=, "
                        f"dtype=; got {len(args)} arguments and keywords {sorted(kwargs)}")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    for value in args:
        if type(value).__name__ == "device" or (      # a torch.device, or its name
                isinstance(value, str) and _device_type(value) in _DEVICE_TYPES):
            device = value
        elif value is not None:
            dtype = value
    if device is not None and _device_type(device) != "cpu":    # "cpu:0", torch.device("cpu")
        raise ValueError(
            f"{where}({str(device)!r}): minitorch_cv is a CPU-only library (NumPy, no GPU "
            f"support), so there is no {str(device)!r} device to move to. Drop the call or use "
            "'cpu' (e.g. device = 'cpu'); everything already runs on the CPU.")
    if dtype is None:
        return None
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: expected a device ('cpu') or a NumPy dtype, got "
                        f"{dtype!r}") from None
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"{where}: parameters must stay floating-point, got dtype {dtype} "
                        "(use np.float32 or np.float64)")
    return dtype


def has_trainable_parameters(module: Module) -> bool:
    """True if any parameter of ``module`` (or its children) has ``requires_grad``."""
    return any(p.requires_grad for p in module.parameters())


def backward_through(layers, dout, needs_input_grad: bool = True):
    """Backward pass through ``layers`` applied in sequence (last layer first).

    Layer ``i`` computes its input gradient only when something before it trains or the
    caller needs dL/dx; with ``needs_input_grad`` False the layers before the first
    trainable one are skipped and the result is None.
    """
    layers = list(layers)
    trainable = [has_trainable_parameters(m) for m in layers]
    # propagate[i]: does the gradient have to flow past layer i (to layer i-1 or out)?
    propagate = [needs_input_grad or any(trainable[:i]) for i in range(len(layers))]
    for i in reversed(range(len(layers))):
        if not (trainable[i] or propagate[i]):
            return None
        layers[i].needs_input_grad = propagate[i]
        dout = layers[i].backward(dout)
    return dout
