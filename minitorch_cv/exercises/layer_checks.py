"""The checks of the layer exercises: conv2d, pooling, linear, ReLU, softmax
cross-entropy, batch norm and dropout.

Every ``build_NAME(plan, rng)`` adds the calls and checks of exercise NAME to ``plan``.
The right answers come from :mod:`minitorch_cv.functional`; the known mistakes are
computed here, by running the library on changed inputs (a flipped kernel) or by
writing out the wrong formula.
"""

import numpy as np

from .. import functional as F
from .checking import backward_case, forward_case, gradcheck_case, judge
from .diagnosis import window_coverage
from .grader import Cache, Rng

__all__ = ["build_conv2d", "build_maxpool2d", "build_avgpool2d", "build_linear", "build_relu",
           "build_softmax_cross_entropy", "build_batchnorm", "build_dropout"]

FLIPPED = ("the kernel is flipped: that is true convolution; deep learning's convolution is "
           "cross-correlation, out[i, j] = sum of x[window at (i, j)] * w, with no flip")
MEAN_DIAGNOSIS = ("{name} is the right one divided by the batch size: it is averaged over "
                  "the batch instead of summed (dout already carries the loss's 1/N)")


def _normal(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def _size(h, k, s, p):
    return (h + 2 * p - k) // s + 1


# --------------------------------------------------------------------------- conv2d
def _conv(x, w, b, s, p):
    return F.conv2d_forward(x, w, b, s, p)[0]


def build_conv2d(plan, rng):
    names = ["x", "w", "b", "stride", "padding"]
    x32 = _normal(rng, (2, 3, 6, 5), np.float32)
    w32, b32 = _normal(rng, (4, 3, 3, 3), np.float32), _normal(rng, 4, np.float32)
    forward_case(plan, "conv2d_forward", "float32 input, shape and dtype",
                 (x32, w32, b32, 1, 1), [_conv(x32, w32, b32, 1, 1)], tags=("float32", "padding"),
                 arg_names=names)
    dout32 = _normal(rng, (2, 4, 6, 5), np.float32)
    backward_case(plan, "conv2d_forward", "conv2d_backward", "float32 input, shapes and dtypes",
                  (x32, w32, b32, 1, 1), dout32,
                  list(F.conv2d_backward(dout32, F.conv2d_forward(x32, w32, b32, 1, 1)[1])),
                  names=("dx", "dw", "db"), tags=("float32", "padding"), arg_names=names,
                  coverage=window_coverage((6, 5), 3, 1, 1), border=1)
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    forward_case(plan, "conv2d_forward", "fixed 1x1x4x4 image, 2x2 kernel [[1, 2], [3, 4]]",
                 (x, w, np.zeros(1), 1, 0), [_conv(x, w, np.zeros(1), 1, 0)],
                 mistakes=[(FLIPPED, _conv(x, w[..., ::-1, ::-1].copy(), np.zeros(1), 1, 0))],
                 arg_names=names)
    cases = [  # (N, C, H, W, F, K, stride, padding, bias, tags)
        (2, 3, 7, 6, 4, 3, 1, 0, True, ("non-square input",)),
        (2, 3, 7, 6, 4, 3, 2, 0, True, ("stride 2", "non-square input")),
        (2, 3, 6, 6, 4, 3, 1, 2, True, ("padding",)),
        (2, 2, 7, 5, 3, 3, 2, 2, True, ("stride 2", "padding", "non-square input")),
        (1, 3, 5, 5, 2, 3, 1, 1, False, ("batch 1", "no bias", "padding")),
    ]
    for n, c, h, wd, f, k, s, p, bias, tags in cases:
        x, w = _normal(rng, (n, c, h, wd)), _normal(rng, (f, c, k, k))
        b = _normal(rng, f) if bias else None
        out = _conv(x, w, b, s, p)
        label = (f"x {x.shape}, w {w.shape}, stride {s}, padding {p}"
                 + ("" if bias else ", b=None"))
        flipped = _conv(x, w[..., ::-1, ::-1].copy(), b, s, p)
        out_s1 = _conv(x, w, b, 1, p)
        mistakes = [(FLIPPED, flipped),
                     (("the windows move by 1, not by the stride: window (i, j) starts at row "
                      "i*stride, column j*stride"), out_s1[:, :, :out.shape[2], :out.shape[3]]),
                     ("the bias is not added", _conv(x, w, None, s, p) if bias else None)]
        wrong_shapes = [("stride ignored: H_out = (H + 2*padding - K) // stride + 1",
                         out_s1.shape),
                        ("padding ignored: pad x with `padding` zeros on every side first",
                         (n, f, _size(h, k, s, 0), _size(wd, k, s, 0)))]
        forward_case(plan, "conv2d_forward", label, (x, w, b, s, p), [out], mistakes=mistakes,
                     wrong_shapes=wrong_shapes, border=max(p, 1), tags=tags, arg_names=names)
        if (n, s, p) == (2, 1, 2) or k != 3:
            continue
        dout = _normal(rng, out.shape)
        dx, dw, db = F.conv2d_backward(dout, F.conv2d_forward(x, w, b, s, p)[1])
        backward_case(
            plan, "conv2d_forward", "conv2d_backward", label, (x, w, b, s, p), dout,
            [dx, dw, db], names=("dx", "dw", "db"), tags=tags, arg_names=names,
            coverage=window_coverage((h, wd), k, s, p), border=max(p, 1),
            mistakes={"dw": [(MEAN_DIAGNOSIS.format(name="dw"), dw / n if n > 1 else None),
                             (("dw is flipped: dw[f, c, i, j] = sum dout * x[window at (i, j)] "
                              "(no flip)"), dw[..., ::-1, ::-1])],
                      "db": [(MEAN_DIAGNOSIS.format(name="db"),
                              db / n if bias and n > 1 else None)]},
            wrong_shapes={"dx": [(("the padding is not cropped off dx: dx = dx_pad[:, :, "
                                  "p:p+H, p:p+W]"), (n, c, h + 2 * p, wd + 2 * p))]})
    x, w, b = _normal(rng, (2, 2, 5, 4)), _normal(rng, (3, 2, 3, 3)), _normal(rng, 3)
    dout = _normal(rng, (2, 3, 3, 2))
    gradcheck_case(plan, "conv2d_forward", "conv2d_backward",
                   "x (2, 2, 5, 4), w (3, 2, 3, 3), stride 2, padding 1",
                   (x, w, b, 2, 1), (0, 1, 2), dout, names=("dx", "dw", "db"), arg_names=names)


# --------------------------------------------------------------------------- pooling
def _windows(x, k, s, p, fill):
    """Every window of x as (N, C, H_out, W_out, k*k), padding filled with ``fill``."""
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * p, w + 2 * p), fill, dtype=np.float64)
    xp[:, :, p:p + h, p:p + w] = x
    oh, ow = _size(h, k, s, p), _size(w, k, s, p)
    out = np.empty((n, c, oh, ow, k * k))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = xp[:, :, i * s:i * s + k, j * s:j * s + k].reshape(n, c, -1)
    return out


