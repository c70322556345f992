"""Atomic writes: a temporary file in the same folder, flushed, then renamed over the target
(:func:`os.replace`), so a reader or a crash never sees half a file. Every file the library
writes goes through :func:`atomic_write`."""

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_json", "download_file"]


@contextlib.contextmanager
def atomic_write(path):
    """Open a binary file that appears at ``path`` only once it is completely written.

    If the ``with`` block raises, an existing ``path`` is left as it was. The folder is
    created if needed.

    Examples
    --------
    >>> with atomic_write("weights.bin") as f:
    ...     f.write(b"...")
    3
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)                  # reading the umask means setting it
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)   # mkstemp's files are private otherwise
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path) as f:
        f.write(data)


def atomic_write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_bytes(path, json.dumps(obj, indent=1).encode())


def download_file(url, dest, hash_name="sha256", expected_prefix="", timeout=60) -> Path:
    """Download ``url`` to ``dest`` atomically; its ``hash_name`` (a :mod:`hashlib`
    algorithm) hex digest must start with ``expected_prefix``. A network failure or another
    digest is an OSError, and ``dest`` is not created."""
    dest = Path(dest)
    print(f"Downloading {url} to {dest} ...", file=sys.stderr, flush=True)
    digest = hashlib.new(hash_name)
    with atomic_write(dest) as f, urllib.request.urlopen(url, timeout=timeout) as response:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            f.write(chunk)
            digest.update(chunk)
        if not digest.hexdigest().startswith(expected_prefix):
            raise OSError(f"checksum mismatch for {url}: {hash_name} {digest.hexdigest()}, "
                          f"expected {expected_prefix}...")
    return dest
