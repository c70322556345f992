"""The settings that describe a grader case (``{STRIDE: 2, PADDING: 0}``), and how a report
names them. A setting is named as a cause only when a passing case differs from a failing
one in it alone (:func:`~minitorch_cv.exercises.diagnosis.setting_diagnoses`)."""

__all__ = ["STRIDE", "PADDING", "INPUT", "KERNEL", "KERNEL_SIZE", "BATCH", "BIAS", "DTYPE",
           "TIES", "MODE", "RANK", "REDUCTION", "SCALE", "DLOSS", "P", "CHANNELWISE",
           "STEP", "MOMENTUM", "WEIGHT_DECAY", "ZEROS", "describe"]

STRIDE = "stride"
PADDING = "padding"
INPUT = "input shape"
KERNEL = "kernel shape"
KERNEL_SIZE = "kernel size"
BATCH = "batch size"
BIAS = "bias"
DTYPE = "dtype"
TIES = "ties"
MODE = "mode"
RANK = "input rank"
REDUCTION = "reduction"
SCALE = "scale"
DLOSS = "dloss"
P = "p"
CHANNELWISE = "channelwise"
STEP = "step"
MOMENTUM = "momentum"
WEIGHT_DECAY = "weight decay"
ZEROS = "zeros in x"

#: The words for a setting's value, where they are not "KEY VALUE" ("padding 0").
_PHRASES = {
    STRIDE: lambda v: "stride=None (the default stride)" if v is None else f"stride {v}",
    INPUT: lambda v: f"a {v} input",
    KERNEL: lambda v: f"a {v} kernel",
    BIAS: lambda v: "a bias" if v else "no bias (b=None)",
    DTYPE: lambda v: f"a {v} input",
    TIES: lambda v: "tied maxima" if v else "no tied maxima",
    MODE: lambda v: f"{v} mode",
    RANK: lambda v: f"a {v} input",
    REDUCTION: lambda v: f"reduction={v!r}",
    SCALE: lambda v: f"values of about {v}",
    P: lambda v: f"p = {v}",
    CHANNELWISE: lambda v: f"channelwise={v}",
    STEP: lambda v: f"the {v} step",
    WEIGHT_DECAY: lambda v: f"weight_decay {v}",
    ZEROS: lambda v: "exact zeros in x" if v else "no zeros in x",
}


def describe(key, value):
    """The words for one setting, e.g. ``describe(PADDING, 0) == "padding 0"``."""
    return _PHRASES[key](value) if key in _PHRASES else f"{key} {value}"
