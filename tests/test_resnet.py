"""ResNet18: architecture, weight loading, hand-written backward, parity with PyTorch.

Three groups of tests:

- no data, no torch: parameter counts, state-dict keys, the weight-loading paths (nested
  checkpoints, ``module.`` prefixes, a replaced head, IMAGENET1K_V1 offline), and the frozen
  prefix that costs no backward pass;
- with torch installed: float64 agreement with a plain-torch copy of torchvision's
  resnet18 (torchvision itself is not needed) -- logits, input and parameter gradients,
  in train and eval mode, and Grad-CAM;
- with ``MINITORCH_CV_DATA`` (the data folder): the real checkpoint resnet18_cifar10.pth
  reproduces PyTorch's logits on all 10,000 test images and on the zebra.
"""

import hashlib
import os
import time
import urllib.error
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from minitorch_cv import io, models, nn
from minitorch_cv.models import resnet as resnet_module
from minitorch_cv.models.resnet import IMAGENET_MEAN, IMAGENET_STD, BasicBlock

DATA = os.environ.get("MINITORCH_CV_DATA")
CKPT_DIR = Path(DATA) / "resnet18_cifar10" if DATA else None
needs_data = pytest.mark.skipif(
    not DATA or not (Path(DATA) / "resnet18_cifar10" / "resnet18_cifar10.pth").exists(),
    reason="MINITORCH_CV_DATA does not hold resnet18_cifar10/ (see docs/resnet.md)")

PREFIX = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3")


def small_model(num_classes=10, seed=0, dtype=np.float64):
    """resnet18 with random BatchNorm statistics and affine parameters, so that eval mode
    and the BN gradients are exercised (fresh BN layers are the identity)."""
    model = models.resnet18(num_classes=num_classes, rng=seed)
    rng = np.random.default_rng(seed + 100)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = rng.uniform(0.5, 1.5, c).astype(np.float32)
            m.bias.data = rng.normal(0, 0.2, c).astype(np.float32)
            m.running_mean = rng.normal(0, 0.2, c).astype(np.float32)
            m.running_var = rng.uniform(0.5, 2.0, c).astype(np.float32)
    return model.to(dtype)


# ----------------------------------------------------------------------------- architecture
def test_parameter_counts():
    def count(m):
        return sum(p.data.size for p in m.parameters())
    assert count(models.resnet18(rng=0)) == 11_689_512
    assert count(models.resnet18(num_classes=10, rng=0)) == 11_181_642


def test_structure_and_key_names():
    model = models.resnet18(num_classes=10, rng=0)
    sd = model.state_dict()
    assert len(sd) == 122
    keys = list(sd)
    assert keys[:6] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                        "bn1.running_var", "bn1.num_batches_tracked"]
    assert keys[-2:] == ["fc.weight", "fc.bias"]
    assert "layer1.0.downsample.0.weight" not in sd
    for stage, channels in (("layer2", 128), ("layer3", 256), ("layer4", 512)):
        assert sd[f"{stage}.0.downsample.0.weight"].shape == (channels, channels // 2, 1, 1)
        assert sd[f"{stage}.0.downsample.1.running_var"].shape == (channels,)
        assert f"{stage}.1.downsample.0.weight" not in sd
    assert sd["bn1.num_batches_tracked"].dtype == np.int64
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))
    assert model.maxpool.kernel_size == (3, 3) and model.maxpool.stride == (2, 2)
    assert model.maxpool.padding == (1, 1)
    assert isinstance(model.layer1[0], BasicBlock) and len(model.layer4) == 2
    assert model.layer2[0].conv1.stride == (2, 2) and model.layer2[1].conv1.stride == (1, 1)


@pytest.mark.parametrize("size,shapes", [
    (64, {"conv1": (2, 64, 32, 32), "maxpool": (2, 64, 16, 16), "layer1": (2, 64, 16, 16),
          "layer2": (2, 128, 8, 8), "layer3": (2, 256, 4, 4), "layer4": (2, 512, 2, 2)}),
    (32, {"layer4": (2, 512, 1, 1)}),
])
def test_stage_shapes(size, shapes):
    model = models.resnet18(num_classes=10, rng=0).eval()
    x = np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32)
    with nn.no_grad():
        logits, feats = model.forward_features(x, names=tuple(shapes))
    assert logits.shape == (2, 10) and logits.dtype == np.float32
    assert {k: v.shape for k, v in feats.items()} == shapes
    with pytest.raises(ValueError, match="unknown stage"):
        model.forward_features(x, names=("layer5",))


