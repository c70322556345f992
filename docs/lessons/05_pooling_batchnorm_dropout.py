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
# # Lesson 5: Pooling, batch norm and dropout
#
# **After this lesson** you can say where max pooling and average pooling send the gradient,
# write batch normalization's forward and backward pass and explain what it does to the
# gradient, use dropout's `p` the right way round, and know why `model.eval()` changes a
# network's predictions. These are the layers of **Task 2** (max pooling) and **Task 3**
# (batch norm and dropout in Networks 1 and 2).
#
# **Needs:** nothing but `minitorch_cv` (no data, no PyTorch).
#
# **Takes:** about 4 s on a 2-core Intel Xeon (measured on a quiet machine; 12 s with other
# jobs sharing the cores).

# %%
# %matplotlib inline
import numpy as np

from minitorch_cv import functional as F
from minitorch_cv import models, nn, optim, reference, viz
from minitorch_cv.gradcheck import gradcheck

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Max pooling: the gradient goes to the winner
#
# `nn.MaxPool2d(2)` keeps the largest number of every 2x2 window. Only that number influenced
# the output, so only it receives the gradient:
#
# $$\mathtt{dx}[n, c, r, s] = \sum_{(i, j):\ (r, s) = \operatorname{argmax}\text{ of window }(i, j)}
# \mathtt{dout}[n, c, i, j],$$
#
# and every other pixel of the window gets 0. The forward pass remembers the position of each
# maximum (its cache); the backward pass is a scatter.
#
# *Predict, then run:* a 6x6 image of distinct numbers, 2x2 windows, and `dout` = 1, 2, ..., 9.
# Where are the nine non-zero entries of `dx`, and what are they?

# %% mystnb={"image": {"alt": "Four labelled grids: a 6 x 6 input, the 3 x 3 maxima of its 2 x 2 windows, a 3 x 3 upstream gradient dout with values 1 to 9, and dx, which is 0 everywhere except at the position of each window's maximum, where it holds that window's dout value"}}
x = rng.permutation(36).astype(np.float64).reshape(1, 1, 6, 6)
pool = nn.MaxPool2d(kernel_size=2, stride=2)
out = pool(x)
dout = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
dx = pool.backward(dout)
viz.matrices_figure([x[0, 0], out[0, 0], dout[0, 0], dx[0, 0]],
                    titles=["input x", "out = max of each 2x2", "dout", "dx"],
                    value_format="{:.0f}",
                    title="Max pooling: each dout lands on its window's maximum, the rest get 0")

# %% [markdown]
# Three quarters of `dx` is zero: in a max-pooled network most pixels learn nothing from a
# given image. The textbook version (`reference.maxpool2d_backward`, `np.add.at` on the stored
# positions) gives the same numbers:

# %%
_, cache = reference.maxpool2d_forward(x, 2, 2)
print("textbook == nn.MaxPool2d:", np.array_equal(reference.maxpool2d_backward(dout, cache), dx))

# %% [markdown]
# **Ties.** Max pooling is not differentiable where two numbers of a window are equal. The
# library, like PyTorch, sends the whole gradient to the **first** maximum in row-major order
# (top row first, left to right). *Predict:* a window full of 5s?

# %%
tie = np.full((1, 1, 2, 2), 5.0)
pool = nn.MaxPool2d(2)
pool(tie)
print(pool.backward(np.ones((1, 1, 1, 1)))[0, 0])

# %% [markdown]
# **Overlapping windows.** With `stride < kernel_size` (ResNet18's first pooling is 3x3 with
# stride 2) a pixel can be the maximum of several windows, and it receives the sum of their
# gradients. With `dout` all ones, `dx` counts how many windows each pixel won:

# %% mystnb={"image": {"alt": "Two labelled 7 x 7 grids: the input, and dx for 3 x 3 max pooling with stride 2 and a gradient of ones, which counts how many of the overlapping windows each pixel won (a pixel that is the maximum of two windows gets 2)"}}
x = rng.permutation(49).astype(np.float64).reshape(1, 1, 7, 7)
pool = nn.MaxPool2d(kernel_size=3, stride=2)
pool(x)
dx = pool.backward(np.ones((1, 1, 3, 3)))
viz.matrices_figure([x[0, 0], dx[0, 0]], titles=["input x (7x7)", "dx: windows won"],
                    value_format="{:.0f}", title="3x3 max pooling, stride 2: overlapping windows")

