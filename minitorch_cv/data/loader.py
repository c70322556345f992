"""Mini-batches from in-memory arrays: shuffling, ``drop_last`` and per-batch transforms.

The dataset stays ``uint8`` in memory (150 MB for CIFAR-10's training set, not 600 MB):
only the batch being handed out is turned into floats, by its transform.
"""

import copy
import math
import numbers

import numpy as np

from .transforms import ToFloat, as_generator

__all__ = ["BatchIterator"]


class BatchIterator:
    """Iterate over ``(x, y)`` mini-batches, one pass over the data per ``for`` loop.

    Parameters
    ----------
    images : ndarray, shape (N, C, H, W)
    labels : array_like of int, shape (N,)
    shuffle : bool
        Visit the examples in a new random order every epoch (training).
    drop_last : bool
        Skip the last batch when it is smaller than ``batch_size`` (training: every step
        averages as many examples). Keep it ``False`` for evaluation: every example counts.
    transform : callable ``t(batch, rng) -> batch``, optional
        Applied to each gathered batch; default :class:`ToFloat` (float32 in [0, 1]).
    rng : numpy.random.Generator or int, optional
        Source of all randomness (the shuffle and the transform's draws); an int is a
        seed, ``None`` an unseeded generator.
    indices : array_like of int, optional
        Only these examples (e.g. from :func:`~minitorch_cv.data.train_val_split`).

    Yields
    ------
    x : ndarray, shape (B, C, H, W)
        The transformed batch (float32 with the default transform).
    y : ndarray of int64, shape (B,)
        ``B == batch_size`` except maybe for the last batch when ``drop_last=False``.

    Notes
    -----
    ``len(it)`` is the number of batches per epoch: ``n // batch_size`` with ``drop_last``,
    ``ceil(n / batch_size)`` without. Each epoch visits every selected example once.

    Examples
    --------
    >>> train = BatchIterator(images, labels, 64, shuffle=True, drop_last=True, rng=0)
    >>> for x, y in train:   # x: (64, 3, 32, 32) float32, y: (64,) int64
    ...     pass
    """

    def __init__(self, images, labels, batch_size=64, shuffle=False, drop_last=False,
                 transform=None, rng=None, indices=None):
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 4:
            raise ValueError(f"images must have shape (N, C, H, W), got {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images) or labels.dtype.kind not in "iu":
            raise ValueError(f"labels must be integers of shape ({len(images)},) to match "
                             f"images, got {labels.shape} {labels.dtype}")
        if (not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool)
                or batch_size <= 0):
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        indices = np.arange(len(images)) if indices is None else np.asarray(indices)
        if (indices.ndim != 1 or indices.dtype.kind not in "iu"
                or (len(indices) and (indices.min() < 0 or indices.max() >= len(images)))):
            raise ValueError(f"indices must be a 1-D array of ints in [0, {len(images)})")
        self.images = images
        self.labels = labels.astype(np.int64, copy=False)
        self.indices = indices.astype(np.int64)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = ToFloat() if transform is None else transform
        self.rng = as_generator(rng)
        self.epoch = 0  # epochs started so far
        self._order = None  # the current epoch's visiting order
        self._position = 0  # batches already handed out in the current epoch
        self._epoch_start_state = None  # generator state just before drawing _order
        self._resume = False

    @property
    def num_examples(self):
        """Number of examples one epoch draws from (before ``drop_last``)."""
        return len(self.indices)

    def __len__(self):
        if self.drop_last:
            return self.num_examples // self.batch_size
        return math.ceil(self.num_examples / self.batch_size)

    def _epoch_order(self, rng):
        return rng.permutation(self.indices) if self.shuffle else self.indices

    def __iter__(self):
        if not self._resume:  # start a new epoch
            self._epoch_start_state = copy.deepcopy(self.rng.bit_generator.state)
            self._order = self._epoch_order(self.rng)
            self._position = 0
            self.epoch += 1
        self._resume = False
        order = self._order
        for b in range(self._position, len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            x = self.transform(self.images[idx], self.rng)
            self._position = b + 1
            yield x, self.labels[idx]

    def get_state(self):
        """Everything needed to resume, as JSON-friendly values: ``rng`` (the generator's
        state now), ``epoch_start_rng`` (its state when the epoch's order was drawn),
        ``epoch`` and ``position`` (batches already handed out in that epoch)."""
        return {"rng": copy.deepcopy(self.rng.bit_generator.state),
                "epoch_start_rng": copy.deepcopy(self._epoch_start_state),
                "epoch": self.epoch, "position": self._position}

    def set_state(self, state):
        """Restore :meth:`get_state`'s result; the next ``for`` loop resumes the epoch (or
        starts a new one if it was finished), and later epochs equal an uninterrupted run's."""
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        self.epoch = int(state["epoch"])
        self._position = int(state["position"])
        self._epoch_start_state = copy.deepcopy(state["epoch_start_rng"])
        self._resume = self._epoch_start_state is not None and self._position < len(self)
        if self._resume:
            # Redraw the epoch's order from the generator state it was drawn from.
            replay = np.random.Generator(type(self.rng.bit_generator)())
            replay.bit_generator.state = copy.deepcopy(self._epoch_start_state)
            self._order = self._epoch_order(replay)

    def __repr__(self):
        return (f"BatchIterator({self.num_examples} examples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, {len(self)} batches)")
