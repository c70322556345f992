'''The exercises: what each asks for, its part of the assignment, and the functions to
write, with the signatures of :mod:`minitorch_cv.functional` (:mod:`minitorch_cv.theory` for
Task 1, torch.optim's rules for the optimizer steps) and the starting files' docstrings.'''

from collections.abc import Callable
from dataclasses import dataclass

from . import conv_checks, layer_checks, optim_checks, pool_checks, theory_checks

__all__ = ["Exercise", "EXERCISES", "listing"]


@dataclass(frozen=True)
class Exercise:
    """One exercise (the file NAME.py): the ``functions`` to write as (signature, docstring)
    pairs, and ``build``, which adds the grader's calls and checks to a plan."""
    name: str
    summary: str
    task: str
    functions: tuple
    build: Callable
    imports: str = "import numpy as np"

    def arguments(self, function):
        """The argument names of ``function`` (one of this exercise's), from its signature."""
        signature = next(s for s, _ in self.functions if s.startswith(function + "("))
        return [a.split("=")[0].strip() for a in signature[len(function) + 1:-1].split(",")]


CONV2D_FORWARD = '''Convolve a batch of images with a bank of filters (cross-correlation).

    Parameters
    ----------
    x : ndarray (N, C_in, H, W)
    w : ndarray (C_out, C_in, K_h, K_w)
    b : ndarray (C_out,) or None (no bias)
    stride, padding : int

    Returns
    -------
    out : ndarray (N, C_out, H_out, W_out), the dtype of x,
        H_out = (H + 2*padding - K_h) // stride + 1   (W_out likewise)
    cache : anything your conv2d_backward needs (e.g. a tuple (x, w, b, stride, padding))

    Formula (x_pad is x with `padding` zeros on every side of H and W)::

        out[n, f, i, j] = b[f] + sum over c, p, q of
                          w[f, c, p, q] * x_pad[n, c, i*stride + p, j*stride + q]

    No kernel flip: deep learning's "convolution" is cross-correlation.'''

CONV2D_BACKWARD = '''Gradients of conv2d_forward.

    Parameters
    ----------
    dout : ndarray (N, C_out, H_out, W_out), dL/dout
    cache : what your conv2d_forward returned

    Returns
    -------
    dx : ndarray (N, C_in, H, W)         (the padding cropped off)
    dw : ndarray (C_out, C_in, K_h, K_w)
    db : ndarray (C_out,), or None when forward had b=None

    Formulas (sums over the whole batch: no division by N)::

        db[f]          = sum over n, i, j of dout[n, f, i, j]
        dw[f, c, p, q] = sum over n, i, j of dout[n, f, i, j] * x_pad[n, c, i*s + p, j*s + q]
        dx_pad[n, c, i*s + p, j*s + q] += w[f, c, p, q] * dout[n, f, i, j]
                         (for every n, f, i, j, p, q: windows overlap, so ADD)'''

POOL_FORWARD = '''{Kind} pooling over K x K windows.

    Parameters
    ----------
    x : ndarray (N, C, H, W)
    kernel_size : int
    stride : int or None -- None means stride = kernel_size (as in PyTorch)
    padding : int (at most kernel_size // 2), {padding}

    Returns
    -------
    out : ndarray (N, C, H_out, W_out), the dtype of x,
        H_out = (H + 2*padding - kernel_size) // stride + 1   (W_out likewise)
    cache : anything your {name}_backward needs

    Formula::

        out[n, c, i, j] = {formula} over the window x_pad[n, c, i*stride : i*stride + K,
                                                        j*stride : j*stride + K]'''

POOL_BACKWARD = '''Gradient of {name}_forward.

    Parameters
    ----------
    dout : ndarray (N, C, H_out, W_out)
    cache : what your {name}_forward returned

    Returns
    -------
    dx : ndarray (N, C, H, W)
{rule}'''

MAXPOOL_RULE = '''
    Each dout[n, c, i, j] goes to the position of its window's maximum -- the FIRST maximum
    in row-major order when several entries tie (np.argmax does that, as does PyTorch);
    every other position of the window gets 0. Windows may overlap: ADD the contributions.'''

