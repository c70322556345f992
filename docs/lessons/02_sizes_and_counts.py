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
# # Lesson 2: Sizes and counts
#
# **After this lesson** you can predict the shape of every feature map of a convolutional
# network, choose the padding that keeps a size and the kernel size that produces one, count a
# network's parameters by hand, read `theory.summary`, and work out how much of the image one
# unit sees (its receptive field). This is **Task 1c to 1g** of the assignment.
#
# **Needs:** nothing but `minitorch_cv` (no data, no PyTorch).
#
# **Takes:** about 2 s on a 2-core Intel Xeon (measured on a quiet machine; 15 s with other
# jobs sharing the cores).

# %%
# %matplotlib inline
import numpy as np
from matplotlib.patches import Rectangle

from minitorch_cv import models, nn, theory, viz

# %% [markdown]
# ## 1. One formula for every layer with a window
#
# A convolution or pooling layer with kernel size $F$, stride $S$ and $P$ zeros of padding on
# each side turns an input of height $H$ into an output of height
#
# $$H_{out} = \left\lfloor \frac{H + 2P - F}{S} \right\rfloor + 1$$
#
# and the width likewise. The padded input has $H + 2P$ rows; the first window starts at row 0,
# the last one must end inside, and windows start every $S$ rows. The floor $\lfloor\cdot\rfloor$
# matters when $S$ does not divide $H + 2P - F$: the rows left over at the bottom are dropped.
#
# **Predict** the output height for each row of the table below, then run the cell. It asks
# `theory.conv_output_size` and then *runs* a real `nn.Conv2d` on a zero image to read the
# shape off its output.

# %%
cases = [  # (H, F, S, P)
    (32, 5, 1, 2), (32, 3, 1, 0), (32, 3, 2, 1), (33, 4, 2, 0), (28, 7, 3, 0)]
for h, f, s, p in cases:
    predicted = theory.conv_output_size(h, kernel_size=f, stride=s, padding=p)
    layer = nn.Conv2d(1, 1, kernel_size=f, stride=s, padding=p)
    with nn.no_grad():
        measured = layer(np.zeros((1, 1, h, h), dtype=np.float32)).shape[2]
    print(f"H={h:2d} F={f} S={s} P={p}:  (H+2P-F)/S + 1 = {(h + 2 * p - f) / s + 1:5.2f}"
          f"  ->  formula {predicted:2d}, Conv2d {measured:2d}")

# %% [markdown]
# The two cases with a fraction are the **trap**: a textbook that asks for a whole number would
# call them impossible; PyTorch and this library round down and silently ignore the last row(s).
# `exact=True` gives the textbook's answer, an error that says what does not divide:

# %%
try:
    theory.conv_output_size(33, kernel_size=4, stride=2, exact=True)
except ValueError as error:
    print("ValueError:", error)

# %% [markdown]
# ## 2. Task 1c: the padding that keeps the size
#
# With stride 1 we want $H_{out} = H$: $H = H + 2P - F + 1$, so $2P = F - 1$ and
#
# $$P = \frac{F - 1}{2}.$$
#
# For the $5 \times 5$ kernels of the Task 2 network, $P = 2$.

# %%
pad = theory.same_padding(5)
print("same_padding(5) =", pad)
conv = nn.Conv2d(3, 32, kernel_size=5, padding=pad)
with nn.no_grad():
    print("Conv2d(3, 32, 5, padding=2) on 32x32 ->", conv(np.zeros((1, 3, 32, 32), np.float32)).shape)

# %% [markdown]
# $P$ is a whole number only for odd $F$. **Predict:** what padding keeps the size for a
# $4 \times 4$ kernel? And for a $3 \times 3$ kernel with stride 2?

# %%
for kwargs in [{"kernel_size": 4}, {"kernel_size": 3, "stride": 2}]:
    try:
        theory.same_padding(**kwargs)
    except ValueError as error:
        print(f"same_padding({kwargs}):", error, "\n")

