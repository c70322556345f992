"""CIFAR-10: find it, decode it once, cache the arrays, load them in about a second.

:func:`load_cifar10` reads CIFAR-10 (60,000 32x32 RGB images in 10 classes: 50,000 for
training, 10,000 for testing) from any of these layouts:

- the official ``cifar-10-batches-py/`` folder (pickled batches ``data_batch_1`` ...
  ``data_batch_5`` and ``test_batch``), or the ``cifar-10-python.tar.gz`` archive holding it;
- an image tree ``train/<class>/*`` and ``test/<class>/*`` (any format Pillow reads), as a
  folder or as a ``.tar`` / ``.tar.gz`` archive. The class folders sorted alphabetically
  give the labels (airplane=0, ..., truck=9); a split's images come in sorted path order.

It looks in ``root`` (``--data``), else ``$MINITORCH_CV_DATA`` (a folder holding a layout or
a ``*cifar*`` archive, or the archive itself), then in :func:`default_cache_dir`, then
downloads the official archive there (MD5 checked); "Where the data comes from" in
docs/runs.md tells the rest. The decoded arrays are cached atomically as
``cifar10-<key>.npz`` (the key hashes the source's paths, sizes and modification times);
a damaged cache is rebuilt rather than trusted.
"""

import contextlib
import hashlib
import importlib
import io
import json
import os
import pickle
import sys
import tarfile
import time
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import atomic_write, download_file

__all__ = ["CIFAR10", "CIFAR10_CLASSES", "CIFAR10_MD5", "CIFAR10_URL", "DatasetError",
           "default_cache_dir", "load_cifar10"]

#: The ten class names, in the order of the labels 0-9.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
#: Where the official archive is downloaded from when no copy is found.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
#: The MD5 checksum the downloaded archive must have.
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"

ARCHIVE_NAME = "cifar-10-python.tar.gz"
BATCHES_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META_FILE = "batches.meta"
IMAGE_SHAPE = (3, 32, 32)  # (C, H, W)
SPLITS = ("train", "test")

_BATCH_FILES = TRAIN_BATCHES + (TEST_BATCH, META_FILE)
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")
_CACHE_FORMAT = 1  # bump when the cache's content or layout changes
_ARRAY_NAMES = ("train_images", "train_labels", "test_images", "test_labels")
_LAYOUTS = ("cifar-10-batches-py/, cifar-10-python.tar.gz, train/<class>/ + test/<class>/ "
            "image folders, or a *cifar*.tar[.gz] archive")
_GIVEN_BY = {"root": "the root argument (--data)", "env": "$MINITORCH_CV_DATA"}


class DatasetError(ValueError):
    """A dataset file is unreadable, truncated or not laid out as expected (the message
    names the file and says what was expected)."""


