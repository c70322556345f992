"""The kernels: plain loops, their numba-compiled twins and the NumPy references agree exactly.

Every kernel exists three times (see minitorch_cv/kernels): ``*_loops`` (plain Python, the
version to read), ``*_compiled`` (the same function compiled by numba) and ``*_reference``
(vectorized NumPy). They must give bit-identical results; the plain loops are slow, so they
run on tiny arrays only.
"""

import numpy as np
import pytest

from minitorch_cv import kernels as K
from minitorch_cv.kernels.im2col import output_size

# (N, C, H, W, kh, kw, sh, sw, ph, pw): square and non-square, odd sizes, strides that
# leave rows over (floor), padding up to half the kernel.
CONFIGS = [
    (2, 2, 5, 5, 3, 3, 1, 1, 0, 0),
    (2, 2, 5, 5, 3, 3, 1, 1, 1, 1),
    (1, 3, 6, 7, 2, 2, 2, 2, 0, 0),
    (2, 1, 7, 5, 3, 3, 2, 2, 1, 1),
    (1, 2, 7, 6, 3, 2, 2, 1, 1, 0),
    (2, 2, 5, 8, 2, 3, 1, 3, 0, 1),
    (1, 2, 9, 7, 5, 5, 2, 3, 2, 2),
    (2, 1, 4, 4, 4, 4, 1, 1, 0, 0),
    (1, 2, 5, 3, 1, 1, 2, 1, 0, 0),
    (3, 1, 8, 5, 3, 1, 3, 2, 1, 0),
    (1, 1, 6, 6, 2, 2, 3, 3, 1, 1),
]
IDS = ["N{}C{}H{}W{}_k{}x{}_s{}x{}_p{}x{}".format(*c) for c in CONFIGS]


def geometry(cfg):
    n, c, h, w, kh, kw, sh, sw, ph, pw = cfg
    return (n, c, h, w), (kh, kw), (sh, sw), (ph, pw)


def out_hw(cfg):
    (_, _, h, w), (kh, kw), (sh, sw), (ph, pw) = geometry(cfg)
    return output_size(h, kh, sh, ph), output_size(w, kw, sw, pw)


