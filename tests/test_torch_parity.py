"""PyTorch is the oracle: every layer, loss, optimizer and the Task 2 network agree with it.

Weights are copied from our layer into the PyTorch layer through the state dict, both run
in float64, and forward outputs, input gradients and every parameter gradient must agree
to 1e-10 relative (measured against the largest magnitude of PyTorch's result).
"""

import math

import numpy as np
import pytest

from minitorch_cv import functional as F
from minitorch_cv import nn, optim

torch = pytest.importorskip("torch")

RTOL = 1e-10


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_library_thread):
    """Small arrays: worker threads would cost more than they save (2 shared cores)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# ----------------------------------------------------------------------------- helpers
def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def as_numpy(a):
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def assert_close(ours, theirs, rtol=RTOL, name="value"):
    """max |ours - theirs| <= rtol * max |theirs| (a relative error that zeros can't fool)."""
    ours, theirs = as_numpy(ours), as_numpy(theirs)
    assert ours is not None and ours.shape == theirs.shape, \
        f"{name}: shape {getattr(ours, 'shape', None)} vs PyTorch's {theirs.shape}"
    ours64, theirs64 = ours.astype(np.float64), theirs.astype(np.float64)
    scale = max(np.abs(theirs64).max(initial=0.0), 1e-300)
    error = np.abs(ours64 - theirs64).max(initial=0.0) / scale
    assert error <= rtol, f"{name}: relative difference {error:.3g} > {rtol:g}"


def torch_state(module):
    """Our state dict as tensors, ready for ``torch_module.load_state_dict``."""
    return {k: torch.from_numpy(np.array(v)) for k, v in module.state_dict().items()}


def numpy_state(torch_module):
    return {k: v.detach().cpu().numpy() for k, v in torch_module.state_dict().items()}


def compare_with_torch(ours, theirs, x, rtol=RTOL, seed=1):
    """Same weights, same input, same upstream gradient: compare out, dx and every grad."""
    ours.to(np.float64)
    theirs.double()
    theirs.load_state_dict(torch_state(ours))
    theirs.train(ours.training)
    x = np.asarray(x, dtype=np.float64)
    out = ours(x)
    xt = torch.tensor(x, requires_grad=True)
    out_t = theirs(xt)
    assert_close(out, out_t, rtol, "forward")
    dout = randn(*out.shape, seed=seed)
    dx = ours.backward(dout)
    out_t.backward(torch.from_numpy(dout))
    assert_close(dx, xt.grad, rtol, "dx")
    their_params = dict(theirs.named_parameters())
    our_params = dict(ours.named_parameters())
    assert list(our_params) == list(their_params)
    for name, p in our_params.items():
        assert_close(p.grad, their_params[name].grad, rtol, f"d{name}")
    for name, b in theirs.named_buffers():
        assert_close(ours.state_dict()[name], b, rtol, name)
    return out, dx


# ----------------------------------------------------------------------------- conv
CONV_CASES = [
    # (in, out, kernel, stride, padding, bias, input shape)
    (3, 4, 3, 1, 0, True, (2, 3, 6, 5)),
    (3, 8, 3, 1, 1, True, (2, 3, 8, 8)),
    (3, 4, 3, 2, 1, True, (2, 3, 7, 6)),
    (2, 3, 5, 1, 2, True, (2, 2, 5, 5)),
    (2, 3, 3, 2, 2, False, (1, 2, 5, 7)),
    (2, 3, (3, 2), (2, 1), (1, 0), False, (1, 2, 7, 5)),
    (3, 2, (1, 4), 1, (0, 2), True, (2, 3, 4, 6)),
    (3, 2, 4, 3, 1, True, (2, 3, 9, 8)),
    (16, 8, 1, 1, 0, True, (2, 16, 4, 4)),
    (4, 6, 3, 1, "same", True, (2, 4, 5, 6)),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"k{c[2]}s{c[3]}p{c[4]}b{int(c[5])}")
def test_conv2d(case):
    cin, cout, k, s, p, bias, shape = case
    ours = nn.Conv2d(cin, cout, k, stride=s, padding=p, bias=bias, rng=0)
    theirs = torch.nn.Conv2d(cin, cout, k, stride=s, padding=p, bias=bias)
    compare_with_torch(ours, theirs, randn(*shape))


# ----------------------------------------------------------------------------- pooling
POOL_CASES = [
    (2, None, 0, (2, 3, 6, 6)),
    (2, None, 0, (1, 2, 7, 5)),
    (2, 1, 0, (2, 2, 5, 4)),
    (3, 2, 1, (2, 2, 7, 6)),
    ((3, 2), (2, 1), (1, 0), (1, 2, 7, 5)),
    (3, 3, 1, (1, 2, 8, 7)),
]


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("kernel,stride,padding,shape", POOL_CASES)
def test_maxpool2d(kernel, stride, padding, shape, ties):
    # With ties (small integers) both send the gradient to the first maximum.
    x = np.random.default_rng(2).integers(-2, 3, size=shape) if ties else randn(*shape)
    compare_with_torch(nn.MaxPool2d(kernel, stride, padding),
                       torch.nn.MaxPool2d(kernel, stride, padding), x)


@pytest.mark.parametrize("kernel,stride,padding,shape", POOL_CASES)
def test_avgpool2d(kernel, stride, padding, shape):
    compare_with_torch(nn.AvgPool2d(kernel, stride, padding),
                       torch.nn.AvgPool2d(kernel, stride, padding), randn(*shape))


@pytest.mark.parametrize("output_size,shape", [
    (1, (2, 3, 4, 5)), (3, (2, 2, 5, 5)), ((2, 3), (1, 2, 5, 7)), ((4, 4), (1, 2, 8, 8)),
    ((4, 5), (1, 1, 3, 3)), ((3, 2), (2, 2, 7, 9)),
])
def test_adaptive_avgpool2d(output_size, shape):
    compare_with_torch(nn.AdaptiveAvgPool2d(output_size),
                       torch.nn.AdaptiveAvgPool2d(output_size), randn(*shape))


# ----------------------------------------------------------------------------- batch norm
BN_CASES = [(nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)),
            (nn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 5)),
            (nn.BatchNorm2d, torch.nn.BatchNorm2d, (3, 4, 5, 3))]
