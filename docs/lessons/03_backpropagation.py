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
# # Lesson 3: Backpropagation through a layer
#
# **After this lesson** you can derive the backward pass of a fully connected layer, of ReLU
# and of softmax cross-entropy from the chain rule, compute it in three lines of NumPy, explain
# why gradients *accumulate*, and prove a backward pass right (or wrong) with `gradcheck`.
# This is the machinery under the network of **Task 2** (and every network after it).
#
# **Needs:** nothing but `minitorch_cv` (no data, no PyTorch).
#
# **Takes:** about 3 s on a 2-core Intel Xeon (measured on a quiet machine; 10 s with other
# jobs sharing the cores).

# %%
# %matplotlib inline
import numpy as np

from minitorch_cv import nn, optim, reference, viz
from minitorch_cv.gradcheck import gradcheck, gradcheck_function

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 1. What a layer's backward pass receives and returns
#
# A network computes a scalar loss $L$ from its input through layers. Each layer maps its input
# `x` to an output `out`. The backward pass runs the layers in reverse; each receives
#
# $$\mathtt{dout} = \frac{\partial L}{\partial\, \mathtt{out}}$$
#
# (same shape as `out`) and must return $\mathtt{dx} = \partial L / \partial x$ (same shape as
# `x`), after adding $\partial L/\partial p$ into `p.grad` for each of its parameters `p`.
# The chain rule is the whole story: for every number $x_i$ that `out` depends on,
#
# $$\frac{\partial L}{\partial x_i} = \sum_k \frac{\partial L}{\partial\, \mathtt{out}_k}\,
# \frac{\partial\, \mathtt{out}_k}{\partial x_i}.$$
#
# A layer never needs to know what comes after it: `dout` sums it all up.

# %% [markdown]
# ## 2. Linear: three products, read off the shapes
#
# `nn.Linear(D, M)` holds $W$ of shape $(M, D)$ (PyTorch's layout) and $b$ of shape $(M,)$.
# For a batch $x$ of shape $(N, D)$:
#
# $$\mathtt{out}[n, m] = \sum_d x[n, d]\, W[m, d] + b[m], \qquad \mathtt{out}: (N, M).$$
#
# Apply the chain rule to one entry at a time. $W[m, d]$ appears in $\mathtt{out}[n, m]$ for
# every $n$, with factor $x[n, d]$; $x[n, d]$ appears in $\mathtt{out}[n, m]$ for every $m$,
# with factor $W[m, d]$; $b[m]$ appears in $\mathtt{out}[n, m]$ for every $n$, with factor 1:
#
# $$\frac{\partial L}{\partial W[m,d]} = \sum_n \mathtt{dout}[n,m]\, x[n,d], \quad
# \frac{\partial L}{\partial x[n,d]} = \sum_m \mathtt{dout}[n,m]\, W[m,d], \quad
# \frac{\partial L}{\partial b[m]} = \sum_n \mathtt{dout}[n,m].$$
#
# As matrix products: `dW = dout.T @ x`, `dx = dout @ W`, `db = dout.sum(axis=0)`. **The
# shapes check you**: `dW` must be $(M, D)$, and from `dout` $(N, M)$ and `x` $(N, D)$ the only
# product with that shape is `dout.T @ x`.
#
# *Predict, then run:* what shapes do `dW`, `dx` and `db` have for $N=5$, $D=4$, $M=3$?

# %%
rng = np.random.default_rng(0)
layer = nn.Linear(4, 3, rng=1).to(np.float64)     # W: (3, 4), b: (3,)
x = rng.standard_normal((5, 4))                   # N = 5 inputs of D = 4 numbers
out = layer(x)                                    # (5, 3)
dout = rng.standard_normal(out.shape)             # pretend the rest of the network sent this
dx = layer.backward(dout)                         # adds into layer.weight.grad, layer.bias.grad

W = layer.weight.data
dW, dx_numpy, db = dout.T @ x, dout @ W, dout.sum(axis=0)
print("shapes: dW", dW.shape, " dx", dx_numpy.shape, " db", db.shape)
print("largest difference to nn.Linear.backward:",
      np.abs(dW - layer.weight.grad).max(), np.abs(dx_numpy - dx).max(),
      np.abs(db - layer.bias.grad).max())

# %% [markdown]
# Our three lines and the library agree to the last bits of float64 (the library runs the same
# products; `minitorch_cv.reference.linear_backward` is exactly these three lines).
# Notice the **bias gradient is a sum over the batch**, not a mean: if the loss is a mean, the
# $1/N$ is already inside `dout` (section 4).

