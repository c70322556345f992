"""The checks of the Task 1 arithmetic exercises: conv_output_size, same_padding,
kernel_size_for and param_count, against :mod:`minitorch_cv.theory`."""

import numpy as np

from .. import models, nn, theory
from .diagnosis import STRUCTURE, Diagnosis, Mistake, evidence_for
from .grader import ModuleExpr, Outcome

__all__ = ["build_conv_output_size", "build_same_padding", "build_kernel_size_for",
           "build_param_count"]


def _value_case(plan, function, args, expected, mistakes, label=""):
    """One call that must return the int ``expected``; ``mistakes`` are (cause, text,
    wrong value) triples; ``label`` (else the call) names the check."""
    index = plan.call(label, function, args)
    known = [Mistake(cause, text, np.asarray(wrong)) for cause, text, wrong in mistakes]

    def evaluate(results):
        r = results[index]
        if r.get("status") != "ok":
            return Outcome(False, f"{function}: {r.get('message')}")
        if [e["kind"] for e in r.get("elements", [])] != ["scalar"]:
            return Outcome(False, f"{function} must return an int, it returned "
                           f"{r.get('returned')}")
        value = r["arrays"]["out0"]
        evidence = (evidence_for("value", value, np.asarray(expected), known),)
        if not np.issubdtype(value.dtype, np.integer):
            if float(value) == expected:
                return Outcome(False, (f"returned {float(value)!r}, a float: return an int "
                                       "(use // for the division)"), evidence, Diagnosis(
                    STRUCTURE, "sizes are ints: use floor division // (or int(...)), not /",
                    f"{function}.float"))
            return Outcome(False, f"returned {float(value)!r}, expected {expected}", evidence)
        if int(value) == expected:
            return Outcome(True, f"{int(value)}", evidence)
        return Outcome(False, f"returned {int(value)}, expected {expected}", evidence)

    plan.check(label or f"{function}({', '.join(map(str, args))})", evaluate, group="value")


def build_conv_output_size(plan, rng):
    for h, k, s, p in ((32, 5, 1, 2), (32, 3, 1, 0), (28, 3, 2, 1), (7, 3, 2, 0), (8, 3, 2, 0),
                       (504, 2, 2, 0), (5, 5, 1, 0)):
        _value_case(plan, "conv_output_size", (h, k, s, p), theory.conv_output_size(h, k, s, p), [
            ("conv_output_size.no_plus_one", ("the +1 is missing: H_out = (H + 2*padding - "
                                              "kernel_size) // stride + 1"),
             (h + 2 * p - k) // s),
            ("conv_output_size.padding_once", ("the padding counts twice, once per side: "
             "H + 2*padding"), (h + p - k) // s + 1),
            ("conv_output_size.ceil", ("rounded up; PyTorch floors the division (the last "
                                       "incomplete window is dropped)"),
             -(-(h + 2 * p - k) // s) + 1),
            ("conv_output_size.stride_ignored", "the stride is ignored", h + 2 * p - k + 1)])


def build_same_padding(plan, rng):
    for k in (1, 3, 5, 7, 11):
        _value_case(plan, "same_padding", (k, 1), theory.same_padding(k), [(
            "same_padding.one_side", "the padding is on BOTH sides: 2p = kernel_size - 1", k - 1)])


def build_kernel_size_for(plan, rng):
    for n_in, n_out, s, p in ((512, 504, 1, 0), (32, 32, 1, 2), (32, 16, 2, 0), (28, 14, 2, 1),
                              (7, 3, 2, 0)):
        k = theory.kernel_size_for(n_in, n_out, s, p)
        _value_case(plan, "kernel_size_for", (n_in, n_out, s, p), k, [
            ("kernel_size_for.off_by_one", "off by one: k = in + 2*padding - (out - 1)*stride",
             n_in + 2 * p - n_out * s),
            ("kernel_size_for.padding_once", ("the padding counts on both sides: "
             "in + 2*padding"), n_in + p - (n_out - 1) * s)])


PARAM_COUNT_MODULES = (
    "nn.Conv2d(3, 32, kernel_size=5)",
    "nn.Conv2d(3, 32, kernel_size=5, bias=False)",
    "nn.Linear(2048, 64)",
    "nn.BatchNorm2d(64)",
    ("nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), "
    "nn.Linear(8 * 15 * 15, 10))"),
    "models.task2_model()",
)


def build_param_count(plan, rng):
    for expr in PARAM_COUNT_MODULES:
        module = eval(expr, {"nn": nn, "models": models})        # the grader's own text
        expected = theory.param_count(module)
        no_bias = sum(int(np.size(p.data)) for n, p in module.named_parameters()
                      if not n.endswith("bias"))
        buffers = sum(int(np.size(b)) for _, b in module.named_buffers()
                      if np.issubdtype(np.asarray(b).dtype, np.floating))
        _value_case(plan, "param_count", (ModuleExpr(expr),), expected, [
            ("param_count.no_biases", ("the biases are not counted: a Conv2d has out_channels "
                                       "biases, a Linear out_features"), no_bias),
            ("param_count.buffers", ("buffers (BatchNorm's running statistics) are counted; "
                                     "they are not parameters"), expected + buffers)],
            f"param_count({expr})")