BN_IDS = ["1d-NC", "1d-NCL", "2d"]


def random_affine(bn, seed=3):
    rng = np.random.default_rng(seed)
    bn.weight.data = rng.uniform(0.5, 2.0, bn.num_features)
    bn.bias.data = rng.standard_normal(bn.num_features)
    return bn


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.3, "eps": 1e-3}], ids=["default", "m0.3"])
@pytest.mark.parametrize("ours_cls,their_cls,shape", BN_CASES, ids=BN_IDS)
def test_batchnorm_train_running_stats_and_eval(ours_cls, their_cls, shape, kwargs):
    c = shape[1]
    ours = random_affine(ours_cls(c, **kwargs)).to(np.float64)
    theirs = their_cls(c, **kwargs).double()
    theirs.load_state_dict(torch_state(ours))
    # several training steps: outputs, accumulated gradients and running statistics
    for step in range(4):
        x = randn(*shape, seed=10 + step) * (step + 1) + step
        xt = torch.tensor(x, requires_grad=True)
        out, out_t = ours(x), theirs(xt)
        assert_close(out, out_t, name=f"forward {step}")
        dout = randn(*shape, seed=20 + step)
        assert_close(ours.backward(dout), torch.autograd.grad(out_t, xt, torch.from_numpy(dout),
                                                              retain_graph=True)[0],
                     name=f"dx {step}")
        out_t.backward(torch.from_numpy(dout))
    assert_close(ours.weight.grad, theirs.weight.grad, name="accumulated dweight")
    assert_close(ours.bias.grad, theirs.bias.grad, name="accumulated dbias")
    sd, their_sd = ours.state_dict(), theirs.state_dict()
    assert_close(sd["running_mean"], their_sd["running_mean"], name="running_mean")
    assert_close(sd["running_var"], their_sd["running_var"], name="running_var")
    assert sd["num_batches_tracked"].dtype == np.int64 and sd["num_batches_tracked"].ndim == 0
    assert int(sd["num_batches_tracked"]) == int(their_sd["num_batches_tracked"]) == 4
    # evaluation mode: the running statistics, and a different backward
    ours.eval()
    ours.zero_grad()
    theirs.zero_grad()
    compare_with_torch(ours, theirs.eval(), randn(*shape, seed=30))
    assert int(ours.state_dict()["num_batches_tracked"]) == 4


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("kwargs", [{"affine": False}, {"track_running_stats": False}])
def test_batchnorm2d_variants(kwargs, mode):
    ours = nn.BatchNorm2d(3, **kwargs).train(mode == "train")
    compare_with_torch(ours, torch.nn.BatchNorm2d(3, **kwargs), randn(2, 3, 4, 4) + 1)


