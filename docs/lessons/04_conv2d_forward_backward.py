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
# # Lesson 4: Conv2d, forward and backward
#
# **After this lesson** you can write a convolution layer three ways -- as nested loops, as
# im2col plus ONE matrix product, and as the library's fast path -- derive its backward pass
# (`dw`, `dx`, `db`), explain why col2im is the transpose of im2col, and say where the time
# goes. This is the layer of **Task 2** (and Tasks 3 and 4); lessons 1 and 2 did its sizes.
#
# **Needs:** nothing but `minitorch_cv` (no data, no PyTorch).
#
# **Takes:** about 5 s on a 2-core Intel Xeon (measured on a quiet machine; 30 s with other
# jobs sharing the cores), most of it the timing cells, which run the nested loops on one
# image.

# %%
# %matplotlib inline
import platform
import time
from pathlib import Path

import numpy as np

from minitorch_cv import functional as F
from minitorch_cv import models, nn, reference, viz
from minitorch_cv.gradcheck import gradcheck_function

np.set_printoptions(precision=3, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The definition, as loops
#
# A convolution layer has `w` of shape $(C_\text{out}, C_\text{in}, K_h, K_w)$ and `b` of shape
# $(C_\text{out},)$. With `x_pad` the input $x$ $(N, C_\text{in}, H, W)$ surrounded by $P$ zeros
# and stride $S$, output number $(n, f, i, j)$ is one window times one filter:
#
# $$\mathtt{out}[n, f, i, j] = b[f] + \sum_{c, u, v} w[f, c, u, v]\;
# \mathtt{x\_pad}[n, c, S i + u, S j + v].$$
#
# No flip of the kernel: deep learning's "convolution" is cross-correlation (lesson 1).
# `reference.conv2d_forward_loops` is this formula as four loops over $n, f, i, j$
# (in `minitorch_cv/reference/conv.py`).
#
# *Predict:* a 4x4 image holding 0..15, a 3x3 kernel of ones, padding 1. What is the top-left
# output? (The window covers 0, 1, 4, 5 and five zeros of padding.)

# %%
x = np.arange(16.0).reshape(1, 1, 4, 4)
w = np.ones((1, 1, 3, 3))
out, cache = reference.conv2d_forward_loops(x, w, b=None, stride=1, padding=1)
x_pad = cache[0]
viz.matrices_figure([x_pad[0, 0], w[0, 0], out[0, 0]],
                    titles=["input x_pad (padding 1)", "kernel w", "output out"],
                    value_format="{:.0f}", title="A 3x3 box filter: each output sums one window")

# %% [markdown]
# ## 2. im2col: the whole convolution as ONE matrix product
#
# The loops do the same thing $N \cdot C_\text{out} \cdot H_\text{out} \cdot W_\text{out}$
# times: multiply a window by a filter and sum. That is a dot product, so stack them:
#
# * **im2col** copies every window into one column of `cols`, of shape
#   $(C_\text{in} K_h K_w,\; N H_\text{out} W_\text{out})$;
# * reshape the filters into rows, `W2 = w.reshape(C_out, C_in*K_h*K_w)`;
# * then `out2 = W2 @ cols + b[:, None]` has shape $(C_\text{out}, N H_\text{out}
#   W_\text{out})$: every output number at once, in one call to BLAS.
#
# Small case: a 4x4 image and a 2x2 kernel without padding give 3x3 = 9 windows of 4 numbers.

# %%
x = np.arange(16.0).reshape(1, 1, 4, 4)
cols = reference.im2col(x, 2, 2, stride=(1, 1))
print("cols:", cols.shape, " (rows: the 4 kernel positions; columns: the 9 windows)")
viz.matrices_figure([x[0, 0], cols], titles=["x (4x4)", "cols = im2col(x): one window per column"],
                    value_format="{:.0f}", title="im2col copies each 2x2 window into a column")

# %% [markdown]
# Column 0 is the top-left window (0, 1, 4, 5), column 1 the window one step right, and so on.
# Now the product on a real-sized case, against the loops:

# %%
x = rng.standard_normal((2, 3, 8, 8))
w, b = rng.standard_normal((4, 3, 5, 5)), rng.standard_normal(4)
x_pad = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
cols = reference.im2col(x_pad, 5, 5, stride=(1, 1))             # (3*5*5, 2*8*8)
out2 = w.reshape(4, -1) @ cols + b[:, None]                     # THE one product: (4, 128)
out = out2.reshape(4, 2, 8, 8).transpose(1, 0, 2, 3)            # back to (N, C_out, H, W)
loops, _ = reference.conv2d_forward_loops(x, w, b, stride=1, padding=2)
print("cols", cols.shape, "-> out", out.shape,
      " largest difference to the loops:", np.abs(out - loops).max())

# %% [markdown]
# The price is memory: `cols` holds every pixel $K_h K_w$ times. *Predict:* how big is `cols`
# for the Task 2 network's second layer (32 -> 64 channels, 5x5, a 16x16 map) at batch 64,
# in float32?

# %%
rows, columns = 32 * 5 * 5, 64 * 16 * 16
print(f"cols: {rows} x {columns} = {rows * columns:,} numbers = "
      f"{rows * columns * 4 / 1e6:.0f} MB in float32 (the input itself: "
      f"{64 * 32 * 16 * 16 * 4 / 1e6:.1f} MB)")

# %% [markdown]
# ## 3. col2im is the transpose of im2col
#
# im2col is a linear map $A$: each entry of `cols` is a copy of one pixel. The backward pass
# needs the *transpose* $A^\top$, which does the opposite: it adds every entry of a
# `cols`-shaped array back onto the pixel it was copied from. That is **col2im**. A pixel that
# sits in several windows receives several contributions -- which is why the textbook version
# uses `np.add.at` (an unbuffered `+=`) and not an assignment.
#
# "Transpose" has a test you can run: for every `x` and every `C`,
#
# $$\langle \mathrm{im2col}(x), C\rangle = \langle x, \mathrm{col2im}(C)\rangle .$$

# %%
x_pad = rng.standard_normal((2, 3, 10, 10))
C = rng.standard_normal((3 * 5 * 5, 2 * 6 * 6))                # any array shaped like cols
left = np.sum(reference.im2col(x_pad, 5, 5, (1, 1)) * C)
right = np.sum(x_pad * reference.col2im(C, x_pad.shape, 5, 5, (1, 1)))
print(f"<im2col(x), C> = {left:.12f}\n<x, col2im(C)> = {right:.12f}"
      f"\nrelative difference {abs(left - right) / abs(left):.1e}")

# %% [markdown]
# Equal to rounding (float64 keeps 16 digits). *Predict:* what is `col2im` of a `cols` full of
# ones, for a 6x6 image, a 3x3 kernel and padding 1? Each pixel receives one 1 per window that
# contains it.

# %%
shape_pad = (1, 1, 8, 8)                                       # 6x6 image + padding 1
counts = reference.col2im(np.ones((9, 36)), shape_pad, 3, 3, (1, 1))[0, 0, 1:-1, 1:-1]
viz.matrices_figure([counts], titles=["windows containing each pixel"], value_format="{:.0f}",
                    title="col2im(ones): 3x3 kernel, padding 1", size=3.5)

# %% [markdown]
# Corners are in 4 windows, edges in 6, the inside in 9: the border pixels of an image get
# less gradient (and influence fewer outputs) than the centre.

# %% [markdown]
# ## 4. The backward pass
#
# Given $\mathtt{dout} = \partial L / \partial\,\mathtt{out}$, shape
# $(N, C_\text{out}, H_\text{out}, W_\text{out})$, the chain rule through the forward formula
# gives (each output number used one window of `x_pad` and all of `w[f]`):
#
# $$db[f] = \sum_{n,i,j} \mathtt{dout}[n,f,i,j], \qquad
# dw[f,c,u,v] = \sum_{n,i,j} \mathtt{dout}[n,f,i,j]\;\mathtt{x\_pad}[n,c,Si+u,Sj+v],$$
#
# $$\mathtt{dx\_pad}[n,c,Si+u,Sj+v] \mathrel{+}= \sum_f w[f,c,u,v]\;\mathtt{dout}[n,f,i,j]
# \quad\text{(then drop the padding).}$$
#
# With im2col, and `dout2` the gradient laid out as $(C_\text{out}, N H_\text{out}
# W_\text{out})$ in the columns' order, these are two products and one col2im:
#
# `dW2 = dout2 @ cols.T`, `dcols = W2.T @ dout2`, `dx = col2im(dcols)`, `db = dout2.sum(1)`.
#
# The same shape argument as lesson 3's Linear layer: `dW2` must be shaped like `W2`.

# %%
x, w = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3))
b = rng.standard_normal(4)
out, cache = reference.conv2d_forward_loops(x, w, b, stride=2, padding=1)
dout = rng.standard_normal(out.shape)
x_pad = cache[0]
cols = reference.im2col(x_pad, 3, 3, (2, 2))
dout2 = dout.transpose(1, 0, 2, 3).reshape(4, -1)
dw = (dout2 @ cols.T).reshape(w.shape)
dx = reference.col2im(w.reshape(4, -1).T @ dout2, x_pad.shape, 3, 3, (2, 2))[:, :, 1:-1, 1:-1]
db = dout2.sum(axis=1)
fast_cache = F.conv2d_forward(x, w, b, stride=2, padding=1)[1]
for name, (dx_, dw_, db_) in [("loops", reference.conv2d_backward_loops(dout, cache)),
                              ("fast", F.conv2d_backward(dout, fast_cache))]:
    print(f"ours vs {name:5s}: dx {np.abs(dx - dx_).max():.1e}  dw {np.abs(dw - dw_).max():.1e}"
          f"  db {np.abs(db - db_).max():.1e}")