# %% [markdown]
# ## 2. Average pooling: everyone gets a share
#
# `nn.AvgPool2d(2)` outputs the mean of each window, so each of its $K_h K_w$ pixels had weight
# $1/(K_h K_w)$:
#
# $$\mathtt{dx}[\text{window } (i, j)] \mathrel{+}= \mathtt{dout}[i, j] / (K_h K_w).$$

# %% mystnb={"image": {"alt": "Two labelled grids: a 3 x 3 upstream gradient, and the 6 x 6 dx of 2 x 2 average pooling, where each value of dout is divided by 4 and copied to the four pixels of its window"}}
x = rng.standard_normal((1, 1, 6, 6))
pool = nn.AvgPool2d(2)
pool(x)
dx = pool.backward(dout)
_, cache = reference.avgpool2d_forward(x, 2)
print("textbook - nn.AvgPool2d:", np.abs(reference.avgpool2d_backward(dout, cache) - dx).max())
viz.matrices_figure([dout[0, 0], dx[0, 0]], titles=["dout", "dx = dout / 4, spread out"],
                    value_format="{:.2f}", title="Average pooling: every pixel gets a quarter")

# %% [markdown]
# ## 3. Batch normalization, forward
#
# For each channel $c$, over its $M$ values in the batch ($M = N$ for `BatchNorm1d` on
# $(N, C)$, $M = N H W$ for `BatchNorm2d`):
#
# $$\mu = \frac{1}{M}\sum x, \quad \sigma^2 = \frac{1}{M}\sum (x - \mu)^2, \quad
# \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad \mathtt{out} = \gamma \hat x + \beta,$$
#
# and, in training mode, the running statistics that evaluation will use:
#
# $$\mathtt{running\_mean} \leftarrow 0.9\,\mathtt{running\_mean} + 0.1\,\mu, \qquad
# \mathtt{running\_var} \leftarrow 0.9\,\mathtt{running\_var} + 0.1\,\sigma^2 \frac{M}{M-1}.$$
#
# Note the two variances: **biased** ($/M$) to normalize, **unbiased** ($/(M-1)$) in
# `running_var`. PyTorch's documentation of `BatchNorm2d` says the same: the standard
# deviation "is calculated via the biased estimator, equivalent to
# `torch.var(input, unbiased=False)`. However, the value stored in the moving average of the
# standard-deviation is calculated via the unbiased estimator, equivalent to
# `torch.var(input, unbiased=True)`."

# %%
x = np.array([[1.0, 2, 3], [2, 4, 0], [3, 6, 3], [6, 0, 2]])     # N = 4 values, C = 3 channels
bn = nn.BatchNorm1d(3).to(np.float64)
out = bn(x)
mu, var = x.mean(axis=0), x.var(axis=0)                        # np.var divides by M: biased
ours = (x - mu) / np.sqrt(var + 1e-5)                            # gamma = 1, beta = 0 at first
print("largest difference to nn.BatchNorm1d:", np.abs(ours - out).max())
print("running_var:", bn.running_var, "  0.9 + 0.1 * unbiased:", 0.9 + 0.1 * x.var(axis=0, ddof=1))

# %% [markdown]
# PyTorch 2.13 gives `running_var = [1.3667, 1.5667, 1.1]` for this `x`, and
# `[-1.0690, -0.5345, 0.0, 1.6036]` for the first channel of the output (float64, run on this
# machine with `torch.nn.BatchNorm1d(3).double()`).
#
# ### The trap: the wrong variance
#
# Normalize with the unbiased variance (`np.var(x, ddof=1)`, or `torch.var`'s default) and the
# output is too small by $\sqrt{(M-1)/M}$ -- 13 % for this batch of 4; store the biased one in
# `running_var` and evaluation normalizes with a variance that is too small.

# %%
wrong = (x - mu) / np.sqrt(x.var(axis=0, ddof=1) + 1e-5)
print("channel 0, right:", out[:, 0])
print("channel 0, wrong:", wrong[:, 0], f"  ratio {wrong[0, 0] / out[0, 0]:.4f}",
      f"= sqrt(3/4) = {np.sqrt(3 / 4):.4f}")