# ----------------------------------------------------------------------------- dense, shape
@pytest.mark.parametrize("bias", [True, False])
def test_linear(bias):
    compare_with_torch(nn.Linear(7, 4, bias=bias, rng=0), torch.nn.Linear(7, 4, bias=bias),
                       randn(5, 7))


@pytest.mark.parametrize("start_dim,end_dim", [(1, -1), (2, 3), (0, 1), (1, 2)])
def test_flatten(start_dim, end_dim):
    compare_with_torch(nn.Flatten(start_dim, end_dim), torch.nn.Flatten(start_dim, end_dim),
                       randn(2, 3, 4, 2))


def test_identity():
    compare_with_torch(nn.Identity(), torch.nn.Identity(), randn(2, 3, 4))


# ----------------------------------------------------------------------------- activations
def with_zeros(*shape):
    x = randn(*shape)
    x.flat[::5] = 0.0            # the derivative at 0 is a convention: PyTorch's is 0
    return x


@pytest.mark.parametrize("ours,theirs", [
    (nn.ReLU(), torch.nn.ReLU()),
    (nn.ReLU(inplace=True), torch.nn.ReLU()),
    (nn.LeakyReLU(), torch.nn.LeakyReLU()),
    (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    (nn.Tanh(), torch.nn.Tanh()),
    (nn.Sigmoid(), torch.nn.Sigmoid()),
], ids=["relu", "relu-inplace", "leaky", "leaky0.2", "tanh", "sigmoid"])
def test_activation(ours, theirs):
    x = with_zeros(3, 4, 5) * 4
    x[0, 0, :2] = [-40.0, 40.0]               # saturation: no overflow, no NaN
    compare_with_torch(ours, theirs, x)


@pytest.mark.parametrize("dim,shape", [(-1, (3, 5)), (1, (2, 4, 3, 2)), (0, (4, 3))])
def test_softmax(dim, shape):
    x = randn(*shape) * 3
    x.flat[0] = 700.0                        # exp would overflow without the max shift
    compare_with_torch(nn.Softmax(dim), torch.nn.Softmax(dim), x)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_cross_entropy_loss(reduction, scale):
    logits = randn(6, 5) * scale
    labels = np.array([0, 4, 2, 2, 1, 3])
    ours = nn.CrossEntropyLoss(reduction)
    loss = ours(logits, labels)
    assert isinstance(loss, float)
    lt = torch.tensor(logits, requires_grad=True)
    their_loss = torch.nn.CrossEntropyLoss(reduction=reduction)(lt, torch.from_numpy(labels))
    their_loss.backward()
    assert math.isclose(loss, their_loss.item(), rel_tol=1e-12)
    assert_close(ours.backward(), lt.grad, name="dlogits")


# ----------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.8])
def test_dropout_statistics_and_scaling(p, dtype):
    layer = nn.Dropout(p, rng=0)
    x = np.ones((200, 500), dtype=dtype)
    out = layer(x)
    assert out.dtype == dtype
    dropped = out == 0
    assert abs(dropped.mean() - p) < 0.01              # p is the probability of DROPPING
    their_out = torch.nn.functional.dropout(torch.ones(1000, dtype=getattr(torch, dtype.__name__)),
                                            p, training=True).numpy()
    survivor = their_out[their_out != 0][0]
    assert_close(out[~dropped], np.full((~dropped).sum(), survivor),
                 rtol=1e-6 if dtype == np.float32 else 1e-15, name="survivors")
    assert np.isclose(out.mean(), 1.0, atol=0.03)       # the expected value is kept
    dout = randn(200, 500).astype(dtype)
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dx[dropped], 0)
    np.testing.assert_allclose(dx[~dropped], dout[~dropped] / (1 - p), rtol=1e-6)