def test_inference_reuses_relu_inputs_but_keeps_the_features_asked_for():
    """Under no_grad the ReLUs (inplace=True, as in torchvision) overwrite their inputs;
    forward_features still returns bn1's output as it was, negative values included."""
    model = models.resnet18(num_classes=10, rng=0).eval()
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with nn.no_grad():
        _, feats = model.forward_features(x, names=("bn1", "relu"))
        logits_no_grad = model(x)
    np.testing.assert_array_equal(feats["relu"], np.maximum(feats["bn1"], 0))
    assert (feats["bn1"] < 0).any()
    np.testing.assert_allclose(model(x), logits_no_grad, rtol=1e-6, atol=1e-6)   # grad on: copies


def test_default_init_follows_torchvision():
    model = models.resnet18(rng=0)
    w = model.layer4[0].conv1.weight.data                    # fan_out = 512 * 9
    assert abs(w.std() - np.sqrt(2 / (512 * 9))) < 0.02 * np.sqrt(2 / (512 * 9))
    assert np.all(model.bn1.weight.data == 1) and np.all(model.bn1.bias.data == 0)
    bound = 1 / np.sqrt(512)
    assert np.abs(model.fc.weight.data).max() <= bound
    a, b = models.resnet18(rng=3), models.resnet18(rng=3)
    np.testing.assert_array_equal(a.conv1.weight.data, b.conv1.weight.data)


# ----------------------------------------------------------------------------- weights
def _random_state(num_classes, seed=1):
    return models.resnet18(num_classes=num_classes, rng=seed).state_dict()


def _assert_loaded(model, sd, skip=()):
    own = model.state_dict()
    for k, v in sd.items():
        if k not in skip:
            np.testing.assert_array_equal(own[k], v, err_msg=k)


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "model", "module_prefix",
                                  "nested_module_prefix"])
def test_load_state_dict_variants(wrap):
    sd = _random_state(10)
    prefixed = OrderedDict(("module." + k, v) for k, v in sd.items())
    weights = {"plain": sd, "state_dict": {"state_dict": sd, "epoch": np.array(3)},
               "model": {"model": sd, "optimizer": {}}, "module_prefix": prefixed,
               "nested_module_prefix": {"state_dict": prefixed}}[wrap]
    model = models.resnet18(num_classes=10, weights=weights, rng=0)
    _assert_loaded(model, sd)


@pytest.mark.parametrize("fmt", ["npz", "safetensors"])
def test_load_from_files(tmp_path, fmt):
    sd = _random_state(10)
    path = tmp_path / f"w.{fmt}"
    (io.save_npz if fmt == "npz" else io.save_safetensors)(path, sd)
    model = models.resnet18(num_classes=10, weights=path, rng=0)
    _assert_loaded(model, sd)
    model2 = models.resnet18(num_classes=10, weights=str(path), rng=0)
    _assert_loaded(model2, sd)


def test_load_torch_file(tmp_path):
    torch = pytest.importorskip("torch")
    sd = _random_state(10)
    path = tmp_path / "w.pth"
    torch.save({"model": OrderedDict(("module." + k, torch.from_numpy(np.array(v)))
                                     for k, v in sd.items())}, path)
    _assert_loaded(models.resnet18(num_classes=10, weights=path, rng=0), sd)


def test_head_of_another_size_is_replaced():
    sd = _random_state(1000)
    fresh = models.resnet18(num_classes=10, rng=7)
    with pytest.warns(UserWarning, match="fc has 1000 classes.*fresh"):
        model = models.resnet18(num_classes=10, weights=sd, rng=7)
    _assert_loaded(model, sd, skip=("fc.weight", "fc.bias"))
    np.testing.assert_array_equal(model.fc.weight.data, fresh.fc.weight.data)
    assert model.fc.weight.shape == (10, 512)
    messages = []
    skipped = resnet_module.load_pretrained(models.resnet18(num_classes=10, rng=0), sd,
                                            log=messages.append)
    assert skipped == ["fc.weight", "fc.bias"] and len(messages) == 1


