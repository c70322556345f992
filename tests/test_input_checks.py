"""Wrong input gets a clear error, never a crash or a wrong answer.

* Backward passes check ``dout`` against what forward returned (shape, array, float dtype),
  and name the layer, the expected and the given shape. The cases run in a subprocess
  (tests/wrong_gradients.py): before these checks some of them killed the process.
* Compiled kernels called directly with arrays that do not fit together raise ValueError
  (same subprocess).
* A float input of another dtype than the layer's parameters is refused with both fixes in
  the message; a float dout of another precision is converted (PyTorch's autograd does the
  same), so gradients keep their parameters' dtype.
* Constructors refuse nonsense. NaN goes through max pooling and ReLU's backward as in
  PyTorch.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minitorch_cv import functional as F
from minitorch_cv import nn
from minitorch_cv.checks import check_grad, pair

SCRIPT = Path(__file__).with_name("wrong_gradients.py")

NN_CASES = ["Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm2d",
            "BatchNorm2d-eval", "BatchNorm1d", "BatchNorm1d-eval", "Dropout", "Dropout-eval",
            "Dropout2d", "Linear", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softmax",
            "Flatten", "Sequential", "BasicBlock"]
FUNCTIONAL_CASES = ["conv2d_backward", "maxpool2d_backward", "avgpool2d_backward",
                    "adaptive_avgpool2d_backward", "batchnorm_backward", "dropout_backward",
                    "linear_backward", "relu_backward", "leaky_relu_backward", "tanh_backward",
                    "sigmoid_backward", "softmax_backward"]
KERNEL_CASES = ["im2col cols too small", "im2col window too large", "im2col stride 0",
                "col2im cols too large", "pad target too small", "maxpool out too large",
                "maxpool argmax too small", "maxpool padding beyond half",
                "maxpool values out too large", "maxpool backward dout too large",
                "maxpool backward argmax outside", "avgpool out of another batch",
                "avgpool backward dout too large", "relu sizes differ", "relu out too small",
                "batchnorm forward channels beyond", "batchnorm forward gamma too short",
                "batchnorm backward dx too small", "batchnorm affine shift too short"]


def run_isolated(args, **kwargs):
    """Run ``python args`` with this copy of the library; a crash cannot take pytest along."""
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [
        root, os.environ.get("PYTHONPATH")])), MINITORCH_CV_NUM_THREADS="1")
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          check=False, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def isolated():
    result = run_isolated([str(SCRIPT)])
    cases = {}
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            fields = json.loads(line)
            cases[fields["case"]] = fields
    return result, cases


def case(isolated, name):
    result, cases = isolated
    assert name in cases, (f"the subprocess died before case {name!r} (return code "
                           f"{result.returncode}):\n{result.stderr[-3000:]}")
    assert "crashed" not in cases[name], cases[name]["crashed"]
    return cases[name]


def test_the_isolated_cases_ran_to_the_end(isolated):
    result, _ = isolated
    assert result.returncode == 0 and result.stdout.rstrip().endswith("done"), (
        f"return code {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")


def test_conv2d_backward_with_a_gradient_of_the_wrong_shape_raises():
    """A gradient of the wrong shape raises a ValueError in a fresh process: it must never
    reach the kernel, where it would abort with ``malloc(): invalid size``."""
    code = ("import numpy as np\nfrom minitorch_cv import nn\n"
            "c = nn.Conv2d(3, 8, 3); c(np.zeros((2, 3, 8, 8), 'f4'))\n"
            "try:\n    c.backward(np.ones((2, 8, 5, 5), 'f4'))\n"
            "except ValueError as e:\n    print(e)\n")
    result = run_isolated(["-c", code])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == ("Conv2d.backward: expected dout of shape (2, 8, 6, 6) "
                                     "(the shape forward returned), got (2, 8, 5, 5)")


@pytest.mark.parametrize("name", NN_CASES)
def test_module_backward_checks_dout(isolated, name):
    c = case(isolated, name)
    layer, expected, given = c["layer"], tuple(c["out_shape"]), tuple(c["wrong_shape"])
    kind, message = c["shape"]
    assert kind == "ValueError", c["shape"]
    assert message.startswith(layer) and str(expected) in message and str(given) in message
    assert c["rank"][0] == "ValueError" and layer in c["rank"][1], c["rank"]
    assert c["list"][0] == "TypeError" and layer in c["list"][1], c["list"]
    assert c["int"][0] == "TypeError" and layer in c["int"][1], c["int"]
    # a float64 dout into a float32 layer: converted, gradients stay float32
    assert c["float64"]["dx_dtype"] == "float32", c["float64"]
    assert c["float64"]["same_as_float32"], c["float64"]
    assert set(c["float64"]["grad_dtypes"]) <= {"float32"}, c["float64"]


@pytest.mark.parametrize("name", FUNCTIONAL_CASES)
def test_functional_backward_checks_dout(isolated, name):
    c = case(isolated, name)
    kind, message = c["shape"]
    assert kind == "ValueError", c["shape"]
    assert message.startswith(name)
    assert str(tuple(c["out_shape"])) in message and str(tuple(c["wrong_shape"])) in message
    assert c["int"][0] == "TypeError" and name in c["int"][1], c["int"]


def test_cross_entropy_backward_checks_dloss(isolated):
    c = case(isolated, "CrossEntropyLoss")
    for key in ("array", "string"):
        assert c[key][0] == "TypeError" and "CrossEntropyLoss.backward" in c[key][1], c[key]
    assert c["scalar_array"] == ["ok", "float32"]


@pytest.mark.parametrize("name", KERNEL_CASES)
def test_compiled_kernels_refuse_arrays_that_do_not_fit(isolated, name):
    kind, message = case(isolated, name)["kernel"]
    assert kind in ("ValueError", "TypeError"), (kind, message)


def test_check_grad_returns_dout_itself_when_it_fits():
    dout = np.ones((2, 3), np.float32)
    assert check_grad(dout, (2, 3), np.float32, "X") is dout
    assert check_grad(dout, (2, 3), np.float64, "X").dtype == np.float64


# ----------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("make", [lambda: nn.Conv2d(3, 4, 3, rng=0), lambda: nn.Linear(3, 4),
                                  lambda: nn.BatchNorm2d(3), lambda: nn.BatchNorm1d(3)],
                         ids=["Conv2d", "Linear", "BatchNorm2d", "BatchNorm1d"])
def test_layers_refuse_an_input_of_another_float_dtype(make):
    layer = make()
    shape = (2, 3) if isinstance(layer, (nn.Linear, nn.BatchNorm1d)) else (2, 3, 5, 5)
    x = np.random.default_rng(0).standard_normal(shape)             # float64
    with pytest.raises(TypeError) as error:
        layer(x)
    message = str(error.value)
    assert type(layer).__name__ in message
    assert "x.astype(np.float32)" in message and "model.to(np.float64)" in message
    layer.to(np.float64)
    out = layer(x)
    assert out.dtype == np.float64
    layer.backward(np.ones_like(out))
    assert all(p.grad.dtype == np.float64 for p in layer.parameters())
    with pytest.raises(TypeError, match=r"x\.astype\(np\.float64\)"):
        layer(x.astype(np.float32))


def test_a_float64_input_no_longer_runs_a_float32_model_in_float64():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, rng=0), nn.ReLU(), nn.Flatten(), nn.Linear(36, 2))
    with pytest.raises(TypeError, match="Conv2d"):
        model(np.zeros((1, 3, 5, 5)))
    out = model(np.zeros((1, 3, 5, 5), np.float32))
    model.backward(np.ones(out.shape))                               # float64 dout: fine
    assert {p.grad.dtype for p in model.parameters()} == {np.dtype(np.float32)}


def test_functional_layers_refuse_mixed_dtypes():
    x32, x64 = np.zeros((1, 2, 4, 4), np.float32), np.zeros((1, 2, 4, 4))
    with pytest.raises(TypeError, match="conv2d"):
        F.conv2d_forward(x32, np.zeros((3, 2, 3, 3)))
    with pytest.raises(TypeError, match="linear"):
        F.linear_forward(np.zeros((2, 3), np.float32), np.zeros((4, 3)))
    with pytest.raises(TypeError, match="batch norm"):
        F.batchnorm_forward(x64, np.ones(2, np.float32), None, None, None)
    with pytest.raises(TypeError, match="max_pool2d"):
        F.maxpool2d_forward(x32.astype(np.int16), 2)


# ----------------------------------------------------------------------------- constructors
BAD_CONSTRUCTORS = [
    ("Conv2d kernel 0", lambda: nn.Conv2d(3, 8, kernel_size=0), ValueError, "kernel_size"),
    ("Conv2d float channels", lambda: nn.Conv2d(3.0, 8, 3), TypeError, "in_channels"),
    ("Conv2d bool channels", lambda: nn.Conv2d(True, 8, 3), TypeError, "in_channels"),
    ("Conv2d 0 channels out", lambda: nn.Conv2d(3, 0, 3), ValueError, "out_channels"),
    ("Conv2d negative channels", lambda: nn.Conv2d(-1, 8, 3), ValueError, "in_channels"),
    ("Conv2d stride 0", lambda: nn.Conv2d(3, 8, 3, stride=0), ValueError, "stride"),
    ("Conv2d negative padding", lambda: nn.Conv2d(3, 8, 3, padding=-1), ValueError, "padding"),
    ("Conv2d float kernel", lambda: nn.Conv2d(3, 8, 2.5), TypeError, "kernel_size"),
    ("Conv2d kernel triple", lambda: nn.Conv2d(3, 8, (3, 3, 3)), TypeError, "kernel_size"),
    ("Conv2d int dtype", lambda: nn.Conv2d(3, 8, 3, dtype=np.int32), TypeError, "dtype"),
    ("Linear 0 in", lambda: nn.Linear(0, 3), ValueError, "in_features"),
    ("Linear float out", lambda: nn.Linear(3, 2.0), TypeError, "out_features"),
    ("Linear negative out", lambda: nn.Linear(3, -2), ValueError, "out_features"),
    ("BatchNorm2d 0 features", lambda: nn.BatchNorm2d(0), ValueError, "num_features"),
    ("BatchNorm1d float features", lambda: nn.BatchNorm1d(4.0), TypeError, "num_features"),
    ("BatchNorm2d eps 0", lambda: nn.BatchNorm2d(4, eps=0), ValueError, "eps"),
    ("BatchNorm2d negative eps", lambda: nn.BatchNorm2d(4, eps=-1e-5), ValueError, "eps"),
    ("BatchNorm2d momentum 2", lambda: nn.BatchNorm2d(4, momentum=2), ValueError, "momentum"),
    ("Dropout p negative", lambda: nn.Dropout(-0.1), ValueError, "p"),
    ("Dropout p above 1", lambda: nn.Dropout(1.5), ValueError, "p"),
    ("Dropout p 1", lambda: nn.Dropout(1.0), ValueError, r"p=1 drops every unit"),
    ("Dropout2d p 1", lambda: nn.Dropout2d(1), ValueError, r"1/\(1-p\) scale .* undefined"),
    ("Dropout p NaN", lambda: nn.Dropout(float("nan")), ValueError, "p"),
    ("Dropout2d p string", lambda: nn.Dropout2d("0.5"), TypeError, "p"),
    ("MaxPool2d kernel 0", lambda: nn.MaxPool2d(0), ValueError, "kernel_size"),
    ("MaxPool2d stride 0", lambda: nn.MaxPool2d(2, stride=0), ValueError, "stride"),
    ("MaxPool2d padding over half", lambda: nn.MaxPool2d(2, padding=2), ValueError, "padding"),
    ("AvgPool2d kernel negative", lambda: nn.AvgPool2d(-2), ValueError, "kernel_size"),
    ("AvgPool2d float kernel", lambda: nn.AvgPool2d(2.0), TypeError, "kernel_size"),
    ("AdaptiveAvgPool2d 0", lambda: nn.AdaptiveAvgPool2d(0), ValueError, "output_size"),
    ("LeakyReLU slope string", lambda: nn.LeakyReLU("0.1"), TypeError, "negative_slope"),
    ("Softmax float dim", lambda: nn.Softmax(dim=1.0), TypeError, "dim"),
    ("Flatten float dim", lambda: nn.Flatten(1.5), TypeError, "start_dim"),
]


@pytest.mark.parametrize("make, error, argument", [c[1:] for c in BAD_CONSTRUCTORS],
                         ids=[c[0] for c in BAD_CONSTRUCTORS])
def test_constructors_refuse_nonsense(make, error, argument):
    with pytest.raises(error, match=argument):
        make()


def test_constructors_accept_what_pytorch_accepts():
    assert nn.Conv2d(3, 8, (3, 1), stride=(2, 1), padding=(1, 0)).kernel_size == (3, 1)
    assert nn.Conv2d(np.int64(3), 8, np.int32(3)).in_channels == 3
    assert nn.Conv2d(3, 8, 3, padding="valid").padding == (0, 0)
    assert nn.Dropout(0.999).p == 0.999 and nn.Dropout(0).p == 0.0
    # PyTorch accepts p = 1 (all zeros): the function does, the layers refuse it (above)
    out, (mask, _) = F.dropout_forward(np.ones((2, 3)), 1.0, np.random.default_rng(0))
    assert not out.any() and not mask.any()
    assert nn.BatchNorm2d(4, eps=1e-3, momentum=0.0).momentum == 0.0
    assert nn.MaxPool2d(3, padding=1).padding == (1, 1)
    assert pair(np.int64(2), "k") == (2, 2)
    with pytest.raises(TypeError):
        pair((2, True), "k")


# ----------------------------------------------------------------------------- NaN
def test_nan_propagates_through_max_pooling_wherever_it_sits():
    for position in range(4):
        window = np.array([1.0, 0.0, 2.0, -1.0], np.float32)
        window[position] = np.nan
        x = window.reshape(1, 1, 2, 2)
        out, cache = F.maxpool2d_forward(x, 2)
        assert np.isnan(out).all(), position
        assert np.isnan(F.maxpool2d_forward(x, 2, for_backward=False)[0]).all(), position
        dx = F.maxpool2d_backward(np.ones_like(out), cache)
        assert dx.reshape(-1)[position] == 1 and dx.sum() == 1, position
    x = np.array([[[[1, np.nan], [0, 2]]]])
    assert np.isnan(nn.MaxPool2d(2)(x)).all()                     # the example
    with nn.no_grad():
        assert np.isnan(nn.MaxPool2d(2)(x)).all()


def test_nan_in_max_pooling_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 8))
    x[rng.random(x.shape) < 0.15] = np.nan
    x[0, 0, :3, :3] = np.nan                                      # whole windows of NaN
    for kernel, stride, padding in [(2, 2, 0), (3, 2, 1), (3, 1, 1)]:
        out, cache = F.maxpool2d_forward(x, kernel, stride, padding)
        values, _ = F.maxpool2d_forward(x, kernel, stride, padding, for_backward=False)
        xt = torch.tensor(x, requires_grad=True)
        outt = torch.nn.functional.max_pool2d(xt, kernel, stride, padding)
        d = rng.standard_normal(out.shape)
        outt.backward(torch.tensor(d))
        np.testing.assert_array_equal(out, outt.detach().numpy())
        np.testing.assert_array_equal(values, out)
        np.testing.assert_array_equal(F.maxpool2d_backward(d, cache), xt.grad.numpy())


def test_relu_backward_at_nan_matches_pytorch():
    x = np.array([np.nan, -1.0, 0.0, 2.0, -np.inf, np.inf])
    for dtype in (np.float32, np.float64):
        relu = nn.ReLU()
        out = relu(x.astype(dtype))
        dx = relu.backward(np.full(x.shape, 3.0, dtype))
        np.testing.assert_array_equal(dx, np.array([3, 0, 0, 3, 0, 3], dtype))
        _, cache = F.relu_forward(np.array(np.nan, dtype))
        assert F.relu_backward(np.array(3.0, dtype), cache) == 3
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x, requires_grad=True)
    torch.relu(xt).backward(torch.full((6,), 3.0, dtype=torch.float64))
    np.testing.assert_array_equal(dx.astype(np.float64), xt.grad.numpy())
    np.testing.assert_array_equal(out, torch.relu(torch.tensor(x)).numpy().astype(np.float64))