def test_dropout_eval_is_the_identity_and_extreme_p():
    """p = 1 keeps PyTorch's meaning (all zeros) in the function; the layers refuse it, with
    the reason (the 1/(1-p) scale is undefined)."""
    x = randn(4, 10)
    layer = nn.Dropout(0.5).eval()
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(x * 2), x * 2)
    for channelwise in (False, True):
        x4 = randn(2, 3, 4, 5)
        out, cache = F.dropout_forward(x4, 1.0, np.random.default_rng(0), channelwise)
        np.testing.assert_array_equal(out, torch.nn.functional.dropout(torch.tensor(x4), 1.0))
        np.testing.assert_array_equal(F.dropout_backward(x4, cache), np.zeros_like(x4))
    for cls in (nn.Dropout, nn.Dropout2d):
        with pytest.raises(ValueError, match=r"p=1 drops every unit.*1/\(1-p\).*p < 1"):
            cls(1.0)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x), x)
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


def test_dropout_masks_are_reproducible_from_the_seed():
    x = np.ones((8, 16))
    a, b, c = nn.Dropout(0.5, rng=3)(x), nn.Dropout(0.5, rng=3)(x), nn.Dropout(0.5, rng=4)(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dropout2d_zeroes_whole_channels():
    p = 0.4
    layer = nn.Dropout2d(p, rng=0)
    x = np.ones((16, 64, 5, 5))
    out = layer(x)
    per_channel = out.reshape(16, 64, -1)
    # every feature map is either all zero or all 1 / (1 - p)
    assert np.all(per_channel.min(axis=2) == per_channel.max(axis=2))
    assert set(np.unique(per_channel)) <= {0.0, 1 / (1 - p)}
    assert abs((per_channel[:, :, 0] == 0).mean() - p) < 0.05
    their = torch.nn.Dropout2d(p)(torch.ones(16, 64, 5, 5)).reshape(16, 64, -1)
    assert torch.all(their.amin(dim=2) == their.amax(dim=2))
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx, out)
    np.testing.assert_array_equal(layer.eval()(x), x)
    with pytest.raises(ValueError, match="Dropout2d"):
        nn.Dropout2d(0.5).train()(np.ones((4, 3)))


