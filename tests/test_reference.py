"""minitorch_cv.reference, the textbook layers, against the fast path they teach.

Every reference function must give what :mod:`minitorch_cv.functional` gives, in float64,
to 1e-10 relative (the two sum the same numbers in different orders, so not bit for bit),
on shapes with stride 1 and 2, padding 0 and 2, odd and non-square sizes, batch 1 and no
bias. The caches follow functional's contract, so each backward also accepts the other
path's cache. Gradients are checked numerically on one small case each.
"""

import re

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


def assert_close(ours, fast, name="value", rtol=RTOL, floor=0.0):
    """max |ours - fast| <= rtol * max(max |fast|, floor), shapes and dtypes equal."""
    if fast is None:
        assert ours is None, f"{name}: expected None, got {type(ours).__name__}"
        return
    ours, fast = np.asarray(ours), np.asarray(fast)
    assert ours.shape == fast.shape, f"{name}: shape {ours.shape} vs {fast.shape}"
    assert ours.dtype == fast.dtype, f"{name}: dtype {ours.dtype} vs {fast.dtype}"
    scale = max(np.abs(fast).max(initial=0.0), floor, 1e-300)
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


# ----------------------------------------------------------------------------- pooling
# (N, C, H, W, kernel, stride, padding): overlapping windows (stride < kernel), stride 1
# and 2, padding 0 and 2 (the kernel must then be at least 4), odd sizes, batch 1.
POOL_CASES = [
    (2, 3, 7, 5, 2, None, 0),
    (1, 2, 9, 6, 3, 2, 1),
    (2, 2, 6, 7, 3, 1, 0),
    (1, 3, 9, 8, 4, 2, 2),
    (2, 1, 5, 9, (2, 3), (1, 2), (1, 1)),
]


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_equals_fast_path(case, kind):
    n, c, h, w, k, s, p = case
    x = randn(n, c, h, w, seed=11)
    forward, backward = getattr(R, f"{kind}pool2d_forward"), getattr(R, f"{kind}pool2d_backward")
    out_fast, cache_fast = getattr(F, f"{kind}pool2d_forward")(x, k, s, p)
    out, cache = forward(x, k, s, p)
    assert_close(out, out_fast, "out")
    dout = randn(*out.shape, seed=12)
    dx_fast = getattr(F, f"{kind}pool2d_backward")(dout, cache_fast)
    assert_close(backward(dout, cache), dx_fast, "dx")
    assert_close(backward(dout, cache_fast), dx_fast, "dx from the fast cache")
    assert_close(getattr(F, f"{kind}pool2d_backward")(dout, cache), dx_fast,
                 "fast dx from the reference cache")
    assert len(cache) == len(cache_fast) and cache[-1] == cache_fast[-1] == x.dtype
    if kind == "max":                                  # the same positions, as int32
        np.testing.assert_array_equal(cache[0], cache_fast[0])
        assert cache[0].dtype == cache_fast[0].dtype and cache[1] == cache_fast[1]
    else:
        assert cache == cache_fast                     # shape, kernel, stride, padding, dtype


def test_maxpool_nan_wins_at_the_fast_paths_index():
    """A window holding NaN gives NaN, and its gradient goes where the fast path (and
    PyTorch) sends it: the window's last NaN."""
    x = randn(2, 3, 6, 5, seed=13)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan                # two NaNs in one window
    x[1, 2, 4, 4] = np.nan                                # one at a window's edge
    out, cache = R.maxpool2d_forward(x, 3, 2, 1)
    out_fast, cache_fast = F.maxpool2d_forward(x, 3, 2, 1)
    np.testing.assert_array_equal(out, out_fast)          # NaN == NaN here
    assert np.isnan(out).any()
    np.testing.assert_array_equal(cache[0], cache_fast[0])


def test_maxpool_ties_go_to_the_first_maximum():
    """Small integers make many ties; the gradient goes to the first maximum in row-major
    order (as in PyTorch and the fast path), never to all of them."""
    x = np.random.default_rng(3).integers(0, 3, size=(2, 2, 7, 6)).astype(np.float64)
    out, cache = R.maxpool2d_forward(x, 3, 2, 1)
    out_fast, cache_fast = F.maxpool2d_forward(x, 3, 2, 1)
    np.testing.assert_array_equal(out, out_fast)
    np.testing.assert_array_equal(cache[0], cache_fast[0])
    dx = R.maxpool2d_backward(np.ones_like(out), cache)
    assert dx.sum() == out.size                       # one pixel per window, not every tie


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_gradients_numerically(kind):
    x = randn(1, 2, 6, 5, seed=13)                     # distinct values: no ties
    result = gradcheck_function(getattr(R, f"{kind}pool2d_forward"),
                                getattr(R, f"{kind}pool2d_backward"), x, 3, 2, 1)
    assert result.passed(1e-7), result.report(1e-7)