# %% [markdown]
# Our three lines, the loops and the fast path agree to float64 rounding, with stride 2 and
# padding 1. And against central differences (lesson 3's `gradcheck`), on the fast path:

# %%
print(gradcheck_function(F.conv2d_forward, F.conv2d_backward, x, w, b, stride=2, padding=1,
                         names=["x", "w", "b"]))

# %% [markdown]
# ## 5. The fast path
#
# `nn.Conv2d` calls `minitorch_cv.functional.conv2d_forward`/`conv2d_backward`: the same sums as
# im2col, organised for the machine (docs/layers.md, "Conv2d", explains each change):
#
# * `cols` is built for a few images at a time -- just enough for 256 columns -- so it is still
#   in the CPU cache when the product reads it, instead of the 52 MB above going to main memory;
# * im2col and col2im are loops compiled by numba that copy whole rows (no `np.add.at`);
# * the library's threads share the batch, each with single-threaded BLAS.
#
# In float32, the network's dtype, the textbook and the fast results can differ by rounding:
# they add the same 800 products per output, but BLAS chooses the order of the additions from
# the shapes of the matrices and from the CPU. So we compare with float32's tolerance (about
# $10^{-7}$ relative per operation, times a few for a sum of 800 terms), not bit for bit --
# even if, on this machine, they may happen to agree exactly.

