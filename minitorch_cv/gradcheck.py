"""Numerical gradient check: compare a hand-written backward pass with central differences
``(L(x + eps * e_i) - L(x - eps * e_i)) / (2 * eps)`` of ``L = sum(out * dout)`` for a
fixed random ``dout``, in float64 (in float32 no eps gives more than a few correct digits);
the error measure and its floor are explained in ``docs/layers.md``. Inputs at a kink (ReLU
at 0, two equal values in a max-pooling window) break a check, not the backward pass.

>>> import numpy as np
>>> from minitorch_cv import nn
>>> from minitorch_cv.gradcheck import gradcheck
>>> x = np.random.default_rng(0).standard_normal((2, 3, 6, 5))
>>> gradcheck(nn.Conv2d(3, 4, 3, padding=1), x).passed(1e-6)
True

The module itself is callable too: ``minitorch_cv.gradcheck(module, x)`` is :func:`gradcheck`.
"""

from __future__ import annotations

import contextlib
import sys
import types
from dataclasses import dataclass, field

import numpy as np

from ._module_state import kept_as_found
from .nn.module import no_grad

__all__ = ["GradcheckResult", "gradcheck", "gradcheck_function", "relative_error"]

_TINY = 1e-300
_FLOOR = 0.01       # errors are relative to at least 1% of the largest gradient checked


def relative_error(analytic, numerical, floor=0.0) -> float:
    """Normwise relative error ``||a - n|| / max(||a|| + ||n||, floor)`` (0 when a == n)."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numerical, dtype=np.float64)
    scale = max(np.linalg.norm(a) + np.linalg.norm(n), floor, _TINY)
    error = float(np.linalg.norm(a - n) / scale)
    return error if np.isfinite(error) else float("inf")     # NaN in a gradient: fails


@dataclass
class GradcheckResult:
    """What :func:`gradcheck` found: ``max_rel_error`` in ``worst`` (``"input"`` or a
    parameter name), ``errors`` of every checked tensor by name, and the ``analytic`` and
    ``numerical`` gradients (checked entries only) to look at when a check fails."""

    max_rel_error: float
    worst: str
    errors: dict
    eps: float = 1e-6
    analytic: dict = field(default_factory=dict, repr=False)
    numerical: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_gradients(cls, analytic: dict, numerical: dict, eps: float) -> GradcheckResult:
        sizes = [np.linalg.norm(analytic[k]) + np.linalg.norm(numerical[k]) for k in analytic]
        floor = _FLOOR * max(sizes, default=0.0)
        errors = {k: relative_error(analytic[k], numerical[k], floor) for k in analytic}
        worst = max(errors, key=errors.get) if errors else ""
        return cls(errors[worst] if errors else 0.0, worst, errors, eps, analytic, numerical)

    def passed(self, tol: float = 1e-6) -> bool:
        """True if every checked tensor's relative error is at most ``tol``."""
        return self.max_rel_error <= tol

    def report(self, tol: float = 1e-6) -> str:
        """A few lines per tensor: its error and, for a failing one, its worst entry."""
        lines = [(f"gradcheck (eps={self.eps:g}, tol={tol:g}): max relative error "
                  f"{self.max_rel_error:.3g} in {self.worst!r}")]
        for name, err in self.errors.items():
            line = f"  {name:<20s} {err:.3g}  {'ok' if err <= tol else 'FAILED'}"
            if err > tol:
                a, n = self.analytic[name], self.numerical[name]
                i = int(np.argmax(np.abs(a - n)))
                line += (f"  (worst entry {i}: backward gave {a.flat[i]:.8g}, "
                         f"numerical {n.flat[i]:.8g})")
            lines.append(line)
        return "\n".join(lines)

    def __repr__(self) -> str:
        errors = ", ".join(f"{k!r}: {v:.2e}" for k, v in self.errors.items())
        return (f"GradcheckResult(max_rel_error={self.max_rel_error:.2e}, "
                f"worst={self.worst!r}, errors={{{errors}}})")

    def _checked(self, check, tol) -> GradcheckResult:
        """``self``; with ``check``, an AssertionError with the report if it failed."""
        if check and not self.passed(tol):
            raise AssertionError(self.report(tol))
        return self


def _numerical_gradient(run, dout, array, indices, eps):
    """Central differences of ``L = sum(run() * dout)`` at ``array.flat[indices]`` (nudged in
    place, restored exactly), summed output by output: outputs the nudge does not reach
    cancel exactly instead of adding rounding noise of the size of L."""
    def output():
        # Copy: a layer may return (a view of) its input, which is perturbed in place next.
        return np.array(run(), dtype=np.float64, copy=True)

    grad = np.empty(len(indices), dtype=np.float64)
    flat = array.reshape(-1)              # a view: writing to it changes ``array``
    assert np.shares_memory(flat, array), "gradcheck needs contiguous arrays"
    for k, i in enumerate(indices):
        old = flat[i]
        flat[i] = old + eps
        plus = output()
        flat[i] = old - eps
        minus = output()
        flat[i] = old
        grad[k] = float(np.sum((plus - minus) * dout)) / (2 * eps)
    return grad


def _generator(seed):
    """The generator of ``dout`` and the checked entries; not ``default_rng(seed)``: an input
    drawn from that would equal ``dout``, and BatchNorm's dL/dx is exactly zero then."""
    return np.random.default_rng([seed, 1])


def _random_dout(out, rng):
    if np.ndim(out) == 0:                 # a loss: a scalar upstream gradient
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(out))


