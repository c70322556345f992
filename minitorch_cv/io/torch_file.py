"""Read files written by ``torch.save`` into NumPy arrays, without importing torch.

The format
----------
Since PyTorch 1.6, ``torch.save(obj, "model.pth")`` writes a zip archive::

    archive/data.pkl          a pickle of `obj`, with every tensor replaced by a recipe
    archive/byteorder         "little" or "big" (optional, little-endian when absent)
    archive/data/0            raw bytes of storage "0"
    archive/data/1            ...
    archive/version, archive/.format_version, ...   bookkeeping we do not need

(the folder name, here ``archive``, varies). A *storage* is a flat buffer of numbers; a
tensor is a *view* of a storage: it starts at ``storage_offset`` and walks it with one
``stride`` per dimension, exactly like a NumPy array walks its buffer. Several tensors may
share one storage, for example ``w`` and ``w.t()``.

Inside ``data.pkl`` each tensor is pickled as the call ::

    torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
                                    requires_grad, backward_hooks[, metadata])

and each storage as a *persistent id*, a tuple that points into the zip::

    ("storage", torch.FloatStorage, "0", "cpu", numel)

Safety
------
Unpickling runs whatever functions a pickle names, so ``pickle.load`` on a downloaded
file can run arbitrary code. The unpickler below resolves names from a short allowlist
(``OrderedDict``, the two tensor-rebuilding functions, storage types and dtypes) and
replaces those functions by local NumPy stand-ins; every other name is refused with a
:class:`WeightsFormatError` before anything runs.
"""

import collections
import io
import pickle
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._common import WeightsFormatError

__all__ = ["load_torch"]

_ZIP_MAGIC = b"PK"
# The pre-1.6 ("legacy") format is a raw stream of pickles that starts with this number.
_LEGACY_MAGIC = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
# What unpickling damaged or hostile data can raise, besides our own WeightsFormatError.
_PICKLE_ERRORS = (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError,
                  IndexError, KeyError, OverflowError)


class _DType(NamedTuple):
    """An element type: torch's name and the NumPy type code (without byte order)."""

    name: str
    numpy: str  # "f4", "i8", ... or "bfloat16", which NumPy does not have


class _StorageType(NamedTuple):
    """Stands in for a class such as ``torch.FloatStorage`` inside the pickle."""

    name: str
    dtype: _DType


class _Storage(NamedTuple):
    """A storage read from the archive: its key and its elements as a 1-D array."""

    key: str
    array: np.ndarray


class _Allowed(NamedTuple):
    """A function the pickle may call.

    Wrapping it in a (frozen) named tuple means a crafted pickle cannot modify it, for
    example with the BUILD opcode, which sets attributes on the object it is applied to.
    """

    func: Callable

    def __call__(self, *args):
        return self.func(*args)


_BFLOAT16 = _DType("bfloat16", "bfloat16")
_UINT8 = _DType("uint8", "u1")

# torch.dtype objects are pickled by name, e.g. the global ``torch.float32``.
_TORCH_DTYPES = {
    "float64": _DType("float64", "f8"),
    "float32": _DType("float32", "f4"),
    "float16": _DType("float16", "f2"),
    "bfloat16": _BFLOAT16,
    "complex128": _DType("complex128", "c16"),
    "complex64": _DType("complex64", "c8"),
    "int64": _DType("int64", "i8"),
    "int32": _DType("int32", "i4"),
    "int16": _DType("int16", "i2"),
    "int8": _DType("int8", "i1"),
    "uint64": _DType("uint64", "u8"),
    "uint32": _DType("uint32", "u4"),
    "uint16": _DType("uint16", "u2"),
    "uint8": _UINT8,
    "bool": _DType("bool", "?"),
}
for _alias, _name in [("double", "float64"), ("float", "float32"), ("half", "float16"),
                      ("long", "int64"), ("int", "int32"), ("short", "int16")]:
    _TORCH_DTYPES[_alias] = _TORCH_DTYPES[_name]

