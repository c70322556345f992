"""Load and save weights without PyTorch, as plain dicts of NumPy arrays (PyTorch's keys).

``torch.save`` files (:func:`load_torch`, which cannot run code), safetensors and NumPy
``.npz`` archives; :func:`load_weights` picks the reader. Savers write atomically.

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
    file, so that the error (a :class:`WeightsFormatError`) comes from the right reader.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(9)
    suffix = path.suffix.lower()
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
            is_npz = bool(names) and all(name.endswith(".npy") for name in names)
        except zipfile.BadZipFile:  # damaged: let the reader the suffix names explain
            is_npz = suffix == ".npz"
        return load_npz(path) if is_npz else load_torch(path)
    if head[8:9] == b"{" or suffix == ".safetensors":
        return load_safetensors(path)
    if suffix == ".npz":
        return load_npz(path)
    if head.startswith(b"\x80") or suffix in _TORCH_SUFFIXES:
        return load_torch(path)  # a raw pickle: load_torch explains why it is refused
    raise WeightsFormatError(f"{path}: unknown weights format; expected a torch.save .pth/.pt "
                             "file, a .safetensors file or a .npz archive")
