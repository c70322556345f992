"""The API a PyTorch user reaches for: MSELoss, L1Loss, CrossEntropyLoss's
options, Module.apply / float / double / to("cpu"), Sequential slices that keep their names,
Conv2d(padding="same" | "valid"), Parameter as a NumPy array, and minitorch_cv.gradcheck as
a callable. Gradients are checked numerically in float64; tests/test_torch_parity_api.py
compares the same things with PyTorch."""

import numpy as np
import pytest

import minitorch_cv
from minitorch_cv import functional as F
from minitorch_cv import nn, reference
from minitorch_cv import reference as R
from minitorch_cv.gradcheck import gradcheck

pytestmark = pytest.mark.usefixtures("one_library_thread")

TOL = 1e-7          # gradcheck's normwise error in float64 (a wrong gradient gives >1e-2)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def assert_gradcheck(module, x, args=()):
    result = gradcheck(module, x, args=args)
    assert result.passed(TOL), result.report(TOL)
    return result


LABELS = np.array([0, 4, -100, 2, 1, 3, 2])
WEIGHT = np.array([0.5, 2.0, 1.0, 0.25, 3.0])


# ----------------------------------------------------------------------------- cross-entropy
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight", [None, WEIGHT], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_options_gradcheck(reduction, weight, label_smoothing):
    loss_fn = nn.CrossEntropyLoss(weight, reduction=reduction, label_smoothing=label_smoothing)
    assert_gradcheck(loss_fn, randn(7, 5, seed=1) * 2, args=(LABELS,))


def test_cross_entropy_ignore_index_inside_the_classes():
    loss_fn = nn.CrossEntropyLoss(WEIGHT, ignore_index=2, label_smoothing=0.1)
    logits, labels = randn(6, 5, seed=2), np.array([2, 0, 2, 4, 1, 2])
    assert_gradcheck(loss_fn, logits, args=(labels,))
    loss_fn(logits, labels)
    dz = loss_fn.backward()
    assert not dz[labels == 2].any()                  # ignored samples get no gradient
    # the same loss as the samples that count, alone (the mean divides by their weights)
    keep = labels != 2
    alone = nn.CrossEntropyLoss(WEIGHT, label_smoothing=0.1)(logits[keep], labels[keep])
    assert loss_fn(logits, labels) == pytest.approx(alone, rel=1e-12)


def test_weighted_mean_divides_by_the_weights_of_the_targets():
    logits, labels = randn(4, 3, seed=3), np.array([0, 1, 1, 2])
    w = np.array([1.0, 2.0, 4.0])
    losses = nn.CrossEntropyLoss(reduction="none")(logits, labels)
    weighted = nn.CrossEntropyLoss(w)(logits, labels)
    assert weighted == pytest.approx(np.sum(w[labels] * losses) / np.sum(w[labels]), rel=1e-12)
    assert nn.CrossEntropyLoss(w, reduction="sum")(logits, labels) == pytest.approx(
        np.sum(w[labels] * losses), rel=1e-12)


def test_label_smoothing_is_the_cross_entropy_with_the_smoothed_target():
    logits, labels, e = randn(5, 4, seed=4), np.array([0, 3, 1, 1, 2]), 0.3
    target = (1 - e) * np.eye(4)[labels] + e / 4
    expected = -np.mean(np.sum(target * F.log_softmax(logits, axis=1), axis=1))
    assert nn.CrossEntropyLoss(label_smoothing=e)(logits, labels) == pytest.approx(expected,
                                                                                  rel=1e-12)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_all_targets_ignored_gives_nan_like_pytorch(label_smoothing):
    logits, labels = randn(3, 4, seed=5), np.full(3, -100)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    loss = loss_fn(logits, labels)                    # 0/0: NaN, not a FloatingPointError
    assert isinstance(loss, float) and np.isnan(loss)
    assert np.array_equal(loss_fn.backward(), np.zeros((3, 4)))
    summed = nn.CrossEntropyLoss(reduction="sum", label_smoothing=label_smoothing)
    assert summed(logits, labels) == 0.0
    # the textbook version agrees
    loss_r, cache_r = R.cross_entropy_forward(logits, labels, label_smoothing=label_smoothing)
    assert np.isnan(loss_r) and not R.cross_entropy_backward(cache_r).any()


