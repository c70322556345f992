"""Batch transforms: what each must do, seeded reproducibility, and agreement with PyTorch."""

import numpy as np
import pytest

from minitorch_cv.data import (
    Compose,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    Resize,
    ToFloat,
    resize,
    rotate,
)


def images(n=8, c=3, h=32, w=32, seed=0, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, c, h, w)).astype(dtype)


# ----------------------------------------------------------------------------- flip

def test_flip_twice_is_identity():
    x = images()
    flip = RandomHorizontalFlip(p=1.0)
    once = flip(x, np.random.default_rng(0))
    np.testing.assert_array_equal(once, x[..., ::-1])
    np.testing.assert_array_equal(flip(once, np.random.default_rng(1)), x)


def test_random_flip_same_seed_twice_restores_and_flips_about_half():
    x = images(n=400)
    flip = RandomHorizontalFlip()
    out = flip(x, np.random.default_rng(7))
    flipped = np.all(out == x[..., ::-1], axis=(1, 2, 3))
    kept = np.all(out == x, axis=(1, 2, 3))
    assert np.all(flipped | kept)  # every image is either mirrored or untouched
    assert 150 < flipped.sum() < 250
    # The same draws flip the same images back.
    np.testing.assert_array_equal(flip(out, np.random.default_rng(7)), x)


def test_flip_probability_zero_and_dtype_preserved():
    x = images()
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(x, np.random.default_rng(0)), x)
    for dtype in (np.uint8, np.float32):
        assert RandomHorizontalFlip()(x.astype(dtype), np.random.default_rng(0)).dtype == dtype
    with pytest.raises(ValueError):
        RandomHorizontalFlip(p=1.5)


# ----------------------------------------------------------------------------- crop

def _crop_offsets(out, size=32, padding=4):
    """Recover each image's crop offset from where a marked pixel ended up."""
    n = out.shape[0]
    rows, cols = np.nonzero(out[:, 0] == 255)[1:]
    assert len(rows) == n
    centre = size // 2
    return centre + padding - rows, centre + padding - cols


def test_crop_offsets_cover_the_whole_range():
    n, p = 2000, 4
    x = np.zeros((n, 1, 32, 32), dtype=np.uint8)
    x[:, 0, 16, 16] = 255  # a marker that stays inside every crop
    out = RandomCrop(32, padding=p)(x, np.random.default_rng(0))
    assert out.shape == (n, 1, 32, 32) and out.dtype == np.uint8
    oy, ox = _crop_offsets(out, padding=p)
    assert set(oy.tolist()) == set(range(2 * p + 1))
    assert set(ox.tolist()) == set(range(2 * p + 1))


def test_crop_equals_pad_then_slice():
    x = images(n=16)
    rng = np.random.default_rng(3)
    out = RandomCrop(32, padding=4)(x, rng)
    rng = np.random.default_rng(3)
    oy = rng.integers(0, 9, size=16)
    ox = rng.integers(0, 9, size=16)
    padded = np.pad(x, ((0, 0), (0, 0), (4, 4), (4, 4)))  # zeros
    for i in range(16):
        np.testing.assert_array_equal(out[i], padded[i, :, oy[i]:oy[i] + 32, ox[i]:ox[i] + 32])


def test_crop_smaller_size_and_no_padding():
    x = images(n=4, dtype=np.float32)
    out = RandomCrop((24, 20))(x, np.random.default_rng(0))
    assert out.shape == (4, 3, 24, 20) and out.dtype == np.float32
    with pytest.raises(ValueError):
        RandomCrop(40, padding=2)(x, np.random.default_rng(0))


# ----------------------------------------------------------------------------- rotation

def test_rotation_by_zero_is_identity():
    x = images()
    np.testing.assert_array_equal(rotate(x, 0.0), x)
    np.testing.assert_array_equal(RandomRotation(0)(x, np.random.default_rng(0)), x)


@pytest.mark.parametrize("size", [32, 33])
def test_rotation_by_90_is_rot90_counter_clockwise(size):
    x = images(h=size, w=size)
    np.testing.assert_array_equal(rotate(x, 90), np.rot90(x, 1, axes=(2, 3)))
    np.testing.assert_array_equal(rotate(x, -90), np.rot90(x, -1, axes=(2, 3)))
    np.testing.assert_array_equal(rotate(x, 180), np.rot90(x, 2, axes=(2, 3)))
    fixed = RandomRotation((90, 90))(x, np.random.default_rng(0))
    np.testing.assert_array_equal(fixed, np.rot90(x, 1, axes=(2, 3)))


def test_rotation_direction_positive_is_counter_clockwise():
    x = np.zeros((1, 1, 5, 5), dtype=np.uint8)
    x[0, 0, 2, 4] = 1  # right of the centre
    out = rotate(x, 90)
    assert out[0, 0, 0, 2] == 1  # now above the centre (row 0 is the top)
    assert out.sum() == 1


def test_rotation_non_square_180_and_fill_zero():
    x = images(h=20, w=31, dtype=np.float32) + 1  # no zeros in the input
    np.testing.assert_array_equal(rotate(x, 180), x[:, :, ::-1, ::-1])
    out = rotate(x, 45)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert out[:, :, 0, 0].max() == 0  # corners come from outside: fill 0


def test_rotation_per_image_angles_within_range():
    x = images(n=64)
    rng = np.random.default_rng(5)
    out = RandomRotation(10)(x, rng)
    angles = np.random.default_rng(5).uniform(-10, 10, size=64)
    np.testing.assert_array_equal(out, rotate(x, angles))
    assert out.dtype == np.uint8