def test_num_classes_from_the_weights(tmp_path):
    sd = _random_state(10)
    io.save_npz(tmp_path / "w.npz", sd)
    model = models.resnet18(num_classes=None, weights=tmp_path / "w.npz")
    assert model.fc.out_features == 10 and model.num_classes == 10
    _assert_loaded(model, sd)
    assert models.resnet18(num_classes=None, rng=0).fc.out_features == 1000


def test_missing_num_batches_tracked_is_accepted():
    sd = OrderedDict((k, v) for k, v in _random_state(10).items()
                     if not k.endswith("num_batches_tracked"))
    model = models.resnet18(num_classes=10, weights=sd, rng=0)
    _assert_loaded(model, sd)
    assert int(model.bn1.num_batches_tracked) == 0


def test_mismatched_weights_are_refused_without_changing_anything():
    sd = _random_state(10)
    sd["layer1.0.conv1.weight"] = np.zeros((64, 64, 5, 5), np.float32)
    model = models.resnet18(num_classes=10, rng=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match="layer1.0.conv1.weight"):
        resnet_module.load_pretrained(model, sd)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    sd = _random_state(10)
    del sd["layer4.1.bn2.bias"]
    with pytest.raises(ValueError, match="layer4.1.bn2.bias"):
        models.resnet18(num_classes=10, weights=sd)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        models.resnet18(weights="/nonexistent/resnet18.pth")


def test_imagenet_weights_offline_explain_how_to_place_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MINITORCH_CV_CACHE", str(tmp_path / "cache"))
    calls = []

    def failing_download(url, dest, *args, **kwargs):
        calls.append((url, Path(dest)))
        raise urllib.error.URLError("no internet")

    monkeypatch.setattr(resnet_module, "download_file", failing_download)
    with pytest.raises(FileNotFoundError) as err:
        models.resnet18(weights="IMAGENET1K_V1")
    message = str(err.value)
    expected = tmp_path / "cache" / "resnet18-f37072fd.pth"
    assert calls == [("https://download.pytorch.org/models/resnet18-f37072fd.pth", expected)]
    assert str(expected) in message
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message
    assert "no internet" in message and "by hand" in message
    assert "MINITORCH_CV_CACHE" in message