def _route(x, dout, k, s, p, pick):
    """dx of max pooling when ``pick(window) -> weights`` says where each dout goes."""
    n, c, h, w = x.shape
    win = _windows(x, k, s, p, -np.inf)
    dxp = np.zeros((n, c, h + 2 * p, w + 2 * p))
    for i in range(win.shape[2]):
        for j in range(win.shape[3]):
            weights = pick(win[:, :, i, j])                      # (N, C, k*k)
            dxp[:, :, i * s:i * s + k, j * s:j * s + k] += (
                weights * dout[:, :, i, j, None]).reshape(n, c, k, k)
    return dxp[:, :, p:p + h, p:p + w]


def _every_max(window):
    return (window == window.max(axis=-1, keepdims=True)).astype(float)


def _last_max(window):
    flipped = window[..., ::-1]
    last = window.shape[-1] - 1 - np.argmax(flipped, axis=-1)
    return (np.arange(window.shape[-1]) == last[..., None]).astype(float)


def _pool_cases(rng, tied):
    """(x, kernel, stride or None, padding, tags) of the pooling exercises."""
    ties = np.floor(rng.uniform(0, 3, (2, 2, 6, 6)))
    cases = [
        (_normal(rng, (2, 3, 6, 8)), 2, 2, 0, ("non-square input",)),
        (_normal(rng, (2, 2, 7, 5)), 3, 2, 0, ("stride 2", "overlapping windows",
                                               "non-square input")),
        (_normal(rng, (1, 2, 6, 6)), 2, None, 0, ("the default stride",)),
        (_normal(rng, (2, 2, 7, 7)), 3, 2, 1, ("stride 2", "overlapping windows", "padding")),
    ]
    if tied:
        cases.append((ties, 2, 2, 0, ("tied maxima",)))
    return cases


