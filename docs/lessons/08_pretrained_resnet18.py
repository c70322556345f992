# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 8: A pretrained ResNet18
#
# **After this lesson** you can load PyTorch weights without PyTorch, explain why a weights
# loader must refuse to run code, build ResNet18 and check it against PyTorch's own
# outputs, train a new head on frozen features (transfer learning), and look inside the
# network: first-layer filters, activations and Grad-CAM. This is **Task 4a-4c** of the
# assignment.
#
# **It needs** CIFAR-10, the ResNet18 checkpoint and the zebra photo: set
# `MINITORCH_CV_DATA` to the folder that holds CIFAR-10 (the official
# `cifar-10-python.tar.gz`, or any layout `load_cifar10` reads),
# `resnet18_cifar10/resnet18_cifar10.pth` with its `test_logits.npy`, and `zebra.jpg`. If
# one is missing, the first code cell stops with one message that says what each file is
# and how to get it. PyTorch is not needed.
#
# **It takes** about 15 s on a 2-core Intel Xeon (measured on a quiet machine; with other
# jobs sharing the two cores, the wall time was 85-100 s). The transfer learning here trains a new
# last layer on the features of **1,000 training images** and tests on **2,000 test
# images**; the full fine-tuning run (45,000 images, 12 minutes) is quoted from its metrics,
# which come with the library (`minitorch_cv.train.recorded_run`).

# %%
# %matplotlib inline
import pickle
import pickletools
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from minitorch_cv import io, models, nn, optim, theory, viz
from minitorch_cv.data import (
    CIFAR10_CLASSES,
    Compose,
    Normalize,
    ToFloat,
    data_folder,
    load_cifar10,
    resize,
    subset,
    train_val_split,
)
from minitorch_cv.models.resnet import IMAGENET_MEAN, IMAGENET_STD, grad_cam
from minitorch_cv.train import recorded_run

LESSON_START = time.perf_counter()

# %% [markdown]
# ## 1. What is in a `.pth` file?
#
# `torch.save(model.state_dict(), "model.pth")` writes a **zip archive**: one pickle,
# `data.pkl`, that describes the dictionary of tensors, and one raw file of numbers per
# tensor storage under `data/`. The checkpoint used here is a torchvision ResNet18 trained
# on CIFAR-10 (inputs resized to 64 x 64).

# %%
DATA = data_folder("cifar10", "resnet18_checkpoint", "resnet18_test_logits", "zebra")
WEIGHTS = DATA / "resnet18_cifar10" / "resnet18_cifar10.pth"
with zipfile.ZipFile(WEIGHTS) as archive:
    names = archive.namelist()
print(f"{WEIGHTS.name}: {WEIGHTS.stat().st_size / 1e6:.1f} MB, {len(names)} files in the zip")
print(names[:4], "...", names[-2:])

# %% [markdown]
# `io.load_torch` reads the archive with NumPy alone: it follows the pickle's recipe for
# each tensor (storage, offset, shape, strides) and returns a plain dict of arrays with
# PyTorch's key names.

# %%
start = time.perf_counter()
state = io.load_torch(WEIGHTS)
print(f"{len(state)} arrays in {time.perf_counter() - start:.2f} s, "
      f"{sum(v.size for k, v in state.items() if v.dtype.kind == 'f'):,} float numbers")
for key in ("conv1.weight", "bn1.running_var", "bn1.num_batches_tracked",
            "layer2.0.downsample.0.weight", "fc.weight"):
    print(f"  {key:30s} {state[key].shape!s:18s} {state[key].dtype}")

# %% [markdown]
# ## 2. Why the loader refuses code
#
# A pickle is not data: it is a small program for a stack machine. Its `GLOBAL` opcode
# imports any function by name and `REDUCE` calls it. That is how `data.pkl` rebuilds
# tensors (it calls `torch._utils._rebuild_tensor_v2`), and it is also how a file
# downloaded from the internet can run anything on your machine the moment it is
# unpickled. Here is such a file, built in a temporary folder. Its "payload" is harmless:
# it writes a small text file, so we can see whether it ran.

# %%
workdir = Path(tempfile.mkdtemp())
marker = workdir / "code_ran.txt"


class Payload:
    """Pickled as: call exec(<this source code>) when loaded."""

    def __reduce__(self):
        return exec, (f"open({str(marker)!r}, 'w').write('written by a pickle')",)


crafted = pickle.dumps({"conv1.weight": Payload()}, protocol=2)
with zipfile.ZipFile(workdir / "crafted.pth", "w") as archive:
    archive.writestr("archive/data.pkl", crafted)
pickletools.dis(crafted)

