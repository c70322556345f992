"""Diagnosis: which output is wrong, where (:func:`compare`), and -- only when the evidence
singles it out -- why: a known :class:`Mistake` (:func:`mistake_diagnoses`) or a setting
(:func:`setting_diagnoses`). Otherwise the report says where the answer is wrong, and stops."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .settings import describe

__all__ = ["Mistake", "Diagnosis", "Evidence", "tolerance", "agree", "compare",
           "evidence_for", "mistake_diagnoses", "setting_diagnoses", "border_mask",
           "window_coverage", "MISTAKE", "SETTING", "GRADCHECK", "NOT_IMPLEMENTED",
           "IMPORT", "OWN_WORK", "STRUCTURE"]

#: Kinds of :class:`Diagnosis`.
MISTAKE = "mistake"            # a known mistake, singled out by the answers
SETTING = "setting"            # the failing cases are exactly those with one setting
GRADCHECK = "gradient check"   # backward is not the derivative of the student's forward
NOT_IMPLEMENTED = "not implemented"
IMPORT = "import"              # the file could not be loaded
OWN_WORK = "own work"          # the file uses the library's implementations
STRUCTURE = "structure"        # a property checked directly (dropout's mask and scale)


@dataclass(frozen=True)
class Mistake:
    """A classic mistake (``cause``: a stable name like ``"conv2d.flipped_kernel"``; ``text``:
    what the report says) and its answer in one case: an array, a ``shape`` or
    ``nonfinite=True`` (NaN or inf). A mistake whose answer is None does not apply."""
    cause: str
    text: str
    answer: object = None
    shape: tuple | None = None
    nonfinite: bool = False


@dataclass(frozen=True)
class Diagnosis:
    """One conclusion of a report: ``kind`` (above), ``text`` and, for a mistake, ``cause``."""
    kind: str
    text: str
    cause: str | None = None


@dataclass(frozen=True)
class Evidence:
    """What one output of one case says about the known mistakes: ``predicted`` change the
    answer in this case, the student's answer equals those ``matched``."""
    output: str
    predicted: frozenset = field(default_factory=frozenset)
    matched: frozenset = field(default_factory=frozenset)
    texts: tuple = ()                         # (cause, text) pairs


def tolerance(dtype):
    """(rtol, atol relative to the largest entry) for comparing arrays of ``dtype``:
    float32 sums in another order differ in the 6th digit, float64 ones in the 13th."""
    return (2e-4, 2e-5) if np.dtype(dtype) == np.float32 else (1e-6, 1e-9)


def _close(student, expected, dtype=None):
    expected = np.asarray(expected, dtype=np.float64)
    student = np.asarray(student, dtype=np.float64)
    rtol, atol = tolerance(np.float64 if dtype is None else dtype)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    with np.errstate(invalid="ignore"):
        return np.isclose(student, expected, rtol=rtol, atol=atol * max(scale, 1.0))


def agree(student, expected, dtype=None):
    """True when ``student`` has ``expected``'s shape and every entry agrees (NaN agrees
    with nothing)."""
    if student is None or np.shape(student) != np.shape(expected):
        return False
    try:
        return bool(np.all(_close(student, expected, dtype)))
    except (TypeError, ValueError):
        return False


def border_mask(shape, width):
    """True on the first and last ``width`` rows and columns of the last two axes."""
    mask = np.zeros(shape[-2:], dtype=bool)
    if width > 0:
        mask[:width, :] = mask[-width:, :] = True
        mask[:, :width] = mask[:, -width:] = True
    return np.broadcast_to(mask, shape)


def window_coverage(hw, kernel, stride, padding):
    """How many windows cover each input position (H, W) of a convolution or pooling.
    ``kernel``, ``stride`` and ``padding`` are ints or (h, w) pairs."""
    (kh, kw), (sh, sw), (ph, pw) = (k if isinstance(k, tuple) else (k, k)
                                    for k in (kernel, stride, padding))
    h, w = hw
    count = np.zeros((h + 2 * ph, w + 2 * pw), dtype=int)
    for i in range(0, h + 2 * ph - kh + 1, sh):
        for j in range(0, w + 2 * pw - kw + 1, sw):
            count[i:i + kh, j:j + kw] += 1
    return count[ph:ph + h, pw:pw + w]


def _where(wrong, expected_shape, border, coverage):
    """The location statements that single out the wrong entries among all entries."""
    parts = []
    if len(expected_shape) >= 3 and wrong.size > 1:    # (N, C, ...) images or (F, C, K, K)
        for axis, noun in ((0, "image(s) of the batch"), (1, "channel(s)")):
            per_index = np.moveaxis(wrong, axis, 0).reshape(wrong.shape[axis], -1)
            idx = np.flatnonzero(per_index.any(axis=1)).tolist()
            if 0 < len(idx) < wrong.shape[axis]:
                shown = ", ".join(map(str, idx[:6])) + (", ..." if len(idx) > 6 else "")
                parts.append(f"only in {noun} {shown} (of {wrong.shape[axis]})")
    if len(expected_shape) == 4 and border > 0:
        edge = border_mask(expected_shape, border)
        if np.mean(~edge) >= 0.25 and not np.any(wrong & ~edge):   # an interior to speak of
            parts.append(f"only at the border (the outer {border} row(s)/column(s))")
    if len(expected_shape) == 4 and coverage is not None:
        many = np.broadcast_to(coverage > 1, expected_shape)
        # said only when some positions are covered once: else it singles out nothing
        if np.any(many) and not np.all(many) and not np.any(wrong & ~many):
            parts.append("only where several windows overlap")
    return parts


