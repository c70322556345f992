"""The checks of linear, ReLU, softmax cross-entropy, batch norm and dropout: each
``build_NAME(plan, rng)`` adds a base case and variants that change one setting each, the
right answers from :mod:`minitorch_cv.functional`, the known mistakes' answers written out."""

import numpy as np

from .. import functional as F
from . import settings as S
from .checking import (
    backward_case,
    cases,
    failure,
    float32_suffix,
    forward_case,
    gradcheck_case,
    judge,
    normal,
    verdict,
)
from .conv_checks import mean_over_batch
from .diagnosis import STRUCTURE, Diagnosis, Mistake
from .grader import Cache, Outcome, Rng

__all__ = ["build_linear", "build_relu", "build_softmax_cross_entropy", "build_batchnorm",
           "build_dropout"]


# --------------------------------------------------------------------------- linear
def build_linear(plan, rng):
    x = np.array([[1.0, 2.0, 3.0]])
    w = np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    forward_case(plan, "linear_forward", "fixed x [[1, 2, 3]], w [[1, 0, -1], [.5, .5, .5]], "
                 "b [10, 20]", (x, w, np.array([10.0, 20.0])), [np.array([[8.0, 23.0]])])
    for settings in cases({S.BATCH: 6, S.BIAS: True, S.DTYPE: "float64"}, {S.BATCH: 1},
                          {S.BIAS: False}, {S.DTYPE: "float32"}):
        n, bias, dtype = settings[S.BATCH], settings[S.BIAS], np.dtype(settings[S.DTYPE])
        i, o = 7, 4
        x, w = normal(rng, (n, i), dtype), normal(rng, (o, i), dtype)
        b = normal(rng, o, dtype) if bias else None
        out, cache = F.linear_forward(x, w, b)
        label = f"x {x.shape}, w {w.shape}" + ("" if bias else ", b=None") + float32_suffix(dtype)
        forward_case(plan, "linear_forward", label, (x, w, b), [out], settings=settings,
                     mistakes={"out": [Mistake("linear.no_bias", "the bias is not added",
                                               x @ w.T if bias else None)]})
        dout = normal(rng, out.shape, dtype)
        dx, dw, db = F.linear_backward(dout, cache)
        backward_case(plan, "linear_forward", "linear_backward", label, (x, w, b), dout,
                      [dx, dw, db], names=("dx", "dw", "db"), settings=settings,
                      mistakes={"dw": [mean_over_batch("linear", "dw", dw, n), Mistake(
                          "linear.dw_transposed", ("dw has the shape of w.T: dw = dout.T @ x, "
                                                   "shape (out_features, in_features) like w"),
                          shape=(i, o))], "db": [mean_over_batch("linear", "db", db, n)]})
    x, w, b = normal(rng, (3, 4)), normal(rng, (5, 4)), normal(rng, 5)
    gradcheck_case(plan, "linear_forward", "linear_backward", "x (3, 4), w (5, 4)",
                   (x, w, b), (0, 1, 2), normal(rng, (3, 5)), names=("dx", "dw", "db"))


# --------------------------------------------------------------------------- relu
def build_relu(plan, rng):
    for settings in cases({S.ZEROS: True, S.DTYPE: "float64"}, {S.DTYPE: "float32"},
                          {S.ZEROS: False}):
        dtype = np.dtype(settings[S.DTYPE])
        x = normal(rng, (4, 3, 5))
        x = (np.round(x, 0) if settings[S.ZEROS]                   # many exact zeros
             else np.where(np.abs(x) < 0.1, 0.5, x)).astype(dtype)
        out, cache = F.relu_forward(x)
        label = (f"x {x.shape}" + (" with zeros" if settings[S.ZEROS] else "")
                 + float32_suffix(dtype))
        forward_case(plan, "relu_forward", label, (x,), [out], settings=settings,
                     mistakes={"out": [Mistake("relu.abs", "out = |x|: negative inputs must "
                                               "give 0", np.abs(x))]})
        dout = normal(rng, x.shape, dtype)
        backward_case(plan, "relu_forward", "relu_backward", label, (x,), dout,
                      [F.relu_backward(dout, cache)], names=("dx",), settings=settings,
                      mistakes={"dx": [Mistake("relu.grad_at_zero", (
                          "at x == 0 the gradient must be 0 (PyTorch uses x > 0, not x >= 0)"),
                          dout * (x >= 0)),
                          Mistake("relu.mask_only", "dx = mask, without dout: dx = dout * "
                                  "(x > 0)", (x > 0).astype(float))]})
    x = normal(rng, (3, 4))
    x[np.abs(x) < 0.1] = 0.5                                  # no kinks to nudge across
    gradcheck_case(plan, "relu_forward", "relu_backward", "x (3, 4)", (x,), (0,),
                   normal(rng, (3, 4)), names=("dx",))