# %% [markdown]
# `GLOBAL '__builtin__ exec'` then `REDUCE`: loading this file would call `exec` on the
# string. **Predict**: what does `io.load_torch` do with it?

# %%
try:
    io.load_torch(workdir / "crafted.pth")
except io.WeightsFormatError as err:
    print("refused:", err)
print("did the payload run?", marker.exists())

# %% [markdown]
# The loader's unpickler resolves names from a short allowlist (`OrderedDict`, the tensor
# rebuilding functions, storage types) and refuses everything else *before* it is called.
# Plain `pickle` has no such list. Only because this payload is harmless do we show the
# trap:

# %%
with zipfile.ZipFile(workdir / "crafted.pth") as archive:
    pickle.loads(archive.read("archive/data.pkl"))          # never do this with a download
print("did the payload run?", marker.exists(), "->", marker.read_text())
shutil.rmtree(workdir)                                       # leave no files behind

# %% [markdown]
# PyTorch learned the same lesson: since version 2.6, `torch.load` defaults to
# `weights_only=True`, an allowlist of the same kind. Formats without code at all
# (safetensors, `.npz`) are safer still; `io.save_safetensors` writes one.
#
# ## 3. The model
#
# `models.resnet18` is torchvision's ResNet18, module for module and key for key, so the
# state dict loads as it is (`docs/resnet.md` explains the architecture and the
# mapping). Parameters per stage at 64 x 64:

# %%
model = models.resnet18(num_classes=10, weights=WEIGHTS).eval()
print(f"{theory.param_count(model):,} parameters")
out = np.zeros((1, 3, 64, 64), np.float32)              # one 64x64 image through each stage
for name, stage in model.named_stages():
    with nn.no_grad():
        out = stage(out)
    print(f"  {name:8s} -> {out.shape[1:]!s:16s} {theory.param_count(stage):>10,}")

# %% [markdown]
# **Is it PyTorch's network?** The data folder holds PyTorch's own logits for the test set
# (`test_logits.npy`, computed by torchvision in eval mode). We run our model on a random
# 2,000 of the test images, resized to 64 x 64 and normalized with ImageNet's mean and
# standard deviation as in training, and compare.

