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
# **After this lesson** you can write a convolution layer as nested loops and as im2col plus
# ONE matrix product, lay out a batch's columns in the right order, and *derive* its backward
# pass (`dw`, `dx`, `db`) from lesson 3's Linear layer -- and see `dx` as a true convolution
# (lesson 1) of `dout` with the flipped kernel. This is the layer of **Task 2** (and Tasks 3
# and 4); lessons 1 and 2 did its sizes.
#
# **Needs:** nothing but `minitorch_cv` (no data, no PyTorch).
#
# **Takes:** about 7 s on a 2-core AMD EPYC (Zen 4) virtual machine, half of it the timing cell
# at the end.

# %%
# %matplotlib inline
import os
import platform
import time
from pathlib import Path

import numpy as np

from minitorch_cv import functional as F
from minitorch_cv import nn, reference, theory, viz
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

# %% mystnb={"image": {"alt": "Three grids: the 4x4 input holding 0 to 15 inside a border of zero padding, the 3x3 kernel of ones, and the 4x4 output in which each number is the sum of one 3x3 window (top-left 10)."}}
x = np.arange(16.0).reshape(1, 1, 4, 4)
w = np.ones((1, 1, 3, 3))
out, cache = reference.conv2d_forward_loops(x, w, b=None, stride=1, padding=1)
x_pad = cache[0]
viz.matrices_figure([x_pad[0, 0], w[0, 0], out[0, 0]],
                    titles=["input x_pad (padding 1)", "kernel w", "output out"],
                    value_format="{:.0f}", title="A 3x3 box filter: each output sums one window",
                    size=2.5)

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

# %% mystnb={"image": {"alt": "The 4x4 image holding 0 to 15 beside cols, a 4 by 9 matrix: each column is one 2x2 window read row by row, column 0 being 0, 1, 4, 5."}}
x = np.arange(16.0).reshape(1, 1, 4, 4)
cols = reference.im2col(x, 2, 2, stride=(1, 1))
print("cols:", cols.shape, " (rows: the 4 kernel positions; columns: the 9 windows)")
viz.matrices_figure([x[0, 0], cols], titles=["x (4x4)", "cols = im2col(x): one window per column"],
                    value_format="{:.0f}", title="im2col copies each 2x2 window into a column")

# %% [markdown]
# Column 0 is the top-left window (0, 1, 4, 5), column 1 the window one step right, and so on.
#
# ### Which row, which column: the order for a batch
#
# Both axes of `cols` flatten several indices, and everything below depends on the order.
# In this library (and in CS231n's and most textbook code):
#
# $$\text{row } r = c\,K_h K_w + u\,K_w + v, \qquad
# \text{column } p = n\,H_\text{out} W_\text{out} + i\,W_\text{out} + j .$$
#
# So the **image index $n$ is the slowest** along the columns: first all windows of image 0
# in row-major order, then all windows of image 1. The row order is the one of
# `w.reshape(C_out, -1)`, which is why `W2` needs no transpose.
#
# *Predict:* two 3x3 images, a 2x2 kernel: `cols` has 8 columns. Which of them come from
# image 1? (Image 1 holds 100..108 below, so you can tell.)

# %% mystnb={"image": {"alt": "Two 3x3 images, image 0 holding 0 to 8 and image 1 holding 100 to 108, beside cols, a 4 by 8 matrix whose columns 0 to 3 are image 0's windows and columns 4 to 7 image 1's."}}
x = np.stack([np.arange(9.0), 100 + np.arange(9.0)]).reshape(2, 1, 3, 3)
cols = reference.im2col(x, 2, 2, stride=(1, 1))
viz.matrices_figure([x[0, 0], x[1, 0], cols],
                    titles=["image n = 0", "image n = 1", "cols: columns p = n*4 + i*2 + j"],
                    value_format="{:.0f}", title="A batch of 2: all of image 0's windows first")