def random(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------- im2col
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_im2col_versions_agree(cfg, dtype):
    x_shape, (kh, kw), stride, padding = geometry(cfg)
    x = random(x_shape, dtype)
    reference = K.im2col_reference(x, kh, kw, stride, padding)
    shape = reference.shape               # the column layout is im2col's business
    loops = K.im2col_loops(x, np.empty(shape, dtype), kh, kw, *stride, *padding)
    compiled = K.im2col_compiled(x, np.empty(shape, dtype), kh, kw, *stride, *padding)
    public = K.im2col(x, (kh, kw), stride, padding)
    for name, cols in [("compiled", compiled), ("reference", reference), ("im2col", public)]:
        assert cols.dtype == dtype, name
        np.testing.assert_array_equal(cols, loops, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_col2im_versions_agree(cfg, dtype):
    x_shape, (kh, kw), stride, padding = geometry(cfg)
    cols_shape = K.im2col_reference(np.zeros(x_shape), kh, kw, stride, padding).shape
    cols = random(cols_shape, dtype, seed=1)
    loops = K.col2im_loops(cols, np.zeros(x_shape, dtype), kh, kw, *stride, *padding)
    compiled = K.col2im_compiled(cols, np.zeros(x_shape, dtype), kh, kw, *stride, *padding)
    reference = K.col2im_reference(cols, x_shape, kh, kw, stride, padding)
    public = K.col2im(cols, x_shape, (kh, kw), stride, padding)
    for name, dx in [("compiled", compiled), ("reference", reference), ("col2im", public)]:
        assert dx.shape == x_shape and dx.dtype == dtype, name
        np.testing.assert_array_equal(dx, loops, err_msg=name)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_col2im_is_the_adjoint_of_im2col(cfg):
    # <im2col(x), c> == <x, col2im(c)> for every x and c: col2im is im2col transposed.
    x_shape, kernel, stride, padding = geometry(cfg)
    x = random(x_shape, np.float64, seed=2)
    cols = K.im2col(x, kernel, stride, padding)
    c = random(cols.shape, np.float64, seed=3)
    lhs = np.sum(cols * c)
    rhs = np.sum(x * K.col2im(c, x_shape, kernel, stride, padding))
    assert abs(lhs - rhs) <= 1e-12 * (np.abs(cols * c).sum())


def test_im2col_small_example_by_hand():
    # 3x3 image, 2x2 window, stride 1: four windows, each a column (row-major inside).
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    cols = K.im2col(x, (2, 2))
    assert cols.size == 16                  # one image, one channel: a 4 x 4 matrix
    expected = np.array([[1, 2, 4, 5],      # window offset (0, 0) at the 4 positions
                         [2, 3, 5, 6],      # offset (0, 1)
                         [4, 5, 7, 8],      # offset (1, 0)
                         [5, 6, 8, 9]])     # offset (1, 1)
    np.testing.assert_array_equal(cols.reshape(4, 4), expected)
    # col2im of all ones counts how many windows cover each pixel
    counts = K.col2im(np.ones_like(cols), x.shape, (2, 2))
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_im2col_padding_is_zeros_and_reuses_out_buffer():
    x = np.ones((1, 1, 2, 2), dtype=np.float32)
    shape = K.im2col_reference(x, 3, 3, (1, 1), (1, 1)).shape
    buffer = np.full(shape, np.nan, dtype=np.float32)
    cols = K.im2col(x, (3, 3), (1, 1), (1, 1), out=buffer)
    assert cols is buffer
    # the centre of the 3x3 window always sees the image; its corners partly padding
    np.testing.assert_array_equal(cols.reshape(9, 4)[4], [1, 1, 1, 1])
    np.testing.assert_array_equal(cols.reshape(9, 4)[0], [0, 0, 0, 1])
    assert not np.isnan(cols).any()


# ----------------------------------------------------------------------------- pooling
POOL_CONFIGS = [c for c in CONFIGS if c[8] <= c[4] // 2 and c[9] <= c[5] // 2]
POOL_IDS = ["N{}C{}H{}W{}_k{}x{}_s{}x{}_p{}x{}".format(*c) for c in POOL_CONFIGS]


def maxpool_all_versions(x, cfg, dout):
    _, (kh, kw), stride, padding = geometry(cfg)
    oh, ow = out_hw(cfg)
    results = {}
    for name, forward, backward in [
            ("loops", K.maxpool2d_forward_loops, K.maxpool2d_backward_loops),
            ("compiled", K.maxpool2d_forward_compiled, K.maxpool2d_backward_compiled)]:
        out = np.empty(x.shape[:2] + (oh, ow), dtype=x.dtype)
        argmax = np.empty(out.shape, dtype=np.int32)
        forward(x, out, argmax, kh, kw, *stride, *padding)
        dx = backward(dout, argmax, np.zeros_like(x))
        results[name] = (out, argmax, dx)
    out, argmax = K.maxpool2d_forward_reference(x, kh, kw, stride, padding)
    results["reference"] = (out, argmax, K.maxpool2d_backward_reference(dout, argmax, x.shape))
    return results


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", POOL_CONFIGS, ids=POOL_IDS)
def test_maxpool_versions_agree(cfg, dtype, ties):
    x_shape = geometry(cfg)[0]
    rng = np.random.default_rng(4)
    if ties:       # few distinct values: many windows hold their maximum twice
        x = rng.integers(-2, 3, size=x_shape).astype(dtype)
    else:
        x = (rng.permutation(int(np.prod(x_shape))) - 10.0).reshape(x_shape).astype(dtype)
    dout = random(x_shape[:2] + out_hw(cfg), dtype, seed=5)
    results = maxpool_all_versions(x, cfg, dout)
    out, argmax, dx = results["loops"]
    for name in ("compiled", "reference"):
        o, a, d = results[name]
        np.testing.assert_array_equal(o, out, err_msg=f"{name} out")
        np.testing.assert_array_equal(a, argmax, err_msg=f"{name} argmax")
        np.testing.assert_array_equal(d, dx, err_msg=f"{name} dx")
    # the recorded position really holds the window's maximum
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    picked = np.take_along_axis(flat, argmax.reshape(*argmax.shape[:2], -1), axis=2)
    np.testing.assert_array_equal(picked.reshape(out.shape), out)


def test_maxpool_ties_go_to_the_first_maximum_in_row_major_order():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 1, 0] = 5.0           # window (0, 0): maxima at (1, 0), (1, 1)
    results = maxpool_all_versions(x, (1, 1, 4, 4, 2, 2, 2, 2, 0, 0), np.ones((1, 1, 2, 2)))
    for name, (out, argmax, dx) in results.items():
        assert argmax[0, 0, 0, 0] == 1 * 4 + 0, name          # (1, 0) comes first
        assert argmax[0, 0, 1, 1] == 2 * 4 + 2, name          # all zeros: the first one
        assert dx[0, 0, 1, 0] == 1.0 and dx[0, 0, 1, 1] == 0.0, name


def test_maxpool_padding_never_wins():
    x = np.full((1, 1, 3, 3), -7.0)                # every value below the zero padding
    results = maxpool_all_versions(x, (1, 1, 3, 3, 3, 3, 1, 1, 1, 1), np.ones((1, 1, 3, 3)))
    for name, (out, argmax, _) in results.items():
        np.testing.assert_array_equal(out, -7.0, err_msg=name)
        assert argmax.min() >= 0 and argmax.max() < 9, name


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", POOL_CONFIGS, ids=POOL_IDS)
def test_avgpool_versions_agree(cfg, dtype):
    x_shape, (kh, kw), stride, padding = geometry(cfg)
    oh, ow = out_hw(cfg)
    x = random(x_shape, dtype, seed=6)
    dout = random(x_shape[:2] + (oh, ow), dtype, seed=7)
    outs, dxs = {}, {}
    for name, forward, backward in [
            ("loops", K.avgpool2d_forward_loops, K.avgpool2d_backward_loops),
            ("compiled", K.avgpool2d_forward_compiled, K.avgpool2d_backward_compiled)]:
        outs[name] = forward(x, np.empty(x_shape[:2] + (oh, ow), dtype), kh, kw, *stride,
                             *padding)
        dxs[name] = backward(dout, np.zeros_like(x), kh, kw, *stride, *padding)
    outs["reference"] = K.avgpool2d_forward_reference(x, kh, kw, stride, padding)
    dxs["reference"] = K.avgpool2d_backward_reference(dout, x_shape, kh, kw, stride, padding)
    for name in ("compiled", "reference"):
        assert outs[name].dtype == dtype and dxs[name].dtype == dtype, name
        np.testing.assert_array_equal(outs[name], outs["loops"], err_msg=f"{name} out")
        np.testing.assert_array_equal(dxs[name], dxs["loops"], err_msg=f"{name} dx")
    # zero padding is counted: a window half in the padding averages in zeros
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    expected = np.empty(x_shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            expected[:, :, i, j] = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].mean((2, 3))
    np.testing.assert_allclose(outs["loops"], expected, rtol=1e-6, atol=1e-6)


def test_avgpool_backward_is_the_adjoint_of_forward():
    cfg = (2, 2, 7, 6, 3, 2, 2, 1, 1, 1)
    x_shape, (kh, kw), stride, padding = geometry(cfg)
    x = random(x_shape, np.float64, seed=8)
    out = K.avgpool2d_forward_reference(x, kh, kw, stride, padding)
    dout = random(out.shape, np.float64, seed=9)
    dx = K.avgpool2d_backward_reference(dout, x_shape, kh, kw, stride, padding)
    assert np.isclose(np.sum(out * dout), np.sum(x * dx), rtol=1e-12)