# %% [markdown]
# ## 4. Batch normalization, backward
#
# The batch's $\mu$ and $\sigma^2$ depend on every $x$ of the batch, so the chain rule goes
# through them too. `reference.batchnorm_backward` does it step by step (`dx_hat`, then `dvar`,
# then `dmu`); collected, it is
#
# $$d\beta = \sum \mathtt{dout}, \qquad d\gamma = \sum \mathtt{dout} \odot \hat x,$$
#
# $$\mathtt{dx} = \frac{\gamma}{\sqrt{\sigma^2 + \epsilon}} \Big(\mathtt{dout} -
# \mathrm{mean}(\mathtt{dout}) - \hat x \odot \mathrm{mean}(\mathtt{dout} \odot \hat x)\Big).$$

# %%
x = rng.standard_normal((16, 3)) * 4 + 10
bn = nn.BatchNorm1d(3).to(np.float64)
out = bn(x)
dout = rng.standard_normal(out.shape)
dx = bn.backward(dout)
x_hat = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
ours = (dout - dout.mean(0) - x_hat * (dout * x_hat).mean(0)) / np.sqrt(x.var(0) + 1e-5)
print("largest difference to BatchNorm1d.backward:", np.abs(ours - dx).max())
print(gradcheck(nn.BatchNorm1d(3), x))

# %% [markdown]
# ### What it does to the gradient
#
# Read the formula: batch norm **removes** two things from `dout` before passing it on -- its
# mean, and its component along $\hat x$. So, per channel, `dx` sums to zero and is orthogonal
# to $\hat x$: no gradient can shift or stretch the whole batch, because batch norm would undo
# it. And `dx` is divided by the batch's standard deviation: scale the input by 10 and the
# output does not change, but the gradient shrinks 10 times.

# %%
print(f"per channel, largest |sum of dx|:       {np.abs(dx.sum(axis=0)).max():.1e}")
print(f"per channel, largest |sum of dx * x_hat|: {np.abs((dx * x_hat).sum(axis=0)).max():.1e}")
bn10 = nn.BatchNorm1d(3).to(np.float64)
out10 = bn10(10 * x)
dx10 = bn10.backward(dout)
print("output change when x -> 10x (only eps differs):", np.abs(out10 - out).max(),
      "  gradient ratio:", np.linalg.norm(dx) / np.linalg.norm(dx10))

# %% [markdown]
# One consequence: a bias just before batch norm is useless (batch norm subtracts it again) and
# its gradient is zero -- which is why ResNet's convolutions have `bias=False`.

# %%
pair = nn.Sequential(nn.Linear(5, 3, rng=1), nn.BatchNorm1d(3)).to(np.float64)
pair(rng.standard_normal((8, 5)))
pair.backward(rng.standard_normal((8, 3)))
print("Linear's bias gradient before BatchNorm:", pair[0].bias.grad)

# %% [markdown]
# **Deep networks.** The report explains the poor results of its sigmoid and tanh networks by
# "vanishing gradients" (Task 3c), and finds that batch norm had "little to no effect" --
# without measuring either. Here is the measurement: the gradient of each layer's weights in a
# stack of ten `Linear(32, 32)` + activation layers, at initialization, with and without a
# `BatchNorm1d` after each Linear, for sigmoid and for ReLU. *Predict:* how much smaller is the
# first layer's gradient than the last one's, with sigmoid and no batch norm?

# %%
def deep_stack(activation, batchnorm, depth=10):
    layers = []
    for k in range(depth):
        layers += [nn.Linear(32, 32, rng=k)] + ([nn.BatchNorm1d(32)] if batchnorm else [])
        layers += [activation()]
    return nn.Sequential(*layers, nn.Linear(32, 10, rng=depth)).to(np.float64)


x, y = rng.standard_normal((64, 32)), rng.integers(0, 10, 64)
norms = {}
for activation in (nn.Sigmoid, nn.ReLU):
    for batchnorm in (False, True):
        model, loss_fn = deep_stack(activation, batchnorm), nn.CrossEntropyLoss()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        name = f"Linear + {'BatchNorm1d + ' if batchnorm else ''}{activation.__name__}"
        norms[name] = [np.linalg.norm(m.weight.grad) for m in model if isinstance(m, nn.Linear)]
        print(f"{name:35s} first layer's gradient / last layer's: "
              f"{norms[name][0] / norms[name][-1]:.1e}")