def test_cross_entropy_default_path_is_the_plain_one():
    """The training hot path: no options (or an ignore_index that no label uses) keeps the
    plain computation and cache, which the exercises' checks and the textbook share."""
    logits, labels = randn(4, 3, seed=6).astype(np.float32), np.array([0, 2, 1, 1])
    loss, cache = F.cross_entropy_forward(logits, labels)
    assert len(cache) == 3
    assert len(F.cross_entropy_forward(logits, labels, ignore_index=5)[1]) == 3
    loss_fn = nn.CrossEntropyLoss()
    assert loss_fn(logits, labels) == loss and loss_fn.backward().dtype == np.float32
    assert np.array_equal(loss_fn.backward(), F.cross_entropy_backward(cache))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_options_textbook_equals_fast(reduction):
    logits = randn(7, 5, seed=7) * 3
    kwargs = {"weight": WEIGHT, "label_smoothing": 0.15}
    loss_f, cache_f = F.cross_entropy_forward(logits, LABELS, reduction, **kwargs)
    loss_r, cache_r = R.cross_entropy_forward(logits, LABELS, reduction, **kwargs)
    np.testing.assert_allclose(loss_r, loss_f, rtol=1e-12)
    dloss = randn(7, seed=8) if reduction == "none" else 0.7
    dz = F.cross_entropy_backward(cache_f, dloss)
    # each backward on its own cache and on the other path's (one cache contract)
    for cache, backward in ((cache_r, R.cross_entropy_backward),
                            (cache_f, R.cross_entropy_backward),
                            (cache_r, F.cross_entropy_backward)):
        np.testing.assert_allclose(backward(cache, dloss), dz, rtol=1e-12, atol=1e-15)
    # the nn layer runs the textbook version inside reference.use()
    loss_fn = nn.CrossEntropyLoss(WEIGHT, reduction=reduction, label_smoothing=0.15)
    with reference.use():
        np.testing.assert_allclose(loss_fn(logits, LABELS), loss_f, rtol=1e-12)
        with pytest.raises(ValueError, match="labels must be in"):
            loss_fn(logits, np.array([0, 1, 2, 3, 4, 5, 0]))


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.CrossEntropyLoss(label_smoothing=1.5), ValueError, "label_smoothing"),
    (lambda: nn.CrossEntropyLoss(label_smoothing="a"), TypeError, "label_smoothing"),
    (lambda: nn.CrossEntropyLoss(reduction="avg"), ValueError, "reduction"),
    (lambda: nn.CrossEntropyLoss(ignore_index=1.5), TypeError, "ignore_index"),
    (lambda: nn.CrossEntropyLoss(np.ones((2, 2))), ValueError, "weight"),
    (lambda: nn.CrossEntropyLoss(np.array(["a", "b"])), TypeError, "weight"),
    (lambda: nn.MSELoss(reduction="avg"), ValueError, "reduction"),
    (lambda: nn.L1Loss("elementwise"), ValueError, "reduction"),
])
def test_loss_constructors_refuse_nonsense(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("kwargs, labels, error, match", [
    ({"weight": np.ones(4)}, np.array([0, 1]), ValueError, r"weight.*\(3,\)"),
    ({}, np.array([0, 3]), ValueError, r"\[0, 2\].*ignore_index"),
    ({"ignore_index": 3}, np.array([0, -100]), ValueError, r"ignore_index=3"),
    ({}, np.array([0.0, 1.0]), TypeError, "class probabilities"),
    ({}, np.array([0, 1, 2]), ValueError, r"\(2,\)"),
])
def test_cross_entropy_refuses_bad_targets(kwargs, labels, error, match):
    with pytest.raises(error, match=match):
        nn.CrossEntropyLoss(**kwargs)(randn(2, 3), labels)


def test_cross_entropy_module_state_and_legacy_signature():
    assert nn.CrossEntropyLoss("sum").reduction == "sum"           # the earlier signature
    assert isinstance(nn.CrossEntropyLoss(), nn.Module)
    assert nn.CrossEntropyLoss().state_dict() == {}
    loss_fn = nn.CrossEntropyLoss([1, 2, 3])                    # integers: float32 weights
    assert list(loss_fn.state_dict()) == ["weight"] and loss_fn.weight.dtype == np.float32
    assert loss_fn.double().weight.dtype == np.float64
    # float32 logits with float64 weights: computed in float32
    assert nn.CrossEntropyLoss(np.ones(3)).to(np.float64)(
        randn(2, 3).astype(np.float32), np.array([0, 1])) > 0
    assert repr(nn.CrossEntropyLoss(reduction="none", label_smoothing=0.1)) == \
        "CrossEntropyLoss(reduction='none', label_smoothing=0.1)"


def test_reduction_none_returns_arrays_and_takes_an_upstream_gradient():
    logits, labels = randn(3, 4, seed=9), np.array([0, 1, 3])
    for loss_fn, args in ((nn.CrossEntropyLoss(reduction="none"), (logits, labels)),
                          (nn.MSELoss(reduction="none"), (logits, randn(3, 4, seed=10))),
                          (nn.L1Loss(reduction="none"), (logits, randn(3, 4, seed=10)))):
        losses = loss_fn(*args)
        assert isinstance(losses, np.ndarray) and losses.shape == np.shape(args[1])[:1] + (
            () if loss_fn.__class__ is nn.CrossEntropyLoss else (4,))
        with pytest.raises(TypeError, match="backward"):
            loss_fn.backward()                                 # a number for "none": refused
        # dloss = ones: the gradient of the summed losses
        summed = type(loss_fn)(reduction="sum")
        summed(*args)
        np.testing.assert_allclose(loss_fn.backward(np.ones(losses.shape)), summed.backward(),
                                   rtol=1e-12)


# ----------------------------------------------------------------------------- MSE and L1
@pytest.mark.parametrize("cls", [nn.MSELoss, nn.L1Loss])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses_gradcheck(cls, reduction):
    x, target = randn(2, 3, 4, seed=11), randn(2, 3, 4, seed=12)
    result = assert_gradcheck(cls(reduction=reduction), x, args=(target,))
    loss = cls(reduction=reduction)(x, target)
    assert isinstance(loss, float) != (reduction == "none")
    assert set(result.errors) == {"input"}


def test_regression_losses_values():
    x, t = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([[0.0, 0.0], [0.5, 1.0]])
    assert nn.MSELoss()(x, t) == (1 + 4 + 0 + 4) / 4
    assert nn.MSELoss(reduction="sum")(x, t) == 9.0
    assert nn.L1Loss()(x, t) == (1 + 2 + 0 + 2) / 4
    loss_fn = nn.L1Loss()
    loss_fn(x, t)
    # sign(0) = 0: no gradient where the prediction is exact (PyTorch's choice)
    assert np.array_equal(loss_fn.backward(), np.array([[1, -1], [0, 1]]) / 4)
    mse = nn.MSELoss()
    mse(x, t)
    assert np.array_equal(mse.backward(2.0), 2 * 2 * (x - t) / 4)
    # float32 in, float32 gradient; a float64 target is converted to the input's dtype
    mse(x.astype(np.float32), t)
    assert mse.backward().dtype == np.float32


@pytest.mark.parametrize("cls", [nn.MSELoss, nn.L1Loss])
def test_regression_losses_refuse_bad_targets_and_non_finite_losses(cls):
    x = randn(2, 3)
    with pytest.raises(ValueError, match="shape"):
        cls()(x, randn(3, 2))
    with pytest.raises(TypeError, match="floating-point target"):
        cls()(x, np.ones((2, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="NumPy array"):
        cls()(x, [[0.0] * 3] * 2)
    with pytest.raises(TypeError, match="floating-point input"):
        cls()(np.ones((2, 3), dtype=np.int64), x)
    with pytest.raises(RuntimeError, match="before a forward"):
        cls().backward()
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(FloatingPointError, match="non-finite"):
        cls()(bad, x)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses_textbook_equals_fast(name, reduction):
    x, t = randn(3, 5, seed=13), randn(3, 5, seed=14)
    t[0, 0] = x[0, 0]                                            # a kink for L1
    loss_f, cache_f = getattr(F, name + "_forward")(x, t, reduction)
    loss_r, cache_r = getattr(R, name + "_forward")(x, t, reduction)
    np.testing.assert_allclose(loss_r, loss_f, rtol=1e-12)
    dloss = randn(3, 5, seed=15) if reduction == "none" else 1.3
    np.testing.assert_allclose(getattr(R, name + "_backward")(cache_r, dloss),
                               getattr(F, name + "_backward")(cache_f, dloss), rtol=1e-12)
    # a wrong upstream gradient: the same error on both paths
    wrong, error = (np.ones(3), ValueError) if reduction == "none" else (np.ones(2), TypeError)
    for module, cache in ((F, cache_f), (R, cache_r)):
        with pytest.raises(error, match=name + "_backward"):
            getattr(module, name + "_backward")(cache, wrong)


# ----------------------------------------------------------------------------- Module
def small_model():
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, rng=0), nn.BatchNorm2d(3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(3 * 4 * 4, 5, rng=1))


def test_apply_visits_children_first_then_self_and_returns_self():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1)))
    seen = []
    assert model.apply(lambda m: seen.append(m)) is model
    assert seen == [model[0], model[1][0], model[1][1], model[1], model]

    def zero_linear(m):
        if isinstance(m, nn.Linear):
            m.weight.data[...] = 0
    model.apply(zero_linear)
    assert not model[0].weight.data.any() and not model[1][1].weight.data.any()