# --------------------------------------------------------------------------- cross-entropy
OVERFLOW = ("for large logits `exp` overflows (or a probability underflows to 0 and its log "
            "is -inf): compute log_softmax directly, z - max(z) - log(sum(exp(z - max(z))))")


def build_softmax_cross_entropy(plan, rng):
    fwd, bwd = "cross_entropy_forward", "cross_entropy_backward"
    for settings in cases({S.REDUCTION: "mean", S.SCALE: 1, S.BATCH: 4, S.DLOSS: 1.0},
                          {S.REDUCTION: "sum"}, {S.SCALE: 1000}, {S.BATCH: 1},
                          {S.DLOSS: 2.5}):
        n, reduction, dloss = settings[S.BATCH], settings[S.REDUCTION], settings[S.DLOSS]
        mean = reduction == "mean"
        logits = normal(rng, (n, 5)) * settings[S.SCALE]
        labels = rng.integers(0, 5, n)
        loss, cache = F.cross_entropy_forward(logits, labels, reduction)
        label = (f"logits {logits.shape}, {reduction}"
                 + (", large logits (about 1000)" if settings[S.SCALE] != 1 else "")
                 + (f", dloss {dloss}" if dloss != 1 else ""))
        overflow = ([Mistake("cross_entropy.overflow", OVERFLOW, nonfinite=True)]
                    if settings[S.SCALE] != 1 else [])
        if dloss == 1.0:
            other = F.cross_entropy_forward(logits, labels, "sum" if mean else "mean")[0]
            forward_case(plan, fwd, label, (logits, labels, reduction), [np.asarray(loss)],
                         what="(loss, cache)", names=("loss",), settings=settings,
                         mistakes={"loss": overflow + [Mistake(
                             "cross_entropy.reduction", "the loss is summed over the batch; "
                             "reduction='mean' divides by N" if mean else
                             "reduction='sum' must not divide by N", np.asarray(other))]})
        dz = F.cross_entropy_backward(cache, dloss)
        probs = np.exp(F.log_softmax(logits, axis=1))
        dmistakes = overflow + [
            Mistake("cross_entropy.grad_not_divided", "the gradient is not divided by N (the "
                    "loss is a mean over the batch)", dz * n if mean else None),
            Mistake("cross_entropy.no_onehot", ("the one-hot labels are not subtracted: "
                                                "dlogits = (softmax - onehot(labels)) / N"),
                    probs * (dloss / n if mean else dloss)),
            Mistake("cross_entropy.dloss_ignored", "dloss (the upstream gradient) is "
                    "ignored: multiply by it", dz / dloss)]
        backward_case(plan, fwd, bwd, label, (logits, labels, reduction), dloss, [dz],
                      names=("dlogits",), settings=settings,
                      backward_args=lambda cache, d=dloss: [cache, d],
                      mistakes={"dlogits": dmistakes})
    logits, labels = normal(rng, (3, 4)), rng.integers(0, 4, 3)
    gradcheck_case(plan, fwd, bwd, "logits (3, 4), mean", (logits, labels, "mean"), (0,),
                   np.float64(1.7), names=("dlogits",),
                   backward_args=lambda cache: [cache, 1.7])


# --------------------------------------------------------------------------- batch norm
REVERSED = ("the momentum is applied the wrong way round: new = (1 - momentum) * running + "
            "momentum * batch")


def _bn(x, gamma, beta, rm, rv, training):
    rm, rv = rm.copy(), rv.copy()
    out, cache = F.batchnorm_forward(x, gamma, beta, rm, rv, training)
    return out, cache, rm, rv