# %%
layer = nn.Conv2d(32, 64, kernel_size=5, padding=2, rng=1)       # Task 2's second layer
x = rng.standard_normal((4, 32, 16, 16)).astype(np.float32)
fast = layer(x)
textbook, _ = reference.conv2d_forward(x, layer.weight.data, layer.bias.data, 1, 2)
print(fast.dtype, textbook.dtype, " largest relative difference:",
      np.abs(fast - textbook).max() / np.abs(textbook).max())
np.testing.assert_allclose(fast, textbook, rtol=1e-4, atol=1e-5 * np.abs(textbook).max())

# %% [markdown]
# ## 6. How long each takes on the Task 2 network's convolutions
#
# The three convolutions of `models.task2_model()` (Table 1 of the report), with their input
# shapes found by running one image through the model:

# %%
model = models.task2_model(rng=0)
convs, x = [], np.zeros((1, 3, 32, 32), dtype=np.float32)
with nn.no_grad():
    for layer in model:
        if isinstance(layer, nn.Conv2d):
            convs.append((layer, x.shape[1:]))
        x = layer(x)
for layer, shape in convs:
    print(f"{layer!r:60s} input (N, {shape[0]}, {shape[1]}, {shape[2]})")

# %% [markdown]
# *Predict:* how much faster than the nested loops is im2col? And the fast path?
#
# The timing measures one forward **and** backward pass per layer, in float32. The nested loops
# run on **one image**: every output number is one iteration of the Python loop, so their time
# grows in proportion to the batch, and one image tells the time per image. The textbook im2col
# and the fast path run on a batch of 16 (best of 3 runs, after a warm-up that loads the
# compiled kernels); all three are shown **per image**. The numbers are measured now, on this
# machine -- shared with other work, so they wobble by tens of percent.

# %%
def seconds(forward, backward, layer, x, repeats):
    """Best time of forward + backward of ``layer``'s weights on ``x``."""
    w, b, best = layer.weight.data, layer.bias.data, np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out, cache = forward(x, w, b, 1, 2)
        backward(np.ones_like(out), cache)
        best = min(best, time.perf_counter() - start)
    return best

