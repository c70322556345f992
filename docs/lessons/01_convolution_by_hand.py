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
# # Lesson 1: Convolution by hand
#
# **After this lesson** you can compute a convolutional layer's output with pencil and paper,
# tell cross-correlation from convolution (and say which one `Conv2d` computes), pad and stride
# an image, and explain why a convolution is translation *equivariant* while pooling adds some
# *invariance*. This is **Task 1a and 1b** of the assignment.
#
# **Needs:** nothing but `minitorch_cv` (no data, no PyTorch).
#
# **Takes:** about 6 s on a 2-core Intel Xeon as a notebook (it draws two animations), 2 s as
# a script (measured on a quiet machine; 25 s as a notebook with other jobs sharing the cores).

# %%
# %matplotlib inline
import numpy as np

from minitorch_cv import nn, reference, theory, viz

np.set_printoptions(linewidth=100)

# %% [markdown]
# ## 1. The image and the kernel of Task 1a
#
# Task 1a gives a $3 \times 5$ image $P$ and a $3 \times 3$ kernel $K$. $K$ is a Sobel filter:
# it responds to a change from left to right (a vertical edge). `theory` holds both.

# %%
P = theory.TASK1A_IMAGE
K = theory.TASK1A_KERNEL
print("P =\n", P)
print("K =\n", K)

# %% [markdown]
# ## 2. Padding: keep the size
#
# A $3 \times 3$ window fits in a $3 \times 5$ image at only $1 \times 3$ positions. To get a
# $3 \times 5$ output we surround the image with zeros. With kernel size $F$ and stride 1 the
# output height is $H + 2P_{ad} - F + 1$; it equals $H$ when $P_{ad} = (F - 1)/2$, so one ring
# of zeros for $F = 3$.
#
# **Predict:** what shape does the padded image have (rows, columns)?

# %%
pad = theory.same_padding(3)
padded = np.pad(P, pad)           # zeros on every side
print("padding:", pad, "  padded shape (rows, columns):", padded.shape)
print(padded)

# %% [markdown]
# Five rows and seven columns. (The seed report calls it "$7 \times 5$"; in the rows-by-columns
# order every matrix in the assignment uses, it is $5 \times 7$.)
#
# ## 3. One output number by hand
#
# Deep learning's "convolution" lays the kernel over a window of the padded image, multiplies
# entry by entry and adds, for each position $(i, j)$ of the output:
#
# $$C[i, j] = \sum_{u=0}^{F-1} \sum_{v=0}^{F-1} K[u, v]\; P_{pad}[i + u,\ j + v].$$
#
# The indices $u, v$ run over the kernel's **3** rows and columns, from 0 to 2. The top-left
# output uses the top-left window:

# %%
window = padded[0:3, 0:3]
print("window =\n", window)
print("window * K =\n", window * K)
print("C[0, 0] =", (window * K).sum())

# %% [markdown]
# **Predict, then run:** what is $C[1, 3]$? Its window has its top-left corner at row 1,
# column 3 of the padded image. Work it out on paper first.

# %%
i, j = 1, 3
print(padded[i:i + 3, j:j + 3] * K)
print("C[1, 3] =", (padded[i:i + 3, j:j + 3] * K).sum())

# %% [markdown]
# ## 4. All fifteen outputs, three ways
#
# The same two loops fill the whole output. `theory.cross_correlate2d` is exactly these loops.
# The answer of Task 1a:

# %%
C = np.zeros((3, 5), dtype=np.int64)
for i in range(3):
    for j in range(5):
        C[i, j] = (padded[i:i + 3, j:j + 3] * K).sum()
print(C)
print("theory.cross_correlate2d agrees:",
      np.array_equal(C, theory.cross_correlate2d(P, K, padding=1)))
print("the seed's C agrees:          ", np.array_equal(C, theory.SEED_TASK1A_RESULT))

# %% [markdown]
# A convolutional layer computes the same numbers. Its input is a batch of images with
# channels, $(N, C_{in}, H, W)$, and its weight has shape $(C_{out}, C_{in}, F, F)$, so we add
# two axes of length 1. First the textbook loops of `minitorch_cv.reference`, then the layer
# the networks use, with $K$ as its weight and no bias:

# %%
x = P.astype(np.float64)[None, None]            # (1, 1, 3, 5)
w = K.astype(np.float64)[None, None]            # (1, 1, 3, 3)
out_loops, _ = reference.conv2d_forward_loops(x, w, None, stride=1, padding=1)

