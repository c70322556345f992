"""Save and load state dicts as NumPy ``.npz`` archives.

An ``.npz`` file is a zip archive holding one ``.npy`` file per array, named after its key
(``conv1.weight.npy``). It needs nothing but NumPy to read, and holds no code: arrays of
Python objects, the one part of ``.npy`` that uses pickle, are refused both ways.
"""

import zipfile

import numpy as np

from .._files import atomic_write
from ._common import WeightsFormatError, named_arrays

__all__ = ["load_npz", "save_npz"]


def save_npz(path, state_dict, compress=False):
    """Save a flat dict of arrays (e.g. ``model.state_dict()``, in order) as an ``.npz``
    archive, atomically.

    Unlike :func:`numpy.savez`, the file is written exactly at `path` (no ``.npz`` is
    appended) and any key is allowed (even ``"file"``); a key that is not a string, or an
    array of Python objects, raises a TypeError. ``compress=True`` deflates the arrays
    (smaller file, slower save and load), like :func:`numpy.savez_compressed`.

    Examples
    --------
    >>> save_npz("model.npz", model.state_dict())
    """
    arrays = named_arrays(state_dict)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_write(path) as f, zipfile.ZipFile(f, "w", compression=method) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def load_npz(path):
    """Load every array of an ``.npz`` archive (from :func:`save_npz` or :func:`numpy.savez`).

    Returns a dict of the arrays in the archive's order, keyed without the ``.npy``
    suffix; raises :class:`WeightsFormatError` if the file is not a valid ``.npz`` archive
    (truncated, corrupt, or holding pickled Python objects, which are never loaded).
    """
    try:
        archive = np.load(path, allow_pickle=False)
        if isinstance(archive, np.lib.npyio.NpzFile):
            with archive:
                arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise WeightsFormatError(f"{path}: not a valid .npz archive ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise WeightsFormatError(f"{path}: a single .npy array, not an .npz archive")
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray):  # NumPy returns other members as raw bytes
            raise WeightsFormatError(
                f"{path}: member '{name}' is not a .npy array (is this really an .npz file?)")
    return arrays
