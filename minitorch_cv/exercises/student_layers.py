"""Layers, a loss and optimizers that run a student's exercise functions in this process.

Each class here is a subclass of the library's layer (``Conv2d``, ``MaxPool2d``, ...) that
keeps the layer's parameters, buffers and settings and calls the student's ``NAME_forward``
/ ``NAME_backward`` (the signatures of :mod:`minitorch_cv.exercises.catalogue`) instead of
the library's; whatever goes wrong in them is a one-line :class:`StudentCodeError`
(docs/exercises.md, "The capstone").
"""

import importlib.util
import sys
import traceback
from pathlib import Path

import numpy as np

from .. import nn, optim
from ..kernels.im2col import output_size

__all__ = ["StudentCodeError", "StudentFile", "LAYER_EXERCISES", "OPTIMIZER_EXERCISES",
           "LOSS_EXERCISE", "student_layer_class", "use_student_layers",
           "student_loss", "student_optimizer"]


class StudentCodeError(Exception):
    """The student's function raised or returned something unusable (a one-line message)."""


class StudentFile:
    """A student's exercise file ``DIR/NAME.py``, imported into this process (a
    :class:`StudentCodeError` if it does not import: its error, with the line)."""

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

    def _fail(self, function, what):
        """Raise the one-line :class:`StudentCodeError`: ``your FUNCTION (PATH) WHAT``."""
        raise StudentCodeError(f"your {function} ({self.path}) {what}; run "
                               f"`{self.check_command}`") from None

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
            self._fail(function, f"raised {self._describe(exc)}")

    def returned(self, function, value, count):
        """``value`` unpacked into ``count`` results, or a :class:`StudentCodeError`."""
        if count > 1 and not (isinstance(value, (tuple, list)) and len(value) == count):
            self._fail(function, f"must return {count} values, it returned {type(value).__name__}")
        return value

    def results(self, function, count, *args):
        """:meth:`call` checked by :meth:`returned`."""
        return self.returned(function, self.call(function, *args), count)

    def array(self, function, value, shape, dtype, what):
        """``value`` as an array of ``shape`` and ``dtype``, or a :class:`StudentCodeError`
        naming ``what`` (e.g. ``"dx"``)."""
        if not hasattr(value, "shape") or tuple(value.shape) != tuple(shape):
            got = getattr(value, "shape", type(value).__name__)
            self._fail(function, f"returned {what} of shape {got}, expected {tuple(shape)}")
        return np.asarray(value, dtype=dtype)


class _StudentModule:
    """A layer on the student's ``NAME_forward(x, *self._student_args())`` -> ``(out,
    cache)`` and ``NAME_backward(dout, cache)`` -> dx, or ``(dx, *grads)`` for the
    parameters named in ``grads``; ``student`` is set by :func:`student_layer_class`."""

    student = None
    grads = ()

    @staticmethod
    def supports(module):
        return True

    def _student_args(self):
        return ()

    def _out_shape(self, x):
        return x.shape

    def forward(self, x):
        s, function = self.student, f"{self.exercise}_forward"
        out, cache = s.results(function, 2, x, *self._student_args())
        self._store((cache, x.shape))
        return s.array(function, out, self._out_shape(x), x.dtype, "out")

    def backward(self, dout):
        cache, x_shape = self._take_cache()
        s, function = self.student, f"{self.exercise}_backward"
        if not self.grads:
            dx = s.call(function, dout, cache)
        else:
            dx, *grads = s.results(function, 1 + len(self.grads), dout, cache)
            for (name, what), grad in zip(self.grads, grads):
                param = getattr(self, name)
                if param is not None:                         # a layer without bias
                    param.accumulate_grad(s.array(function, grad, param.data.shape,
                                                  param.dtype, what))
        return s.array(function, dx, x_shape, dout.dtype, "dx")


class StudentConv2d(_StudentModule, nn.Conv2d):
    """Conv2d on ``conv2d_forward(x, w, b, stride, padding)`` and ``conv2d_backward``."""

    exercise, grads = "conv2d", (("weight", "dw"), ("bias", "db"))

    @staticmethod
    def supports(module):
        return (module.stride[0] == module.stride[1] and module.padding != "same"
                and module.padding[0] == module.padding[1])

    def _student_args(self):
        b = self.bias.data if self.bias is not None else None
        return self.weight.data, b, self.stride[0], self.padding[0]

    def _out_shape(self, x):
        (kh, kw), s, p = self.kernel_size, self.stride[0], self.padding[0]
        return (x.shape[0], self.out_channels, output_size(x.shape[2], kh, s, p),
                output_size(x.shape[3], kw, s, p))


class _StudentPool(_StudentModule):
    """MaxPool2d / AvgPool2d on ``NAME_forward(x, kernel_size, stride, padding)``."""

    @staticmethod
    def supports(module):
        return all(v[0] == v[1] for v in (module.kernel_size, module.stride, module.padding))

    def _student_args(self):
        return self.kernel_size[0], self.stride[0], self.padding[0]

    def _out_shape(self, x):
        k, s, p = self._student_args()
        return x.shape[:2] + (output_size(x.shape[2], k, s, p), output_size(x.shape[3], k, s, p))


class StudentLinear(_StudentModule, nn.Linear):
    """Linear on ``linear_forward(x, w, b)`` / ``linear_backward(dout, cache)``."""

    exercise, grads = "linear", (("weight", "dw"), ("bias", "db"))

    def _student_args(self):
        return self.weight.data, self.bias.data if self.bias is not None else None

    def _out_shape(self, x):
        return x.shape[0], self.weight.data.shape[0]