# %% [markdown]
# ## 3. ReLU: a gate
#
# $\mathtt{out} = \max(x, 0)$, element by element, so $\partial\,\mathtt{out}_i/\partial x_i$ is
# 1 where $x_i > 0$ and 0 elsewhere (at exactly 0 PyTorch, and this library, take 0):
#
# $$\mathtt{dx} = \mathtt{dout} \odot [x > 0].$$
#
# The gradient passes where the unit was on and is blocked where it was off.
#
# *Predict:* which entries of `dx` are zero below?

# %%
relu = nn.ReLU()
x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
out = relu(x)
dout = np.array([[10.0, 20.0, 30.0, 40.0, 50.0]])
print("out       ", out)
print("dx (ReLU) ", relu.backward(dout))
print("dx (NumPy)", dout * (x > 0))

# %% [markdown]
# A unit that is off for every input of the training set never receives a gradient again: a
# "dead ReLU". That is one reason learning rates that are too high can kill a network.

# %% [markdown]
# ## 4. Softmax cross-entropy: the gradient is (p - onehot) / N
#
# The network's last layer gives $K$ scores (*logits*) $z_n$ per image; the loss turns them into
# probabilities with the softmax and takes minus the log-probability of the true class $y_n$:
#
# $$p_{nk} = \frac{e^{z_{nk}}}{\sum_j e^{z_{nj}}}, \qquad
# L = -\frac{1}{N} \sum_n \log p_{n y_n} = \frac{1}{N}\sum_n
# \Big(\log \sum_j e^{z_{nj}} - z_{n y_n}\Big).$$
#
# Differentiate the right-hand form by $z_{nk}$: the log-sum-exp gives $p_{nk}$ and the second
# term gives $-1$ when $k = y_n$. So
#
# $$\frac{\partial L}{\partial z_{nk}} = \frac{p_{nk} - [k = y_n]}{N},
# \qquad \mathtt{dz} = (p - \mathrm{onehot}(y)) / N.$$
#
# Predicted probability minus the truth: the simplest gradient in deep learning, which is why
# softmax and cross-entropy are always fused into one layer.

# %%
z = rng.standard_normal((4, 10))                 # logits: N = 4 images, K = 10 classes
y = np.array([3, 0, 9, 3])
loss_fn = nn.CrossEntropyLoss()
loss = loss_fn(z, y)
p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
onehot = np.eye(10)[y]
print(f"loss: library {loss:.10f}   NumPy {-np.log(p[np.arange(4), y]).mean():.10f}")
print("largest difference of dz to loss_fn.backward():",
      np.abs((p - onehot) / 4 - loss_fn.backward()).max())

# %% [markdown]
# For the first image: the softmax, the one-hot truth, and their difference, which is the
# gradient times $N$. Gradient descent moves the logits *against* it: the true class up, every
# other class down in proportion to its probability.

# %% mystnb={"image": {"alt": "Bar chart over the 10 classes of image 0: the softmax probabilities p, the one-hot label (1 at the true class), and their difference p - onehot, negative only at the true class: the gradient of the loss with respect to the logits"}}
viz.bar_chart(range(10), {"p = softmax(z)": p[0], "onehot(y)": onehot[0],
                          "N * dz = p - onehot": p[0] - onehot[0]},
              "value", xlabel="class k", value_format=None,
              title=f"Image 0 (true class {y[0]}): the gradient is p - onehot")

# %% [markdown]
# *Predict:* what is `dz` for an image the network classifies correctly with probability 1?
# (Zero: nothing to learn from it.) And for one it gets confidently wrong? ($-1/N$ at the true
# class, $+1/N$ at the wrong winner: the largest push there is.)

# %% [markdown]
# ### The trap: the naive softmax overflows
#
# The formula above, typed as is, computes $e^{z}$. For $z = 1000$ that is larger than any
# float64 ($e^{709.8}$ is the limit; float32 overflows already at $e^{88.7}$), so it becomes
# `inf`, and `inf / inf` is `nan`. Since $\mathrm{softmax}(z) = \mathrm{softmax}(z - c)$ for
# any constant $c$, subtract the largest logit first: the biggest exponent is then $e^0 = 1$.

# %%
z = np.array([[1000.0, 1001.0, 1002.0]])
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(z) / np.exp(z).sum()
shifted = z - z.max()
stable = np.exp(shifted) / np.exp(shifted).sum()
print("naive softmax :", naive)
print("stable softmax:", stable)
print("library loss for class 2:", nn.CrossEntropyLoss()(z, np.array([2])))