# %% [markdown]
# ## 3. Task 1d: which kernel size?
#
# The first layer of Task 1d maps $512 \times 512$ images, without padding and with stride 1,
# to $504 \times 504$ feature maps. Solve the formula for $F$:
#
# $$504 = 512 + 2 \cdot 0 - F + 1 \quad\Rightarrow\quad F = 512 - 504 + 1 = 9.$$

# %%
f = theory.kernel_size_for(512, 504, stride=1, padding=0)
print("kernel_size_for(512, 504) =", f)
print("check: conv_output_size(512, 9) =", theory.conv_output_size(512, kernel_size=f))

# %% [markdown]
# **Where the seed report went wrong.** It writes the input as $514 \times 514$ and then
# computes with 512. Its answer, 9, is right for the assignment's 512; from 514 the formula gives
# a different kernel:

# %%
print("from 514:", theory.kernel_size_for(514, 504), " from 512:", theory.kernel_size_for(512, 504))

# %% [markdown]
# ## 4. Task 1e and 1f: pooling, then another convolution
#
# Pooling uses the same formula; its stride defaults to its kernel size. $2 \times 2$ pooling
# with stride 2 on the $504 \times 504$ maps, then a $3 \times 3$ convolution with stride 1 and
# no padding. **Predict** both sizes, then run the real layers on a zero map.

# %%
pooled = theory.pool_output_size(504, kernel_size=2, stride=2)
after_conv = theory.conv_output_size(pooled, kernel_size=3)
print("formula:", 504, "->", pooled, "->", after_conv)

x = np.zeros((1, 1, 504, 504), dtype=np.float32)
with nn.no_grad():
    y = nn.MaxPool2d(2, stride=2)(x)
    z = nn.Conv2d(1, 1, kernel_size=3)(y)
print("layers: ", x.shape[2], "->", y.shape[2], "->", z.shape[2])

# %% [markdown]
# ## 5. Task 1g: counting parameters
#
# A convolution has one $F_h \times F_w$ kernel per input channel for each of its $C_{out}$
# filters, plus one bias per filter:
#
# $$\#\text{conv} = (F_h F_w C_{in} + 1)\, C_{out}, \qquad
#   \#\text{linear} = (n_{in} + 1)\, n_{out}.$$
#
# ReLU, pooling and flattening have no parameters. The Task 2 network:

# %%
model = models.task2_model()
total = 0
for name, layer in model.named_modules():
    if isinstance(layer, nn.Conv2d):
        (fh, fw), cin, cout = layer.kernel_size, layer.in_channels, layer.out_channels
        by_hand = (fh * fw * cin + 1) * cout
        print(f"{name:>2} Conv2d  ({fh}*{fw}*{cin} + 1)*{cout} = {by_hand:7,}", end="")
    elif isinstance(layer, nn.Linear):
        by_hand = (layer.in_features + 1) * layer.out_features
        print(f"{name:>2} Linear  ({layer.in_features} + 1)*{layer.out_features} = "
              f"{by_hand:7,}", end="")
    else:
        continue
    print(f"   param_count: {theory.param_count(layer):7,}")
    total += by_hand
print(f"total by hand {total:,}; theory.param_count(model) = {theory.param_count(model):,}")

# %% [markdown]
# The number that needs thought is the 2048 inputs of the first linear layer: 128 channels times
# the spatial size left after three conv + pool blocks. Each convolution keeps the size
# (padding 2), each pooling halves it: $32 \to 16 \to 8 \to 4$, and $128 \cdot 4 \cdot 4 = 2048$.
#
# **The trap.** Two classic slips, each a different wrong total: leaving out the bias, and
# leaving out the input channels (a kernel has a slice for *every* input channel).