def _torchvision_rotate(torch, x, angle):
    """torchvision.transforms.functional.rotate(x, angle) for tensors, with its defaults
    (nearest, expand=False, center=None, fill=0), rebuilt from torch primitives:
    inverse affine matrix, a pixel-centred grid, and grid_sample."""
    n, _, h, w = x.shape
    rot = np.deg2rad(-angle)  # torchvision passes -angle to _get_inverse_affine_matrix
    a, b = np.cos(rot), -np.sin(rot)
    cc, d = np.sin(rot), np.cos(rot)
    theta = torch.tensor([[d, -b, 0.0], [-cc, a, 0.0]], dtype=torch.float32).reshape(1, 2, 3)
    base = torch.empty(1, h, w, 3, dtype=torch.float32)
    base[..., 0].copy_(torch.linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, steps=w))
    base[..., 1].copy_(torch.linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, steps=h).unsqueeze(-1))
    base[..., 2].fill_(1)
    scaled = theta.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h])
    grid = base.view(1, h * w, 3).bmm(scaled).view(1, h, w, 2).expand(n, h, w, 2)
    return torch.nn.functional.grid_sample(torch.from_numpy(x), grid, mode="nearest",
                                           padding_mode="zeros", align_corners=False).numpy()


@pytest.mark.parametrize("angle", [7.3, -10.0, 33.0, 90.0])
def test_rotation_matches_torchvision_rule(angle):
    torch = pytest.importorskip("torch")
    x = images(n=4, h=32, w=32, dtype=np.float32)
    ref = _torchvision_rotate(torch, x, angle)
    out = rotate(x, angle)
    # Only pixels whose source lies exactly half-way between two pixels may round
    # differently (float32 vs float64 coordinates).
    assert np.mean(out == ref) > 0.999


# ----------------------------------------------------------------------------- to float, normalize

def test_to_float():
    x = images()
    out = ToFloat()(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_array_equal(out, x.astype(np.float32) / np.float32(255))
    assert out.min() >= 0 and out.max() <= 1


def test_normalize_statistics():
    x = images(n=256)
    xf = ToFloat()(x)
    mean = xf.mean(axis=(0, 2, 3))
    std = xf.std(axis=(0, 2, 3))
    out = Normalize(mean, std)(xf)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-4)
    # A scalar mean/std applies to every channel: (x - 0.5) / 0.25.
    np.testing.assert_allclose(Normalize(0.5, 0.25)(xf), (xf - 0.5) / 0.25, atol=1e-6)


def test_normalize_fused_in_compose_is_exact():
    x = images(n=16)
    norm = Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    separate = norm(ToFloat()(x))
    fused = Compose([ToFloat(), norm])(x)
    assert fused.dtype == np.float32
    np.testing.assert_array_equal(fused, separate)


def test_normalize_from_uint8_leaves_its_input_alone():
    x = np.full((2, 3, 4, 4), 51.0, dtype=np.float32)
    out = Normalize(0.2, 0.5).from_uint8(x)
    assert out is not x and (x == 51.0).all()
    np.testing.assert_array_equal(out, (np.float32(51) / np.float32(255) - np.float32(0.2))
                                  / np.float32(0.5))


def test_normalize_refuses_uint8_and_wrong_channels():
    with pytest.raises(TypeError, match="ToFloat"):
        Normalize(0.5, 0.25)(images())
    with pytest.raises(ValueError, match="channels"):
        Normalize((0.1, 0.2), (1.0, 1.0))(ToFloat()(images()))
    with pytest.raises(ValueError):
        Normalize(0.5, 0.0)


# ----------------------------------------------------------------------------- resize

@pytest.mark.parametrize("size", [64, 224, (40, 17), 16, (7, 100)])
def test_resize_matches_torch_interpolate(size):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=size, mode="bilinear",
                                          align_corners=False).numpy()
    out = Resize(size)(x)
    assert out.dtype == np.float32 and out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5)


def test_resize_float64_and_uint8():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).random((2, 3, 32, 32))
    ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=64, mode="bilinear",
                                          align_corners=False).numpy()
    np.testing.assert_allclose(resize(x, 64), ref, atol=1e-12)
    u = images(n=2)
    out = resize(u, 64)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.rint(resize(u.astype(np.float32), 64)))


def test_resize_same_size_is_identity():
    x = images(dtype=np.float32)
    np.testing.assert_array_equal(resize(x, 32), x)


# ----------------------------------------------------------------------------- compose, seeds

def augment():
    return Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), RandomRotation(10),
                    ToFloat(), Normalize(0.5, 0.25)])


def test_seeded_reproducibility():
    x = images(n=32)
    a = augment()(x, np.random.default_rng(123))
    b = augment()(x, np.random.default_rng(123))
    c = augment()(x, np.random.default_rng(124))
    assert a.dtype == np.float32 and a.shape == x.shape
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_transforms_never_touch_global_numpy_random():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    augment()(images(), np.random.default_rng(0))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_input_is_not_modified():
    x = images()
    keep = x.copy()
    augment()(x, np.random.default_rng(0))
    Compose([ToFloat(), Normalize(0.5, 0.25), Resize(64)])(x)
    np.testing.assert_array_equal(x, keep)


def test_bad_batch_shape_is_refused():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        RandomHorizontalFlip()(np.zeros((3, 32, 32), np.uint8), np.random.default_rng(0))
