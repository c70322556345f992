"""Task 1: the arithmetic of convolutional networks as small functions (feature-map sizes,
padding, kernel sizes, parameter counts, :func:`summary`, receptive fields) and 2D filtering
written as plain loops. ``docs/theory.md`` works through them; ``python -m
minitorch_cv.theory`` prints the worked answers of Task 1.
"""

from __future__ import annotations

import functools
import textwrap
from typing import NamedTuple

import numpy as np

from . import nn
from ._module_state import kept_as_found
from .checks import check_int, pair

__all__ = ["SEED_TASK1A_RESULT", "TASK1A_IMAGE", "TASK1A_KERNEL", "LayerReceptiveField",
           "conv_output_size", "convolve2d", "cross_correlate2d", "kernel_size_for", "main",
           "param_count", "pool_output_size", "receptive_field", "same_padding", "summary",
           "worked_answers"]


def _constant(rows):
    array = np.array(rows, dtype=np.int64)
    array.setflags(write=False)          # shared constants: copy before changing
    return array


#: The 3x5 image P of Task 1a.
TASK1A_IMAGE = _constant([[1, 0, 2, 3, 1],
                          [3, 2, 0, 7, 0],
                          [0, 6, 1, 1, 4]])

#: The 3x3 kernel K of Task 1a (a Sobel filter for vertical edges).
TASK1A_KERNEL = _constant([[-1, 0, 1],
                           [-2, 0, 2],
                           [-1, 0, 1]])

#: The matrix C the seed report gives as the answer of Task 1a.
SEED_TASK1A_RESULT = _constant([[2, -1, 11, -2, -13],
                                [10, -4, 8, 2, -18],
                                [14, -1, -5, 6, -9]])


# --------------------------------------------------------------------------- helpers
def _per_axis(function, **arguments):
    """``function(axis, **ints)``: once (int), or per axis if any argument is a pair."""
    pairs = {k: pair(v, k) for k, v in arguments.items()}
    if not any(isinstance(v, (tuple, list)) or (isinstance(v, np.ndarray) and v.ndim == 1)
               for v in arguments.values()):
        return function(axis="", **{k: v[0] for k, v in pairs.items()})
    return tuple(function(axis=label, **{k: v[i] for k, v in pairs.items()})
                 for i, label in enumerate(("height: ", "width: ")))


def _window_output(axis, size, kernel_size, stride, padding, exact, pooling):
    """``(size + 2*padding - kernel_size) // stride + 1`` for one axis, with checks."""
    for name, value, minimum in (("input size", size, 1), ("kernel_size", kernel_size, 1),
                                 ("stride", stride, 1), ("padding", padding, 0)):
        check_int(value, axis + name, minimum=minimum)
    if pooling and padding > kernel_size // 2:
        raise ValueError(f"{axis}pooling padding {padding} is more than half the kernel size "
                         f"{kernel_size}: a window could then lie entirely in the padding "
                         f"(PyTorch requires padding <= kernel_size // 2)")
    padded = size + 2 * padding
    if kernel_size > padded:
        raise ValueError(f"{axis}kernel_size {kernel_size} is larger than the padded input "
                         f"{size} + 2*{padding} = {padded}: the window fits nowhere")
    span = padded - kernel_size
    if exact and span % stride != 0:
        raise ValueError(
            f"{axis}({size} + 2*{padding} - {kernel_size}) = {span} is not divisible by "
            f"stride {stride}: the windows do not tile the input exactly (a framework "
            f"floors to {span // stride + 1} and ignores the last {span % stride} "
            f"row(s)/column(s))")
    return span // stride + 1


# --------------------------------------------------------------------------- sizes
def conv_output_size(size, kernel_size, stride=1, padding=0, exact=False):
    """Spatial size of a convolution's output:
    ``H_out = (H + 2 * padding - kernel_size) // stride + 1``, floored like PyTorch.

    Arguments are ints or (h, w) pairs; the result is a pair if any argument was.
    ``exact=True`` (the textbook's rule) raises a ValueError instead of flooring when the
    stride does not divide; so does a kernel larger than the padded input, stride < 1 or
    padding < 0.

    Examples
    --------
    >>> conv_output_size(32, kernel_size=5, padding=2)
    32
    >>> conv_output_size((32, 20), kernel_size=3, stride=2)
    (15, 9)
    """
    return _per_axis(functools.partial(_window_output, exact=exact, pooling=False),
                     size=size, kernel_size=kernel_size, stride=stride, padding=padding)