@dataclass(frozen=True, repr=False)
class CIFAR10:
    """CIFAR-10 in memory (what :func:`load_cifar10` returns).

    Attributes
    ----------
    train_images, test_images : ndarray of uint8, shapes (50000, 3, 32, 32), (10000, 3, 32, 32)
        NCHW pixels in [0, 255] (RGB).
    train_labels, test_labels : ndarray of int64, shapes (50000,), (10000,)
        Class indices in 0..9.
    classes : tuple of str
        The 10 class names; ``classes[label]`` names a label.
    source : str
        Where the data was read from.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: tuple
    source: str = ""

    def __repr__(self):
        return (f"CIFAR10(train={self.train_images.shape} {self.train_images.dtype}, "
                f"test={self.test_images.shape} {self.test_images.dtype}, "
                f"classes={self.classes}, source={self.source!r})")


def default_cache_dir():
    """The folder for downloads and decoded caches: ``$MINITORCH_CV_CACHE`` if set, else
    ``$XDG_CACHE_HOME/minitorch_cv``, else ``~/.cache/minitorch_cv``."""
    if os.environ.get("MINITORCH_CV_CACHE"):
        return Path(os.environ["MINITORCH_CV_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "minitorch_cv"


# ------------------------------------------------------------------ Finding the data

def _detect(path):
    """``((kind, path) or None, reason)``, kind: ``"batches"``, ``"images"`` or ``"archive"``."""
    if path.is_file():
        if path.name.lower().endswith(_ARCHIVE_SUFFIXES) or tarfile.is_tarfile(path):
            return ("archive", path), ""
        raise DatasetError(f"{path}: expected CIFAR-10 as a folder or a .tar/.tar.gz archive, "
                           "but this file is not a tar archive")
    if not path.is_dir():
        return None, "does not exist"
    if path.name == BATCHES_DIR or (path / TRAIN_BATCHES[0]).is_file():
        return ("batches", path), ""
    if (path / BATCHES_DIR).is_dir():
        return ("batches", path / BATCHES_DIR), ""
    if (path / "train").is_dir() and (path / "test").is_dir():
        return ("images", path), ""
    if (path / ARCHIVE_NAME).is_file():
        return ("archive", path / ARCHIVE_NAME), ""
    archives = sorted(p for p in path.iterdir() if p.is_file() and "cifar" in p.name.lower()
                      and p.name.lower().endswith(_ARCHIVE_SUFFIXES))
    if archives:
        return ("archive", archives[0]), ""
    return None, f"found none of {_LAYOUTS} in it"


def _not_found_message(looked, problem):
    lines = ["CIFAR-10 was not found. Looked in:"]
    lines += [f"  - {path} ({what}): {reason}" for path, what, reason in looked]
    if not any(what == _GIVEN_BY["env"] for _, what, _ in looked):
        lines.append("  ($MINITORCH_CV_DATA is not set.)")
    lines += [problem, ("To use a local copy, pass --data PATH (root=PATH in Python) or set "
                        f"MINITORCH_CV_DATA=PATH, where PATH is a folder holding {_LAYOUTS}, "
                        "or the archive itself (e.g. cifar10-jpeg.tar.gz).")]
    return "\n".join(lines)


def _listing(path, limit=6):
    """" (found: a.txt, b/, ...)" for a folder, "" otherwise."""
    try:
        entries = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())
    except OSError:
        return ""
    if not entries:
        return " (it is empty)"
    more = ", ..." if len(entries) > limit else ""
    return f" (found: {', '.join(entries[:limit])}{more})"


def _given_path_message(path, what, reason):
    """One line: why the path given by --data or $MINITORCH_CV_DATA holds no CIFAR-10."""
    env = os.environ.get("MINITORCH_CV_DATA")
    expected = f"a folder holding {_LAYOUTS}, or the archive itself"
    state = ("it does not exist" if reason == "does not exist"
             else "it holds none of the layouts" + _listing(path))
    if what == "env":
        return (f"MINITORCH_CV_DATA={env} holds no CIFAR-10 ({state}); set it to {expected} "
                "(or unset it to use the cache folder or a download)")
    env_note = (f"$MINITORCH_CV_DATA={env} is set, but --data comes first" if env
                else "$MINITORCH_CV_DATA is not set")
    return f"no CIFAR-10 at {path}: {state}; give --data {expected} ({env_note})"


def _locate(root, cache_dir, download, given_path_only):
    """Find (kind, path) of a CIFAR-10 copy, downloading it if needed and allowed."""
    given = None  # (path, "root" or "env"): the path given by root, else $MINITORCH_CV_DATA
    if root is not None and str(root) != "":
        given = Path(root).expanduser(), "root"
    elif os.environ.get("MINITORCH_CV_DATA"):
        given = Path(os.environ["MINITORCH_CV_DATA"]).expanduser(), "env"
    if given is not None and given_path_only:
        found, reason = _detect(given[0])
        if found is None:
            raise FileNotFoundError(_given_path_message(*given, reason))
        return found
    places = [(given[0], _GIVEN_BY[given[1]])] if given is not None else []
    looked = []
    for path, what in places + [(Path(cache_dir), "the cache folder")]:
        found, reason = _detect(path)
        if found is not None:
            return found
        looked.append((path, what, reason))
    if not download:
        raise FileNotFoundError(_not_found_message(
            looked, "Downloading is switched off (download=False)."))
    dest = Path(cache_dir) / ARCHIVE_NAME
    try:
        download_file(CIFAR10_URL, dest, "md5", CIFAR10_MD5)
    except Exception as e:  # offline, blocked, checksum mismatch, unwritable folder...
        raise FileNotFoundError(_not_found_message(
            looked, f"Downloading {CIFAR10_URL} to {dest} failed: {e}")) from e
    return "archive", dest


# ------------------------------------------------------------------ Decoding

def _read_file(path):
    try:
        return path.read_bytes()
    except OSError as e:
        raise DatasetError(f"{path}: could not read this file ({e})") from e


def _decode_image(data, where):
    """Decode one encoded image (JPEG, PNG, ...) to a (32, 32, 3) uint8 RGB array."""
    from PIL import Image  # imported here: only needed for image trees

    try:
        with Image.open(io.BytesIO(data)) as img:
            pixels = np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
    except Exception as e:  # Pillow raises several types for bad or truncated files
        raise DatasetError(f"{where}: could not decode this image ({type(e).__name__}: {e}); "
                           "expected a 32x32 RGB image file readable by Pillow") from e
    if pixels.shape != (IMAGE_SHAPE[1], IMAGE_SHAPE[2], 3):
        raise DatasetError(
            f"{where}: expected a 32x32 RGB image, got {pixels.shape[1]}x{pixels.shape[0]}")
    return pixels


def _stack_images(items, source):
    """``(split, name, class, pixels)`` items -> NCHW arrays in name order, sorted classes."""
    found = {split: sorted({cls for s, _, cls, _ in items if s == split}) for split in SPLITS}
    if found["train"] != found["test"] or len(found["train"]) != len(CIFAR10_CLASSES):
        raise DatasetError(
            f"{source}: expected the same {len(CIFAR10_CLASSES)} class folders under "
            f"train/ and test/, found train/: {found['train']}, test/: {found['test']}")
    index = {cls: i for i, cls in enumerate(found["train"])}
    arrays = {}
    for split in SPLITS:
        chosen = sorted((item for item in items if item[0] == split), key=lambda item: item[1])
        pixels = np.stack([item[3] for item in chosen])  # (N, 32, 32, 3)
        arrays[f"{split}_images"] = np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))
        arrays[f"{split}_labels"] = np.array([index[item[2]] for item in chosen], np.int64)
    return arrays, tuple(found["train"])


def _image_tree_files(root):
    """Yield (split, relative name, class, path) of every image file in an image folder."""
    for split in SPLITS:
        for class_dir in sorted(p for p in (root / split).iterdir()
                                if p.is_dir() and not p.name.startswith(".")):
            for path in sorted(class_dir.iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    yield split, f"{split}/{class_dir.name}/{path.name}", class_dir.name, path


# What pickled NumPy arrays need. NumPy 2 renamed numpy.core to numpy._core: pickles made
# by either are accepted (names are checked in their numpy.core spelling).
_PICKLE_GLOBALS = {("_codecs", "encode"), ("numpy", "dtype"), ("numpy", "ndarray"),
                   ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
                   ("numpy.core.numeric", "_frombuffer")}


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that only builds NumPy arrays: a pickle can run arbitrary code when
    loaded, and refusing every other global makes loading a downloaded batch file safe."""

    def find_class(self, module, name):
        core = module.replace("numpy._core", "numpy.core", 1)
        if (core, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        for candidate in (module, core, core.replace("numpy.core", "numpy._core", 1)):
            with contextlib.suppress(ImportError, AttributeError):
                return getattr(importlib.import_module(candidate), name)
        raise pickle.UnpicklingError(f"cannot find {module}.{name}")


_BATCH_EXPECTED = ("a pickled dict with 'data', a (N, 3072) uint8 array with one image per row "
                   "(1024 red, 1024 green, 1024 blue values), and 'labels', N ints in 0..9")


def _unpickle(raw, where):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            obj = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:
        raise DatasetError(f"{where}: could not unpickle ({type(e).__name__}: {e}); "
                           f"expected {_BATCH_EXPECTED}") from e
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: expected {_BATCH_EXPECTED}; got a {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _parse_batch(raw, where):
    """One pickled batch -> (images (N, 3, 32, 32) uint8, labels (N,) int64)."""
    batch = _unpickle(raw, where)
    data, labels = batch.get("data"), batch.get("labels")
    if (not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2
            or data.shape[1] != int(np.prod(IMAGE_SHAPE))):
        got = (f"data of shape {data.shape} and dtype {data.dtype}"
               if isinstance(data, np.ndarray) else f"data = {type(data).__name__}")
        raise DatasetError(f"{where}: expected {_BATCH_EXPECTED}; got {got}")
    labels = np.asarray(labels if labels is not None else [])
    if (labels.ndim != 1 or labels.shape[0] != data.shape[0] or labels.dtype.kind not in "iu"
            or (labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)))):
        raise DatasetError(f"{where}: expected {_BATCH_EXPECTED}; got {data.shape[0]} rows of "
                           f"data but labels of shape {labels.shape}, dtype {labels.dtype}")
    return data.reshape(-1, *IMAGE_SHAPE), labels.astype(np.int64)


