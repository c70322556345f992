"""Resume checkpoints that hold no code (docs/runs.md): one ``.npz`` archive, written
atomically, its arrays plus a member ``__checkpoint__.json`` for the rest, read with
``numpy.load(allow_pickle=False)`` and ``json``: someone else's checkpoint is safe to open.
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
_META_MEMBER = "__meta__."                   # the members that hold the arrays of ``meta``
_ARRAY_TAG = "__ndarray__"                   # in the JSON: {"__ndarray__": its member}


class CheckpointError(ValueError):
    """A checkpoint file is unsafe, damaged, from another format, or does not fit the run."""


def save_checkpoint(path, arrays, meta):
    """Write numeric ``arrays`` and ``meta`` (anything JSON can hold, NumPy numbers and
    numeric arrays at any depth; else TypeError, nothing written) as a checkpoint,
    atomically: ``meta``'s arrays become members too (e.g. an optimizer's state_dict), so
    they come back with their dtype and shape; NumPy numbers come back as Python numbers
    (an ``np.float32`` as a ``float`` of the same value), inf and NaN as JSON's extensions."""
    if any(k == _JSON_MEMBER or k.startswith(_META_MEMBER) for k in arrays):
        raise ValueError(f"{_JSON_MEMBER!r} and names starting {_META_MEMBER!r} are reserved")
    members = dict(arrays)

    def to_json(value):
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            name = f"{_META_MEMBER}{len(members) - len(arrays)}"
            members[name] = value
            return {_ARRAY_TAG: name}
        if isinstance(value, np.generic) and value.dtype.kind in "biuf":
            return value.item()
        raise TypeError(f"a {type(value).__name__} cannot be stored in a checkpoint")

    doc = {"format": FORMAT, "version": VERSION, **meta}
    text = json.dumps(doc, default=to_json).encode("utf-8")
    save_npz(path, {**members, _JSON_MEMBER: np.frombuffer(text, dtype=np.uint8)})


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
    meta_arrays = {k: arrays.pop(k) for k in list(arrays) if k.startswith(_META_MEMBER)}

    def from_json(obj):                     # the arrays save_checkpoint took out, nothing else
        if _ARRAY_TAG not in obj:
            return obj
        if set(obj) != {_ARRAY_TAG} or obj[_ARRAY_TAG] not in meta_arrays:
            raise ValueError(f"invalid array entry {obj!r}")
        return meta_arrays[obj[_ARRAY_TAG]]

    try:
        meta = json.loads(raw.tobytes().decode("utf-8"), object_hook=from_json)
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
