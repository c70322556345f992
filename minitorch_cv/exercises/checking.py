"""The kinds of check every layer exercise uses: a forward case, a backward case and a
numerical gradient check, each added to a :class:`~minitorch_cv.exercises.grader.Plan`
together with the function that judges the student's result."""

import numpy as np

from ..gradcheck import relative_error
from .diagnosis import GRADCHECK, Diagnosis, compare, evidence_for
from .grader import Cache, Outcome

__all__ = ["failure", "returned_values", "judge", "verdict", "forward_case", "backward_case",
           "gradcheck_case", "cases", "float32_suffix", "normal"]

#: Normwise relative error below which a backward pass agrees with central differences
#: (a right one gives about 1e-9 in float64, a wrong one 1e-2 or more).
GRADCHECK_TOLERANCE = 1e-6


def failure(result, function):
    """The message for a call that did not return normally, else None."""
    if result is None:
        return f"{function} was not run"
    if result.get("status") != "ok":
        return f"{function}: {result.get('message', result.get('status'))}"
    return None


def returned_values(result, function, count, what, checked=None):
    """(values, None): the ``count`` returned values (arrays or None); (None, message) when
    the call failed or returned something else. ``count == 1`` accepts a bare array (or
    number); otherwise a tuple of ``count``, whose first ``checked`` elements (default all)
    must be arrays, numbers or None (the rest, such as a cache, may be anything)."""
    problem = failure(result, function)
    if problem:
        return None, problem
    elements = result.get("elements", [])
    arrays = result.get("arrays", {})
    wrong = f"{function} must return {what}, it returned {result.get('returned')}"
    if count == 1:
        if len(elements) != 1 or elements[0]["kind"] not in ("array", "scalar"):
            return None, wrong
        return [arrays.get("out0")], None
    if not result.get("returned", "").startswith("a tuple") or len(elements) != count:
        return None, wrong
    values = []
    for k, e in enumerate(elements):
        if checked is not None and k >= checked or e["kind"] == "none":
            values.append(None)
        elif e["kind"] in ("array", "scalar"):
            values.append(arrays.get(f"out{k}"))
        else:
            return None, (f"{function} must return {what}; element {k} is a {e.get('type')}, "
                          "not an array")
    return values, None


def judge(name, value, expected, mistakes=(), border=0, coverage=None):
    """(passed, message, evidence) for one output ``name``: the comparison with the right
    answer, and what the student's value says about ``mistakes`` (a list of
    :class:`~minitorch_cv.exercises.diagnosis.Mistake`)."""
    if expected is None:                  # e.g. db without a bias: None or zeros is fine
        if value is None or (np.size(value) and not np.any(np.asarray(value))):
            return True, f"`{name}` is None", None
        return False, f"`{name}` should be None (there is no bias)", None
    expected = np.asarray(expected)
    evidence = evidence_for(name, value, expected, mistakes, expected.dtype)
    passed, message = compare(name, value, expected, expected.dtype, border, coverage)
    if passed and expected.ndim > 0 and np.asarray(value).dtype != expected.dtype:
        return False, (f"`{name}` has dtype {np.asarray(value).dtype}, expected "
                       f"{expected.dtype} like the input (create arrays with "
                       "dtype=x.dtype, e.g. np.zeros(shape, dtype=x.dtype))"), evidence
    return passed, message, evidence


def cases(base, *changes):
    """The settings of the cases: ``base``, then ``base`` with each change."""
    return [dict(base, **change) for change in ({},) + changes]


def normal(rng, shape, dtype=np.float64):
    """Standard normal draws from ``rng`` as ``dtype``."""
    return rng.standard_normal(shape).astype(dtype)


def float32_suffix(dtype):
    """What a case's label adds for a float32 input."""
    return ", float32" if dtype == np.float32 else ""


def verdict(judged, right):
    """The Outcome of ``judged`` outputs ((passed, message, evidence) each): the wrong
    ones' messages, else ``right``."""
    wrong = [message for passed, message, _ in judged if not passed]
    return Outcome(not wrong, "; ".join(wrong) if wrong else right,
                   tuple(found for _, _, found in judged if found))


def _tuple_of(names):
    return names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"


