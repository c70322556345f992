"""Module mechanics: registration, state dicts, gradient accumulation, no_grad, dtype, modes,
clear errors for bad input, and frozen layers that cost no backward pass."""

import numpy as np
import pytest

from minitorch_cv import nn, optim

pytestmark = pytest.mark.usefixtures("one_library_thread")


def randn(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


class Block(nn.Module):
    """Parameters, a buffer and children assigned in a mixed order."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, rng=0)
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.register_buffer("count", np.zeros((), dtype=np.float32))
        self.bn = nn.BatchNorm2d(3)
        self.shift = nn.Parameter(np.zeros(3, dtype=np.float32))


# ----------------------------------------------------------------------------- registration
def test_registration_and_state_dict_order():
    block = Block()
    # own parameters, then own buffers, then each child's entries (PyTorch's order)
    assert list(block.state_dict()) == [
        "scale", "shift", "count", "conv.weight", "conv.bias", "bn.weight", "bn.bias",
        "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert [n for n, _ in block.named_parameters()] == [
        "scale", "shift", "conv.weight", "conv.bias", "bn.weight", "bn.bias"]
    assert [n for n, _ in block.named_buffers()] == [
        "count", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert [n for n, _ in block.named_children()] == ["conv", "bn"]
    assert [n for n, _ in block.named_modules()] == ["", "conv", "bn"]
    assert len(block.parameters()) == 6


def test_reassignment_keeps_the_place_in_the_state_dict():
    block = Block()
    order = list(block.state_dict())
    block.scale = nn.Parameter(np.full(3, 2.0, dtype=np.float32))     # replace a parameter
    block.count = block.count + 1                                      # update a buffer
    block.conv = nn.Conv2d(2, 3, 3, rng=1)                             # replace a child
    assert list(block.state_dict()) == order
    assert block.state_dict()["scale"][0] == 2.0 and block.state_dict()["count"] == 1
    bn = nn.BatchNorm2d(3)
    bn(randn(2, 3, 4, 4))                      # num_batches_tracked is reassigned in forward
    assert list(bn.state_dict())[-1] == "num_batches_tracked"


def test_assigning_a_parameter_where_there_was_none():
    conv = nn.Conv2d(2, 3, 3, bias=False)
    assert conv.bias is None and "bias" not in conv.state_dict()
    conv.bias = nn.Parameter(np.zeros(3, dtype=np.float32))
    assert isinstance(conv.bias, nn.Parameter)
    assert list(conv.state_dict()) == ["weight", "bias"]


def test_assigning_an_array_over_a_parameter_is_refused():
    conv = nn.Conv2d(2, 3, 3)
    with pytest.raises(TypeError, match=r"weight\.data"):
        conv.weight = np.zeros((3, 2, 3, 3))      # would silently unregister the weight
    assert isinstance(conv.weight, nn.Parameter)
    conv.weight.data = np.zeros((3, 2, 3, 3), dtype=np.float32)       # the right way
    assert conv.weight.data.sum() == 0


def test_forgetting_super_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.weight = nn.Parameter(np.ones(2))

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_sequential_container():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    model.append(nn.Linear(3, 2))
    assert len(model) == 3 and isinstance(model[2], nn.Linear)
    assert isinstance(model[-1], nn.Linear) and [type(m) for m in model][1] is nn.ReLU
    head = model[1:]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[1] is model[2]
    assert list(model.state_dict())[-1] == "2.bias"
    assert "(0): Linear" in repr(model)
    with pytest.raises(TypeError, match="item 1"):
        nn.Sequential(nn.ReLU(), lambda x: x)


# ----------------------------------------------------------------------------- gradients
def test_gradients_accumulate_until_zero_grad():
    model = nn.Sequential(nn.Conv2d(2, 3, 3, rng=0), nn.ReLU(), nn.Flatten(),
                          nn.Linear(3 * 3 * 3, 4, rng=1))
    x, dout = randn(2, 2, 5, 5), randn(2, 4, seed=1)
    model(x)
    dx_once = model.backward(dout)
    once = {n: p.grad.copy() for n, p in model.named_parameters()}
    model(x)
    dx_twice = model.backward(dout)
    np.testing.assert_allclose(dx_twice, dx_once, rtol=1e-6)         # dx does not add up
    for name, p in model.named_parameters():                         # parameter grads do
        np.testing.assert_allclose(p.grad, 2 * once[name], rtol=1e-5, atol=1e-7,
                                   err_msg=name)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model(x)
    model.backward(dout)
    optim.SGD(model.parameters(), lr=0.1).zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_backward_twice_without_forward_adds_twice():
    linear = nn.Linear(3, 2, rng=0)
    linear(randn(4, 3))
    linear.backward(np.ones((4, 2), np.float32))
    first = linear.weight.grad.copy()
    linear.backward(np.ones((4, 2), np.float32))
    np.testing.assert_allclose(linear.weight.grad, 2 * first)


def test_needs_input_grad_false_on_a_single_layer():
    conv = nn.Conv2d(2, 3, 3, rng=0)
    conv(randn(1, 2, 4, 4))
    conv.needs_input_grad = False
    assert conv.backward(randn(1, 3, 2, 2)) is None
    assert conv.weight.grad is not None and conv.bias.grad is not None


# ----------------------------------------------------------------------------- no_grad
LAYERS_WITH_CACHE = [
    lambda: nn.Conv2d(2, 2, 3), lambda: nn.Linear(4, 2), lambda: nn.ReLU(),
    lambda: nn.LeakyReLU(), lambda: nn.Tanh(), lambda: nn.Sigmoid(), lambda: nn.Softmax(1),
    lambda: nn.MaxPool2d(2), lambda: nn.AvgPool2d(2), lambda: nn.AdaptiveAvgPool2d(1),
    lambda: nn.BatchNorm2d(2), lambda: nn.Flatten(), lambda: nn.Dropout(0.5),
    lambda: nn.Dropout(0.5).eval(), lambda: nn.Dropout2d(0.5),
]


@pytest.mark.parametrize("make", LAYERS_WITH_CACHE, ids=lambda f: repr(f()))
def test_no_grad_keeps_no_cache_and_backward_says_why(make):
    layer = make()
    x = randn(2, 4) if isinstance(layer, nn.Linear) else randn(2, 2, 4, 4)
    with nn.no_grad():
        out = layer(x)
    assert layer.__dict__.get("_cache") is None
    with pytest.raises(RuntimeError, match="no_grad"):
        layer.backward(np.ones_like(out))
    layer(x)                                  # outside the block backward works again
    assert layer.backward(np.ones_like(out)).shape == x.shape


def test_no_grad_in_a_network_and_the_loss():
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 3))
    loss_fn = nn.CrossEntropyLoss()
    with nn.no_grad():
        assert not nn.is_grad_enabled()
        loss_fn(model(randn(2, 2, 4, 4)), np.array([0, 2]))
    assert nn.is_grad_enabled()
    with pytest.raises(RuntimeError, match="no_grad"):
        loss_fn.backward()
    with pytest.raises(RuntimeError, match="no_grad"):
        model.backward(np.ones((2, 3), np.float32))


def test_no_grad_restores_the_state_after_an_error_and_nests():
    with pytest.raises(ValueError), nn.no_grad():
        raise ValueError("boom")
    assert nn.is_grad_enabled()
    with nn.no_grad():
        with nn.no_grad():
            pass
        assert not nn.is_grad_enabled()
    assert nn.is_grad_enabled()


# ----------------------------------------------------------------------------- dtype, modes
def test_to_float64_casts_parameters_buffers_and_grads():
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten(),
                          nn.Linear(12, 2))
    x = randn(2, 2, 4, 4)
    model.backward(np.ones(model(x).shape, np.float32))
    assert model.to(np.float64) is model
    for name, p in model.named_parameters():
        assert p.data.dtype == np.float64 and p.grad.dtype == np.float64, name
    sd = model.state_dict()
    assert sd["1.running_mean"].dtype == np.float64 and sd["1.running_var"].dtype == np.float64
    assert sd["1.num_batches_tracked"].dtype == np.int64
    out = model(x.astype(np.float64))
    assert out.dtype == np.float64
    assert model.backward(np.ones_like(out)).dtype == np.float64
    model.to(np.float32)
    assert model(x).dtype == np.float32


def test_float32_stays_float32():
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dropout(0.2), nn.Linear(3, 2), nn.Sigmoid())
    out = model(randn(2, 2, 4, 4))
    assert out.dtype == np.float32
    assert model.backward(np.ones_like(out)).dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


def test_train_and_eval_reach_every_module():
    inner = nn.Sequential(nn.BatchNorm1d(4), nn.Dropout(0.5))
    model = nn.Sequential(nn.Linear(4, 4), inner, nn.Linear(4, 2))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    x = randn(3, 4)
    np.testing.assert_array_equal(model(x), model(x))     # eval: deterministic
    model.train()
    assert all(m.training for m in model.modules())
    inner.eval()
    assert model.training and not inner[0].training and not inner[1].training


# ----------------------------------------------------------------------------- load_state_dict
def test_load_state_dict_reports_every_problem_at_once_and_changes_nothing():
    model = nn.Sequential(nn.Linear(4, 3, rng=0), nn.BatchNorm1d(3))
    before = model.state_dict()
    sd = nn.Sequential(nn.Linear(4, 3, rng=1), nn.BatchNorm1d(3)).state_dict()
    del sd["0.bias"]                                   # missing
    sd["2.weight"] = np.zeros(3)                       # unexpected
    sd["1.weight"] = np.zeros(5)                       # wrong shape
    with pytest.raises(ValueError) as info:
        model.load_state_dict(sd)
    message = str(info.value)
    assert "0.bias" in message and "2.weight" in message and "1.weight" in message
    assert "(3,)" in message and "(5,)" in message
    assert message.count("\n") >= 3                    # one line per kind of problem
    for key, value in model.state_dict().items():      # not even 0.weight was loaded
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_load_state_dict_strict_false():
    model = nn.Sequential(nn.Linear(4, 3, rng=0), nn.BatchNorm1d(3))
    source = nn.Sequential(nn.Linear(4, 3, rng=1), nn.BatchNorm1d(3))
    sd = source.state_dict()
    del sd["0.bias"]
    sd["head.weight"] = np.zeros(3)
    old_bias = model[0].bias.data.copy()
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert missing == ["0.bias"] and unexpected == ["head.weight"]
    np.testing.assert_array_equal(model[0].weight.data, source[0].weight.data)
    np.testing.assert_array_equal(model[0].bias.data, old_bias)
    sd["0.weight"] = np.zeros((4, 3))                  # shapes are checked even then
    with pytest.raises(ValueError, match="0.weight"):
        model.load_state_dict(sd, strict=False)


def test_load_state_dict_copies_and_keeps_the_module_dtype():
    linear = nn.Linear(2, 2)
    sd = {"weight": np.ones((2, 2), np.float64), "bias": np.zeros(2, np.float64)}
    linear.load_state_dict(sd)
    assert linear.weight.data.dtype == np.float32
    sd["weight"][0, 0] = 5.0
    assert linear.weight.data[0, 0] == 1.0


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("layer,shape,parts", [
    (nn.Conv2d(3, 8, 3), (3, 8, 8), ["Conv2d", "(N, 3, H, W)", "(3, 8, 8)"]),
    (nn.Conv2d(3, 8, 3), (2, 4, 8, 8), ["Conv2d", "3 channels", "(2, 4, 8, 8)"]),
    (nn.Linear(4, 2), (2, 5), ["Linear", "(N, 4)", "(2, 5)"]),
    (nn.Linear(4, 2), (2, 2, 4), ["Linear", "(N, 4)", "(2, 2, 4)"]),
    (nn.BatchNorm2d(4), (2, 4, 5), ["BatchNorm2d", "(N, C, H, W)", "(2, 4, 5)"]),
    (nn.BatchNorm2d(4), (2, 3, 5, 5), ["BatchNorm2d", "4 channels", "(2, 3, 5, 5)"]),
    (nn.BatchNorm1d(3), (2, 3, 4, 5), ["BatchNorm1d", "(N, C)", "(2, 3, 4, 5)"]),
    (nn.BatchNorm1d(3), (2, 4), ["BatchNorm1d", "3 channels", "(2, 4)"]),
    (nn.MaxPool2d(2), (4, 4), ["MaxPool2d", "(N, C, H, W)", "(4, 4)"]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_wrong_shapes_name_the_layer_and_both_shapes(layer, shape, parts):
    with pytest.raises(ValueError) as info:
        layer(np.zeros(shape, np.float32))
    for part in parts:
        assert part in str(info.value), (part, str(info.value))


def test_integer_images_are_refused():
    with pytest.raises(TypeError, match="floating"):
        nn.Conv2d(3, 4, 3)(np.zeros((1, 3, 8, 8), np.uint8))


@pytest.mark.parametrize("layer,shape", [
    (nn.Conv2d(3, 4, 5), (1, 3, 3, 3)),
    (nn.Conv2d(3, 4, (1, 5), padding=1), (1, 3, 4, 2)),
    (nn.MaxPool2d(3), (1, 1, 2, 2)),
    (nn.AvgPool2d(4, padding=1), (1, 1, 1, 1)),
])
def test_input_smaller_than_the_kernel(layer, shape):
    with pytest.raises(ValueError, match="smaller than"):
        layer(np.zeros(shape, np.float32))


def test_batchnorm_needs_more_than_one_value_per_channel_in_training():
    with pytest.raises(ValueError, match="more than 1 value"):
        nn.BatchNorm1d(3)(np.zeros((1, 3), np.float32))
    nn.BatchNorm1d(3).eval()(np.zeros((1, 3), np.float32))      # fine in eval mode


@pytest.mark.parametrize("labels,error,match", [
    (np.array([0, 4]), ValueError, r"\[0, 3\]"),
    (np.array([-1, 0]), ValueError, r"\[0, 3\]"),
    (np.array([0.0, 1.0]), TypeError, "integer"),
    (np.array([[0], [1]]), ValueError, r"\(2,\)"),
    (np.array([0, 1, 2]), ValueError, r"\(2,\)"),
])
def test_bad_labels(labels, error, match):
    with pytest.raises(error, match=match):
        nn.CrossEntropyLoss()(np.zeros((2, 4), np.float32), labels)


def test_bad_logits_shape():
    with pytest.raises(ValueError, match="num_classes"):
        nn.CrossEntropyLoss()(np.zeros((2, 4, 1), np.float32), np.array([0, 1]))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")     # inf - inf
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_loss_raises(bad):
    logits = np.zeros((2, 3), np.float32)
    logits[1, 2] = bad
    with pytest.raises(FloatingPointError, match="non-finite"):
        nn.CrossEntropyLoss()(logits, np.array([0, 1]))


# ----------------------------------------------------------------------------- frozen prefix
def frozen_prefix_model():
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, rng=0), nn.ReLU(),
                          nn.Conv2d(3, 4, 3, padding=1, rng=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 3, rng=2))
    model[0].requires_grad_(False)
    return model


def spy_on_backward(monkeypatch, layer):
    calls = []
    original = layer.backward

    def spy(dout):
        calls.append(dout.shape)
        return original(dout)

    monkeypatch.setattr(layer, "backward", spy)
    return calls


def test_a_frozen_prefix_costs_no_backward_pass(monkeypatch):
    model = frozen_prefix_model()
    frozen_calls = spy_on_backward(monkeypatch, model[0])
    relu_calls = spy_on_backward(monkeypatch, model[1])
    model.needs_input_grad = False
    x = randn(2, 2, 4, 4)
    model(x)
    assert model.backward(randn(2, 3, seed=1)) is None
    assert frozen_calls == [] and relu_calls == []
    assert model[0].weight.grad is None and model[0].bias.grad is None
    assert model[2].weight.grad is not None and model[5].weight.grad is not None


def test_a_frozen_prefix_still_gives_dx_when_asked(monkeypatch):
    model = frozen_prefix_model()
    reference = frozen_prefix_model().requires_grad_(True)      # same weights, all trainable
    x, dout = randn(2, 2, 4, 4), randn(2, 3, seed=1)
    model.needs_input_grad = False
    model(x)
    model.backward(dout)                                         # first without dx ...
    frozen_calls = spy_on_backward(monkeypatch, model[0])
    model.needs_input_grad = True                                # ... then with it
    model(x)
    dx = model.backward(dout)
    reference(x)
    np.testing.assert_allclose(dx, reference.backward(dout), rtol=1e-6)
    assert len(frozen_calls) == 1
    assert model[0].weight.grad is None and model[0].bias.grad is None
    assert reference[0].weight.grad is not None


def test_frozen_parameters_are_skipped_by_the_optimizer():
    model = frozen_prefix_model()
    frozen = model[0].weight.data.copy()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    for _ in range(2):
        model(randn(2, 2, 4, 4))
        model.backward(randn(2, 3, seed=1))
        opt.step()
        opt.zero_grad()
    np.testing.assert_array_equal(model[0].weight.data, frozen)


def test_inplace_relu_overwrites_its_input_only_under_no_grad():
    relu = nn.ReLU(inplace=True)
    assert repr(relu) == "ReLU(inplace=True)" and repr(nn.ReLU()) == "ReLU()"
    x = randn(2, 3, 4, 4)
    kept = x.copy()
    out = relu(x)                                   # gradients on: a new array
    np.testing.assert_array_equal(x, kept)
    np.testing.assert_array_equal(out, np.maximum(kept, 0))
    np.testing.assert_array_equal(relu.backward(np.ones_like(out)), (kept > 0).astype(np.float32))
    with nn.no_grad():
        out = relu(x)
    assert out is x
    np.testing.assert_array_equal(x, np.maximum(kept, 0))
