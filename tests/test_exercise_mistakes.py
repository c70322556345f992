"""A class of students, each with one realistic mistake: every one must fail, and every
cause the grader names must be the right one.

Each entry is (exercise, mistake, source, expected, allowed): ``source`` is a textbook
student (tests/students.py) with the mistake put in; ``expected`` are the causes the report
must name (empty: the evidence singles out no cause, and the report must say where the
answer is wrong and stop); ``allowed`` are further causes that are also TRUE of this
student (e.g. "wrong exactly in the cases with batch size 2" for a gradient averaged over
the batch). Any other cause is a wrong diagnosis, and fails the test.
"""

import pytest
from students import (
    ADAM,
    AVGPOOL2D,
    BATCHNORM,
    CONV2D,
    CONV2D_IM2COL,
    CONV_OUTPUT_SIZE,
    CROSS_ENTROPY,
    DROPOUT,
    LINEAR,
    MAXPOOL2D,
    PARAM_COUNT,
    RELU,
    SGD_MOMENTUM,
    broken,
)

from minitorch_cv.exercises import grader
from minitorch_cv.exercises.diagnosis import GRADCHECK, NOT_IMPLEMENTED

PADDING_0 = "setting:padding=0"
BATCH_2 = "setting:batch size=2"
STRIDE_2 = "setting:stride=2"
TRAINING = "setting:mode=training"

CONV_FORWARD_TRANSPOSE = ("np.tensordot(window, w, axes", "np.tensordot(window, w[:, :, ::-1, ::-1], axes")