# ----------------------------------------------------------------------------- init
@pytest.mark.parametrize("make_ours,make_theirs,fan_in", [
    (lambda: nn.Conv2d(64, 128, 3, rng=0), lambda: torch.nn.Conv2d(64, 128, 3), 64 * 9),
    (lambda: nn.Linear(16, 4000, rng=0), lambda: torch.nn.Linear(16, 4000), 16),
    (lambda: nn.Conv2d(2, 4000, 1, rng=0), lambda: torch.nn.Conv2d(2, 4000, 1), 2),
], ids=["conv64-128", "linear16-4000", "conv1x1-2-4000"])
def test_default_init_matches_pytorch_distribution(make_ours, make_theirs, fan_in):
    ours = make_ours()
    torch.manual_seed(0)
    theirs = make_theirs()
    bound = 1 / math.sqrt(fan_in)           # kaiming_uniform(a=sqrt(5)) == U(-bound, bound)
    for name in ("weight", "bias"):
        w = getattr(ours, name).data
        tw = getattr(theirs, name).detach().numpy()
        assert w.dtype == np.float32 and w.shape == tw.shape
        for values in (w, tw):
            assert values.min() >= -bound and values.max() <= bound, name
        if w.size >= 4000:                  # enough draws to come close to both ends
            assert w.max() > 0.99 * bound and w.min() < -0.99 * bound, name
            assert abs(w.std() / (bound / math.sqrt(3)) - 1) < 0.03, name
            assert abs(w.std() / tw.std() - 1) < 0.05, name
            assert abs(w.mean()) < 4 * bound / math.sqrt(3 * w.size), name


def test_init_is_reproducible_from_a_seed():
    nn.init.manual_seed(0)
    a = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(4, 2))
    nn.init.manual_seed(0)
    b = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(4, 2))
    c = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(4, 2))      # the stream goes on
    for key, value in a.state_dict().items():
        np.testing.assert_array_equal(value, b.state_dict()[key])
    assert not np.array_equal(a[0].weight.data, c[0].weight.data)
    np.testing.assert_array_equal(nn.Linear(5, 3, rng=7).weight.data,
                                  nn.Linear(5, 3, rng=7).weight.data)
    np.testing.assert_array_equal(nn.Linear(5, 3, rng=np.random.default_rng(7)).bias.data,
                                  nn.Linear(5, 3, rng=7).bias.data)
    assert not np.array_equal(nn.Linear(5, 3, rng=7).weight.data,
                              nn.Linear(5, 3, rng=8).weight.data)


# ----------------------------------------------------------------------------- optimizers
OPTIMIZER_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.05, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.5, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3}),
    ("AdamW", {"lr": 0.03, "betas": (0.5, 0.9), "weight_decay": 0.0}),
]


@pytest.mark.parametrize("name,kwargs", OPTIMIZER_CASES,
                         ids=[f"{n}-{'-'.join(map(str, k.values()))}" for n, k in OPTIMIZER_CASES])
def test_optimizer_trajectory_matches_torch(name, kwargs):
    rng = np.random.default_rng(0)
    start = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    grads = [[rng.standard_normal(a.shape) for a in start] for _ in range(5)]
    ours = [nn.Parameter(a.copy()) for a in start]
    theirs = [torch.tensor(a, requires_grad=True) for a in start]
    opt = getattr(optim, name)(ours, **kwargs)
    their_opt = getattr(torch.optim, name)(theirs, **kwargs)
    for step, step_grads in enumerate(grads):
        for p, t, g in zip(ours, theirs, step_grads):
            p.grad, t.grad = g.copy(), torch.tensor(g)
        opt.step()
        their_opt.step()
        for i, (p, t) in enumerate(zip(ours, theirs)):
            assert_close(p.data, t, 1e-12, f"step {step + 1}, parameter {i}")
    opt.zero_grad()
    assert all(p.grad is None for p in ours)


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
])
def test_frozen_parameters_get_no_gradient_and_are_skipped(name, kwargs):
    ours = nn.Sequential(nn.Linear(4, 5, rng=0), nn.ReLU(), nn.Linear(5, 3, rng=1)).to(np.float64)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(),
                                 torch.nn.Linear(5, 3)).double()
    theirs.load_state_dict(torch_state(ours))
    ours[0].requires_grad_(False)
    theirs[0].requires_grad_(False)
    frozen = ours[0].weight.data.copy()
    opt = getattr(optim, name)(ours.parameters(), **kwargs)       # frozen ones included
    their_opt = getattr(torch.optim, name)(theirs.parameters(), **kwargs)
    loss_fn, their_loss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    y = np.array([0, 2, 1, 1])
    for step in range(3):
        x = randn(4, 4, seed=step)
        loss = loss_fn(ours(x), y)
        ours.backward(loss_fn.backward())
        their_loss = their_loss_fn(theirs(torch.tensor(x)), torch.from_numpy(y))
        their_loss.backward()
        assert math.isclose(loss, their_loss.item(), rel_tol=1e-12)
        assert ours[0].weight.grad is None and ours[0].bias.grad is None
        assert theirs[0].weight.grad is None
        opt.step()
        their_opt.step()
        opt.zero_grad()
        their_opt.zero_grad()
    np.testing.assert_array_equal(ours[0].weight.data, frozen)
    for key, value in numpy_state(theirs).items():
        assert_close(ours.state_dict()[key], value, 1e-12, key)