# ----------------------------------------------------------------------------- batch norm
BN_SHAPES = [(5, 3), (4, 3, 7), (2, 3, 5, 4), (1, 2, 3, 5)]


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_equals_fast_path(shape, training):
    x = randn(*shape, seed=21) * 3 + 1
    c = shape[1]
    gamma, beta = randn(c, seed=22), randn(c, seed=23)
    stats = [np.abs(randn(c, seed=24)), np.abs(randn(c, seed=25)) + 0.5]
    stats_fast = [s.copy() for s in stats]
    out, cache = R.batchnorm_forward(x, gamma, beta, *stats, training, 0.3, 1e-4)
    out_fast, cache_fast = F.batchnorm_forward(x, gamma, beta, *stats_fast, training, 0.3, 1e-4)
    assert_close(out, out_fast, "out")
    assert_close(stats[0], stats_fast[0], "running_mean")
    assert_close(stats[1], stats_fast[1], "running_var")
    dout = randn(*shape, seed=26)
    grads_fast = F.batchnorm_backward(dout, cache_fast)
    names = ("dx", "dgamma", "dbeta")
    assert_all_close(R.batchnorm_backward(dout, cache), grads_fast, names)
    assert_all_close(R.batchnorm_backward(dout, cache_fast), grads_fast, names)
    assert_all_close(F.batchnorm_backward(dout, cache), grads_fast, names)


def test_batchnorm_running_var_is_unbiased():
    x = randn(4, 2, 3, 3, seed=27)
    mean, var = np.zeros(2), np.ones(2)
    R.batchnorm_forward(x, np.ones(2), np.zeros(2), mean, var, True, momentum=1.0)
    np.testing.assert_allclose(var, x.var(axis=(0, 2, 3), ddof=1), rtol=1e-12)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients_numerically(training):
    x = randn(3, 2, 3, 2, seed=28)

    def forward(x, gamma, beta):      # fresh running statistics: every call sees the same
        return R.batchnorm_forward(x, gamma, beta, np.full(2, 0.2), np.full(2, 1.5), training)

    result = gradcheck_function(forward, R.batchnorm_backward, x, randn(2, seed=29),
                                randn(2, seed=30), names=["x", "gamma", "beta"])
    assert result.passed(1e-7), result.report(1e-7)


# ----------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("channelwise", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dropout_equals_fast_path(p, channelwise, dtype):
    """The same draws from the same generator: the same mask, bit for bit. The cache is
    functional's ``(mask, x.shape)``, so each backward also runs on the other's cache."""
    x = randn(3, 4, 5, 2, seed=31).astype(dtype)
    out, cache = R.dropout_forward(x, p, np.random.default_rng(5), channelwise)
    out_fast, cache_fast = F.dropout_forward(x, p, np.random.default_rng(5), channelwise)
    (mask, x_shape), (mask_fast, x_shape_fast) = cache, cache_fast
    np.testing.assert_array_equal(mask, mask_fast)
    assert x_shape == x_shape_fast == x.shape
    np.testing.assert_array_equal(out, out_fast)
    assert out.dtype == mask.dtype == dtype
    dout = randn(*x.shape, seed=32).astype(dtype)
    dx_fast = F.dropout_backward(dout, cache_fast)
    np.testing.assert_array_equal(R.dropout_backward(dout, cache), dx_fast)
    np.testing.assert_array_equal(R.dropout_backward(dout, cache_fast), dx_fast)
    np.testing.assert_array_equal(F.dropout_backward(dout, cache), dx_fast)


def test_dropout_gradient_numerically():
    """With the generator re-seeded before each forward pass, the mask is fixed."""
    result = gradcheck_function(
        lambda x: R.dropout_forward(x, 0.4, np.random.default_rng(8)), R.dropout_backward,
        randn(3, 4, seed=33))
    assert result.passed(1e-7), result.report(1e-7)


# ----------------------------------------------------------------------------- linear, ReLU
@pytest.mark.parametrize("n, bias", [(1, True), (5, False), (4, True)])
def test_linear_equals_fast_path(n, bias):
    x, w = randn(n, 7, seed=41), randn(3, 7, seed=42)
    b = randn(3, seed=43) if bias else None
    out, cache = R.linear_forward(x, w, b)
    out_fast, cache_fast = F.linear_forward(x, w, b)
    assert_close(out, out_fast, "out")
    dout = randn(n, 3, seed=44)
    names = ("dx", "dw", "db")
    assert_all_close(R.linear_backward(dout, cache), F.linear_backward(dout, cache_fast), names)
    assert_all_close(R.linear_backward(dout, cache_fast), F.linear_backward(dout, cache), names)


