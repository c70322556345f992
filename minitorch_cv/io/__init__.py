"""Load and save weights without PyTorch.

Three formats, all read into plain dicts of NumPy arrays (PyTorch's key names kept):
``torch.save`` files (:func:`load_torch` reads the zip archive and its pickle with an
allowlist, so a crafted file cannot run code), safetensors (:func:`load_safetensors`,
:func:`save_safetensors`) and NumPy archives (:func:`load_npz`, :func:`save_npz`).
:func:`load_weights` picks the reader. Savers write atomically: a file appears complete or
not at all.

Examples
--------
>>> from minitorch_cv import io
>>> sd = io.load_weights("resnet18_cifar10.pth")
>>> io.save_safetensors("resnet18_cifar10.safetensors", sd)
"""

import zipfile
from pathlib import Path

from ._common import WeightsFormatError
from .npz_file import load_npz, save_npz
from .safetensors_file import load_safetensors, save_safetensors
from .torch_file import load_torch

__all__ = ["WeightsFormatError", "load_npz", "load_safetensors", "load_torch", "load_weights",
           "save_npz", "save_safetensors"]

_TORCH_SUFFIXES = {".pth", ".pt", ".bin", ".ckpt", ".tar"}


def load_weights(path):
    """Load a weights file of any supported format into a dict of NumPy arrays.

    The format is recognised by content first: a zip archive holding ``data.pkl`` is a
    ``torch.save`` file, a zip of ``.npy`` files is an ``.npz`` archive, and a file whose
    9th byte opens a JSON header is safetensors. The suffix (``.pth``, ``.pt``,
    ``.safetensors``, ``.npz``) decides when the content does not, e.g. for a truncated
    file, so that the error comes from the right reader.

    Returns what :func:`load_torch`, :func:`load_safetensors` or :func:`load_npz` returns;
    raises :class:`WeightsFormatError` if the format is not recognised or the reader finds
    the file invalid.
    """
    path = Path(path)
    return _reader(path)(path)


def _reader(path):
    """:func:`load_torch`, :func:`load_safetensors` or :func:`load_npz`, for ``path``."""
    with open(path, "rb") as f:
        head = f.read(9)
    suffix = path.suffix.lower()
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:  # damaged: let the reader the suffix names explain
            return load_npz if suffix == ".npz" else load_torch
        if names and all(name.endswith(".npy") for name in names):
            return load_npz
        return load_torch
    if head[8:9] == b"{" or suffix == ".safetensors":
        return load_safetensors
    if suffix == ".npz":
        return load_npz
    if head.startswith(b"\x80") or suffix in _TORCH_SUFFIXES:
        return load_torch  # a raw pickle: load_torch explains why it is refused
    raise WeightsFormatError(f"{path}: unknown weights format; expected a torch.save .pth/.pt "
                             "file, a .safetensors file or a .npz archive")