# %% [markdown]
# Columns 0-3 are image 0's four windows, columns 4-7 image 1's. So `out2` has shape
# $(C_\text{out}, N H_\text{out} W_\text{out})$ with $n$ *outside* $(i, j)$: to get back to
# NCHW it must be reshaped to $(C_\text{out}, N, H_\text{out}, W_\text{out})$ and then have
# its first two axes swapped.
#
# ### The trap: reshaping `out2` straight to NCHW
#
# `out2.reshape(N, C_out, H_out, W_out)` has the right shape and no error -- and mixes
# filters with images. Both versions, against the loops, on a batch of 2 and on one image:

# %%
def conv_by_im2col(x, w, b, P, reshape_right=True):
    """Forward by im2col and one product, stride 1, padding P."""
    N, (C_out, _, K, _) = x.shape[0], w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    out2 = w.reshape(C_out, -1) @ reference.im2col(x_pad, K, K, (1, 1)) + b[:, None]
    H_out, W_out = x_pad.shape[2] - K + 1, x_pad.shape[3] - K + 1
    if reshape_right:
        return out2.reshape(C_out, N, H_out, W_out).transpose(1, 0, 2, 3)
    return out2.reshape(N, C_out, H_out, W_out)                 # WRONG order


w, b = rng.standard_normal((4, 3, 5, 5)), rng.standard_normal(4)
for N in (2, 1):
    x = rng.standard_normal((N, 3, 8, 8))
    loops, _ = reference.conv2d_forward_loops(x, w, b, stride=1, padding=2)
    for right in (True, False):
        error = np.abs(conv_by_im2col(x, w, b, 2, right) - loops).max()
        print(f"N = {N}, {'right' if right else 'wrong'} reshape: largest difference {error:.1e}")

# %% [markdown]
# With two images the wrong reshape is off by numbers as large as the outputs themselves.
# With **one** image it is exactly right: $N = 1$ makes the two orders the same. A test on a
# single image cannot catch this bug -- always test a layer with $N \ge 2$.
#
# The price of im2col is memory: `cols` holds every pixel $K_h K_w$ times. *Predict:* how big
# is `cols` for the Task 2 network's second layer (32 -> 64 channels, 5x5, a 16x16 map) at
# batch 64, in float32?

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
# contains it. col2im returns the *padded* shape; the image is rows and columns $P$ to
# $P + H - 1$ of it.

# %% mystnb={"image": {"alt": "A 6x6 grid counting how many 3x3 windows (padding 1) contain each pixel: 4 at the corners, 6 along the edges, 9 inside."}}
H = W = 6
K, P = 3, 1
counts_pad = reference.col2im(np.ones((K * K, H * W)), (1, 1, H + 2 * P, W + 2 * P), K, K, (1, 1))
counts = counts_pad[0, 0, P:P + H, P:P + W]                    # the crop, written with P
viz.matrices_figure([counts], titles=["windows containing each pixel"], value_format="{:.0f}",
                    title="col2im(ones): 3x3 kernel, padding 1", size=3.5)

# %% [markdown]
# Corners are in 4 windows, edges in 6, the inside in 9: the border pixels of an image get
# less gradient (and influence fewer outputs) than the centre.