# ----------------------------------------------------------------------------- state dicts
def small_net(lib):
    return lib.Sequential(lib.Conv2d(3, 4, 3, padding=1), lib.BatchNorm2d(4), lib.ReLU(),
                          lib.MaxPool2d(2), lib.Flatten(), lib.Linear(4 * 4 * 4, 10))


def test_state_dict_keys_order_and_dtypes_equal_torch():
    ours, theirs = small_net(nn), small_net(torch.nn)
    sd, their_sd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(their_sd)
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                        "1.running_var", "1.num_batches_tracked", "5.weight", "5.bias"]
    for key, value in their_sd.items():
        assert sd[key].shape == tuple(value.shape), key
        assert sd[key].dtype == value.numpy().dtype, key        # float32 and int64
    assert sd["1.num_batches_tracked"].ndim == 0
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_load_state_dict_round_trips_with_torch():
    theirs = small_net(torch.nn).double()
    x = randn(5, 3, 8, 8)
    for _ in range(3):                                   # non-trivial running statistics
        theirs(torch.tensor(x))
    ours = small_net(nn).to(np.float64)
    missing, unexpected = ours.load_state_dict(numpy_state(theirs))
    assert missing == [] and unexpected == []
    for key, value in numpy_state(theirs).items():
        np.testing.assert_array_equal(ours.state_dict()[key], value, err_msg=key)
    assert int(ours.state_dict()["1.num_batches_tracked"]) == 3
    assert_close(ours.eval()(x), theirs.eval()(torch.tensor(x)), name="eval forward")
    # and back: our state dict loads into a fresh PyTorch model, strictly
    fresh = small_net(torch.nn).double()
    fresh.load_state_dict(torch_state(ours))
    for key, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), ours.state_dict()[key], err_msg=key)


# ----------------------------------------------------------------------------- Task 2 network
def task2_network(lib):
    """Table 1 of the seed report, written out layer by layer."""
    return lib.Sequential(
        lib.Conv2d(3, 32, kernel_size=5, stride=1, padding=2), lib.ReLU(),
        lib.MaxPool2d(kernel_size=2, stride=2),
        lib.Conv2d(32, 64, kernel_size=5, stride=1, padding=2), lib.ReLU(),
        lib.MaxPool2d(kernel_size=2, stride=2),
        lib.Conv2d(64, 128, kernel_size=5, stride=1, padding=2), lib.ReLU(),
        lib.MaxPool2d(kernel_size=2, stride=2),
        lib.Flatten(), lib.Linear(128 * 4 * 4, 64), lib.ReLU(), lib.Linear(64, 10))