def pool_output_size(size, kernel_size, stride=None, padding=0, exact=False):
    """Spatial size of a max or average pooling layer's output.

    As :func:`conv_output_size`, but the stride defaults to the kernel size, and the padding
    may be at most ``kernel_size // 2`` (as in PyTorch).

    Examples
    --------
    >>> pool_output_size(504, kernel_size=2, stride=2)
    252
    >>> pool_output_size(7, kernel_size=2)       # floors: the last row/column is dropped
    3
    """
    return _per_axis(functools.partial(_window_output, exact=exact, pooling=True), size=size,
                     kernel_size=kernel_size, stride=kernel_size if stride is None else stride,
                     padding=padding)


def same_padding(kernel_size, stride=1):
    """Zero padding that makes a convolution's output as large as its input.

    From ``H = (H + 2p - k) / 1 + 1`` follows ``p = (k - 1) / 2``. Arguments are ints or
    (h, w) pairs, and so is the result. An even kernel (no symmetric padding exists) and a
    stride other than 1 are a ValueError that says why.

    Examples
    --------
    >>> same_padding(5)
    2
    >>> same_padding((3, 7))
    (1, 3)
    """
    def one_axis(axis, kernel_size, stride):
        check_int(kernel_size, axis + "kernel_size", minimum=1)
        check_int(stride, axis + "stride", minimum=1)
        if stride != 1:
            raise ValueError(
                f"{axis}no padding keeps the size at stride {stride}: the output is "
                f"(H + 2p - {kernel_size}) // {stride} + 1, about H/{stride}, whatever p is "
                "(PyTorch also refuses padding='same' when stride > 1)")
        if kernel_size % 2 == 0:
            raise ValueError(
                f"{axis}kernel_size {kernel_size} is even: the output H + 2p - {kernel_size}"
                f" + 1 equals H only if 2p = {kernel_size - 1}, which is odd, so no symmetric "
                f"padding exists (nn.Conv2d(..., kernel_size={kernel_size}, padding='same') "
                f"pads {(kernel_size - 1) // 2} before and {kernel_size // 2} after, as "
                "PyTorch does)")
        return (kernel_size - 1) // 2
    return _per_axis(one_axis, kernel_size=kernel_size, stride=stride)


def kernel_size_for(in_size, out_size, stride=1, padding=0):
    """Kernel size that turns ``in_size`` into ``out_size`` (ints or (h, w) pairs).

    ``k = in + 2p - (out - 1) * s``, from ``out = (in + 2p - k) / s + 1``. With ``s > 1`` the
    floored formula maps the ``s`` sizes ``k - s + 1, ..., k`` alike; this returns ``k``, the
    one for which the division comes out whole (the textbook answer). A ValueError says when
    no kernel size (>= 1) fits.

    Examples
    --------
    >>> kernel_size_for(512, 504)
    9
    """
    def one_axis(axis, in_size, out_size, stride, padding):
        if in_size < 1 or out_size < 1:
            raise ValueError(f"{axis}sizes must be >= 1, got in_size={in_size}, "
                             f"out_size={out_size}")
        check_int(stride, axis + "stride", minimum=1)
        check_int(padding, axis + "padding", minimum=0)
        k = in_size + 2 * padding - (out_size - 1) * stride
        if k < 1:
            raise ValueError(
                f"{axis}no kernel size maps {in_size} to {out_size} with stride {stride} "
                f"and padding {padding}: it would need kernel_size = {in_size} + 2*{padding}"
                f" - ({out_size} - 1)*{stride} = {k}, but a kernel has size >= 1")
        return k
    return _per_axis(one_axis, in_size=in_size, out_size=out_size, stride=stride,
                     padding=padding)