# %% [markdown]
# ## 4. The backward pass, from lesson 3's Linear layer
#
# Lesson 3 derived the Linear layer: for $x$ of shape $(N, D)$ and $W$ of shape $(M, D)$,
#
# $$\mathtt{out} = x W^\top + b \quad\Longrightarrow\quad
# dW = \mathtt{dout}^\top x, \qquad dx = \mathtt{dout}\, W, \qquad
# db = \textstyle\sum_n \mathtt{dout}[n, :].$$
#
# Now look at the forward pass of section 2 and **transpose it**:
#
# $$\mathtt{out2} = W_2\, \mathtt{cols} + b
# \quad\Longleftrightarrow\quad
# \mathtt{out2}^\top = \mathtt{cols}^\top W_2^\top + b .$$
#
# That is a Linear layer. Its "batch" is the $N H_\text{out} W_\text{out}$ windows (the rows
# of $\mathtt{cols}^\top$), each an input vector of $D = C_\text{in} K_h K_w$ numbers, and its
# weight is $W_2$ with $M = C_\text{out}$. So substitute
# $x \to \mathtt{cols}^\top$, $W \to W_2$, $\mathtt{dout} \to \mathtt{dout2}^\top$ into
# lesson 3's three formulas:
#
# $$dW_2 = (\mathtt{dout2}^\top)^\top \mathtt{cols}^\top = \mathtt{dout2}\;\mathtt{cols}^\top,
# \qquad
# \mathtt{dcols}^\top = \mathtt{dout2}^\top W_2
# \;\Rightarrow\; \mathtt{dcols} = W_2^\top\, \mathtt{dout2},
# \qquad db = \textstyle\sum_p \mathtt{dout2}[:, p].$$
#
# In NumPy: `dW2 = dout2 @ cols.T`, `dcols = W2.T @ dout2`, `db = dout2.sum(axis=1)`.
# The shapes check you, as in lesson 3: `dW2` must be $(C_\text{out}, C_\text{in} K_h K_w)$
# like `W2`, and `dcols` $(C_\text{in} K_h K_w, N H_\text{out} W_\text{out})$ like `cols`.
#
# Two steps are left, and both are where code goes wrong:
#
# 1. `dout` arrives as $(N, C_\text{out}, H_\text{out}, W_\text{out})$; `dout2` must hold it
#    in **the columns' order** of section 2 ($n$ slowest):
#    `dout2 = dout.transpose(1, 0, 2, 3).reshape(C_out, -1)`.
# 2. `dcols` is the gradient of the *copies*; the gradient of `x_pad` adds the copies back
#    onto their pixels, which is `col2im(dcols)` (section 3). Then drop the padding:
#    rows and columns $P$ to $P + H - 1$.
#
# *Predict:* the shapes of `dout2`, `dW2` and `dcols` for $N = 2$, $C_\text{in} = 3$,
# $C_\text{out} = 4$, a 3x3 kernel, stride 2, padding 1 and 7x7 images ($H_\text{out} = 4$).

# %%
N, C_in, C_out, K, S, P, H = 2, 3, 4, 3, 2, 1, 7
x, w = rng.standard_normal((N, C_in, H, H)), rng.standard_normal((C_out, C_in, K, K))
b = rng.standard_normal(C_out)
out, cache = reference.conv2d_forward_loops(x, w, b, stride=S, padding=P)
dout = rng.standard_normal(out.shape)                 # what the next layer sent back
x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
cols, W2 = reference.im2col(x_pad, K, K, (S, S)), w.reshape(C_out, -1)
dout2 = dout.transpose(1, 0, 2, 3).reshape(C_out, -1)  # columns in cols' order
dW2, dcols, db = dout2 @ cols.T, W2.T @ dout2, dout2.sum(axis=1)
dx = reference.col2im(dcols, x_pad.shape, K, K, (S, S))[:, :, P:P + H, P:P + H]
print("dout2", dout2.shape, " dW2", dW2.shape, " dcols", dcols.shape, " dx", dx.shape)

# %% [markdown]
# Now the check: the same gradients from the library's textbook loops and from its fast path
# (`functional.conv2d_backward`, what `nn.Conv2d` runs).

# %%
dw = dW2.reshape(w.shape)
fast_cache = F.conv2d_forward(x, w, b, stride=S, padding=P)[1]
for name, (dx_, dw_, db_) in [("loops", reference.conv2d_backward_loops(dout, cache)),
                              ("fast", F.conv2d_backward(dout, fast_cache))]:
    print(f"ours vs {name:5s}: dx {np.abs(dx - dx_).max():.1e}  dw {np.abs(dw - dw_).max():.1e}"
          f"  db {np.abs(db - db_).max():.1e}")

# %% [markdown]
# Our lines, the loops and the fast path agree to float64 rounding, with stride 2 and
# padding 1.
#
# ### The trap: `dout` in the wrong column order
#
# `dout.reshape(C_out, -1)` also has the shape $(C_\text{out}, N H_\text{out} W_\text{out})$
# -- and its row for filter 0 holds image 0's filters 0 *and 1*, where image 1's filter 0
# belongs. It is the backward twin of the reshape trap in section 2:

# %%
wrong_dout2 = dout.reshape(C_out, -1)                 # WRONG: n and f mixed up
wrong_dw = (wrong_dout2 @ cols.T).reshape(w.shape)
dw_loops = reference.conv2d_backward_loops(dout, cache)[1]
print(f"dw, right order: largest error {np.abs(dw - dw_loops).max():.1e}")
print(f"dw, wrong order: largest error {np.abs(wrong_dw - dw_loops).max():.1e}"
      f"   (largest |dw| {np.abs(dw_loops).max():.1f})")
one_image = dout[:1]
print("with N = 1 the two orders agree:", np.array_equal(
    one_image.reshape(C_out, -1), one_image.transpose(1, 0, 2, 3).reshape(C_out, -1)))

# %% [markdown]
# ### The trap: a crop written as `[1:-1]`
#
# With $P = 1$, `dx_pad[:, :, 1:-1, 1:-1]` is the same as `[P:P + H, P:P + W]`, and it is what
# many notes write. Copied into a layer with $P = 0$ it cuts a row and a column of *real*
# pixels off each side; with $P = 2$ it keeps a border of padding. Written as `[P:-P]` it
# fails worse for $P = 0$: `-0` is `0`, so `0:-0` is an **empty** slice. *Predict* the shapes:

# %%
print("x is (2, 3, 7, 7)")
for pad in (0, 1, 2):                                 # the padding P of a layer
    dx_pad = np.zeros((2, 3, H + 2 * pad, H + 2 * pad))
    print(f"P = {pad}:  [1:-1] -> {dx_pad[:, :, 1:-1, 1:-1].shape}"
          f"   [P:-P] -> {dx_pad[:, :, pad:-pad, pad:-pad].shape}"
          f"   [P:P+H] -> {dx_pad[:, :, pad:pad + H, pad:pad + H].shape}")

# %% [markdown]
# No error in any of them: a wrong crop just returns a gradient of the wrong shape, which
# the next layer may even broadcast. Only the crop written as `[P:P + H, P:P + W]` gives back
# the shape of `x` for every padding.

# %% [markdown]
# ## 5. The same backward, as loops
#
# The matrix products hide *where* each number goes. The loops show it. Each output
# $\mathtt{out}[n, f, i, j]$ used one window of `x_pad` and all of `w[f]`, with factor
# $w[f, c, u, v]$ for the pixel $\mathtt{x\_pad}[n, c, Si+u, Sj+v]$ and factor that pixel for
# $w[f, c, u, v]$. The chain rule (lesson 3, section 1) sums over every output that used a
# number:
#
# $$dw[f] \mathrel{+}= \mathtt{dout}[n,f,i,j]\; \mathtt{x\_pad}[n, :, \text{window}(i,j)],
# \qquad
# \mathtt{dx\_pad}[n, :, \text{window}(i,j)] \mathrel{+}= \mathtt{dout}[n,f,i,j]\; w[f],$$
#
# where $\text{window}(i, j)$ is rows $Si \ldots Si + K_h - 1$, columns $Sj \ldots Sj + K_w - 1$.
# It is `+=` in both: a weight is used by every window, and a pixel by every window that
# covers it. Written out:

# %%
def conv_backward_loops(dout, x_pad, w, S, P, H, W):
    """dx, dw, db of a convolution: one output number at a time."""
    dx_pad, dw, K_h, K_w = np.zeros_like(x_pad), np.zeros_like(w), w.shape[2], w.shape[3]
    for n in range(dout.shape[0]):
        for f in range(dout.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    win_rows, win_cols = slice(S * i, S * i + K_h), slice(S * j, S * j + K_w)
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, win_rows, win_cols]
                    dx_pad[n, :, win_rows, win_cols] += dout[n, f, i, j] * w[f]
    db = dout.sum(axis=(0, 2, 3))
    return dx_pad[:, :, P:P + H, P:P + W], dw, db

# %% [markdown]
# *Predict:* do these loops agree with the two products and col2im of section 4?