def test_relu_equals_fast_path():
    x = randn(2, 3, 5, 4, seed=45)
    x[0, 0, 0, :2] = 0.0                                 # the kink: gradient 0, as in torch
    x[1, 2, 3, :2] = np.nan                              # NaN passes its gradient, as in torch
    out, cache = R.relu_forward(x)
    out_fast, cache_fast = F.relu_forward(x)
    np.testing.assert_array_equal(out, out_fast)
    dout = randn(*x.shape, seed=46)
    np.testing.assert_array_equal(R.relu_backward(dout, cache), F.relu_backward(dout, cache_fast))


@pytest.mark.parametrize("name", ["linear", "relu"])
def test_linear_and_relu_gradients_numerically(name):
    if name == "linear":
        result = gradcheck_function(R.linear_forward, R.linear_backward, randn(3, 4, seed=47),
                                    randn(2, 4, seed=48), randn(2, seed=49))
    else:
        result = gradcheck_function(R.relu_forward, R.relu_backward, randn(3, 5, seed=50))
    assert result.passed(1e-7), result.report(1e-7)


# ----------------------------------------------------------------------------- cross-entropy
@pytest.mark.parametrize("reduction, dloss", [("mean", 1.0), ("sum", 0.7), ("mean", 2.5)])
def test_cross_entropy_equals_fast_path(reduction, dloss):
    logits, labels = randn(6, 4, seed=51) * 10, np.array([0, 3, 1, 1, 2, 3])
    loss, cache = R.cross_entropy_forward(logits, labels, reduction)
    loss_fast, cache_fast = F.cross_entropy_forward(logits, labels, reduction)
    assert isinstance(loss, float) and abs(loss - loss_fast) <= RTOL * abs(loss_fast)
    assert_close(R.cross_entropy_backward(cache, dloss),
                 F.cross_entropy_backward(cache_fast, dloss), "dlogits")


def test_cross_entropy_without_reduction():
    logits, labels = randn(1, 5, seed=52), np.array([4])
    losses, cache = R.cross_entropy_forward(logits, labels, "none")
    losses_fast, cache_fast = F.cross_entropy_forward(logits, labels, "none")
    assert_close(losses, losses_fast, "losses")
    dloss = np.array([0.5])
    assert_close(R.cross_entropy_backward(cache, dloss),
                 F.cross_entropy_backward(cache_fast, dloss), "dlogits")


def test_cross_entropy_gradient_numerically():
    labels = np.array([2, 0, 1])
    result = gradcheck_function(lambda z: R.cross_entropy_forward(z, labels),
                                lambda dloss, cache: R.cross_entropy_backward(cache, dloss),
                                randn(3, 4, seed=53))
    assert result.passed(1e-7), result.report(1e-7)


def test_cross_entropy_does_not_overflow():
    loss, _ = R.cross_entropy_forward(np.array([[1000.0, 0.0]]), np.array([1]))
    assert loss == pytest.approx(1000.0)


# ----------------------------------------------------------------------------- optimizer steps
def run_optimizer(make, steps, w0, grads):
    from minitorch_cv.nn.module import Parameter
    p = Parameter(w0.copy())
    opt = make([p])
    for g in grads[:steps]:
        p.grad = g.copy()
        opt.step()
    return p.data


@pytest.mark.parametrize("momentum, weight_decay", [(0.9, 0.0), (0.5, 0.01), (0.0, 0.1)])
def test_sgd_momentum_step_equals_optim_sgd(momentum, weight_decay):
    from minitorch_cv import optim
    w0, grads = randn(3, 4, seed=61), [randn(3, 4, seed=62 + t) for t in range(4)]
    w, velocity = w0.copy(), np.zeros_like(w0)
    for g in grads:
        before = (w.copy(), g.copy(), velocity.copy())
        w_new, velocity_new = R.sgd_momentum_step(w, g, velocity, 0.1, momentum, weight_decay)
        for a, b in zip((w, g, velocity), before):   # pure: the inputs are left alone
            np.testing.assert_array_equal(a, b)
        w, velocity = w_new, velocity_new
    fast = run_optimizer(lambda ps: optim.SGD(ps, lr=0.1, momentum=momentum,
                                              weight_decay=weight_decay), 4, w0, grads)
    assert_close(w, fast, "w after 4 steps")


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adam_step_equals_optim_adam(weight_decay):
    from minitorch_cv import optim
    w0, grads = randn(5, seed=71), [randn(5, seed=72 + t) for t in range(4)]
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(grads, start=1):
        before = (w.copy(), g.copy(), m.copy(), v.copy())
        w_new, m_new, v_new = R.adam_step(w, g, m, v, t, lr=0.01, beta1=0.8, beta2=0.99,
                                          weight_decay=weight_decay)
        for a, b in zip((w, g, m, v), before):
            np.testing.assert_array_equal(a, b)
        w, m, v = w_new, m_new, v_new
    fast = run_optimizer(lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.99),
                                               weight_decay=weight_decay), 4, w0, grads)
    assert_close(w, fast, "w after 4 steps")


