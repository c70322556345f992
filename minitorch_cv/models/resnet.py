"""ResNet18 (He et al., 2015), layer for layer and key for key torchvision's, with
hand-written backward; architecture, state-dict keys and weights in docs/resnet.md.

A file saved by ``torch.save(torchvision.models.resnet18().state_dict(), path)`` loads as is:

>>> from minitorch_cv import models
>>> model = models.resnet18(num_classes=10, weights="resnet18_cifar10.pth")
>>> model = model.eval()                # BatchNorm must use its running statistics
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .. import nn
from .._files import download_file
from .._module_state import kept_as_found
from ..checks import check_grad
from ..nn.module import Module, backward_through

__all__ = ["IMAGENET1K_V1_SHA256_PREFIX", "IMAGENET1K_V1_URL", "IMAGENET_MEAN", "IMAGENET_STD",
           "BasicBlock", "ResNet", "grad_cam", "imagenet_weights_path", "load_pretrained",
           "resnet18"]

IMAGENET1K_V1_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
IMAGENET1K_V1_SHA256_PREFIX = "f37072fd"   # torchvision names files by their hash prefix
IMAGENET_MEAN = (0.485, 0.456, 0.406)      # what every torchvision model was trained with
IMAGENET_STD = (0.229, 0.224, 0.225)


def _conv(in_channels, out_channels, kernel_size, stride, padding, rng):
    """A bias-free convolution drawn as torchvision's: ``N(0, 2 / (out_channels * K_h * K_w))``."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                     bias=False, rng=rng)
    std = math.sqrt(2.0 / (out_channels * kernel_size * kernel_size))
    conv.weight.data = rng.normal(0.0, std, conv.weight.shape).astype(np.float32)
    return conv


class BasicBlock(Module):
    """Two 3x3 convolutions with a shortcut: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + s(x))``.

    ``s`` is the identity, or ``downsample`` (1x1 convolution with stride 2 + BatchNorm)
    where the block halves the resolution (``stride=2``, also conv1's).

    Shape
    -----
    (N, inplanes, H, W) -> (N, planes, H_out, W_out), ``H_out = floor((H - 1) / stride) + 1``.

    Backward
    --------
    With ``g = relu2.backward(dout)`` (the gradient of the sum), the main path gets ``g``
    through bn2, conv2, relu, bn1, conv1, and the shortcut gets the same ``g``:
    ``dx = main.backward(g) + (downsample.backward(g) if downsample else g)``.
    """

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, rng=None):
        super().__init__()
        rng = nn.init.get_rng(rng)
        self.conv1 = _conv(inplanes, planes, 3, stride, 1, rng)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv(planes, planes, 3, 1, 1, rng)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample          # None: the shortcut is the identity
        self.relu2 = nn.ReLU(inplace=True)   # torchvision calls relu twice: a cache per call
        self.stride = stride

    def _main_path(self):
        return [self.conv1, self.bn1, self.relu, self.conv2, self.bn2]

    def forward(self, x):
        out = x
        for layer in self._main_path():
            out = layer(out)
        identity = self.downsample(x) if self.downsample is not None else x
        return self.relu2(out + identity)

    def backward(self, dout):
        out = self.relu2._take_cache()               # what forward returned
        dout = check_grad(dout, out.shape, out.dtype, "BasicBlock.backward")
        g = self.relu2.backward(dout)                # dL/d(main + shortcut)
        need_dx = self.needs_input_grad
        dx = backward_through(self._main_path(), g, need_dx)
        shortcut = [] if self.downsample is None else [self.downsample]
        d_short = backward_through(shortcut, g, need_dx)      # g itself for the identity
        return dx + d_short if need_dx else None


