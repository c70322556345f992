"""Tests of minitorch_cv.theory: Task 1's arithmetic, checked against real layers."""

import re
import subprocess
import sys

import numpy as np
import pytest

from minitorch_cv import functional, models, nn, theory
from minitorch_cv.theory import (
    SEED_TASK1A_RESULT,
    TASK1A_IMAGE,
    TASK1A_KERNEL,
    conv_output_size,
    convolve2d,
    cross_correlate2d,
    kernel_size_for,
    param_count,
    pool_output_size,
    same_padding,
    summary,
)

TASK2_LAYER_PARAMS = [2432, 51264, 204928, 131136, 650]


# --------------------------------------------------------------------------- conv_output_size
@pytest.mark.parametrize("size, k, s, p, expected", [
    (32, 5, 1, 2, 32), (32, 3, 1, 0, 30), (252, 3, 1, 0, 250), (512, 9, 1, 0, 504),
    (33, 4, 2, 0, 15), (7, 7, 1, 0, 1), (5, 7, 1, 1, 1), (224, 7, 2, 3, 112)])
def test_conv_output_size_ints(size, k, s, p, expected):
    assert conv_output_size(size, kernel_size=k, stride=s, padding=p) == expected
    assert isinstance(conv_output_size(size, k, s, p), int)


def test_conv_output_size_pairs_and_mixed():
    assert conv_output_size((32, 20), kernel_size=3, stride=2) == (15, 9)
    assert conv_output_size(32, kernel_size=(5, 3), padding=(2, 1)) == (32, 32)
    assert conv_output_size([10, 12], (3, 3), (1, 2), (0, 1)) == (8, 6)
    assert conv_output_size(np.int64(32), np.int64(5), padding=np.int64(2)) == 32


def test_conv_output_size_exact_raises_with_numbers():
    assert conv_output_size(33, kernel_size=4, stride=2) == 15        # floors like PyTorch
    with pytest.raises(ValueError, match=re.escape(
            "(33 + 2*0 - 4) = 29 is not divisible by stride 2")):
        conv_output_size(33, kernel_size=4, stride=2, exact=True)
    assert conv_output_size(34, kernel_size=4, stride=2, exact=True) == 16
    with pytest.raises(ValueError, match=r"width: \(20 \+ 2\*1 - 3\) = 19 is not divisible"):
        conv_output_size((21, 20), kernel_size=3, stride=2, padding=1, exact=True)


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 5, "kernel_size": 7}, "larger than the padded input 5 \\+ 2\\*0 = 5"),
    ({"size": 5, "kernel_size": 8, "padding": 1}, "larger than the padded input"),
    ({"size": 32, "kernel_size": 3, "stride": 0}, "stride must be >= 1"),
    ({"size": 32, "kernel_size": 3, "stride": -2}, "stride must be >= 1"),
    ({"size": 32, "kernel_size": 3, "padding": -1}, "padding must be >= 0"),
    ({"size": 32, "kernel_size": 0}, "kernel_size must be >= 1"),
    ({"size": 0, "kernel_size": 1}, "input size must be >= 1"),
    ({"size": (32, 4), "kernel_size": 5}, "width: kernel_size 5 is larger"),
])
def test_conv_output_size_impossible(kwargs, message):
    for exact in (False, True):
        with pytest.raises(ValueError, match=message):
            conv_output_size(**kwargs, exact=exact)


def test_sizes_reject_non_integers():
    with pytest.raises(TypeError, match="kernel_size"):
        conv_output_size(32, 2.5)
    with pytest.raises(TypeError, match="size"):
        conv_output_size(32.0, 3)
    with pytest.raises(TypeError):
        conv_output_size(32, True)
    with pytest.raises(TypeError, match="pair"):
        conv_output_size((32, 32, 3), 3)


@pytest.mark.parametrize("size, k, s, p", [
    (32, 5, 1, 2), (13, 3, 2, 1), (16, 4, 3, 0), (9, (3, 1), (2, 1), (1, 0)),
    ((11, 8), 3, (1, 3), 2)])