conv = nn.Conv2d(1, 1, kernel_size=3, padding=1, bias=False).to(np.float64)
conv.weight.data[...] = w
out_layer = conv(x)
print(out_layer[0, 0])
print("reference loops == C:", np.array_equal(out_loops[0, 0], C),
      "  nn.Conv2d == C:", np.array_equal(out_layer[0, 0], C))

# %% [markdown]
# ## 5. Watch it happen
#
# The animation below slides $K$ over the padded image. Grey cells are the zero padding, the red
# frame is the current window, and the line under the panels is the sum of products. Its
# numbers come from `theory.cross_correlate2d`, the function we just checked; there is one frame
# per output position, 15 in all.

# %%
viz.animate_convolution(P, K, padding=1)

# %% [markdown]
# ## 6. The trap: convolution flips the kernel
#
# In signal processing, *convolution* flips the kernel in both directions (turns it by 180°)
# before sliding it:
#
# $$(P * K)[i, j] = \sum_{u, v} K[F-1-u,\ F-1-v]\; P_{pad}[i + u,\ j + v].$$
#
# What we computed above, without the flip, is **cross-correlation**. Deep-learning libraries
# compute cross-correlation and call it convolution: PyTorch's `Conv2d` does, and so does this
# library's. If you follow a textbook that flips, you get a different number:

# %%
print("cross-correlation C[0, 0] =", theory.cross_correlate2d(P, K, padding=1)[0, 0])
print("true convolution  C[0, 0] =", theory.convolve2d(P, K, padding=1)[0, 0])
print("K flipped =\n", K[::-1, ::-1])
print("true convolution == -C everywhere:", np.array_equal(theory.convolve2d(P, K, padding=1), -C))

# %% [markdown]
# For the Sobel kernel the flipped kernel is exactly $-K$, so true convolution gives $-C$: every
# sign changes. For a kernel without such a symmetry the two results are not even related by a
# sign. **Predict:** do the two operations agree for this kernel?

# %%
K2 = np.array([[1, 2, 0],
               [0, 0, 0],
               [0, 0, -1]])
print("cross-correlation:\n", theory.cross_correlate2d(P, K2, padding=1))
print("true convolution:\n", theory.convolve2d(P, K2, padding=1))

# %% [markdown]
# They do not. For a network it makes no difference, because it *learns* its kernels: a learned
# kernel could just as well have been stored flipped. It matters when you compare a hand
# calculation with a library or a textbook. The animation can show the flipped version too
# (`flip=True` labels the kernel as flipped).
#
# ## 7. Stride: skip positions
#
# With stride $S$ the window moves $S$ cells at a time, and the output size becomes
#
# $$H_{out} = \left\lfloor \frac{H + 2P_{ad} - F}{S} \right\rfloor + 1.$$
#
# **Predict:** with padding 1 and stride 2, what shape is the output, and how do its numbers
# relate to $C$?

# %%
C2 = theory.cross_correlate2d(P, K, padding=1, stride=2)
print("shape:", C2.shape, " = conv_output_size:",
      theory.conv_output_size((3, 5), kernel_size=3, stride=2, padding=1))
print(C2)
print("every second entry of C:", np.array_equal(C2, C[::2, ::2]))

# %% [markdown]
# A stride-2 convolution computes every second row and column of the stride-1 output, at a
# quarter of the cost. The animation shows the window jumping two cells:

# %%
viz.animate_convolution(P, K, padding=1, stride=2)

# %% [markdown]
# ## 8. Equivariance: the feature map moves with the image (Task 1b)
#
# Put the image $P$ on a larger empty canvas, then shift it 2 rows down and 3 columns right.
# **Predict:** what happens to the output of the Sobel filter?

# %%
canvas = np.zeros((10, 12), dtype=np.int64)
canvas[1:4, 1:6] = P
shifted = np.roll(canvas, (2, 3), axis=(0, 1))    # nothing wraps around: the border is zero

out = theory.cross_correlate2d(canvas, K, padding=1)
out_shifted = theory.cross_correlate2d(shifted, K, padding=1)
print("conv(shift(x)) == shift(conv(x)):",
      np.array_equal(out_shifted, np.roll(out, (2, 3), axis=(0, 1))))
print("conv(shift(x)) == conv(x):       ", np.array_equal(out_shifted, out))