def test_float_double_and_to_cast_parameters_buffers_and_gradients():
    model = small_model()
    model(randn(2, 2, 4, 4).astype(np.float32))
    model.backward(np.ones((2, 5), np.float32))
    assert model.double() is model
    for name, value in model.state_dict().items():
        expected = np.int64 if name.endswith("num_batches_tracked") else np.float64
        assert value.dtype == expected, name
    assert all(p.grad.dtype == np.float64 for p in model.parameters())
    assert model.float() is model and model[0].weight.dtype == np.float32
    assert model[1].running_var.dtype == np.float32
    assert model.to(np.float64)[4].bias.dtype == np.float64


@pytest.mark.parametrize("args, kwargs, dtype", [
    (("cpu",), {}, np.float32), ((), {"device": "cpu"}, np.float32),
    ((np.float64,), {}, np.float64), ((), {"dtype": np.float64}, np.float64),
    (("cpu", np.float64), {}, np.float64), (("cpu",), {"dtype": "float64"}, np.float64),
    (("cpu:0",), {"non_blocking": True}, np.float32), ((), {}, np.float32),
])
def test_to_accepts_pytorchs_forms(args, kwargs, dtype):
    model = small_model()
    assert model.to(*args, **kwargs) is model
    assert model[0].weight.dtype == dtype and model[1].running_mean.dtype == dtype
    assert model.cpu() is model


