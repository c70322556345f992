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
# # Lesson 7: Deeper networks, augmentation and overfitting
#
# **After this lesson** you can read the three Task 3 networks (Network 1, Network 2 and
# the improved network), count their parameters with `theory`, augment images with random
# crops, flips and rotations, recognise overfitting in a gap between training and
# validation, and compare the full runs' measured results. This is **Task 3a-3f** of the
# assignment, and Task 3d's figure (the seed's Figure 5).
#
# **It needs** CIFAR-10: set `MINITORCH_CV_DATA` to the folder that holds it (the official
# `cifar-10-python.tar.gz`, or any layout `load_cifar10` reads); without it, the library
# downloads the official archive once when you are online.
#
# **It takes** about 20-25 s on a 2-core Intel Xeon (measured on a quiet machine; with other
# jobs sharing the two cores, the wall time was 150-165 s). The one training here uses
# **320 images for 8 epochs**, on purpose far too few; the full runs (1-2 hours each) are
# shown from their measured results, which come with the library
# (`minitorch_cv.train.recorded_run`).

# %%
# %matplotlib inline
import time
import warnings

import numpy as np

from minitorch_cv import models, nn, optim, theory, viz
from minitorch_cv.data import (
    BatchIterator,
    Compose,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    ToFloat,
    load_cifar10,
    subset,
    train_val_split,
)
from minitorch_cv.train import Trainer, recorded_run, reference_accuracies

LESSON_START = time.perf_counter()
warnings.filterwarnings("ignore", message="IProgress not found")   # tqdm in a notebook

# %% [markdown]
# ## 1. Three networks
#
# The seed report's Task 3 builds on the Task 2 network (Lesson 6) with the tools of
# Lesson 5: batch normalization, dropout and more convolutions.
#
# * **Network 1** (Table 2): four 5 x 5 convolutions (32, 64, 128, 128 filters, padding 2),
#   batch norm after the first and third, two max-pooling layers, `Dropout2d`, then four
#   hidden `Linear(64)` layers, each followed by `BatchNorm1d`, ReLU and `Dropout`.
# * **Network 2** (Table 4): three 3 x 3 convolutions (32, 64, 128) with batch norm and
#   pooling, one hidden `Linear(64)`.
# * **The improved network** (Table 7): Network 1 without the dropout in the classifier,
#   trained with rotations instead of crops and a smaller learning rate.
#
# **Predict** which of the three has the most parameters, and where most of them sit.

# %%
networks = {"Task 2 (Lesson 6)": models.task2_model(rng=0),
            "Network 1": models.network1(rng=0),
            "Network 2": models.network2(rng=0),
            "improved": models.improved_network(rng=0)}
for name, net in networks.items():
    linear = sum(p.data.size for m in net.modules() if isinstance(m, nn.Linear)
                 for p in m.parameters())
    total = theory.param_count(net)
    print(f"{name:18s} {total:>9,} parameters, {linear / total:4.0%} of them in Linear layers")

# %% [markdown]
# Network 1 and the improved network have the most, 1.2 million, a little over half of
# them in the four 5 x 5 convolutions (the 128 -> 128 one alone has 409,728). Network 2
# has fewer, but 90 % of them sit in one layer: its `Flatten` hands
# $128 \cdot 10 \cdot 10 = 12{,}800$ numbers to the first `Linear(64)`, which holds
# $12{,}800 \cdot 64 + 64 = 819{,}264$ parameters. Why 10 x 10, from a 32 x 32 image and
# two poolings? The report's Table 4 uses
# **padding 2 with 3 x 3 kernels**. The output size is
# $H_\text{out} = \lfloor (H + 2P - K)/S \rfloor + 1$, so each convolution *grows* the map
# by 2 pixels instead of keeping it:

# %%
size = 32
for layer in ("conv 1", "conv 2", "pool", "conv 3", "pool"):
    if layer.startswith("conv"):
        size = theory.conv_output_size(size, kernel_size=3, stride=1, padding=2)
    else:
        size = theory.pool_output_size(size, kernel_size=2, stride=2)
    print(f"after {layer}: {size} x {size}")
print("padding that keeps the size of a 3x3 convolution:", theory.same_padding(3, stride=1))

# %%
print(theory.summary(networks["Network 2"], input_shape=(1, 3, 32, 32)))