def _assemble_batches(raw, where):
    """``raw``: {file name: bytes} of the pickled batches -> arrays, classes."""
    missing = [n for n in TRAIN_BATCHES + (TEST_BATCH,) if n not in raw]
    if missing:
        raise DatasetError(f"{where}: missing {', '.join(missing)}; expected the official "
                           f"{BATCHES_DIR} layout: {', '.join(TRAIN_BATCHES)} and {TEST_BATCH}")
    train = [_parse_batch(raw[n], f"{where}/{n}") for n in TRAIN_BATCHES]
    test_images, test_labels = _parse_batch(raw[TEST_BATCH], f"{where}/{TEST_BATCH}")
    meta = _unpickle(raw[META_FILE], f"{where}/{META_FILE}") if META_FILE in raw else {}
    names, classes = meta.get("label_names"), CIFAR10_CLASSES  # unless the meta has ten names
    if isinstance(names, (list, tuple)) and len(names) == len(CIFAR10_CLASSES):
        classes = tuple(n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names)
    return {"train_images": np.concatenate([images for images, _ in train]),
            "train_labels": np.concatenate([labels for _, labels in train]),
            "test_images": np.ascontiguousarray(test_images),
            "test_labels": test_labels}, classes


def _read_archive(path):
    """Either layout from a .tar/.tar.gz, in one pass decoding images as they stream past."""
    raw, batch_folder, images = {}, None, []
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                name = member.name
                while name.startswith("./"):
                    name = name[2:]
                parts = name.split("/")
                if not member.isfile() or parts[-1].startswith("."):
                    continue
                if parts[-1] in _BATCH_FILES:
                    raw[parts[-1]] = tar.extractfile(member).read()
                    batch_folder = "/".join(parts[:-1])
                elif len(parts) >= 3 and parts[-3] in SPLITS:
                    pixels = _decode_image(tar.extractfile(member).read(),
                                           f"{path}: member {name}")
                    images.append((parts[-3], name, parts[-2], pixels))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise DatasetError(
            f"{path}: could not read this archive ({type(e).__name__}: {e}); expected a "
            "complete .tar or .tar.gz file (is it truncated or corrupt?)") from e
    if raw and (not images or all(n in raw for n in TRAIN_BATCHES + (TEST_BATCH,))):
        return _assemble_batches(raw, f"{path}: {batch_folder or '.'}")
    if images:
        return _stack_images(images, path)
    raise DatasetError(
        f"{path}: no CIFAR-10 data in this archive; expected either {BATCHES_DIR}/ with "
        f"{', '.join(TRAIN_BATCHES)} and {TEST_BATCH}, or image files under "
        "train/<class>/ and test/<class>/")