def test_adam_first_step_has_size_lr():
    """With the bias correction the first step moves every weight by about lr."""
    w = np.zeros(3)
    w_new, _, _ = R.adam_step(w, np.array([1e-3, -5.0, 2.0]), np.zeros(3), np.zeros(3), 1,
                              lr=0.1)
    np.testing.assert_allclose(np.abs(w_new), 0.1, rtol=1e-4)


# ----------------------------------------------------------------------------- the switch
def forward_backward(model, x, labels):
    """Logits, dL/dx and every parameter gradient of one training step."""
    from minitorch_cv import nn
    model.zero_grad()
    loss_fn = nn.CrossEntropyLoss()
    logits = model(x)
    loss = loss_fn(logits, labels)
    dx = model.backward(loss_fn.backward())
    grads = {name: p.grad.copy() for name, p in model.named_parameters() if p.grad is not None}
    return loss, logits, dx, grads


def assert_same_step(a, b):
    loss_a, logits_a, dx_a, grads_a = a
    loss_b, logits_b, dx_b, grads_b = b
    assert abs(loss_a - loss_b) <= RTOL * abs(loss_b)
    assert_close(logits_a, logits_b, "logits")
    assert_close(dx_a, dx_b, "dx")
    assert grads_a.keys() == grads_b.keys()
    # A bias followed by batch norm has a gradient of zero in exact arithmetic (the
    # normalization subtracts it away): both paths give rounding noise there, which is
    # judged against the network's largest gradient, as gradcheck does.
    floor = 1e-3 * max(np.abs(g).max() for g in grads_b.values())
    for name in grads_a:
        assert_close(grads_a[name], grads_b[name], name, floor=floor)


def counting_textbook(monkeypatch):
    """Count the calls that reach the textbook functions through the switch."""
    from minitorch_cv.reference import switch
    calls = []

    def counted(name, function):
        def run(*args, **kwargs):
            calls.append(name)
            return function(*args, **kwargs)
        return run

    for name, function in list(switch.TEXTBOOK.items()):
        monkeypatch.setitem(switch.TEXTBOOK, name, counted(name, function))
    return calls


def test_task2_model_same_on_both_paths(monkeypatch):
    """The lesson's comparison: the Task 2 network, textbook vs fast, same numbers."""
    from minitorch_cv import models
    model = models.task2_model(rng=0).to(np.float64)
    x, labels = randn(2, 3, 32, 32, seed=81), np.array([3, 7])
    calls = counting_textbook(monkeypatch)
    fast = forward_backward(model, x, labels)
    assert calls == []
    with R.use():
        assert R.is_active()
        textbook = forward_backward(model, x, labels)
    assert not R.is_active()
    assert_same_step(textbook, fast)
    for name in ("conv2d_forward", "conv2d_backward", "maxpool2d_forward",
                 "maxpool2d_backward", "relu_forward", "relu_backward", "linear_forward",
                 "linear_backward", "cross_entropy_forward", "cross_entropy_backward"):
        assert name in calls, f"{name} did not run on the reference path"


def test_network_with_batchnorm_and_dropout_same_on_both_paths():
    """A small network in the style of Task 3's (BatchNorm2d/1d, Dropout2d, Dropout): the
    same random draws and the same running statistics on both paths, in training and in
    evaluation mode."""
    import copy

    from minitorch_cv import nn
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, rng=0), nn.BatchNorm2d(6), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Dropout2d(0.3, rng=1),
                          nn.Conv2d(6, 8, 3, stride=2, rng=2), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8 * 2 * 1, 12, rng=3), nn.BatchNorm1d(12), nn.ReLU(),
                          nn.Dropout(0.3, rng=4), nn.Linear(12, 5, rng=5)).to(np.float64)
    twin = copy.deepcopy(model)                        # the same generators, same state
    x, labels = randn(4, 3, 10, 9, seed=82), np.array([0, 1, 4, 4])
    fast = forward_backward(model, x, labels)
    with R.use():
        textbook = forward_backward(twin, x, labels)
    assert_same_step(textbook, fast)
    for (name, a), (_, b) in zip(twin.named_buffers(), model.named_buffers()):
        assert_close(np.asarray(a), np.asarray(b), name)
    model.eval(), twin.eval()
    with R.use():
        textbook = forward_backward(twin, x, labels)
    assert_same_step(textbook, forward_backward(model, x, labels))


def test_layer_options_on_the_reference_path():
    """Layer options whose keyword arguments the textbook signatures leave out: frozen
    weights (need_dw=False), first layer (need_dx=False), no_grad max pooling
    (for_backward=False), ReLU(inplace=True), BatchNorm without affine or running stats,
    average pooling."""
    from minitorch_cv import nn
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=False, rng=0),
                          nn.BatchNorm2d(3, affine=False), nn.ReLU(inplace=True),
                          nn.AvgPool2d(2), nn.BatchNorm2d(3, track_running_stats=False),
                          nn.MaxPool2d(3, stride=1, padding=1), nn.Flatten(),
                          nn.Linear(3 * 3 * 2, 4, rng=1)).to(np.float64)
    model[0].weight.requires_grad = False
    x, labels = randn(2, 2, 6, 5, seed=83), np.array([1, 2])
    fast = forward_backward(model, x, labels)
    with R.use():
        textbook = forward_backward(model, x, labels)
        with nn.no_grad():
            inference = model(x)
    assert_same_step(textbook, fast)
    assert_close(inference, fast[1], "logits under no_grad")


