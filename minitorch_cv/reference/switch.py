"""The switch that runs every ``nn`` layer on the textbook functions.

::

    with minitorch_cv.reference.use():
        logits = model(x)                      # Conv2d, MaxPool2d, ... on reference/
        model.backward(loss_fn.backward())

The ``nn`` layer files import :data:`functional` from here in place of
:mod:`minitorch_cv.functional`. It behaves like that module, except that a function with
a textbook version runs that version while :func:`use` is active. The choice is made at
each call, from a :class:`contextvars.ContextVar`: it holds for the ``with`` block only
(also when the block raises), and only in the thread (or asyncio task) that entered it --
nothing global is patched. Functions without a textbook version (tanh, sigmoid, adaptive
pooling, ...) always run the fast one.

Both paths share one cache contract, so a forward pass run inside the block and its
backward pass run outside (or the reverse) still give the right gradients. Both refuse the
same mistakes with the same errors: the textbook backward functions check ``dout`` as the
fast ones do, and the fast forward functions' input checks run here before a textbook
forward (which checks nothing, to stay short).
"""

import contextlib
import contextvars
import functools

import numpy as np

from .. import functional as fast
from ..checks import check_input, check_real
from ..functional import conv as fast_conv
from ..functional import linear as fast_linear
from ..functional import loss as fast_loss
from ..functional import normalization as fast_normalization
from ..functional import pooling as fast_pooling
from . import activation, conv, dropout, linear, loss, normalization, pooling

__all__ = ["use", "is_active", "functional"]

_ACTIVE = contextvars.ContextVar("minitorch_cv_reference_active", default=False)


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


# The keyword arguments the nn layers pass to the fast functions, and that the textbook
# signatures leave out, are handled here. ``layer=`` (the name error messages give) is part
# of every textbook backward: the textbook functions check ``dout`` exactly as the fast
# ones do, so a wrong gradient raises the same error on both paths.
def _conv2d_backward(dout, cache, need_dx=True, need_dw=True, *, layer="conv2d_backward"):
    dx, dw, db = conv.conv2d_backward(dout, cache, layer=layer)
    return (dx if need_dx else None), (dw if need_dw else None), (db if need_dw else None)


def _linear_backward(dout, cache, need_dx=True, need_dw=True, *, layer="linear_backward"):
    dx, dw, db = linear.linear_backward(dout, cache, layer=layer)
    return (dx if need_dx else None), (dw if need_dw else None), (db if need_dw else None)


def _maxpool2d_forward(x, kernel_size, stride=None, padding=0, for_backward=True):
    out, cache = pooling.maxpool2d_forward(x, kernel_size, stride, padding)
    return out, (cache if for_backward else None)


def _relu_forward(x, inplace=False):
    out, cache = activation.relu_forward(x)
    if inplace:
        x[...] = out
        return x, x
    return out, cache


def _batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True,
                       momentum=0.1, eps=1e-5):
    # The textbook function always has gamma, beta and running statistics: fill them in
    # for affine=False and for track_running_stats=False (batch statistics, no update).
    c = x.shape[1]
    gamma = np.ones(c, dtype=x.dtype) if gamma is None else gamma
    beta = np.zeros(c, dtype=x.dtype) if beta is None else beta
    if running_mean is None:
        training = True
        running_mean, running_var = np.zeros(c, dtype=x.dtype), np.ones(c, dtype=x.dtype)
    return normalization.batchnorm_forward(x, gamma, beta, running_mean, running_var,
                                           training, momentum, eps)


def _batchnorm_backward(dout, cache, *, layer="batchnorm_backward"):
    # A cache from the fast path with affine=False holds gamma=None: the textbook
    # backward multiplies by gamma, so give it ones (what affine=False means).
    x_hat, inv_std, gamma, batch_stats, eval_input = cache
    if gamma is None:
        gamma = np.ones(inv_std.shape, dtype=inv_std.dtype)
    return normalization.batchnorm_backward(
        dout, (x_hat, inv_std, gamma, batch_stats, eval_input), layer=layer)


