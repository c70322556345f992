"""Property-based fuzzing of the layers: a right answer or a clear error, never a crash.

Not collected by pytest on its own (the name does not start with ``test_``):
tests/test_fuzz.py runs it in a subprocess with ``NUMBA_BOUNDSCHECK=1`` set before numba is
imported, so that a compiled kernel that reads or writes outside an array raises an
IndexError (a test failure) instead of corrupting memory, and a segfault shows as a
negative return code instead of killing pytest.

Each test draws shapes, window sizes, strides, paddings, dtypes (float32, float64 and wrong
ones: float16, int32) and upstream gradients (right, of a wrong shape, of a wrong dtype)
and asserts one of two things:

* the input is valid and the result equals a plain NumPy reference (the textbook
  functions of :mod:`minitorch_cv.reference`, or the formula), within a tolerance set by the
  dtype (a few hundred float32 products summed: 1e-4; float64: 1e-10), or exactly where the
  operations are the same by construction (max pooling, ReLU);
* the input is invalid and the layer raises a ValueError or TypeError naming itself.
"""

import os
import re

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from minitorch_cv import functional as F
from minitorch_cv import nn
from minitorch_cv import reference as R
from minitorch_cv.kernels.im2col import output_size

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck), print_blob=True)

FLOATS = (np.float32, np.float64)
DTYPES = st.sampled_from([np.float32, np.float64, np.float32, np.float64, np.float16, np.int32])
TOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


def array(rng, shape, dtype):
    return np.array(rng.standard_normal(shape) * 2, dtype=dtype)


def upstream(rng, shape, kind):
    """The gradient handed to backward: right, of a wrong shape, or of a wrong dtype."""
    shape = tuple(shape)
    if kind == "shape":
        if not shape:
            return rng.standard_normal(1)
        axis = int(rng.integers(len(shape)))
        wrong = shape[:axis] + (shape[axis] + int(rng.choice([-1, 1, 2])),) + shape[axis + 1:]
        return rng.standard_normal(tuple(max(0, s) for s in wrong))
    if kind == "rank":
        return rng.standard_normal(shape + (1,))
    if kind == "int":
        return np.ones(shape, dtype=np.int64)
    return rng.standard_normal(shape)          # float64: converted for float32 layers


GRAD_KINDS = st.sampled_from(["ok", "ok", "ok", "shape", "rank", "int"])
BREAKS = st.sampled_from([None, None, None, None, "stride", "padding", "kernel", "window",
                          "empty", "dtype"])