def test_forward_inside_backward_outside():
    """One cache contract: a forward pass inside the block, its backward outside."""
    from minitorch_cv import models, nn
    model = models.task2_model(rng=2).to(np.float64)
    x, labels = randn(1, 3, 32, 32, seed=84), np.array([5])
    fast = forward_backward(model, x, labels)
    model.zero_grad()
    loss_fn = nn.CrossEntropyLoss()
    with R.use():
        logits = model(x)
        loss = loss_fn(logits, labels)
    dx = model.backward(loss_fn.backward())
    grads = {name: p.grad.copy() for name, p in model.named_parameters()}
    assert_same_step((loss, logits, dx, grads), fast)


def test_batchnorm_without_affine_crosses_paths():
    """BatchNorm2d(affine=False): the fast path's cache holds gamma=None, the textbook's
    holds ones; a forward on either path and its backward on the other agree with the
    fast path alone, in training and evaluation mode."""
    from minitorch_cv import nn
    x, dout = randn(3, 2, 4, 5, seed=88), randn(3, 2, 4, 5, seed=89)
    for training in (True, False):
        layer = nn.BatchNorm2d(2, affine=False).to(np.float64).train(training)
        out = layer(x)
        dx = layer.backward(dout)
        for forward_inside in (True, False):
            with R.use(forward_inside):
                assert_close(layer(x), out, "out")
            with R.use(not forward_inside):
                assert_close(layer.backward(dout), dx, "dx")


# Every nn layer the switch sends to a textbook function: (make, input, training mode).
SWITCH_LAYERS = {
    "Conv2d": (lambda nn: nn.Conv2d(3, 4, 3, padding=1, rng=0), (2, 3, 6, 5), True),
    "Conv2d-no-bias": (lambda nn: nn.Conv2d(3, 2, 2, stride=2, bias=False, rng=0),
                       (2, 3, 6, 5), True),
    "Linear": (lambda nn: nn.Linear(3, 5, rng=0), (4, 3), True),
    "MaxPool2d": (lambda nn: nn.MaxPool2d(2), (2, 3, 6, 5), True),
    "AvgPool2d": (lambda nn: nn.AvgPool2d(3, stride=2, padding=1), (2, 3, 6, 5), True),
    "BatchNorm2d": (lambda nn: nn.BatchNorm2d(3), (2, 3, 6, 5), True),
    "BatchNorm2d-eval": (lambda nn: nn.BatchNorm2d(3), (2, 3, 6, 5), False),
    "BatchNorm1d": (lambda nn: nn.BatchNorm1d(3), (4, 3), True),
    "Dropout": (lambda nn: nn.Dropout(0.5, rng=0), (2, 3, 6, 5), True),
    "Dropout2d": (lambda nn: nn.Dropout2d(0.5, rng=0), (2, 3, 6, 5), True),
    "ReLU": (lambda nn: nn.ReLU(), (2, 3, 6, 5), True),
}


def backward_errors(make, shape, training):
    """What a fresh float32 layer's backward does with wrong gradients: (error class,
    message) per kind of mistake, and the dtype of dx for a float64 dout."""
    from minitorch_cv import nn
    layer = make(nn).train(training)
    out = layer(randn(*shape, seed=86).astype(np.float32))
    wrong = {"shape": np.ones(out.shape[:-1] + (out.shape[-1] + 1,), np.float32),
             "rank": np.ones(out.shape + (1,), np.float32),
             "list": np.ones(out.shape, np.float32).tolist(),
             "int": np.ones(out.shape, np.int64)}
    result = {}
    for kind, dout in wrong.items():
        with pytest.raises((TypeError, ValueError)) as info:
            layer.backward(dout)
        result[kind] = (type(info.value), str(info.value))
    result["float64 dout -> dx"] = layer.backward(np.ones(out.shape)).dtype
    return result


@pytest.mark.parametrize("name", sorted(SWITCH_LAYERS))
def test_wrong_dout_is_refused_alike_on_the_reference_path(name, monkeypatch):
    """Inside reference.use() a gradient of the wrong shape, rank or kind raises the very
    error it raises on the fast path (never a silently wrong answer), naming the layer;
    a float64 dout is converted to the layer's float32 on both paths."""
    make, shape, training = SWITCH_LAYERS[name]
    calls = counting_textbook(monkeypatch)
    fast = backward_errors(make, shape, training)
    assert not any(call.endswith("_backward") for call in calls)
    with R.use():
        textbook = backward_errors(make, shape, training)
    assert any(call.endswith("_backward") for call in calls), calls   # the textbook ran
    assert textbook == fast
    error, message = fast["shape"]
    layer = name.split("-")[0] + ".backward"
    assert error is ValueError and message.startswith(f"{layer}: expected dout of shape")
    assert fast["int"][0] is TypeError and fast["float64 dout -> dx"] == np.float32


