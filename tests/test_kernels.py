"""The kernels: plain loops and their numba-compiled twins agree exactly with each other
and with the textbook versions in minitorch_cv.reference.

Every kernel is one plain-loop function (``*_loops``, the version to read) compiled by numba
(``*_compiled``). Both must give the numbers of the textbook function (im2col by NumPy
indexing, col2im and max-pool backward by ``np.add.at``) bit for bit where the operations
are the same by construction; the plain loops are slow, so they run on tiny arrays only.
"""

import numpy as np
import pytest

from minitorch_cv import kernels as K
from minitorch_cv import reference as R
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
def padded(x, ph, pw):
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def im2col_kernel(kernel, x, kh, kw, stride, padding):
    """``kernel`` (im2col_padded_loops or _compiled) on the padded batch."""
    x_pad = padded(x, *padding)
    shape = R.im2col(x_pad, kh, kw, stride).shape
    return kernel(x_pad, np.full(shape, np.nan, x.dtype), kh, kw, *stride)


def col2im_kernel(kernel, cols, x_shape, kh, kw, stride, padding):
    """``kernel`` (col2im_padded_loops or _compiled), the padding cropped off."""
    (n, c, h, w), (ph, pw) = x_shape, padding
    dx_pad = kernel(cols, np.zeros((n, c, h + 2 * ph, w + 2 * pw), cols.dtype), kh, kw, *stride)
    return dx_pad[:, :, ph:ph + h, pw:pw + w]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_im2col_kernels_equal_the_textbook_im2col(cfg, dtype):
    x_shape, (kh, kw), stride, padding = geometry(cfg)
    x = random(x_shape, dtype)
    textbook = R.im2col(padded(x, *padding), kh, kw, stride)
    for kernel in (K.im2col_padded_loops, K.im2col_padded_compiled):
        cols = im2col_kernel(kernel, x, kh, kw, stride, padding)
        assert cols.dtype == dtype, kernel.__name__
        np.testing.assert_array_equal(cols, textbook, err_msg=kernel.__name__)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_col2im_kernels_equal_the_textbook_col2im(cfg, dtype):
    # bit-identical, not just close: every pixel receives its windows in the same order
    (n, c, h, w), (kh, kw), stride, (ph, pw) = geometry(cfg)
    x_pad_shape = (n, c, h + 2 * ph, w + 2 * pw)
    cols = random(R.im2col(np.zeros(x_pad_shape), kh, kw, stride).shape, dtype, seed=1)
    textbook = R.col2im(cols, x_pad_shape, kh, kw, stride)[:, :, ph:ph + h, pw:pw + w]
    for kernel in (K.col2im_padded_loops, K.col2im_padded_compiled):
        dx = col2im_kernel(kernel, cols, (n, c, h, w), kh, kw, stride, (ph, pw))
        assert dx.dtype == dtype, kernel.__name__
        np.testing.assert_array_equal(dx, textbook, err_msg=kernel.__name__)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_col2im_is_the_adjoint_of_im2col(cfg):
    # <im2col(x), c> == <x, col2im(c)> for every x and c: col2im is im2col transposed.
    x_shape, (kh, kw), stride, padding = geometry(cfg)
    x = random(x_shape, np.float64, seed=2)
    cols = im2col_kernel(K.im2col_padded_compiled, x, kh, kw, stride, padding)
    c = random(cols.shape, np.float64, seed=3)
    lhs = np.sum(cols * c)
    dx = col2im_kernel(K.col2im_padded_compiled, c, x_shape, kh, kw, stride, padding)
    rhs = np.sum(x * dx)
    assert abs(lhs - rhs) <= 1e-12 * (np.abs(cols * c).sum())