# %% [markdown]
# With padding 1 (`same_padding(3)`) the map would be 8 x 8 before `Flatten`, and the
# first `Linear` would need $128 \cdot 8 \cdot 8 \cdot 64 = 524{,}288$ weights instead of
# 819,200. The outer ring of each grown map sees mostly padding zeros. The library builds
# Network 2 exactly as the report's table says, so its parameter count is the report's.
#
# ## 2. Data augmentation
#
# Augmentation shows the network a slightly different version of each training image
# every epoch, so memorizing pixels stops paying off. The three the report uses, all
# applied to `uint8` batches before `ToFloat` and `Normalize`, with a seeded generator:
#
# * `RandomCrop(32, padding=4)`: pad with 4 zero pixels on each side, cut a random
#   32 x 32 window: a shift of up to 4 pixels in each direction;
# * `RandomHorizontalFlip()`: mirror left-right with probability 0.5 (never up-down: a
#   ship upside down is not a CIFAR-10 ship);
# * `RandomRotation(10)`: rotate by an angle drawn uniformly from $[-10^\circ, 10^\circ]$
#   (nearest pixel; corners outside the image become 0).

# %% mystnb={"image": {"alt": "4 rows of the same 8 CIFAR-10 training images: the originals, random crops (shifted, with a black border), random horizontal flips (about half mirrored), and random rotations of up to 10 degrees (black corners)"}}
data = load_cifar10()
train_idx, val_idx = train_val_split(len(data.train_images), val_fraction=0.1, seed=0)
some = train_idx[subset(len(train_idx), 8, seed=5)]
originals = data.train_images[some]                               # (8, 3, 32, 32) uint8
rng = np.random.default_rng(0)
rows = {"original": originals,
        "crop": RandomCrop(32, padding=4)(originals, rng),
        "flip": RandomHorizontalFlip()(originals, rng),
        "rotation": RandomRotation(10)(originals, rng)}
viz.image_grid(np.concatenate(list(rows.values())),
               titles=[name for name in rows for _ in range(len(originals))], ncols=8,
               title="Each row: the same 8 training images, augmented at random")

# %% [markdown]
# Look for the black border where a crop moved the image, the mirrored images (about half
# of them), and the black corners of the rotations. The label never changes: each of
# these is still the same class.
#
# ## 3. Overfitting, on purpose
#
# A network *overfits* when it learns its training images instead of the classes: the
# training loss keeps falling while the validation loss stops falling or rises, and the
# training accuracy pulls away from the validation accuracy. Few images and many epochs
# make it happen fast. **Predict**: Network 2 trained on only 320 images for 8 epochs,
# no augmentation. How far apart will training and validation accuracy end up?

# %%
to_input = Compose([ToFloat(), Normalize(0.5, 0.25)])
few = train_idx[subset(len(train_idx), 320, seed=0)]
some_val = val_idx[subset(len(val_idx), 500, seed=0)]
train_loader = BatchIterator(data.train_images, data.train_labels, batch_size=64,
                             shuffle=True, drop_last=True, transform=to_input, rng=1,
                             indices=few)
val_loader = BatchIterator(data.train_images, data.train_labels, batch_size=250,
                           transform=to_input, indices=some_val)
train_eval = BatchIterator(data.train_images, data.train_labels, batch_size=320,
                           transform=to_input, indices=few)

# %%
model = models.network2(dropout=0.1, rng=nn.init.get_rng(0))
trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.05), train_loader, val_loader,
                  epochs=8, early_stop_count=100, validations_per_epoch=1, progress=False)
start = time.perf_counter()
history = trainer.fit()
print(f"{trainer.global_step} steps in {time.perf_counter() - start:.0f} s")
results = trainer.final_evaluation(train_eval)
for split, (loss, acc) in results.items():
    print(f"{split:5s} loss {loss:.3f}  accuracy {acc:.1%}  (best validation weights)")

# %% mystnb={"image": {"alt": "Loss against training step for Network 2 on 320 images: the training loss falls steeply while the validation loss hardly moves, a widening gap"}}
viz.plot_loss(history, title="Network 2 on 320 images: training loss falls far below validation")

# %% [markdown]
# (Early stopping is switched off here, `early_stop_count=100`, to let the gap grow.) The
# training loss falls steeply while the validation loss hardly moves: the network has
# learned these 320 images, not CIFAR-10. (Evaluated in eval mode, the training loss is
# 0.87, above the last training-mode losses: after only 40 steps batch norm's running
# averages have not caught up yet; see Lesson 5.) The same thing happens, more slowly, on the full
# 45,000 images, and that is what augmentation and early stopping are for.
#
# ## 4. Task 3d: Network 1 with and without augmentation (the seed's Figure 5)
#
# Both runs were made on the full data with Network 1's recipe and seed; only the
# augmentation differs. Their metrics come with the library:

# %%
task3d = {"with crop + flip": recorded_run("network1"),
          "without augmentation": recorded_run("task3d_without_augmentation")}
print(f"{'Network 1':22s}{'train acc':>10s}{'val acc':>9s}{'test acc':>9s}"
      f"{'train - test':>13s}{'epochs':>8s}")
for label, m in task3d.items():
    gap = m["train"]["accuracy"] - m["test"]["accuracy"]
    print(f"{label:22s}{m['train']['accuracy']:>10.2%}{m['val']['accuracy']:>9.2%}"
          f"{m['test']['accuracy']:>9.2%}{gap * 100:>10.1f} pt{m['epochs_run']:>8.2f}")