# %%
dx_l, dw_l, db_l = conv_backward_loops(dout, x_pad, w, S, P, H, H)
print(f"loops vs products: dx {np.abs(dx_l - dx).max():.1e}  dw {np.abs(dw_l - dw).max():.1e}"
      f"  db {np.abs(db_l - db).max():.1e}")
print(gradcheck_function(F.conv2d_forward, F.conv2d_backward, x, w, b, stride=S, padding=P,
                         names=["x", "w", "b"]))

# %% [markdown]
# They agree, and central differences (lesson 3's `gradcheck`) agree with the library's
# backward to about $10^{-10}$. The products of section 4 are these loops with the sum over
# $(n, i, j)$ done by BLAS: `dout2 @ cols.T` sums `dout * window` over all windows at once,
# and `col2im(W2.T @ dout2)` is the `dx_pad` line, one column per window.

# %% [markdown]
# ## 6. `dx` is a true convolution of `dout` with the flipped kernel
#
# Take stride 1 and read the `dx_pad` line of the loops the other way round: which outputs
# send something to the padded pixel $(a, b)$? Output $(i, j)$ does when $a = i + u$ and
# $b = j + v$ for a kernel position $(u, v)$, that is with $u = a - i$, $v = b - j$:
#
# $$\mathtt{dx\_pad}[n, c, a, b] = \sum_f \sum_{i, j} \mathtt{dout}[n, f, i, j]\;
# w[f, c, a - i, b - j].$$
#
# The index runs *backwards* through the kernel: this is the **true convolution** of lesson 1,
# $\mathtt{dout}[n, f] * w[f, c]$, the one that flips the kernel -- and a *full* one: it
# counts every $(a, b)$ where the kernel overlaps `dout` at all, so the map grows by
# $K - 1$ to $H_\text{out} + K - 1 = H + 2P$, exactly the padded size. In lesson 1's terms,
# a full convolution is `theory.convolve2d` with padding $K - 1$.
#
# *Predict:* does summing these single-channel convolutions over $f$ give the `dx` of the
# library, after the crop?

# %%
N, C_in, C_out, K, P, H = 2, 3, 4, 3, 1, 6
x, w = rng.standard_normal((N, C_in, H, H)), rng.standard_normal((C_out, C_in, K, K))
out, fast_cache = F.conv2d_forward(x, w, None, stride=1, padding=P)
dout = rng.standard_normal(out.shape)
dx_library = F.conv2d_backward(dout, fast_cache)[0]
dx_pad = np.zeros((N, C_in, H + 2 * P, H + 2 * P))
for n in range(N):
    for c in range(C_in):
        for f in range(C_out):                          # full convolution: padding K - 1
            dx_pad[n, c] += theory.convolve2d(dout[n, f], w[f, c], padding=K - 1)
dx_full = dx_pad[:, :, P:P + H, P:P + H]
print("dx by full convolution vs the library: largest difference",
      f"{np.abs(dx_full - dx_library).max():.1e}")

# %% [markdown]
# The same numbers. So the backward pass of a convolution layer is *another convolution
# layer*: flip each kernel by 180 degrees, swap its input and output channels
# (`w.transpose(1, 0, 2, 3)`), and convolve `dout` with padding $K - 1 - P$ (the full
# convolution, with the crop folded into the padding; $P \le K - 1$ in every layer here).
# Our forward function can do that:

# %%
w_back = w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]      # (C_in, C_out, K, K), flipped
dx_conv, _ = F.conv2d_forward(dout, np.ascontiguousarray(w_back), None, stride=1,
                              padding=K - 1 - P)
print("dx as a forward convolution:", dx_conv.shape,
      f" largest difference to the library {np.abs(dx_conv - dx_library).max():.1e}")

# %% [markdown]
# This is why frameworks call the backward of a convolution a *transposed convolution*, and why
# lesson 1's flip was worth learning: the layer never flips its kernel, its gradient does.
#
# With stride $S > 1$, output $(i, j)$ sat at pixel $(Si, Sj)$, not $(i, j)$: insert $S - 1$
# zeros between the entries of `dout` (each output moved $S$ pixels), then do the same.
# *Predict:* does it still match, for stride 2 on a 7x7 image?

