"""The switch that runs every ``nn`` layer on the textbook functions.

::

    with minitorch_cv.reference.use():
        logits = model(x)                      # Conv2d, MaxPool2d, ... on reference/
        model.backward(loss_fn.backward())

:data:`TEXTBOOK` names, for each function of :mod:`minitorch_cv.functional` that has a
textbook version, that version. Both have one signature and one cache contract, so a
forward pass run inside the block and its backward pass run outside (or the reverse) still
give the right gradients, and both refuse the same mistakes with the same errors.

The choice is made at each call (by :mod:`minitorch_cv._dispatch`, which the ``nn`` layers
call), from a :class:`contextvars.ContextVar`: it holds for the ``with`` block only (also
when the block raises), and only in the thread (or asyncio task) that entered it --
nothing global is patched. Functions without a textbook version (tanh, sigmoid, adaptive
pooling, ...) always run the fast one.
"""

import contextlib
import contextvars

from . import activation, conv, dropout, linear, loss, normalization, pooling

__all__ = ["use", "is_active", "TEXTBOOK"]

_ACTIVE = contextvars.ContextVar("minitorch_cv_reference_active", default=False)

#: The textbook version of each function of :mod:`minitorch_cv.functional` that has one,
#: by name: what the ``nn`` layers run inside a :func:`use` block.
TEXTBOOK = {
    "conv2d_forward": conv.conv2d_forward,
    "conv2d_backward": conv.conv2d_backward,
    "maxpool2d_forward": pooling.maxpool2d_forward,
    "maxpool2d_backward": pooling.maxpool2d_backward,
    "avgpool2d_forward": pooling.avgpool2d_forward,
    "avgpool2d_backward": pooling.avgpool2d_backward,
    "batchnorm_forward": normalization.batchnorm_forward,
    "batchnorm_backward": normalization.batchnorm_backward,
    "dropout_forward": dropout.dropout_forward,
    "dropout_backward": dropout.dropout_backward,
    "linear_forward": linear.linear_forward,
    "linear_backward": linear.linear_backward,
    "relu_forward": activation.relu_forward,
    "relu_backward": activation.relu_backward,
    "cross_entropy_forward": loss.cross_entropy_forward,
    "cross_entropy_backward": loss.cross_entropy_backward,
    "mse_loss_forward": loss.mse_loss_forward,
    "mse_loss_backward": loss.mse_loss_backward,
    "l1_loss_forward": loss.l1_loss_forward,
    "l1_loss_backward": loss.l1_loss_backward,
}


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