@st.composite
def geometry(draw, pooling):
    """A window geometry: valid (about 40 %), or broken in one way, said by ``broken``.

    Valid: sizes and strides >= 1, padding >= 0 (at most half the window for pooling), an
    image of at least 1x1 that the padded window fits in, float32 or float64.
    """
    g = {"n": draw(st.integers(1, 3)), "c": draw(st.integers(1, 3)),
         "kh": draw(st.integers(1, 4)), "kw": draw(st.integers(1, 4)),
         "sh": draw(st.integers(1, 3)), "sw": draw(st.integers(1, 3)),
         "dtype": draw(st.sampled_from(FLOATS))}
    for axis, k in (("h", "kh"), ("w", "kw")):
        p = draw(st.integers(0, g[k] // 2 if pooling else 2))
        g["p" + axis] = p
        g[axis] = draw(st.integers(max(1, g[k] - 2 * p), 8))
    broken = draw(BREAKS)
    if broken == "stride":
        g["sw"] = draw(st.sampled_from([0, -1]))
    elif broken == "padding":
        g["ph"] = -1 if not pooling else draw(st.sampled_from([-1, g["kh"] // 2 + 1]))
    elif broken == "kernel":
        g["kh"] = draw(st.sampled_from([0, -2]))
    elif broken == "window":
        g["ph"], g["h"], g["kh"] = 0, 1, draw(st.integers(2, 4))
    elif broken == "empty":
        g["w"] = 0
    elif broken == "dtype":
        g["dtype"] = draw(st.sampled_from([np.float16, np.int32, np.int64]))
    event("refused" if broken else "valid")
    return g, broken


def raises_clearly(layer, call):
    """``call()`` must raise a ValueError or TypeError whose message names ``layer``."""
    with pytest.raises((ValueError, TypeError), match=re.escape(layer)):
        call()


def close(actual, expected, dtype):
    assert actual.dtype == dtype, (actual.dtype, dtype)
    tol = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


def check_backward(layer, backward, dout_kind, dout, reference):
    """Run ``backward(dout)``: a wrong gradient must be refused, a right one match."""
    if dout_kind == "ok":
        reference(backward(dout))
    else:
        raises_clearly(layer, lambda: backward(dout))


# ----------------------------------------------------------------------------- conv
@FUZZ
@given(case=geometry(pooling=False), f=st.integers(1, 3), bias=st.booleans(),
       dout_kind=GRAD_KINDS, seed=st.integers(0, 2**16))
def test_conv2d(case, f, bias, dout_kind, seed):
    g, broken = case
    n, c, h, w, kh, kw = g["n"], g["c"], g["h"], g["w"], g["kh"], g["kw"]
    sh, sw, ph, pw, dtype = g["sh"], g["sw"], g["ph"], g["pw"], g["dtype"]
    rng = np.random.default_rng(seed)
    if broken == "kernel":                      # a weight array cannot have -2 rows
        kh = max(kh, 0)
    x, wt = array(rng, (n, c, h, w), dtype), array(rng, (f, c, kh, kw), dtype)
    b = array(rng, (f,), dtype) if bias else None
    forward = lambda: F.conv2d_forward(x, wt, b, (sh, sw), (ph, pw))
    if broken:
        raises_clearly("conv2d", forward)
        return
    out, cache = forward()
    oh, ow = output_size(h, kh, sh, ph), output_size(w, kw, sw, pw)
    x64, w64 = x.astype(np.float64), wt.astype(np.float64)
    x64_pad = np.pad(x64, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = R.im2col(x64_pad, kh, kw, (sh, sw))
    expected = (w64.reshape(f, -1) @ cols).reshape(f, n, oh, ow).transpose(1, 0, 2, 3)
    if bias:
        expected = expected + b.astype(np.float64).reshape(1, f, 1, 1)
    close(out, expected, dtype)

    dout = upstream(rng, out.shape, dout_kind)

    def reference(grads):
        dx, dw, db = grads
        d2 = dout.transpose(1, 0, 2, 3).reshape(f, -1)
        dx_pad = R.col2im(w64.reshape(f, -1).T @ d2, x64_pad.shape, kh, kw, (sh, sw))
        close(dx, dx_pad[:, :, ph:ph + h, pw:pw + w], dtype)
        close(dw, (d2 @ cols.T).reshape(wt.shape), dtype)
        if bias:
            close(db, dout.sum(axis=(0, 2, 3)), dtype)
        else:
            assert db is None

    check_backward("conv2d_backward", lambda d: F.conv2d_backward(d, cache), dout_kind, dout,
                   reference)


# ----------------------------------------------------------------------------- pooling
POOL = {"case": geometry(pooling=True), "dout_kind": GRAD_KINDS, "seed": st.integers(0, 2**16)}


@FUZZ
@given(nans=st.booleans(), **POOL)
def test_maxpool2d(case, dout_kind, seed, nans):
    g, broken = case
    n, c, h, w, kh, kw = g["n"], g["c"], g["h"], g["w"], g["kh"], g["kw"]
    sh, sw, ph, pw, dtype = g["sh"], g["sw"], g["ph"], g["pw"], g["dtype"]
    rng = np.random.default_rng(seed)
    x = array(rng, (n, c, h, w), dtype)
    if nans and dtype in FLOATS and x.size:
        x.reshape(-1)[rng.integers(x.size, size=max(1, x.size // 5))] = np.nan
    forward = lambda keep=True: F.maxpool2d_forward(x, (kh, kw), (sh, sw), (ph, pw),
                                                    for_backward=keep)
    if broken:
        raises_clearly("max_pool2d", forward)
        return
    out, cache = forward()
    expected, textbook_cache = R.maxpool2d_forward(x, (kh, kw), (sh, sw), (ph, pw))
    argmax = textbook_cache[0]
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(cache[0], argmax)
    np.testing.assert_array_equal(forward(False)[0], out)        # the maxima-only path

    dout = upstream(rng, out.shape, dout_kind)
    check_backward("maxpool2d_backward", lambda d: F.maxpool2d_backward(d, cache), dout_kind,
                   dout, lambda dx: close(dx, R.maxpool2d_backward(
                       dout.astype(dtype), textbook_cache), dtype))


@FUZZ
@given(**POOL)
def test_avgpool2d(case, dout_kind, seed):
    g, broken = case
    n, c, h, w, kh, kw = g["n"], g["c"], g["h"], g["w"], g["kh"], g["kw"]
    sh, sw, ph, pw, dtype = g["sh"], g["sw"], g["ph"], g["pw"], g["dtype"]
    rng = np.random.default_rng(seed)
    x = array(rng, (n, c, h, w), dtype)
    forward = lambda: F.avgpool2d_forward(x, (kh, kw), (sh, sw), (ph, pw))
    if broken:
        raises_clearly("avg_pool2d", forward)
        return
    out, cache = forward()
    expected, textbook_cache = R.avgpool2d_forward(x.astype(np.float64), (kh, kw), (sh, sw),
                                                   (ph, pw))
    close(out, expected, dtype)
    dout = upstream(rng, out.shape, dout_kind)
    check_backward("avgpool2d_backward", lambda d: F.avgpool2d_backward(d, cache), dout_kind,
                   dout, lambda dx: close(dx, R.avgpool2d_backward(
                       dout.astype(np.float64), textbook_cache), dtype))


# ----------------------------------------------------------------------------- batch norm
@FUZZ
@given(n=st.integers(1, 4), c=st.integers(1, 3), spatial=st.sampled_from([(), (3,), (2, 3)]),
       dtype=DTYPES, training=st.booleans(), affine=st.booleans(),
       dout_kind=GRAD_KINDS, seed=st.integers(0, 2**16))
def test_batchnorm(n, c, spatial, dtype, training, affine, dout_kind, seed):
    rng = np.random.default_rng(seed)
    shape = (n, c) + spatial
    x = array(rng, shape, dtype)
    gamma = (rng.uniform(0.5, 1.5, c).astype(dtype) if affine else None)
    beta = array(rng, (c,), dtype) if affine else None
    mean, var = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    axes, bshape = (0,) + tuple(range(2, x.ndim)), (1, c) + (1,) * len(spatial)
    m = x.size // c
    forward = lambda: F.batchnorm_forward(x, gamma, beta, mean.copy(), var.copy(),
                                          training=training, eps=1e-5)
    if dtype not in FLOATS + (np.float16,) or (training and m < 2):
        raises_clearly("batch norm", forward)
        return
    if dtype == np.float16:                    # runs (NumPy), not held to a tolerance here
        forward()
        return
    out, cache = forward()
    x64 = x.astype(np.float64)
    mu, v = (x64.mean(axis=axes), x64.var(axis=axes)) if training else (mean, var)
    inv_std = 1 / np.sqrt(v + 1e-5)
    x_hat = (x64 - mu.reshape(bshape)) * inv_std.reshape(bshape)
    g = np.ones(c) if gamma is None else gamma.astype(np.float64)
    expected = x_hat * g.reshape(bshape) + (0 if beta is None else beta.reshape(bshape))
    close(out, expected, dtype)

    dout = upstream(rng, out.shape, dout_kind)

    def reference(grads):
        dx, dgamma, dbeta = grads
        d = dout.astype(dtype).astype(np.float64)
        close(dbeta, d.sum(axis=axes), dtype)
        close(dgamma, (d * x_hat).sum(axis=axes), dtype)
        if training:
            mean_d = d.mean(axis=axes).reshape(bshape)
            mean_dx = (d * x_hat).mean(axis=axes).reshape(bshape)
            want = (g * inv_std).reshape(bshape) * (d - mean_d - x_hat * mean_dx)
        else:
            want = d * (g * inv_std).reshape(bshape)
        # dx subtracts means of size |dout|: judge it against their size, not its own
        tol = TOL[np.dtype(dtype)] * max(1.0, np.abs(d).max() * np.abs(g * inv_std).max())
        assert dx.dtype == dtype
        np.testing.assert_allclose(dx, want, rtol=tol, atol=tol)

    check_backward("batchnorm_backward", lambda d: F.batchnorm_backward(d, cache), dout_kind,
                   dout, reference)


# ----------------------------------------------------------------------------- ReLU, linear
@FUZZ
@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=4).map(tuple), dtype=DTYPES,
       dout_kind=GRAD_KINDS, seed=st.integers(0, 2**16))
def test_relu(shape, dtype, dout_kind, seed):
    rng = np.random.default_rng(seed)
    x = array(rng, shape, dtype)
    if x.size and dtype in FLOATS:
        x.reshape(-1)[0] = np.nan
    if dtype == np.int32:
        raises_clearly("relu", lambda: F.relu_forward(x))
        return
    out, cache = F.relu_forward(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    dout = upstream(rng, out.shape, dout_kind)
    check_backward("relu_backward", lambda d: F.relu_backward(d, cache), dout_kind, dout,
                   lambda dx: np.testing.assert_array_equal(
                       dx, np.where(out <= 0, 0, dout.astype(dtype))))


@FUZZ
@given(n=st.integers(0, 4), fin=st.integers(1, 6), fout=st.integers(1, 6),
       win=st.integers(1, 6), dtype=DTYPES, bias=st.booleans(), dout_kind=GRAD_KINDS,
       seed=st.integers(0, 2**16))
def test_linear(n, fin, fout, win, dtype, bias, dout_kind, seed):
    rng = np.random.default_rng(seed)
    x, w = array(rng, (n, fin), dtype), array(rng, (fout, win), dtype)
    b = array(rng, (fout,), dtype) if bias else None
    if dtype == np.int32 or fin != win:
        raises_clearly("linear", lambda: F.linear_forward(x, w, b))
        return
    out, cache = F.linear_forward(x, w, b)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    tol_dtype = np.float32 if dtype == np.float16 else dtype     # float16: no BLAS check
    if dtype != np.float16:
        close(out, x64 @ w64.T + (0 if b is None else b.astype(np.float64)), tol_dtype)
    dout = upstream(rng, out.shape, dout_kind)

    def reference(grads):
        dx, dw, db = grads
        if dtype == np.float16:
            return
        d = dout.astype(dtype).astype(np.float64)
        close(dx, d @ w64, dtype)
        close(dw, d.T @ x64, dtype)
        if bias:
            close(db, d.sum(axis=0), dtype)

    check_backward("linear_backward", lambda d: F.linear_backward(d, cache), dout_kind, dout,
                   reference)


# ----------------------------------------------------------------------------- nn
@FUZZ
@given(n=st.integers(1, 3), c=st.integers(1, 3), size=st.integers(2, 8),
       kernel=st.integers(-1, 4), padding=st.integers(-1, 2), pool=st.integers(0, 3),
       model_dtype=st.sampled_from([np.float32, np.float64]), dtype=DTYPES,
       training=st.booleans(), dout_kind=GRAD_KINDS, seed=st.integers(0, 2**16))
def test_network(n, c, size, kernel, padding, pool, model_dtype, dtype, training, dout_kind,
                 seed):
    """nn layers end to end: constructors, the dtype rule, and backward's gradient check."""
    rng = np.random.default_rng(seed)
    if kernel < 1 or padding < 0:
        raises_clearly("Conv2d", lambda: nn.Conv2d(c, 4, kernel, padding=padding, rng=0))
        return
    if pool < 1:
        raises_clearly("MaxPool2d", lambda: nn.MaxPool2d(pool))
        return
    features = nn.Sequential(nn.Conv2d(c, 4, kernel, padding=padding, rng=seed),
                             nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(pool))
    features.to(model_dtype).train(training)
    x = array(rng, (n, c, size, size), dtype)
    if dtype != model_dtype:
        raises_clearly("Conv2d", lambda: features(x))
        return
    conv_size = size + 2 * padding - kernel + 1
    if conv_size < 1 or conv_size < pool or (training and n * conv_size ** 2 < 2):
        with pytest.raises((ValueError, TypeError)):
            features(x)
        return
    hidden = features(x)
    head = nn.Sequential(nn.Flatten(), nn.Linear(hidden[0].size, 3, rng=seed)).to(model_dtype)
    model = nn.Sequential(features, head)
    out = model(x)
    dout = upstream(rng, out.shape, dout_kind)
    if dout_kind == "ok":
        dx = model.backward(dout)
        assert dx.shape == x.shape and dx.dtype == model_dtype
        assert np.isfinite(dx).all()
        for name, p in model.named_parameters():
            assert p.grad.dtype == model_dtype and p.grad.shape == p.data.shape, name
    else:
        raises_clearly("Sequential.backward", lambda: model.backward(dout))
        # each layer checks too, under its own name
        raises_clearly("Linear.backward", lambda: model[1][1].backward(dout))


def test_bounds_checking_is_on_when_asked():
    """The fuzz is only worth running with NUMBA_BOUNDSCHECK=1 (tests/test_fuzz.py sets it)."""
    if os.environ.get("NUMBA_BOUNDSCHECK") == "1":
        assert numba.config.BOUNDSCHECK
        out_of_bounds = numba.njit(lambda a: a[len(a)])
        with pytest.raises(IndexError):
            out_of_bounds(np.zeros(3))