def test_wrong_dloss_is_refused_alike_on_the_reference_path():
    from minitorch_cv import nn

    def errors():
        loss_fn = nn.CrossEntropyLoss()
        loss_fn(randn(4, 3, seed=87).astype(np.float32), np.array([0, 1, 2, 0]))
        result = {}
        for kind, dloss in (("array", np.ones(4)), ("string", "1"), ("bool", True)):
            with pytest.raises(TypeError) as info:
                loss_fn.backward(dloss)
            result[kind] = str(info.value)
        result["0-d float64"] = loss_fn.backward(np.array(2.0)).dtype
        return result

    fast = errors()
    with R.use():
        textbook = errors()
    assert textbook == fast and fast["0-d float64"] == np.float32
    assert fast["array"].startswith("CrossEntropyLoss.backward: expected dloss")


def bad_forward_calls():
    """(name, call on the dispatch object): what the fast forward functions refuse."""
    x, w = randn(1, 2, 3, 3), randn(2, 2, 5, 5, seed=1)
    small = randn(1, 2, 3, 3).astype(np.float16)
    logits = randn(2, 3)
    return [
        ("conv2d window larger than the image", lambda d: d.conv2d_forward(x, w)),
        ("conv2d channels", lambda d: d.conv2d_forward(x, randn(2, 3, 1, 1))),
        ("conv2d mixed dtypes", lambda d: d.conv2d_forward(x, w[:, :, :1, :1].astype(
            np.float32))),
        ("conv2d stride 0", lambda d: d.conv2d_forward(x, w[:, :, :1, :1], None, 0)),
        ("maxpool2d window larger than the image", lambda d: d.maxpool2d_forward(x, 5)),
        ("maxpool2d float16", lambda d: d.maxpool2d_forward(small, 2)),
        ("avgpool2d padding over half", lambda d: d.avgpool2d_forward(x, 2, 1, 2)),
        ("batchnorm gamma length", lambda d: d.batchnorm_forward(
            x, np.ones(3), np.zeros(2), None, None)),
        ("dropout p", lambda d: d.dropout_forward(x, 1.5, np.random.default_rng(0))),
        ("dropout integer input", lambda d: d.dropout_forward(
            np.ones((2, 3), int), 0.5, np.random.default_rng(0))),
        ("linear mixed dtypes", lambda d: d.linear_forward(randn(2, 3), randn(4, 3).astype(
            np.float32))),
        ("relu integer input", lambda d: d.relu_forward(np.arange(-2, 3))),
        ("cross entropy label -1", lambda d: d.cross_entropy_forward(logits, np.array([-1, 0]))),
        ("cross entropy float labels", lambda d: d.cross_entropy_forward(
            logits, np.array([1.0, 0.0]))),
        ("cross entropy reduction", lambda d: d.cross_entropy_forward(
            logits, np.array([1, 0]), "avg")),
    ]


@pytest.mark.parametrize("name, call", bad_forward_calls(),
                         ids=[case[0] for case in bad_forward_calls()])
def test_bad_forward_input_is_refused_alike_on_the_reference_path(name, call, monkeypatch):
    """The textbook forward functions run the fast ones' input checks first, so inside
    reference.use() a bad input raises the very error it raises outside -- never a
    silently wrong answer (a label of -1 would pick the last class; a window larger than
    the image would give an empty output)."""
    from minitorch_cv._dispatch import functional as dispatch
    calls = counting_textbook(monkeypatch)
    with pytest.raises((TypeError, ValueError)) as fast:
        call(dispatch)
    with R.use(), pytest.raises(fast.type, match=f"^{re.escape(str(fast.value))}$"):
        call(dispatch)
    assert calls, "the call inside reference.use() did not reach the textbook function"


def test_nn_layers_refuse_bad_inputs_alike_on_the_reference_path():
    from minitorch_cv import nn
    x = randn(1, 2, 3, 3).astype(np.float32)
    for make, arguments in ((lambda: nn.MaxPool2d(5), (x,)), (lambda: nn.AvgPool2d(4), (x,)),
                            (lambda: nn.ReLU(), (np.arange(3),)),
                            (lambda: nn.CrossEntropyLoss(), (x[0, 0], np.array([0, 3, 1])))):
        with pytest.raises((TypeError, ValueError)) as fast:
            make()(*arguments)
        with R.use(), pytest.raises(fast.type, match=f"^{re.escape(str(fast.value))}$"):
            make()(*arguments)