def test_conv_output_size_matches_conv2d_layer(size, k, s, p):
    h, w = (size, size) if isinstance(size, int) else size
    layer = nn.Conv2d(2, 3, kernel_size=k, stride=s, padding=p)
    with nn.no_grad():
        out = layer(np.zeros((1, 2, h, w), dtype=np.float32))
    assert conv_output_size((h, w), k, s, p) == out.shape[2:]


# --------------------------------------------------------------------------- pool_output_size
def test_pool_output_size():
    assert pool_output_size(504, kernel_size=2, stride=2) == 252
    assert pool_output_size(504, kernel_size=2) == 252                 # stride = kernel
    assert pool_output_size(7, kernel_size=2) == 3                     # floors
    assert pool_output_size(7, kernel_size=3, stride=2, padding=1) == 4
    assert pool_output_size((32, 16), kernel_size=(2, 4)) == (16, 4)
    with pytest.raises(ValueError, match=re.escape("(7 + 2*0 - 2) = 5 is not divisible "
                                                   "by stride 2")):
        pool_output_size(7, kernel_size=2, exact=True)
    with pytest.raises(ValueError, match="more than half the kernel size"):
        pool_output_size(8, kernel_size=2, padding=2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        pool_output_size(1, kernel_size=3, stride=1, padding=0)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        pool_output_size(8, kernel_size=2, stride=0)


@pytest.mark.parametrize("size, k, s, p", [(32, 2, 2, 0), (7, 3, 2, 1), (9, 2, None, 0),
                                           ((10, 7), (3, 2), (2, 1), (1, 0))])
def test_pool_output_size_matches_pool_layers(size, k, s, p):
    h, w = (size, size) if isinstance(size, int) else size
    x = np.zeros((1, 1, h, w), dtype=np.float32)
    with nn.no_grad():
        for layer in (nn.MaxPool2d(k, stride=s, padding=p), nn.AvgPool2d(k, stride=s,
                                                                         padding=p)):
            assert pool_output_size((h, w), k, s, p) == layer(x).shape[2:]


# --------------------------------------------------------------------------- same_padding
def test_same_padding():
    assert same_padding(5) == 2
    assert same_padding(kernel_size=5, stride=1) == 2
    assert same_padding(3) == 1
    assert same_padding(1) == 0
    assert same_padding((3, 7)) == (1, 3)
    for k in (1, 3, 5, 7, 11):
        assert conv_output_size(17, k, 1, same_padding(k), exact=True) == 17


def test_same_padding_impossible():
    with pytest.raises(ValueError, match="kernel_size 4 is even.*no symmetric padding"):
        same_padding(4)
    with pytest.raises(ValueError, match="width: kernel_size 2 is even"):
        same_padding((3, 2))
    with pytest.raises(ValueError, match="no padding keeps the size at stride 2"):
        same_padding(5, stride=2)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        same_padding(3, stride=0)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        same_padding(0)


# --------------------------------------------------------------------------- kernel_size_for
def test_kernel_size_for():
    assert kernel_size_for(512, 504) == 9                              # Task 1d
    assert kernel_size_for(514, 504) == 11                             # the seed's typo
    assert kernel_size_for(32, 32, padding=2) == 5
    assert kernel_size_for((512, 30), (504, 28)) == (9, 3)


@pytest.mark.parametrize("in_size, out_size, s, p", [
    (512, 504, 1, 0), (32, 16, 2, 1), (33, 15, 2, 0), (28, 8, 3, 1), (10, 1, 1, 0)])
def test_kernel_size_for_round_trip(in_size, out_size, s, p):
    k = kernel_size_for(in_size, out_size, stride=s, padding=p)
    assert conv_output_size(in_size, k, s, p, exact=True) == out_size
    # with stride s the s-1 smaller kernels floor to the same size, but not exactly
    for smaller in range(max(1, k - s + 1), k):
        assert conv_output_size(in_size, smaller, s, p) == out_size
        with pytest.raises(ValueError, match="not divisible"):
            conv_output_size(in_size, smaller, s, p, exact=True)


def test_kernel_size_for_impossible():
    with pytest.raises(ValueError, match="no kernel size maps 5 to 10"):
        kernel_size_for(5, 10)
    with pytest.raises(ValueError, match="no kernel size maps 32 to 20 with stride 2"):
        kernel_size_for(32, 20, stride=2)
    with pytest.raises(ValueError, match="height: no kernel size maps 4 to 8"):
        kernel_size_for((4, 8), (8, 8))
    with pytest.raises(ValueError, match="sizes must be >= 1"):
        kernel_size_for(32, 0)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        kernel_size_for(32, 30, stride=0)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        kernel_size_for(32, 30, padding=-1)


# --------------------------------------------------------------------------- param_count
def test_param_count_task2():
    model = models.task2_model()
    assert param_count(model) == 390410
    layers = [m for m in model if m._parameters]
    assert [param_count(m) for m in layers] == TASK2_LAYER_PARAMS
    assert sum(TASK2_LAYER_PARAMS) == 390410


def test_param_count_layers_and_frozen():
    assert param_count(nn.Conv2d(3, 32, kernel_size=5)) == (5 * 5 * 3 + 1) * 32
    assert param_count(nn.Conv2d(3, 32, kernel_size=5, bias=False)) == 5 * 5 * 3 * 32
    assert param_count(nn.Linear(64, 10)) == 650
    assert param_count(nn.ReLU()) == 0
    assert param_count(nn.BatchNorm2d(16)) == 32                       # buffers do not count
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    assert param_count(model) == 8
    assert param_count(model, trainable_only=False) == 15 + 8
    with pytest.raises(TypeError, match="expected a Module"):
        param_count(42)


def test_param_count_shared_layer_counts_once():
    shared = nn.Linear(4, 4)
    assert param_count(nn.Sequential(shared, nn.ReLU(), shared)) == 20


def _torch_task2():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    features = tnn.Sequential(
        tnn.Conv2d(3, 32, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2),
        tnn.Conv2d(32, 64, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2),
        tnn.Conv2d(64, 128, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2), tnn.Flatten())
    with torch.no_grad():
        flat = features(torch.zeros(1, 3, 32, 32)).shape[1]          # found by running it
    return torch, tnn.Sequential(*features, tnn.Linear(flat, 64), tnn.ReLU(),
                                 tnn.Linear(64, 10))


def test_param_count_matches_torch():
    _, reference = _torch_task2()
    expected = sum(p.numel() for p in reference.parameters())
    assert param_count(models.task2_model()) == expected == 390410
    per_layer = [sum(p.numel() for p in m.parameters()) for m in reference
                 if any(True for _ in m.parameters())]
    assert per_layer == TASK2_LAYER_PARAMS


# --------------------------------------------------------------------------- summary
def _summary_rows(text):
    """(name, type, shape) for each layer row of a summary table."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"^(\S+)\s+([A-Za-z]\w*)\s+(\([\d, ]*\)|\(not called\))", line)
        if m:
            rows.append((m.group(1), m.group(2), m.group(3)))
    return rows


def test_summary_task2():
    text = summary(models.task2_model(), input_shape=(1, 3, 32, 32))
    rows = _summary_rows(text)
    assert [r[1] for r in rows] == ["Conv2d", "ReLU", "MaxPool2d"] * 3 + [
        "Flatten", "Linear", "ReLU", "Linear"]
    shapes = [r[2] for r in rows]
    assert shapes[0] == "(1, 32, 32, 32)"
    assert shapes[2] == "(1, 32, 16, 16)"
    assert shapes[8] == "(1, 128, 4, 4)"
    assert shapes[9] == "(1, 2048)"
    assert shapes[-1] == "(1, 10)"
    assert "Total params:         390,410" in text
    assert "Trainable params:     390,410" in text
    assert "Non-trainable params: 0" in text
    for count in TASK2_LAYER_PARAMS:
        assert re.search(rf"\s{count:,}$", text, flags=re.MULTILINE)
    assert "(1, 3, 32, 32)" in text                                    # the input row


def test_summary_shapes_match_torch():
    torch, reference = _torch_task2()
    x = torch.zeros(2, 3, 32, 32)
    expected = []
    with torch.no_grad():
        for layer in reference:
            x = layer(x)
            expected.append(str(tuple(x.shape)))
    rows = _summary_rows(summary(models.task2_model(), input_shape=(2, 3, 32, 32)))
    assert [r[2] for r in rows] == expected


class _Block(nn.Module):
    """A small residual block: nested children and a ReLU used twice."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, x):
        return self.relu(self.conv2(self.relu(self.bn1(self.conv1(x)))) + x)


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.layer1 = nn.Sequential(_Block(4), _Block(4))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4, 10)
        self.unused = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.layer1(self.stem(x)))))


