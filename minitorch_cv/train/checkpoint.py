"""Resume checkpoints in a format that holds no code: arrays in ``.npz``, the rest as JSON.

One ``.npz`` archive, written atomically, with a member ``__checkpoint__.json`` (UTF-8
bytes) for all but the arrays. Reading uses ``numpy.load(allow_pickle=False)`` and
``json``, which cannot run code: a checkpoint from someone else's run is safe to open.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..io import WeightsFormatError, load_npz, save_npz

__all__ = ["CHECKPOINT_NAME", "LEGACY_CHECKPOINT_NAME", "CheckpointError",
           "legacy_checkpoint_message", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_NAME = "checkpoint.npz"
LEGACY_CHECKPOINT_NAME = "checkpoint.pkl"    # pickled by versions before; never read
FORMAT = "minitorch_cv.checkpoint"
VERSION = 1
_JSON_MEMBER = "__checkpoint__.json"
_ARRAY_TAG = "__ndarray__"                   # an array inside the JSON (e.g. MT19937 keys)


class CheckpointError(ValueError):
    """A checkpoint file is unsafe, damaged, from another format, or does not fit the run."""


def _to_json(value):
    """``json.dumps``' ``default``: small arrays (generator keys) and NumPy scalars."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {_ARRAY_TAG: value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    raise TypeError(f"a {type(value).__name__} cannot be stored in a checkpoint")


def _from_json(obj):
    """``json.loads``' ``object_hook``: the arrays :func:`_to_json` wrote, nothing else."""
    if _ARRAY_TAG in obj:
        dtype = np.dtype(obj.get("dtype", "f8"))
        if dtype.kind not in "biuf" or set(obj) != {_ARRAY_TAG, "dtype"}:
            raise ValueError(f"invalid array entry with dtype {dtype}")
        return np.array(obj[_ARRAY_TAG], dtype=dtype)
    return obj


def save_checkpoint(path, arrays, meta):
    """Write numeric ``arrays`` and ``meta`` (anything JSON can hold, NumPy numbers and small
    numeric arrays; else TypeError, nothing written) as a checkpoint, atomically."""
    if _JSON_MEMBER in arrays:
        raise ValueError(f"{_JSON_MEMBER!r} is reserved")
    doc = {"format": FORMAT, "version": VERSION, **meta}
    text = json.dumps(doc, default=_to_json).encode("utf-8")
    save_npz(path, {**arrays, _JSON_MEMBER: np.frombuffer(text, dtype=np.uint8)})


def load_checkpoint(path):
    """``(arrays, meta)`` of a checkpoint :func:`save_checkpoint` wrote; anything else (a
    pickle, other archives, formats or versions) raises :class:`CheckpointError`."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(1)
    if head == b"\x80":
        raise CheckpointError(
            f"{path}: a pickle, not a minitorch_cv checkpoint. Loading a pickle can run any "
            "code it names, so it is not read.")
    try:
        arrays = load_npz(path)
    except WeightsFormatError as err:
        raise CheckpointError(f"{path}: not a readable checkpoint ({err}); a checkpoint is "
                              "an .npz archive of numeric arrays plus a JSON member") from None
    raw = arrays.pop(_JSON_MEMBER, None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(f"{path}: an .npz archive without the checkpoint's "
                              f"{_JSON_MEMBER!r} member (best.npz holds weights only and "
                              "cannot be resumed from)")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"), object_hook=_from_json)
    except (ValueError, TypeError, RecursionError) as err:
        raise CheckpointError(f"{path}: the checkpoint's JSON part is damaged ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a minitorch_cv checkpoint (format "
                              f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {meta.get('version')!r}; "
                              f"this minitorch_cv reads version {VERSION}")
    del meta["format"], meta["version"]
    return arrays, meta


def legacy_checkpoint_message(path):
    """Why an old ``checkpoint.pkl`` is refused, and what to do instead."""
    return (f"{path}: a resume checkpoint pickled by an older minitorch_cv. Loading a pickle "
            "can run any code it names (a run folder from someone else could run theirs), "
            f"so it is never read. To continue, train again without --resume (the run "
            f"writes {CHECKPOINT_NAME}, which holds no code), or give another --out; the "
            "best weights so far are in best.npz (minitorch_cv.io.load_npz reads them "
            "safely), and you may delete the .pkl file.")