def forward_case(plan, function, label, args, expected, *, settings=None, count=2,
                 what="(out, cache)", names=("out",), mistakes=None, border=0, may_change=(),
                 report_args=(), extra=None, name=None, group="out"):
    """Call ``function(*args)`` and compare its first ``len(names)`` values (``count``
    returned in all) with ``expected`` (one array per name). ``mistakes`` maps an output
    name to its :class:`~minitorch_cv.exercises.diagnosis.Mistake` list; ``settings``
    describe the case (:mod:`~minitorch_cv.exercises.settings`); ``extra(result, values)``
    judges a case whose outputs are right."""
    index = plan.call(label, function, args, may_change=may_change, report_args=report_args)

    def evaluate(results):
        result = results[index]
        values, problem = returned_values(result, function, count, what, max(len(names), 1))
        if problem:
            return Outcome(False, problem)
        outcome = verdict([judge(n, v, e, (mistakes or {}).get(n, ()), border)
                           for n, v, e in zip(names, values, expected)],
                          ", ".join(f"`{n}` is right" for n in names))
        return extra(result, values) if outcome.passed and extra else outcome

    plan.check(name or f"forward, {label}", evaluate, group=group, settings=settings)
    return index


def _forward_then_backward(plan, forward, backward, label, backward_label, args, dout,
                           backward_args, may_change):
    """The steps ``forward(*args)`` (its cache kept) and ``backward(dout, cache)``."""
    key = f"cache{len(plan.steps)}"
    fwd = plan.call(label + " (forward)", forward, args, keep=key, may_change=may_change)
    bargs = backward_args(Cache(key)) if backward_args else [dout, Cache(key)]
    return fwd, plan.call(backward_label, backward, bargs, arg_names=["dout", "cache"])


def backward_case(plan, forward, backward, label, args, dout, expected, *, settings=None,
                  names=("dx",), backward_args=None, mistakes=None, coverage=None, border=0,
                  may_change=()):
    """Run ``forward(*args)`` (keeping its cache) then ``backward(dout, cache)`` and compare
    the gradients (``names``, in the order returned) with ``expected``."""
    fwd, bwd = _forward_then_backward(plan, forward, backward, label, label, args, dout,
                                      backward_args, may_change)

    def evaluate(results):
        problem = failure(results[fwd], forward)
        if problem:
            return Outcome(False, "not checked, the forward call failed: " + problem,
                           checked=False)
        if results[fwd].get("elements", [{}])[0].get("kind") not in ("array", "scalar"):
            return Outcome(False, f"not checked: {forward} did not return (out, cache)",
                           checked=False)
        values, problem = returned_values(results[bwd], backward, len(names), _tuple_of(names))
        if problem:
            return Outcome(False, problem)
        return verdict([judge(n, v, e, (mistakes or {}).get(n, ()),  # where dx is wrong
                              border if n == "dx" else 0, coverage if n == "dx" else None)
                        for n, v, e in zip(names, values, expected)],
                       ", ".join(f"`{n}`" for n in names) + " right")

    plan.check(f"backward, {label}", evaluate, group="gradients", settings=settings)
    return bwd


def gradcheck_case(plan, forward, backward, label, args, wrt, dout, *, names,
                   backward_args=None, may_change=()):
    """Compare the student's backward with central differences of the student's forward
    (float64), for the inputs ``wrt`` (indices into ``args``; ``names`` their gradients, in
    the order backward returns them)."""
    fwd, bwd = _forward_then_backward(plan, forward, backward, label, label + " (backward)",
                                      args, dout, backward_args, may_change)
    num = plan.numgrad(label + " (central differences)", forward, args, wrt, dout)

    def evaluate(results):
        values, problem = returned_values(results[bwd], backward, len(names), _tuple_of(names))
        problem = (failure(results[fwd], forward) or failure(results[bwd], backward)
                   or failure(results[num], forward) or problem)
        if problem:
            return Outcome(False, problem)
        errors = []
        for k, n in enumerate(names[:len(wrt)]):
            numerical = results[num]["arrays"].get(f"out{k}")
            if values[k] is None or np.shape(values[k]) != np.shape(numerical):
                return Outcome(False, (f"`{n}` has shape {np.shape(values[k])}, expected "
                                       f"{np.shape(numerical)}"))
            errors.append((n, relative_error(values[k], numerical)))
        bad = [n for n, e in errors if not e < GRADCHECK_TOLERANCE]
        summary = ", ".join(f"{n} {e:.1e}" for n, e in errors)
        if bad:
            return Outcome(False, (f"your backward disagrees with the numerical gradient of "
                                   f"your forward (relative error {summary}; right is < "
                                   f"{GRADCHECK_TOLERANCE:.0e})"), (), Diagnosis(GRADCHECK, (
                f"{', '.join(bad)}: not the derivative of your own forward "
                "pass (the numerical gradient check fails)")))
        return Outcome(True, f"relative errors {summary}")

    plan.check(f"gradient check, {label}", evaluate, group="gradient check")