AVGPOOL_RULE = '''
    Every position of window (i, j) gets dout[n, c, i, j] / (K * K). Windows may overlap:
    ADD the contributions; crop the padding off at the end.'''

LINEAR_FORWARD = '''Fully connected layer.

    Parameters
    ----------
    x : ndarray (N, in_features)
    w : ndarray (out_features, in_features)   (PyTorch's layout)
    b : ndarray (out_features,) or None

    Returns
    -------
    out : ndarray (N, out_features) = x @ w.T + b
    cache : anything your linear_backward needs'''

LINEAR_BACKWARD = '''Gradients of linear_forward.

    Returns
    -------
    dx : ndarray (N, in_features)             = dout @ w
    dw : ndarray (out_features, in_features)  = dout.T @ x
    db : ndarray (out_features,) = dout summed over the batch, or None without a bias'''

RELU_FORWARD = '''ReLU: out = max(x, 0), element by element.

    Returns
    -------
    out : ndarray, the shape and dtype of x
    cache : anything your relu_backward needs (x, or out)

    Do not change x in place.'''

RELU_BACKWARD = '''Gradient of relu_forward: dx = dout where x > 0, else 0 (also 0 at x == 0).

    Returns
    -------
    dx : ndarray, the shape of dout'''

CE_FORWARD = '''Softmax cross-entropy of logits against integer labels.

    Parameters
    ----------
    logits : ndarray (N, K)
    labels : ndarray (N,) of ints in [0, K)
    reduction : "mean" (divide by N) or "sum"

    Returns
    -------
    loss : float
    cache : anything your cross_entropy_backward needs

    Formula (subtract each row's maximum before exp, or large logits overflow)::

        log_softmax(z)[n, k] = z[n, k] - max_k z[n] - log(sum_k exp(z[n, k] - max_k z[n]))
        loss = -(1/N) * sum over n of log_softmax(z)[n, labels[n]]      (reduction="mean")'''

CE_BACKWARD = '''Gradient of cross_entropy_forward with respect to the logits.

    Parameters
    ----------
    cache : what your cross_entropy_forward returned
    dloss : float, the gradient arriving at the loss (1.0 for the loss itself)

    Returns
    -------
    dlogits : ndarray (N, K) = (softmax(logits) - onehot(labels)) * dloss / N   ("mean";
              without the / N for "sum")'''

BN_FORWARD = '''Batch normalization over axis 1 (the channels).

    Parameters
    ----------
    x : ndarray (N, C) or (N, C, H, W)
    gamma, beta : ndarray (C,)
    running_mean, running_var : ndarray (C,), UPDATED IN PLACE in training mode
    training : bool -- batch statistics (True) or the running ones (False)
    momentum, eps : float

    Returns
    -------
    out : ndarray, the shape and dtype of x
    cache : anything your batchnorm_backward needs

    Training mode, per channel, over the m = N*H*W values of the batch::

        mu = mean(x)        var = mean((x - mu)**2)          (BIASED: divide by m)
        x_hat = (x - mu) / sqrt(var + eps)        out = gamma * x_hat + beta
        running_mean = (1 - momentum) * running_mean + momentum * mu
        running_var  = (1 - momentum) * running_var  + momentum * var * m / (m - 1)

    Evaluation mode: the same with running_mean and running_var in place of mu and var
    (and the running statistics unchanged).'''

BN_BACKWARD = '''Gradients of batchnorm_forward.

    Returns
    -------
    dx, dgamma, dbeta : the shapes of x, gamma, beta

    Training mode, with g = dout * gamma and sums/means over the same m values::

        dbeta  = sum(dout)             dgamma = sum(dout * x_hat)
        dx     = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)

    Evaluation mode (the statistics are constants): dx = dout * gamma / sqrt(running_var
    + eps); dgamma and dbeta as above with x_hat from the running statistics.'''

