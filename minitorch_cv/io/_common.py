"""Pieces shared by the weight readers and writers: the error type and atomic writes."""

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["WeightsFormatError", "atomic_write"]


class WeightsFormatError(ValueError):
    """A weights file is damaged, unsupported, or unsafe to load.

    The message always names the file and says what is wrong with it, for example
    ``"refusing to load global 'os.system' from evil.pth: only state-dict tensors are
    allowed"``.
    """


def _default_file_mode():
    """Return the permission bits a newly created file would get (0o666 minus the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(path):
    """Open a binary file that appears at `path` only once it is completely written.

    The data goes to a temporary file in the same folder, which is flushed to disk and then
    renamed over `path` with :func:`os.replace` (an atomic operation). If anything fails
    on the way, the temporary file is removed and an existing `path` is left untouched, so
    a crash never leaves a half-written weights file behind.

    Parameters
    ----------
    path : str or os.PathLike
        Final location of the file. It is written exactly there: no suffix is added.

    Yields
    ------
    file
        A binary file object open for writing.

    Examples
    --------
    >>> with atomic_write("weights.bin") as f:  # doctest: +SKIP
    ...     f.write(b"...")
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file private to its owner; give it the usual permissions.
        os.chmod(tmp_name, _default_file_mode())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