# --------------------------------------------------------------------------- parameters
def param_count(layer_or_model, trainable_only=True) -> int:
    """Number of parameters (weights and biases) of a layer or a whole network.

    A shared parameter counts once; ``trainable_only`` leaves out ``requires_grad=False``.

    Examples
    --------
    >>> param_count(nn.Conv2d(3, 32, kernel_size=5))        # (5*5*3 + 1) * 32
    2432
    """
    if not hasattr(layer_or_model, "parameters"):
        raise TypeError(f"expected a Module, got {type(layer_or_model).__name__}")
    unique = {id(p): p for p in layer_or_model.parameters()}.values()
    return sum(int(np.size(p.data)) for p in unique if p.requires_grad or not trainable_only)


def summary(model, input_shape=(1, 3, 32, 32)) -> str:
    """A table of every leaf layer's output shape and parameters, and the totals.

    The shapes are measured: a zero input of ``input_shape`` (in the parameters' dtype) runs
    through the model in evaluation mode under :func:`~minitorch_cv.nn.no_grad`. Rows follow
    the order the layers run (a layer called twice gets two rows, its parameters counted
    once). The model is left as it was found, even if the forward pass fails."""
    leaves, calls = {}, []
    for name, module in model.named_modules():
        if not module._modules and id(module) not in leaves:
            leaves[id(module)] = (name or type(module).__name__, module)

    def recording(name, module, forward):
        def forward_and_record(x):
            out = forward(x)
            calls.append((name, module, tuple(np.shape(out))))
            return out
        return forward_and_record

    dtype = next((p.data.dtype for p in model.parameters()
                  if np.issubdtype(p.data.dtype, np.floating)), np.dtype(np.float32))
    # mode, flags, forward methods and what each layer kept for its backward are put back
    with kept_as_found(model, caches=True, attributes=("forward",)):
        for name, module in leaves.values():
            object.__setattr__(module, "forward", recording(name, module, module.forward))
        model.eval()
        with nn.no_grad():
            out = model(np.zeros(input_shape, dtype=dtype))

    rows = [("input", "", str(tuple(input_shape)), "")]
    counted = set()
    for name, module, shape in calls:
        params = "(reused)" if id(module) in counted else f"{param_count(module, False):,}"
        counted.add(id(module))
        rows.append((name, type(module).__name__, str(shape), params))
    rows += [(name, type(module).__name__, "(not called)", f"{param_count(module, False):,}")
             for name, module in leaves.values() if id(module) not in counted]
    return _summary_table(model, rows, out)


def _summary_table(model, rows, out):
    """The rows of :func:`summary` as an aligned table, with the parameter counts."""
    header = ("Layer", "Type", "Output shape", "Params")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]

    def line(row):
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths)]
        return "  ".join(cells + [row[3].rjust(widths[3])]).rstrip()

    rule = "=" * len(line(tuple("x" * w for w in widths)))
    total, trainable = param_count(model, trainable_only=False), param_count(model)
    return "\n".join([f"{type(model).__name__} summary", rule, line(header), rule]
                     + [line(r) for r in rows]
                     + [rule,
                        f"Output shape:         {tuple(np.shape(out))}",
                        f"Total params:         {total:,}",
                        f"Trainable params:     {trainable:,}",
                        f"Non-trainable params: {total - trainable:,}"])


# --------------------------------------------------------------------------- receptive field
#: Layers that act on every position on its own: they keep the receptive field as it is.
_POSITIONWISE = ("ReLU", "LeakyReLU", "Tanh", "Sigmoid", "BatchNorm2d", "Dropout", "Dropout2d",
                 "Identity")
#: Layers whose every output sees the whole input: the list of receptive fields ends there.
_GLOBAL = ("Flatten", "Linear", "AdaptiveAvgPool2d", "BatchNorm1d", "Softmax")


class LayerReceptiveField(NamedTuple):
    """One row of :func:`receptive_field`: the layer's ``name`` and class name (``type``);
    ``size``, the input pixels (h, w) one output position depends on, and ``jump``, the input
    pixels (h, w) between two neighbouring outputs (None once outputs see the whole input)."""

    name: str
    type: str
    size: tuple | None
    jump: tuple | None