def test_summary_nested_model_and_restores_state():
    net = _Net()
    net.layer1[1].conv2.requires_grad_(False)
    before = net.state_dict()
    assert net.training
    text = summary(net, input_shape=(1, 3, 16, 16))
    rows = _summary_rows(text)
    names = [r[0] for r in rows]
    assert names[:5] == ["stem", "layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu",
                         "layer1.0.conv2"]
    assert names.count("layer1.0.relu") == 2                          # called twice
    assert ("layer1.1.conv2", "Conv2d", "(1, 4, 8, 8)") in rows
    assert ("fc", "Linear", "(1, 10)") in rows
    assert ("unused", "Linear", "(not called)") in rows
    assert "(reused)" in text
    total = param_count(net, trainable_only=False)
    frozen = 4 * 4 * 3 * 3
    assert f"Total params:         {total:,}" in text
    assert f"Trainable params:     {total - frozen:,}" in text
    assert f"Non-trainable params: {frozen:,}" in text
    # mode, forwards and BatchNorm statistics are left as they were
    assert all(m.training for m in net.modules())
    assert not any("forward" in m.__dict__ for m in net.modules())
    after = net.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_summary_restores_after_a_failing_forward():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(5, 2))
    model.eval()
    model[0].train()                                                   # mixed modes
    with pytest.raises(ValueError):
        summary(model, input_shape=(1, 3, 8, 8))
    assert not any("forward" in m.__dict__ for m in model.modules())
    assert [m.training for m in model.modules()] == [False, True, False, False]