# %% [markdown]
# The library's loss (and `reference.cross_entropy_forward`) subtracts the maximum. PyTorch
# 2.13 gives `0.40760594606399536` for the same logits in float32
# (`torch.nn.functional.cross_entropy(torch.tensor([[1000., 1001., 1002.]]), torch.tensor([2]))`,
# run on this machine); the exact value is $\log(1 + e^{-1} + e^{-2}) = 0.407606\ldots$

# %% [markdown]
# ### The report's Table 1: where the softmax goes
#
# The seed report's Table 1 lists "Softmax" as the activation of the last layer. Read literally,
# as a layer of the network, that is a bug: the softmax is *inside* `CrossEntropyLoss` (here as
# in PyTorch, whose `CrossEntropyLoss` takes logits). Put an `nn.Softmax()` layer in front of
# the loss and the softmax is applied twice: the "logits" the loss sees are probabilities in
# $[0, 1]$, so even a perfect, confident network cannot get the loss below
# $\log(1 + 9/e) \approx 1.46$ for 10 classes. And at the start of training, when
# every logit is about 0, the gradient that reaches the network is 10 times smaller (the
# softmax's own derivative, $p(1-p)$-like, is about $0.1$ there).

# %%
z = np.array([[20.0, 0, 0, 0, 0, 0, 0, 0, 0, 0]])      # a confident, correct network
y = np.array([0])
right = nn.CrossEntropyLoss()
right_loss = right(z, y)
softmax, twice = nn.Softmax(), nn.CrossEntropyLoss()
twice_loss = twice(softmax(z), y)
print(f"loss on logits      : {right_loss:.2e}")
print(f"loss after Softmax(): {twice_loss:.4f}   (log(1 + 9/e) = {np.log(1 + 9 / np.e):.4f})")
z0 = np.zeros((1, 10))                                   # an untrained network
right(z0, y)
twice(softmax(z0), y)
print("size of dz at the start, sum |dz|: on logits", np.abs(right.backward()).sum(),
      "  after Softmax()", np.abs(softmax.backward(twice.backward())).sum())

# %% [markdown]
# The library's Task 2 model (`models.task2_model()`) ends with `Linear(64, 10)`: no softmax.

# %% [markdown]
# ## 5. Gradients accumulate
#
# `backward` does `p.grad += dL/dp`; it never overwrites. This is PyTorch's rule too, and it is
# useful: a batch too large for memory can be split in parts whose gradients add up. But a
# training loop that forgets `optimizer.zero_grad()` adds every step's gradient to all the old
# ones.
#
# *Predict:* we run one forward pass and then call `backward` twice, without `zero_grad()` in
# between. What is `weight.grad` after the second call, compared with after the first?

# %%
model = nn.Sequential(nn.Linear(4, 8, rng=2), nn.ReLU(), nn.Linear(8, 3, rng=3)).to(np.float64)
x, y = rng.standard_normal((6, 4)), np.array([0, 1, 2, 0, 1, 2])
loss_fn = nn.CrossEntropyLoss()
opt = optim.SGD(model.parameters(), lr=0.1)

loss_fn(model(x), y)
dz = loss_fn.backward()
model.backward(dz)
first = model[0].weight.grad.copy()
dx = model.backward(dz)                            # again, no zero_grad() in between
second = model[0].weight.grad
print("norm of grad after 1 and 2 calls:", np.linalg.norm(first), np.linalg.norm(second))
print("second == 2 * first, bit for bit:", np.array_equal(second, 2 * first))
opt.zero_grad()
print("after opt.zero_grad():", model[0].weight.grad)

# %% [markdown]
# Exactly twice: the same numbers added to themselves. A training loop that forgets
# `zero_grad()` does the same with every step's gradient. The returned `dx` is *not*
# accumulated; it is just returned. (`zero_grad()` sets `p.grad = None`, as PyTorch does by
# default.)
#
# The useful side: two half-batches accumulated give the gradient of the whole batch, up to a
# factor. Each half's loss is a mean over 3 images, the whole batch's a mean over 6, so the sum
# of the two halves' gradients is **twice** the whole batch's.

# %%
opt.zero_grad()
for half in (slice(0, 3), slice(3, 6)):
    loss_fn(model(x[half]), y[half])
    model.backward(loss_fn.backward())