def receptive_field(model):
    """Receptive field of every layer of a chain of layers, from the kernel sizes and
    strides: ``r_out = r_in + (k - 1) * j_in`` and ``j_out = j_in * s``, from ``r = j = 1``
    (see ``docs/theory.md``). Padding moves the field but keeps its size; pointwise layers
    (ReLU, batch norm, dropout) change nothing. From the first Flatten, Linear or global
    pooling layer on, every output depends on the whole input: that row has ``size=None``
    and the list ends there.

    ``model`` is a :class:`~minitorch_cv.nn.Sequential` (nested ones are fine) or one layer;
    the result has one :class:`LayerReceptiveField` per layer, in the order the layers run.
    A network with branches (a ResNet's shortcuts) or a layer this function does not know is
    a TypeError.

    Examples
    --------
    >>> from minitorch_cv import models
    >>> rows = receptive_field(models.task2_model())
    >>> [(row.type, row.size[0]) for row in rows[:3]]
    [('Conv2d', 5), ('ReLU', 5), ('MaxPool2d', 6)]
    >>> rows[8]                       # the last pooling layer: each unit sees 36x36 pixels
    LayerReceptiveField(name='8', type='MaxPool2d', size=(36, 36), jump=(8, 8))
    """
    if not hasattr(model, "named_modules"):
        raise TypeError(f"expected a Module, got {type(model).__name__}")
    rows, size, jump = [], (1, 1), (1, 1)
    for name, layer in model.named_modules():
        kind = type(layer).__name__
        if layer._modules and not isinstance(layer, nn.Sequential):
            raise TypeError(f"receptive_field follows a chain of layers, but {name or 'the model'}"
                            f" is a {kind}, which may branch (a ResNet block adds a shortcut); "
                            "pass a Sequential")
        if kind in _GLOBAL:
            rows.append(LayerReceptiveField(name, kind, None, None))
            break
        if layer._modules:
            continue
        if kind not in _POSITIONWISE:           # a window layer: r + (k - 1) * j and j * s
            if not (hasattr(layer, "kernel_size") and hasattr(layer, "stride")):
                raise TypeError(f"receptive_field does not know layer {name!r} ({kind}): it "
                                "is neither a window layer (kernel_size, stride) nor a "
                                "pointwise one")
            k, s = pair(layer.kernel_size, "kernel_size"), pair(layer.stride, "stride")
            size = tuple(r + (kk - 1) * j for r, kk, j in zip(size, k, jump))
            jump = tuple(j * ss for j, ss in zip(jump, s))
        rows.append(LayerReceptiveField(name or kind, kind, size, jump))
    return rows


# --------------------------------------------------------------------------- 2D filtering
def _wide_dtype(image, kernel):
    """int64 (if no sum can overflow it), complex128 or float64, as the inputs need."""
    kinds = {image.dtype.kind, kernel.dtype.kind}
    if not kinds <= set("biufc"):
        raise TypeError(f"expected numeric arrays, got dtypes {image.dtype} and "
                        f"{kernel.dtype}")
    if kinds & set("cf"):
        return np.dtype(np.complex128 if "c" in kinds else np.float64)
    if image.size and kernel.size:
        # the largest |sum| any output can reach, in Python's exact integers
        largest = max(abs(int(image.min())), abs(int(image.max())))
        if largest * sum(abs(int(k)) for k in kernel.ravel()) > np.iinfo(np.int64).max:
            raise ValueError("integer cross-correlation could exceed int64's range; "
                             "pass float arrays (e.g. image.astype(np.float64))")
    return np.dtype(np.int64)


def cross_correlate2d(image, kernel, padding=0, stride=1):
    """Slide ``kernel`` (K_h, K_w) over ``image`` (H, W) and sum the products: what deep
    learning calls convolution.

    ``out[i, j] = sum_{u, v} kernel[u, v] * padded[i*stride + u, j*stride + v]``, where
    ``padded`` is ``image`` with ``padding`` rows/columns of zeros on every side; ``out`` is
    (H_out, W_out) as :func:`conv_output_size` says. The sums are taken in a wide type, so a
    uint8 image never wraps around: int64 for integers (or booleans), complex128 if either is
    complex, else float64. Shapes that do not fit, or an integer result that could leave
    int64's range, are a ValueError; arrays that are not numeric a TypeError.

    Examples
    --------
    >>> cross_correlate2d([[1, 2], [3, 4]], [[1, 0], [0, -1]])
    array([[-3]])
    """
    image, kernel = np.asarray(image), np.asarray(kernel)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"expected a 2D image and a 2D kernel, got shapes {image.shape} "
                         f"and {kernel.shape}")
    (ph, pw), (sh, sw) = pair(padding, "padding"), pair(stride, "stride")
    kh, kw = kernel.shape
    out_h, out_w = conv_output_size(image.shape, kernel.shape, (sh, sw), (ph, pw))
    dtype = _wide_dtype(image, kernel)
    padded = np.pad(image.astype(dtype), ((ph, ph), (pw, pw)))
    kernel = kernel.astype(dtype)

    out = np.zeros((out_h, out_w), dtype=dtype)
    for i in range(out_h):
        for j in range(out_w):
            total = 0
            for u in range(kh):
                for v in range(kw):
                    total += kernel[u, v] * padded[i * sh + u, j * sw + v]
            out[i, j] = total
    return out


