"""Every layer's hand-written backward pass agrees with central differences (float64).

The checks use small shapes, and inputs away from the places where a layer is not
differentiable: ReLU near 0, and max-pooling windows with two equal values.
"""

import numpy as np
import pytest

from minitorch_cv import functional as F
from minitorch_cv import nn
from minitorch_cv.gradcheck import GradcheckResult, gradcheck, gradcheck_function

TOL = 1e-7          # a correct backward gives ~1e-10; a wrong one 1e-3 or worse


pytestmark = pytest.mark.usefixtures("one_library_thread")


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def away_from_zero(*shape, seed=0, margin=0.1):
    """Random values with |x| >= margin (no ReLU kink within reach of eps)."""
    x = randn(*shape, seed=seed)
    return np.sign(x) * (margin + np.abs(x))


def distinct(*shape, seed=0):
    """Values 0.1 apart in random order: every pooling window has a single maximum."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n) * 0.1 - n * 0.05).reshape(shape)


def assert_gradcheck(module, x, **kwargs):
    result = gradcheck(module, x, **kwargs)
    assert result.passed(TOL), result.report(TOL)
    return result


# ----------------------------------------------------------------------------- conv
CONV_CASES = [
    # (in, out, kernel, stride, padding, bias, input shape)
    (3, 4, 3, 1, 0, True, (2, 3, 6, 5)),
    (3, 4, 3, 1, 1, True, (2, 3, 5, 5)),
    (3, 4, 3, 2, 1, True, (2, 3, 7, 6)),
    (2, 3, 5, 1, 2, True, (2, 2, 5, 5)),
    (2, 3, 3, 2, 2, False, (1, 2, 5, 7)),
    (2, 3, (3, 2), (2, 1), (1, 0), False, (1, 2, 7, 5)),
    (3, 2, (1, 4), 1, (0, 2), True, (2, 3, 4, 6)),
    (3, 2, 4, 3, 1, True, (2, 3, 9, 8)),
    (1, 2, 1, 1, 0, True, (2, 1, 4, 3)),
    (2, 2, 3, 1, "same", True, (1, 2, 5, 4)),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"k{c[2]}s{c[3]}p{c[4]}b{int(c[5])}")
def test_conv2d(case):
    cin, cout, k, s, p, bias, shape = case
    conv = nn.Conv2d(cin, cout, k, stride=s, padding=p, bias=bias, rng=1)
    result = assert_gradcheck(conv, randn(*shape))
    expected = {"input", "weight"} | ({"bias"} if bias else set())
    assert set(result.errors) == expected


def test_conv2d_functional_pair():
    x, w, b = randn(2, 3, 6, 5), randn(4, 3, 3, 2, seed=1), randn(4, seed=2)
    result = gradcheck_function(F.conv2d_forward, F.conv2d_backward, x, w, b, stride=(2, 1),
                                padding=1, names=["x", "w", "b"])
    assert set(result.errors) == {"x", "w", "b"}
    assert result.passed(TOL), result.report(TOL)


# ----------------------------------------------------------------------------- pooling
@pytest.mark.parametrize("kernel,stride,padding,shape", [
    (2, None, 0, (2, 3, 6, 6)),
    (2, None, 0, (1, 2, 7, 5)),          # odd sizes: the last row/column is dropped
    (2, 1, 0, (2, 2, 5, 4)),             # overlapping windows
    (3, 2, 1, (2, 2, 7, 6)),
    ((3, 2), (2, 1), (1, 0), (1, 2, 7, 5)),
])
def test_maxpool2d(kernel, stride, padding, shape):
    assert_gradcheck(nn.MaxPool2d(kernel, stride, padding), distinct(*shape))


@pytest.mark.parametrize("kernel,stride,padding,shape", [
    (2, None, 0, (2, 3, 6, 6)),
    (3, 2, 1, (2, 2, 7, 6)),
    ((2, 3), (1, 2), (1, 1), (1, 2, 5, 7)),
])
def test_avgpool2d(kernel, stride, padding, shape):
    assert_gradcheck(nn.AvgPool2d(kernel, stride, padding), randn(*shape))


@pytest.mark.parametrize("output_size,shape", [
    (1, (2, 3, 4, 5)),                   # global average pooling (ResNet)
    (3, (2, 2, 5, 5)),                   # 5 -> 3: overlapping bins
    ((2, 3), (1, 2, 5, 7)),
    ((4, 4), (1, 2, 6, 6)),
    ((4, 5), (1, 1, 3, 3)),              # output larger than the input
])
def test_adaptive_avgpool2d(output_size, shape):
    assert_gradcheck(nn.AdaptiveAvgPool2d(output_size), randn(*shape))


# ----------------------------------------------------------------------------- batch norm
def randomized_batchnorm(bn, seed=3):
    """Non-trivial gamma, beta and running statistics."""
    rng = np.random.default_rng(seed)
    c = bn.num_features
    if bn.affine:
        bn.weight.data = rng.uniform(0.5, 2.0, c)
        bn.bias.data = rng.standard_normal(c)
    if bn.track_running_stats:
        bn.running_mean = rng.standard_normal(c)
        bn.running_var = rng.uniform(0.5, 2.0, c)
    return bn


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm1d, (5, 3)), (nn.BatchNorm1d, (4, 3, 5)),
                                       (nn.BatchNorm2d, (2, 3, 4, 5))],
                         ids=["1d-NC", "1d-NCL", "2d"])
def test_batchnorm(cls, shape, mode):
    bn = randomized_batchnorm(cls(shape[1]))
    bn.train(mode == "train")
    result = assert_gradcheck(bn, randn(*shape) * 2 + 1)
    assert set(result.errors) == {"input", "weight", "bias"}


@pytest.mark.parametrize("kwargs", [{"affine": False}, {"track_running_stats": False}])
def test_batchnorm2d_variants(kwargs):
    bn = randomized_batchnorm(nn.BatchNorm2d(3, **kwargs))
    assert_gradcheck(bn, randn(2, 3, 3, 4))
    assert_gradcheck(bn.eval(), randn(2, 3, 3, 4))


def test_batchnorm_gradcheck_restores_running_stats():
    bn = randomized_batchnorm(nn.BatchNorm2d(3)).to(np.float32)
    before = bn.state_dict()
    assert_gradcheck(bn, randn(2, 3, 4, 4))
    after = bn.state_dict()
    assert list(after) == list(before)
    for key in before:
        assert after[key].dtype == before[key].dtype, key
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)


# ----------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("cls", [nn.Dropout, nn.Dropout2d])
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5])
def test_dropout_train_with_a_fixed_mask(cls, p):
    layer = cls(p, rng=0)
    x = randn(4, 6, 3, 3)
    assert_gradcheck(layer, x)
    if p > 0:                            # the check really ran with a mask that drops
        assert np.any(layer(x) == 0)


@pytest.mark.parametrize("cls", [nn.Dropout, nn.Dropout2d])
def test_dropout_eval(cls):
    assert_gradcheck(cls(0.5).eval(), randn(2, 3, 4, 4))


# ----------------------------------------------------------------------------- dense and shape
@pytest.mark.parametrize("bias", [True, False])
def test_linear(bias):
    result = assert_gradcheck(nn.Linear(7, 4, bias=bias, rng=0), randn(3, 7))
    assert ("bias" in result.errors) == bias


def test_linear_batch_of_one():
    assert_gradcheck(nn.Linear(5, 3, rng=0), randn(1, 5))


@pytest.mark.parametrize("start_dim,end_dim", [(1, -1), (2, 3), (0, 1)])
def test_flatten(start_dim, end_dim):
    assert_gradcheck(nn.Flatten(start_dim, end_dim), randn(2, 3, 4, 2))


def test_identity():
    assert_gradcheck(nn.Identity(), randn(2, 3, 4))


# ----------------------------------------------------------------------------- activations
def test_relu():
    assert_gradcheck(nn.ReLU(), away_from_zero(2, 3, 4, 4))


@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_leaky_relu(slope):
    assert_gradcheck(nn.LeakyReLU(slope), away_from_zero(2, 3, 4))


def test_tanh():
    assert_gradcheck(nn.Tanh(), randn(3, 5) * 2)


def test_sigmoid():
    assert_gradcheck(nn.Sigmoid(), randn(3, 5) * 3)


@pytest.mark.parametrize("dim,shape", [(-1, (3, 5)), (1, (2, 4, 3, 2)), (0, (4, 3))])
def test_softmax(dim, shape):
    assert_gradcheck(nn.Softmax(dim=dim), randn(*shape) * 2)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_loss_gradient_wrt_logits(reduction):
    logits = randn(5, 4) * 3
    labels = np.array([0, 3, 1, 1, 2])
    result = assert_gradcheck(nn.CrossEntropyLoss(reduction), logits, args=(labels,))
    assert set(result.errors) == {"input"}


# ----------------------------------------------------------------------------- networks
def small_cnn():
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, rng=0), nn.BatchNorm2d(4), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2, padding=1, rng=1), nn.LeakyReLU(0.1),
        nn.Dropout(0.25, rng=2), nn.Flatten(), nn.Linear(6 * 2 * 2, 5, rng=3), nn.Tanh(),
        nn.Sequential(nn.Linear(5, 3, rng=4), nn.Identity()))


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_small_sequential_cnn(mode):
    model = small_cnn().train(mode == "train")
    result = assert_gradcheck(model, randn(2, 3, 8, 8))
    trainable = {name for name, _ in model.named_parameters()}
    assert set(result.errors) == {"input"} | trainable
    assert "10.0.weight" in result.errors


def test_small_cnn_with_loss():
    # gradcheck of loss(model(x)) through a tiny wrapper module
    class WithLoss(nn.Module):
        def __init__(self, model, labels):
            super().__init__()
            self.model, self.labels = model, labels
            self.loss_fn = nn.CrossEntropyLoss()

        def forward(self, x):
            return self.loss_fn(self.model(x), self.labels)

        def backward(self, dloss):
            return self.model.backward(self.loss_fn.backward(dloss))

    assert_gradcheck(WithLoss(small_cnn(), np.array([0, 2])), randn(2, 3, 8, 8))


# ----------------------------------------------------------------------------- gradcheck itself
class WrongLinear(nn.Linear):
    """A typical student bug: the bias gradient averaged over the batch instead of summed."""

    def backward(self, dout):
        x, w, _ = self._take_cache()
        self.weight.accumulate_grad(dout.T @ x)
        self.bias.accumulate_grad(dout.mean(axis=0))
        return dout @ w


def test_gradcheck_finds_a_wrong_backward():
    result = gradcheck(WrongLinear(4, 3, rng=0), randn(5, 4))
    assert result.worst == "bias"
    assert result.max_rel_error == pytest.approx(4 / 6)      # (N - 1) / (N + 1), N = 5
    assert not result.passed(1e-3)
    assert result.errors["input"] < TOL and result.errors["weight"] < TOL
    with pytest.raises(AssertionError, match="bias .* FAILED"):
        gradcheck(WrongLinear(4, 3, rng=0), randn(5, 4), check=True)


def test_gradcheck_sees_a_missing_dropout_mask():
    class ForgetfulDropout(nn.Dropout):
        def backward(self, dout):
            return dout                          # forgot to apply the mask

    assert not gradcheck(ForgetfulDropout(0.5, rng=0), randn(3, 8)).passed(1e-3)


def test_gradcheck_prints_nothing_and_repr_shows_the_worst_error(capsys):
    result = gradcheck(nn.Conv2d(3, 4, 3, rng=0), randn(2, 3, 5, 5))
    assert capsys.readouterr().out == ""
    assert isinstance(result, GradcheckResult)
    text = repr(result)
    assert text.startswith("GradcheckResult(max_rel_error=")
    assert f"worst={result.worst!r}" in text and "'weight'" in text
    assert result.max_rel_error == max(result.errors.values())
    assert gradcheck(nn.Conv2d(3, 4, 3, rng=0), randn(2, 3, 5, 5), check=True).passed()


def test_gradcheck_leaves_the_module_as_it_was():
    conv = nn.Conv2d(2, 3, 3, rng=0)
    dropout = nn.Dropout(0.5, rng=1)
    model = nn.Sequential(conv, dropout, nn.Flatten())
    weight = conv.weight.data
    conv.bias.grad = np.full(3, 7.0, dtype=np.float32)
    rng_before = dropout.rng
    assert_gradcheck(model, randn(1, 2, 4, 4))
    assert conv.weight.data is weight and weight.dtype == np.float32
    assert conv.weight.grad is None
    np.testing.assert_array_equal(conv.bias.grad, 7.0)
    assert dropout.rng is rng_before
    assert model(np.ones((1, 2, 4, 4), np.float32)).dtype == np.float32


class _FailsOnThirdCall(nn.Identity):
    calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls == 3:
            raise RuntimeError("third call")
        return super().forward(x)


def test_gradcheck_that_raises_leaves_the_model_as_found():
    conv, bn = nn.Conv2d(2, 3, 3, padding=1, rng=0), nn.BatchNorm2d(3)
    model = nn.Sequential(conv, bn, nn.ReLU(), _FailsOnThirdCall())
    x = randn(2, 2, 4, 4).astype(np.float32)
    out = model(x)                         # a forward pass whose backward is still to come
    found = {name: np.array(a, copy=True) for name, a in model.state_dict().items()}
    caches = [m.__dict__.get("_cache") for m in model.modules()]
    with pytest.raises(RuntimeError, match="third call"):
        gradcheck(model, x)
    for name, a in model.state_dict().items():
        np.testing.assert_array_equal(a, found[name])
        assert a.dtype == found[name].dtype
    assert all(m.__dict__.get("_cache") is c for m, c in zip(model.modules(), caches))
    assert conv.weight.grad is None and model.training
    model.backward(np.ones_like(out))      # the pending backward still works
    assert conv.weight.grad.dtype == np.float32


class _PlainDropout:
    """A dropout layer that is not a Module: ``__call__``, ``backward`` and an ``rng``."""

    def __init__(self, rng):
        self.rng = rng

    def __call__(self, x):
        self.mask = self.rng.random(x.shape) < 0.5
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


def test_gradcheck_puts_back_the_generator_of_an_object_that_is_not_a_module():
    generator = np.random.default_rng(5)
    layer = _PlainDropout(generator)
    assert_gradcheck(layer, randn(3, 4))
    assert layer.rng is generator


def test_gradcheck_skips_frozen_parameters():
    model = nn.Sequential(nn.Linear(4, 3, rng=0), nn.Tanh(), nn.Linear(3, 2, rng=1))
    model[0].requires_grad_(False)
    result = assert_gradcheck(model, randn(3, 4))
    assert set(result.errors) == {"input", "2.weight", "2.bias"}


def test_gradcheck_max_checks_samples_entries():
    result = gradcheck(nn.Linear(30, 20, rng=0), randn(4, 30), max_checks=10)
    assert all(len(a) == 10 for a in result.analytic.values())
    assert result.passed(TOL)


def test_gradcheck_refuses_a_plain_function():
    with pytest.raises(TypeError, match="gradcheck_function"):
        gradcheck(np.tanh, randn(3))
