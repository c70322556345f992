"""Pieces shared by the weight readers and writers: the error type and atomic writes."""

from .._files import atomic_write

__all__ = ["WeightsFormatError", "atomic_write"]


class WeightsFormatError(ValueError):
    """A weights file is damaged, unsupported, or unsafe to load.

    The message always names the file and says what is wrong with it, for example
    ``"refusing to load global 'os.system' from evil.pth: only state-dict tensors are
    allowed"``.
    """