# The typed storage classes that ``torch.save`` names in persistent ids.
_STORAGE_TYPES = {
    name: _StorageType(name, _TORCH_DTYPES[dtype_name])
    for name, dtype_name in [
        ("DoubleStorage", "float64"),
        ("FloatStorage", "float32"),
        ("HalfStorage", "float16"),
        ("BFloat16Storage", "bfloat16"),
        ("ComplexDoubleStorage", "complex128"),
        ("ComplexFloatStorage", "complex64"),
        ("LongStorage", "int64"),
        ("IntStorage", "int32"),
        ("ShortStorage", "int16"),
        ("CharStorage", "int8"),
        ("ByteStorage", "uint8"),
        ("BoolStorage", "bool"),
    ]
}
# Newer dtypes (uint16, ...) are saved as raw bytes plus a dtype, see _rebuild_tensor_v3.
_UNTYPED_STORAGE = _StorageType("UntypedStorage", _UINT8)


def _itemsize(dtype):
    """Bytes per element of `dtype` as stored in the file."""
    return 2 if dtype is _BFLOAT16 else np.dtype(dtype.numpy).itemsize


def _is_count(value):
    """True for a non-negative Python int (bools excluded)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _decode(buffer, dtype, count, byteorder):
    """Interpret the first `count` elements of `buffer` as `dtype`, in native byte order.

    bfloat16 is the upper half of a float32: shifting its 16 bits up by 16 gives the
    float32 with exactly the same value, which is what the tensor becomes here.
    """
    order = "<" if byteorder == "little" else ">"
    if dtype is _BFLOAT16:
        bits = np.frombuffer(buffer, dtype=order + "u2", count=count)
        return (bits.astype(np.uint32) << 16).view(np.float32)
    file_dtype = np.dtype(order + dtype.numpy)
    array = np.frombuffer(buffer, dtype=file_dtype, count=count)
    return array.astype(file_dtype.newbyteorder("="), copy=False)


class _StateDictUnpickler(pickle.Unpickler):
    """An unpickler that can only build dicts, lists, numbers, strings and tensors.

    Parameters
    ----------
    file : file object
        The pickle stream (``data.pkl``).
    path : Path
        The file being loaded, for error messages.
    archive : zipfile.ZipFile or None
        Where storages are read from; ``None`` for a pickle outside a torch archive, in
        which case any storage reference is an error.
    prefix : str
        Folder of ``data.pkl`` inside the archive, e.g. ``"archive/"``.
    byteorder : {"little", "big"}
        Byte order of the storages.
    """

    def __init__(self, file, path, archive=None, prefix="", byteorder="little"):
        super().__init__(file)
        self._path = path
        self._archive = archive
        self._prefix = prefix
        self._byteorder = byteorder
        self._storages = {}  # key -> _Storage, so shared storages are read once
        self._globals = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2"): _Allowed(self._rebuild_tensor_v2),
            ("torch._utils", "_rebuild_tensor_v3"): _Allowed(self._rebuild_tensor_v3),
            ("torch._utils", "_rebuild_parameter"): _Allowed(_rebuild_parameter),
            ("torch._utils", "_rebuild_parameter_with_state"): _Allowed(_rebuild_parameter),
            ("torch", "UntypedStorage"): _UNTYPED_STORAGE,
            ("torch.storage", "UntypedStorage"): _UNTYPED_STORAGE,
        }
        for name, storage_type in _STORAGE_TYPES.items():
            self._globals["torch", name] = storage_type
        for name, dtype in _TORCH_DTYPES.items():
            self._globals["torch", name] = dtype

    def find_class(self, module, name):
        """Resolve a global named in the pickle, from the allowlist only."""
        try:
            return self._globals[module, name]
        except KeyError:
            raise WeightsFormatError(
                f"refusing to load global '{module}.{name}' from {self._path}: "
                "only state-dict tensors are allowed"
            ) from None

    def persistent_load(self, pid):
        """Turn ``("storage", storage_type, key, location, numel)`` into a `_Storage`."""
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise WeightsFormatError(f"{self._path}: unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if not (isinstance(storage_type, _StorageType) and isinstance(key, str)
                and _is_count(numel)):
            raise WeightsFormatError(f"{self._path}: malformed storage reference {pid!r}")
        if self._archive is None:
            raise WeightsFormatError(
                f"{self._path}: refers to storage '{key}' but is not a torch.save zip archive"
            )
        if key not in self._storages:
            self._storages[key] = self._read_storage(storage_type, key, numel)
        return self._storages[key]

    def _read_storage(self, storage_type, key, numel):
        """Read record ``data/<key>`` and decode its `numel` elements."""
        record = f"{self._prefix}data/{key}"
        try:
            raw = self._archive.read(record)
        except KeyError:
            raise WeightsFormatError(
                f"{self._path}: missing storage record '{record}' (the archive is incomplete)"
            ) from None
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise WeightsFormatError(
                f"{self._path}: storage record '{record}' is corrupt ({exc})"
            ) from None
        needed = numel * _itemsize(storage_type.dtype)
        if len(raw) < needed:
            raise WeightsFormatError(
                f"{self._path}: storage record '{record}' has {len(raw)} bytes, but a "
                f"{storage_type.name} of {numel} elements needs {needed}"
            )
        return _Storage(key, _decode(raw, storage_type.dtype, numel, self._byteorder))

    def _rebuild_tensor_v2(self, storage, storage_offset, size, stride, requires_grad,
                           backward_hooks, metadata=None):
        """Stand-in for ``torch._utils._rebuild_tensor_v2``: a typed storage's view."""
        if not isinstance(storage, _Storage):
            raise WeightsFormatError(f"{self._path}: a tensor is not backed by a storage")
        return self._view(storage, storage.array, storage_offset, size, stride)

    def _rebuild_tensor_v3(self, storage, storage_offset, size, stride, requires_grad,
                           backward_hooks, dtype, metadata=None):
        """Stand-in for ``torch._utils._rebuild_tensor_v3``: raw bytes viewed as `dtype`."""
        if not (isinstance(storage, _Storage) and storage.array.dtype == np.uint8
                and isinstance(dtype, _DType)):
            raise WeightsFormatError(
                f"{self._path}: a tensor is not backed by a byte storage and a dtype"
            )
        count = storage.array.size // _itemsize(dtype)
        array = _decode(storage.array, dtype, count, self._byteorder)
        return self._view(storage, array, storage_offset, size, stride)

    def _view(self, storage, array, offset, size, stride):
        """Copy out the elements a (offset, size, stride) view selects from `array`.

        Element ``[i0, i1, ...]`` of the tensor is ``array[offset + i0*stride[0] + ...]``.
        The last element it touches must lie inside the storage: a file that claims
        otherwise is rejected instead of reading memory outside the buffer.
        """
        size, stride = tuple(size), tuple(stride)
        if not (_is_count(offset) and len(size) == len(stride)
                and all(_is_count(n) for n in size + stride)):
            raise WeightsFormatError(
                f"{self._path}: invalid view of storage '{storage.key}': "
                f"offset={offset!r}, size={size!r}, stride={stride!r}"
            )
        if 0 in size:
            return np.empty(size, dtype=array.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= array.size:
            raise WeightsFormatError(
                f"{self._path}: storage '{storage.key}' is too small for a tensor view: it "
                f"has {array.size} elements, the view (offset={offset}, size={size}, "
                f"stride={stride}) reaches element {last}"
            )
        view = np.lib.stride_tricks.as_strided(
            array[offset:], shape=size, strides=[s * array.itemsize for s in stride]
        )
        return view.copy()  # C-contiguous, writable, and no longer tied to the file


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    """Stand-in for ``torch._utils._rebuild_parameter``: a Parameter is just its data."""
    return data


def load_torch(path):
    """Load a ``torch.save`` file into NumPy arrays, without torch and without running code.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``torch.save`` with PyTorch 1.6 or newer (the zip format), such
        as torchvision's ``resnet18-f37072fd.pth``.

    Returns
    -------
    dict
        The saved dict with every tensor replaced by a NumPy array, in the saved key order:
        usually a state dict ``{"conv1.weight": array, ...}``. Checkpoints that nest dicts
        (``{"model": {...}, "epoch": 3}``) come back nested the same way. bfloat16 tensors
        become float32 (same values; NumPy has no bfloat16); all other dtypes are kept,
        e.g. ``num_batches_tracked`` is a 0-d int64 array.

    Raises
    ------
    WeightsFormatError
        If the file is not a torch zip archive (including the pre-1.6 format), is
        truncated or corrupt, lacks a storage record, holds a view that does not fit its
        storage, or names any global outside the allowlist (which is refused before
        anything runs: ``"refusing to load global 'os.system' from evil.pth: ..."``).
    FileNotFoundError
        If `path` does not exist.

    Examples
    --------
    >>> sd = load_torch("resnet18_cifar10.pth")
    >>> sd["conv1.weight"].shape
    (64, 3, 7, 7)
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(len(_LEGACY_MAGIC))
    if head.startswith(_ZIP_MAGIC):
        obj = _load_zip(path)
    elif head.startswith(_LEGACY_MAGIC):
        raise WeightsFormatError(
            f"{path}: this is the legacy (pre-1.6, non-zip) torch.save format, which is not "
            "supported; re-save it with torch>=1.6: torch.save(torch.load(old), new)"
        )
    elif head.startswith(b"\x80"):  # a plain pickle (protocol 2 or newer)
        _refuse_plain_pickle(path)
    elif not head:
        raise WeightsFormatError(f"{path}: the file is empty")
    else:
        raise WeightsFormatError(
            f"{path}: not a torch.save file (a zip archive starting with b'PK'); "
            f"it starts with {head[:8]!r}"
        )
    if not isinstance(obj, dict):
        raise WeightsFormatError(
            f"{path}: holds a {type(obj).__name__}, not a dict of tensors such as a state_dict"
        )
    return obj


def _load_zip(path):
    """Open the archive, find ``data.pkl`` and unpickle it with the restricted unpickler."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise WeightsFormatError(
            f"{path}: truncated or corrupt zip archive ({exc}); was the download or the "
            "save interrupted?"
        ) from None
    with archive:
        pickle_name = _find_data_pkl(archive, path)
        prefix = pickle_name[: -len("data.pkl")]
        byteorder = _read_byteorder(archive, prefix, path)
        try:
            data = archive.read(pickle_name)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise WeightsFormatError(f"{path}: record '{pickle_name}' is corrupt ({exc})") from None
        unpickler = _StateDictUnpickler(io.BytesIO(data), path, archive, prefix, byteorder)
        return _run(unpickler, path)


