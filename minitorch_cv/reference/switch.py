"""The switch that runs every ``nn`` layer on the textbook functions::

    with minitorch_cv.reference.use():
        logits = model(x)                      # Conv2d, MaxPool2d, ... on reference/
        model.backward(loss_fn.backward())

A textbook function shares its fast twin's signature, cache and errors, so a forward pass
run inside the block and its backward pass outside (or the reverse) still give the right
gradients. The choice is made at each call (by :mod:`minitorch_cv._dispatch`) from a
:class:`contextvars.ContextVar`: it holds for the ``with`` block only (also when the block
raises), and only in the thread (or asyncio task) that entered it -- nothing global is
patched. Functions without a textbook version (tanh, sigmoid, adaptive pooling, ...)
always run the fast one.
"""

import contextlib
import contextvars

from .. import functional
from . import activation, conv, dropout, linear, loss, normalization, pooling

__all__ = ["use", "is_active", "TEXTBOOK"]

_ACTIVE = contextvars.ContextVar("minitorch_cv_reference_active", default=False)

#: The textbook version of each function of :mod:`minitorch_cv.functional` that has one
#: (same name), by name: what the ``nn`` layers run inside a :func:`use` block.
TEXTBOOK = {name: getattr(module, name)
            for module in (conv, pooling, normalization, dropout, linear, activation, loss)
            for name in module.__all__ if name in functional.__all__}


@contextlib.contextmanager
def use(active=True):
    """Run the ``nn`` layers on :mod:`minitorch_cv.reference` inside the ``with`` block.

    ``use(False)`` switches back to the fast path inside an outer ``use()`` block.
    """
    token = _ACTIVE.set(bool(active))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def is_active() -> bool:
    """True inside a :func:`use` block (of this thread)."""
    return _ACTIVE.get()
