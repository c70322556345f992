"""Layers, a loss and optimizers that run a student's exercise functions.

Each class here is a subclass of the library's layer (``Conv2d``, ``MaxPool2d``, ...) that
keeps the layer's parameters, buffers and settings and calls the student's
``NAME_forward`` / ``NAME_backward`` (the signatures of
:mod:`minitorch_cv.exercises.catalogue`) instead of the library's. :func:`use_student_layers`
turns the layers of a network into these classes in place, by module type, so any network
built from the library's layers can run on a student's code; the optimizers do the same for
``sgd_momentum_step`` and ``adam_step``.

The student's code runs in this process (a training loop cannot afford a process boundary
per call). Whatever goes wrong in it -- an exception, a result of the wrong shape -- is
raised as :class:`StudentCodeError`, one line that names the function, the file and the
line, never a traceback from inside the library.
"""

import importlib.util
import sys
import traceback
from pathlib import Path

import numpy as np

from .. import nn, optim

__all__ = ["StudentCodeError", "StudentFile", "LAYER_EXERCISES", "OPTIMIZER_EXERCISES",
           "LOSS_EXERCISE", "student_layer_class", "use_student_layers",
           "student_loss", "student_optimizer"]


class StudentCodeError(Exception):
    """The student's function raised or returned something unusable (a one-line message)."""


class StudentFile:
    """A student's exercise file ``DIR/NAME.py``, imported into this process.

    Raises
    ------
    StudentCodeError
        The file does not import (its error, with the line).
    """

    def __init__(self, name, directory):
        self.name = name
        self.directory = Path(directory)
        self.path = self.directory / f"{name}.py"
        folder = str(self.path.parent.resolve())
        if folder not in sys.path:                 # the student's own helper modules
            sys.path.insert(0, folder)
        spec = importlib.util.spec_from_file_location(f"student_{name}", self.path)
        self.module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(self.module)
        except Exception as exc:  # noqa: BLE001 -- anything the student's file raises
            raise StudentCodeError(f"{self.path} does not import: {self._describe(exc)}") \
                from None

    def __repr__(self):
        return f"StudentFile({self.path})"

    @property
    def check_command(self):
        """The command that grades this file."""
        return f"python -m minitorch_cv.exercises check {self.name} --dir {self.directory}"

    def _describe(self, exc):
        """``TypeError: message (line 12)``: the last line of the student's file in the
        traceback."""
        lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__)
                 if Path(f.filename).resolve() == self.path.resolve()]
        where = f" (line {lines[-1]})" if lines else ""
        return f"{type(exc).__name__}: {exc}{where}".replace("\n", " ")

    def call(self, function, *args):
        """``function(*args)`` from the student's file; every exception becomes a
        :class:`StudentCodeError`."""
        try:
            return getattr(self.module, function)(*args)
        except Exception as exc:  # noqa: BLE001 -- the student's code
            if not hasattr(self.module, function):
                raise StudentCodeError(f"{self.path} has no function {function}") from None
            raise StudentCodeError(f"your {function} ({self.path}) raised "
                                   f"{self._describe(exc)}; run `{self.check_command}`") \
                from None

    def returned(self, function, value, count):
        """``value`` unpacked into ``count`` results, or a :class:`StudentCodeError`."""
        if count > 1 and not (isinstance(value, (tuple, list)) and len(value) == count):
            raise StudentCodeError(f"your {function} ({self.path}) must return {count} "
                                   f"values, it returned {type(value).__name__}; run "
                                   f"`{self.check_command}`")
        return value

    def array(self, function, value, shape, dtype, what):
        """``value`` as an array of ``shape`` and ``dtype``, or a :class:`StudentCodeError`
        naming ``what`` (e.g. ``"dx"``)."""
        if not hasattr(value, "shape") or tuple(value.shape) != tuple(shape):
            got = getattr(value, "shape", type(value).__name__)
            raise StudentCodeError(f"your {function} ({self.path}) returned {what} of shape "
                                   f"{got}, expected {tuple(shape)}; run "
                                   f"`{self.check_command}`")
        return np.asarray(value, dtype=dtype)


class _StudentModule:
    """What the student layers share: ``student``, a :class:`StudentFile` (set on the
    per-student subclass that :func:`student_layer_class` makes)."""

    student = None

    def _forward(self, function, x, *args):
        out, cache = self.student.returned(function, self.student.call(function, x, *args), 2)
        return out, cache

    def _out(self, function, out, shape, dtype):
        return self.student.array(function, out, shape, dtype, "out")