def _running_check(rm, rv, rm_new, rv_new, mu, var, m):
    """Judge running_mean and running_var after a training-mode call."""
    mean_mistakes = [Mistake("batchnorm.momentum_reversed", REVERSED, 0.1 * rm + 0.9 * mu)]
    var_mistakes = [Mistake("batchnorm.running_var_biased", (
        "running_var stores the UNBIASED batch variance (times m / (m - 1)); the "
        "normalization uses the biased one"), 0.9 * rv + 0.1 * var),
        Mistake("batchnorm.momentum_reversed", REVERSED, 0.1 * rv + 0.9 * var * m / (m - 1))]

    def evaluate(result, values):
        got_m, got_v = result.get("arrays", {}).get("arg3"), result.get("arrays", {}).get("arg4")
        if got_m is None or np.allclose(got_m, rm):
            return Outcome(False, "running_mean was not updated in place (running_mean *= "
                           "1 - momentum; running_mean += momentum * mean)")
        return verdict([judge("running_mean", got_m, rm_new, mean_mistakes),
                        judge("running_var", got_v, rv_new, var_mistakes)],
                       "`out`, running_mean and running_var are right")
    return evaluate


def build_batchnorm(plan, rng):
    fwd, bwd = "batchnorm_forward", "batchnorm_backward"

    def params(c, dtype=np.float64):
        return (1 + 0.1 * normal(rng, c, dtype), 0.1 * normal(rng, c, dtype),
                0.1 * normal(rng, c, dtype), 1 + rng.uniform(0, 1, c).astype(dtype))

    for train in cases({S.RANK: "4D", S.DTYPE: "float64", S.MODE: "training"},
                       {S.RANK: "2D"}, {S.DTYPE: "float32"}):
        shape, dtype = (4, 3, 3, 2) if train[S.RANK] == "4D" else (8, 5), train[S.DTYPE]
        x = (2 + 3 * normal(rng, shape)).astype(dtype)
        c, m = shape[1], x.size // shape[1]
        g, b, rm, rv = params(c, dtype)
        out, cache, rm_new, rv_new = _bn(x, g, b, rm, rv, True)
        x64 = x.astype(np.float64)
        axes, bshape = (0,) + tuple(range(2, x.ndim)), (1, c) + (1,) * (x.ndim - 2)
        mu, var = x64.mean(axis=axes), x64.var(axis=axes)
        unbiased = ((x64 - mu.reshape(bshape)) / np.sqrt(var * m / (m - 1) + 1e-5).reshape(
            bshape) * g.reshape(bshape) + b.reshape(bshape))
        suffix = f"x {shape}" + float32_suffix(x.dtype)
        evaluation = dict(train, **{S.MODE: "evaluation"})
        forward_case(plan, fwd, f"training, {suffix}", (x, g, b, rm, rv, True), [out],
                     settings=train, may_change=(3, 4), report_args=(3, 4),
                     extra=_running_check(rm, rv, rm_new, rv_new, mu, var, m),
                     mistakes={"out": [Mistake("batchnorm.unbiased_variance", (
                         "the batch variance is the unbiased one (divided by m - 1); batch "
                         "norm normalizes with the biased variance (divided by m, np.var's "
                         "default)"), unbiased)]})
        eval_out, eval_cache, _, _ = _bn(x, g, b, rm, rv, False)
        forward_case(plan, fwd, f"evaluation mode, {suffix}", (x, g, b, rm, rv, False),
                     [eval_out], settings=evaluation,
                     mistakes={"out": [Mistake("batchnorm.eval_batch_stats", (
                         "evaluation mode uses the batch statistics; it must use "
                         "running_mean and running_var"), out)]})
        dout, inv_std = normal(rng, shape, dtype), 1 / np.sqrt(var + 1e-5)
        backward_case(plan, fwd, bwd, f"training, {suffix}", (x, g, b, rm, rv, True), dout,
                      list(F.batchnorm_backward(dout, cache)), names=("dx", "dgamma", "dbeta"),
                      settings=train, may_change=(3, 4),
                      mistakes={"dx": [Mistake("batchnorm.dx_constant_stats", (
                          "dx treats the batch mean and variance as constants; they depend "
                          "on x: dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat)), "
                          "g = dout * gamma"), dout * (g * inv_std).reshape(bshape))]})
        backward_case(plan, fwd, bwd, f"evaluation mode, {suffix}", (x, g, b, rm, rv, False),
                      dout, list(F.batchnorm_backward(dout, eval_cache)),
                      names=("dx", "dgamma", "dbeta"), settings=evaluation)
    x = 1 + normal(rng, (4, 2, 2, 2))
    g, b, rm, rv = params(2)
    gradcheck_case(plan, fwd, bwd, "training, x (4, 2, 2, 2)", (x, g, b, rm, rv, True),
                   (0, 1, 2), normal(rng, x.shape), names=("dx", "dgamma", "dbeta"),
                   may_change=(3, 4))