def _build_pool(plan, rng, kind):
    fwd, bwd = f"{kind}2d_forward", f"{kind}2d_backward"
    forward, backward = getattr(F, fwd), getattr(F, bwd)
    names = ["x", "kernel_size", "stride", "padding"]
    x32 = _normal(rng, (2, 3, 4, 4), np.float32)
    forward_case(plan, fwd, "float32 input, shape and dtype, kernel 2, stride 2",
                 (x32, 2, 2, 0), [forward(x32, 2, 2, 0)[0]], tags=("float32",),
                 arg_names=names)
    for x, k, s, p, tags in _pool_cases(rng, tied=kind == "maxpool"):
        args = (x, k) if s is None else (x, k, s, p)
        label = (f"x {x.shape}, kernel {k}, " + ("stride not given (defaults to kernel_size)"
                                                  if s is None else f"stride {s}, padding {p}"))
        if "tied maxima" in tags:
            label += ", tied maxima"
        out, cache = forward(x, k, s, p)
        stride = k if s is None else s
        wrong_shapes = [("stride=None must mean stride = kernel_size (PyTorch's default)"
                         if s is None else "stride ignored", (x.shape[0], x.shape[1],
                                                              _size(x.shape[2], k, 1, p),
                                                              _size(x.shape[3], k, 1, p))),
                        ("padding ignored", (x.shape[0], x.shape[1],
                                             _size(x.shape[2], k, stride, 0),
                                             _size(x.shape[3], k, stride, 0)))]
        mistakes = []
        if kind == "avgpool" and p:
            win = _windows(x, k, stride, p, np.nan)
            mistakes.append((("the padded zeros are left out of the mean (count_include_pad="
                             "False); PyTorch's default divides by kernel_size**2"),
                             np.nanmean(win, axis=-1)))
        if "tied maxima" not in tags:
            forward_case(plan, fwd, label, args, [out], mistakes=mistakes,
                         wrong_shapes=wrong_shapes, border=max(p, 1), tags=tags,
                         arg_names=names)
        dout = _normal(rng, out.shape)
        dx = backward(dout, cache)
        dx_mistakes = []
        if kind == "maxpool":
            dx_mistakes += [
                (("the gradient goes to EVERY maximum of a window; it must go to the first "
                 "maximum only (row-major order, like PyTorch's argmax)"),
                 _route(x, dout, k, stride, p, _every_max)),
                (("the gradient goes to the LAST maximum of a window; PyTorch sends it to the "
                 "first (np.argmax returns the first)"), _route(x, dout, k, stride, p,
                                                              _last_max))]
        else:
            dx_mistakes.append((("dx is not divided by the window size: each input of a "
                                "window gets dout / (kernel_size**2)"), dx * k * k))
        backward_case(plan, fwd, bwd, label, args, dout, [dx], names=("dx",), tags=tags,
                      mistakes={"dx": dx_mistakes}, arg_names=names, border=max(p, 1),
                      coverage=window_coverage(x.shape[2:], k, stride, p),
                      wrong_shapes={"dx": [("the padding is not cropped off dx",
                                            (x.shape[0], x.shape[1], x.shape[2] + 2 * p,
                                             x.shape[3] + 2 * p))]})
    x = rng.permutation(40).reshape(2, 1, 5, 4) * 0.1          # distinct: no ties to nudge
    dout = _normal(rng, (2, 1, 3, 2))
    gradcheck_case(plan, fwd, bwd, "x (2, 1, 5, 4), kernel 3, stride 2, padding 1",
                   (x, 3, 2, 1), (0,), dout, names=("dx",), arg_names=names)


