"""State left as found: a helper that changes a flag, a mode, a gradient or a generator to
do its work puts it back, also when it raises (Trainer.fit, evaluate, grad_cam,
Optimizer.load_state_dict, init.manual_seed and the Dropout layers)."""

import numpy as np
import pytest

from minitorch_cv import nn, optim
from minitorch_cv.data import BatchIterator
from minitorch_cv.data.transforms import Compose, Normalize, ToFloat
from minitorch_cv.models import resnet as resnet_module
from minitorch_cv.train import Trainer, evaluate


def tiny_model(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, rng=rng), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 2, rng=rng))


def tiny_loaders():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (48, 3, 8, 8)).astype(np.uint8)
    labels = rng.integers(0, 2, 48)
    tf = Compose([ToFloat(), Normalize(0.5, 0.25)])
    train = BatchIterator(images[:32], labels[:32], 16, shuffle=True, drop_last=True,
                          transform=tf, rng=0)
    val = BatchIterator(images[32:], labels[32:], 16, transform=tf)
    return train, val


def flags(model):
    return [(name, m.training, m.needs_input_grad) for name, m in model.named_modules()]


# ----------------------------------------------------------------------------- Trainer
def test_fit_leaves_needs_input_grad_and_mode_as_found():
    model = tiny_model()
    model.eval()
    before = flags(model)
    train, val = tiny_loaders()
    Trainer(model, optim.SGD(model.parameters(), lr=0.01), train, val, epochs=1,
            progress=False, log=lambda *a: None).fit()
    assert flags(model) == before
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    model.train()
    out = model(x)
    dx = model.backward(np.ones_like(out))          # None before the fix
    assert dx is not None and dx.shape == x.shape


def test_fit_puts_flags_back_when_interrupted():
    model = tiny_model()
    before = flags(model)
    train, val = tiny_loaders()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.01), train, val, epochs=1,
                      progress=False, log=lambda *a: None)

    def interrupted(x, y):
        raise KeyboardInterrupt
    trainer.train_step = interrupted
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert flags(model) == before


class FailingLoader:
    """Yields one batch, then raises, like a corrupt image in the middle of a test set."""

    def __iter__(self):
        yield np.zeros((2, 3, 8, 8), np.float32), np.zeros(2, np.int64)
        raise OSError("unreadable batch")


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_evaluate_puts_the_mode_back_when_it_raises(mode):
    model = tiny_model()
    model.train(mode == "train")
    before = flags(model)
    with pytest.raises(OSError, match="unreadable"):
        evaluate(model, FailingLoader())
    assert flags(model) == before


# ----------------------------------------------------------------------------- grad_cam
def small_resnet(seed=0):
    """A one-block-per-stage ResNet (the trunk grad_cam walks through, at a tenth of the
    cost of resnet18)."""
    return resnet_module.ResNet(resnet_module.BasicBlock, (1, 1, 1, 1), num_classes=5, rng=seed)


def model_state(model):
    """Everything grad_cam may touch: (grad array object, a copy of its values,
    requires_grad) per parameter, flags per module, buffers (copies)."""
    params = [(name, p.grad, None if p.grad is None else p.grad.copy(), p.requires_grad)
              for name, p in model.named_parameters()]
    buffers = {name: np.array(b, copy=True) for name, b in model.named_buffers()}
    return params, flags(model), buffers


def assert_same_state(model, before):
    params, module_flags, buffers = before
    now = [(name, p.grad, p.requires_grad) for name, p in model.named_parameters()]
    for (name, grad, values, requires_grad), (_, grad_now, requires_grad_now) in zip(params, now):
        assert grad_now is grad, name                   # the same array object (or None)
        if values is not None:
            np.testing.assert_array_equal(grad_now, values, err_msg=name)  # bit for bit
        assert requires_grad_now == requires_grad, name
    assert flags(model) == module_flags
    for name, b in model.named_buffers():
        np.testing.assert_array_equal(b, buffers[name], err_msg=name)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_grad_cam_leaves_gradients_flags_and_mode_as_found(mode):
    model = small_resnet()
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    out = model(x)                                    # gradients from a real backward pass
    model.backward(np.ones_like(out))
    model.fc.bias.grad = None                         # a mix of arrays and None
    model.layer1.requires_grad_(False)                # and of frozen and trainable
    model.needs_input_grad = False
    model.train(mode == "train")
    before = model_state(model)
    cam, target, logits = resnet_module.grad_cam(model, x)
    assert target.shape == (2,) and logits.shape == (2, 5)
    assert cam.shape == (2, 1, 1) and np.isfinite(cam).all()
    assert_same_state(model, before)


def test_grad_cam_leaves_the_model_as_found_when_it_raises():
    model = small_resnet()
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    out = model(x)
    model.backward(np.ones_like(out))
    model.eval()
    before = model_state(model)
    with pytest.raises((IndexError, ValueError)):
        resnet_module.grad_cam(model, x, target=99)  # no class 99: raises after the forward
    assert_same_state(model, before)