# %%
S, H = 2, 7
x = rng.standard_normal((N, C_in, H, H))
out, fast_cache = F.conv2d_forward(x, w, None, stride=S, padding=P)   # H_out = 4
dout = rng.standard_normal(out.shape)
dilated = np.zeros((N, C_out, S * (out.shape[2] - 1) + 1, S * (out.shape[3] - 1) + 1))
dilated[:, :, ::S, ::S] = dout                                        # 4x4 -> 7x7
dx_conv, _ = F.conv2d_forward(dilated, np.ascontiguousarray(w_back), None, stride=1,
                              padding=K - 1 - P)
print("stride 2: dx", dx_conv.shape, " largest difference to the library",
      f"{np.abs(dx_conv - F.conv2d_backward(dout, fast_cache)[0]).max():.1e}")

# %% [markdown]
# It does here, because $(H + 2P - K)$ is a multiple of $S$; otherwise the last rows of
# `x_pad` are in no window, and their gradient is zero (pad the result at the end).

# %% [markdown]
# ## 7. The fast path, timed
#
# `nn.Conv2d` runs `functional.conv2d_forward`/`conv2d_backward`: the same sums as im2col,
# organised for the machine (docs/layers.md, "Conv2d"): `cols` built for a few images at a
# time so it stays in the CPU cache, im2col/col2im as compiled loops (no `np.add.at`), the
# batch shared among threads. In float32 it can differ from the textbook by rounding (BLAS
# picks the order of the 800 additions per output), so compare with a tolerance, not bit for
# bit. *Predict:* how much faster than the nested loops is the textbook im2col, and the fast
# path, on Task 2's second convolution (forward + backward, per image, measured now)?

# %%
def cpu_name():
    """The CPU's model name (Linux), else what the platform module knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


print("measured on:", cpu_name(), f"({os.cpu_count()} cores)")

# %%
layer = nn.Conv2d(32, 64, kernel_size=5, padding=2, rng=1)       # Task 2's second layer
w, b = layer.weight.data, layer.bias.data
one, many = (rng.standard_normal((n, 32, 16, 16), dtype=np.float32) for n in (1, 16))
ways = {"nested loops": (reference.conv2d_forward_loops, reference.conv2d_backward_loops, one),
        "textbook im2col": (reference.conv2d_forward, reference.conv2d_backward, many),
        "fast path": (F.conv2d_forward, F.conv2d_backward, many)}
layer.backward(np.ones_like(layer(many)))                      # warm-up: load compiled kernels
for name, (forward, backward, x) in ways.items():
    start = time.perf_counter()
    out, cache = forward(x, w, b, 1, 2)
    backward(np.ones_like(out), cache)
    print(f"{name:16s} {1e3 * (time.perf_counter() - start) / len(x):8.2f} ms per image")
textbook, _ = reference.conv2d_forward(many, w, b, 1, 2)
np.testing.assert_allclose(layer(many), textbook, rtol=1e-4, atol=1e-5 * np.abs(textbook).max())

# %% [markdown]
# The loops pay the Python interpreter for every output number; im2col hands the
# multiply-adds to BLAS (tens of times faster) but its backward loses time in col2im's
# `np.add.at`, which scatters one number at a time; the fast path keeps `cols` in the cache
# and uses both cores. These numbers are measured now, on whatever machine runs this page;
# the same comparison on a quiet machine, with the command, is in `docs/results.md`
# ("Textbook layers against the fast ones": a whole Task 2 training step 5-6x faster than the
# textbook layers, the backward pass of this layer 8x).

# %% [markdown]
# ## Exercises
#
# Write the convolution yourself (forward and backward, as loops or with im2col) and let the
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
# **To think about.** Section 6 wrote `dx` as a convolution. Write `dw` as one too (one
# image, stride 1): which array plays the kernel, and is anything flipped this time? And:
# `cols` for the first layer of ResNet18 (7x7 kernel, stride 2, 3 -> 64 channels, a 224x224
# image) has how many numbers per image, compared with the image itself?
