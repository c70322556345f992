"""Pieces shared by the weight readers and writers: the error type, checks, decoding."""

import numpy as np


class WeightsFormatError(ValueError):
    """A weights file is damaged, unsupported, or unsafe to load; the message names the file
    and says what is wrong (``"refusing to load global 'os.system' from evil.pth: ..."``)."""


def is_count(value):
    """True for a non-negative int (booleans excluded)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def itemsize(code):
    """Bytes per element of a NumPy type code (``"f4"``, ...) or ``"bfloat16"``."""
    return 2 if code == "bfloat16" else np.dtype(code).itemsize


def decode(raw, code, count=-1, byteorder="<", copy=True):
    """``count`` elements of type ``code`` from ``raw`` in native byte order: a new array, or
    with ``copy=False`` a read-only view of ``raw`` where no conversion is needed.

    bfloat16 is the upper half of a float32: shifting its 16 bits up by 16 gives the
    float32 with exactly the same value (NumPy has no bfloat16)."""
    if code == "bfloat16":
        bits = np.frombuffer(raw, dtype=byteorder + "u2", count=count)
        return (bits.astype(np.uint32) << 16).view(np.float32)
    file_dtype = np.dtype(byteorder + code)
    array = np.frombuffer(raw, dtype=file_dtype, count=count)
    return array.astype(file_dtype.newbyteorder("="), copy=copy)


def named_arrays(tensors, reserved=None):
    """``tensors`` as {name: ndarray}, refusing non-string names and Python objects."""
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or name == reserved:
            other = f" other than '{reserved}'" if reserved else ""
            raise TypeError(f"tensor names must be strings{other}, got {name!r}")
        arrays[name] = np.asarray(value)
        if arrays[name].dtype.hasobject:
            raise TypeError(f"cannot save '{name}' of dtype object: arrays of Python objects "
                            "are not weights")
    return arrays
