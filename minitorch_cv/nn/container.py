"""Sequential, Flatten and Identity: the structural modules."""

import numpy as np

from .module import Module, backward_through

__all__ = ["Sequential", "Flatten", "Identity"]


class Sequential(Module):
    """Apply children in order; backward applies their backward passes in reverse.

    Children are named "0", "1", ... so state-dict keys read ``"3.weight"`` as in PyTorch.
    ``model.backward(dout)`` returns dL/dx. When ``needs_input_grad`` is False (the
    Trainer sets it), the backward pass stops after the first layer that trains: a frozen
    prefix of the network costs nothing.
    """

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is {type(layer).__name__}, "
                                "expected a Module")
            setattr(self, str(i), layer)

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, index):
        layers = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*layers[index])
        return layers[index]

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, layer):
        setattr(self, str(len(self)), layer)
        return self

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x

    def backward(self, dout):
        return backward_through(self._modules.values(), dout, self.needs_input_grad)


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim``: (N, C, H, W) -> (N, C*H*W). Backward reshapes."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        self._store(x.shape)
        end = self.end_dim % x.ndim
        shape = x.shape[:self.start_dim] + (int(np.prod(x.shape[self.start_dim:end + 1])),) \
            + x.shape[end + 1:]
        return x.reshape(shape)

    def backward(self, dout):
        return dout.reshape(self._take_cache())


class Identity(Module):
    """Returns its input; backward returns dout."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x

    def backward(self, dout):
        return dout
