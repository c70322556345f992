"""The data folder ``$MINITORCH_CV_DATA``: check at once that it holds what a program needs,
so that one message lists every missing file and how to get it."""

import os
from pathlib import Path

from .cifar10 import CIFAR10_URL, DatasetError, _detect

#: What :func:`data_folder` can check for: name -> (path in the folder, how to get it).
#: ``"cifar10"`` is any layout :func:`load_cifar10` reads.
DATA_FILES = {
    "cifar10": ("CIFAR-10", (
        f"the official archive cifar-10-python.tar.gz ({CIFAR10_URL}), as it is or "
        "unpacked (cifar-10-batches-py/), or a train/<class>/ + test/<class>/ image tree")),
    "resnet18_checkpoint": ("resnet18_cifar10/resnet18_cifar10.pth", (
        "torchvision's resnet18(num_classes=10) trained on CIFAR-10 with PyTorch (images "
        "resized to 64x64, ImageNet mean and std), saved with "
        "torch.save(model.state_dict(), path); without it, examples/task4a.py fine-tunes "
        "torchvision's ImageNet weights instead (--weights IMAGENET1K_V1)")),
    "resnet18_test_logits": ("resnet18_cifar10/test_logits.npy", (
        "that model's eval-mode logits on the 10,000 test images (resized to 64x64), "
        "computed with PyTorch: a float32 (10000, 10) array saved with numpy.save")),
    "zebra": ("zebra.jpg", "a 224x224 RGB photo of a zebra (the assignment's Task 4b image)"),
}


def data_folder(*needs):
    """The folder ``$MINITORCH_CV_DATA``, once it is known to hold everything in ``needs``
    (names from :data:`DATA_FILES`: ``"cifar10"``, ``"resnet18_checkpoint"``, ...).

    Raises
    ------
    FileNotFoundError
        ``MINITORCH_CV_DATA`` is not set, or the folder lacks something in ``needs``: one
        message lists each missing file and how to get it.
    ValueError
        A name in ``needs`` is not one of :data:`DATA_FILES`.

    Examples
    --------
    >>> from minitorch_cv.data import data_folder
    >>> folder = data_folder("cifar10", "resnet18_checkpoint")     # $MINITORCH_CV_DATA
    >>> (folder / "resnet18_cifar10" / "resnet18_cifar10.pth").is_file()
    True

    Without ``MINITORCH_CV_DATA`` the message reads::

        FileNotFoundError: MINITORCH_CV_DATA is not set. Set it to a folder that holds:
          - zebra.jpg: a 224x224 RGB photo of a zebra (the assignment's Task 4b image)
    """
    unknown = [name for name in needs if name not in DATA_FILES]
    if unknown:
        raise ValueError(f"unknown data {', '.join(map(repr, unknown))}; expected names from "
                         f"{', '.join(DATA_FILES)}")
    setting = os.environ.get("MINITORCH_CV_DATA", "")
    folder = Path(setting).expanduser() if setting else None
    is_dir = folder is not None and folder.is_dir()
    missing = [name for name in needs if not (is_dir and _holds(folder, name))]
    if not missing:
        return folder
    if folder is None:
        first = "MINITORCH_CV_DATA is not set. Set it to a folder that holds:"
    elif not is_dir:
        first = f"MINITORCH_CV_DATA={setting} is not a folder. Set it to a folder that holds:"
    else:
        first = f"MINITORCH_CV_DATA={setting} lacks what is needed here:"
    lines = [first] + [f"  - {DATA_FILES[name][0]}: {DATA_FILES[name][1]}" for name in missing]
    raise FileNotFoundError("\n".join(lines))


def _holds(folder, name):
    if name != "cifar10":
        return (folder / DATA_FILES[name][0]).is_file()
    try:
        return _detect(folder)[0] is not None
    except DatasetError:     # a damaged file: load_cifar10 says what is wrong with it
        return True