def test_imagenet_weights_from_cache_and_download(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MINITORCH_CV_CACHE", str(cache))
    sd = _random_state(1000)
    source = tmp_path / "resnet18-source.pth"
    io.save_npz(source, sd)                          # content decides the format
    digest = hashlib.sha256(source.read_bytes()).hexdigest()

    def fake_download(url, dest, *args, **kwargs):
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(source.read_bytes())
        return dest

    monkeypatch.setattr(resnet_module, "download_file", fake_download)
    # the hash must start with f37072fd: this file's does not
    with pytest.raises(OSError, match="does not start with f37072fd"):
        models.resnet18(weights="IMAGENET1K_V1")
    monkeypatch.setattr(resnet_module, "IMAGENET1K_V1_SHA256_PREFIX", digest[:8])
    model = models.resnet18(weights="IMAGENET1K_V1")     # now in the cache: no download
    _assert_loaded(model, sd)
    monkeypatch.setattr(resnet_module, "download_file", None)
    _assert_loaded(models.resnet18(weights="IMAGENET1K_V1"), sd)


# ----------------------------------------------------------------------------- backward
def test_basic_block_backward_matches_numerical_gradient():
    rng = np.random.default_rng(0)
    down = nn.Sequential(nn.Conv2d(4, 6, 1, stride=2, bias=False, rng=1), nn.BatchNorm2d(6))
    block = BasicBlock(4, 6, stride=2, downsample=down, rng=2).to(np.float64)
    x = rng.standard_normal((2, 4, 6, 6))
    dout = rng.standard_normal((2, 6, 3, 3))
    block(x)
    dx = block.backward(dout)
    eps = 1e-6
    for idx in [(0, 0, 0, 0), (1, 3, 2, 5), (0, 2, 5, 1)]:
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        numeric = (np.sum(block(xp) * dout) - np.sum(block(xm) * dout)) / (2 * eps)
        assert abs(numeric - dx[idx]) < 1e-6 * max(1, abs(numeric))


def test_basic_block_without_input_grad_returns_none_but_fills_parameter_grads():
    rng = np.random.default_rng(0)
    block = BasicBlock(8, 8, rng=0).to(np.float64)
    x = rng.standard_normal((2, 8, 5, 5))
    dout = rng.standard_normal((2, 8, 5, 5))
    block(x)
    block.backward(dout)
    full = {k: p.grad.copy() for k, p in block.named_parameters()}
    block.zero_grad()
    block.needs_input_grad = False
    block(x)
    assert block.backward(dout) is None
    for k, p in block.named_parameters():
        np.testing.assert_allclose(p.grad, full[k], rtol=1e-12, atol=1e-14)


def test_frozen_prefix_costs_no_backward(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 32, 32))
    dout = rng.standard_normal((2, 10))
    model = small_model()
    model.train()
    # reference: a full backward with every parameter trainable
    model(x)
    model.backward(dout)
    reference = {k: p.grad.copy() for k, p in model.named_parameters()}
    model.zero_grad()

    model.requires_grad_(False)
    model.layer4.requires_grad_(True)
    model.fc.requires_grad_(True)
    model.needs_input_grad = False
    called = []
    for name in PREFIX:
        for sub, m in getattr(model, name).named_modules(name):
            def spy(dout, _name=sub):
                called.append(_name)
                raise AssertionError(f"backward of frozen {_name} was called")
            monkeypatch.setattr(m, "backward", spy)
    conv_calls = []
    from minitorch_cv import functional as F
    original = F.conv2d_backward

    def counting(dout, cache, **kwargs):
        conv_calls.append(dout.shape)
        return original(dout, cache, **kwargs)

    monkeypatch.setattr(F, "conv2d_backward", counting)
    model(x)
    assert model.backward(dout) is None
    assert called == []
    assert len(conv_calls) == 5                     # layer4: 2 blocks x 2 convs + downsample
    for k, p in model.named_parameters():
        if k.startswith(("layer4.", "fc.")):
            np.testing.assert_allclose(p.grad, reference[k], rtol=1e-10,
                                       atol=1e-12 * np.abs(reference[k]).max(), err_msg=k)
        else:
            assert p.grad is None, k


def test_gradients_accumulate_and_no_grad_keeps_nothing():
    rng = np.random.default_rng(1)
    model = small_model().eval()
    x = rng.standard_normal((1, 3, 32, 32))
    dout = rng.standard_normal((1, 10))
    model(x)
    model.backward(dout)
    once = model.fc.weight.grad.copy()
    model.backward(dout)
    np.testing.assert_allclose(model.fc.weight.grad, 2 * once)
    with nn.no_grad():
        model(x)
    with pytest.raises(RuntimeError, match="no_grad"):
        model.backward(dout)


# ----------------------------------------------------------------------------- torch parity
def _torch_resnet18(torch, num_classes):
    """torchvision's resnet18, written out in plain torch (torchvision is not needed)."""
    tnn = torch.nn

    class TBasicBlock(tnn.Module):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.relu = tnn.ReLU(inplace=True)
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            return self.relu(out + identity)

    class TResNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.inplanes = 64
            self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = tnn.BatchNorm2d(64)
            self.relu = tnn.ReLU(inplace=True)
            self.maxpool = tnn.MaxPool2d(3, 2, 1)
            self.layer1 = self._make_layer(64, 1)
            self.layer2 = self._make_layer(128, 2)
            self.layer3 = self._make_layer(256, 2)
            self.layer4 = self._make_layer(512, 2)
            self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
            self.fc = tnn.Linear(512, num_classes)

        def _make_layer(self, planes, stride):
            downsample = None
            if stride != 1 or self.inplanes != planes:
                downsample = tnn.Sequential(
                    tnn.Conv2d(self.inplanes, planes, 1, stride, bias=False),
                    tnn.BatchNorm2d(planes))
            layers = [TBasicBlock(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes
            layers.append(TBasicBlock(planes, planes))
            return tnn.Sequential(*layers)

        def features(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            return self.layer4(self.layer3(self.layer2(self.layer1(x))))

        def forward(self, x):
            return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))

    return TResNet()


def _close(ours, theirs, rel=1e-9, what=""):
    theirs = np.asarray(theirs)
    scale = max(np.abs(theirs).max(), 1e-30)
    err = np.abs(np.asarray(ours) - theirs).max() / scale
    assert err <= rel, f"{what}: max error {err:.3g} relative to max |value| {scale:.3g}"


def _torch_copy(torch, model):
    tmodel = _torch_resnet18(torch, model.fc.out_features).double()
    tmodel.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in
                            model.state_dict().items()}, strict=True)
    return tmodel