# --------------------------------------------------------------------------- dropout
def _rate_fits(rate, target, units):
    sigma = np.sqrt(max(target * (1 - target), 1e-12) / units)
    return abs(rate - target) <= 5 * sigma + 1e-3


SCALE_MISTAKES = {
    "x": ("dropout without the 1/(1-p) scale: kept entries must be x / (1 - p), so that the "
          "expected output equals x and eval mode needs no change"),
    "x * (1 - p)": "kept entries are multiplied by (1 - p); inverted dropout DIVIDES by (1 - p)",
    "x / p": "kept entries are divided by p; inverted dropout divides by 1 - p"}


def _dropout_structure(x, out, p, channelwise):
    """(problem, diagnosis) of a dropout output by its structure, (None, None) when right:
    every entry 0 or x / (1 - p), whole maps with ``channelwise``, about p dropped. A cause
    is named only when the evidence tells it apart (at p = 0.5, p and 1 - p look alike)."""
    if not np.all(np.isfinite(out)):
        return f"`out` has {int(np.sum(~np.isfinite(out)))} NaN or infinite entries", None
    kept = out != 0
    if p == 1.0:
        return (None if not kept.any() else
                "with p = 1 every entry must be dropped (out all zeros)"), None
    units = kept
    if channelwise:
        maps = kept.reshape(x.shape[0], x.shape[1], -1)
        if not np.all(maps.all(axis=2) | ~maps.any(axis=2)):
            return "channelwise=True must drop whole feature maps (n, c)", Diagnosis(
                STRUCTURE, "Dropout2d (channelwise) draws one number per (image, channel) "
                "and drops the whole map", "dropout.channelwise")
        units = maps[:, :, 0]
    rate, ratio = 1 - units.mean(), out[kept] / x[kept]
    scales = {"x / (1 - p)": 1 / (1 - p), "x": 1.0, "x * (1 - p)": 1 - p}
    if p > 0:
        scales["x / p"] = 1 / p
    scale = next((name for name, v in scales.items() if ratio.size and np.allclose(
        ratio, v, rtol=1e-4)), None)
    rate_p, rate_q = _rate_fits(rate, p, units.size), _rate_fits(rate, 1 - p, units.size)
    if scale == "x / (1 - p)" and rate_p:
        return None, None
    if scale is None:
        return "some nonzero entries are neither 0 nor x / (1 - p)", None
    problem = (f"kept entries are {scale}, expected x / (1 - p); dropped {rate:.3f} of the "
               f"entries, expected about {p}")
    if rate_p and not rate_q:
        return problem, Diagnosis(STRUCTURE, SCALE_MISTAKES[scale], f"dropout.scale {scale}")
    if rate_q and not rate_p and scale in ("x / p", "x / (1 - p)"):
        return problem, Diagnosis(STRUCTURE, (
            "p is the probability of DROPPING an entry (PyTorch's convention), not of keeping "
            "it: keep where u >= p, and scale the kept entries by 1 / (1 - p)"),
            "dropout.p_is_keep")
    return problem, None


def _dropout_extra(p, x, channelwise):
    def evaluate(result, values):
        out = values[0]
        if out is None or out.shape != x.shape:
            return Outcome(False, f"`out` has shape {np.shape(out)}, expected {x.shape}")
        if out.dtype != x.dtype:
            return Outcome(False, f"`out` has dtype {out.dtype}, expected {x.dtype} like the "
                           "input")
        problem, diagnosis = _dropout_structure(x, out, p, channelwise)
        if problem:
            return Outcome(False, problem, (), diagnosis)
        if result.get("global_rng_used"):
            return Outcome(False, "uses np.random's global state", (), Diagnosis(
                STRUCTURE, "draw the mask from the `rng` argument (rng.random(shape)), never "
                "from np.random's global functions: then a seeded rng gives the same mask",
                "dropout.global_rng"))
        return Outcome(True, f"zeros or x / (1 - p); dropped {1 - np.mean(out != 0):.3f} "
                       f"(p = {p})")
    return evaluate