@pytest.mark.parametrize("dtype,rtol", [(np.float64, RTOL), (np.float32, 1e-4)])
def test_task2_network_matches_torch(dtype, rtol):
    nn.init.manual_seed(2)
    ours = task2_network(nn).to(dtype)
    theirs = task2_network(torch.nn).to(getattr(torch, np.dtype(dtype).name))
    theirs.load_state_dict(torch_state(ours))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3, 32, 32)).astype(dtype)
    y = np.array([3, 0, 9, 3])
    loss_fn = nn.CrossEntropyLoss()
    logits = ours(x)
    assert logits.dtype == dtype and logits.shape == (4, 10)
    loss = loss_fn(logits, y)
    dx = ours.backward(loss_fn.backward())
    xt = torch.tensor(x, requires_grad=True)
    their_logits = theirs(xt)
    their_loss = torch.nn.CrossEntropyLoss()(their_logits, torch.from_numpy(y))
    their_loss.backward()
    assert_close(logits, their_logits, rtol, "logits")
    assert math.isclose(loss, their_loss.item(), rel_tol=rtol)
    assert_close(dx, xt.grad, rtol, "dx")
    their_params = dict(theirs.named_parameters())
    names = [name for name, _ in ours.named_parameters()]
    assert names == list(their_params) and len(names) == 10
    for name, p in ours.named_parameters():
        assert p.grad.dtype == dtype
        assert_close(p.grad, their_params[name].grad, rtol, f"d{name}")


# ----------------------------------------------------------------------------- param groups
GROUP_CASES = [
    ("SGD", {"lr": 0.1, "momentum": 0.9},
     [{}, {"lr": 0.02, "weight_decay": 0.1}, {"momentum": 0.5, "dampening": 0.2}]),
    ("SGD", {"lr": 0.05, "weight_decay": 0.01},
     [{"momentum": 0.9, "nesterov": True}, {"lr": 0.2, "maximize": True}, {}]),
    ("Adam", {"lr": 0.01},
     [{}, {"lr": 0.003, "weight_decay": 0.1}, {"betas": (0.8, 0.99), "eps": 1e-6}]),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.05},
     [{"weight_decay": 0.0}, {"lr": 0.03}, {"betas": (0.5, 0.9), "maximize": True}]),
]


@pytest.mark.parametrize("name,defaults,groups", GROUP_CASES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(GROUP_CASES)])
def test_parameter_groups_match_torch(name, defaults, groups):
    """Per-group hyperparameters over 6 steps in float64, the third group joining with
    add_param_group after 2 steps; then the state dict's layout and a load into a fresh
    optimizer that continues as torch's does."""
    rng = np.random.default_rng(0)
    start = [rng.standard_normal((3, 4)), rng.standard_normal(5), rng.standard_normal((2, 2))]
    grads = [[rng.standard_normal(a.shape) for a in start] for _ in range(6)]
    ours = [nn.Parameter(a.copy()) for a in start]
    theirs = [torch.tensor(a, requires_grad=True) for a in start]
    opt = getattr(optim, name)([{"params": [p], **g} for p, g in zip(ours[:2], groups)],
                               **defaults)
    their_opt = getattr(torch.optim, name)(
        [{"params": [t], **g} for t, g in zip(theirs[:2], groups)], **defaults)

    def steps(opt, their_opt, ours, theirs, which):
        for step in which:
            for p, t, g in zip(ours, theirs, grads[step]):
                p.grad, t.grad = g.copy(), torch.tensor(g)
            opt.step()
            their_opt.step()
            for i, (p, t) in enumerate(zip(ours, theirs)):
                assert_close(p.data, t, 1e-12, f"step {step + 1}, parameter {i}")

    steps(opt, their_opt, ours[:2], theirs[:2], range(2))
    opt.add_param_group({"params": [ours[2]], **groups[2]})
    their_opt.add_param_group({"params": [theirs[2]], **groups[2]})
    steps(opt, their_opt, ours, theirs, range(2, 4))

    sd, their_sd = opt.state_dict(), their_opt.state_dict()
    assert list(sd) == list(their_sd)
    assert sd["state"].keys() == their_sd["state"].keys()
    for i, state in sd["state"].items():
        assert list(state) == list(their_sd["state"][i])
        for key, value in state.items():
            assert_close(value, their_sd["state"][i][key], 1e-12, f"state[{i}][{key!r}]")
    for group, their_group in zip(sd["param_groups"], their_sd["param_groups"]):
        assert group["params"] == their_group["params"]
        assert set(group) <= set(their_group)            # torch adds foreach, fused, ...
        assert {k: group[k] for k in group} == {k: their_group[k] for k in group}

    again = [nn.Parameter(p.data.copy()) for p in ours]
    loaded = getattr(optim, name)([{"params": [p]} for p in again], **defaults)
    loaded.load_state_dict(sd)
    steps(loaded, their_opt, again, theirs, range(4, 6))