def build_maxpool2d(plan, rng):
    _build_pool(plan, rng, "maxpool")


def build_avgpool2d(plan, rng):
    _build_pool(plan, rng, "avgpool")


# --------------------------------------------------------------------------- linear
def build_linear(plan, rng):
    names = ["x", "w", "b"]
    x32, w32, b32 = (_normal(rng, s, np.float32) for s in ((4, 5), (3, 5), (3,)))
    forward_case(plan, "linear_forward", "float32 input, shape and dtype", (x32, w32, b32),
                 [F.linear_forward(x32, w32, b32)[0]], tags=("float32",), arg_names=names)
    x = np.array([[1.0, 2.0, 3.0]])
    w = np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    b = np.array([10.0, 20.0])
    forward_case(plan, "linear_forward", "fixed x [[1, 2, 3]], w [[1, 0, -1], [.5, .5, .5]], "
                 "b [10, 20]", (x, w, b), [np.array([[8.0, 23.0]])], arg_names=names,
                 tags=("batch 1",))
    for n, i, o, bias, tags in ((6, 7, 4, True, ()), (1, 5, 3, False, ("batch 1", "no bias"))):
        x, w = _normal(rng, (n, i)), _normal(rng, (o, i))
        b = _normal(rng, o) if bias else None
        out, cache = F.linear_forward(x, w, b)
        label = f"x {x.shape}, w {w.shape}" + ("" if bias else ", b=None")
        forward_case(plan, "linear_forward", label, (x, w, b), [out], tags=tags,
                     mistakes=[("the bias is not added", x @ w.T if bias else None)],
                     arg_names=names)
        dout = _normal(rng, out.shape)
        dx, dw, db = F.linear_backward(dout, cache)
        backward_case(plan, "linear_forward", "linear_backward", label, (x, w, b), dout,
                      [dx, dw, db], names=("dx", "dw", "db"), tags=tags, arg_names=names,
                      mistakes={"dw": [(MEAN_DIAGNOSIS.format(name="dw"),
                                        dw / n if n > 1 else None)],
                                "db": [(MEAN_DIAGNOSIS.format(name="db"),
                                        db / n if bias and n > 1 else None)]},
                      wrong_shapes={"dw": [(("dw has the shape of w.T: dw = dout.T @ x, shape "
                                            "(out_features, in_features) like w"), (i, o))]})
    x, w, b = _normal(rng, (3, 4)), _normal(rng, (5, 4)), _normal(rng, 5)
    gradcheck_case(plan, "linear_forward", "linear_backward", "x (3, 4), w (5, 4)",
                   (x, w, b), (0, 1, 2), _normal(rng, (3, 5)), names=("dx", "dw", "db"),
                   arg_names=names)