CLASS = [
    # ------------------------------------------------------------------ conv2d
    ("conv2d", "kernel flipped in forward", broken(CONV2D, CONV_FORWARD_TRANSPOSE),
     {"conv2d.flipped_kernel"}, set()),
    ("conv2d", "stride ignored", broken(CONV2D, ("kh) // stride + 1", "kh) + 1"),
                                        ("kw) // stride + 1", "kw) + 1"),
                                        ("i * stride:i * stride", "i:i"),
                                        ("j * stride:j * stride", "j:j")),
     {"conv2d.stride_ignored"}, {STRIDE_2}),
    ("conv2d", "windows step by 1", broken(CONV2D, ("i * stride:i * stride", "i:i"),
                                           ("j * stride:j * stride", "j:j")),
     {"conv2d.windows_step_1"}, {STRIDE_2}),
    ("conv2d", "padding ignored", broken(CONV2D, ("x_pad = _pad(x, padding)\n    out_h",
                                                  "x_pad = x\n    out_h"),
                                         ("(h + 2 * padding - kh)", "(h - kh)"),
                                         ("(wd + 2 * padding - kw)", "(wd - kw)")),
     {"conv2d.padding_ignored"}, set()),
    ("conv2d", "padding not cropped off dx",
     broken(CONV2D, ("dx = dx_pad[:, :, padding:padding + h, padding:padding + wd]",
                     "dx = dx_pad")), {"conv2d.dx_not_cropped"}, set()),
    ("conv2d", "crop written with -padding",
     broken(CONV2D, ("dx = dx_pad[:, :, padding:padding + h, padding:padding + wd]",
                     "dx = dx_pad[:, :, padding:-padding, padding:-padding]")),
     {"conv2d.dx_empty_crop", PADDING_0}, set()),
    ("conv2d", "dw and db averaged over the batch",
     broken(CONV2D, ("return dx, dw, db", "return dx, dw / n, db / n")),
     {"conv2d.dw_mean", "conv2d.db_mean"}, {BATCH_2}),
    ("conv2d", "dx assigned, not added",
     broken(CONV2D, ("dx_pad[:, :, rows, cols] +=", "dx_pad[:, :, rows, cols] =")),
     {"conv2d.dx_not_accumulated"}, set()),
    ("conv2d", "im2col: a[idx] += v instead of np.add.at",
     broken(CONV2D_IM2COL, ("np.add.at(dx_pad, (slice(None), k, i, j), dcols)",
                            "dx_pad[:, k, i, j] += dcols")),
     {"conv2d.dx_not_accumulated"}, set()),
    ("conv2d", "kernel assumed square",
     broken(CONV2D, ("out_w = (wd + 2 * padding - kw) // stride + 1",
                     "out_w = (wd + 2 * padding - kh) // stride + 1"),
            ("j * stride:j * stride + kw]", "j * stride:j * stride + kh]"),
            ("cols = slice(j * stride, j * stride + kw)", "cols = slice(j * stride, j * stride + kh)")),
     set(), {"conv2d.square_kernel", "setting:kernel shape=non-square"}),
    ("conv2d", "input assumed square",
     broken(CONV2D, ("out_w = (wd + 2 * padding - kw) // stride + 1",
                     "out_w = (h + 2 * padding - kw) // stride + 1")),
     {"setting:input shape=non-square"}, {"conv2d.square_input"}),
    ("conv2d", "dx buffer without the padding",
     broken(CONV2D, ("dx_pad = np.zeros_like(x_pad)", "dx_pad = np.zeros_like(x)")),
     set(), set()),
    ("conv2d", "db from the first image only",
     broken(CONV2D, ("db = dout.sum(axis=(0, 2, 3))", "db = dout[0].sum(axis=(1, 2))")),
     set(), {BATCH_2}),
    ("conv2d", "dw flipped",
     broken(CONV2D, (("dw += np.tensordot(dout[:, :, i, j], x_pad[:, :, rows, cols], "
                     "axes=([0], [0]))"),
                     ("dw += np.tensordot(dout[:, :, i, j], x_pad[:, :, rows, cols], "
                     "axes=([0], [0]))[:, :, ::-1, ::-1]"))),
     {"conv2d.dw_flipped"}, set()),
    ("conv2d", "float64 output", broken(CONV2D, (
        "out = np.zeros((n, f, out_h, out_w), dtype=x.dtype)", "out = np.zeros((n, f, out_h, out_w))")),
     {"setting:dtype=float32"}, set()),
    ("conv2d", "dx with the kernel flipped",
     broken(CONV2D, ("np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))",
                     "np.tensordot(dout[:, :, i, j], w[:, :, ::-1, ::-1], axes=([1], [0]))")),
     {"conv2d.dx_flipped"}, set()),
    ("conv2d", "im2col: batch and columns mixed up",
     broken(CONV2D_IM2COL, ("    out = w.reshape(f, -1) @ cols\n",
                            ("    out = (w.reshape(f, -1) @ np.concatenate(list(cols), axis=1))"
                            ".reshape(f, n, -1).reshape(n, f, -1)\n"))),
     set(), {BATCH_2}),
    # ------------------------------------------------------------------ maxpool2d
    ("maxpool2d", "gradient to every maximum",
     broken(MAXPOOL2D, ("mask = np.zeros_like(window)\n", ("mask = (window == window.max("
                        "axis=2, keepdims=True)).astype(float)\n")),
            ("            np.put_along_axis(mask, window.argmax(axis=2)[..., None], 1.0, axis=2)\n",
             "")), {"maxpool2d.every_max", "setting:ties=True"}, set()),
    ("maxpool2d", "dx assigned, not added",
     broken(MAXPOOL2D, ("dx_pad[:, :, i * s:i * s + k, j * s:j * s + k] += (",
                        "dx_pad[:, :, i * s:i * s + k, j * s:j * s + k] = (")),
     {"maxpool2d.dx_not_accumulated"}, set()),
    ("maxpool2d", "stride defaults to 1", broken(MAXPOOL2D, ("s = k if stride", "s = 1 if stride")),
     {"maxpool2d.default_stride", "setting:stride=None"}, set()),
    ("maxpool2d", "padding with 0 instead of -inf",
     broken(MAXPOOL2D, ("(padding, padding)),\n                   constant_values=-np.inf)",
                        "(padding, padding)))"),
            ("(p, p)), constant_values=-np.inf)", "(p, p)))")),
     {"maxpool2d.zero_padding"}, {"setting:padding=1"}),
    ("maxpool2d", "gradient to the last maximum",
     broken(MAXPOOL2D, ("window.argmax(axis=2)[..., None]",
                        "(window.shape[2] - 1 - window[..., ::-1].argmax(axis=2))[..., None]")),
     {"maxpool2d.last_max", "setting:ties=True"}, set()),
    ("maxpool2d", "crop written with -p",
     broken(MAXPOOL2D, ("return dx_pad[:, :, p:p + h, p:p + w]", "return dx_pad[:, :, p:-p, p:-p]")),
     {"maxpool2d.dx_empty_crop", PADDING_0}, set()),
    ("maxpool2d", "maximum over the whole batch",
     broken(MAXPOOL2D, (".max(axis=(2, 3))", ".max()")), set(), set()),
    # ------------------------------------------------------------------ avgpool2d
    ("avgpool2d", "dx not divided by the window size", broken(AVGPOOL2D, ("/ (k * k)\n", "\n")),
     {"avgpool2d.dx_not_divided"}, set()),
    ("avgpool2d", "padded zeros left out of the mean",
     broken(AVGPOOL2D, ("(padding, padding)))\n    oh",
                        "(padding, padding)), constant_values=np.nan)\n    oh"),
            ("= x_pad[:, :, i * s:i * s + k, j * s:j * s + k].mean(axis=(2, 3))",
             "= np.nanmean(x_pad[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))")),
     {"avgpool2d.count_exclude_pad"}, {"setting:padding=1"}),
    ("avgpool2d", "dx assigned, not added",
     broken(AVGPOOL2D, ("dx_pad[:, :, i * s:i * s + k, j * s:j * s + k] +=",
                        "dx_pad[:, :, i * s:i * s + k, j * s:j * s + k] =")),
     {"avgpool2d.dx_not_accumulated"}, set()),
    ("avgpool2d", "dx divided by k, not k * k", broken(AVGPOOL2D, ("/ (k * k)\n", "/ k\n")),
     set(), set()),
    # ------------------------------------------------------------------ linear
    ("linear", "dw transposed", broken(LINEAR, ("dw = dout.T @ x", "dw = x.T @ dout")),
     {"linear.dw_transposed"}, set()),
    ("linear", "bias not added", broken(LINEAR, ("    if b is not None:\n        out = out + b\n",
                                                 "")),
     {"linear.no_bias"}, {"setting:bias=True"}),
    ("linear", "db averaged over the batch",
     broken(LINEAR, ("db = dout.sum(axis=0)", "db = dout.mean(axis=0)")),
     {"linear.db_mean"}, {BATCH_2.replace("2", "6")}),
    ("linear", "dx with w transposed", broken(LINEAR, ("dx = dout @ w", "dx = dout @ w.T")),
     set(), set()),
    # ------------------------------------------------------------------ relu
    ("relu", "gradient 1 at x == 0", broken(RELU, ("(cache > 0)", "(cache >= 0)")),
     {"relu.grad_at_zero", "setting:zeros in x=True"}, set()),
    ("relu", "backward returns the mask", broken(RELU, ("return dout * (cache > 0)",
                                                        "return (cache > 0).astype(float)")),
     {"relu.mask_only"}, set()),
    ("relu", "out = |x|", broken(RELU, ("return np.maximum(x, 0), x", "return np.abs(x), x")),
     {"relu.abs"}, set()),
    # ------------------------------------------------------------------ cross-entropy
    ("softmax_cross_entropy", "gradient not divided by N",
     broken(CROSS_ENTROPY, ("        d = d / len(labels)\n", "        pass\n")),
     {"cross_entropy.grad_not_divided"}, set()),
    ("softmax_cross_entropy", "no max subtraction",
     broken(CROSS_ENTROPY, ("shifted = logits - logits.max(axis=1, keepdims=True)",
                            "shifted = logits")),
     {"cross_entropy.overflow", "setting:scale=1000"}, set()),
    ("softmax_cross_entropy", "log of the softmax (underflow)",
     broken(CROSS_ENTROPY, ("    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n",
                            ("    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)\n"
                            "    logp = np.log(probs)\n"))),
     {"cross_entropy.overflow", "setting:scale=1000"}, set()),
    ("softmax_cross_entropy", "always the mean",
     broken(CROSS_ENTROPY, ("    if reduction == \"mean\":\n        loss = loss / len(labels)",
                            "    loss = loss / len(labels)"),
            ("    if reduction == \"mean\":\n        d = d / len(labels)",
             "    d = d / len(labels)")),
     {"setting:reduction=sum"}, {"cross_entropy.reduction"}),
    ("softmax_cross_entropy", "dloss ignored", broken(CROSS_ENTROPY, ("return (d * dloss).astype", "return d.astype")),
     {"cross_entropy.dloss_ignored", "setting:dloss=2.5"}, set()),
    # ------------------------------------------------------------------ batch norm
    ("batchnorm", "unbiased variance", broken(BATCHNORM, ("var = x.var(axis=axes)",
                                                          "var = x.var(axis=axes, ddof=1)")),
     {"batchnorm.unbiased_variance"}, {TRAINING}),
    ("batchnorm", "mean and variance as constants in dx",
     broken(BATCHNORM, ("if not training:\n        return", "if True:\n        return")),
     {"batchnorm.dx_constant_stats"}, {TRAINING}),
    ("batchnorm", "running_var stores the biased variance",
     broken(BATCHNORM, ("running_var += momentum * var * m / (m - 1)",
                        "running_var += momentum * var")),
     {"batchnorm.running_var_biased"}, {TRAINING}),
    ("batchnorm", "momentum the wrong way round",
     broken(BATCHNORM, ("running_mean *= 1 - momentum\n        running_mean += momentum * mu",
                        "running_mean *= momentum\n        running_mean += (1 - momentum) * mu"),
            ("running_var *= 1 - momentum\n        running_var += momentum * var",
             "running_var *= momentum\n        running_var += (1 - momentum) * var")),
     {"batchnorm.momentum_reversed"}, {TRAINING}),
    ("batchnorm", "batch statistics in evaluation mode",
     broken(BATCHNORM, ("    if training:\n        mu = x.mean(axis=axes)",
                        "    mu = x.mean(axis=axes)\n    if training:\n        mu = x.mean(axis=axes)"),
            ("        mu, var = running_mean, running_var\n", "        var = x.var(axis=axes)\n")),
     {"batchnorm.eval_batch_stats"}, {"setting:mode=evaluation"}),
    ("batchnorm", "statistics over the batch axis only",
     broken(BATCHNORM, ("axes = (0,) + tuple(range(2, x.ndim))", "axes = (0,)")),
     set(), {"setting:input rank=4D"}),
    # ------------------------------------------------------------------ dropout
    ("dropout", "no 1/(1-p) scale", broken(DROPOUT, (" / x.dtype.type(1 - p)", "")),
     {"dropout.scale x"}, set()),
    ("dropout", "keep where u < p, scale 1/p",
     broken(DROPOUT, (("(rng.random(shape, dtype=x.dtype) >= p).astype(x.dtype) / "
                      "x.dtype.type(1 - p)"),
                      ("(rng.random(shape, dtype=x.dtype) < p).astype(x.dtype) / "
                      "x.dtype.type(p)"))),
     {"dropout.p_is_keep"}, set()),
    ("dropout", "a new mask in backward",
     broken(DROPOUT, ("    return dout * mask\n",
                      "    return dout * (np.random.random(dout.shape) >= 0.5) * 2\n")),
     {"dropout.new_mask"}, set()),
    ("dropout", "mask from np.random",
     broken(DROPOUT, ("rng.random(shape, dtype=x.dtype)", "np.random.random(shape)")),
     {"dropout.global_rng"}, set()),
    ("dropout", "multiplied by (1 - p)",
     broken(DROPOUT, (" / x.dtype.type(1 - p)", " * x.dtype.type(1 - p)")),
     {"dropout.scale x * (1 - p)"}, set()),
    ("dropout", "no special case for p = 1",
     broken(DROPOUT, (("    if p >= 1:\n        mask = np.zeros(shape, dtype=x.dtype)\n    else:\n"
                      "        mask ="), "    mask =")),
     set(), {"setting:p=1.0"}),
    # ------------------------------------------------------------------ optimizers
    ("sgd_momentum", "CS231n velocity", broken(SGD_MOMENTUM, (
        "velocity_new = momentum * velocity + g\n    return (w - lr * velocity_new)",
        "velocity_new = momentum * velocity - lr * g\n    return (w + velocity_new)")),
     {"sgd.cs231n"}, set()),
    ("sgd_momentum", "weight decay ignored", broken(SGD_MOMENTUM, (
        "g = dw + weight_decay * w", "g = dw")),
     {"sgd.no_weight_decay", "setting:weight decay=0.01"}, set()),
    ("sgd_momentum", "dampened momentum", broken(SGD_MOMENTUM, (
        "velocity_new = momentum * velocity + g", "velocity_new = momentum * velocity + (1 - momentum) * g")),
     {"sgd.dampened"}, {"setting:momentum=0.9"}),
    ("sgd_momentum", "returns the old velocity", broken(SGD_MOMENTUM, (
        ", velocity_new.astype(w.dtype)", ", velocity.astype(w.dtype)")),
     set(), set()),
    ("adam", "no bias correction", broken(ADAM, ("m_hat = m_new / (1 - beta1 ** t)", "m_hat = m_new"),
                                          ("v_hat = v_new / (1 - beta2 ** t)", "v_hat = v_new")),
     {"adam.no_bias_correction"}, set()),
    ("adam", "eps inside the square root",
     broken(ADAM, ("np.sqrt(v_hat) + eps", "np.sqrt(v_hat + eps)")),
     {"adam.eps_inside_sqrt", "setting:scale=1e-05"}, set()),
    ("adam", "bias correction with t - 1",
     broken(ADAM, ("(1 - beta1 ** t)", "(1 - beta1 ** (t - 1))"),
            ("(1 - beta2 ** t)", "(1 - beta2 ** (t - 1))")),
     {"adam.t_minus_1"}, set()),
    ("adam", "AdamW's decay", broken(ADAM, (
        "    g = dw + weight_decay * w\n", "    g = dw\n    w = w * (1 - lr * weight_decay)\n")),
     {"adam.adamw", "setting:weight decay=0.1"}, set()),
    ("adam", "v from g, not g squared", broken(ADAM, ("(1 - beta2) * g * g", "(1 - beta2) * g")),
     set(), set()),
    # ------------------------------------------------------------------ Task 1 arithmetic
    ("conv_output_size", "no +1", broken(CONV_OUTPUT_SIZE, (" // stride + 1", " // stride")),
     {"conv_output_size.no_plus_one"}, set()),
    ("conv_output_size", "true division", broken(CONV_OUTPUT_SIZE, (" // stride", " / stride")),
     {"conv_output_size.float"}, set()),
    ("param_count", "biases not counted",
     broken(PARAM_COUNT, ("for p in layer_or_model.parameters())",
                          ("for name, p in layer_or_model.named_parameters()\n"
                          "               if not name.endswith('bias'))"))),
     {"param_count.no_biases"}, set()),
]


def test_the_class_is_large_and_covers_every_layer_exercise():
    assert len(CLASS) >= 40
    assert {e[0] for e in CLASS} >= {"conv2d", "maxpool2d", "avgpool2d", "linear", "relu",
                                     "softmax_cross_entropy", "batchnorm", "dropout",
                                     "sgd_momentum", "adam"}


@pytest.mark.parametrize("name, mistake, source, expected, allowed", CLASS,
                         ids=[f"{e[0]}-{e[1]}" for e in CLASS])
def test_each_mistake_fails_and_no_diagnosis_names_a_wrong_cause(tmp_path, name, mistake,
                                                                 source, expected, allowed):
    (tmp_path / f"{name}.py").write_text(source)
    report = grader.grade(name, tmp_path)
    assert not report.passed, report.text()
    named = {d.cause for d in report.diagnoses if d.cause}
    assert expected <= named, (mistake, report.text())
    assert named <= expected | allowed, (mistake, named - expected - allowed, report.text())
    for d in report.diagnoses:       # a diagnosis without a cause states a fact
        assert d.cause or d.kind in (GRADCHECK, NOT_IMPLEMENTED), (d, report.text())