# %%
convs = [(5, 3, 32), (5, 32, 64), (5, 64, 128)]                 # (F, C_in, C_out)
linears = [(2048, 64), (64, 10)]
right = sum((f * f * ci + 1) * co for f, ci, co in convs) + sum((i + 1) * o for i, o in linears)
no_bias = sum(f * f * ci * co for f, ci, co in convs) + sum(i * o for i, o in linears)
no_channels = sum((f * f + 1) * co for f, ci, co in convs) + sum((i + 1) * o for i, o in linears)
print(f"right: {right:,}   without biases: {no_bias:,}   without C_in: {no_channels:,}")

# %% [markdown]
# **Predict, then run:** if the three convolutions had *no* padding, how many inputs would the
# first linear layer get?

# %%
size = 32
try:
    for block in range(1, 4):
        size = theory.conv_output_size(size, kernel_size=5)
        print(f"block {block}: conv -> {size}x{size}", end="")
        size = theory.pool_output_size(size, kernel_size=2)
        print(f", pool -> {size}x{size}")
except ValueError as error:
    print(f"\nValueError: {error}")

# %% [markdown]
# A trick question: the network cannot be built. Each $5 \times 5$ convolution without padding
# removes 4 rows, and by the third block the map is $1 \times 1$, too small for a $2 \times 2$
# pooling window. Padding is not only about keeping sizes tidy; without it, deep networks on
# small images run out of image. (A real `nn.MaxPool2d` raises the same error.)

# %% [markdown]
# ## 6. `theory.summary`: the whole table, measured
#
# You do not have to do this by hand for every network. `theory.summary` runs a zero image
# through the model and records every layer's output shape and parameter count (the shapes are
# measured, not derived from the formula, so they check it):

# %%
print(theory.summary(models.task2_model(), input_shape=(1, 3, 32, 32)))

# %% [markdown]
# This agrees with the seed report's 390,410. (The softmax in the report's table is not a layer
# of this model: `nn.CrossEntropyLoss` takes the raw scores and applies it inside the loss.)
#
# ## 7. Receptive field: how much of the image one unit sees
#
# One number of a feature map depends on a patch of the input image, its **receptive field**.
# A $5 \times 5$ convolution on the image: $5 \times 5$ pixels. A second $5 \times 5$
# convolution on top sees 5 neighbouring positions of the first map per axis, and they cover
# $5 + 4 = 9$ pixels. Pooling with stride 2 spreads the next layer's positions 2 pixels apart,
# so later kernels grow the field faster. With $r$ the field size and $j$ the distance in
# pixels between neighbouring positions ("jump"), starting from $r = j = 1$, a layer with kernel
# $F$ and stride $S$ gives
#
# $$r \leftarrow r + (F - 1)\, j, \qquad j \leftarrow j\, S.$$
#
# Padding moves the field but does not change its size. Layer by layer for the Task 2 network,
# by hand and with `theory.receptive_field`:

# %%
model = models.task2_model()
fields = theory.receptive_field(model)
r, j = 1, 1
for (name, layer), field in zip(list(model.named_modules())[1:], fields):
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
        f, s = layer.kernel_size[0], layer.stride[0]
        r, j = r + (f - 1) * j, j * s
    by_hand = "whole image" if isinstance(layer, nn.Flatten) else f"r={r}, j={j}"
    print(f"{name:>2} {type(layer).__name__:10s} by hand: {by_hand:12s}"
          f"theory.receptive_field: size {field.size}, jump {field.jump}")

# %% [markdown]
# After the third convolution every unit sees $32 \times 32$ pixels, as much as the whole image,
# and after the last pooling $36 \times 36$: near the border part of that field is padding. From
# `Flatten` on every number depends on the whole image (`size=None`).
#
# **See it.** Take one unit in the middle of a feature map of the real network (random weights),
# send a gradient of 1 back from it alone, and look at which input pixels receive a gradient:
# those are the pixels it depends on.