# --------------------------------------------------------------------------- relu
def build_relu(plan, rng):
    x32 = _normal(rng, (2, 3, 4, 4), np.float32)
    forward_case(plan, "relu_forward", "float32 input, shape and dtype", (x32,),
                 [F.relu_forward(x32)[0]], tags=("float32",), arg_names=["x"])
    x = np.round(_normal(rng, (4, 3, 5)), 0)              # many exact zeros
    out, cache = F.relu_forward(x)
    forward_case(plan, "relu_forward", "x (4, 3, 5) with zeros", (x,), [out],
                 mistakes=[("out = |x|: negative inputs must give 0", np.abs(x))],
                 arg_names=["x"])
    dout = _normal(rng, x.shape)
    backward_case(plan, "relu_forward", "relu_backward", "x (4, 3, 5) with zeros", (x,), dout,
                  [F.relu_backward(dout, cache)], names=("dx",), arg_names=["x"],
                  mistakes={"dx": [(("at x == 0 the gradient must be 0 (PyTorch uses x > 0, "
                                    "not x >= 0)"), dout * (x >= 0)),
                                   ("dx = mask, without dout: dx = dout * (x > 0)",
                                    (x > 0).astype(float))]})
    x = _normal(rng, (3, 4))
    x[np.abs(x) < 0.1] = 0.5                                  # no kinks to nudge across
    gradcheck_case(plan, "relu_forward", "relu_backward", "x (3, 4)", (x,), (0,),
                   _normal(rng, (3, 4)), names=("dx",), arg_names=["x"])


# --------------------------------------------------------------------------- cross-entropy
def build_softmax_cross_entropy(plan, rng):
    fwd, bwd = "cross_entropy_forward", "cross_entropy_backward"
    names = ["logits", "labels", "reduction"]
    for logits, reduction, tags, label in (
            (_normal(rng, (4, 5)), "mean", (), "logits (4, 5), mean"),
            (_normal(rng, (4, 5)), "sum", ("reduction='sum'",), "logits (4, 5), sum"),
            (_normal(rng, (3, 6)) * 1000, "mean", (), "large logits (about 1000)"),
            (_normal(rng, (1, 3)), "mean", ("batch 1",), "logits (1, 3)")):
        n = logits.shape[0]
        labels = rng.integers(0, logits.shape[1], n)
        loss, cache = F.cross_entropy_forward(logits, labels, reduction)
        other = F.cross_entropy_forward(logits, labels, "sum" if reduction == "mean"
                                        else "mean")[0]
        mistakes = [("the loss is summed over the batch; reduction='mean' divides by N"
                     if reduction == "mean" else "reduction='sum' must not divide by N",
                     np.asarray(other) if n > 1 else None)]
        forward_case(plan, fwd, label, (logits, labels, reduction), [np.asarray(loss)],
                     what="(loss, cache)", names=("loss",), mistakes=mistakes, tags=tags,
                     arg_names=names)
        for dloss in ((1.0, 2.5) if reduction == "mean" and n == 4 else (1.0,)):
            dz = F.cross_entropy_backward(cache, dloss)
            probs = np.exp(F.log_softmax(logits, axis=1))
            scale = dloss / n if reduction == "mean" else dloss
            dmistakes = [("the gradient is not divided by N (the loss is a mean over the batch)",
                          dz * n if reduction == "mean" and n > 1 else None),
                         (("the one-hot labels are not subtracted: dlogits = (softmax - "
                          "onehot(labels)) / N"), probs * scale),
                         ("dloss (the upstream gradient) is ignored: multiply by it",
                          dz / dloss if dloss != 1.0 else None)]
            backward_case(plan, fwd, bwd, label + (f", dloss {dloss}" if dloss != 1 else ""),
                          (logits, labels, reduction), dloss, [dz], names=("dlogits",),
                          tags=tags + (("dloss",) if dloss != 1 else ()), arg_names=names,
                          backward_args=lambda cache, d=dloss: [cache, d],
                          mistakes={"dlogits": dmistakes})
    logits, labels = _normal(rng, (3, 4)), rng.integers(0, 4, 3)
    dloss = 1.7
    gradcheck_case(plan, fwd, bwd, "logits (3, 4), mean", (logits, labels, "mean"), (0,),
                   np.float64(dloss), names=("dlogits",), arg_names=names,
                   backward_args=lambda cache: [cache, dloss])