class StudentConv2d(_StudentModule, nn.Conv2d):
    """Conv2d on ``conv2d_forward(x, w, b, stride, padding)`` and ``conv2d_backward``."""

    exercise = "conv2d"

    @staticmethod
    def supports(module):
        return (module.stride[0] == module.stride[1] and module.padding != "same"
                and module.padding[0] == module.padding[1])

    def forward(self, x):
        b = self.bias.data if self.bias is not None else None
        out, cache = self._forward("conv2d_forward", x, self.weight.data, b, self.stride[0],
                                   self.padding[0])
        (kh, kw), s, p = self.kernel_size, self.stride[0], self.padding[0]
        shape = (x.shape[0], self.out_channels, (x.shape[2] + 2 * p - kh) // s + 1,
                 (x.shape[3] + 2 * p - kw) // s + 1)
        self._store((cache, x.shape))
        return self._out("conv2d_forward", out, shape, x.dtype)

    def backward(self, dout):
        cache, x_shape = self._take_cache()
        s = self.student
        dx, dw, db = s.returned("conv2d_backward", s.call("conv2d_backward", dout, cache), 3)
        w = self.weight
        self.weight.accumulate_grad(s.array("conv2d_backward", dw, w.data.shape, w.dtype, "dw"))
        if self.bias is not None:
            self.bias.accumulate_grad(s.array("conv2d_backward", db, self.bias.data.shape,
                                              self.bias.dtype, "db"))
        return s.array("conv2d_backward", dx, x_shape, dout.dtype, "dx")


class _StudentPool(_StudentModule):
    """MaxPool2d / AvgPool2d on ``NAME_forward(x, kernel_size, stride, padding)``."""

    @staticmethod
    def supports(module):
        return all(v[0] == v[1] for v in (module.kernel_size, module.stride, module.padding))

    def forward(self, x):
        k, s, p = self.kernel_size[0], self.stride[0], self.padding[0]
        function = f"{self.exercise}_forward"
        out, cache = self._forward(function, x, k, s, p)
        shape = x.shape[:2] + ((x.shape[2] + 2 * p - k) // s + 1,
                               (x.shape[3] + 2 * p - k) // s + 1)
        self._store((cache, x.shape))
        return self._out(function, out, shape, x.dtype)

    def backward(self, dout):
        cache, x_shape = self._take_cache()
        function = f"{self.exercise}_backward"
        return self.student.array(function, self.student.call(function, dout, cache),
                                  x_shape, dout.dtype, "dx")


class StudentMaxPool2d(_StudentPool, nn.MaxPool2d):
    """MaxPool2d on ``maxpool2d_forward`` / ``maxpool2d_backward``."""

    exercise = "maxpool2d"


class StudentAvgPool2d(_StudentPool, nn.AvgPool2d):
    """AvgPool2d on ``avgpool2d_forward`` / ``avgpool2d_backward``."""

    exercise = "avgpool2d"


class StudentReLU(_StudentModule, nn.ReLU):
    """ReLU on ``relu_forward(x)`` / ``relu_backward(dout, cache)``."""

    exercise = "relu"

    @staticmethod
    def supports(module):
        return True

    def forward(self, x):
        out, cache = self._forward("relu_forward", x)
        self._store((cache, x.shape))
        return self._out("relu_forward", out, x.shape, x.dtype)

    def backward(self, dout):
        cache, x_shape = self._take_cache()
        return self.student.array("relu_backward",
                                  self.student.call("relu_backward", dout, cache),
                                  x_shape, dout.dtype, "dx")


class StudentLinear(_StudentModule, nn.Linear):
    """Linear on ``linear_forward(x, w, b)`` / ``linear_backward(dout, cache)``."""

    exercise = "linear"

    @staticmethod
    def supports(module):
        return True

    def forward(self, x):
        b = self.bias.data if self.bias is not None else None
        out, cache = self._forward("linear_forward", x, self.weight.data, b)
        self._store((cache, x.shape))
        return self._out("linear_forward", out, (x.shape[0], self.weight.data.shape[0]),
                         x.dtype)

    def backward(self, dout):
        cache, x_shape = self._take_cache()
        s = self.student
        dx, dw, db = s.returned("linear_backward", s.call("linear_backward", dout, cache), 3)
        w = self.weight
        w.accumulate_grad(s.array("linear_backward", dw, w.data.shape, w.dtype, "dw"))
        if self.bias is not None:
            self.bias.accumulate_grad(s.array("linear_backward", db, self.bias.data.shape,
                                              self.bias.dtype, "db"))
        return s.array("linear_backward", dx, x_shape, dout.dtype, "dx")


class _StudentBatchNorm(_StudentModule):
    """BatchNorm on ``batchnorm_forward(x, gamma, beta, running_mean, running_var,
    training, momentum, eps)`` (running statistics updated in place by the student)."""

    exercise = "batchnorm"

    @staticmethod
    def supports(module):
        return module.affine and module.track_running_stats

    def forward(self, x):
        if self.training:
            self.num_batches_tracked = self.num_batches_tracked + 1
        out, cache = self._forward("batchnorm_forward", x, self.weight.data, self.bias.data,
                                   self.running_mean, self.running_var, self.training,
                                   self.momentum, self.eps)
        self._store((cache, x.shape))
        return self._out("batchnorm_forward", out, x.shape, x.dtype)

    def backward(self, dout):
        cache, x_shape = self._take_cache()
        s = self.student
        dx, dgamma, dbeta = s.returned("batchnorm_backward",
                                       s.call("batchnorm_backward", dout, cache), 3)
        for p, g, what in ((self.weight, dgamma, "dgamma"), (self.bias, dbeta, "dbeta")):
            p.accumulate_grad(s.array("batchnorm_backward", g, p.data.shape, p.dtype, what))
        return s.array("batchnorm_backward", dx, x_shape, dout.dtype, "dx")


class StudentBatchNorm1d(_StudentBatchNorm, nn.BatchNorm1d):
    """BatchNorm1d on the student's batchnorm functions."""


class StudentBatchNorm2d(_StudentBatchNorm, nn.BatchNorm2d):
    """BatchNorm2d on the student's batchnorm functions."""


class _StudentDropout(_StudentModule):
    """Dropout on ``dropout_forward(x, p, rng, channelwise)`` / ``dropout_backward``; the
    identity in eval mode and for p = 0, as the library's layer."""

    exercise = "dropout"

    @staticmethod
    def supports(module):
        return True

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self._store(None)
            return x
        out, mask = self._forward("dropout_forward", x, self.p, self.rng, self._channelwise)
        self._store((mask, x.shape))
        return self._out("dropout_forward", out, x.shape, x.dtype)

    def backward(self, dout):
        stored = self.__dict__.get("_cache")
        if stored is None and (not self.training or self.p == 0.0):
            return dout
        mask, x_shape = self._take_cache()
        return self.student.array("dropout_backward",
                                  self.student.call("dropout_backward", dout, mask),
                                  x_shape, dout.dtype, "dx")


class StudentDropout(_StudentDropout, nn.Dropout):
    """Dropout on the student's dropout functions."""


class StudentDropout2d(_StudentDropout, nn.Dropout2d):
    """Dropout2d on the student's dropout functions (channelwise=True)."""


#: The library's layer type -> the class that runs the student's exercise for it.
LAYER_EXERCISES = {
    nn.Conv2d: StudentConv2d,
    nn.MaxPool2d: StudentMaxPool2d,
    nn.AvgPool2d: StudentAvgPool2d,
    nn.ReLU: StudentReLU,
    nn.Linear: StudentLinear,
    nn.BatchNorm1d: StudentBatchNorm1d,
    nn.BatchNorm2d: StudentBatchNorm2d,
    nn.Dropout: StudentDropout,
    nn.Dropout2d: StudentDropout2d,
}


def student_layer_class(library_type, student):
    """The subclass of ``LAYER_EXERCISES[library_type]`` bound to ``student`` (a
    :class:`StudentFile`)."""
    base = LAYER_EXERCISES[library_type]
    return type(base.__name__, (base,), {"student": student})


def use_student_layers(model, students):
    """Turn every layer of ``model`` whose exercise is in ``students`` (exercise name ->
    :class:`StudentFile`) into its student class, in place.

    A layer whose settings the exercise's signature cannot express (a non-square stride,
    ``padding="same"``, BatchNorm without affine parameters) keeps the library's code.

    Returns
    -------
    dict
        The library's layer type name -> ``(count changed, count kept)``.
    """
    classes = {}
    counts = {}
    for module in model.modules():
        kind = type(module)
        if kind not in LAYER_EXERCISES:
            continue
        base = LAYER_EXERCISES[kind]
        changed, kept = counts.get(kind.__name__, (0, 0))
        student = students.get(base.exercise)
        if student is not None and base.supports(module):
            if kind not in classes:
                classes[kind] = student_layer_class(kind, student)
            module.__class__ = classes[kind]
            changed += 1
        else:
            kept += 1
        counts[kind.__name__] = (changed, kept)
    return counts


#: The exercise whose functions the loss uses.
LOSS_EXERCISE = "softmax_cross_entropy"


class StudentCrossEntropyLoss(nn.CrossEntropyLoss):
    """CrossEntropyLoss on ``cross_entropy_forward(logits, labels, reduction)`` and
    ``cross_entropy_backward(cache, dloss)`` (no class weights, label smoothing or
    ignore_index)."""

    student = None

    def forward(self, input, target):
        s = self.student
        loss, cache = s.returned("cross_entropy_forward",
                                 s.call("cross_entropy_forward", input, target,
                                        self.reduction), 2)
        try:
            loss = float(loss)
        except (TypeError, ValueError):
            raise StudentCodeError(f"your cross_entropy_forward ({s.path}) returned a loss "
                                   f"of type {type(loss).__name__}, expected a float; run "
                                   f"`{s.check_command}`") from None
        if not np.isfinite(loss):
            raise FloatingPointError(f"the loss is {loss} (non-finite): training has "
                                     "probably diverged; try a smaller learning rate")
        self._store((cache, input.shape, input.dtype))
        return loss

    def backward(self, dloss=1.0):
        if self.__dict__.get("_cache") is None:
            raise RuntimeError("CrossEntropyLoss.backward called before a forward pass")
        cache, shape, dtype = self._cache
        return self.student.array("cross_entropy_backward",
                                  self.student.call("cross_entropy_backward", cache, dloss),
                                  shape, dtype, "dlogits")


def student_loss(student):
    """A CrossEntropyLoss (mean reduction) that runs ``student``'s softmax_cross_entropy."""
    loss = StudentCrossEntropyLoss()
    loss.student = student
    return loss


class StudentSGD(optim.SGD):
    """SGD (lr, momentum, weight_decay) whose update is the student's
    ``sgd_momentum_step(w, dw, velocity, lr, momentum, weight_decay)``. The velocity is
    kept as the library's ``momentum_buffer`` (so checkpoints hold it)."""

    student = None

    def step(self):
        s = self.student
        for group in self.param_groups:
            lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
            for p, state in self._trainable(group):
                velocity = state.get("momentum_buffer")
                if velocity is None:
                    velocity = np.zeros_like(p.data)
                w_new, v_new = s.returned("sgd_momentum_step",
                                          s.call("sgd_momentum_step", p.data, p.grad,
                                                 velocity, lr, momentum, decay), 2)
                p.data[...] = s.array("sgd_momentum_step", w_new, p.data.shape, p.dtype,
                                      "w_new")
                if momentum:
                    state["momentum_buffer"] = s.array("sgd_momentum_step", v_new,
                                                       p.data.shape, p.dtype, "velocity_new")


class StudentAdam(optim.Adam):
    """Adam (lr, betas, eps, weight_decay as an L2 term) whose update is the student's
    ``adam_step(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay)``; the moments are
    kept as the library's ``exp_avg`` / ``exp_avg_sq`` and the count as ``step``."""

    student = None

    def step(self):
        s = self.student
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            for p, state in self._trainable(group):
                if not state:
                    state.update(step=0, exp_avg=np.zeros_like(p.data),
                                 exp_avg_sq=np.zeros_like(p.data))
                t = state["step"] + 1
                result = s.call("adam_step", p.data, p.grad, state["exp_avg"],
                                state["exp_avg_sq"], t, lr, beta1, beta2, eps,
                                group["weight_decay"])
                w_new, m_new, v_new = s.returned("adam_step", result, 3)
                shape, dtype = p.data.shape, p.dtype
                p.data[...] = s.array("adam_step", w_new, shape, dtype, "w_new")
                state["exp_avg"] = s.array("adam_step", m_new, shape, dtype, "m_new")
                state["exp_avg_sq"] = s.array("adam_step", v_new, shape, dtype, "v_new")
                state["step"] = t


#: ``--optimizer`` -> (the exercise, the student optimizer class).
OPTIMIZER_EXERCISES = {"sgd": ("sgd_momentum", StudentSGD), "adam": ("adam", StudentAdam)}


def student_optimizer(kind, student, params, lr, momentum=0.0, weight_decay=0.0):
    """``kind`` ("sgd" or "adam") with its update from ``student`` (a
    :class:`StudentFile`)."""
    _exercise, cls = OPTIMIZER_EXERCISES[kind]
    if kind == "sgd":
        opt = cls(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    else:
        opt = cls(params, lr=lr, weight_decay=weight_decay)
    opt.student = student
    return opt
