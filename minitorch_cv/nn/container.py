"""Sequential, Flatten and Identity: the structural modules."""

import numpy as np

from ..checks import check_grad, check_int
from .module import Module, backward_through

__all__ = ["Sequential", "Flatten", "Identity"]


def _float_or_none(dtype):
    """The dtype a gradient must have, or None (no dtype check) for non-float outputs."""
    return dtype if dtype is not None and np.issubdtype(dtype, np.floating) else None


class Sequential(Module):
    """Apply children in order; backward applies their backward passes in reverse.

    Children are named "0", "1", ... (state-dict keys ``"3.weight"``) as in PyTorch. A slice,
    ``model[1:3]``, shares the layers and keeps their original names, so its weights load
    back into ``model`` by name. Backward: :func:`~minitorch_cv.nn.module.backward_through`.
    """

    def __init__(self, *layers):
        super().__init__()
        for layer in layers:
            self.append(layer)

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            part = Sequential()
            for name, layer in list(self._modules.items())[index]:
                setattr(part, name, layer)                 # the original names, in order
            return part
        layers = list(self._modules.values())
        try:
            return layers[index]
        except IndexError:
            raise IndexError(f"Sequential: index {index} is out of range for "
                             f"{len(layers)} layers") from None

    __iter__ = Module.children

    def append(self, layer):
        """Add ``layer`` at the end, named ``str(len(self))`` -- or, if a slice has that name,
        one more than the largest (PyTorch would replace that layer)."""
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential: item {len(self)} is {type(layer).__name__}, "
                            "expected a Module")
        name = str(len(self))
        if name in self._modules:
            name = str(max(int(k) for k in self._modules if k.isdigit()) + 1)
        setattr(self, name, layer)
        return self

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        self._store((np.shape(x), getattr(x, "dtype", None)))
        return x

    def backward(self, dout):
        shape, dtype = self._take_cache()
        dout = check_grad(dout, shape, _float_or_none(dtype), "Sequential.backward")
        return backward_through(self._modules.values(), dout, self.needs_input_grad)


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim``: (N, C, H, W) -> (N, C*H*W). Backward reshapes."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = check_int(start_dim, "start_dim", "Flatten")
        self.end_dim = check_int(end_dim, "end_dim", "Flatten")

    def forward(self, x):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"Flatten: expected a NumPy array, got {type(x).__name__}")
        for name, dim in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -x.ndim <= dim < x.ndim:
                raise ValueError(f"Flatten: {name}={dim} is out of range for an input of "
                                 f"shape {x.shape}")
        start, end = self.start_dim % x.ndim, self.end_dim % x.ndim
        shape = x.shape[:start] + (int(np.prod(x.shape[start:end + 1])),) + x.shape[end + 1:]
        out = x.reshape(shape)
        self._store((x.shape, out.shape, _float_or_none(x.dtype)))
        return out

    def backward(self, dout):
        x_shape, out_shape, dtype = self._take_cache()
        return check_grad(dout, out_shape, dtype, "Flatten.backward").reshape(x_shape)


class Identity(Module):
    """Returns its input; backward returns dout."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x

    def backward(self, dout):
        return dout