# ----------------------------------------------------------------------------- schedulers
SCHEDULER_CASES = [
    ("StepLR", {"step_size": 4, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [3, 7, 7, 20], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}),
]


def two_groups(lib, params):
    return lib.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.02}], lr=0.1,
                   momentum=0.9)


@pytest.mark.parametrize("name,kwargs", SCHEDULER_CASES,
                         ids=[f"{n}-{'-'.join(map(str, k.values()))}"
                              for n, k in SCHEDULER_CASES])
def test_scheduler_lr_sequence_matches_torch(name, kwargs):
    """30 epochs with 2 parameter groups: the same Python float operations, so the same
    learning rates to the last bit; then step(epoch), torch's closed form; the state
    dict holds torch's keys."""
    import warnings

    opt = two_groups(optim, [nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(3))])
    their_opt = two_groups(torch.optim, [torch.zeros(2, requires_grad=True),
                                         torch.zeros(3, requires_grad=True)])
    sched = getattr(optim.lr_scheduler, name)(opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(their_opt, **kwargs)
    assert sched.get_last_lr() == theirs.get_last_lr()
    for epoch in range(30):
        their_opt.step()                                 # torch wants optimizer.step() first
        sched.step()
        theirs.step()
        assert sched.get_last_lr() == theirs.get_last_lr(), f"epoch {epoch + 1}"
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
    assert set(sched.state_dict()) == set(theirs.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)     # step(epoch) is deprecated
        for epoch in (3, 12, 5):
            sched.step(epoch)
            theirs.step(epoch)
            assert sched.get_last_lr() == theirs.get_last_lr(), f"step({epoch})"


PLATEAU_CASES = [
    {},
    {"patience": 2, "factor": 0.5, "cooldown": 1},
    {"mode": "max", "threshold": 0.05, "threshold_mode": "abs", "patience": 1},
    {"patience": 0, "min_lr": [0.01, 0.004], "factor": 0.5},
    {"mode": "max", "patience": 1, "cooldown": 2, "eps": 0.005, "min_lr": 0.0005},
]


@pytest.mark.parametrize("kwargs", PLATEAU_CASES, ids=[str(i) for i in range(len(PLATEAU_CASES))])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    metrics = [1.0, 0.9, 0.9, 0.95, 0.899, 0.85, 0.86, 0.86, 0.87, 0.84, 0.84, 0.83, 0.9,
               0.91, 0.92, 0.7, 0.71, 0.72, 0.73, 0.74, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3, 0.1,
               float("nan"), 0.1, 0.1]
    metrics = metrics + [1 - m for m in metrics]           # also rising for mode="max"
    opt = two_groups(optim, [nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(3))])
    their_opt = two_groups(torch.optim, [torch.zeros(2, requires_grad=True),
                                         torch.zeros(3, requires_grad=True)])
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(their_opt, **kwargs)
    changes = 0
    for i, metric in enumerate(metrics):
        before = sched.get_last_lr()
        sched.step(metric)
        theirs.step(metric)
        assert sched.get_last_lr() == theirs.get_last_lr(), f"evaluation {i + 1}"
        changes += sched.get_last_lr() != before
    assert changes >= 2                                  # the sequence exercises reductions
    ours_sd, their_sd = sched.state_dict(), theirs.state_dict()
    assert set(ours_sd) == set(their_sd)
    assert {k: ours_sd[k] for k in ("best", "num_bad_epochs", "cooldown_counter",
                                    "last_epoch")} == \
        {k: their_sd[k] for k in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch")}