def convolve2d(image, kernel, padding=0, stride=1):
    """True (mathematical) convolution: cross-correlation with the kernel flipped.

    ``out[i, j] = sum_{u, v} kernel[K_h-1-u, K_w-1-v] * padded[i*stride + u, j*stride + v]``

    The kernel flipped in both axes is the only difference from :func:`cross_correlate2d`
    (see there for arguments, shapes and dtypes). A network learns its kernels, so which of
    the two a layer computes does not matter: frameworks compute cross-correlation and call
    it convolution."""
    kernel = np.asarray(kernel)
    if kernel.ndim != 2:
        raise ValueError(f"expected a 2D kernel, got shape {kernel.shape}")
    return cross_correlate2d(image, kernel[::-1, ::-1], padding=padding, stride=stride)


# --------------------------------------------------------------------------- Task 1
def _matrix_lines(matrix, indent="    "):
    width = max(len(str(v)) for v in np.ravel(matrix))
    return "\n".join(indent + "[" + ", ".join(str(v).rjust(width) for v in row) + "]"
                     for row in np.asarray(matrix).tolist())


def _layer_formula(layer):
    """``"(5*5*3 + 1)*32"`` for a Conv2d or Linear layer, else None."""
    plus = " + 1" if getattr(layer, "bias", None) is not None else ""
    if isinstance(layer, nn.Conv2d):
        kh, kw = layer.kernel_size
        return f"({kh}*{kw}*{layer.in_channels}{plus})*{layer.out_channels}"
    if isinstance(layer, nn.Linear):
        return f"({layer.in_features}{plus})*{layer.out_features}"
    return None


def worked_answers():
    """The answers of Task 1, computed by this module: a list of ``(task, answer, working)``."""
    p5 = same_padding(5)
    f, f514 = kernel_size_for(512, 504), kernel_size_for(514, 504)
    pooled = pool_output_size(504, kernel_size=2, stride=2)
    conv2 = conv_output_size(pooled, kernel_size=3)
    return [
        _answer_1a(),
        ("1b", ("convolution is translation-EQUIVARIANT; pooling adds (local) translation "
                "invariance"),
         ("shifting the input shifts the feature map by the same amount (conv(shift(x)) = "
          "shift(conv(x)), because the weights are shared across positions) -- the seed "
          "calls this invariance, but invariant means the output does not change; max "
          "pooling makes the output insensitive to small shifts inside each window.")),
        ("1c", f"padding {p5} (on every side) for a 5x5 kernel at stride 1",
         (f"H = (H + 2P - 5)/1 + 1  =>  2P = 5 - 1  =>  P = {p5}; check: "
          f"conv_output_size(32, 5, 1, {p5}) = {conv_output_size(32, 5, 1, p5)}")),
        ("1d", f"{f}x{f} kernels",
         (f"504 = (512 + 2*0 - F)/1 + 1  =>  F = 512 - 504 + 1 = {f}. The seed writes 514 for "
          f"the input but computes with 512, the size the assignment gives (from 514 the "
          f"kernel would be {f514}x{f514}).")),
        ("1e", f"{pooled}x{pooled}", f"2x2 pooling, stride 2: (504 + 2*0 - 2)/2 + 1 = {pooled}"),
        ("1f", f"{conv2}x{conv2}",
         f"3x3 conv, stride 1, no padding: ({pooled} + 2*0 - 3)/1 + 1 = {conv2}"),
        _answer_1g(),
    ]