# --------------------------------------------------------------------------- batch norm
def _bn(x, gamma, beta, rm, rv, training):
    rm, rv = rm.copy(), rv.copy()
    out, cache = F.batchnorm_forward(x, gamma, beta, rm, rv, training)
    return out, cache, rm, rv


def build_batchnorm(plan, rng):
    fwd, bwd = "batchnorm_forward", "batchnorm_backward"
    names = ["x", "gamma", "beta", "running_mean", "running_var", "training"]

    def params(c, dtype=np.float64):
        return (1 + 0.1 * _normal(rng, c, dtype), 0.1 * _normal(rng, c, dtype),
                0.1 * _normal(rng, c, dtype), 1 + rng.uniform(0, 1, c).astype(dtype))

    x32 = (2 + 3 * _normal(rng, (4, 3, 2, 2))).astype(np.float32)
    g, b, rm, rv = params(3, np.float32)
    forward_case(plan, fwd, "float32 input, shape and dtype", (x32, g, b, rm, rv, True),
                 [_bn(x32, g, b, rm, rv, True)[0]], tags=("float32",), arg_names=names,
                 may_change=(3, 4))
    for shape, tags in (((4, 3, 3, 2), ()), ((8, 5), ("2D input",))):
        x = 2 + 3 * _normal(rng, shape)
        c = shape[1]
        g, b, rm, rv = params(c)
        out, cache, rm_new, rv_new = _bn(x, g, b, rm, rv, True)
        axes = (0,) + tuple(range(2, x.ndim))
        m = x.size // c
        mu, var = x.mean(axis=axes), x.var(axis=axes)
        bshape = (1, c) + (1,) * (x.ndim - 2)
        unbiased = ((x - mu.reshape(bshape)) / np.sqrt(var * m / (m - 1) + 1e-5).reshape(bshape)
                    * g.reshape(bshape) + b.reshape(bshape))
        label = f"training, x {shape}"

        def running(result, values, rm_new=rm_new, rv_new=rv_new, rm=rm, rv=rv, mu=mu,
                    var=var, m=m):
            arrays = result.get("arrays", {})
            got_m, got_v = arrays.get("arg3"), arrays.get("arg4")
            if got_m is None or np.allclose(got_m, rm):
                return False, ("running_mean was not updated in place (running_mean *= "
                               "1 - momentum; running_mean += momentum * mean)"), None
            for name, got, want, wrong in (
                    ("running_mean", got_m, rm_new, [
                        (("the momentum is applied the wrong way round: new = (1 - momentum) *"
                         " running + momentum * batch"), 0.1 * rm + 0.9 * mu)]),
                    ("running_var", got_v, rv_new, [
                        (("running_var stores the UNBIASED batch variance (times m / (m - 1)); "
                         "the normalization uses the biased one"), 0.9 * rv + 0.1 * var),
                        ("the momentum is applied the wrong way round", 0.1 * rv + 0.9 * var
                         * m / (m - 1))])):
                passed, message, diagnosis = judge(name, got, want, wrong)
                if not passed:
                    return False, message, diagnosis
            return True, "`out`, running_mean and running_var are right"

        forward_case(plan, fwd, label, (x, g, b, rm, rv, True), [out], tags=tags,
                     arg_names=names, may_change=(3, 4), report_args=(3, 4), extra=running,
                     mistakes=[(("the batch variance is the unbiased one (divided by m - 1); "
                                "batch norm normalizes with the biased variance (divided by "
                                "m, np.var's default)"), unbiased)])
        eval_out, eval_cache, _, _ = _bn(x, g, b, rm, rv, False)
        forward_case(plan, fwd, f"evaluation mode, x {shape}", (x, g, b, rm, rv, False),
                     [eval_out], tags=tags + ("evaluation mode",), arg_names=names,
                     mistakes=[(("evaluation mode uses the batch statistics; it must use "
                                "running_mean and running_var"), out)])
        dout = _normal(rng, shape)
        dx, dg, db = F.batchnorm_backward(dout, cache)
        inv_std = 1 / np.sqrt(var + 1e-5)
        backward_case(plan, fwd, bwd, label, (x, g, b, rm, rv, True), dout, [dx, dg, db],
                      names=("dx", "dgamma", "dbeta"), tags=tags, arg_names=names,
                      may_change=(3, 4),
                      mistakes={"dx": [(("dx treats the batch mean and variance as constants; "
                                        "they depend on x: dx = inv_std * (g - mean(g) - x_hat"
                                        " * mean(g * x_hat)), g = dout * gamma"),
                                        dout * (g * inv_std).reshape(bshape))]})
        backward_case(plan, fwd, bwd, f"evaluation mode, x {shape}",
                      (x, g, b, rm, rv, False), dout, list(F.batchnorm_backward(dout,
                                                                                eval_cache)),
                      names=("dx", "dgamma", "dbeta"), tags=tags + ("evaluation mode",),
                      arg_names=names)
    x = 1 + _normal(rng, (4, 2, 2, 2))
    g, b, rm, rv = params(2)
    gradcheck_case(plan, fwd, bwd, "training, x (4, 2, 2, 2)", (x, g, b, rm, rv, True),
                   (0, 1, 2), _normal(rng, x.shape), names=("dx", "dgamma", "dbeta"),
                   arg_names=names, may_change=(3, 4))