def compare(name, student, expected, dtype=None, border=0, coverage=None):
    """``(passed, message)`` of one output: how many entries are wrong, the largest error,
    and where: only in some images (axis 0) or channels (axis 1), only within ``border`` of
    the edges, or only where ``coverage`` (windows per input position) is above 1 -- each
    said only when it singles the wrong entries out."""
    expected = np.asarray(expected)
    if student is None:
        return False, f"`{name}` is None, expected an array of shape {expected.shape}"
    student = np.asarray(student)
    if student.shape != expected.shape:
        return False, f"`{name}` has shape {student.shape}, expected {expected.shape}"
    if not np.issubdtype(student.dtype, np.number) and student.dtype != bool:
        return False, f"`{name}` holds {student.dtype} values, expected numbers"
    finite = np.isfinite(student)
    if not np.all(finite) and np.all(np.isfinite(expected)):
        return False, (f"`{name}` has {int(np.sum(~finite))} NaN or infinite entries of "
                       f"{student.size} (the right answer is finite)")
    ok = _close(student, expected, dtype)
    if np.all(ok):
        return True, f"`{name}` is right"
    wrong = ~ok
    error = float(np.max(np.abs(student.astype(np.float64) - expected)[wrong]))
    summary = (f"`{name}` is wrong in {int(wrong.sum())} of {wrong.size} entries (largest "
               f"error {error:.3g})")
    return False, "; ".join([summary] + _where(wrong, expected.shape, border, coverage))


def _applies(mistake, expected, dtype):
    """Whether ``mistake`` changes the answer of this case (else it says nothing here)."""
    if mistake.shape is not None:
        return tuple(mistake.shape) != tuple(np.shape(expected))
    if mistake.nonfinite:
        return True
    if mistake.answer is None:
        return False
    answer = np.asarray(mistake.answer)
    return bool(np.all(np.isfinite(answer))) and not agree(answer, expected, dtype)


def _fits(mistake, student, dtype):
    if student is None:
        return False
    if mistake.shape is not None:                       # the mistake changes the shape
        return tuple(np.shape(student)) == tuple(mistake.shape)
    student = np.asarray(student)
    if mistake.nonfinite:
        return (np.issubdtype(student.dtype, np.number)
                and not bool(np.all(np.isfinite(student))))
    return agree(student, mistake.answer, dtype)


def evidence_for(output, student, expected, mistakes, dtype=None):
    """The :class:`Evidence` of one output of one case about ``mistakes``."""
    applying = [m for m in mistakes if m is not None and _applies(m, expected, dtype)]
    return Evidence(output, frozenset(m.cause for m in applying),
                    frozenset(m.cause for m in applying if _fits(m, student, dtype)),
                    tuple((m.cause, m.text) for m in applying))


def mistake_diagnoses(evidence):
    """The known mistakes that ``evidence`` (every :class:`Evidence` of a report, passing
    cases included) singles out, as :class:`Diagnosis` objects. A mistake is named for an
    output when the student's answer is the mistake's in every case where the mistake would
    change that output, and in at least one; when two fit an output equally, neither is."""
    texts, cases = {}, {}
    for e in evidence:
        texts.update(e.texts)
        for cause in e.predicted:
            cases.setdefault((e.output, cause), []).append(cause in e.matched)
    fitting = {}
    for (output, cause), fits in cases.items():
        if all(fits):
            fitting.setdefault(output, []).append(cause)
    found = []
    for output, causes in fitting.items():
        if len(causes) == 1 and causes[0] not in [d.cause for d in found]:
            found.append(Diagnosis(MISTAKE, texts[causes[0]], causes[0]))
    return found


def setting_diagnoses(checks, nouns):
    """The settings that single out the failing ``checks`` (grader Checks; those without
    settings or not checked are left out), as :class:`Diagnosis` objects; ``nouns`` maps a
    group to (noun, verb). Within a group, ``key = value`` is named when the failing cases
    are exactly those with that value, some case passes, a failing and a passing case differ
    in that setting alone, and no other setting divides the cases the same way."""
    found = []
    for group in dict.fromkeys(c.group for c in checks if c.group):
        cases = [c for c in checks if c.group == group and c.settings
                 and getattr(c, "checked", True)]
        failed = [c for c in cases if not c.passed]
        if not failed or len(failed) == len(cases):
            continue
        candidates = []
        for key in dict.fromkeys(k for c in cases for k in c.settings):
            for value in dict.fromkeys(c.settings.get(key) for c in failed):
                if {id(c) for c in failed} == {id(c) for c in cases
                                               if c.settings.get(key) == value}:
                    candidates.append((key, value))
        if len(candidates) != 1:
            continue
        key, value = candidates[0]
        if not any(_differ_only_in(f.settings, p.settings, key) for f in failed
                   for p in cases if p.passed):
            continue
        phrase = describe(key, value)
        noun, verb = nouns.get(group, (f"the {group}", "is"))
        found.append(Diagnosis(SETTING, (
            f"{noun} {verb} wrong exactly in the cases with {phrase}, and right in a case "
            f"that differs only in that: look at the part of your code that handles "
            f"{phrase}"), f"setting:{key}={value}"))
    return found


def _differ_only_in(a, b, key):
    return a.get(key) != b.get(key) and all(a.get(k) == b.get(k) for k in (set(a) | set(b)) - {key})