def test_im2col_small_example_by_hand():
    # 3x3 image, 2x2 window, stride 1: four windows, each a column (row-major inside).
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    cols = im2col_kernel(K.im2col_padded_compiled, x, 2, 2, (1, 1), (0, 0))
    assert cols.size == 16                  # one image, one channel: a 4 x 4 matrix
    expected = np.array([[1, 2, 4, 5],      # window offset (0, 0) at the 4 positions
                         [2, 3, 5, 6],      # offset (0, 1)
                         [4, 5, 7, 8],      # offset (1, 0)
                         [5, 6, 8, 9]])     # offset (1, 1)
    np.testing.assert_array_equal(cols.reshape(4, 4), expected)
    # col2im of all ones counts how many windows cover each pixel
    counts = col2im_kernel(K.col2im_padded_compiled, np.ones_like(cols), x.shape, 2, 2,
                           (1, 1), (0, 0))
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_im2col_of_a_padded_batch_reads_the_zeros():
    x = np.ones((1, 1, 2, 2), dtype=np.float32)
    cols = im2col_kernel(K.im2col_padded_compiled, x, 3, 3, (1, 1), (1, 1))
    # the centre of the 3x3 window always sees the image; its corners partly padding
    np.testing.assert_array_equal(cols.reshape(9, 4)[4], [1, 1, 1, 1])
    np.testing.assert_array_equal(cols.reshape(9, 4)[0], [0, 0, 0, 1])
    assert not np.isnan(cols).any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_pad_kernels_equal_np_pad(cfg, dtype):
    (n, c, h, w), _, _, (ph, pw) = geometry(cfg)
    x = random((n, c, h, w), dtype)
    want = padded(x, ph, pw)
    for kernel in (K.pad_loops, K.pad_compiled):
        np.testing.assert_array_equal(kernel(x, np.zeros_like(want), ph, pw), want,
                                      err_msg=kernel.__name__)


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
    out, cache = R.maxpool2d_forward(x, (kh, kw), stride, padding)
    results["textbook"] = (out, cache[0], R.maxpool2d_backward(dout, cache))
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
    for name in ("compiled", "textbook"):
        o, a, d = results[name]
        np.testing.assert_array_equal(o, out, err_msg=f"{name} out")
        np.testing.assert_array_equal(a, argmax, err_msg=f"{name} argmax")
        np.testing.assert_array_equal(d, dx, err_msg=f"{name} dx")
    # inference computes the maxima alone: the same numbers
    for values in (K.maxpool2d_values_loops, K.maxpool2d_values_compiled):
        o = values(x, np.full_like(out, np.nan), *geometry(cfg)[1], *geometry(cfg)[2],
                   *geometry(cfg)[3])
        np.testing.assert_array_equal(o, out, err_msg=values.__name__)
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
    assert outs["compiled"].dtype == dtype and dxs["compiled"].dtype == dtype
    np.testing.assert_array_equal(outs["compiled"], outs["loops"])
    np.testing.assert_array_equal(dxs["compiled"], dxs["loops"])
    # the textbook divides a sum in the input's dtype: equal up to rounding
    out, cache = R.avgpool2d_forward(x, (kh, kw), stride, padding)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(outs["loops"], out, rtol=tol, atol=tol)
    np.testing.assert_allclose(dxs["loops"], R.avgpool2d_backward(dout, cache), rtol=tol,
                               atol=tol)
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
    out = K.avgpool2d_forward_compiled(x, np.empty(x_shape[:2] + out_hw(cfg)), kh, kw,
                                       *stride, *padding)
    dout = random(out.shape, np.float64, seed=9)
    dx = K.avgpool2d_backward_compiled(dout, np.zeros(x_shape), kh, kw, *stride, *padding)
    assert np.isclose(np.sum(out * dout), np.sum(x * dx), rtol=1e-12)


# ----------------------------------------------------------------------------- ReLU backward
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_backward_versions_agree(dtype):
    dout = random((3, 4, 5, 2), dtype, seed=1)
    out = np.maximum(random((3, 4, 5, 2), dtype, seed=2) - 0.5, 0)
    out[0, 0, 0, 0] = 0.0                          # exactly zero: no gradient, as in PyTorch
    reference = R.relu_backward(dout, out)
    loops = K.relu_backward_loops(dout, out, np.empty_like(dout))
    compiled = K.relu_backward_compiled(dout, out, np.empty_like(dout))
    np.testing.assert_array_equal(loops, reference)
    np.testing.assert_array_equal(compiled, reference)
    assert reference[0, 0, 0, 0] == 0