def _run(unpickler, path):
    """Unpickle, reporting a damaged pickle as a WeightsFormatError."""
    try:
        return unpickler.load()
    except WeightsFormatError:
        raise
    except _PICKLE_ERRORS as exc:
        raise WeightsFormatError(
            f"{path}: data.pkl is damaged or not a state dict ({type(exc).__name__}: {exc})"
        ) from None


def _find_data_pkl(archive, path):
    """Return the name of the archive's ``<folder>/data.pkl`` record."""
    names = archive.namelist()
    candidates = [n for n in names if n == "data.pkl" or
                  (n.endswith("/data.pkl") and n.count("/") == 1)]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates and names and all(n.endswith(".npy") for n in names):
        raise WeightsFormatError(f"{path}: this is a NumPy .npz archive; use load_npz")
    if not candidates:
        raise WeightsFormatError(f"{path}: a zip archive, but not a torch.save file (no data.pkl)")
    raise WeightsFormatError(f"{path}: several data.pkl records: {candidates}")


def _read_byteorder(archive, prefix, path):
    """Read the optional ``byteorder`` record; files without one are little-endian."""
    try:
        value = archive.read(prefix + "byteorder").decode("ascii", "replace").strip()
    except KeyError:
        return "little"
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise WeightsFormatError(f"{path}: record '{prefix}byteorder' is corrupt ({exc})") from None
    if value not in ("little", "big"):
        raise WeightsFormatError(f"{path}: unknown byte order {value!r}")
    return value


def _refuse_plain_pickle(path):
    """Explain why a raw pickle (not a zip) is not loaded.

    The pickle is run through the restricted unpickler, which is safe, only to give a
    precise message: a forbidden global is named; otherwise the format is explained.
    """
    with open(path, "rb") as f:
        try:
            _StateDictUnpickler(f, path).load()
        except WeightsFormatError:
            raise
        except _PICKLE_ERRORS as exc:
            raise WeightsFormatError(
                f"{path}: not a torch.save file (it starts like a pickle, but is not a valid "
                f"one: {type(exc).__name__}: {exc})"
            ) from None
    raise WeightsFormatError(
        f"{path}: a plain pickle, not a torch.save zip archive; only files written by "
        "torch.save with torch>=1.6 are supported"
    )