# %%
batch = 16
times = {"nested loops (1 image)": [], "textbook im2col + np.add.at": [], "fast path": []}
for layer, shape in convs:
    one, many = rng.standard_normal((1,) + shape, dtype=np.float32), rng.standard_normal(
        (batch,) + shape, dtype=np.float32)
    seconds(F.conv2d_forward, F.conv2d_backward, layer, many, 1)            # warm-up
    times["nested loops (1 image)"].append(seconds(reference.conv2d_forward_loops,
                                                   reference.conv2d_backward_loops, layer, one, 1))
    times["textbook im2col + np.add.at"].append(seconds(
        reference.conv2d_forward, reference.conv2d_backward, layer, many, 3) / batch)
    times["fast path"].append(seconds(F.conv2d_forward, F.conv2d_backward, layer, many, 3) / batch)
ms = {name: 1e3 * np.array(t) for name, t in times.items()}

# %%
def cpu_name():
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


labels = [f"conv{k + 1}: {layer.in_channels}->{layer.out_channels}, {shape[1]}x{shape[2]}"
          for k, (layer, shape) in enumerate(convs)]
viz.bar_chart(labels, ms, "forward + backward, ms per image (log scale)", log_scale=True,
              xlabel="Task 2 convolution (5x5, padding 2)", value_format="{:.1f}",
              title=f"Three ways to run a convolution, measured now on {cpu_name()}")

# %%
for name, t in ms.items():
    print(f"{name:30s}", "  ".join(f"{v:9.2f} ms" for v in t),
          f"   {ms['nested loops (1 image)'].sum() / t.sum():6.0f}x faster than the loops")

# %% [markdown]
# What to look at:
#
# * **The loops** pay the Python interpreter for every output number: hundreds of milliseconds
#   per image, so one CIFAR-10 epoch (45,000 images) would take many hours.
# * **im2col + one product** hands the multiply-adds to BLAS: tens of times faster. Its backward
#   pass is where it loses most: col2im's `np.add.at` scatters one number at a time.
# * **The fast path** keeps `cols` in the cache, copies with compiled loops and uses both cores:
#   again several to tens of times faster than the textbook (the ratio depends on the layer,
#   and on what else the machine is doing).
#
# **The whole network.** Inside `with reference.use():` every `nn` layer runs on its textbook
# version, so the same model can be timed both ways. One Task 2 training step (forward, loss,
# backward) on a batch of 16 images:

# %%
x, y = rng.standard_normal((16, 3, 32, 32), dtype=np.float32), rng.integers(0, 10, 16)
loss_fn = nn.CrossEntropyLoss()


def step_seconds():
    start = time.perf_counter()
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    model.zero_grad()
    return time.perf_counter() - start


fast_step = min(step_seconds() for _ in range(3))
with reference.use():
    textbook_step = step_seconds()
print(f"Task 2 step, batch 16: fast {1e3 * fast_step:.0f} ms, textbook "
      f"{1e3 * textbook_step:.0f} ms ({textbook_step / fast_step:.0f}x)")

# %% [markdown]
# The same comparisons on a quiet machine, with the command to rerun them, are in
# `docs/results.md`, section "Textbook layers against the fast ones"
# (`python benchmarks/reference_vs_fast.py`).
#
# **Where the report stops.** The seed report trains with PyTorch and never looks inside the
# layer; its Table 1 network spends most of its training time in exactly these three
# convolutions.

# %% [markdown]
# ## Exercises
#
# Write the convolution yourself (forward and backward, any of the three ways above) and let the
# grader check it -- it says *where* a wrong answer is wrong (border, stride 2, overlapping
# windows) and names classic mistakes such as assigning instead of adding in col2im:
#
# ```
# python -m minitorch_cv.exercises start conv2d --dir work
# python -m minitorch_cv.exercises check conv2d --dir work
# ```
#
# Then let your layer train the Task 2 network, for one epoch on 2,000 images (needs
# CIFAR-10 via `MINITORCH_CV_DATA`; without the two flags it is the full 4-epoch run):
#
# ```
# python -m minitorch_cv.exercises train conv2d --dir work --limit 2000 --epochs 1
# ```
#
# and revisit the sizes of lesson 2 with
#
# ```
# python -m minitorch_cv.exercises start conv_output_size --dir work
# python -m minitorch_cv.exercises check conv_output_size --dir work
# ```
#
# **To think about.** `cols` for the first layer of ResNet18 (7x7 kernel, stride 2, 3 -> 64
# channels, a 224x224 image) has how many numbers per image, compared with the image itself?
# Why does a stride of 2 make im2col *cheaper* relative to the image, and a large kernel make it
# more expensive?
