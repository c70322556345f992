"""minitorch_cv.reference, the textbook layers, against the fast path they teach.

Every reference function must give what :mod:`minitorch_cv.functional` gives, in float64,
to 1e-10 relative (the two sum the same numbers in different orders, so not bit for bit),
on shapes with stride 1 and 2, padding 0 and 2, odd and non-square sizes, batch 1 and no
bias. The caches follow functional's contract, so each backward also accepts the other
path's cache. Gradients are checked numerically on one small case each.
"""

import numpy as np
import pytest

from minitorch_cv import functional as F
from minitorch_cv import reference as R
from minitorch_cv.gradcheck import gradcheck_function

RTOL = 1e-10


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_library_thread):
    """Tiny arrays: worker threads would cost more than they save (2 shared cores)."""


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def assert_close(ours, fast, name="value", rtol=RTOL):
    """max |ours - fast| <= rtol * max |fast|, shapes and dtypes equal."""
    if fast is None:
        assert ours is None, f"{name}: expected None, got {type(ours).__name__}"
        return
    ours, fast = np.asarray(ours), np.asarray(fast)
    assert ours.shape == fast.shape, f"{name}: shape {ours.shape} vs {fast.shape}"
    assert ours.dtype == fast.dtype, f"{name}: dtype {ours.dtype} vs {fast.dtype}"
    scale = max(np.abs(fast).max(initial=0.0), 1e-300)
    error = np.abs(ours - fast).max(initial=0.0) / scale
    assert error <= rtol, f"{name}: relative difference {error:.3g} > {rtol:g}"


def assert_all_close(ours, fast, names):
    for a, b, name in zip(ours, fast, names, strict=True):
        assert_close(a, b, name)


# ----------------------------------------------------------------------------- conv2d
# (N, C_in, H, W, C_out, K, stride, padding, bias): odd and non-square sizes, batch 1,
# stride 1 and 2, padding 0 and 2, no bias, a stride that leaves rows unused.
CONV_CASES = [
    (2, 3, 7, 5, 4, 3, 1, 0, True),
    (1, 2, 9, 6, 3, 5, 2, 2, False),
    (3, 2, 6, 7, 2, 2, 2, 0, True),
    (2, 3, 5, 8, 3, 3, 1, 2, True),
    (1, 1, 8, 5, 2, (3, 2), (2, 1), (2, 1), True),
]


def conv_inputs(case, seed=0):
    n, c, h, w_, f, k, s, p, bias = case
    k = (k, k) if isinstance(k, int) else k
    x = randn(n, c, h, w_, seed=seed)
    w = randn(f, c, *k, seed=seed + 1)
    b = randn(f, seed=seed + 2) if bias else None
    return x, w, b, s, p


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("version", ["im2col", "loops"])
def test_conv2d_equals_fast_path(case, version):
    forward, backward = {"im2col": (R.conv2d_forward, R.conv2d_backward),
                         "loops": (R.conv2d_forward_loops, R.conv2d_backward_loops)}[version]
    x, w, b, s, p = conv_inputs(case)
    out_fast, cache_fast = F.conv2d_forward(x, w, b, s, p)
    out, cache = forward(x, w, b, s, p)
    assert_close(out, out_fast, "out")
    dout = randn(*out.shape, seed=5)
    grads_fast = F.conv2d_backward(dout, cache_fast)
    names = ("dx", "dw", "db")
    assert_all_close(backward(dout, cache), grads_fast, names)
    # the same cache contract: each backward runs on the other path's cache
    assert_all_close(backward(dout, cache_fast), grads_fast, names)
    assert_all_close(F.conv2d_backward(dout, cache), grads_fast, names)


@pytest.mark.parametrize("case", CONV_CASES[:3])
def test_conv2d_loops_equal_im2col(case):
    x, w, b, s, p = conv_inputs(case, seed=3)
    out, cache = R.conv2d_forward(x, w, b, s, p)
    out_loops, cache_loops = R.conv2d_forward_loops(x, w, b, s, p)
    assert_close(out_loops, out, "out")
    dout = randn(*out.shape, seed=4)
    assert_all_close(R.conv2d_backward_loops(dout, cache_loops), R.conv2d_backward(dout, cache),
                     ("dx", "dw", "db"))


def test_im2col_and_col2im_are_transposes():
    """<im2col(x), c> == <x, col2im(c)> for any x and c: col2im adds back what im2col copied."""
    x_pad, stride = randn(2, 3, 7, 6), (2, 1)
    cols = R.im2col(x_pad, 3, 2, stride)
    c = randn(*cols.shape, seed=1)
    back = R.col2im(c, x_pad.shape, 3, 2, stride)
    assert abs(np.sum(cols * c) - np.sum(x_pad * back)) <= 1e-12 * np.abs(cols * c).sum()


@pytest.mark.parametrize("forward, backward", [(R.conv2d_forward, R.conv2d_backward),
                                               (R.conv2d_forward_loops, R.conv2d_backward_loops)])
def test_conv2d_gradients_numerically(forward, backward):
    x, w, b, _s, _p = conv_inputs((1, 2, 5, 4, 2, 3, 2, 1, True), seed=7)
    result = gradcheck_function(forward, backward, x, w, b, stride=2, padding=1,
                                names=["x", "w", "b"])
    assert result.passed(1e-7), result.report(1e-7)