# %% [markdown]
# Without augmentation the training accuracy of the best weights is 12 points above the
# test accuracy; with crops and flips the gap is under 3 points, and the test accuracy is
# higher. The curves of the two runs, as in the seed's Figure 5:
#
# ![Task 3d: Network 1 with and without augmentation](../results/task3d_augmentation.png)
#
# Without augmentation the training loss falls below 0.4 while the validation loss stops
# near 0.7 after about 3,000 steps; with augmentation the two stay together and the
# validation loss keeps falling to 0.63.
#
# ## 5. The three networks, full runs
#
# Each trained on all 45,000 training images with its recipe from the report (SGD,
# batch 64, up to 10 epochs, early stopping after 3 validations without improvement),
# evaluated with its best-validation weights:

# %%
full = {"Network 1": recorded_run("network1"), "Network 2": recorded_run("network2"),
        "improved": recorded_run("improved")}
print(f"{'network':10s}{'train acc':>10s}{'val acc':>9s}{'test acc':>9s}{'test loss':>10s}"
      f"{'epochs':>8s}  recipe")
for name, m in full.items():
    h = m["hyperparameters"]
    print(f"{name:10s}{m['train']['accuracy']:>10.2%}{m['val']['accuracy']:>9.2%}"
          f"{m['test']['accuracy']:>9.2%}{m['test']['loss']:>10.3f}{m['epochs_run']:>8.2f}"
          f"  {h['augment']}, lr {h['lr']}, dropout {h['dropout']}")
for name, m in full.items():
    print(f"{name}: {m['command']}")

# %% [markdown]
# The same recipes trained with PyTorch on the same data (three seeds), and the numbers
# the seed report gives (on the official CIFAR-10 files, 1-2 points easier than the JPEG
# copy used here), beside this library's full runs:

# %%
print(f"{'network':10s}{'this library':>13s}  {'PyTorch, seeds 0 / 1 / 2':26s}{'report':>7s}")
for name, ref in reference_accuracies().items():
    seeds = " / ".join(f"{a:.2%}" for a in ref["pytorch_test_accuracy"]) or "no PyTorch run"
    print(f"{name:10s}{recorded_run(name)['test']['accuracy']:>13.2%}  {seeds:26s}"
          f"{ref['report_test_accuracy']:>7.1%}")

# %% [markdown]
# Network 1 and the improved network land within the spread of PyTorch's three seeds, and
# the improved network is the better of the two, as in the report. The report reached
# 80.6 % with the improved network; on this data PyTorch's best seed reaches 78.9 %, so the
# 80 % the assignment asked for is out of reach here for reasons that have nothing to do
# with the network. Network 2 (no PyTorch reference run) ends below Network 1, as in the
# report (77.5 % there): its validation loss was still falling when its 10 epochs ran out,
# so early stopping never triggered. Their loss curves:
#
# ![Network 1: training and validation loss](../results/network1_loss.png)
#
# ![Network 2: training and validation loss](../results/network2_loss.png)
#
# ![The improved network: training and validation loss](../results/improved_loss.png)
#
# **Two corrections to the report.** Task 3c says that networks made too deep did worse
# because "the gradients will vanish". The report shows no measurement of that, and with
# batch normalization and ReLU a network of five to nine layers is far from that regime
# (ResNet18, in Lesson 8, trains well with 18, thanks to its shortcuts); a bigger network
# given the same 10 epochs and learning rate has more ordinary reasons to do worse. And
# Task 3f reads the improved network's curves as "not a direct sign of overfitting yet":
# its training accuracy (84.3 % here, 84.2 % in the report) is 4-6 points above its
# validation and test accuracy, a small gap, but a real one.

# %%
print(f"lesson ran in {time.perf_counter() - LESSON_START:.0f} s")

# %% [markdown]
# ## Exercises
#
# 1. Batch normalization, train and eval mode, forward and backward:
#    `python -m minitorch_cv.exercises start batchnorm --dir work`, then
#    `python -m minitorch_cv.exercises check batchnorm --dir work`.
# 2. Inverted dropout with a seeded generator:
#    `python -m minitorch_cv.exercises start dropout --dir work`, then
#    `python -m minitorch_cv.exercises check dropout --dir work`.
# 3. The parameter count of a layer or network (Task 3's tables):
#    `python -m minitorch_cv.exercises start param_count --dir work`, then
#    `python -m minitorch_cv.exercises check param_count --dir work`.
#
# **To think about.** Augmentation lowered Network 1's *training* accuracy by 9 points and
# raised its test accuracy by less than one. When is that a good trade, and which
# augmentation would you try next on CIFAR-10 -- and which one would hurt (think of a
# vertical flip, or a crop that cuts away most of the object)?
