"""Read and write the safetensors format by hand.

A safetensors file (Hugging Face's format for weights) has three parts::

    8 bytes     N, the header's length, an unsigned 64-bit little-endian integer
    N bytes     a JSON object, UTF-8, possibly padded with spaces
    the rest    the tensors' bytes, one after another, little-endian, row-major (C order)

The header maps each tensor name to its element type, shape and byte range inside the
data part (``[begin, end)``, counted from the first byte after the header)::

    {"__metadata__": {"format": "np"},
     "conv1.weight": {"dtype": "F32", "shape": [64, 3, 7, 7], "data_offsets": [0, 37632]},
     "conv1.bias":   {"dtype": "F32", "shape": [64], "data_offsets": [37632, 37888]}}

``__metadata__`` is optional and maps strings to strings. The format holds no code at
all, which is why loading it is safe by construction.
"""

import json
import math
import struct
from pathlib import Path

import numpy as np

from .._files import atomic_write
from ._common import WeightsFormatError, decode, is_count, itemsize, named_arrays

__all__ = ["load_safetensors", "save_safetensors"]

# safetensors dtype name -> NumPy type code (the byte order, "<", is added when used)
_DTYPES = {"F64": "f8", "F32": "f4", "F16": "f2", "I64": "i8", "I32": "i4", "I16": "i2",
           "I8": "i1", "U64": "u8", "U32": "u4", "U16": "u2", "U8": "u1", "BOOL": "?"}
# NumPy (kind, itemsize) -> safetensors dtype name, for saving
_NAMES = {(np.dtype(code).kind, np.dtype(code).itemsize): name for name, code in _DTYPES.items()}
_READ_DTYPES = {**_DTYPES, "BF16": "bfloat16"}  # read only: NumPy has no bfloat16
_MAX_HEADER = 100 * 1024 * 1024  # the limit of the reference implementation


def load_safetensors(path, *, with_metadata=False):
    """Load every tensor of a safetensors file (and, ``with_metadata``, its metadata).

    Returns
    -------
    dict of str to numpy.ndarray
        The tensors, in the order they are stored. BF16 tensors become float32 (same
        values; NumPy has no bfloat16), all other dtypes are kept.
    metadata : dict of str to str
        Only when `with_metadata` is true: ``__metadata__`` (empty when the file has none).

    Raises
    ------
    WeightsFormatError
        If the file is truncated or its header is invalid (not JSON, an unknown dtype, a
        byte range that does not fit the tensor's shape or the file).

    Examples
    --------
    >>> save_safetensors("model.safetensors", {"w": np.zeros((2, 3), np.float32)})
    >>> load_safetensors("model.safetensors")["w"].shape
    (2, 3)
    """
    path = Path(path)
    blob = path.read_bytes()
    if len(blob) < 8:
        raise WeightsFormatError(f"{path}: too short for a safetensors file ({len(blob)} bytes)")
    (header_size,) = struct.unpack("<Q", blob[:8])
    if header_size > _MAX_HEADER or 8 + header_size > len(blob):
        raise WeightsFormatError(
            f"{path}: header length {header_size} does not fit the file of {len(blob)} bytes "
            "(truncated, or not a safetensors file)")
    try:
        header = json.loads(blob[8:8 + header_size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsFormatError(f"{path}: the header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise WeightsFormatError(f"{path}: the header is not a JSON object")
    data = blob[8 + header_size:]
    metadata = header.pop("__metadata__", {})
    if not (isinstance(metadata, dict)
            and all(isinstance(v, str) for v in metadata.values())):
        raise WeightsFormatError(f"{path}: __metadata__ must map strings to strings")

    entries = sorted(  # by begin offset: the order of the data
        ((_check_entry(name, info, len(data), path), name) for name, info in header.items()),
        key=lambda item: item[0][2])
    tensors = {}
    previous_end = 0
    for (code, shape, begin, end), name in entries:
        if begin < previous_end:
            raise WeightsFormatError(f"{path}: tensor '{name}' overlaps the previous tensor")
        previous_end = end
        tensors[name] = decode(data[begin:end], code).reshape(shape)
    return (tensors, dict(metadata)) if with_metadata else tensors


def _check_entry(name, info, data_size, path):
    """Validate one header entry; return ``(NumPy type code, shape, begin, end)``."""
    def bad(problem):
        return WeightsFormatError(f"{path}: tensor '{name}' {problem}")

    if not (isinstance(info, dict) and {"dtype", "shape", "data_offsets"} <= info.keys()):
        raise bad("needs 'dtype', 'shape' and 'data_offsets'")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype not in _READ_DTYPES:
        raise bad(f"has unsupported dtype {dtype!r}")
    if not (isinstance(shape, list) and all(map(is_count, shape))):
        raise bad(f"has invalid shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(is_count, offsets))
            and offsets[0] <= offsets[1] <= data_size):
        raise bad(f"has data_offsets {offsets!r} outside the {data_size} data bytes "
                  "(truncated file?)")
    begin, end = offsets
    needed = math.prod(shape) * itemsize(_READ_DTYPES[dtype])
    if end - begin != needed:
        raise bad(f"of dtype {dtype} and shape {shape} needs {needed} bytes, but data_offsets "
                  f"give {end - begin}")
    return _READ_DTYPES[dtype], tuple(shape), begin, end


def save_safetensors(path, tensors, metadata=None):
    """Save a dict of arrays (e.g. ``model.state_dict()``, in order) as a safetensors file.

    The file is written exactly at ``path`` (no suffix added), atomically: it only appears
    once complete, and a failed save leaves an existing file untouched. Supported dtypes:
    float64/32/16, int64/32/16/8, uint64/32/16/8 and bool; ``metadata`` (str to str) becomes
    the header's ``__metadata__``. A name or metadata entry that is not a string, or an
    unsupported dtype, raises a TypeError. :func:`load_safetensors` has an example.
    """
    arrays = named_arrays(tensors, reserved="__metadata__")
    entries, offset = {}, 0
    for name, array in arrays.items():
        if (array.dtype.kind, array.dtype.itemsize) not in _NAMES:
            raise TypeError(f"cannot save tensor '{name}' of dtype {array.dtype} as "
                            f"safetensors; supported: {', '.join(_DTYPES)}")
        entries[name] = {"dtype": _NAMES[array.dtype.kind, array.dtype.itemsize],
                         "shape": list(array.shape),
                         "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    if metadata and not all(isinstance(k, str) and isinstance(v, str)
                            for k, v in metadata.items()):
        raise TypeError("safetensors metadata must map strings to strings")
    header = {"__metadata__": dict(metadata), **entries} if metadata else entries
    header_bytes = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    # Pad with spaces so the data starts at a multiple of 8 bytes, like the reference code.
    header_bytes += b" " * (-len(header_bytes) % 8)

    with atomic_write(path) as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for array in arrays.values():
            f.write(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes(order="C"))