def test_summary_keeps_what_backward_needs():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, rng=0), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 2, rng=0))
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    out = model(x)
    expected = model.backward(np.ones_like(out))
    model.zero_grad()
    model(x)
    summary(model, input_shape=(1, 3, 8, 8))      # runs its own forward under no_grad
    np.testing.assert_array_equal(model.backward(np.ones_like(out)), expected)


def test_summary_of_a_single_layer_and_float64():
    layer = nn.Conv2d(1, 2, 3).to(np.float64)
    text = summary(layer, input_shape=(1, 1, 5, 5))
    assert ("Conv2d", "Conv2d", "(1, 2, 3, 3)") in _summary_rows(text)
    assert "Total params:         20" in text


def test_summary_resnet18_if_available():
    try:
        net = models.resnet18(num_classes=10)
    except (ImportError, AttributeError):
        pytest.skip("models.resnet18 not available yet")
    text = summary(net, input_shape=(1, 3, 32, 32))
    rows = _summary_rows(text)
    assert rows[-1][2] == "(1, 10)"
    assert f"Total params:         {param_count(net, trainable_only=False):,}" in text


# --------------------------------------------------------------------------- 2D filtering
def test_task1a_constants_are_read_only():
    assert TASK1A_IMAGE.shape == (3, 5) and TASK1A_KERNEL.shape == (3, 3)
    with pytest.raises(ValueError):
        TASK1A_IMAGE[0, 0] = 5