# ----------------------------------------------------------------------------- batch norm
def batchnorm_numpy(x, gamma, beta, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(axis=axes, dtype=np.float64)
    var = ((x - mu.reshape(shape)) ** 2).mean(axis=axes)
    x_hat = (x - mu.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return x_hat * gamma.reshape(shape) + beta.reshape(shape), x_hat, mu, var


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 7), (3, 4, 5, 6)])
def test_batchnorm_kernels_follow_the_formulas(shape):
    from minitorch_cv.kernels import batchnorm as B
    x = random(shape, np.float64, seed=4) * 3 + 1
    c = shape[1]
    gamma, beta = random((c,), np.float64, seed=5) + 0.5, random((c,), np.float64, seed=6)
    x3 = x.reshape(shape[0], c, -1)
    results = []
    for kernel in (B.batchnorm_train_forward_loops, B.batchnorm_train_forward_compiled):
        out, x_hat = np.empty_like(x3), np.empty_like(x3)
        mean, var, inv_std = np.empty(c), np.empty(c), np.empty(c)
        kernel(x3, gamma, beta, 1e-5, out, x_hat, mean, var, inv_std, 0, c)
        results.append((out, x_hat, mean, var, inv_std))
    want_out, want_x_hat, want_mu, want_var = batchnorm_numpy(x, gamma, beta, 1e-5)
    for out, x_hat, mean, var, inv_std in results:
        np.testing.assert_allclose(out.reshape(shape), want_out, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(x_hat.reshape(shape), want_x_hat, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(mean, want_mu, rtol=1e-12)
        np.testing.assert_allclose(var, want_var, rtol=1e-12)
    # backward: dx = gamma*inv_std*(dout - mean(dout) - x_hat*mean(dout*x_hat))
    dout = random(x3.shape, np.float64, seed=7)
    x_hat, inv_std = results[0][1], results[0][4]
    axes = (0, 2)
    want_dbeta, want_dgamma = dout.sum(axis=axes), (dout * x_hat).sum(axis=axes)
    m = dout.size // c
    want_dx = (gamma * inv_std)[None, :, None] * (
        dout - want_dbeta[None, :, None] / m - x_hat * want_dgamma[None, :, None] / m)
    for kernel in (B.batchnorm_train_backward_loops, B.batchnorm_train_backward_compiled):
        dx, dgamma, dbeta = np.empty_like(dout), np.empty(c), np.empty(c)
        kernel(dout, x_hat, gamma, inv_std, dx, dgamma, dbeta, 0, c)
        np.testing.assert_allclose(dx, want_dx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dgamma, want_dgamma, rtol=1e-12)
        np.testing.assert_allclose(dbeta, want_dbeta, rtol=1e-12)


# ----------------------------------------------------------------------------- threads
def test_image_slices_cover_the_batch_evenly():
    from minitorch_cv.kernels.parallel import image_slices
    assert image_slices(10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert image_slices(2, 8) == [(0, 1), (1, 2)]          # never an empty slice
    assert image_slices(0, 2) == [(0, 0)]


def test_num_threads_reads_the_environment(monkeypatch):
    from minitorch_cv.kernels.parallel import num_threads
    monkeypatch.setenv("MINITORCH_CV_NUM_THREADS", "3")
    assert num_threads() == 3
    for bad in ("0", "two"):
        monkeypatch.setenv("MINITORCH_CV_NUM_THREADS", bad)
        with pytest.raises(ValueError, match="MINITORCH_CV_NUM_THREADS"):
            num_threads()


def test_parallel_over_returns_in_order_and_raises_worker_errors(monkeypatch):
    from minitorch_cv.kernels.parallel import parallel_over
    monkeypatch.setenv("MINITORCH_CV_NUM_THREADS", "3")
    assert parallel_over(lambda lo, hi: (lo, hi), 7) == [(0, 3), (3, 5), (5, 7)]

    def fails_late(lo, hi):
        if lo > 0:
            raise RuntimeError(f"slice {lo}")
        return lo
    with pytest.raises(RuntimeError, match="slice"):
        parallel_over(fails_late, 6)


@pytest.mark.parametrize("batch", [7, 11])
def test_layers_give_the_same_numbers_on_any_number_of_threads(monkeypatch, batch):
    """Groups of images, blocks of rows and the partial sums of a weight gradient start at
    fixed boundaries (multiples of a size set by the arrays), and the threads take whole
    ones; pooling, ReLU and batch norm work image by image or channel by channel. So 1, 2
    and 3 threads make the same operations, by construction, and the results -- forward
    and backward, weight gradients included -- are identical bit for bit. Batches of 7
    and 11 images are no multiple of the groups (2 or 4 images) or of the thread counts."""
    from minitorch_cv import functional as F
    from minitorch_cv.functional import conv, linear, pooling
    from minitorch_cv.kernels import parallel
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ELEMENTS", 0)  # share out even tiny arrays
    monkeypatch.setattr(pooling, "WINDOW_KERNEL_MIN_SIZE", 0)
    monkeypatch.setattr(conv, "MIN_COLUMNS", 100)              # groups of 2 (9x9) or 4 images
    monkeypatch.setattr(conv, "PARTIAL_SUMS", 3)               # dW in up to 3 partial sums
    monkeypatch.setattr(linear, "MIN_PARALLEL_MULTIPLY_ADDS", 0)
    monkeypatch.setattr(linear, "MIN_BLOCK_ROWS", 2)           # blocks of 2 or 3 rows
    monkeypatch.setattr(linear, "ROW_BLOCKS", 4)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, 9, 9)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    flat = rng.standard_normal((batch, 20)).astype(np.float32)
    w_fc, b_fc = rng.standard_normal((6, 20)).astype(np.float32), np.ones(6, np.float32)
    gamma, beta = rng.standard_normal(3).astype(np.float32), np.zeros(3, np.float32)

    def run():
        results = []
        for stride, padding in ((1, 1), (2, 1), (1, 0)):
            out, cache = F.conv2d_forward(x, w, b, stride, padding)
            results += [out, *F.conv2d_backward(np.cos(out), cache)]
        pooled, pcache = F.maxpool2d_forward(x, 3, 2, 1)
        results += [pooled, F.maxpool2d_backward(np.cos(pooled), pcache)]
        averaged, acache = F.avgpool2d_forward(x, 2, 2)
        results += [averaged, F.avgpool2d_backward(np.cos(averaged), acache)]
        bn, bcache = F.batchnorm_forward(x, gamma, beta, np.zeros(3, np.float32),
                                         np.ones(3, np.float32), True)
        results += [bn, *F.batchnorm_backward(np.cos(bn), bcache)]
        relu, rcache = F.relu_forward(x)
        results += [relu, F.relu_backward(np.cos(x), rcache)]
        fc, fcache = F.linear_forward(flat, w_fc, b_fc)
        results += [fc, *F.linear_backward(np.cos(fc), fcache)]
        return results

    monkeypatch.setenv("MINITORCH_CV_NUM_THREADS", "1")
    single = run()
    for threads in ("2", "3"):
        monkeypatch.setenv("MINITORCH_CV_NUM_THREADS", threads)
        for k, (one, many) in enumerate(zip(single, run())):
            np.testing.assert_array_equal(one, many, err_msg=f"result {k}, {threads} threads")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batchnorm_affine_kernel_versions_agree(dtype):
    from minitorch_cv.kernels import batchnorm as B
    x = random((3, 4, 10), dtype, seed=8)
    scale, shift = random((4,), dtype, seed=9), random((4,), dtype, seed=10)
    want = x * scale[None, :, None] + shift[None, :, None]
    for kernel in (B.batchnorm_affine_loops, B.batchnorm_affine_compiled):
        np.testing.assert_allclose(kernel(x, scale, shift, np.empty_like(x)), want,
                                   rtol=1e-6 if dtype == np.float32 else 1e-15)


def test_maxpool_without_backward_gives_the_same_maxima_and_no_cache():
    from minitorch_cv import functional as F
    from minitorch_cv import nn
    x = random((3, 2, 9, 8), np.float32, seed=11)
    x[0, 0, 0, 0] = np.nan                       # a NaN first in its window stays
    out, cache = F.maxpool2d_forward(x, 3, 2, 1)
    values, no_cache = F.maxpool2d_forward(x, 3, 2, 1, for_backward=False)
    np.testing.assert_array_equal(values, out)
    assert np.isnan(values[0, 0, 0, 0]) and cache is not None and no_cache is None
    layer = nn.MaxPool2d(3, 2, 1)
    with nn.no_grad():
        np.testing.assert_array_equal(layer(x), out)


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_linear_products_shared_among_threads_are_the_same(monkeypatch, threads):
    from minitorch_cv import functional as F
    from minitorch_cv.functional import linear
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((7, 5)), rng.standard_normal((4, 5))
    b, dout = rng.standard_normal(4), rng.standard_normal((7, 4))
    out, cache = F.linear_forward(x, w, b)
    grads = F.linear_backward(dout, cache)
    monkeypatch.setenv("MINITORCH_CV_NUM_THREADS", threads)
    monkeypatch.setattr(linear, "MIN_PARALLEL_MULTIPLY_ADDS", 0)     # split even 7 x 5 x 4
    monkeypatch.setattr(linear, "MIN_BLOCK_ROWS", 2)
    out_split, cache_split = F.linear_forward(x, w, b)
    # blocks of rows against one product: other BLAS calls, so equal to rounding only
    np.testing.assert_allclose(out_split, x @ w.T + b, rtol=1e-14, atol=1e-13)
    np.testing.assert_allclose(out_split, out, rtol=1e-14, atol=1e-13)
    for split, whole, want in zip(F.linear_backward(dout, cache_split), grads,
                                  (dout @ w, dout.T @ x, dout.sum(axis=0))):
        np.testing.assert_allclose(split, want, rtol=1e-14, atol=1e-13)
        np.testing.assert_allclose(split, whole, rtol=1e-14, atol=1e-13)