accumulated = model[0].weight.grad.copy()
opt.zero_grad()
loss_fn(model(x), y)
model.backward(loss_fn.backward())
whole = model[0].weight.grad
print("largest |accumulated - 2 * whole batch|:", np.abs(accumulated - 2 * whole).max())
opt.zero_grad()

# %% [markdown]
# ## 6. `gradcheck`: is a backward pass right?
#
# Nudge one input number by $\pm\varepsilon$ and watch the loss:
#
# $$\frac{\partial L}{\partial x_i} \approx \frac{L(x + \varepsilon e_i) - L(x - \varepsilon
# e_i)}{2\varepsilon}.$$
#
# `gradcheck(module, x)` does this for every entry of the input and of every parameter, with
# $L = \sum \mathtt{out} \odot \mathtt{dout}$ for a random `dout`, and compares with what
# `backward` returned. The error per tensor is normwise,
# $\lVert a - n \rVert / (\lVert a \rVert + \lVert n \rVert)$: a correct backward pass gives
# about $10^{-10}$, a bug $10^{-3}$ or much more. It runs in **float64**.

# %%
x = rng.standard_normal((5, 4))
result = gradcheck(nn.Linear(4, 3, rng=4), x)
print(result)
print(result.report())

# %% [markdown]
# ### The trap: why float64
#
# Central differences divide a difference of two nearly equal losses by $2\varepsilon$. In
# float32 the losses carry about 7 digits, and with $\varepsilon = 10^{-6}$ the difference is
# all rounding. Here is $\frac{d}{dx} x^2 = 2$ at $x = 1$, numerically:

# %%
for dtype in (np.float32, np.float64):
    x0, eps = dtype(1.0), dtype(1e-6)
    print(dtype.__name__, ((x0 + eps) ** 2 - (x0 - eps) ** 2) / (2 * eps))

# %% [markdown]
# ### gradcheck catches a wrong backward
#
# A classic bug: averaging the bias gradient over the batch instead of summing it (the mean
# looks reasonable, and training even "works", just with the bias learning $N$ times slower).
# Write it, and let `gradcheck_function` compare it with central differences of the forward.

# %%
def wrong_linear_backward(dout, cache):
    x, w, _has_bias = cache
    return dout @ w, dout.T @ x, dout.mean(axis=0)        # BUG: mean instead of sum


x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
bad = gradcheck_function(reference.linear_forward, wrong_linear_backward, x, w, b,
                         names=["x", "w", "b"])
good = gradcheck_function(reference.linear_forward, reference.linear_backward, x, w, b,
                          names=["x", "w", "b"])
print(bad.report())
print("the textbook backward:", good)

# %% mystnb={"image": {"alt": "Bar chart of the three bias gradients: the wrong backward pass (a mean where a sum belongs) gives bars 5 times shorter than the central-difference estimates"}}
viz.bar_chart(["b[0]", "b[1]", "b[2]"], {"backward (mean: wrong)": bad.analytic["b"],
                                         "central differences": bad.numerical["b"]},
              "dL/db", xlabel="bias entry",
              title="gradcheck: the wrong backward is 5 times too small (N = 5)")

# %% [markdown]
# The report names the tensor (`b`), shows the worst entry, and the error is
# $(N - 1)/(N + 1) = 4/6$ for the batch of 5 -- not a rounding problem. The correct backward is
# at $10^{-10}$ or below.
# `gradcheck(model, x)` does the same for a whole network: every parameter by its name.

# %%
net = nn.Sequential(nn.Linear(4, 8, rng=5), nn.ReLU(), nn.Linear(8, 3, rng=6))
print(gradcheck(net, rng.standard_normal((6, 4))))

# %% [markdown]
# ## Exercises
#
# Write these layers yourself and let the grader check them (it runs a gradient check on your
# backward pass and names the classic mistake if you make one):
#
# ```
# python -m minitorch_cv.exercises start linear --dir work
# python -m minitorch_cv.exercises check linear --dir work
# python -m minitorch_cv.exercises start relu --dir work
# python -m minitorch_cv.exercises check relu --dir work
# python -m minitorch_cv.exercises start softmax_cross_entropy --dir work
# python -m minitorch_cv.exercises check softmax_cross_entropy --dir work
# ```
#
# **To think about.** `gradcheck` perturbs each input number separately, so it costs two forward
# passes per number. How many forward passes would it take to check the Task 2 network's
# 390,410 parameters on one image, and what does `gradcheck(..., max_checks=...)` trade away to
# make that affordable? Could a bug hide from it?