DROPOUT_FORWARD = '''Inverted dropout: drop each entry with probability p, scale the rest.

    Parameters
    ----------
    x : ndarray (N, ...)
    p : float in [0, 1], the probability of DROPPING an entry
    rng : numpy.random.Generator -- draw from it (rng.random(shape)), never from np.random
    channelwise : bool -- Dropout2d: one draw per (n, c), the whole feature map dropped

    Returns
    -------
    out : ndarray, the shape and dtype of x
    mask : ndarray, what dropout_backward needs

    Formula (u ~ U[0, 1))::

        mask = (u >= p) / (1 - p)          out = x * mask
    With p = 1 everything is dropped (no division by zero).'''

DROPOUT_BACKWARD = '''Gradient of dropout_forward: dx = dout * mask (the forward's mask).'''

SGD_STEP = '''One SGD step with momentum (torch.optim.SGD's rule). Returns new arrays and
    changes none of its inputs.

    Parameters
    ----------
    w, dw : ndarray, a parameter and its gradient
    velocity : ndarray, the momentum buffer (zeros before the first step)
    lr, momentum, weight_decay : float

    Returns
    -------
    w_new, velocity_new : ndarray, the dtype of w

    Formula::

        g = dw + weight_decay * w
        velocity_new = momentum * velocity + g
        w_new = w - lr * velocity_new'''

ADAM_STEP = '''One Adam step (torch.optim.Adam's rule). Returns new arrays and changes none
    of its inputs.

    Parameters
    ----------
    w, dw : ndarray, a parameter and its gradient
    m, v : ndarray, the running means of g and g**2 (zeros before the first step)
    t : int, the 1-based step count (1 on the first step)
    lr, beta1, beta2, eps, weight_decay : float

    Returns
    -------
    w_new, m_new, v_new : ndarray, the dtype of w

    Formula::

        g = dw + weight_decay * w
        m_new = beta1 * m + (1 - beta1) * g
        v_new = beta2 * v + (1 - beta2) * g**2
        m_hat = m_new / (1 - beta1**t)         v_hat = v_new / (1 - beta2**t)
        w_new = w - lr * m_hat / (sqrt(v_hat) + eps)'''

CONV_OUTPUT_SIZE = '''Height (or width) of a convolution's output, an int.

    H_out = floor((H + 2*padding - kernel_size) / stride) + 1

    Example: conv_output_size(32, 5, 1, 2) == 32.'''

SAME_PADDING = '''The zero padding (an int) that keeps H_out == H for an odd kernel at stride 1.

    Solve H = (H + 2p - k) // 1 + 1 for p. Example: same_padding(5) == 2.'''

KERNEL_SIZE_FOR = '''The kernel size (an int) that turns in_size into out_size.

    Solve out = (in + 2*padding - k) / stride + 1 for k. Example: kernel_size_for(512, 504)
    == 9.'''

PARAM_COUNT = '''Number of trainable parameters (weights and biases; not BatchNorm's running
    statistics, which are buffers) of a minitorch_cv layer or network, an int.

    Work it out from the layer types (Conv2d: (K_h * K_w * C_in + 1) * C_out with a bias;
    Linear: (in_features + 1) * out_features; BatchNorm2d: 2 * C) or count the entries of
    every p.data for p in layer_or_model.parameters().'''

TASK1, TASK2, TASK3 = "Task 1 (theory)", "Task 2 (network)", "Task 3 (better networks)"


def _pool(kind, name, formula, padding, rule):
    """The signatures and docstrings of a pooling exercise (see :func:`_exercise`)."""
    return (f"{name}_forward(x, kernel_size, stride=None, padding=0)",
            POOL_FORWARD.format(Kind=kind, name=name, formula=formula, padding=padding),
            f"{name}_backward(dout, cache)", POOL_BACKWARD.format(name=name, rule=rule))


def _exercise(name, summary, task, checks, *functions):
    """The :class:`Exercise` ``name`` with ``functions`` (signature, docstring, signature,
    ...), graded by ``checks.build_NAME``; the Task 1 arithmetic needs no NumPy import."""
    return Exercise(name, summary, task, tuple(zip(functions[::2], functions[1::2])),
                    getattr(checks, f"build_{name}"),
                    "" if checks is theory_checks else "import numpy as np")