# --------------------------------------------------------------------------- dropout
def _dropout_extra(p, x, channelwise=False):
    """Judge a dropout output structurally: zeros, or x / (1 - p); rate near p."""
    def evaluate(result, values):
        out = values[0]
        if out is None or out.shape != x.shape:
            return False, f"`out` has shape {np.shape(out)}, expected {x.shape}"
        if out.dtype != x.dtype:
            return False, (f"`out` has dtype {out.dtype}, expected {x.dtype} like the input"), None
        kept = out != 0
        if p == 1.0:
            if np.all(out == 0):
                return True, "everything dropped"
            return False, "with p = 1 every entry must be dropped (out all zeros)", None
        scaled = np.isclose(out[kept], x[kept] / (1 - p), rtol=1e-5)
        if not np.all(scaled):
            if np.allclose(out[kept], x[kept], rtol=1e-5):
                return False, "kept entries equal x", (
                    "dropout without the 1/(1-p) scale: kept entries must be x / (1 - p), so "
                    "that the expected output equals x and eval mode needs no change")
            if np.allclose(out[kept], x[kept] * (1 - p), rtol=1e-5):
                return False, "kept entries equal x * (1 - p)", (
                    "kept entries are multiplied by (1 - p); inverted dropout DIVIDES by "
                    "(1 - p)")
            return False, "some nonzero entries are neither 0 nor x / (1 - p)", None
        if channelwise:
            maps = kept.reshape(x.shape[0], x.shape[1], -1)
            if not np.all(maps.all(axis=2) | ~maps.any(axis=2)):
                return False, "channelwise=True must drop whole feature maps (n, c)", (
                    "Dropout2d (channelwise) draws one number per (image, channel) and "
                    "drops the whole map")
            units = maps[:, :, 0].size
            rate = 1 - maps[:, :, 0].mean()
        else:
            units, rate = kept.size, 1 - kept.mean()
        sigma = np.sqrt(p * (1 - p) / units)
        if abs(rate - p) > 5 * sigma + 1e-3:
            if abs(rate - (1 - p)) <= 5 * sigma + 1e-3:
                return False, f"dropped {rate:.3f} of the entries, expected about {p}", (
                    "p is the probability of DROPPING an entry (PyTorch's convention), not "
                    "of keeping it: keep where u >= p")
            return False, f"dropped {rate:.3f} of the entries, expected about {p}", None
        if result.get("global_rng_used"):
            return False, "uses np.random's global state", (
                "draw the mask from the `rng` argument (rng.random(shape)), never from "
                "np.random's global functions: then a seeded rng gives the same mask")
        return True, f"zeros or x / (1 - p); dropped {rate:.3f} (p = {p})"
    return evaluate