class ResNet(Module):
    """torchvision's ResNet for BasicBlocks (ResNet18: ``layers=(2, 2, 2, 2)``).

    ``layers`` counts the blocks per stage; ``rng`` draws torchvision's initialization
    (convolutions ``N(0, 2 / fan_out)``, BatchNorm 1 and 0, ``fc`` like ``nn.Linear``).

    Shape
    -----
    (N, 3, H, W) -> (N, num_classes); layer4's output is (N, 512, H/32, W/32).

    Backward
    --------
    The children's backward passes in reverse order (:func:`backward_through`), skipping
    a frozen prefix when ``needs_input_grad`` is False.
    """

    def __init__(self, block=BasicBlock, layers=(2, 2, 2, 2), num_classes=1000, rng=None):
        super().__init__()
        rng = nn.init.get_rng(rng)
        self.inplanes = 64
        self.conv1 = _conv(3, 64, 7, 2, 3, rng)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0], 1, rng)
        self.layer2 = self._make_layer(block, 128, layers[1], 2, rng)
        self.layer3 = self._make_layer(block, 256, layers[2], 2, rng)
        self.layer4 = self._make_layer(block, 512, layers[3], 2, rng)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten(1)          # torchvision calls torch.flatten(x, 1)
        self.fc = nn.Linear(512 * block.expansion, num_classes, rng=rng)

    def _make_layer(self, block, planes, blocks, stride, rng):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                _conv(self.inplanes, planes * block.expansion, 1, stride, 0, rng),
                nn.BatchNorm2d(planes * block.expansion))
        stage = [block(self.inplanes, planes, stride, downsample, rng=rng)]
        self.inplanes = planes * block.expansion
        stage += [block(self.inplanes, planes, rng=rng) for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    @property
    def num_classes(self):
        return self.fc.out_features

    STAGES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
              "avgpool", "flatten", "fc")

    def named_stages(self):
        """(name, module) for the top-level modules, in the order forward applies them."""
        return [(name, getattr(self, name)) for name in self.STAGES]

    def forward(self, x):
        return self.forward_features(x, names=())[0]

    def forward_features(self, x, names=("layer4",)):
        """Forward pass of ``x`` (N, 3, H, W) that also returns intermediate outputs: the
        logits (N, num_classes) and a dict of the outputs of the top-level modules
        ``names`` (``"conv1"`` is the convolution alone, before ``bn1``)."""
        names = set(names)
        unknown = names - set(self.STAGES)
        if unknown:
            raise ValueError(f"unknown stage(s) {sorted(unknown)}; choose from "
                             f"{list(self.STAGES)}")
        features = {}
        stages = self.named_stages()
        for (name, layer), (_, following) in zip(stages, stages[1:] + [(None, None)]):
            x = layer(x)
            if name in names:
                # bn1's output is overwritten by the in-place ReLU after it under no_grad
                in_place_next = isinstance(following, nn.ReLU) and following.inplace
                features[name] = x.copy() if in_place_next else x
        return x, features

    def backward(self, dout):
        return backward_through([m for _, m in self.named_stages()], dout,
                                self.needs_input_grad)


def imagenet_weights_path(download=True):
    """Path of torchvision's ImageNet ResNet18 file in the cache, downloading it if needed.

    The file is ``resnet18-f37072fd.pth`` in :func:`minitorch_cv.data.default_cache_dir`;
    its SHA-256 must start with ``f37072fd``, as the file name promises.

    Raises
    ------
    FileNotFoundError
        Not in the cache and not downloaded: the message says where to put it.
    OSError
        The file's hash is wrong.
    """
    from ..data import default_cache_dir

    dest = default_cache_dir() / IMAGENET1K_V1_URL.rsplit("/", 1)[1]
    problem = None if dest.exists() else "downloading was not allowed (download=False)"
    if problem and download:
        try:
            download_file(IMAGENET1K_V1_URL, dest, "sha256", IMAGENET1K_V1_SHA256_PREFIX)
            problem = None
        except Exception as err:  # noqa: BLE001 - any failure gets the same advice
            problem = f"the download failed: {type(err).__name__}: {err}"
    if problem is not None:
        raise FileNotFoundError(
            f"ImageNet weights for ResNet18 (IMAGENET1K_V1) are not available: {dest} does "
            f"not exist and {problem}.\nWithout internet here, download {IMAGENET1K_V1_URL} on "
            "a machine that has it (or copy it from ~/.cache/torch/hub/checkpoints/, where "
            f"torchvision keeps it) and place it by hand at\n  {dest}\n(the folder is "
            "$MINITORCH_CV_CACHE if set, else ~/.cache/minitorch_cv), or pass weights=PATH.")
    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    if not digest.startswith(IMAGENET1K_V1_SHA256_PREFIX):
        raise OSError(f"{dest}: SHA-256 {digest[:16]}... does not start with "
                      f"{IMAGENET1K_V1_SHA256_PREFIX} as torchvision's resnet18-f37072fd.pth "
                      "does; the file is damaged or a different one. Delete it and try again.")
    return dest


def _unwrap_state_dict(obj):
    """A plain {key: array} dict, taken out of a checkpoint's nesting, without "module."."""
    for _ in range(3):                                  # e.g. {"model": {"state_dict": ...}}
        obj = next((obj[key] for key in ("state_dict", "model", "model_state_dict")
                    if isinstance(obj, dict) and isinstance(obj.get(key), dict)), obj)
    if not isinstance(obj, dict):
        raise TypeError(f"expected a state dict (a dict of arrays), got {type(obj).__name__}")
    out = OrderedDict((key.removeprefix("module.") if isinstance(key, str) else key, value)
                      for key, value in obj.items())
    bad = [k for k, v in out.items() if not isinstance(v, (np.ndarray, np.generic))]
    if bad:
        raise TypeError("a state dict maps names to arrays; these entries are not arrays: "
                        + ", ".join(map(str, bad[:5])))
    return out


def _read_weights(weights):
    """The state dict ``weights`` names (unwrapped) and where it comes from."""
    if isinstance(weights, dict):
        return _unwrap_state_dict(weights), "the given state dict"
    if isinstance(weights, str) and weights.upper() in ("IMAGENET1K_V1", "DEFAULT"):
        path = imagenet_weights_path()
    else:
        path = Path(weights)
        if not path.exists():
            raise FileNotFoundError(f"weights file {path} does not exist (weights= takes a "
                                    ".pth/.safetensors/.npz path, a state dict or "
                                    "'IMAGENET1K_V1')")
    from .. import io
    return _unwrap_state_dict(io.load_weights(path)), str(path)