def test_state_dict_keys_and_order_match_torch():
    torch = pytest.importorskip("torch")
    for classes in (10, 1000):
        ours = list(models.resnet18(num_classes=classes, rng=0).state_dict())
        theirs = list(_torch_resnet18(torch, classes).state_dict())
        assert ours == theirs


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_matches_torch_float64(mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    model = small_model(seed=0)
    tmodel = _torch_copy(torch, model)
    model.train(mode == "train")
    tmodel.train(mode == "train")
    x = rng.standard_normal((2, 3, 32, 32))
    r = rng.standard_normal((2, 10))                # loss = sum(logits * r)

    logits = model(x)
    dx = model.backward(r)
    tx = torch.tensor(x, requires_grad=True)
    tlogits = tmodel(tx)
    (tlogits * torch.from_numpy(r)).sum().backward()

    assert logits.dtype == np.float64
    _close(logits, tlogits.detach().numpy(), what="logits")
    _close(dx, tx.grad.numpy(), what="dL/dx")
    tparams = dict(tmodel.named_parameters())
    for name, p in model.named_parameters():
        _close(p.grad, tparams[name].grad.numpy(), what=f"grad {name}")
    tstate = tmodel.state_dict()                     # running statistics after the step
    for name, v in model.state_dict().items():
        _close(v, tstate[name].numpy(), what=name)


def test_grad_cam_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    model = small_model(seed=3).eval()
    tmodel = _torch_copy(torch, model).eval()
    x = rng.standard_normal((2, 3, 64, 64))
    cam, target, logits = resnet_module.grad_cam(model, x)
    assert cam.shape == (2, 2, 2)

    feats = tmodel.features(torch.from_numpy(x)).detach().requires_grad_(True)
    tlogits = tmodel.fc(torch.flatten(tmodel.avgpool(feats), 1))
    np.testing.assert_array_equal(target, tlogits.argmax(1).numpy())
    tlogits[torch.arange(2), torch.from_numpy(target)].sum().backward()
    w = feats.grad.mean(dim=(2, 3), keepdim=True)
    tcam = torch.relu((w * feats).sum(1)).detach().numpy()
    _close(cam, tcam, what="Grad-CAM")
    _close(logits, tlogits.detach().numpy(), what="logits")
    assert all(p.grad is None for p in model.parameters())   # gradients left untouched
    _, target7, _ = resnet_module.grad_cam(model, x, target=7)
    assert list(target7) == [7, 7]


# ----------------------------------------------------------------------------- real weights
def _cifar_model():
    return models.resnet18(num_classes=10, weights=CKPT_DIR / "resnet18_cifar10.pth").eval()


def _zebra():
    from PIL import Image

    from minitorch_cv.data import Compose, Normalize, ToFloat
    img = np.asarray(Image.open(Path(DATA) / "zebra.jpg").convert("RGB"))
    assert img.shape == (224, 224, 3)
    return Compose([ToFloat(), Normalize(IMAGENET_MEAN, IMAGENET_STD)])(
        img.transpose(2, 0, 1)[None])


@needs_data
def test_real_checkpoint_has_torchvision_keys_in_order():
    sd = io.load_torch(CKPT_DIR / "resnet18_cifar10.pth")
    assert list(sd) == list(models.resnet18(num_classes=10, rng=0).state_dict())


@needs_data
def test_zebra_matches_pytorch():
    from minitorch_cv.data import resize
    ref = np.load(CKPT_DIR / "zebra_reference.npz")
    model = _cifar_model()
    x = _zebra()
    with nn.no_grad():
        logits224, feats = model.forward_features(x, names=("conv1", "layer4"))
        logits64 = model(resize(x, 64))
    assert feats["conv1"].shape == (1, 64, 112, 112)
    np.testing.assert_allclose(feats["conv1"][:, :8], ref["conv1"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(feats["layer4"], ref["layer4"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(logits224, ref["logits224"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(logits64, ref["logits64"], rtol=0, atol=1e-4)


@needs_data
def test_cifar10_test_set_matches_pytorch_logits():
    """All 10,000 test images at 64x64, in batches, without keeping backward state."""
    from minitorch_cv.data import BatchIterator, Compose, Normalize, Resize, ToFloat, load_cifar10
    data = load_cifar10(DATA)
    reference = np.load(CKPT_DIR / "test_logits.npy")
    assert reference.shape == (10000, 10) and len(data.test_images) == 10000
    model = _cifar_model()
    # what examples/task4a.py (run_training) feeds the network
    transform = Compose([ToFloat(), Normalize(IMAGENET_MEAN, IMAGENET_STD), Resize(64)])
    loader = BatchIterator(data.test_images, data.test_labels, 200, transform=transform)
    start = time.perf_counter()
    logits = []
    with nn.no_grad():
        for x, _ in loader:
            assert x.shape[1:] == (3, 64, 64)
            logits.append(model(x))
    logits = np.concatenate(logits)
    seconds = time.perf_counter() - start
    err = np.abs(logits - reference)
    predictions = logits.argmax(axis=1)
    agreement = np.mean(predictions == reference.argmax(axis=1))
    accuracy = np.mean(predictions == data.test_labels)
    print(f"\nResNet18 on the 10,000 CIFAR-10 test images at 64x64: {seconds:.1f} s "
          f"({10000 / seconds:.0f} images/s); max |logit - PyTorch's| {err.max():.2e}, "
          f"argmax agreement {agreement:.4%}, accuracy {accuracy:.2%}")
    assert err.max() <= 1e-3, f"max |logit difference| {err.max():.2e} at {err.argmax()}"
    assert agreement >= 0.999
    assert abs(accuracy - 0.8872) < 1e-3, f"accuracy {accuracy:.4f}"


# ----------------------------------------------------------------------------- examples
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example(name, monkeypatch):
    import importlib
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module(name)


def test_task4a_recipe(tmp_path, monkeypatch):
    task4a = _example("task4a", monkeypatch)
    sd = _random_state(10)
    io.save_npz(tmp_path / "w.npz", sd)
    args = task4a.parser().parse_args(["--weights", str(tmp_path / "w.npz")])
    assert (args.optimizer, args.lr, args.batch_size, args.image_size) == ("adam", 5e-4, 32, 64)
    assert args.early_stop_count == 4
    np.testing.assert_allclose(args.mean, IMAGENET_MEAN)
    np.testing.assert_allclose(args.std, IMAGENET_STD)
    model = task4a.build_model(args.weights, args.trainable, seed=0, log=lambda m: None)
    _assert_loaded(model, sd, skip=("fc.weight", "fc.bias"))
    assert not np.array_equal(model.fc.weight.data, sd["fc.weight"])     # a fresh head
    assert list(model.state_dict()) == list(sd)                          # fc still last
    for name, p in model.named_parameters():
        assert p.requires_grad == name.startswith(("layer4.", "fc.")), name
    monkeypatch.delenv("MINITORCH_CV_DATA", raising=False)
    assert task4a.default_weights() == "IMAGENET1K_V1"


@needs_data
def test_task4b_and_task4c_write_their_figures(tmp_path, monkeypatch, capsys):
    task4b = _example("task4b", monkeypatch)
    task4c = _example("task4c", monkeypatch)
    saved = task4b.main(["--out", str(tmp_path / "4b"), "--filters", "0", "5", "63"])
    assert [p.name for p in saved] == ["figure10_image.png",
                                       "figure11_filters_activations.png", "conv1_filters.png"]
    result = task4c.main(["--out", str(tmp_path / "4c")])
    for name in ("figure12_layer4_activations.png", "figure13_layer4_overlay.png",
                 "gradcam.png", "prediction.json"):
        assert (tmp_path / "4c" / name).stat().st_size > 0
    ref = np.load(CKPT_DIR / "zebra_reference.npz")
    assert result["top3_at_224"][0]["class"] == int(ref["logits224"].argmax())
    assert result["top3_at_64"][0]["class"] == int(ref["logits64"].argmax())
    assert result["gradcam_class"]["class"] == int(ref["logits224"].argmax())
    assert "prediction at 64x64" in capsys.readouterr().out