@pytest.mark.parametrize("device", ["cuda", "mps", "cuda:0", "CUDA"])
def test_to_a_gpu_is_a_clear_error(device):
    model = small_model()
    with pytest.raises(ValueError, match=f"CPU-only library.*no {device!r} device"):
        model.to(device)
    with pytest.raises(ValueError, match="CPU-only"):
        model.to(device=device, dtype=np.float64)
    assert model[0].weight.dtype == np.float32                 # nothing was changed
    with pytest.raises(ValueError, match="CPU-only"):
        model.cuda()


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((np.int32,), {}, TypeError, "floating-point"),
    (("gpu",), {}, TypeError, "device"),
    ((), {"memory_format": 1}, TypeError, "memory_format"),
    (("cpu", np.float64, 1), {}, TypeError, "at most"),
])
def test_to_refuses_what_it_cannot_do(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        small_model().to(*args, **kwargs)


# ----------------------------------------------------------------------------- Sequential
def test_sequential_slices_keep_the_original_names():
    model = small_model()
    assert list(model[1:3].state_dict()) == ["1.weight", "1.bias", "1.running_mean",
                                             "1.running_var", "1.num_batches_tracked"]
    assert [n for n, _ in model[3:].named_children()] == ["3", "4"]
    assert [n for n, _ in model[-2:].named_children()] == ["3", "4"]
    assert [n for n, _ in model[::2].named_children()] == ["0", "2", "4"]
    assert [n for n, _ in model[::-1].named_children()] == ["4", "3", "2", "1", "0"]
    assert len(model[5:]) == 0 and model[-1] is model[4] and model[1:3][0] is model[1]
    with pytest.raises(IndexError, match="out of range"):
        model[5]
    # a slice's weights load back into the whole model by name
    part = model[:1]
    missing, unexpected = model.load_state_dict(part.state_dict(), strict=False)
    assert not unexpected and "4.weight" in missing
    # append names the layer str(len) as PyTorch, but never replaces a layer of a slice
    assert [n for n, _ in model[3:].append(nn.ReLU()).named_children()] == ["3", "4", "2"]
    middle = model[1:3]
    relu = nn.ReLU()
    assert [n for n, _ in middle.append(relu).named_children()] == ["1", "2", "3"]
    assert middle[0] is model[1] and middle[1] is model[2] and middle[2] is relu


def test_sequential_slices_run_forward_and_backward_in_order():
    model = small_model().double().eval()
    x, dout = randn(2, 2, 4, 4, seed=16), randn(2, 5, seed=17)
    whole = model(x)
    dx_whole = model.backward(dout)
    head, tail = model[:2], model[2:]
    assert np.array_equal(tail(head(x)), whole)
    assert np.array_equal(head.backward(tail.backward(dout)), dx_whole)
    assert_gradcheck(model[:3], x)


# ----------------------------------------------------------------------------- Conv2d padding
@pytest.mark.parametrize("kernel", [2, 3, 4, 5, (2, 3), (4, 1), (3, 4)])
def test_conv2d_same_keeps_the_size_and_its_gradient_is_right(kernel):
    conv = nn.Conv2d(2, 3, kernel, padding="same", rng=0)
    x = randn(2, 2, 5, 6, seed=18)
    assert conv.to(np.float64)(x).shape == (2, 3, 5, 6)
    assert conv.padding == "same"
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    assert conv.padding_sides == tuple(((q - 1) // 2, q // 2) for q in k)
    assert_gradcheck(conv, x)


def test_conv2d_same_with_an_even_kernel_pads_more_after():
    """PyTorch pads (k-1)//2 before and the rest after: for k=4, one row on top and two at
    the bottom -- the same as an explicitly padded input with padding 0."""
    conv = nn.Conv2d(1, 2, 4, padding="same", rng=0).double()
    x = randn(1, 1, 5, 5, seed=19)
    explicit = np.pad(x, ((0, 0), (0, 0), (1, 2), (1, 2)))
    out, _ = F.conv2d_forward(explicit, conv.weight.data, conv.bias.data)
    assert np.array_equal(conv(x), out)
    with reference.use():                                       # the textbook path too
        np.testing.assert_allclose(conv(x), out, rtol=1e-12, atol=1e-14)
        dx = conv.backward(np.ones_like(out))
    assert dx.shape == x.shape and dx.flags.c_contiguous


def test_theory_says_what_same_means_for_an_even_kernel():
    from minitorch_cv import theory
    with pytest.raises(ValueError, match=r"padding='same'\) pads 1 before and 2 after"):
        theory.same_padding(4)


def test_conv2d_padding_strings():
    assert nn.Conv2d(3, 8, 3, padding="valid").padding == (0, 0)
    assert nn.Conv2d(3, 8, 3, padding="valid")(np.zeros((1, 3, 5, 5), np.float32)).shape == \
        (1, 8, 3, 3)
    assert "padding='valid'" in repr(nn.Conv2d(3, 8, 3, padding="valid"))
    assert "padding='same'" in repr(nn.Conv2d(3, 8, 2, padding="same"))
    assert "padding=(1, 1)" in repr(nn.Conv2d(3, 8, 3, padding=1))
    with pytest.raises(ValueError, match="not supported for strided convolutions"):
        nn.Conv2d(3, 8, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="'valid' or 'same'"):
        nn.Conv2d(3, 8, 3, padding="full")


# ----------------------------------------------------------------------------- Parameter
def test_parameter_works_with_numpy():
    p = nn.Parameter(np.arange(6.0).reshape(2, 3))
    q = nn.Parameter(np.ones((2, 3)))
    assert np.asarray(p) is p.data and np.shares_memory(np.array(p, copy=False), p.data)
    assert np.asarray(p, dtype=np.float32).dtype == np.float32
    assert not np.shares_memory(np.array(p), p.data)          # np.array copies, as usual
    for result, expected in ((p * 2, p.data * 2), (2 * p, p.data * 2), (p + q, p.data + 1),
                             (p - 1, p.data - 1), (1 - p, 1 - p.data), (-p, -p.data),
                             (p / 2, p.data / 2), (p ** 2, p.data ** 2), (abs(-p), p.data),
                             (p @ np.ones(3), p.data.sum(axis=1)), (np.ones(2) @ p,
                             p.data.sum(axis=0)), (p > 2, p.data > 2), (p <= q, p.data <= 1),
                             (np.exp(p), np.exp(p.data)), (p.data + p, 2 * p.data),
                             (p[1], p.data[1]), (p[:, 0], p.data[:, 0])):
        assert type(result) is np.ndarray and np.array_equal(result, expected)
    assert len(p) == 2 and p.shape == (2, 3) and p.dtype == np.float64
    assert p.ndim == 2 and p.size == 6 and list(p)[1].tolist() == [3.0, 4.0, 5.0]
    assert np.array_equal(p, p.data) and np.allclose(q, 1.0)


def test_parameter_in_place_operators_change_the_data_and_keep_the_parameter():
    """``p -= lr * p.grad`` (a hand-written SGD step) must not rebind ``p`` to a plain array
    and leave the model's parameter unchanged."""
    layer = nn.Linear(3, 2, rng=0)
    before = layer.weight.data.copy()
    for p in layer.parameters():
        p.grad = np.ones_like(p.data)
        p -= 0.5 * p.grad
        assert isinstance(p, nn.Parameter)
    assert np.array_equal(layer.weight.data, before - 0.5)
    p = layer.bias
    data = p.data
    p += 1.0
    p *= 2.0
    p /= 4.0
    assert p is layer.bias and p.data is data and p.dtype == np.float32


def test_parameter_identity_is_kept_in_containers():
    """No elementwise ``==``: ``p in params`` and sets, dicts and optimizers still compare
    parameters by identity, also two with equal values (a bool(array) error otherwise)."""
    a, b = nn.Parameter(np.zeros(3)), nn.Parameter(np.zeros(3))
    assert a in [b, a] and b not in [a] and len({a, b}) == 2 and {a: 1}[a] == 1
    assert (a == b) is False and (a != b) is True and [a, b].index(b) == 1
    assert bool(nn.Parameter(np.zeros(0))) and bool(nn.Parameter(np.float32(0)))
    model = small_model()
    params = model.parameters()
    assert all(params.count(p) == 1 for p in params)


# ----------------------------------------------------------------------------- gradcheck
def test_gradcheck_is_callable_as_the_package_attribute():
    layer, x = nn.Linear(4, 3, rng=0), randn(2, 4, seed=20)
    result = minitorch_cv.gradcheck(layer, x)
    assert result.passed(TOL) and result.errors == gradcheck(layer, x).errors
    from minitorch_cv import gradcheck as imported
    assert imported is minitorch_cv.gradcheck and imported(layer, x).passed(TOL)
    # the module's other names are still there
    assert minitorch_cv.gradcheck.gradcheck is gradcheck
    assert callable(minitorch_cv.gradcheck.gradcheck_function)
    assert minitorch_cv.gradcheck.relative_error(np.ones(2), np.ones(2)) == 0.0
    with pytest.raises(AssertionError, match="FAILED"):
        minitorch_cv.gradcheck(nn.Linear(4, 3, rng=0), x, tol=0.0, check=True)