def load_pretrained(model, weights, log=None):
    """Load ``weights`` into ``model`` (a :class:`ResNet`), replacing a head of another size.

    Parameters
    ----------
    weights : str, os.PathLike or dict
        A ``.pth`` (read without torch), ``.safetensors`` or ``.npz`` file, a state dict
        (also nested as ``{"state_dict": ...}``, keys prefixed ``"module."``), or
        ``"IMAGENET1K_V1"``.
    log : callable, optional
        Where to report a replaced head (default: ``warnings.warn``).

    Returns
    -------
    list of str : the keys that were not loaded (the replaced head, if any).

    Notes
    -----
    An ``fc`` of another size keeps its fresh initialization; missing
    ``num_batches_tracked`` (older PyTorch) load as 0. Anything else that does not fit is
    refused, listed, and no weight changes (docs/resnet.md).
    """
    sd, source = _read_weights(weights)
    own = model.state_dict()
    sd.update((key, np.array(0, dtype=np.int64)) for key in own     # older PyTorch files
              if key.endswith("num_batches_tracked") and key not in sd)
    skipped = []
    head = [k for k in ("fc.weight", "fc.bias") if k in sd and k in own]
    if head and any(np.shape(sd[k]) != own[k].shape for k in head):
        file_classes = np.shape(sd["fc.weight"])[0] if "fc.weight" in sd else "?"
        sd.update((k, own[k]) for k in head)       # the head loads its own fresh values
        skipped = head
        message = (f"{source}: its fc has {file_classes} classes, the model "
                   f"{model.fc.out_features}; loaded every weight except fc.weight and "
                   "fc.bias, which keep their fresh random initialization (train them).")
        (log or (lambda m: warnings.warn(m, stacklevel=3)))(message)
    try:
        model.load_state_dict(sd)
    except ValueError as err:
        raise ValueError(f"{source} does not fit ResNet18: {err}") from None
    return skipped


def resnet18(num_classes=1000, weights=None, rng=None):
    """ResNet18 as torchvision builds it (11,689,512 parameters with 1000 classes).

    Parameters
    ----------
    num_classes : int or None
        Outputs of the final ``fc`` layer (10 for CIFAR-10). ``None`` takes the number
        from the weights' ``fc`` (1000 without weights).
    weights : None, str, os.PathLike or dict
        ``None``: random initialization (torchvision's scheme). Otherwise what
        :func:`load_pretrained` takes; an ``fc`` of another size is left out, with a warning.

    Returns
    -------
    ResNet
        In training mode: call ``model.eval()`` for inference with pretrained weights.
    """
    if num_classes is None:                     # the weights' fc decides, else 1000
        weights = None if weights is None else _read_weights(weights)[0]
        fc = (weights or {}).get("fc.weight")
        num_classes = 1000 if fc is None else int(np.shape(fc)[0])
    model = ResNet(BasicBlock, (2, 2, 2, 2), num_classes=num_classes, rng=rng)
    if weights is not None:
        load_pretrained(model, weights)
    return model


def grad_cam(model, x, target=None):
    """Grad-CAM (Selvaraju et al., 2017) at ``layer4`` with the library's own backward.

    ``w_k = mean over (i, j) of dy_c / dA_k[i, j]`` for the layer4 activations ``A``,
    ``cam = relu(sum_k w_k A_k)``. The gradient goes back through the head only.

    Parameters
    ----------
    model : ResNet
        Used in its current mode and left exactly as found, also on errors.
    x : ndarray (N, 3, H, W)
    target : int, sequence of int or None
        Class per image; ``None`` takes the predicted class.

    Returns
    -------
    cam : ndarray (N, H/32, W/32), not normalized
    target : ndarray (N,) of int
    logits : ndarray (N, num_classes)
    """
    # The head's backward adds into fresh arrays, not the caller's (put back at the end).
    with kept_as_found(model, gradients=True, buffers=True, caches=True):
        with nn.no_grad():                     # the trunk, up to layer4, keeps nothing
            feats = x
            for name, layer in model.named_stages():
                if name == "avgpool":
                    break
                feats = layer(feats)
        head = nn.Sequential(model.avgpool, model.flatten, model.fc)
        head.requires_grad_(False)             # dL/dfeats is all we need: no dL/dW
        logits = head(feats)                   # the head keeps its caches
        n = len(x)
        target = (logits.argmax(axis=1) if target is None
                  else np.broadcast_to(np.asarray(target, dtype=np.int64), (n,)))
        one_hot = np.zeros_like(logits)
        one_hot[np.arange(n), target] = 1
        dfeats = head.backward(one_hot)
    weights = dfeats.mean(axis=(2, 3), keepdims=True)          # (N, 512, 1, 1)
    cam = np.maximum((weights * feats).sum(axis=1), 0)
    return cam, np.asarray(target), logits