#: The exercises by name (``python -m minitorch_cv.exercises list``), each an :class:`Exercise`.
EXERCISES = {e.name: e for e in (
    _exercise("conv_output_size", "output height/width of a convolution from H, K, stride, "
              "padding", TASK1, theory_checks,
              "conv_output_size(size, kernel_size, stride=1, padding=0)", CONV_OUTPUT_SIZE),
    _exercise("same_padding", "the padding that keeps the size (odd kernel, stride 1)", TASK1,
              theory_checks, "same_padding(kernel_size, stride=1)", SAME_PADDING),
    _exercise("kernel_size_for", "the kernel size that maps one size to another", TASK1,
              theory_checks, "kernel_size_for(in_size, out_size, stride=1, padding=0)",
              KERNEL_SIZE_FOR),
    _exercise("param_count", "number of trainable parameters of a layer or network", TASK1,
              theory_checks, "param_count(layer_or_model)", PARAM_COUNT),
    _exercise("linear", "fully connected layer: forward and backward", TASK2, layer_checks,
              "linear_forward(x, w, b=None)", LINEAR_FORWARD,
              "linear_backward(dout, cache)", LINEAR_BACKWARD),
    _exercise("relu", "ReLU activation: forward and backward", TASK2, layer_checks,
              "relu_forward(x)", RELU_FORWARD, "relu_backward(dout, cache)", RELU_BACKWARD),
    _exercise("softmax_cross_entropy", "softmax cross-entropy loss on logits: forward and "
              "backward", TASK2, layer_checks,
              "cross_entropy_forward(logits, labels, reduction=\"mean\")", CE_FORWARD,
              "cross_entropy_backward(cache, dloss=1.0)", CE_BACKWARD),
    _exercise("conv2d", "2D convolution (cross-correlation): forward and backward", TASK2,
              conv_checks, "conv2d_forward(x, w, b=None, stride=1, padding=0)", CONV2D_FORWARD,
              "conv2d_backward(dout, cache)", CONV2D_BACKWARD),
    _exercise("maxpool2d", "max pooling: forward and backward (ties: first maximum)", TASK2,
              pool_checks, *_pool("Max", "maxpool2d", "max", "the padded entries are -inf "
                                  "(never the maximum)", MAXPOOL_RULE)),
    _exercise("avgpool2d", "average pooling: forward and backward", TASK3, pool_checks,
              *_pool("Average", "avgpool2d", "mean", "the padded zeros count in the mean "
                     "(divide by K*K always)", AVGPOOL_RULE)),
    _exercise("batchnorm", "batch normalization: forward (train and eval) and backward", TASK3,
              layer_checks, "batchnorm_forward(x, gamma, beta, running_mean, running_var, "
              "training=True, momentum=0.1, eps=1e-5)", BN_FORWARD,
              "batchnorm_backward(dout, cache)", BN_BACKWARD),
    _exercise("dropout", "inverted dropout with a seeded generator: forward and backward",
              TASK3, layer_checks, "dropout_forward(x, p, rng, channelwise=False)",
              DROPOUT_FORWARD, "dropout_backward(dout, mask)", DROPOUT_BACKWARD),
    _exercise("sgd_momentum", "one SGD-with-momentum step (torch.optim.SGD's rule)",
              "Task 2/3 (training)", optim_checks, "sgd_momentum_step(w, dw, velocity, lr, "
              "momentum=0.9, weight_decay=0.0)", SGD_STEP),
    _exercise("adam", "one Adam step with bias correction (torch.optim.Adam's rule)", TASK3,
              optim_checks, "adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, "
              "eps=1e-8, weight_decay=0.0)", ADAM_STEP),
)}


def listing():
    """The exercises one per line (name, task, summary): ``python -m minitorch_cv.exercises
    list``."""
    width = max(map(len, EXERCISES))
    task_width = max(len(e.task) for e in EXERCISES.values())
    return "\n".join(f"{e.name:<{width}}  {e.task:<{task_width}}  {e.summary}"
                     for e in EXERCISES.values())