def test_task1a_cross_correlation_is_the_seed_matrix():
    c = cross_correlate2d(TASK1A_IMAGE, TASK1A_KERNEL, padding=1)
    assert c.shape == (3, 5)
    assert np.issubdtype(c.dtype, np.integer)
    np.testing.assert_array_equal(c, SEED_TASK1A_RESULT)
    np.testing.assert_array_equal(c, [[2, -1, 11, -2, -13], [10, -4, 8, 2, -18],
                                      [14, -1, -5, 6, -9]])


def test_task1a_true_convolution_is_the_negation():
    c = cross_correlate2d(TASK1A_IMAGE, TASK1A_KERNEL, padding=1)
    true_conv = convolve2d(TASK1A_IMAGE, TASK1A_KERNEL, padding=1)
    np.testing.assert_array_equal(TASK1A_KERNEL[::-1, ::-1], -TASK1A_KERNEL)
    np.testing.assert_array_equal(true_conv, -c)


@pytest.mark.parametrize("padding, stride", [(0, 1), (1, 1), (2, 2), ((1, 0), (1, 2))])
def test_convolve_is_cross_correlate_with_flipped_kernel(padding, stride):
    rng = np.random.default_rng(0)
    image = rng.integers(-5, 6, size=(6, 7))
    kernel = rng.integers(-3, 4, size=(3, 2))
    np.testing.assert_array_equal(
        convolve2d(image, kernel, padding=padding, stride=stride),
        cross_correlate2d(image, np.flip(kernel), padding=padding, stride=stride))
    symmetric = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    np.testing.assert_array_equal(convolve2d(image, symmetric, padding, stride),
                                  cross_correlate2d(image, symmetric, padding, stride))


def test_cross_correlate2d_small_examples():
    np.testing.assert_array_equal(cross_correlate2d([[1, 2], [3, 4]], [[1, 0], [0, -1]]),
                                  [[-3]])
    np.testing.assert_array_equal(convolve2d([[1, 2], [3, 4]], [[1, 0], [0, -1]]), [[3]])
    np.testing.assert_array_equal(cross_correlate2d(np.eye(3, dtype=int), [[1]], padding=1),
                                  np.pad(np.eye(3, dtype=int), 1))
    out = cross_correlate2d(np.arange(25).reshape(5, 5), np.ones((3, 3), dtype=int),
                            stride=2)
    np.testing.assert_array_equal(out, [[54, 72], [144, 162]])
    assert cross_correlate2d([[1.5]], [[2]]).dtype == np.float64


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int32, np.uint64, bool])
def test_cross_correlate2d_sums_integer_images_in_int64(dtype):
    image = np.array([[200, 100], [50, 25]]).astype(dtype)
    expected = int(image.astype(np.int64).sum())            # 375 for uint8, not 375 % 256
    for f in (cross_correlate2d, convolve2d):
        out = f(image, np.ones((2, 2), dtype=np.uint8))
        assert out.dtype == np.int64 and out.tolist() == [[expected]], f.__name__
    big = np.full((3, 3), 255, np.uint8)
    np.testing.assert_array_equal(cross_correlate2d(big, np.full((3, 3), 255, np.uint8)),
                                  [[9 * 255 * 255]])


@pytest.mark.parametrize("image_dtype, kernel_dtype, result", [
    (np.uint8, np.float32, np.float64), (np.float32, np.int64, np.float64),
    (np.float16, np.float32, np.float64), (np.uint8, np.complex64, np.complex128)])
def test_cross_correlate2d_with_a_float_sums_in_float64(image_dtype, kernel_dtype, result):
    image = np.array([[200, 100], [50, 25]]).astype(image_dtype)
    out = cross_correlate2d(image, np.full((2, 2), 2).astype(kernel_dtype))
    assert out.dtype == result and out[0, 0] == 750