# %% mystnb={"image": {"alt": "Bar chart, log scale, of the gradient norm of each of 11 Linear layers: with sigmoids alone it falls from about 0.4 at the last layer to about 1e-9 at the first; with batch norm before each sigmoid it stays near 0.2 in every layer"}}
sigmoid_norms = {name: n for name, n in norms.items() if "Sigmoid" in name}
viz.bar_chart([str(k + 1) for k in range(11)], sigmoid_norms, "norm of dL/dW (log scale)",
              xlabel="Linear layer (1 = next to the input)", log_scale=True, value_format=None,
              title="Vanishing gradients: ten sigmoid layers, with and without batch norm")

# %% [markdown]
# Without batch norm each sigmoid multiplies the gradient by at most $1/4$ (its largest slope)
# and the initial weights (PyTorch's default initialization, which the library copies) shrink
# it further: the first layer's gradient is a few billionths of the last one's, so the first
# layers barely train. With batch norm every layer's input is re-centred and re-scaled where
# the sigmoid is steep, and the gradient reaching layer 1 is as large as the others. ReLU, the
# report's activation, loses far less than sigmoid over ten layers, but not nothing at this
# initialization; with batch norm the loss is gone there too. The report's explanation of its
# sigmoid and tanh results fits this measurement -- and batch norm, which it found to have
# "little to no effect", is what removes the problem in a network deep enough to have it.

# %% [markdown]
# ## 5. Dropout: p is the probability of DROPPING
#
# In training mode `nn.Dropout(p)` zeroes each number with probability $p$ and multiplies the
# survivors by $1/(1-p)$ ("inverted dropout"), so the expected output equals the input and
# nothing needs rescaling at test time:
#
# $$\mathtt{mask} = [u \ge p] / (1 - p), \quad u \sim U[0, 1), \qquad
# \mathtt{out} = x \odot \mathtt{mask}, \qquad \mathtt{dx} = \mathtt{dout} \odot \mathtt{mask}.$$
#
# The backward pass uses the **same** mask: a dropped unit gets no gradient on that step.
# PyTorch's documentation of `Dropout` says the same: elements are zeroed "with probability
# `p`", and "the outputs are scaled by a factor of $\frac{1}{1-p}$ during training".

# %%
drop = nn.Dropout(p=0.2, rng=0)
x = np.ones((2, 10))
out = drop(x)
print(out)
print("dx:", drop.backward(np.full((2, 10), 0.5))[0])

# %% [markdown]
# The library's fast and textbook dropout draw the same numbers from the same generator, so
# their masks are equal bit for bit:

# %%
x = rng.standard_normal((4, 8))
fast, _ = F.dropout_forward(x, 0.3, np.random.default_rng(7))
textbook, _ = reference.dropout_forward(x, 0.3, np.random.default_rng(7))
print("same output, bit for bit:", np.array_equal(fast, textbook))

# %% [markdown]
# ### The trap: p the wrong way round
#
# Some libraries took the probability of *keeping* (TensorFlow 1's `keep_prob`). Someone who
# wants to keep 90 % of the units and writes `nn.Dropout(0.9)` drops 90 % instead. The mean is
# still right -- the survivors are multiplied by 10 -- so nothing looks broken, but the noise is
# enormous: the standard deviation of the mask is $\sqrt{p/(1-p)}$, 0.33 for $p = 0.1$ and 3
# for $p = 0.9$.

# %%
x = np.ones((1000, 1000))
for p in (0.1, 0.9):
    out = nn.Dropout(p, rng=1)(x)
    print(f"nn.Dropout({p}): dropped {np.mean(out == 0):.3f} of the units, "
          f"survivors x {out.max():.3g}, mean {out.mean():.3f}, std {out.std():.3f}")

# %% [markdown]
# The seed report's "Dropout, rate = 0.05" (Table 3) and "rate = 0.1" (Table 5) are PyTorch's
# `p`: 5 % and 10 % dropped. Two of its sentences need correcting, though. Task 3c says a high
# dropout rate means "fewer connections between the layers, and fewer weights": no weight is
# removed -- every step trains a random sub-network, and at test time all units and all weights
# are used. And Task 3e says "dropout was removed from the fully connected network when
# performing classification": that is what `model.eval()` does anyway (next section); nothing
# has to be removed by hand.

