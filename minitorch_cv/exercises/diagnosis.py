"""Diagnosis: which output is wrong, where, and which known mistake it matches.

The grader knows the right answer (from :mod:`minitorch_cv.functional`, or
:mod:`minitorch_cv.optim` / :mod:`minitorch_cv.theory`). When a student's array differs,
:func:`compare` says how much and *where*: only at the border of the image, only in some
channels or images of the batch, only where windows overlap. :func:`known_mistake` then
compares the student's array with the answers that well-known mistakes produce (computed
by the grader, e.g. the convolution with the kernel flipped) and names the mistake when
one of them matches.
"""

import numpy as np

__all__ = ["tolerance", "agree", "compare", "known_mistake", "border_mask",
           "window_coverage"]


def tolerance(dtype):
    """(rtol, atol relative to the largest entry) for comparing arrays of ``dtype``:
    float32 sums in another order differ in the 6th digit, float64 ones in the 13th."""
    return (2e-4, 2e-5) if np.dtype(dtype) == np.float32 else (1e-6, 1e-9)


def _close(student, expected, dtype=None):
    expected = np.asarray(expected, dtype=np.float64)
    student = np.asarray(student, dtype=np.float64)
    rtol, atol = tolerance(dtype if dtype is not None else np.float64)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    with np.errstate(invalid="ignore"):
        return np.isclose(student, expected, rtol=rtol, atol=atol * max(scale, 1.0))


def agree(student, expected, dtype=None):
    """True when ``student`` has ``expected``'s shape and every entry agrees."""
    if student is None or np.shape(student) != np.shape(expected):
        return False
    return bool(np.all(_close(student, expected, dtype)))


def border_mask(shape, width):
    """True on the first and last ``width`` rows and columns of the last two axes."""
    mask = np.zeros(shape[-2:], dtype=bool)
    if width > 0:
        mask[:width, :] = mask[-width:, :] = True
        mask[:, :width] = mask[:, -width:] = True
    return np.broadcast_to(mask, shape)


def window_coverage(hw, kernel, stride, padding):
    """How many windows cover each input position (H, W) of a convolution or pooling."""
    h, w = hw
    count = np.zeros((h + 2 * padding, w + 2 * padding), dtype=int)
    for i in range(0, h + 2 * padding - kernel + 1, stride):
        for j in range(0, w + 2 * padding - kernel + 1, stride):
            count[i:i + kernel, j:j + kernel] += 1
    return count[padding:padding + h, padding:padding + w]


def _indices(axis_wrong, total, noun):
    idx = np.flatnonzero(axis_wrong).tolist()
    shown = ", ".join(map(str, idx[:6])) + (", ..." if len(idx) > 6 else "")
    return f"only in {noun} {shown} (of {total})"


def compare(name, student, expected, dtype=None, border=0, coverage=None):
    """Compare one output. Returns ``(passed, message)``.

    The message says how many entries are wrong, the largest error, and where the wrong
    entries are: only in some images of the batch (axis 0) or channels (axis 1), only
    within ``border`` of the image edges, or only where ``coverage`` (windows per input
    position, for dx of a layer with windows) is above 1.
    """
    expected = np.asarray(expected)
    if student is None:
        return False, f"`{name}` is None, expected an array of shape {expected.shape}"
    student = np.asarray(student)
    if student.shape != expected.shape:
        return False, f"`{name}` has shape {student.shape}, expected {expected.shape}"
    if not np.all(np.isfinite(student)) and np.all(np.isfinite(expected)):
        bad = int(np.sum(~np.isfinite(student)))
        return False, (f"`{name}` has {bad} NaN or infinite entries (overflow, or a division "
                       "by zero?)")
    ok = _close(student, expected, dtype)
    if np.all(ok):
        return True, f"`{name}` is right"
    wrong = ~ok
    error = float(np.max(np.abs(student.astype(np.float64) - expected)[wrong]))
    parts = [(f"`{name}` is wrong in {int(wrong.sum())} of {wrong.size} entries "
             f"(largest error {error:.3g})")]
    if expected.ndim >= 3 and wrong.size > 1:       # (N, C, ...) images or (F, C, K, K)
        per_image = wrong.reshape(wrong.shape[0], -1).any(axis=1)
        if 0 < per_image.sum() < per_image.size:
            parts.append(_indices(per_image, per_image.size, "image(s) of the batch"))
        per_channel = np.moveaxis(wrong, 1, 0).reshape(wrong.shape[1], -1).any(axis=1)
        if 0 < per_channel.sum() < per_channel.size:
            parts.append(_indices(per_channel, per_channel.size, "channel(s)"))
    if expected.ndim == 4 and border > 0:
        edge = border_mask(expected.shape, border)
        if np.mean(~edge) >= 0.25 and not np.any(wrong & ~edge):   # an interior to speak of
            parts.append(f"only at the border (the outer {border} row(s)/column(s))")
    if expected.ndim == 4 and coverage is not None:
        many = np.broadcast_to(coverage > 1, expected.shape)
        if np.any(many) and not np.any(wrong & ~many):
            parts.append("only where several windows overlap")
    return False, "; ".join(parts)


def known_mistake(student, candidates, dtype=None):
    """The description of the first ``(description, wrong_answer)`` candidate that the
    student's array equals, or None. Shapes must match for a candidate to match."""
    if student is None:
        return None
    for description, wrong in candidates:
        if wrong is None:
            continue
        wrong = np.asarray(wrong)
        if np.shape(student) == wrong.shape and np.all(np.isfinite(wrong)) and agree(
                student, wrong, dtype):
            return description
    return None