# %%
data = load_cifar10()
test_pick = subset(len(data.test_images), 2000, seed=0)
to_input = Compose([ToFloat(), Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def features_and_logits(images, batch_size=100):
    """512 features (after avgpool) and the logits, in eval mode, without keeping caches."""
    feats, logits = [], []
    with nn.no_grad():
        for i in range(0, len(images), batch_size):
            x = resize(to_input(images[i:i + batch_size]), 64)
            out, f = model.forward_features(x, names=("flatten",))
            feats.append(f["flatten"])
            logits.append(out)
    return np.concatenate(feats), np.concatenate(logits)

# %%
start = time.perf_counter()
test_feats, test_logits = features_and_logits(data.test_images[test_pick])
test_labels = data.test_labels[test_pick]
torch_logits = np.load(DATA / "resnet18_cifar10" / "test_logits.npy")[test_pick]
print(f"2,000 images through ResNet18 in {time.perf_counter() - start:.0f} s")
print(f"largest difference from PyTorch's logits: "
      f"{np.abs(test_logits - torch_logits).max():.1e}")
print(f"same predictions: {np.mean(test_logits.argmax(1) == torch_logits.argmax(1)):.2%}; "
      f"test accuracy: {np.mean(test_logits.argmax(1) == test_labels):.2%}")

# %% [markdown]
# Differences of about $10^{-5}$: float32 rounding in a different order of operations,
# nothing more. (On all 10,000 test images the accuracy is 88.72 %, exactly PyTorch's;
# `tests/test_resnet.py` checks it.)
#
# ### The trap: forgetting `model.eval()`
#
# A new model is in training mode. There, batch norm normalizes with the statistics of
# the *current batch* instead of the running averages the network was trained with, and
# overwrites those averages as a side effect. Take the first eight test images in file
# order: the files are sorted by class, so they are all airplanes. **Predict** what the
# model says in each mode. (We use a second copy of the model, so the one above stays
# intact.)

# %%
careless = models.resnet18(num_classes=10, weights=WEIGHTS)        # still in training mode
x = resize(to_input(data.test_images[:8]), 64)                  # 8 airplanes
with nn.no_grad():
    wrong = careless(x).argmax(1)
    right = model(x).argmax(1)
print("labels          ", data.test_labels[:8])
print("eval mode       ", right)
print("training mode   ", wrong)
print("bn1.running_mean changed:",
      not np.array_equal(careless.bn1.running_mean, model.bn1.running_mean))

# %% [markdown]
# In training mode each channel is normalized over *this* batch, so whatever eight
# airplanes have in common (blue sky, say) is subtracted away before the network can use
# it. In eval mode every image is judged on its own, as in training. A shuffled, mixed
# batch hides the bug; a sorted test set or a batch of one image exposes it.
#
# ## 4. Transfer learning, cheaply
#
# Task 4a replaces the last layer, `fc`, by a new `Linear(512, 10)` and trains it (with
# `layer4`) on CIFAR-10. The cheapest version freezes *everything* but the new head: then
# the 512 features of each image never change, so we compute them **once**, under
# `no_grad`, and train the head on the stored features. One forward pass through the
# backbone per image, instead of one per image per epoch.

# %%
train_idx, _ = train_val_split(len(data.train_images), val_fraction=0.1, seed=0)
train_pick = train_idx[subset(len(train_idx), 1000, seed=0)]
start = time.perf_counter()
train_feats, _ = features_and_logits(data.train_images[train_pick])
train_labels = data.train_labels[train_pick]
print(f"features of 1,000 training images: {train_feats.shape} "
      f"in {time.perf_counter() - start:.0f} s")

# %%
head = nn.Linear(512, 10, rng=nn.init.get_rng(0))               # the new fc, random
loss_fn = nn.CrossEntropyLoss()
opt = optim.Adam(head.parameters(), lr=1e-3)
order_rng = np.random.default_rng(0)
start = time.perf_counter()
for epoch in range(30):
    for batch in np.array_split(order_rng.permutation(1000), 1000 // 50):
        loss = loss_fn(head(train_feats[batch]), train_labels[batch])
        head.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
    if epoch % 10 == 9:
        with nn.no_grad():
            acc = np.mean(head(test_feats).argmax(1) == test_labels)
        print(f"epoch {epoch + 1}: last batch loss {loss:.3f}, test accuracy {acc:.2%}")
print(f"30 epochs of the head in {time.perf_counter() - start:.2f} s")

# %% [markdown]
# Thirty epochs over 1,000 stored feature vectors take a fraction of the time one pass
# through the backbone took. How does the result compare? The checkpoint's own head, and the seed's recipe run in full (new `fc`,
# `layer4` and `fc` trained with Adam for one epoch on all 45,000 images):

# %%
full = recorded_run("task4a")
print(f"new head on frozen features, 1,000 images (this lesson): {acc:.2%} on 2,000 test images")
print(f"the checkpoint's own head:                       "
      f"{np.mean(test_logits.argmax(1) == test_labels):.2%} on the same 2,000")
print(f"layer4 + new fc, {full['epochs_run']:.0f} epoch on 45,000 images:          "
      f"{full['test']['accuracy']:.2%} on all 10,000 ({full['wall_seconds'] / 60:.0f} min)")
print("command:", full["command"])

# %% [markdown]
# **Read these numbers with care.** This checkpoint was trained on the *whole* CIFAR-10
# training set, so its features already separate the ten classes: a linear head on them
# needs few images. That is also why we test on the **test set**: our validation images
# were among the checkpoint's training images, and the full run's validation accuracy
# (96.5 %) is far too optimistic. The seed started from *ImageNet* weights, whose features
# were never trained on CIFAR-10, and reached 82.0 % on the test set at 224 x 224.
#
# ## 5. First-layer filters (Task 4b)
#
# `conv1` has 64 filters of size 3 x 7 x 7. Shown as RGB images, each scaled to its own
# minimum and maximum:

# %% mystnb={"image": {"alt": "The 64 first-layer filters of ResNet18, 7 x 7 each, as small RGB images in an 8 x 8 grid numbered 0 to 63: oriented light-dark edges and single-colour blobs"}}
viz.filter_grid(model.conv1.weight.data, ncols=8, size=1.0,
                title="conv1: the 64 learned 7x7 filters (each min-max scaled)")

# %% [markdown]
# The seed describes Sobel-like edge detectors and colour blobs in ImageNet's weights.
# This checkpoint learned its filters from scratch, on 32 x 32 images blown up to 64 x 64,
# and found the same two kinds: oriented light-dark edges (filters 10, 24, 26, 52, for
# example) and single-colour blobs (11, 13, 39, 60).
#
# ## 6. Activations on the zebra (Task 4b-4c)
#
# The image the seed used, 224 x 224, normalized as in training. `forward_features`
# returns the outputs of the stages we name.

# %% mystnb={"image": {"alt": "Top row: the activation maps of conv1 filters 0 to 5 on the zebra photo, grey-scale images of the zebra; filter 0 lights up along the edges of the stripes. Bottom row: the six filters as 7 x 7 colour images"}}
zebra = np.asarray(Image.open(DATA / "zebra.jpg").convert("RGB"))   # (224, 224, 3) uint8
zebra_x = to_input(zebra.transpose(2, 0, 1)[None])                 # (1, 3, 224, 224)
with nn.no_grad():
    logits224, feats = model.forward_features(zebra_x, names=("conv1", "layer4"))
print({name: f.shape for name, f in feats.items()})
viz.filters_and_activations(model.conv1.weight.data, feats["conv1"], indices=range(6),
                            size=1.4, title="conv1 on the zebra: activations (top), filters (bottom)")

# %% [markdown]
# Each activation map is one filter slid over the image (112 x 112, stride 2): bright
# where the image looks like the filter. Filter 0, a horizontal light-dark band,
# responds along the edges of the stripes and hardly anywhere else; the others, closer to
# brightness and colour detectors, give blurred copies of the image. At the end of the
# network, `layer4` has 512 maps of only 7 x 7:

# %% mystnb={"image": {"alt": "The first 10 of layer4's 512 channels on the zebra photo, each a coarse 7 x 7 map in 2 rows of 5"}}
viz.activation_grid(feats["layer4"][0, :10], ncols=5,
                    title="layer4 on the zebra: the first 10 of 512 channels (7x7 each)")

# %% [markdown]
# ## 7. Grad-CAM: where does the network look for its answer?
#
# The seed averaged the first ten `layer4` channels over the image and read "emphasis on
# the legs and head" into it. But those ten channels were picked by their index, not by
# what they mean for the prediction. **Grad-CAM** weights each of the 512 maps $A_k$ by
# how much it raises the score $y_c$ of the predicted class $c$:
#
# $$w_k = \frac{1}{7 \cdot 7}\sum_{i,j} \frac{\partial y_c}{\partial A_k[i, j]}, \qquad
#   \text{cam} = \max\Big(0, \sum_k w_k A_k\Big),$$
#
# the gradient computed by the library's own backward pass through `fc` and `avgpool`.

# %% mystnb={"image": {"alt": "The zebra photo with the Grad-CAM map of the predicted class laid over it in colour: red where the image raised that class's score most, blue where it did not"}}
cam, target, _ = grad_cam(model, zebra_x)
p = np.exp(logits224[0] - logits224[0].max())
p /= p.sum()
with nn.no_grad():
    at64 = model(resize(zebra_x, 64))[0].argmax()
print(f"prediction at 224x224: {CIFAR10_CLASSES[target[0]]} ({p[target[0]]:.0%}); "
      f"at 64x64 (the training size): {CIFAR10_CLASSES[at64]}")
viz.overlay(zebra, cam[0], title=f"Grad-CAM for '{CIFAR10_CLASSES[target[0]]}' (red: most)")

# %% mystnb={"image": {"alt": "The zebra photo with the mean of layer4 channels 0 to 9 laid over it in colour, as the report's Figure 13 showed it"}}
viz.overlay(zebra, feats["layer4"][0, :10].mean(axis=0),
            title="The seed's Figure 13: mean of layer4 channels 0-9")

# %% [markdown]
# A CIFAR-10 network has no zebra class, so it answers with the nearest of its ten (and
# it sees the zebra at 224 x 224, a scale it never trained on). Grad-CAM shows the part of
# the image that drove *that* answer; the mean of ten arbitrary channels shows where those
# channels happen to respond, which may be somewhere else entirely. To ask "what made the
# network say X", use the gradient of X.

# %%
print(f"lesson ran in {time.perf_counter() - LESSON_START:.0f} s")

# %% [markdown]
# ## Exercises
#
# 1. Average pooling, forward and backward (ResNet's `avgpool` is its adaptive cousin):
#    `python -m minitorch_cv.exercises start avgpool2d --dir work`, then
#    `python -m minitorch_cv.exercises check avgpool2d --dir work`.
# 2. One Adam step with bias correction, the optimizer of Task 4a and of the head above:
#    `python -m minitorch_cv.exercises start adam --dir work`, then
#    `python -m minitorch_cv.exercises check adam --dir work`.
# 3. The 2D convolution that makes up almost all of ResNet18:
#    `python -m minitorch_cv.exercises start conv2d --dir work`, then
#    `python -m minitorch_cv.exercises check conv2d --dir work`.
#
# **To think about.** The head trained on frozen features nearly matched the fine-tuned
# network here, because the backbone had already seen CIFAR-10. With ImageNet weights,
# would you expect training `layer4` as well to matter more or less? Which of this
# lesson's numbers would you trust less, and why?