def _dropout_backward(plan, rng, p, settings):
    fwd, bwd = "dropout_forward", "dropout_backward"
    key = f"cache{len(plan.steps)}"
    xb = rng.uniform(1, 2, (30, 40))
    dout = normal(rng, xb.shape)
    f_index = plan.call(f"backward case p {p} (forward)", fwd, (xb, p, Rng(6)), keep=key)
    b_index = plan.call(f"backward case p {p}", bwd, (dout, Cache(key)))

    def backward_right(results):
        fr, br = results[f_index], results[b_index]
        problem = failure(fr, fwd) or failure(br, bwd)
        if problem:
            return Outcome(False, problem)
        out, dx = fr["arrays"].get("out0"), br["arrays"].get("out0")
        if out is None or dx is None or dx.shape != dout.shape:
            return Outcome(False, f"{bwd} must return dx of shape {dout.shape}, it returned "
                           f"{br.get('returned')}")
        if not np.all(np.isfinite(dx)):
            return Outcome(False, f"`dx` has {int(np.sum(~np.isfinite(dx)))} NaN or infinite "
                           "entries")
        if np.allclose(dx, dout * out / xb, rtol=1e-6, atol=1e-12):
            return Outcome(True, "dx = dout * mask, with the forward's mask")
        if not np.array_equal(dx != 0, out != 0):
            return Outcome(False, "dx is nonzero where the forward dropped, or zero where it "
                           "kept", (), Diagnosis(STRUCTURE, (
                               "backward must use the forward's mask (keep it in the cache), "
                               "not draw a new one"), "dropout.new_mask"))
        if np.allclose(dx, dout * (out != 0), rtol=1e-6):
            return Outcome(False, "dx = dout where kept, without the scale", (), Diagnosis(
                STRUCTURE, "backward misses the 1/(1-p) scale: dx = dout * mask with the "
                "scaled mask", "dropout.backward_scale"))
        return Outcome(False, "dx is not dout * mask")
    plan.check(f"backward, x (30, 40), p {p}", backward_right, group="gradients",
               settings=settings)


def build_dropout(plan, rng):
    fwd = "dropout_forward"
    base = {S.P: 0.2, S.DTYPE: "float64", S.CHANNELWISE: False}
    calls = []
    for seed, settings in enumerate(cases(base, {S.P: 0.0}, {S.P: 0.5}, {S.P: 0.8},
                                          {S.P: 1.0}, {S.DTYPE: "float32"},
                                          {S.CHANNELWISE: True}), start=1):
        p, channelwise = settings[S.P], settings[S.CHANNELWISE]
        shape = (60, 40, 3, 4) if channelwise else (100, 200)
        x = rng.uniform(1, 2, shape).astype(settings[S.DTYPE])
        label = (f"x {shape}, p {p}" + float32_suffix(x.dtype)
                 + (", channelwise=True" if channelwise else ""))
        args = (x, p, Rng(seed)) + ((True,) if channelwise else ())
        calls.append((forward_case(plan, fwd, label, args, [None], what="(out, mask)",
                                   names=(), extra=_dropout_extra(p, x, channelwise),
                                   settings=settings), args))
    first, again = calls[0][0], plan.call("same seed again", fwd, calls[0][1])

    def reproducible(results):
        a, b = results[first], results[again]
        if not (a.ok and b.ok) or "out0" not in a["arrays"] or "out0" not in b["arrays"]:
            return Outcome(False, "not checked: dropout_forward did not return (out, mask)")
        if np.array_equal(a["arrays"]["out0"], b["arrays"]["out0"], equal_nan=True):
            return Outcome(True, "the same seed gives the same mask")
        return Outcome(False, "two generators with the same seed gave different masks", (),
                       Diagnosis(STRUCTURE, "draw the mask from the `rng` argument only",
                                 "dropout.global_rng"))
    plan.check("reproducible with a seeded rng", reproducible, group="out")
    for p in (0.25, 0.8):
        _dropout_backward(plan, rng, p, dict(base, **{S.P: p}))