# %%
rng = np.random.default_rng(0)
net = models.task2_model(rng=np.random.default_rng(0)).to(np.float64)
x = rng.standard_normal((1, 3, 32, 32))
maps, titles, sizes = [], [], []
for last in (0, 3, 6):                                # the three convolutions
    prefix = nn.Sequential(*list(net)[:last + 1])
    out = prefix(x)
    dout = np.zeros_like(out)
    dout[0, 0, out.shape[2] // 2, out.shape[3] // 2] = 1.0
    maps.append(np.abs(prefix.backward(dout)[0]).sum(axis=0) > 0)
    titles.append(f"layer {last}: Conv2d, {out.shape[2]}x{out.shape[3]} map")
    sizes.append(out.shape[2])
fig = viz.activation_grid(np.stack(maps), ncols=3, titles=titles, cmap="gray", size=3.2,
                          title="Input pixels (32 x 32 image, dashed) that one unit depends on "
                                "(white); red: receptive field by the formula")

# %% [markdown]
# To draw the formula's square we need where it sits. The centre of output position $i$ is at
# input pixel $c_0 + i\,j$; the first centre $c_0$ starts at 0 and moves by
# $\left(\frac{F-1}{2} - P\right) j$ at each layer (padding moves the field up and left).

# %% mystnb={"image": {"alt": "Three 32 x 32 panels, one per convolution of the network: the input pixels one output unit depends on, in white, grow from a small square after the first layer to most of the image after the third, each filling the red square the receptive-field formula gives"}}
c, j, centres = 0.0, 1, {}
for name, layer in list(net.named_modules())[1:8]:
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
        f, s, p = layer.kernel_size[0], layer.stride[0], layer.padding[0]
        c, j = c + ((f - 1) / 2 - p) * j, j * s
    centres[name] = (c, j)
for ax, last, size in zip(fig.axes, (0, 3, 6), sizes):
    c, j = centres[str(last)]
    middle, r = c + (size // 2) * j, fields[last].size[0]
    ax.add_patch(Rectangle((middle - r / 2, middle - r / 2), r, r, fill=False,
                           edgecolor="red", linewidth=2))
    ax.add_patch(Rectangle((-0.5, -0.5), 32, 32, fill=False, edgecolor="0.6", linestyle="--"))
    ax.set_xlim(-4.5, 35.5)                           # room for the padding around the image
    ax.set_ylim(35.5, -4.5)
    inside = maps[(0, 3, 6).index(last)].sum()
    print(f"layer {last}: field {r}x{r} centred at ({middle}, {middle}); {inside} of the "
          f"image's pixels reach the unit")
fig

# %% [markdown]
# The white pixels fill the red squares exactly, as far as they lie on the image: $5^2 = 25$,
# $14^2 = 196$, and for the third convolution $30 \times 30 = 900$, because 2 rows and 2 columns
# of its $32 \times 32$ field are padding. Max pooling sends the gradient to one position per
# window and ReLU stops it where a unit is off, yet with 32 to 128 channels some path still
# reaches every pixel of the field. No white pixel lies outside: the formula is the most a unit
# can see.
#
# ## Exercises
#
# Write Task 1's functions yourself; the grader checks them against the library and says what is
# wrong. In a terminal:
#
# ```
# python -m minitorch_cv.exercises start conv_output_size --dir work
# python -m minitorch_cv.exercises check conv_output_size --dir work
# python -m minitorch_cv.exercises start kernel_size_for --dir work
# python -m minitorch_cv.exercises check kernel_size_for --dir work
# python -m minitorch_cv.exercises start param_count --dir work
# python -m minitorch_cv.exercises check param_count --dir work
# ```
#
# **To think about.** Two stacked $3 \times 3$ convolutions (stride 1) have the receptive field
# of one $5 \times 5$ convolution, and three have that of a $7 \times 7$. With $C$ channels in
# and out of every layer, compare their parameter counts. Why might a network designer prefer
# the stack, and what does it add besides fewer parameters?
