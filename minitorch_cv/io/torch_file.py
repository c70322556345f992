"""Read files written by ``torch.save`` into NumPy arrays, without importing torch.

Since PyTorch 1.6, ``torch.save(obj, "model.pth")`` writes a zip archive::

    archive/data.pkl          a pickle of `obj`, with every tensor replaced by a recipe
    archive/byteorder         "little" or "big" (optional, little-endian when absent)
    archive/data/0            raw bytes of storage "0"
    archive/data/1            ...
    archive/version, archive/.format_version, ...   bookkeeping we do not need

(the folder name, here ``archive``, varies). A *storage* is a flat buffer of numbers; a
tensor is a *view* of a storage: it starts at ``storage_offset`` and walks it with one
``stride`` per dimension, exactly like a NumPy array walks its buffer (several tensors may
share one storage, e.g. ``w`` and ``w.t()``). Inside ``data.pkl`` each tensor is pickled as
the call ``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
requires_grad, backward_hooks[, metadata])`` and each storage as a *persistent id*, a tuple
that points into the zip: ``("storage", torch.FloatStorage, "0", "cpu", numel)``.

Unpickling runs whatever functions a pickle names, so ``pickle.load`` on a downloaded
file can run arbitrary code: :class:`_StateDictUnpickler` resolves names from an allowlist
only, with NumPy stand-ins for torch's functions, and refuses every other name.
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

from ._common import WeightsFormatError, decode, is_count, itemsize

__all__ = ["load_torch"]

# The pre-1.6 ("legacy") format is a raw stream of pickles that starts with this number.
_LEGACY_MAGIC = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
# What unpickling damaged or hostile data can raise, besides our own WeightsFormatError.
_PICKLE_ERRORS = (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError,
                  IndexError, KeyError, OverflowError)


# Stand-ins for a torch.dtype (its NumPy type code without byte order, or "bfloat16"), for a
# storage class such as torch.FloatStorage, and a storage read from the archive (its key and
# its elements as a 1-D array).
_DType = collections.namedtuple("_DType", "code")
_StorageType = collections.namedtuple("_StorageType", "name dtype")
_Storage = collections.namedtuple("_Storage", "key array")


class _Allowed(NamedTuple):
    """A function the pickle may call, frozen: a crafted pickle cannot modify it (e.g. with
    the BUILD opcode, which sets attributes on the object it is applied to)."""

    func: Callable

    def __call__(self, *args):
        return self.func(*args)


# torch.dtype name -> (NumPy type code, the typed storage class torch.save names, if any).
# Newer dtypes (uint16, ...) have no storage class: they are saved as raw bytes plus a
# dtype, see _rebuild_tensor_v3.
_TORCH_TYPES = {
    "float64": ("f8", "DoubleStorage"), "float32": ("f4", "FloatStorage"),
    "float16": ("f2", "HalfStorage"), "bfloat16": ("bfloat16", "BFloat16Storage"),
    "complex128": ("c16", "ComplexDoubleStorage"), "complex64": ("c8", "ComplexFloatStorage"),
    "int64": ("i8", "LongStorage"), "int32": ("i4", "IntStorage"),
    "int16": ("i2", "ShortStorage"), "int8": ("i1", "CharStorage"),
    "uint64": ("u8", None), "uint32": ("u4", None), "uint16": ("u2", None),
    "uint8": ("u1", "ByteStorage"), "bool": ("?", "BoolStorage"),
}
_TORCH_DTYPES = {name: _DType(code) for name, (code, _) in _TORCH_TYPES.items()}
_UNTYPED_STORAGE = _StorageType("UntypedStorage", _TORCH_DTYPES["uint8"])
# Stands in for torch._utils._rebuild_parameter: a Parameter is just its data.
_PARAMETER_DATA = _Allowed(lambda data, requires_grad, backward_hooks, state=None: data)
# The globals a state dict's pickle may name, besides the tensor-rebuilding functions.
_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch", "UntypedStorage"): _UNTYPED_STORAGE,
    ("torch.storage", "UntypedStorage"): _UNTYPED_STORAGE,
    **{("torch", storage): _StorageType(storage, _TORCH_DTYPES[name])
       for name, (_, storage) in _TORCH_TYPES.items() if storage},
    **{("torch", name): dtype for name, dtype in _TORCH_DTYPES.items()},
}


def _read_record(archive, name, path, what="record"):
    """The bytes of record ``name``, or None when the archive has no such record."""
    try:
        return archive.read(name)
    except KeyError:
        return None
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise WeightsFormatError(f"{path}: {what} '{name}' is corrupt ({exc})") from None


class _StateDictUnpickler(pickle.Unpickler):
    """An unpickler that can only build dicts, lists, numbers, strings and tensors, reading
    storages from ``archive`` (records ``<prefix>data/<key>``; none when it is None)."""

    def __init__(self, file, path, archive=None, prefix="", byteorder="little"):
        super().__init__(file)
        self._path = path
        self._archive = archive
        self._prefix = prefix
        self._byteorder = "<" if byteorder == "little" else ">"
        self._storages = {}  # key -> _Storage, so shared storages are read once
        self._globals = {
            **_GLOBALS,
            ("torch._utils", "_rebuild_tensor_v2"): _Allowed(self._rebuild_tensor_v2),
            ("torch._utils", "_rebuild_tensor_v3"): _Allowed(self._rebuild_tensor_v3),
            ("torch._utils", "_rebuild_parameter"): _PARAMETER_DATA,
            ("torch._utils", "_rebuild_parameter_with_state"): _PARAMETER_DATA,
        }

    def _error(self, problem):
        return WeightsFormatError(f"{self._path}: {problem}")

    def find_class(self, module, name):
        """Resolve a global named in the pickle, from the allowlist only."""
        try:
            return self._globals[module, name]
        except KeyError:
            raise WeightsFormatError(
                f"refusing to load global '{module}.{name}' from {self._path}: "
                "only state-dict tensors are allowed") from None

    def persistent_load(self, pid):
        """Turn ``("storage", storage_type, key, location, numel)`` into a `_Storage`."""
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise self._error(f"unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if not (isinstance(storage_type, _StorageType) and isinstance(key, str)
                and is_count(numel)):
            raise self._error(f"malformed storage reference {pid!r}")
        if self._archive is None:
            raise self._error(f"refers to storage '{key}' but is not a torch.save zip archive")
        if key in self._storages:
            return self._storages[key]
        record = f"{self._prefix}data/{key}"
        raw = _read_record(self._archive, record, self._path, "storage record")
        if raw is None:
            raise self._error(f"missing storage record '{record}' (the archive is incomplete)")
        needed = numel * itemsize(storage_type.dtype.code)
        if len(raw) < needed:
            raise self._error(f"storage record '{record}' has {len(raw)} bytes, but a "
                              f"{storage_type.name} of {numel} elements needs {needed}")
        storage = _Storage(key, decode(raw, storage_type.dtype.code, numel, self._byteorder,
                                           copy=False))  # _view copies
        self._storages[key] = storage
        return storage

    def _rebuild_tensor_v2(self, storage, storage_offset, size, stride, requires_grad,
                           backward_hooks, metadata=None):
        """Stand-in for ``torch._utils._rebuild_tensor_v2``: a typed storage's view."""
        if not isinstance(storage, _Storage):
            raise self._error("a tensor is not backed by a storage")
        return self._view(storage, storage.array, storage_offset, size, stride)

    def _rebuild_tensor_v3(self, storage, storage_offset, size, stride, requires_grad,
                           backward_hooks, dtype, metadata=None):
        """Stand-in for ``torch._utils._rebuild_tensor_v3``: raw bytes viewed as `dtype`."""
        if not (isinstance(storage, _Storage) and storage.array.dtype == np.uint8
                and isinstance(dtype, _DType)):
            raise self._error("a tensor is not backed by a byte storage and a dtype")
        count = storage.array.size // itemsize(dtype.code)
        array = decode(storage.array, dtype.code, count, self._byteorder, copy=False)
        return self._view(storage, array, storage_offset, size, stride)

    def _view(self, storage, array, offset, size, stride):
        """Copy out the elements a (offset, size, stride) view selects from `array`: element
        ``[i0, i1, ...]`` is ``array[offset + i0*stride[0] + ...]``. A view reaching outside
        the storage is rejected instead of reading memory outside the buffer."""
        size, stride = tuple(size), tuple(stride)
        if not (is_count(offset) and len(size) == len(stride)
                and all(map(is_count, size + stride))):
            raise self._error(f"invalid view of storage '{storage.key}': "
                              f"offset={offset!r}, size={size!r}, stride={stride!r}")
        if 0 in size:
            return np.empty(size, dtype=array.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= array.size:
            raise self._error(f"storage '{storage.key}' is too small for a tensor view: it has "
                              f"{array.size} elements, the view (offset={offset}, size={size}, "
                              f"stride={stride}) reaches element {last}")
        strides = [s * array.itemsize for s in stride]
        view = np.lib.stride_tricks.as_strided(array[offset:], shape=size, strides=strides)
        return view.copy()  # C-contiguous, writable, and no longer tied to the file


def load_torch(path):
    """Load a ``torch.save`` file (PyTorch 1.6 or newer, the zip format, such as
    torchvision's ``resnet18-f37072fd.pth``) into NumPy arrays, without torch and without
    running code.

    Returns
    -------
    dict
        The saved dict with every tensor replaced by a NumPy array, in the saved key order:
        usually a state dict ``{"conv1.weight": array, ...}``; nested checkpoints
        (``{"model": {...}, "epoch": 3}``) come back nested. bfloat16 becomes float32 (same
        values); all other dtypes are kept (``num_batches_tracked`` is a 0-d int64 array).

    Raises
    ------
    WeightsFormatError
        If the file is not a torch zip archive (e.g. the pre-1.6 format), is damaged, or
        names any global outside the allowlist (refused before anything runs).

    Examples
    --------
    >>> sd = load_torch("resnet18_cifar10.pth")
    >>> sd["conv1.weight"].shape
    (64, 3, 7, 7)
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(len(_LEGACY_MAGIC))
    if head.startswith(b"PK"):
        obj = _load_zip(path)
    elif head.startswith(_LEGACY_MAGIC):
        raise WeightsFormatError(
            f"{path}: this is the legacy (pre-1.6, non-zip) torch.save format, which is not "
            "supported; re-save it with torch>=1.6: torch.save(torch.load(old), new)")
    elif head.startswith(b"\x80"):  # a plain pickle (protocol 2 or newer)
        _refuse_plain_pickle(path)
    elif not head:
        raise WeightsFormatError(f"{path}: the file is empty")
    else:
        raise WeightsFormatError(f"{path}: not a torch.save file (a zip archive starting "
                                 f"with b'PK'); it starts with {head[:8]!r}")
    if not isinstance(obj, dict):
        raise WeightsFormatError(
            f"{path}: holds a {type(obj).__name__}, not a dict of tensors such as a state_dict")
    return obj


def _load_zip(path):
    """Open the archive, find ``data.pkl`` and unpickle it with the restricted unpickler."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise WeightsFormatError(f"{path}: truncated or corrupt zip archive ({exc}); was the "
                                 "download or the save interrupted?") from None
    with archive:
        names = archive.namelist()
        candidates = [n for n in names if n == "data.pkl" or
                      (n.endswith("/data.pkl") and n.count("/") == 1)]
        if not candidates and names and all(n.endswith(".npy") for n in names):
            raise WeightsFormatError(f"{path}: this is a NumPy .npz archive; use load_npz")
        if not candidates:
            raise WeightsFormatError(f"{path}: a zip archive, but not a torch.save file "
                                     "(no data.pkl)")
        if len(candidates) > 1:
            raise WeightsFormatError(f"{path}: several data.pkl records: {candidates}")
        pickle_name = candidates[0]
        prefix = pickle_name[: -len("data.pkl")]
        # The optional byteorder record: files without one are little-endian.
        raw = _read_record(archive, prefix + "byteorder", path)
        byteorder = "little" if raw is None else raw.decode("ascii", "replace").strip()
        if byteorder not in ("little", "big"):
            raise WeightsFormatError(f"{path}: unknown byte order {byteorder!r}")
        data = io.BytesIO(_read_record(archive, pickle_name, path))
        return _unpickle(_StateDictUnpickler(data, path, archive, prefix, byteorder),
                         f"{path}: data.pkl is damaged or not a state dict (")


def _unpickle(unpickler, damaged):
    """Run the restricted unpickler; report a damaged pickle as ``damaged`` + the error."""
    try:
        return unpickler.load()
    except WeightsFormatError:
        raise
    except _PICKLE_ERRORS as exc:
        raise WeightsFormatError(f"{damaged}{type(exc).__name__}: {exc})") from None


def _refuse_plain_pickle(path):
    """Refuse a raw pickle, naming its first forbidden global if it has one (safely)."""
    with open(path, "rb") as f:
        _unpickle(_StateDictUnpickler(f, path), f"{path}: not a torch.save file (it starts "
                  "like a pickle, but is not a valid one: ")
    raise WeightsFormatError(
        f"{path}: a plain pickle, not a torch.save zip archive; only files written by "
        "torch.save with torch>=1.6 are supported")
