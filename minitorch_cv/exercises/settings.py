"""The settings that describe a grader case (``{STRIDE: 2, PADDING: 0}``), and how a report
names them. A setting is named as a cause only when a passing case differs from a failing
one in it alone (:func:`~minitorch_cv.exercises.diagnosis.setting_diagnoses`)."""

__all__ = ["STRIDE", "PADDING", "INPUT", "KERNEL", "KERNEL_SIZE", "BATCH", "BIAS", "DTYPE",
           "TIES", "MODE", "RANK", "REDUCTION", "SCALE", "DLOSS", "P", "CHANNELWISE",
           "STEP", "MOMENTUM", "WEIGHT_DECAY", "ZEROS", "describe"]

# the windows and shapes (conv2d, pooling)
STRIDE, PADDING, KERNEL_SIZE, TIES = "stride", "padding", "kernel size", "ties"
INPUT, KERNEL, RANK = "input shape", "kernel shape", "input rank"
# any layer
BATCH, BIAS, DTYPE, MODE, ZEROS = "batch size", "bias", "dtype", "mode", "zeros in x"
# the loss, dropout and the optimizers
REDUCTION, SCALE, DLOSS, P, CHANNELWISE = "reduction", "scale", "dloss", "p", "channelwise"
STEP, MOMENTUM, WEIGHT_DECAY = "step", "momentum", "weight decay"

#: The words for a setting's value, where they are not "KEY VALUE" ("padding 0"): a format
#: string or, where the words depend on the value, a function.
_PHRASES = {
    STRIDE: lambda v: "stride=None (the default stride)" if v is None else f"stride {v}",
    BIAS: lambda v: "a bias" if v else "no bias (b=None)",
    TIES: lambda v: "tied maxima" if v else "no tied maxima",
    ZEROS: lambda v: "exact zeros in x" if v else "no zeros in x",
    INPUT: "a {} input", DTYPE: "a {} input", RANK: "a {} input", KERNEL: "a {} kernel",
    MODE: "{} mode", REDUCTION: "reduction={!r}", SCALE: "values of about {}", P: "p = {}",
    CHANNELWISE: "channelwise={}", STEP: "the {} step", WEIGHT_DECAY: "weight_decay {}",
}


def describe(key, value):
    """The words for one setting, e.g. ``describe(PADDING, 0) == "padding 0"``."""
    phrase = _PHRASES.get(key, key + " {}")
    return phrase(value) if callable(phrase) else phrase.format(value)