def _answer_1a():
    """Task 1a: the seed's image and kernel, cross-correlated with same padding."""
    p, k = TASK1A_IMAGE, TASK1A_KERNEL
    pad = same_padding(k.shape)[0]
    c = cross_correlate2d(p, k, padding=pad)
    true_conv = convolve2d(p, k, padding=pad)
    window = np.pad(p, pad)[:3, :3]
    first = " + ".join(f"{a}*({b})" if b < 0 else f"{a}*{b}"
                       for a, b in zip(window.ravel().tolist(), k.ravel().tolist()))
    matches = "equals" if np.array_equal(c, SEED_TASK1A_RESULT) else "DIFFERS FROM"
    negated = ("-C (flipping K gives -K)"
               if np.array_equal(true_conv, -c) and np.array_equal(k[::-1, ::-1], -k)
               else f"\n{_matrix_lines(true_conv)}")
    working = (f"padding {pad} = same_padding(3) keeps 3x5; c[0,0] = {first} = {c[0, 0]}. "
               f"This {matches} the seed's C: it is the cross-correlation, which deep-learning "
               f"libraries call convolution. True convolution (K flipped in both axes) gives "
               f"{negated}.")
    return "1a", f"C = cross_correlate2d(P, K, padding={pad}) =\n{_matrix_lines(c)}", working


def _answer_1g():
    """Task 1g: the parameters of the Task 2 network, layer by layer."""
    from . import models  # theory sits below models: imported when called

    model = models.task2_model()
    terms = []
    for name, layer in model.named_modules():
        if layer._modules or not layer._parameters:
            continue
        count, formula = param_count(layer, trainable_only=False), _layer_formula(layer)
        terms.append(f"{formula} = {count:,}" if formula else f"{name}: {count:,}")
    sizes = [32]
    for _ in range(3):
        sizes.append(pool_output_size(conv_output_size(sizes[-1], 5, 1, 2), 2, 2))
    total = param_count(model)
    working = ("conv: (K_h*K_w*C_in + 1)*C_out, linear: (in + 1)*out; the spatial size goes "
               + " -> ".join(map(str, sizes))
               + f" so Flatten gives 128*{sizes[-1]}*{sizes[-1]} = {128 * sizes[-1] ** 2}; "
               + "; ".join(terms) + f"; sum = {total:,} (param_count(models.task2_model()))")
    return "1g", f"{total:,} parameters", working


COMMAND_LINE_HELP = """\
Print the worked answers of Task 1 (TDT4265 Assignment 3), each with its working:

  1a  the 3x5 image cross-correlated with the 3x3 kernel (padding 1): the seed's "convolution"
  1b  translation equivariance (convolution) and invariance (pooling)
  1c  the padding that keeps 32x32 with a 5x5 kernel
  1d  the kernel size that turns 512x512 into 504x504
  1e  the size after 2x2 max pooling with stride 2 (504x504 in)
  1f  the size after a 3x3 convolution without padding (252x252 in)
  1g  the parameter count of the Task 2 network (Table 1), layer by layer

then summary() of the Task 2 network: every layer's output shape and parameters for a
(1, 3, 32, 32) input. No options besides --help; nothing is written to disk.
"""


def main(argv=None) -> None:
    """Print the worked answers of Task 1 and the summary of the Task 2 network."""
    import argparse

    from . import models

    parser = argparse.ArgumentParser(prog="python -m minitorch_cv.theory",
                                     description=COMMAND_LINE_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    print("TDT4265 Assignment 3, Task 1 -- worked answers (minitorch_cv.theory)\n")
    for task, answer, working in worked_answers():
        print(f"Task {task}: {answer}")
        for i, clause in enumerate(working.split("; ")):   # one clause per line
            print(textwrap.fill(clause, width=92, break_on_hyphens=False,
                                initial_indent="    working: " if i == 0 else "      ",
                                subsequent_indent="        "))
        print()
    print(summary(models.task2_model(), input_shape=(1, 3, 32, 32)))


def _run_as_script():
    """``main()``, quiet (no traceback) when the reader stops early (``| head``)."""
    import os
    import sys
    try:
        try:
            main()
        finally:
            sys.stdout.flush()          # a gone reader shows up here, inside the try
    except BrokenPipeError:
        # stdout's last buffered bytes would fail again at exit: send them to devnull
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    _run_as_script()