# %% [markdown]
# ## 6. Train mode vs eval mode
#
# Two layers behave differently in the two modes:
#
# | layer | `model.train()` | `model.eval()` |
# |---|---|---|
# | BatchNorm | the batch's $\mu, \sigma^2$; updates the running ones | the running statistics |
# | Dropout | random mask, scaled by $1/(1-p)$ | the identity |
#
# A small network with both, trained for 300 steps on a synthetic problem (4 classes of points
# in 20 dimensions -- no data needed):

# %%
data_rng = np.random.default_rng(5)
centres = data_rng.standard_normal((4, 20)) * 0.5               # overlapping classes


def points(n):
    labels = data_rng.integers(0, 4, n)
    return centres[labels] + data_rng.standard_normal((n, 20)), labels


model = nn.Sequential(nn.Linear(20, 64, rng=1), nn.BatchNorm1d(64), nn.ReLU(),
                      nn.Dropout(0.5, rng=2), nn.Linear(64, 4, rng=3))
opt, loss_fn = optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss()
for step in range(300):
    xb, yb = points(32)
    loss_fn(model(xb.astype(np.float32)), yb)
    model.backward(loss_fn.backward())
    opt.step()
    opt.zero_grad()

# %% [markdown]
# *Predict:* we give the trained network the same 500 test points twice in eval mode and twice
# in training mode. Which predictions change?

# %%
x_test, y_test = points(500)
x_test = x_test.astype(np.float32)
with nn.no_grad():
    model.eval()
    eval_1, eval_2 = model(x_test).argmax(1), model(x_test).argmax(1)
    model.train()                                   # the trap: evaluating in training mode
    train_1, train_2 = model(x_test).argmax(1), model(x_test).argmax(1)
print(f"eval : accuracy {np.mean(eval_1 == y_test):.3f}, the two runs agree on "
      f"{np.mean(eval_1 == eval_2):.1%} of the points")
print(f"train: accuracy {np.mean(train_1 == y_test):.3f}, the two runs agree on "
      f"{np.mean(train_1 == train_2):.1%} of the points")

# %% [markdown]
# In training mode the same input gets different answers (a new dropout mask each time), and
# the accuracy drops. Batch norm adds a second effect: one point's prediction depends on which
# other points share its batch, since the statistics are the batch's. To see it alone, put only
# the Dropout layer in eval mode and predict the first 8 test points twice: in the batch of 500,
# and on their own.

# %%
with nn.no_grad():
    model.train()
    model[3].eval()                                     # Dropout off, BatchNorm1d still training
    in_big_batch = model(x_test)[:8].argmax(1)
    on_their_own = model(x_test[:8]).argmax(1)
    model.eval()
print("batch norm in train mode, in a batch of 500:", in_big_batch)
print("batch norm in train mode, the 8 on their own:", on_their_own)
print("eval mode (either way):                      ", model(x_test[:8]).argmax(1))

# %% [markdown]
# Evaluation needs `model.eval()`; the library's `Trainer` calls it before every validation pass
# and `model.train()` after.
#
# And the classic crash: one image through a network with `BatchNorm1d` in training mode. Its
# per-channel variance over a batch of one is 0, so the library refuses, as PyTorch does
# (Task 3's Network 1 here, untrained):

# %%
network1 = models.network1(rng=0)
image = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
try:
    network1(image)
except ValueError as error:
    print("train mode:", error)
print("eval mode: logits", network1.eval()(image)[0, :4], "...")

# %% [markdown]
# ## Exercises
#
# Write the layers yourself; the grader checks forward, backward, train and eval modes, and
# names classic mistakes (unbiased variance in the normalization, a mask that ignores `p`,
# ties sent to the last maximum):
#
# ```
# python -m minitorch_cv.exercises start maxpool2d --dir work
# python -m minitorch_cv.exercises check maxpool2d --dir work
# python -m minitorch_cv.exercises start batchnorm --dir work
# python -m minitorch_cv.exercises check batchnorm --dir work
# python -m minitorch_cv.exercises start dropout --dir work
# python -m minitorch_cv.exercises check dropout --dir work
# ```
#
# (`avgpool2d` is there too.)
#
# **To think about.** Batch norm in eval mode is a fixed affine map per channel,
# $\mathtt{out} = a \cdot x + b$. A convolution followed by it is therefore another convolution.
# What are the new weights and bias? Why can this "folding" only be done after training?