def _sampled_gradients(targets, run, dout, max_checks, rng, eps):
    """Analytic and numerical gradients of each target at the checked entries."""
    analytic, numerical = {}, {}
    with no_grad():
        for name, array, grad in targets:
            grad = np.asarray(grad, dtype=np.float64)
            if grad.shape != array.shape:
                raise ValueError(f"gradcheck: the gradient of {name!r} has shape "
                                 f"{grad.shape}, expected {array.shape}")
            size = array.size
            indices = (np.arange(size) if max_checks is None or size <= max_checks
                       else np.sort(rng.choice(size, size=max_checks, replace=False)))
            analytic[name] = grad.reshape(-1)[indices]
            numerical[name] = _numerical_gradient(run, dout, array, indices, eps)
    return analytic, numerical


@contextlib.contextmanager
def _kept_rngs(objects):
    """Put back each object's ``rng`` (the check re-seeds it) when the block ends."""
    found = [(obj, obj.rng) for obj in objects]
    try:
        yield
    finally:
        for obj, rng in found:
            obj.rng = rng


def gradcheck(module, x, eps=1e-6, seed=0, *, args=(), tol=1e-6, check=False,
              max_checks=None) -> GradcheckResult:
    """Compare ``module.backward`` with central differences, in float64.

    ``module`` is a Module, or any object with ``__call__`` and ``backward`` (a loss: the
    labels in ``args``, the forward pass is ``module(x, *args)``). Checked are the input
    and every parameter with ``requires_grad`` (by its ``named_parameters`` name), at every
    entry or at ``max_checks`` random entries per tensor. ``seed`` seeds ``dout``, the
    stochastic layers and the choice of entries. With ``check=True`` an error above ``tol``
    raises an AssertionError with :meth:`GradcheckResult.report`. The module is left as it
    was found."""
    if not hasattr(module, "backward"):
        raise TypeError(f"gradcheck needs an object with forward and backward, got "
                        f"{type(module).__name__}; for a (forward, backward) function pair "
                        "use gradcheck_function")
    rng = _generator(seed)
    modules = list(module.modules()) if hasattr(module, "modules") else [module]
    # parameters, gradients, buffers, caches and rngs put back; gradients start from None
    generators = [m for m in modules if isinstance(getattr(m, "rng", None), np.random.Generator)]
    kept = (kept_as_found(module, gradients=True, buffers=True, caches=True, attributes=("rng",))
            if hasattr(module, "modules") else _kept_rngs(generators))

    def run():                            # each stochastic layer re-seeded: one Dropout mask
        for i, m in enumerate(generators):
            m.rng = np.random.default_rng([seed, 2, i])
        return module(x, *args)

    with kept:
        if hasattr(module, "to"):
            module.to(np.float64)
        x = np.array(x, dtype=np.float64, copy=True)
        params = [(name, p) for name, p in getattr(module, "named_parameters", list)()
                  if p.requires_grad]
        dout = _random_dout(run(), rng)
        dx = module.backward(dout)
        if dx is None:
            raise RuntimeError(f"{type(module).__name__}.backward returned None instead of "
                               "dL/dx; set needs_input_grad = True to check the input")
        targets = [("input", x, dx)] + [(name, p.data, np.zeros_like(p.data) if p.grad is None
                                         else p.grad) for name, p in params]
        analytic, numerical = _sampled_gradients(targets, run, np.asarray(dout, np.float64),
                                                 max_checks, rng, eps)
    return GradcheckResult.from_gradients(analytic, numerical, eps)._checked(check, tol)


def gradcheck_function(forward, backward, *inputs, eps=1e-6, seed=0, tol=1e-6, check=False,
                       names=None, **kwargs) -> GradcheckResult:
    """Gradient check of a functional pair ``forward(*inputs, **kwargs) -> (out, cache)``,
    ``backward(dout, cache) -> grads``, e.g.
    ``gradcheck_function(F.conv2d_forward, F.conv2d_backward, x, w, b, stride=2)``.

    ``grads`` is one array or a tuple whose i-th entry is the gradient of ``inputs[i]``;
    inputs that are None or not floating arrays, and gradients that are None, are skipped.
    ``names`` labels the inputs (default ``"input"`` for one, else ``"arg0"``, ...)."""
    rng = _generator(seed)
    arrays = [np.array(a, dtype=np.float64, copy=True)
              if a is not None and np.issubdtype(np.asarray(a).dtype, np.floating) else a
              for a in inputs]
    if names is None:
        names = ["input"] if len(arrays) == 1 else [f"arg{i}" for i in range(len(arrays))]

    def run():
        return forward(*arrays, **kwargs)[0]

    out, cache = forward(*arrays, **kwargs)
    dout = _random_dout(out, rng)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    dout = np.asarray(dout, dtype=np.float64)
    analytic, numerical = {}, {}
    for name, array, grad in zip(names, arrays, grads):
        if grad is None or not isinstance(array, np.ndarray) or array.dtype != np.float64:
            continue
        analytic[name] = np.asarray(grad, dtype=np.float64).reshape(-1)
        numerical[name] = _numerical_gradient(run, dout, array, np.arange(array.size), eps)
    return GradcheckResult.from_gradients(analytic, numerical, eps)._checked(check, tol)


class _CallableModule(types.ModuleType):
    """This module, callable: ``minitorch_cv.gradcheck(module, x)`` runs :func:`gradcheck`."""

    def __call__(self, *args, **kwargs) -> GradcheckResult:
        return gradcheck(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