def reference_and_fast_pairs():
    """(name, forward thunk, reference backward, fast backward): one small case each."""
    x4, x2 = randn(2, 3, 6, 5), randn(4, 3)
    w, w2 = randn(4, 3, 3, 3, seed=1), randn(5, 3, seed=2)
    return [
        ("conv2d", lambda: F.conv2d_forward(x4, w, None, 2, 1), R.conv2d_backward,
         F.conv2d_backward),
        ("conv2d loops", lambda: F.conv2d_forward(x4, w, None, 2, 1), R.conv2d_backward_loops,
         F.conv2d_backward),
        ("maxpool2d", lambda: F.maxpool2d_forward(x4, 2), R.maxpool2d_backward,
         F.maxpool2d_backward),
        ("avgpool2d", lambda: F.avgpool2d_forward(x4, 3, 2, 1), R.avgpool2d_backward,
         F.avgpool2d_backward),
        ("batchnorm", lambda: F.batchnorm_forward(x4, randn(3), randn(3), None, None),
         R.batchnorm_backward, F.batchnorm_backward),
        ("batchnorm eval", lambda: F.batchnorm_forward(x4, randn(3), randn(3), np.zeros(3),
                                                       np.ones(3), training=False),
         R.batchnorm_backward, F.batchnorm_backward),
        ("dropout", lambda: F.dropout_forward(x4, 0.5, np.random.default_rng(0), True),
         R.dropout_backward, F.dropout_backward),
        ("linear", lambda: F.linear_forward(x2, w2), R.linear_backward, F.linear_backward),
        ("relu", lambda: F.relu_forward(x4), R.relu_backward, F.relu_backward),
    ]


@pytest.mark.parametrize("name, forward, textbook, fast", reference_and_fast_pairs(),
                         ids=[case[0] for case in reference_and_fast_pairs()])
def test_reference_backward_checks_dout_as_functional_does(name, forward, textbook, fast):
    """Each textbook backward checks dout with functional's check_grad: the same errors
    (default layer name and ``layer=``), and a float32 dout converted to the forward's
    float64."""
    out, cache = forward()
    for dout in (np.ones(tuple(s + 1 for s in out.shape)), np.ones(out.shape, np.int32),
                 np.ones(out.shape[:-1])):
        for kwargs in ({}, {"layer": "Lesson.backward"}):
            with pytest.raises((TypeError, ValueError)) as expected:
                fast(dout, cache, **kwargs)
            with pytest.raises(expected.type, match=f"^{re.escape(str(expected.value))}$"):
                textbook(dout, cache, **kwargs)
    grads = textbook(np.ones(out.shape, np.float32), cache)
    for g in grads if isinstance(grads, tuple) else (grads,):
        assert g is None or g.dtype == np.float64, name


def test_switch_is_off_after_an_exception():
    with pytest.raises(ZeroDivisionError), R.use():
        assert R.is_active()
        raise ZeroDivisionError
    assert not R.is_active()


def test_switch_nests_and_can_be_turned_off_inside():
    with R.use():
        with R.use(False):
            assert not R.is_active()
        assert R.is_active()
    assert not R.is_active()


def test_switch_does_not_leak_into_other_threads(monkeypatch):
    """Another thread that runs a layer while this one is inside the block runs the fast
    path; the block's own calls all reach the textbook functions."""
    import threading

    from minitorch_cv import nn
    calls = counting_textbook(monkeypatch)
    layer = nn.Conv2d(1, 1, 3, rng=0)
    seen, started, release = {}, threading.Event(), threading.Event()

    def other_thread():
        started.wait()
        seen["active"] = R.is_active()
        layer(np.ones((1, 1, 4, 4), dtype=np.float32))
        release.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with R.use():
        started.set()
        assert release.wait(timeout=60)
        thread.join()
    assert seen["active"] is False and calls == []
    with R.use():
        layer(np.ones((1, 1, 4, 4), dtype=np.float32))
    assert calls == ["conv2d_forward"]


def test_textbook_and_fast_functions_share_one_signature():
    """The switch is a plain name -> function table: no adapter between the two paths."""
    import inspect

    from minitorch_cv.reference.switch import TEXTBOOK
    assert len(TEXTBOOK) == 20
    for name, textbook in TEXTBOOK.items():
        assert inspect.signature(textbook) == inspect.signature(getattr(F, name)), name


def test_dispatch_passes_other_functions_through():
    """Functions without a textbook version stay the fast ones."""
    from minitorch_cv._dispatch import functional as dispatch
    assert dispatch.tanh_forward is F.tanh_forward
    assert dispatch.adaptive_avgpool2d_forward is F.adaptive_avgpool2d_forward
    assert dispatch.conv2d_forward.__name__ == "conv2d_forward"
    with pytest.raises(AttributeError):
        _ = dispatch.no_such_function


