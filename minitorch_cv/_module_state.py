"""Leave a model as it was found: :func:`kept_as_found`, the context manager the library's
helpers (``Trainer.fit``, ``evaluate``, ``grad_cam``, ``summary``, ``gradcheck``) wrap their
work in."""

from __future__ import annotations

import contextlib

import numpy as np

__all__ = ["kept_as_found"]

_MISSING = object()


@contextlib.contextmanager
def kept_as_found(module, *, gradients=False, buffers=False, caches=False, attributes=()):
    """Restore ``module``'s mode and flags (and optionally more) when the block ends.

    Always restored, for ``module`` and every submodule: ``training`` and
    ``needs_input_grad``. ``gradients`` sets every parameter's ``grad`` aside (to None) on
    entry, so a backward pass inside the block never adds into the caller's arrays, and puts
    back the very same ``grad`` and ``data`` arrays and ``requires_grad`` flags on exit.
    ``buffers`` puts back the buffers (BatchNorm's running statistics): the same arrays, with
    their old values. ``caches`` puts back what each layer kept for its backward,
    ``attributes`` these instance attributes of every module (deleted where they were not)."""
    modules = list(module.modules())
    names = ("training", "_needs_input_grad", *(("_cache",) if caches else ()), *attributes)
    kept_attributes = [(m, name, m.__dict__.get(name, _MISSING))
                       for m in modules for name in names]
    kept_buffers = [(m, name, b, np.array(b, copy=True) if isinstance(b, np.ndarray) else b)
                    for m in modules for name, b in m._buffers.items()] if buffers else []
    # a shared parameter is listed once
    params = list({id(p): p for p in module.parameters()}.values()) if gradients else []
    kept_grads = [(p, p.data, p.grad, p.requires_grad) for p in params]
    for p in params:
        p.grad = None
    try:
        yield module
    finally:
        for p, data, grad, requires_grad in kept_grads:
            p.data, p.grad, p.requires_grad = data, grad, requires_grad
        for m, name, original, values in kept_buffers:
            if isinstance(original, np.ndarray) and original.flags.writeable:
                original[...] = values         # the same array, its old values
            m._buffers[name] = original
        for m, name, value in kept_attributes:     # set without registering, or deleted
            if value is _MISSING:
                m.__dict__.pop(name, None)
            else:
                object.__setattr__(m, name, value)