def _source_files(kind, path):
    """The files the source ``(kind, path)`` that :func:`_detect` found is read from."""
    if kind == "archive":
        return [path]
    if kind == "batches":
        return [path / n for n in _BATCH_FILES if (path / n).is_file()]
    return [file for *_, file in _image_tree_files(path)]


def _decode(kind, path):
    """Arrays and classes of the source ``(kind, path)``."""
    if kind == "archive":
        return _read_archive(path)
    if kind == "batches":
        return _assemble_batches({f.name: _read_file(f) for f in _source_files(kind, path)}, path)
    return _stack_images([(split, name, cls, _decode_image(_read_file(file), file))
                          for split, name, cls, file in _image_tree_files(path)], path)


# ------------------------------------------------------------------ The decoded cache

def _cache_key(kind, path):
    """A hash of the source's absolute path and every file's size and mtime."""
    path = Path(path).resolve()
    entries = []
    for f in _source_files(kind, path):
        st = f.stat()
        entries.append([str(f.relative_to(path)) if f != path else "", st.st_size,
                        st.st_mtime_ns])
    text = json.dumps([_CACHE_FORMAT, kind, str(path), entries])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _validate(arrays, classes, where):
    """Check shapes, dtypes and label ranges; raise DatasetError if anything is off."""
    if len(classes) != len(CIFAR10_CLASSES):
        raise DatasetError(f"{where}: expected {len(CIFAR10_CLASSES)} classes, got {classes}")
    for split in SPLITS:
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if (images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE
                or len(images) == 0):
            raise DatasetError(f"{where}: {split} images should be (N, 3, 32, 32) uint8, got "
                               f"{images.shape} {images.dtype}")
        if (labels.dtype != np.int64 or labels.shape != (len(images),)
                or labels.min() < 0 or labels.max() >= len(classes)):
            raise DatasetError(f"{where}: {split} labels should be ({len(images)},) int64 in "
                               f"0..{len(classes) - 1}, got {labels.shape} {labels.dtype}")