# %% [markdown]
# Shifting the input shifts the output by the same amount and changes nothing else. This is
# **equivariance**: $\mathrm{conv}(\mathrm{shift}(x)) = \mathrm{shift}(\mathrm{conv}(x))$. It
# holds because the same kernel is used at every position. The output is *not* the same as
# before, so a convolution is not invariant. Look at the maps: the pattern of responses moves.

# %% mystnb={"image": {"alt": "Four grey-scale panels of 10 x 12 pixels: the input, the input shifted 2 down and 3 right, its feature map, and the feature map of the shifted input, which is the same pattern moved 2 down and 3 right"}}
viz.activation_grid(np.stack([canvas, shifted, out, out_shifted]), ncols=4, cmap="gray",
                    titles=["input x", "shift(x): 2 down, 3 right", "conv(x)",
                            "conv(shift(x)): same map, moved"],
                    title="Convolution is equivariant: the feature map moves with the input\n"
                          "(10 x 12 pixels, each panel its own grey scale)")

# %% [markdown]
# ## 9. Invariance: what pooling adds
#
# **Invariance** means the output does not change at all when the input shifts. Max pooling
# gives a little of it: $2 \times 2$ max pooling keeps the largest value of each window, so it
# does not notice the maximum moving *inside* a window. A single bright pixel, moved by one
# step in each direction:

# %%
pool = nn.MaxPool2d(2, stride=2)
spot = np.zeros((1, 1, 6, 6))
spot[0, 0, 2, 2] = 1.0
for dy, dx in [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2)]:
    moved = np.roll(spot, (dy, dx), axis=(2, 3))
    same = np.array_equal(pool(moved), pool(spot))
    print(f"shift ({dy}, {dx}): pooled map unchanged: {same}")

# %% [markdown]
# Moves that stay inside the $2 \times 2$ window leave the pooled map as it was. A move of 2
# crosses into the next window, and the pooled map shifts by one cell: it is equivariant again,
# on a coarser grid. Several pooling layers in a row widen the tolerance; a **global** maximum
# over the whole map ignores the position completely. The feature map of section 8, reduced to
# its maximum, does not change under the shift:

# %%
print("max of conv(x):       ", out.max())
print("max of conv(shift(x)):", out_shifted.max())

# %% [markdown]
# So a CNN's invariance to where the object is comes from convolution's *equivariance* followed
# by pooling (and, at the end, layers that read the whole map) — approximate, not exact.
#
# ## 10. Where the seed report went wrong
#
# The report (the worked solution this course starts from) gets the matrix $C$ of Task 1a right,
# but the explanation around it has slips. Each one, computed:
#
# * It calls the padded image "$7 \times 5$". It has 5 rows and 7 columns (section 2).
# * It says the window moves "one step to the **left**". It moves to the right, along a row,
#   then to the start of the next row: its top-left corner goes $(0, 0), (0, 1), \ldots,
#   (0, 4), (1, 0), \ldots$ (below, read from the animation).
# * Its sum runs from $l = 0$ to $3$: that is four rows of a kernel that has three (below).
# * In Task 1b it says the convolution layer gives the network translation **invariance**. A
#   convolution is translation **equivariant** (section 8); pooling adds the invariance
#   (section 9). The report's own example ("the features would be discovered a couple of
#   pixels to the left") describes equivariance.

# %%
order = viz.animate_convolution(P, K, padding=1).positions()    # the animation's frames
print("top-left corners of the windows, in order:", order[:6], "...")
print("kernel rows:", K.shape[0], " so u = 0 ..", K.shape[0] - 1)
try:
    K[3, 0]                                          # the seed's sum reaches index 3
except IndexError as error:
    print("K[3, 0] ->", type(error).__name__ + ":", error)

# %% [markdown]
# `python -m minitorch_cv.theory` prints all of Task 1's answers with their working; the next
# lesson does Task 1c-1g.
#
# ## Exercises
#
# Write the layers yourself and let the grader check them (it compares with the library and
# explains what is wrong). In a terminal:
#
# ```
# python -m minitorch_cv.exercises start conv2d --dir work
# python -m minitorch_cv.exercises check conv2d --dir work
# python -m minitorch_cv.exercises start maxpool2d --dir work
# python -m minitorch_cv.exercises check maxpool2d --dir work
# ```
#
# **To think about.** A max-pooling layer makes the output insensitive to a one-pixel shift
# *inside* a window but not across a window boundary (section 9). Is a network with three
# pooling layers then invariant to every shift of up to 7 pixels? Try to build a shift of a
# single pixel that changes the output of three stacked $2 \times 2$ poolings.