def build_dropout(plan, rng):
    fwd, bwd = "dropout_forward", "dropout_backward"
    names = ["x", "p", "rng", "channelwise"]
    x = rng.uniform(1, 2, (100, 200))
    first = forward_case(plan, fwd, "x (100, 200), p 0.3", (x, 0.3, Rng(1)), [None],
                         what="(out, mask)", names=(), extra=_dropout_extra(0.3, x),
                         arg_names=names)
    again = plan.call("same seed again", fwd, (x, 0.3, Rng(1)), arg_names=names)

    def reproducible(results):
        a, b = results[first], results[again]
        if not (a.ok and b.ok) or "out0" not in a["arrays"] or "out0" not in b["arrays"]:
            return False, "not checked: dropout_forward did not return (out, mask)"
        if np.array_equal(a["arrays"]["out0"], b["arrays"]["out0"]):
            return True, "the same seed gives the same mask"
        return False, "two generators with the same seed gave different masks", (
            "draw the mask from the `rng` argument only")
    plan.check("reproducible with a seeded rng", reproducible, group="out")
    x32 = rng.uniform(1, 2, (20, 30)).astype(np.float32)
    forward_case(plan, fwd, "float32 input, p 0.5", (x32, 0.5, Rng(2)), [None], names=(),
                 what="(out, mask)", extra=_dropout_extra(0.5, x32), tags=("float32",),
                 arg_names=names)
    xc = rng.uniform(1, 2, (40, 30, 3, 4))
    forward_case(plan, fwd, "channelwise=True, x (40, 30, 3, 4), p 0.4",
                 (xc, 0.4, Rng(3), True), [None], names=(), what="(out, mask)",
                 extra=_dropout_extra(0.4, xc, channelwise=True), arg_names=names)
    x0 = rng.uniform(1, 2, (5, 6))
    forward_case(plan, fwd, "p = 0 keeps everything", (x0, 0.0, Rng(4)), [x0], names=("out",),
                 what="(out, mask)", arg_names=names)
    forward_case(plan, fwd, "p = 1 drops everything", (x0, 1.0, Rng(5)), [None], names=(),
                 what="(out, mask)", extra=_dropout_extra(1.0, x0), arg_names=names)
    # backward: the same mask, the same scale
    key = f"cache{len(plan.steps)}"
    xb = rng.uniform(1, 2, (30, 40))
    dout = _normal(rng, xb.shape)
    f_index = plan.call("backward case (forward)", fwd, (xb, 0.25, Rng(6)), keep=key,
                        arg_names=names)
    b_index = plan.call("backward case", bwd, (dout, Cache(key)), arg_names=["dout", "mask"])

    def backward_right(results):
        fr, br = results[f_index], results[b_index]
        for r, function in ((fr, fwd), (br, bwd)):
            if not r.ok:
                return False, f"{function}: {r.get('message')}"
        out, dx = fr["arrays"].get("out0"), br["arrays"].get("out0")
        if out is None or dx is None or dx.shape != dout.shape:
            return False, (f"{bwd} must return dx of shape {dout.shape}, it returned "
                           f"{br.get('returned')}")
        expected = dout * out / xb
        if np.allclose(dx, expected, rtol=1e-6, atol=1e-12):
            return True, "dx = dout * mask, with the forward's mask"
        if not np.array_equal(dx != 0, out != 0):
            return False, "dx is nonzero where the forward dropped, or zero where it kept", (
                "backward must use the forward's mask (keep it in the cache), not draw a new "
                "one")
        if np.allclose(dx, dout * (out != 0), rtol=1e-6):
            return False, "dx = dout where kept, without the scale", (
                "backward misses the 1/(1-p) scale: dx = dout * mask with the scaled mask")
        return False, "dx is not dout * mask"
    plan.check("backward, x (30, 40), p 0.25", backward_right, group="gradients")