# ----------------------------------------------------------------------------- optimizers
def trained_optimizer(make, steps=2):
    """An optimizer over a tiny Linear after ``steps`` real steps (so it has state)."""
    layer = nn.Linear(3, 2, rng=0)
    opt = make(layer.parameters())
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    for _ in range(steps):
        out = layer(x)
        layer.backward(np.ones_like(out))
        opt.step()
        opt.zero_grad()
    return layer, opt, x


OPTIMIZERS = {
    "sgd-momentum": lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
    "adam": lambda params: optim.Adam(params, lr=0.1),
    "adamw": lambda params: optim.AdamW(params, lr=0.1),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_load_state_dict_copies_the_callers_arrays(name):
    _, source, _ = trained_optimizer(OPTIMIZERS[name])
    sd = source.state_dict()
    kept = [{k: v.copy() for k, v in s.items() if isinstance(v, np.ndarray)}
            for s in sd["state"].values()]
    assert any(kept)
    layer, opt, x = trained_optimizer(OPTIMIZERS[name], steps=0)
    opt.load_state_dict(sd)
    for _ in range(2):                                   # steps after the load
        out = layer(x)
        layer.backward(np.ones_like(out))
        opt.step()
        opt.zero_grad()
    for s, k in zip(sd["state"].values(), kept):
        for key, values in k.items():
            np.testing.assert_array_equal(s[key], values, err_msg=key)  # the caller's dict


def test_load_state_dict_keeps_tuples_casts_dtypes_and_refuses_bad_state():
    _, source, _ = trained_optimizer(OPTIMIZERS["adam"])
    sd = source.state_dict()
    sd["param_groups"][0]["betas"] = list(sd["param_groups"][0]["betas"])  # as from JSON
    sd["state"][0]["exp_avg"] = sd["state"][0]["exp_avg"].astype(np.float64)
    _, opt, _ = trained_optimizer(OPTIMIZERS["adam"], steps=0)
    opt.load_state_dict(sd)
    assert opt.betas == tuple(sd["param_groups"][0]["betas"])
    assert opt.state[0]["exp_avg"].dtype == np.float32   # the parameter's dtype
    before = opt.state_dict()
    bad_shape = source.state_dict()
    bad_shape["state"][0]["exp_avg"] = np.zeros((7, 7), np.float32)
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(bad_shape)
    unknown = source.state_dict()
    unknown["param_groups"][0]["bogus"] = []
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        opt.load_state_dict(unknown)
    after = opt.state_dict()                             # nothing changed by a refusal
    assert after["param_groups"] == before["param_groups"]
    for s, t in zip(after["state"].values(), before["state"].values()):
        np.testing.assert_array_equal(s["exp_avg"], t["exp_avg"])


# ----------------------------------------------------------------------------- seeding
@pytest.fixture
def default_generator_kept():
    """Put the library's default generator back as the test found it."""
    state = nn.init.default_generator().bit_generator.state
    yield
    nn.init.default_generator().bit_generator.state = state


@pytest.mark.parametrize("layer", [nn.Dropout, nn.Dropout2d])
def test_manual_seed_reseeds_dropout_layers_built_before_it(layer, default_generator_kept):
    numpy_global = np.random.get_state()
    dropout = layer(0.5)                                 # built before the seed
    x = np.ones((4, 8, 3, 3), np.float32)
    nn.init.manual_seed(0)
    a = dropout(x)
    nn.init.manual_seed(0)
    b = dropout(x)
    np.testing.assert_array_equal(a, b)
    assert 0 < (a == 0).sum() < a.size
    np.testing.assert_array_equal(a, layer(0.5, rng=0)(x))  # the stream of default_rng(0)
    later = layer(0.5)                                   # built after: the same stream
    nn.init.manual_seed(0)
    np.testing.assert_array_equal(later(x), a)
    after = np.random.get_state()                        # NumPy's global state untouched
    assert after[0] == numpy_global[0] and np.array_equal(after[1], numpy_global[1])
    assert after[2:] == numpy_global[2:]


def test_dropout_with_its_own_generator_ignores_manual_seed(default_generator_kept):
    x = np.ones((4, 16), np.float32)
    own = nn.Dropout(0.5, rng=np.random.default_rng(3))
    seeded = nn.Dropout(0.5, rng=3)
    first, first_seeded = own(x), seeded(x)
    nn.init.manual_seed(0)
    second, second_seeded = own(x), seeded(x)
    replay = nn.Dropout(0.5, rng=3)                      # the stream without manual_seed
    np.testing.assert_array_equal(first, replay(x))
    np.testing.assert_array_equal(second, replay(x))
    np.testing.assert_array_equal(first_seeded, first)
    np.testing.assert_array_equal(second_seeded, second)
    assert nn.init.manual_seed(1) is nn.init.default_generator()
