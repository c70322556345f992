"""Hand every backward pass, and every compiled kernel, something it must refuse.

Run by tests/test_input_checks.py in a subprocess (a refusal that regressed could crash the
process: before these checks, a wrong-shaped ``dout`` aborted Conv2d's backward with
``malloc(): invalid size`` and made max pooling's segfault). Prints one JSON line per case
with what happened; the tests read them.
"""

import json
import sys
import traceback

import numpy as np

from minitorch_cv import functional as F
from minitorch_cv import kernels as K
from minitorch_cv import nn
from minitorch_cv.kernels import activation as KA
from minitorch_cv.kernels import batchnorm as KB
from minitorch_cv.models.resnet import BasicBlock


def randn(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def outcome(call):
    """('ok', result) or (exception class name, message) -- never lets an exception out."""
    try:
        return "ok", call()
    except Exception as error:                              # noqa: BLE001  (reported)
        return type(error).__name__, str(error)


def report(**fields):
    print(json.dumps(fields, default=str), flush=True)


# ----------------------------------------------------------------------------- nn layers
def nn_cases():
    """name -> (module, input, train mode)."""
    x4, x2 = randn(2, 3, 6, 6), randn(4, 3)
    return {
        "Conv2d": (nn.Conv2d(3, 4, 3, rng=0), x4, True),
        "MaxPool2d": (nn.MaxPool2d(2), x4, True),
        "AvgPool2d": (nn.AvgPool2d(3, stride=2, padding=1), x4, True),
        "AdaptiveAvgPool2d": (nn.AdaptiveAvgPool2d((2, 3)), x4, True),
        "BatchNorm2d": (nn.BatchNorm2d(3), x4, True),
        "BatchNorm2d-eval": (nn.BatchNorm2d(3), x4, False),
        "BatchNorm1d": (nn.BatchNorm1d(3), x2, True),
        "BatchNorm1d-eval": (nn.BatchNorm1d(3), randn(4, 3, 5), False),
        "Dropout": (nn.Dropout(0.5, rng=0), x4, True),
        "Dropout-eval": (nn.Dropout(0.5, rng=0), x4, False),
        "Dropout2d": (nn.Dropout2d(0.5, rng=0), x4, True),
        "Linear": (nn.Linear(3, 5, rng=0), x2, True),
        "ReLU": (nn.ReLU(), x4, True),
        "LeakyReLU": (nn.LeakyReLU(0.1), x4, True),
        "Tanh": (nn.Tanh(), x4, True),
        "Sigmoid": (nn.Sigmoid(), x4, True),
        "Softmax": (nn.Softmax(dim=1), x2, True),
        "Flatten": (nn.Flatten(), x4, True),
        "Sequential": (nn.Sequential(nn.Conv2d(3, 4, 3, rng=0), nn.ReLU(), nn.Flatten(),
                                     nn.Linear(64, 2, rng=0)), x4, True),
        "BasicBlock": (BasicBlock(3, 3, rng=0), x4, True),
    }


def wrong_shape(shape):
    """One more on the last axis: the mistake a student makes with an off-by-one size."""
    return shape[:-1] + (shape[-1] + 1,)


def run_nn_case(name, module, x, training):
    layer = type(module).__name__ + ".backward"
    module.train(training)
    out = module(x)
    d = randn(*out.shape, dtype=np.float64, seed=1)
    result = {"case": name, "layer": layer, "out_shape": list(out.shape),
              "wrong_shape": list(wrong_shape(out.shape))}
    for kind, dout in [("shape", np.ones(wrong_shape(out.shape), np.float32)),
                       ("rank", np.ones(out.shape + (1,), np.float32)),
                       ("list", np.ones(out.shape, np.float32).tolist()),
                       ("int", np.ones(out.shape, np.int64))]:
        result[kind] = outcome(lambda dout=dout: module.backward(dout))
    # float64 dout: converted to float32, as the float32 dout would be
    module.zero_grad()
    kind, dx64 = outcome(lambda: module.backward(d))
    grads64 = {n: p.grad for n, p in module.named_parameters()}
    module.zero_grad()
    dx32 = module.backward(d.astype(np.float32))
    grads32 = {n: p.grad for n, p in module.named_parameters()}
    result["float64"] = kind if kind != "ok" else {
        "dx_dtype": str(dx64.dtype),
        "same_as_float32": bool(np.array_equal(dx64, dx32) and all(
            np.array_equal(grads64[n], grads32[n]) for n in grads32)),
        "grad_dtypes": sorted({str(g.dtype) for g in grads64.values() if g is not None})}
    report(**result)


def run_loss_case():
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(randn(4, 3), np.array([0, 1, 2, 0]))
    report(case="CrossEntropyLoss", layer="CrossEntropyLoss.backward",
           array=outcome(lambda: loss_fn.backward(np.ones(4))),
           string=outcome(lambda: loss_fn.backward("1")),
           scalar_array=outcome(lambda: loss_fn.backward(np.array(2.0)).dtype))


# ----------------------------------------------------------------------------- functional
def functional_cases():
    """name -> (forward thunk, backward taking (dout, cache))."""
    x4, x2 = randn(2, 3, 6, 6), randn(4, 3)
    w = randn(4, 3, 3, 3)
    rng = np.random.default_rng(0)
    return {
        "conv2d_backward": (lambda: F.conv2d_forward(x4, w, None, 1, 1), F.conv2d_backward),
        "maxpool2d_backward": (lambda: F.maxpool2d_forward(x4, 2), F.maxpool2d_backward),
        "avgpool2d_backward": (lambda: F.avgpool2d_forward(x4, 2), F.avgpool2d_backward),
        "adaptive_avgpool2d_backward": (lambda: F.adaptive_avgpool2d_forward(x4, 1),
                                        F.adaptive_avgpool2d_backward),
        "batchnorm_backward": (lambda: F.batchnorm_forward(x4, None, None, None, None),
                               F.batchnorm_backward),
        "dropout_backward": (lambda: F.dropout_forward(x4, 0.5, rng, channelwise=True),
                             F.dropout_backward),
        "linear_backward": (lambda: F.linear_forward(x2, randn(5, 3)), F.linear_backward),
        "relu_backward": (lambda: F.relu_forward(x4), F.relu_backward),
        "leaky_relu_backward": (lambda: F.leaky_relu_forward(x4), F.leaky_relu_backward),
        "tanh_backward": (lambda: F.tanh_forward(x4), F.tanh_backward),
        "sigmoid_backward": (lambda: F.sigmoid_forward(x4), F.sigmoid_backward),
        "softmax_backward": (lambda: F.softmax_forward(x2), F.softmax_backward),
    }


def run_functional_case(name, forward, backward):
    out, cache = forward()
    big = np.ones(tuple(s + 1 for s in out.shape), np.float32)      # larger everywhere
    report(case=name, layer=name, out_shape=list(out.shape), wrong_shape=list(big.shape),
           shape=outcome(lambda: backward(big, cache)),
           int=outcome(lambda: backward(np.ones(out.shape, np.int32), cache)))


# ----------------------------------------------------------------------------- kernels
def kernel_cases():
    """Compiled kernels called directly with arrays that do not fit together."""
    x = randn(1, 2, 5, 5)
    x_pad = randn(1, 2, 7, 7)
    out = np.empty((1, 2, 2, 2), np.float32)
    argmax = np.zeros((1, 2, 2, 2), np.int32)
    dx = np.zeros((1, 2, 5, 5), np.float32)
    bad_argmax = np.full((1, 2, 2, 2), 10**6, np.int32)
    v3 = randn(2, 3, 4)
    c3 = np.ones(3, np.float32)
    return {
        "im2col cols too small": lambda: K.im2col_padded_compiled(
            x_pad, np.empty((18, 4), np.float32), 3, 3, 1, 1),
        "im2col window too large": lambda: K.im2col_padded_compiled(
            x_pad, np.empty((2 * 64, 1), np.float32), 8, 8, 1, 1),
        "im2col stride 0": lambda: K.im2col_padded_compiled(
            x_pad, np.empty((18, 25), np.float32), 3, 3, 0, 1),
        "col2im cols too large": lambda: K.col2im_padded_compiled(
            np.ones((18, 100), np.float32), np.zeros_like(x_pad), 3, 3, 1, 1),
        "pad target too small": lambda: K.pad_compiled(x, np.zeros((1, 2, 6, 6), np.float32),
                                                       1, 1),
        "maxpool out too large": lambda: K.maxpool2d_forward_compiled(
            x, np.empty((1, 2, 9, 9), np.float32), np.empty((1, 2, 9, 9), np.int32),
            2, 2, 2, 2, 0, 0),
        "maxpool argmax too small": lambda: K.maxpool2d_forward_compiled(
            x, out, np.empty((1, 1, 1, 1), np.int32), 2, 2, 2, 2, 0, 0),
        "maxpool padding beyond half": lambda: K.maxpool2d_forward_compiled(
            x, np.empty((1, 2, 4, 4), np.float32), np.empty((1, 2, 4, 4), np.int32),
            2, 2, 2, 2, 2, 2),
        "maxpool values out too large": lambda: K.maxpool2d_values_compiled(
            x, np.empty((1, 2, 9, 9), np.float32), 2, 2, 2, 2, 0, 0),
        "maxpool backward dout too large": lambda: K.maxpool2d_backward_compiled(
            np.ones((1, 2, 4, 4), np.float32), argmax, dx),
        "maxpool backward argmax outside": lambda: K.maxpool2d_backward_compiled(
            np.ones((1, 2, 2, 2), np.float32), bad_argmax, dx),
        "avgpool out of another batch": lambda: K.avgpool2d_forward_compiled(
            x, np.empty((3, 2, 2, 2), np.float32), 2, 2, 2, 2, 0, 0),
        "avgpool backward dout too large": lambda: K.avgpool2d_backward_compiled(
            np.ones((1, 2, 4, 4), np.float32), dx, 2, 2, 2, 2, 0, 0),
        "relu sizes differ": lambda: K.relu_backward_compiled(
            np.ones(10, np.float32), np.ones(4, np.float32), np.empty(10, np.float32)),
        "relu out too small": lambda: KA.relu_backward_compiled(
            np.ones(10, np.float32), np.ones(10, np.float32), np.empty(3, np.float32)),
        "batchnorm forward channels beyond": lambda: KB.batchnorm_train_forward_compiled(
            v3, c3, c3, 1e-5, np.empty_like(v3), np.empty_like(v3), np.empty(3), np.empty(3),
            c3.copy(), 0, 5),
        "batchnorm forward gamma too short": lambda: KB.batchnorm_train_forward_compiled(
            v3, c3[:1], c3, 1e-5, np.empty_like(v3), np.empty_like(v3), np.empty(3),
            np.empty(3), c3.copy(), 0, 3),
        "batchnorm backward dx too small": lambda: KB.batchnorm_train_backward_compiled(
            v3, v3, c3, c3, np.empty((1, 3, 4), np.float32), c3.copy(), c3.copy(), 0, 3),
        "batchnorm affine shift too short": lambda: KB.batchnorm_affine_compiled(
            v3, c3, c3[:2], np.empty_like(v3)),
    }


def main():
    for name, (module, x, training) in nn_cases().items():
        try:
            run_nn_case(name, module, x, training)
        except Exception:                                    # noqa: BLE001  (reported)
            report(case=name, crashed=traceback.format_exc())
    run_loss_case()
    for name, (forward, backward) in functional_cases().items():
        run_functional_case(name, forward, backward)
    for name, call in kernel_cases().items():
        report(case=name, kernel=outcome(lambda call=call: str(call())[:0]))
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
