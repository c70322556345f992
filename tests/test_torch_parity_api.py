"""PyTorch parity of the API a PyTorch user reaches for: the losses with
their options, Conv2d(padding="same") for odd and even kernels, Sequential slices' state-dict
keys, Module.apply's order. float64 on both sides; forward values and gradients agree to
1e-10 relative (against the largest magnitude of PyTorch's result), as in
tests/test_torch_parity.py."""

import math

import numpy as np
import pytest

from minitorch_cv import nn

torch = pytest.importorskip("torch")

# the same oracle helpers, and its autouse fixture: torch and the library on one thread
from test_torch_parity import RTOL, assert_close, one_thread, randn  # noqa: F401


def compare_loss(ours, theirs, x, target, reduction, torch_target=None):
    """Forward value and dL/dx of our loss and PyTorch's, with a random upstream gradient
    for reduction="none"."""
    loss = ours(x, target)
    xt = torch.tensor(x, requires_grad=True)
    their_loss = theirs(xt, torch.from_numpy(target) if torch_target is None else torch_target)
    if reduction == "none":
        dloss = randn(*np.shape(loss), seed=99)
        their_loss.backward(torch.from_numpy(dloss))
        assert isinstance(loss, np.ndarray)
        assert_close(loss, their_loss, name="losses")
    else:
        dloss = 0.75
        (their_loss * dloss).backward()
        assert isinstance(loss, float)
        if math.isnan(their_loss.item()):
            assert math.isnan(loss)
        else:
            assert math.isclose(loss, their_loss.item(), rel_tol=RTOL, abs_tol=1e-300)
    assert_close(ours.backward(dloss), xt.grad, name="dinput")


# ----------------------------------------------------------------------------- losses
WEIGHT = np.array([0.5, 2.0, 1.0, 0.25, 3.0])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight", [None, WEIGHT], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("ignore_index, labels", [
    (-100, [0, 4, 2, 2, 1, 3]), (-100, [0, 4, -100, 2, -100, 3]), (2, [0, 4, 2, 2, 1, 3])],
    ids=["all-count", "some-ignored", "ignore-a-class"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 1.0])
def test_cross_entropy_options(reduction, weight, ignore_index, labels, label_smoothing):
    labels = np.array(labels)
    ours = nn.CrossEntropyLoss(weight, ignore_index=ignore_index, reduction=reduction,
                               label_smoothing=label_smoothing)
    theirs = torch.nn.CrossEntropyLoss(
        weight=None if weight is None else torch.from_numpy(weight), ignore_index=ignore_index,
        reduction=reduction, label_smoothing=label_smoothing)
    compare_loss(ours, theirs, randn(6, 5, seed=1) * 3, labels, reduction)
    if weight is not None:
        assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_all_targets_ignored(reduction, label_smoothing):
    """PyTorch: NaN for the mean (0/0), 0 for the sum, and a zero gradient."""
    ours = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=label_smoothing)
    theirs = torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=label_smoothing)
    compare_loss(ours, theirs, randn(3, 4, seed=2), np.full(3, -100), reduction)


@pytest.mark.parametrize("ours_cls, their_cls", [(nn.MSELoss, torch.nn.MSELoss),
                                                 (nn.L1Loss, torch.nn.L1Loss)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(ours_cls, their_cls, reduction):
    x, target = randn(2, 3, 4, seed=3), randn(2, 3, 4, seed=4)
    target[0, 0, :2] = x[0, 0, :2]                 # L1's kink: PyTorch's gradient there is 0
    compare_loss(ours_cls(reduction=reduction), their_cls(reduction=reduction), x, target,
                 reduction)


# ----------------------------------------------------------------------------- Conv2d "same"
@pytest.mark.parametrize("kernel", [2, 3, 4, 5, (2, 3), (3, 4), (5, 2), (1, 4)])
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
def test_conv2d_padding_same(kernel):
    ours = nn.Conv2d(2, 3, kernel, padding="same", rng=0).double()
    theirs = torch.nn.Conv2d(2, 3, kernel, padding="same").double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x, dout = randn(2, 2, 7, 6, seed=5), randn(2, 3, 7, 6, seed=6)
    xt = torch.tensor(x, requires_grad=True)
    out_t = theirs(xt)
    out_t.backward(torch.from_numpy(dout))
    assert_close(ours(x), out_t, name="out")
    assert_close(ours.backward(dout), xt.grad, name="dx")
    assert_close(ours.weight.grad, theirs.weight.grad, name="dweight")
    assert_close(ours.bias.grad, theirs.bias.grad, name="dbias")
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    # PyTorch's (left, right, top, bottom) padding, reversed: ours is ((top, bottom), (l, r))
    left, right, top, bottom = theirs._reversed_padding_repeated_twice
    assert ours.padding_sides == ((top, bottom), (left, right))
    assert ours.padding == theirs.padding == "same" and len(k) == 2


def test_conv2d_padding_valid_and_the_refusals():
    ours = nn.Conv2d(2, 3, 3, padding="valid", rng=0).double()
    theirs = torch.nn.Conv2d(2, 3, 3, padding="valid").double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = randn(1, 2, 5, 5, seed=7)
    assert_close(ours(x), theirs(torch.from_numpy(x)), name="out")
    with pytest.raises(ValueError, match="strided"):
        torch.nn.Conv2d(2, 3, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(2, 3, 3, stride=2, padding="same")


# ----------------------------------------------------------------------------- containers
def test_sequential_slice_keys_equal_pytorchs():
    def build(lib):
        return lib.Sequential(lib.Linear(2, 3), lib.ReLU(), lib.Linear(3, 4), lib.Tanh(),
                              lib.Linear(4, 1), lib.BatchNorm1d(1))
    ours, theirs = build(nn), build(torch.nn)
    for index in (slice(1, 3), slice(2, None), slice(-2, None), slice(None, None, 2),
                  slice(None, None, -1), slice(-1, 0, -2), slice(4, 1, -1), slice(5, 9)):
        assert list(ours[index].state_dict()) == list(theirs[index].state_dict()), index
        assert [n for n, _ in ours[index].named_children()] == \
            [n for n, _ in theirs[index].named_children()], index
    for i in (0, 3, -1, -6):
        assert type(ours[i]).__name__ == type(theirs[i]).__name__


def test_apply_visits_modules_in_pytorchs_order():
    def build(lib):
        return lib.Sequential(lib.Linear(2, 3), lib.Sequential(lib.ReLU(), lib.Linear(3, 1)),
                              lib.Flatten())
    orders = []
    for model in (build(nn), build(torch.nn)):
        names = {id(m): name for name, m in model.named_modules()}
        order = []
        assert model.apply(lambda m, order=order, names=names: order.append(names[id(m)])) \
            is model
        orders.append(order)
    assert orders[0] == orders[1] == ["0", "1.0", "1.1", "1", "2", ""]
