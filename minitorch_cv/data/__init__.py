"""CIFAR-10 data: loading and caching, splits, a batch iterator and batch transforms.

>>> from minitorch_cv.data import (load_cifar10, train_val_split, BatchIterator,
...                                Compose, RandomCrop, RandomHorizontalFlip, ToFloat, Normalize)
>>> data = load_cifar10()                       # --data / $MINITORCH_CV_DATA / cache / download
>>> train_idx, val_idx = train_val_split(len(data.train_images), val_fraction=0.1, seed=0)
>>> augment = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(),
...                    ToFloat(), Normalize(mean=0.5, std=0.25)])
>>> train = BatchIterator(data.train_images, data.train_labels, batch_size=64, shuffle=True,
...                       drop_last=True, transform=augment, rng=0, indices=train_idx)
>>> x, y = next(iter(train))                    # (64, 3, 32, 32) float32, (64,) int64
"""

from .cifar10 import (
    CIFAR10,
    CIFAR10_CLASSES,
    CIFAR10_MD5,
    CIFAR10_URL,
    DatasetError,
    default_cache_dir,
    load_cifar10,
)
from .data_folder import DATA_FILES, data_folder
from .loader import BatchIterator
from .split import subset, train_val_split
from .transforms import (
    Compose,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    Resize,
    ToFloat,
    resize,
    rotate,
)

__all__ = ["CIFAR10", "CIFAR10_CLASSES", "CIFAR10_MD5", "CIFAR10_URL", "DATA_FILES",
           "BatchIterator", "Compose", "DatasetError", "Normalize", "RandomCrop",
           "RandomHorizontalFlip", "RandomRotation", "Resize", "ToFloat", "data_folder",
           "default_cache_dir", "load_cifar10", "resize", "rotate", "subset", "train_val_split"]