def test_cross_correlate2d_refuses_what_int64_cannot_hold():
    huge = np.full((2, 2), 2**62, np.int64)
    with pytest.raises(ValueError, match="int64"):
        cross_correlate2d(huge, np.ones((2, 2), np.int64))
    with pytest.raises(ValueError, match="int64"):
        cross_correlate2d(np.full((1, 1), 2**63, np.uint64), [[1]])
    np.testing.assert_array_equal(cross_correlate2d(huge.astype(np.float64), np.ones((2, 2))),
                                  [[2.0**64]])
    with pytest.raises(TypeError, match="numeric"):
        cross_correlate2d(np.array([["a"]]), [[1]])


def test_cross_correlation_is_translation_equivariant():
    rng = np.random.default_rng(1)
    image = np.zeros((10, 10), dtype=int)
    image[2:6, 2:6] = rng.integers(0, 9, size=(4, 4))
    shifted = np.roll(image, (2, 3), axis=(0, 1))                     # no wrap-around
    c = cross_correlate2d(image, TASK1A_KERNEL, padding=1)
    np.testing.assert_array_equal(cross_correlate2d(shifted, TASK1A_KERNEL, padding=1),
                                  np.roll(c, (2, 3), axis=(0, 1)))


def test_cross_correlate2d_errors():
    with pytest.raises(ValueError, match="2D image"):
        cross_correlate2d(np.zeros((1, 3, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="larger than the padded input"):
        cross_correlate2d(np.zeros((2, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="2D kernel"):
        convolve2d(np.zeros((3, 3)), np.ones(3))


@pytest.mark.parametrize("padding, stride", [(0, 1), (1, 1), (2, 3), ((0, 2), (2, 1))])
def test_cross_correlate2d_matches_functional_conv2d(padding, stride):
    rng = np.random.default_rng(2)
    image = rng.integers(-9, 10, size=(7, 9))
    kernel = rng.integers(-4, 5, size=(3, 4))
    expected, _ = functional.conv2d_forward(image[None, None].astype(np.float64),
                                            kernel[None, None].astype(np.float64),
                                            None, stride, padding)
    np.testing.assert_array_equal(cross_correlate2d(image, kernel, padding, stride),
                                  expected[0, 0])


@pytest.mark.parametrize("padding, stride", [(1, 1), (0, 2), ((2, 1), (1, 3))])
def test_cross_correlate2d_matches_torch(padding, stride):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    image = rng.integers(-9, 10, size=(6, 8))
    kernel = rng.integers(-4, 5, size=(3, 3))
    expected = torch.nn.functional.conv2d(
        torch.tensor(image[None, None], dtype=torch.float64),
        torch.tensor(kernel[None, None], dtype=torch.float64),
        stride=stride, padding=padding)[0, 0].numpy()
    np.testing.assert_array_equal(cross_correlate2d(image, kernel, padding, stride),
                                  expected)
    task1a = torch.nn.functional.conv2d(
        torch.tensor(TASK1A_IMAGE[None, None], dtype=torch.float64),
        torch.tensor(TASK1A_KERNEL[None, None], dtype=torch.float64), padding=1)
    np.testing.assert_array_equal(task1a[0, 0].numpy(), SEED_TASK1A_RESULT)


# --------------------------------------------------------------------------- worked answers
def test_worked_answers():
    answers = theory.worked_answers()
    assert [a[0] for a in answers] == ["1a", "1b", "1c", "1d", "1e", "1f", "1g"]
    by_task = {task: (answer, working) for task, answer, working in answers}
    assert all(isinstance(s, str) and s for a in answers for s in a)
    assert "equals the seed's C" in by_task["1a"][1] and "-C" in by_task["1a"][1]
    assert "EQUIVARIANT" in by_task["1b"][0] and "invariance" in by_task["1b"][0]
    assert by_task["1c"][0].startswith("padding 2")
    assert by_task["1d"][0] == "9x9 kernels" and "514" in by_task["1d"][1]
    assert by_task["1e"][0] == "252x252"
    assert by_task["1f"][0] == "250x250"
    assert by_task["1g"][0] == "390,410 parameters"
    for count in TASK2_LAYER_PARAMS:
        assert f"{count:,}" in by_task["1g"][1]


def test_theory_cli_prints_the_answers():
    result = subprocess.run([sys.executable, "-m", "minitorch_cv.theory"],
                            capture_output=True, text=True, timeout=300, check=True)
    out = result.stdout
    for needle in ("390,410", "9x9", "252", "250", "padding 2", "EQUIVARIANT",
                   "(1, 32, 32, 32)", "(1, 10)"):
        assert needle in out, needle
    compact = out.replace(" ", "")
    for row in SEED_TASK1A_RESULT.tolist():
        assert str(row).replace(" ", "") in compact
    for task in ("1a", "1b", "1c", "1d", "1e", "1f", "1g"):
        assert f"Task {task}:" in out


# --------------------------------------------------------------------------- receptive field
def _footprint(chain, input_size=64):
    """Measured receptive field of the last layer of ``chain``: the extent of the input
    pixels that get a gradient from one output unit in the middle of the map.

    The weights are positive, the biases zero and the input ones, so every ReLU passes and
    a pixel has a non-zero gradient exactly when the unit depends on it (average pooling
    stands in for max pooling, which would pass the gradient to one pixel per window)."""
    model = nn.Sequential(*chain).to(np.float64)
    for p in model.parameters():
        p.data[...] = 0.0 if p.data.ndim == 1 else 1.0
    out = model(np.ones((1, 1, input_size, input_size)))
    dout = np.zeros_like(out)
    dout[0, 0, out.shape[2] // 2, out.shape[3] // 2] = 1.0
    rows, cols = np.nonzero(model.backward(dout)[0, 0])
    assert 0 < rows.min() and rows.max() < input_size - 1      # not cut off by the border
    assert 0 < cols.min() and cols.max() < input_size - 1
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def test_receptive_field_task2():
    rows = theory.receptive_field(models.task2_model())
    assert [r.name for r in rows] == [str(i) for i in range(10)]
    assert [r.size for r in rows[:9]] == [(n, n) for n in (5, 5, 6, 14, 14, 16, 32, 32, 36)]
    assert [r.jump for r in rows[:9]] == [(n, n) for n in (1, 1, 2, 2, 2, 4, 4, 4, 8)]
    assert rows[9] == theory.LayerReceptiveField("9", "Flatten", None, None)


def test_receptive_field_equals_the_measured_footprint():
    # the Task 2 network's geometry, one channel, average pooling in place of max pooling
    chain = []
    for _ in range(3):
        chain += [nn.Conv2d(1, 1, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2, 2)]
    predicted = [r.size for r in theory.receptive_field(nn.Sequential(*chain))]
    assert predicted[-1] == (36, 36)
    for n in (1, 3, 4, 6, 7, 9):
        assert _footprint(chain[:n]) == predicted[n - 1], n
    # non-square kernels, strides and padding
    chain = [nn.Conv2d(1, 1, (3, 5), stride=(2, 1), padding=(1, 0)), nn.AvgPool2d((2, 3)),
             nn.Conv2d(1, 1, 3, stride=2), nn.BatchNorm2d(1), nn.Dropout(0.5)]
    rows = theory.receptive_field(nn.Sequential(*chain))
    assert [r.size for r in rows] == [(3, 5), (5, 7), (13, 13), (13, 13), (13, 13)]
    assert rows[-1].jump == (8, 6)
    model = nn.Sequential(*chain[:3])
    assert _footprint(list(model)) == rows[2].size


def test_receptive_field_refuses_branches_and_unknown_layers():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x):
            return x + self.conv(x)

    with pytest.raises(TypeError, match="may branch"):
        theory.receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), Residual()))

    class Mystery(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="does not know layer '1'"):
        theory.receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), Mystery()))
    single = theory.receptive_field(nn.Conv2d(3, 8, 7, stride=2))
    assert single == [theory.LayerReceptiveField("Conv2d", "Conv2d", (7, 7), (2, 2))]