def test_float32_runs_on_the_reference_path():
    """float32 stays float32 through the textbook layers (the dtype of every output)."""
    from minitorch_cv import models
    model = models.task2_model(rng=3)
    x = randn(1, 3, 32, 32, seed=85).astype(np.float32)
    with R.use():
        _, logits, dx, grads = forward_backward(model, x, np.array([1]))
    assert logits.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    _, logits_fast, _, _ = forward_backward(model, x, np.array([1]))
    np.testing.assert_allclose(logits, logits_fast, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- PyTorch
@pytest.mark.parametrize("case", CONV_CASES[:2])
def test_conv2d_equals_torch(case):
    torch = pytest.importorskip("torch")
    x, w, b, s, p = conv_inputs(case, seed=90)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    out_t = torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p)
    dout = randn(*out_t.shape, seed=91)
    out_t.backward(torch.tensor(dout))
    out, cache = R.conv2d_forward(x, w, b, s, p)
    assert_close(out, out_t.detach().numpy(), "out")
    dx, dw, db = R.conv2d_backward(dout, cache)
    assert_close(dx, xt.grad.numpy(), "dx")
    assert_close(dw, wt.grad.numpy(), "dw")
    assert_close(db, None if b is None else bt.grad.numpy(), "db")


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 5, 4)])
def test_batchnorm_equals_torch(shape):
    torch = pytest.importorskip("torch")
    x, dout = randn(*shape, seed=92) * 2 - 1, randn(*shape, seed=93)
    c = shape[1]
    gamma, beta = randn(c, seed=94), randn(c, seed=95)
    mean, var = np.zeros(c), np.ones(c)
    xt = torch.tensor(x, requires_grad=True)
    gt, bt = torch.tensor(gamma, requires_grad=True), torch.tensor(beta, requires_grad=True)
    mean_t, var_t = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    out_t = torch.nn.functional.batch_norm(xt, mean_t, var_t, gt, bt, training=True,
                                           momentum=0.1, eps=1e-5)
    out_t.backward(torch.tensor(dout))
    out, cache = R.batchnorm_forward(x, gamma, beta, mean, var, True, 0.1, 1e-5)
    assert_close(out, out_t.detach().numpy(), "out")
    assert_close(mean, mean_t.numpy(), "running_mean")
    assert_close(var, var_t.numpy(), "running_var")
    dx, dgamma, dbeta = R.batchnorm_backward(dout, cache)
    assert_close(dx, xt.grad.numpy(), "dx")
    assert_close(dgamma, gt.grad.numpy(), "dgamma")
    assert_close(dbeta, bt.grad.numpy(), "dbeta")


# ----------------------------------------------------------------------------- hygiene
def test_reference_is_a_subpackage_of_the_library():
    import minitorch_cv
    assert "reference" in minitorch_cv.__all__
    assert minitorch_cv.reference.conv2d_forward is R.conv2d_forward
    for name in R.__all__:
        assert callable(getattr(R, name)), name


def test_reference_functions_leave_their_inputs_alone():
    """What a forward or backward pass is given, it gives back unchanged (only batch norm's
    running statistics are updated in place, by contract)."""
    x, w, b, dout = randn(2, 3, 6, 5), randn(4, 3, 3, 3, seed=1), randn(4, seed=2), None
    calls = [
        (R.conv2d_forward, R.conv2d_backward, (x, w, b, 2, 1)),
        (R.conv2d_forward_loops, R.conv2d_backward_loops, (x, w, b, 1, 2)),
        (R.maxpool2d_forward, R.maxpool2d_backward, (x, 3, 2, 1)),
        (R.avgpool2d_forward, R.avgpool2d_backward, (x, 2, 1, 1)),
        (R.batchnorm_forward, R.batchnorm_backward, (x, b[:3], b[1:], np.zeros(3), np.ones(3))),
        (R.linear_forward, R.linear_backward, (x.reshape(2, -1), randn(5, 90), randn(5))),
        (R.relu_forward, R.relu_backward, (x,)),
        (lambda *a: R.dropout_forward(*a, np.random.default_rng(0)), R.dropout_backward,
         (x, 0.5)),
    ]
    for forward, backward, args in calls:
        copies = [np.copy(a) for a in args if isinstance(a, np.ndarray)]
        out, cache = forward(*args)
        dout = randn(*out.shape, seed=3)
        dout_copy = dout.copy()
        backward(dout, cache)
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        if forward is R.batchnorm_forward:
            arrays, copies = arrays[:3], copies[:3]
        for a, c in zip(arrays, copies, strict=True):
            np.testing.assert_array_equal(a, c, err_msg=getattr(forward, "__name__", ""))
        np.testing.assert_array_equal(dout, dout_copy)
    logits, labels = randn(3, 4), np.array([0, 1, 3])
    _, cache = R.cross_entropy_forward(logits.copy(), labels)
    R.cross_entropy_backward(cache)
    np.testing.assert_array_equal(R.cross_entropy_forward(logits, labels)[1][0], cache[0])