def _read_cache(cache_file, key):
    """Load a cache file, or return None (after removing it) if it is damaged or stale."""
    if not cache_file.is_file():
        return None
    try:
        with np.load(cache_file, allow_pickle=False) as z:
            if int(z["format"]) != _CACHE_FORMAT or str(z["key"]) != key:
                raise ValueError("written for another source or cache format")
            # Reading a member to its end checks the zip's CRC-32: a damaged or truncated
            # file raises here instead of giving wrong pixels.
            arrays = {name: z[name] for name in _ARRAY_NAMES}
            classes = tuple(str(c) for c in z["classes"])
            source = str(z["source"])
        _validate(arrays, classes, cache_file)
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, zlib.error) as e:
        warnings.warn(f"Ignoring the damaged CIFAR-10 cache {cache_file} ({e}); rebuilding it",
                      stacklevel=3)
        with contextlib.suppress(OSError):
            os.unlink(cache_file)
        return None
    return CIFAR10(**arrays, classes=classes, source=source)


def _write_cache(cache_file, key, data):
    """Write the arrays to ``cache_file`` atomically: temp file, fsync, rename."""
    # Temp files of runs that were killed mid-write (older than an hour) are removed.
    for stale in cache_file.parent.glob(f".{cache_file.name}.*.tmp"):
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > 3600:
                stale.unlink()
    with atomic_write(cache_file) as f:
        np.savez(f, format=np.int64(_CACHE_FORMAT), key=np.str_(key),
                 source=np.str_(data.source), classes=np.array(data.classes),
                 **{name: getattr(data, name) for name in _ARRAY_NAMES})


def load_cifar10(root=None, download=True, cache_dir=None, *, given_path_only=False):
    """Load CIFAR-10 as a :class:`CIFAR10` of uint8 NCHW arrays (decoding once, then from
    the cache). See the module docstring for the layouts and where it looks.

    Parameters
    ----------
    root : str or Path, optional
        A folder holding CIFAR-10, or the archive itself (the examples' ``--data``).
    download : bool
        Download the official archive when no copy is found.
    cache_dir : str or Path, optional
        Where decoded arrays (and downloads) are kept; default :func:`default_cache_dir`.
    given_path_only : bool
        When a path is given (``root``, else ``$MINITORCH_CV_DATA``), look only there.

    Raises
    ------
    FileNotFoundError
        Nothing found and downloading is off or failed (offline).
    DatasetError
        A file is unreadable, truncated or wrongly laid out (the message names it).
        No cache is written in that case.

    Examples
    --------
    >>> data = load_cifar10("data")     # a folder holding CIFAR-10; or MINITORCH_CV_DATA=data
    >>> data.train_images.shape, data.classes[data.train_labels[0]]
    ((50000, 3, 32, 32), 'airplane')
    """
    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    kind, path = _locate(root, cache_dir, download, given_path_only)
    key = _cache_key(kind, path)
    cache_file = cache_dir / f"cifar10-{key}.npz"
    cached = _read_cache(cache_file, key)
    if cached is not None:
        return cached

    print(f"Decoding CIFAR-10 from {path} (once; the arrays are cached in {cache_dir}) ...",
          file=sys.stderr, flush=True)
    arrays, classes = _decode(kind, path)
    _validate(arrays, classes, path)
    data = CIFAR10(**arrays, classes=tuple(classes), source=str(path))
    try:
        _write_cache(cache_file, key, data)
    except OSError as e:
        warnings.warn(f"Could not write the CIFAR-10 cache {cache_file} ({e}); the next run "
                      "will decode again", stacklevel=2)
    return data
