"""Transforms on whole batches of images (data augmentation and preprocessing).

Every transform is a callable ``t(batch, rng) -> batch`` on an ``(N, C, H, W)`` batch.
Random transforms draw from ``rng`` only (a :class:`numpy.random.Generator`; an ``int`` is
a seed, ``None`` a fresh unseeded generator), so a seeded generator gives the same batches
every run. The geometric ones keep the input's dtype: run them on ``uint8`` images (4x
less memory traffic than float32) before :class:`ToFloat`, as in :mod:`minitorch_cv.data`.
"""

import numbers

import numpy as np

from ..checks import check_int, check_real, pair

__all__ = ["Compose", "Normalize", "RandomCrop", "RandomHorizontalFlip", "RandomRotation",
           "Resize", "ToFloat", "resize", "rotate"]


def as_generator(rng=None):
    """``rng`` as a :class:`numpy.random.Generator`: a generator as is, an int as a seed,
    ``None`` as a fresh unseeded one (never the global ``np.random`` state)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, numbers.Integral):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {rng!r}")


def _check_batch(batch, name):
    if not isinstance(batch, np.ndarray) or batch.ndim != 4:
        shape = getattr(batch, "shape", None)
        raise ValueError(f"{name} expects a batch of images of shape (N, C, H, W), "
                         f"got shape {shape}")


class _Transform:
    """The repr every transform shares: its class name and its attributes."""

    def __repr__(self):
        args = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"{type(self).__name__}({args})"


class ToFloat(_Transform):
    """Convert ``uint8`` pixels in [0, 255] to ``float32`` in [0, 1] (divide by 255).

    Like ``torchvision.transforms.ToTensor`` without the HWC -> CHW move (batches are
    already NCHW); floating-point input is returned unchanged. Shape: ``(N, C, H, W)``.
    """

    def __call__(self, batch, rng=None):
        _check_batch(batch, "ToFloat")
        if batch.dtype.kind == "f":
            return batch
        out = batch.astype(np.float32)
        out /= np.float32(255.0)
        return out


class Normalize:
    """Standardize each channel: ``out[:, c] = (x[:, c] - mean[c]) / std[c]``.

    Expects floating-point input (apply :class:`ToFloat` first, so mean and std refer
    to pixels in [0, 1], as in torchvision). ``Compose([ToFloat(), Normalize(...)])``
    runs both steps in one pass on the uint8 batch. float64 stays float64; other
    floats give float32. Shape: ``(N, C, H, W) -> (N, C, H, W)``.

    Parameters
    ----------
    mean, std : float or sequence of float
        One number for all channels, or one per channel (e.g. ImageNet's
        ``mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)``).
    """

    def __init__(self, mean, std):
        # A scalar or one number per channel, as float32 of shape (1, C, 1, 1).
        self.mean, self.std = (np.asarray(v, np.float32).reshape(1, -1, 1, 1) for v in (mean, std))
        for name, vec in (("mean", self.mean), ("std", self.std)):
            if vec.size == 0:
                raise ValueError(f"{name} must be a number or one number per channel")
        if np.any(self.std <= 0):
            raise ValueError(f"std must be positive, got {std!r}")

    def _standardize(self, out):
        """``(out - mean) / std`` in place, in the dtype of ``out`` (a new float array)."""
        for name, vec in (("mean", self.mean), ("std", self.std)):
            if vec.shape[1] not in (1, out.shape[1]):
                raise ValueError(f"Normalize: {name} has {vec.shape[1]} values but the batch "
                                 f"has {out.shape[1]} channels")
        out -= self.mean.astype(out.dtype)
        out /= self.std.astype(out.dtype)
        return out

    def __call__(self, batch, rng=None):
        _check_batch(batch, "Normalize")
        if batch.dtype.kind != "f":
            raise TypeError(
                f"Normalize expects floating-point images, got {batch.dtype}; apply ToFloat() "
                "first (Compose([ToFloat(), Normalize(mean, std)]) does both in one pass)")
        return self._standardize(batch.astype(np.float64 if batch.dtype == np.float64
                                              else np.float32))

    def from_uint8(self, batch):
        """``ToFloat`` and ``Normalize`` fused: uint8 in, float32 out, one allocation.

        Computes ``(x / 255 - mean) / std`` in float32, in the same order as
        ``ToFloat`` followed by ``Normalize``, so the result is bit-for-bit the same.
        """
        _check_batch(batch, "Normalize")
        out = batch.astype(np.float32)       # always a new array: the input is never changed
        out /= np.float32(255.0)
        return self._standardize(out)

    def __repr__(self):
        return f"Normalize(mean={self.mean.ravel().tolist()}, std={self.std.ravel().tolist()})"


class RandomCrop(_Transform):
    """Zero-pad every image by ``padding`` on each side, then cut a ``size`` window (an int
    or ``(h, w)``) at a random offset per image.

    With ``size=32, padding=4`` on 32x32 images the padded image is 40x40 and the
    window's top-left corner ``(oy, ox)`` is drawn uniformly from ``{0, ..., 8}`` for
    each axis: the content moves by up to 4 pixels (torchvision's ``RandomCrop(32, 4)``).
    Draws ``rng.integers(0, H + 2p - h + 1, N)`` for the row offsets, then the same
    for the column offsets. Shape: ``(N, C, H, W) -> (N, C, h, w)``, same dtype.
    """

    def __init__(self, size, padding=0):
        self.size = pair(size, "size")
        self.padding = check_int(padding, "padding", minimum=0)

    def __call__(self, batch, rng=None):
        _check_batch(batch, "RandomCrop")
        rng = as_generator(rng)
        n, _, height, width = batch.shape
        (h, w), p = self.size, self.padding
        if h > height + 2 * p or w > width + 2 * p:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded "
                             f"image ({height + 2 * p}, {width + 2 * p})")
        padded = np.pad(batch, ((0, 0), (0, 0), (p, p), (p, p))) if p > 0 else batch
        oy = rng.integers(0, padded.shape[2] - h + 1, size=n)
        ox = rng.integers(0, padded.shape[3] - w + 1, size=n)
        # windows[i, c, y, x] is the (h, w) window whose top-left corner is (y, x): a view,
        # no copy. Picking one window per image is a single fancy-indexing gather.
        windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))
        return windows[np.arange(n), :, oy, ox]


class RandomHorizontalFlip(_Transform):
    """Mirror each image left-right with probability ``p`` (independently per image).

    Draws ``rng.random(N)``; image ``i`` is flipped when the draw is ``< p``. Shape:
    ``(N, C, H, W) -> (N, C, H, W)``, same dtype.
    """

    def __init__(self, p=0.5):
        self.p = check_real(p, "p", low=0, high=1)

    def __call__(self, batch, rng=None):
        _check_batch(batch, "RandomHorizontalFlip")
        rng = as_generator(rng)
        flip = rng.random(batch.shape[0]) < self.p
        out = batch.copy()
        out[flip] = batch[flip, :, :, ::-1]
        return out


def rotate(batch, angles):
    """Rotate each image about its centre by its own angle (nearest neighbour, fill 0).

    Matches ``torchvision.transforms.functional.rotate(img, angle)`` with its defaults
    (``interpolation=NEAREST``, ``expand=False``, ``center=None``, ``fill=0``):
    a positive angle turns the picture **counter-clockwise** as displayed (row 0 at
    the top), about the centre ``((W - 1) / 2, (H - 1) / 2)`` in pixel indices.
    For a square image, ``rotate(x, 90)`` equals ``np.rot90(x, 1, axes=(2, 3))``.

    ``batch``: (N, C, H, W), the result has the same shape and dtype; ``angles``: degrees, a
    float or one per image (shape (N,)).

    Notes
    -----
    Inverse mapping: for every *output* pixel, with coordinates ``(x, y)`` measured from
    the centre (y pointing down), find the *input* pixel it comes from,

    .. math::
        x_{in} = \\cos\\theta \\, x - \\sin\\theta \\, y, \\qquad
        y_{in} = \\sin\\theta \\, x + \\cos\\theta \\, y,

    round to the nearest pixel (ties to even, like ``grid_sample``), and use 0 where
    that falls outside the image. Every output pixel gets exactly one value, so there
    are no holes (a forward mapping would leave some).
    """
    _check_batch(batch, "rotate")
    n, c, height, width = batch.shape
    theta = np.deg2rad(np.broadcast_to(np.asarray(angles, dtype=np.float64), (n,)))
    cos = np.cos(theta)[:, None, None]
    sin = np.sin(theta)[:, None, None]
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    y = (np.arange(height) - cy)[None, :, None]  # (1, H, 1)
    x = (np.arange(width) - cx)[None, None, :]  # (1, 1, W)
    x_in = np.rint(cos * x - sin * y + cx).astype(np.intp)  # (N, H, W)
    y_in = np.rint(sin * x + cos * y + cy).astype(np.intp)
    inside = (x_in >= 0) & (x_in < width) & (y_in >= 0) & (y_in < height)
    # Flat source index per output pixel; pixels from outside point at an extra zero
    # pixel appended after the last one.
    source = np.where(inside, y_in * width + x_in, height * width).reshape(n, 1, height * width)
    flat = np.zeros((n, c, height * width + 1), dtype=batch.dtype)
    flat[:, :, :-1] = batch.reshape(n, c, height * width)
    out = np.take_along_axis(flat, source, axis=2)
    return out.reshape(n, c, height, width)


class RandomRotation(_Transform):
    """Rotate each image by an angle drawn uniformly from ``[-degrees, degrees]``.

    Like ``torchvision.transforms.RandomRotation(degrees)`` with its defaults, applied to
    each sample of the batch with its own angle; see :func:`rotate` for the exact mapping.
    Draws ``rng.uniform(lo, hi, N)``. Shape: ``(N, C, H, W) -> (N, C, H, W)``, same dtype.

    Parameters
    ----------
    degrees : float or (float, float)
        ``d`` means the range ``[-d, d]``; a pair ``(lo, hi)`` is used as is.
    """

    def __init__(self, degrees):
        if isinstance(degrees, numbers.Real):
            degrees = check_real(degrees, "degrees", low=0)
            degrees = (-degrees, degrees)
        lo, hi = (float(d) for d in degrees)
        if lo > hi:
            raise ValueError(f"degrees range must be (low, high) with low <= high, got {degrees}")
        self.degrees = (lo, hi)

    def __call__(self, batch, rng=None):
        _check_batch(batch, "RandomRotation")
        rng = as_generator(rng)
        angles = rng.uniform(self.degrees[0], self.degrees[1], size=batch.shape[0])
        return rotate(batch, angles)


def _linear_taps(in_size, out_size, dtype=np.float32):
    """Source indices ``i0, i1`` and weights ``w0, w1`` of 1-D bilinear resampling::

        src = max((in_size / out_size) * (i + 0.5) - 0.5, 0)
        i0 = floor(src);  i1 = min(i0 + 1, in_size - 1);  w1 = src - i0;  w0 = 1 - w1

    PyTorch's CPU kernel computes this in float32 with ``scale * (i + 0.5) - 0.5`` as one
    fused multiply-add (a single rounding); so do we, via float64, so the weights are
    bit-for-bit PyTorch's. For float64 images everything is float64.
    """
    dtype = np.dtype(dtype).type
    scale = dtype(in_size) / dtype(out_size)
    src = (np.float64(scale) * (np.arange(out_size) + 0.5) - 0.5).astype(dtype)
    src = np.maximum(src, dtype(0.0))
    i0 = np.minimum(src.astype(np.intp), in_size - 1)  # truncation == floor as src >= 0
    i1 = np.minimum(i0 + 1, in_size - 1)
    w1 = np.clip(src - i0.astype(dtype), dtype(0.0), dtype(1.0))
    w0 = dtype(1.0) - w1
    return i0, i1, w0, w1


def resize(batch, size):
    """Bilinear resize, exactly ``torch.nn.functional.interpolate(x, size,
    mode="bilinear", align_corners=False)`` (no antialiasing), of an (N, C, H, W) ``batch``
    to ``size``, ``(H_out, W_out)`` or an int for a square. A uint8 batch is computed in
    float32, then rounded back to uint8.

    Notes
    -----
    Bilinear interpolation is separable: interpolate along the width (each output
    column mixes two input columns), then along the height. Pixel centres are aligned
    (``align_corners=False``): output pixel ``i`` samples the input at
    ``(H / H_out) * (i + 0.5) - 0.5``.
    """
    _check_batch(batch, "resize")
    out_h, out_w = pair(size, "size", minimum=1)
    is_int = batch.dtype.kind != "f"
    x = batch.astype(np.float32) if is_int else batch
    c0, c1, cw0, cw1 = _linear_taps(x.shape[3], out_w, x.dtype)
    r0, r1, rw0, rw1 = _linear_taps(x.shape[2], out_h, x.dtype)
    # Along the width: (N, C, H, W) -> (N, C, H, W_out).
    tmp = cw0 * x[:, :, :, c0] + cw1 * x[:, :, :, c1]
    # Along the height: (N, C, H, W_out) -> (N, C, H_out, W_out).
    out = rw0[:, None] * tmp[:, :, r0, :] + rw1[:, None] * tmp[:, :, r1, :]
    if is_int:
        info = np.iinfo(batch.dtype)
        out = np.clip(np.rint(out), info.min, info.max).astype(batch.dtype)
    return out


class Resize(_Transform):
    """Bilinear resize of every image to ``size`` (e.g. 32x32 -> 224x224 for ResNet18).

    See :func:`resize`. Shape: ``(N, C, H, W) -> (N, C, H_out, W_out)``.
    """

    def __init__(self, size):
        self.size = pair(size, "size")

    def __call__(self, batch, rng=None):
        return resize(batch, self.size)


class Compose:
    """Apply transforms one after the other, all drawing from the same ``rng``.

    ``transforms`` is a sequence of callables ``t(batch, rng) -> batch``. A
    :class:`ToFloat` directly followed by a :class:`Normalize` runs as one fused step
    (:meth:`Normalize.from_uint8`) with the same result.
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, batch, rng=None):
        rng = as_generator(rng)
        fused = False  # the previous ToFloat is done by this Normalize's from_uint8
        for t, nxt in zip(self.transforms, self.transforms[1:] + [None]):
            if fused:
                fused = False
            elif (isinstance(t, ToFloat) and isinstance(nxt, Normalize)
                    and batch.dtype.kind != "f"):
                batch, fused = nxt.from_uint8(batch), True
            else:
                batch = t(batch, rng)
        return batch

    def __repr__(self):
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"