class _StudentBatchNorm(_StudentModule):
    """BatchNorm on ``batchnorm_forward(x, gamma, beta, running_mean, running_var,
    training, momentum, eps)`` (running statistics updated in place by the student)."""

    grads = (("weight", "dgamma"), ("bias", "dbeta"))

    @staticmethod
    def supports(module):
        return module.affine and module.track_running_stats

    def _student_args(self):
        return (self.weight.data, self.bias.data, self.running_mean, self.running_var,
                self.training, self.momentum, self.eps)

    def forward(self, x):
        if self.training:
            self.num_batches_tracked = self.num_batches_tracked + 1
        return super().forward(x)


class _StudentDropout(_StudentModule):
    """Dropout on ``dropout_forward(x, p, rng, channelwise)`` / ``dropout_backward``; the
    identity in eval mode and for p = 0, as the library's layer."""

    def _student_args(self):
        return self.p, self.rng, self._channelwise

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self._store(None)
            return x
        return super().forward(x)

    def backward(self, dout):
        if self.__dict__.get("_cache") is None and (not self.training or self.p == 0.0):
            return dout
        return super().backward(dout)


def _student_class(shared, library_type, exercise):
    """``Student<Name>``: ``library_type`` on the student's ``exercise`` functions."""
    name = library_type.__name__
    return type(f"Student{name}", (shared, library_type), {
        "exercise": exercise, "__doc__": f"{name} on the student's {exercise} functions."})


StudentMaxPool2d = _student_class(_StudentPool, nn.MaxPool2d, "maxpool2d")
StudentAvgPool2d = _student_class(_StudentPool, nn.AvgPool2d, "avgpool2d")
StudentReLU = _student_class(_StudentModule, nn.ReLU, "relu")
StudentBatchNorm1d = _student_class(_StudentBatchNorm, nn.BatchNorm1d, "batchnorm")
StudentBatchNorm2d = _student_class(_StudentBatchNorm, nn.BatchNorm2d, "batchnorm")
StudentDropout = _student_class(_StudentDropout, nn.Dropout, "dropout")
StudentDropout2d = _student_class(_StudentDropout, nn.Dropout2d, "dropout")  # channelwise


#: The library's layer type -> the class that runs the student's exercise for it.
LAYER_EXERCISES = {
    nn.Conv2d: StudentConv2d, nn.MaxPool2d: StudentMaxPool2d, nn.AvgPool2d: StudentAvgPool2d,
    nn.ReLU: StudentReLU, nn.Linear: StudentLinear, nn.BatchNorm1d: StudentBatchNorm1d,
    nn.BatchNorm2d: StudentBatchNorm2d, nn.Dropout: StudentDropout,
    nn.Dropout2d: StudentDropout2d}


def student_layer_class(library_type, student):
    """The subclass of ``LAYER_EXERCISES[library_type]`` bound to ``student`` (a
    :class:`StudentFile`)."""
    base = LAYER_EXERCISES[library_type]
    return type(base.__name__, (base,), {"student": student})


def use_student_layers(model, students):
    """Turn every layer of ``model`` whose exercise is in ``students`` (exercise name ->
    :class:`StudentFile`) into its student class, in place; returns the library's layer
    type name -> ``(count changed, count kept)``.

    A layer whose settings the exercise's signature cannot express (a non-square stride,
    ``padding="same"``, BatchNorm without affine parameters) keeps the library's code.
    """
    classes, counts = {}, {}
    for module in model.modules():
        kind = type(module)
        base = LAYER_EXERCISES.get(kind)
        if base is None:
            continue
        student = students.get(base.exercise)
        swap = student is not None and bool(base.supports(module))
        if swap:
            if kind not in classes:
                classes[kind] = student_layer_class(kind, student)
            module.__class__ = classes[kind]
        changed, kept = counts.get(kind.__name__, (0, 0))
        counts[kind.__name__] = (changed + swap, kept + (not swap))
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
        loss, cache = s.results("cross_entropy_forward", 2, input, target, self.reduction)
        try:
            loss = float(loss)
        except (TypeError, ValueError):
            s._fail("cross_entropy_forward",
                    f"returned a loss of type {type(loss).__name__}, expected a float")
        if not np.isfinite(loss):
            raise FloatingPointError(f"the loss is {loss} (non-finite): training has "
                                     "probably diverged; try a smaller learning rate")
        self._store((cache, input.shape, input.dtype))
        return loss

    def backward(self, dloss=1.0):
        s, (cache, shape, dtype) = self.student, self._take_cache()
        dlogits = s.call("cross_entropy_backward", cache, dloss)
        return s.array("cross_entropy_backward", dlogits, shape, dtype, "dlogits")


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
                w_new, v_new = s.results("sgd_momentum_step", 2, p.data, p.grad, velocity,
                                         lr, momentum, decay)
                p.data[...] = s.array("sgd_momentum_step", w_new, p.data.shape, p.dtype, "w_new")
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
                w_new, m_new, v_new = s.results("adam_step", 3, p.data, p.grad,
                                                state["exp_avg"], state["exp_avg_sq"], t, lr,
                                                beta1, beta2, eps, group["weight_decay"])
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
    settings = {"momentum": momentum} if kind == "sgd" else {}
    opt = OPTIMIZER_EXERCISES[kind][1](params, lr=lr, weight_decay=weight_decay, **settings)
    opt.student = student
    return opt