_TEXTBOOK = {
    "conv2d_forward": conv.conv2d_forward,
    "conv2d_backward": _conv2d_backward,
    "maxpool2d_forward": _maxpool2d_forward,
    "maxpool2d_backward": pooling.maxpool2d_backward,
    "avgpool2d_forward": pooling.avgpool2d_forward,
    "avgpool2d_backward": pooling.avgpool2d_backward,
    "batchnorm_forward": _batchnorm_forward,
    "batchnorm_backward": _batchnorm_backward,
    "dropout_forward": dropout.dropout_forward,
    "dropout_backward": dropout.dropout_backward,
    "linear_forward": linear.linear_forward,
    "linear_backward": _linear_backward,
    "relu_forward": _relu_forward,
    "relu_backward": activation.relu_backward,
    "cross_entropy_forward": loss.cross_entropy_forward,
    "cross_entropy_backward": loss.cross_entropy_backward,
    "mse_loss_forward": loss.mse_loss_forward,
    "mse_loss_backward": loss.mse_loss_backward,
    "l1_loss_forward": loss.l1_loss_forward,
    "l1_loss_backward": loss.l1_loss_backward,
}


# What the fast forward functions refuse, refused before the textbook ones run (they check
# nothing, to stay short): a layer gives the same error inside the block as outside, never
# a silently wrong answer (labels of -1, a window larger than the image, integer images).
def _check_pooling(layer):
    def check(x, kernel_size, stride=None, padding=0, for_backward=True):
        fast_pooling._geometry(x, kernel_size, stride, padding, layer)
    return check


def _check_dropout(x, p, rng, channelwise=False):
    check_input(x, np.ndim(x), "dropout")
    check_real(p, "p", "dropout", 0.0, 1.0)
    if channelwise and x.ndim < 2:
        raise ValueError(f"dropout2d: expected input (N, C, ...), got shape {x.shape}")


def _check_cross_entropy(logits, labels, reduction="mean", weight=None, ignore_index=-100,
                         label_smoothing=0.0):
    fast_loss._options(logits, labels, reduction, weight, ignore_index, label_smoothing)


def _check_regression(layer):
    def check(x, target, reduction="mean"):
        fast_loss._check_pair(x, target, reduction, layer)
    return check


_INPUT_CHECKS = {
    "conv2d_forward": lambda x, w, b=None, stride=1, padding=0:
        fast_conv.check_arguments(x, w, b, stride, padding),
    "maxpool2d_forward": _check_pooling("max_pool2d"),
    "avgpool2d_forward": _check_pooling("avg_pool2d"),
    "batchnorm_forward": lambda x, gamma, beta, running_mean, running_var, *args, **kwargs:
        fast_normalization._check_arrays(x, gamma, beta, running_mean, running_var),
    "dropout_forward": _check_dropout,
    "linear_forward": lambda x, w, b=None: fast_linear._check_arrays(x, w, b),
    "relu_forward": lambda x, inplace=False: check_input(x, np.ndim(x), "relu"),
    "cross_entropy_forward": _check_cross_entropy,
    "mse_loss_forward": _check_regression("mse_loss"),
    "l1_loss_forward": _check_regression("l1_loss"),
}


class _Functional:
    """:mod:`minitorch_cv.functional` as the ``nn`` layers see it: attribute ``name`` is a
    function that runs the textbook version of ``name`` inside a :func:`use` block and
    ``minitorch_cv.functional.name`` outside it (looked up at each call)."""

    def __getattr__(self, name):
        if name not in _TEXTBOOK:
            return getattr(fast, name)

        @functools.wraps(getattr(fast, name))
        def run(*args, **kwargs):
            if not _ACTIVE.get():
                return getattr(fast, name)(*args, **kwargs)
            if name in _INPUT_CHECKS:
                _INPUT_CHECKS[name](*args, **kwargs)
            return _TEXTBOOK[name](*args, **kwargs)

        self.__dict__[name] = run          # built once per name
        return run

    def __dir__(self):
        return sorted(set(dir(fast)) | set(_TEXTBOOK))

    def __repr__(self):
        return "<minitorch_cv.functional, or minitorch_cv.reference inside reference.use()>"


functional = _Functional()
