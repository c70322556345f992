"""``train conv2d``: the Task 2 network trained with the student's own conv2d.

Every :class:`~minitorch_cv.nn.Conv2d` of :func:`~minitorch_cv.models.task2_model` is
turned into a :class:`StudentConv2d`, which keeps the layer's parameters and calls the
student's ``conv2d_forward`` / ``conv2d_backward`` instead of the library's. The network
then trains for a few hundred SGD steps on a random CIFAR-10 subset, printing the loss,
and says at the end whether the loss fell.

Unlike ``check``, this runs the student's code in this process: it is the student's own
run, and a training loop cannot afford a process boundary per call. Errors in the
student's functions are reported as a message, not a traceback from the library.
"""

import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

from .. import models, nn, optim
from ..data import CIFAR10, load_cifar10, subset

__all__ = ["StudentConv2d", "use_student_conv2d", "train_student_conv2d"]


class StudentConv2d(nn.Conv2d):
    """A Conv2d whose forward and backward are the student's functions.

    ``student`` is the module (the student's ``conv2d.py``) that holds
    ``conv2d_forward(x, w, b, stride, padding) -> (out, cache)`` and
    ``conv2d_backward(dout, cache) -> (dx, dw, db)``.
    """

    student = None

    def forward(self, x):
        b = self.bias.data if self.bias is not None else None
        stride, padding = self.stride[0], self.padding[0]      # square in the Task 2 network
        out, cache = self.student.conv2d_forward(x, self.weight.data, b, stride, padding)
        self._store(cache)
        return out

    def backward(self, dout):
        dx, dw, db = self.student.conv2d_backward(dout, self._take_cache())
        self.weight.accumulate_grad(np.asarray(dw, dtype=self.weight.dtype))
        if self.bias is not None:
            self.bias.accumulate_grad(np.asarray(db, dtype=self.bias.dtype))
        return dx


def use_student_conv2d(model, student):
    """Make every Conv2d of ``model`` call ``student``'s functions (in place); returns
    the number of layers changed."""
    layer_class = type("StudentConv2d", (StudentConv2d,), {"student": student})
    changed = 0
    for module in model.modules():
        if type(module) is nn.Conv2d:
            module.__class__ = layer_class
            changed += 1
    return changed


def _load_student(directory):
    path = Path(directory) / "conv2d.py"
    if not path.is_file():
        raise FileNotFoundError(f"no file {path}: run `python -m minitorch_cv.exercises "
                                f"start conv2d --dir {directory}` first")
    if str(path.parent.resolve()) not in sys.path:       # the student's own helper modules
        sys.path.insert(0, str(path.parent.resolve()))
    spec = importlib.util.spec_from_file_location("student_conv2d", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _batches(images, labels, batch_size, rng):
    while True:
        order = rng.permutation(len(images))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[start:start + batch_size]
            yield images[idx], labels[idx]


def _as_float(images):
    """uint8 images to the seed's normalized float32 inputs (mean 0.5, std 0.25)."""
    return ((images.astype(np.float32) / 255 - 0.5) / 0.25).astype(np.float32)


def train_student_conv2d(directory, steps=300, limit=5000, batch_size=16, lr=0.05, data=None,
                         seed=0, test_images=500, out=None):
    """Train the Task 2 network with the student's conv2d; returns an exit status (0 when
    the loss fell, 1 when it did not or something failed). ``data`` is a CIFAR-10 folder or
    archive (default ``$MINITORCH_CV_DATA``) or an already loaded
    :class:`~minitorch_cv.data.CIFAR10`."""
    out = out or sys.stdout

    def say(text):
        print(text, file=out, flush=True)

    try:
        student = _load_student(directory)
    except Exception as exc:  # noqa: BLE001 -- the student's file
        say(f"error: could not load your conv2d: {type(exc).__name__}: {exc}")
        return 1
    try:
        cifar = data if isinstance(data, CIFAR10) else load_cifar10(data, download=False)
    except (FileNotFoundError, ValueError) as exc:
        say(f"error: CIFAR-10 is needed for training and was not found.\n{exc}\n"
            "Point MINITORCH_CV_DATA (or --data) at a copy.")
        return 1
    rng = np.random.default_rng(seed)
    train_idx = subset(len(cifar.train_images), min(limit, len(cifar.train_images)), seed)
    images, labels = cifar.train_images[train_idx], cifar.train_labels[train_idx]
    test_idx = subset(len(cifar.test_images), min(test_images, len(cifar.test_images)), seed)
    model = models.task2_model(rng=np.random.default_rng(seed))
    use_student_conv2d(model, student)
    convs = [m for m in model.modules() if isinstance(m, StudentConv2d)]
    initial = [c.weight.data.copy() for c in convs]
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=lr)
    say(f"Training the Task 2 network (3 conv layers: YOUR conv2d) for {steps} steps of "
        f"{batch_size} images from a {len(images)}-image CIFAR-10 subset, SGD lr {lr}")
    every = max(1, steps // 10)
    losses, window, t0 = [], [], time.perf_counter()
    batches = _batches(images, labels, batch_size, rng)
    for step in range(1, steps + 1):
        x, y = next(batches)
        try:
            loss = loss_fn(model(_as_float(x)), y)
            model.backward(loss_fn.backward())
        except Exception as exc:  # noqa: BLE001 -- the student's functions
            say(f"error at step {step}: your conv2d raised {type(exc).__name__}: {exc}\n"
                f"Run `python -m minitorch_cv.exercises check conv2d --dir {directory}` to "
                "find out where.")
            return 1
        if not np.isfinite(loss):
            say(f"step {step}: the loss is {loss}: your layer does not learn (check "
                "conv2d_backward with `check conv2d`)")
            return 1
        opt.step()
        opt.zero_grad()
        losses.append(loss)
        window.append(loss)
        if step % every == 0 or step == steps:
            say(f"step {step:5d}  loss {np.mean(window):.3f}  "
                f"({(time.perf_counter() - t0) / step:.2f} s/step)")
            window = []
    model.eval()
    with nn.no_grad():
        x_test = _as_float(cifar.test_images[test_idx])
        predicted = np.concatenate([model(x_test[i:i + 100]).argmax(axis=1)
                                    for i in range(0, len(x_test), 100)])
    accuracy = float(np.mean(predicted == cifar.test_labels[test_idx]))
    k = max(1, len(losses) // 10)
    first, last = float(np.mean(losses[:k])), float(np.mean(losses[-k:]))
    say(f"accuracy on {len(test_idx)} test images: {accuracy:.1%} (chance: 10%)")
    moved = [float(np.linalg.norm(c.weight.data - w0) / np.linalg.norm(w0))
             for c, w0 in zip(convs, initial)]
    say("the conv layers' weights moved by " + ", ".join(f"{m:.2%}" for m in moved)
        + " of their initial size")
    if min(moved) < 1e-7:
        say("A conv layer's weights did not change: your conv2d_backward gives dw = 0, so "
            "the conv layers do not learn (only the Linear layers do). Run `check conv2d`.")
        return 1
    if last < first - 0.05:
        say(f"The loss fell from {first:.3f} to {last:.3f}: your conv2d trains a real CNN.")
        return 0
    say(f"The loss did not fall ({first:.3f} -> {last:.3f}): your layer does not learn. "
        "(With very few steps that can be chance; otherwise run `check conv2d`.)")
    return 1
