"""CIFAR-10 loading (every layout, cache, errors, offline), splits and the batch iterator.

Synthetic datasets are built in tmp_path, with a tmp cache folder. The real-data tests
run only when MINITORCH_CV_DATA is set (as CI sets it) and use the default cache, so
the one-time decode is shared between runs.
"""

import io
import os
import pickle
import tarfile
import time
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from minitorch_cv.data import (
    CIFAR10_CLASSES,
    BatchIterator,
    Compose,
    DatasetError,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    ToFloat,
    default_cache_dir,
    load_cifar10,
    subset,
    train_val_split,
)
from minitorch_cv.data import cifar10 as cifar10_module

REAL_DATA = os.environ.get("MINITORCH_CV_DATA")
REAL_CACHE = default_cache_dir()  # read before the fixture below points it at tmp_path


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own cache folder and no $MINITORCH_CV_DATA."""
    monkeypatch.setenv("MINITORCH_CV_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MINITORCH_CV_DATA", raising=False)
    return tmp_path / "cache"


def cache_files(cache):
    """Everything in the cache folder except downloads (caches and temp files)."""
    if not cache.exists():
        return []
    return sorted(p.name for p in cache.iterdir() if p.name != "cifar-10-python.tar.gz")


# ===================================================================== synthetic datasets

def synthetic(n_train_per_class=2, n_test_per_class=1, seed=0):
    """Random images: {split: [(class index, (3, 32, 32) uint8)]}, in canonical order."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, k in (("train", n_train_per_class), ("test", n_test_per_class)):
        out[split] = [(c, rng.integers(0, 256, (3, 32, 32), dtype=np.uint8))
                      for c in range(10) for _ in range(k)]
    return out


def png_bytes(chw):
    buf = io.BytesIO()
    Image.fromarray(chw.transpose(1, 2, 0)).save(buf, format="PNG")
    return buf.getvalue()


def image_members(data):
    """(member name, bytes) of an image tree, deliberately NOT in sorted order."""
    members = []
    for split in ("test", "train"):  # test first, classes and files reversed
        per_class = {}
        for c, img in data[split]:
            per_class.setdefault(c, []).append(img)
        for c in sorted(per_class, reverse=True):
            for i in reversed(range(len(per_class[c]))):
                name = f"{split}/{CIFAR10_CLASSES[c]}/{i:04d}.png"
                members.append((name, png_bytes(per_class[c][i])))
    return members


def write_image_folder(root, data):
    for name, blob in image_members(data):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    return root


def write_tar(path, members, mode="w:gz"):
    with tarfile.open(path, mode) as tar:
        dirs = set()
        for name, blob in members:
            parent = name.rsplit("/", 1)[0]
            for i in range(1, parent.count("/") + 2):
                d = "/".join(parent.split("/")[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def batch_pickle(items, name="batch"):
    """An official-style batch: a protocol-2 pickle with bytes keys, like Python 2's."""
    data = np.stack([img.reshape(-1) for _, img in items])  # (N, 3072) rows
    batch = {b"batch_label": name.encode(), b"labels": [c for c, _ in items],
             b"data": data, b"filenames": [b"x.png"] * len(items)}
    return pickle.dumps(batch, protocol=2)


def official_members(data, prefix="cifar-10-batches-py/"):
    train = data["train"]
    chunks = np.array_split(np.arange(len(train)), 5)
    members = [(f"{prefix}batches.meta", pickle.dumps(
        {b"label_names": [c.encode() for c in CIFAR10_CLASSES]}, protocol=2))]
    for i, idx in enumerate(chunks, start=1):
        members.append((f"{prefix}data_batch_{i}", batch_pickle([train[j] for j in idx])))
    members.append((f"{prefix}test_batch", batch_pickle(data["test"])))
    return members


def write_official_folder(root, data):
    for name, blob in official_members(data):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    return root


def check_loaded(ds, data):
    """The loaded arrays equal the synthetic images and labels, in canonical order."""
    for split in ("train", "test"):
        images = getattr(ds, f"{split}_images")
        labels = getattr(ds, f"{split}_labels")
        n = len(data[split])
        assert images.shape == (n, 3, 32, 32) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.int64
        assert images.flags.c_contiguous
        np.testing.assert_array_equal(labels, [c for c, _ in data[split]])
        np.testing.assert_array_equal(images, np.stack([img for _, img in data[split]]))
    assert ds.classes == CIFAR10_CLASSES


LAYOUTS = ["official_folder", "official_parent", "official_targz", "image_folder",
           "image_tar", "image_targz", "image_targz_parent"]


def build_layout(kind, tmp_path, data):
    """Build one layout; return the path to pass as root."""
    if kind == "official_folder":
        return write_official_folder(tmp_path / "src", data) / "cifar-10-batches-py"
    if kind == "official_parent":
        return write_official_folder(tmp_path / "src", data)
    if kind == "official_targz":
        return write_tar(tmp_path / "cifar-10-python.tar.gz", official_members(data))
    if kind == "image_folder":
        return write_image_folder(tmp_path / "src", data)
    if kind == "image_tar":
        return write_tar(tmp_path / "cifar10-png.tar", image_members(data), mode="w")
    if kind == "image_targz":
        return write_tar(tmp_path / "cifar10-png.tar.gz", image_members(data))
    if kind == "image_targz_parent":
        (tmp_path / "src").mkdir()
        write_tar(tmp_path / "src" / "cifar10-png.tar.gz", image_members(data))
        return tmp_path / "src"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", LAYOUTS)
def test_every_layout_loads_right_shapes_labels_and_order(kind, tmp_path, isolated_env):
    data = synthetic()
    root = build_layout(kind, tmp_path, data)
    ds = load_cifar10(root, download=False)
    check_loaded(ds, data)
    assert len(list(isolated_env.glob("cifar10-*.npz"))) == 1
    # The second load comes from the cache and gives the same arrays.
    again = load_cifar10(root, download=False)
    check_loaded(again, data)


def test_env_variable_is_used(tmp_path, monkeypatch):
    data = synthetic()
    root = write_tar(tmp_path / "cifar10-png.tar.gz", image_members(data))
    monkeypatch.setenv("MINITORCH_CV_DATA", str(root))
    check_loaded(load_cifar10(download=False), data)


def test_root_argument_wins_over_env(tmp_path, monkeypatch):
    data = synthetic(seed=1)
    root = write_image_folder(tmp_path / "good", data)
    monkeypatch.setenv("MINITORCH_CV_DATA", str(tmp_path / "does-not-exist"))
    check_loaded(load_cifar10(root, download=False), data)


def test_data_in_cache_folder_is_found(tmp_path, isolated_env):
    data = synthetic()
    isolated_env.mkdir()
    write_tar(isolated_env / "cifar-10-python.tar.gz", official_members(data))
    check_loaded(load_cifar10(download=False), data)


def test_second_load_uses_cache_without_decoding(tmp_path, monkeypatch):
    data = synthetic()
    root = write_tar(tmp_path / "cifar10-png.tar.gz", image_members(data))
    load_cifar10(root, download=False)

    def no_decoding(*args):
        raise AssertionError("decoded again although a valid cache exists")

    monkeypatch.setattr(cifar10_module, "_decode", no_decoding)
    check_loaded(load_cifar10(root, download=False), data)


def test_changed_source_gets_a_new_cache(tmp_path, isolated_env):
    root = write_tar(tmp_path / "cifar10-png.tar.gz", image_members(synthetic(seed=0)))
    load_cifar10(root, download=False)
    new = synthetic(seed=1)
    write_tar(root, image_members(new))
    os.utime(root, ns=(time.time_ns(), time.time_ns() + 10**9))
    check_loaded(load_cifar10(root, download=False), new)
    assert len(list(isolated_env.glob("cifar10-*.npz"))) == 2


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupt_cache_is_detected_and_rebuilt(damage, tmp_path, isolated_env):
    data = synthetic()
    root = write_image_folder(tmp_path / "src", data)
    load_cifar10(root, download=False)
    (cache_file,) = isolated_env.glob("cifar10-*.npz")
    blob = bytearray(cache_file.read_bytes())
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "flip":
        blob[len(blob) // 2] ^= 0xFF  # one byte inside the pixel data
    else:
        blob = b"not a zip file"
    cache_file.write_bytes(bytes(blob))
    with pytest.warns(UserWarning, match="damaged"):
        ds = load_cifar10(root, download=False)
    check_loaded(ds, data)
    # Rebuilt: the next load reads a good cache without warnings.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_loaded(load_cifar10(root, download=False), data)


def test_interrupted_cache_write_leaves_nothing(tmp_path, monkeypatch, isolated_env):
    root = write_image_folder(tmp_path / "src", synthetic())

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(cifar10_module.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_cifar10(root, download=False)
    assert cache_files(isolated_env) == []


def test_unwritable_cache_still_returns_data(tmp_path, monkeypatch, isolated_env):
    data = synthetic()
    root = write_image_folder(tmp_path / "src", data)

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cifar10_module.os, "fsync", disk_full)
    with pytest.warns(UserWarning, match="Could not write the CIFAR-10 cache"):
        ds = load_cifar10(root, download=False)
    check_loaded(ds, data)
    assert cache_files(isolated_env) == []


# ===================================================================== bad input

def assert_no_cache(cache):
    assert cache_files(cache) == []


def test_tar_without_train_test_folders(tmp_path, isolated_env):
    bad = write_tar(tmp_path / "cifar-stuff.tar.gz",
                    [("images/airplane/0000.png", png_bytes(np.zeros((3, 32, 32), np.uint8)))])
    with pytest.raises(DatasetError, match=r"cifar-stuff\.tar\.gz.*train/<class>/"):
        load_cifar10(bad, download=False)
    assert_no_cache(isolated_env)


def test_tar_with_wrong_number_of_classes(tmp_path, isolated_env):
    data = synthetic()
    members = [m for m in image_members(data) if "/truck/" not in m[0]]
    bad = write_tar(tmp_path / "cifar10-png.tar.gz", members)
    with pytest.raises(DatasetError, match=r"cifar10-png\.tar\.gz.*10 class folders"):
        load_cifar10(bad, download=False)
    assert_no_cache(isolated_env)


def test_jpeg_that_does_not_decode(tmp_path, isolated_env):
    data = synthetic()
    members = image_members(data)
    name, blob = members[3]
    members[3] = (name, blob[: len(blob) // 3])  # truncated image file
    bad = write_tar(tmp_path / "cifar10-png.tar.gz", members)
    with pytest.raises(DatasetError, match=f"cifar10-png.tar.gz: member {name}.*decode"):
        load_cifar10(bad, download=False)
    assert_no_cache(isolated_env)


def test_image_of_wrong_size_in_folder(tmp_path, isolated_env):
    root = write_image_folder(tmp_path / "src", synthetic())
    bad = root / "train" / "cat" / "0000.png"
    Image.new("RGB", (16, 16)).save(bad)
    with pytest.raises(DatasetError, match=r"0000\.png: expected a 32x32 RGB image, got 16x16"):
        load_cifar10(root, download=False)
    assert_no_cache(isolated_env)


def test_truncated_archive(tmp_path, isolated_env):
    good = write_tar(tmp_path / "full.tar.gz", image_members(synthetic()))
    bad = tmp_path / "cifar10-cut.tar.gz"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"cifar10-cut\.tar\.gz.*truncated"):
        load_cifar10(bad, download=False)
    assert_no_cache(isolated_env)


def test_pickled_batch_with_wrong_shape(tmp_path, isolated_env):
    root = write_official_folder(tmp_path / "src", synthetic())
    batch = {b"data": np.zeros((4, 1000), np.uint8), b"labels": [0, 1, 2, 3]}
    (root / "cifar-10-batches-py" / "data_batch_3").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DatasetError, match=r"data_batch_3: expected .*\(N, 3072\) uint8.*"
                                           r"\(4, 1000\)"):
        load_cifar10(root, download=False)
    assert_no_cache(isolated_env)


def test_pickled_batch_with_wrong_labels(tmp_path, isolated_env):
    root = write_official_folder(tmp_path / "src", synthetic())
    batch = {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2]}
    (root / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DatasetError, match=r"test_batch: expected"):
        load_cifar10(root, download=False)
    assert_no_cache(isolated_env)


def test_missing_batch_file(tmp_path, isolated_env):
    root = write_official_folder(tmp_path / "src", synthetic())
    (root / "cifar-10-batches-py" / "data_batch_5").unlink()
    with pytest.raises(DatasetError, match=r"cifar-10-batches-py: missing data_batch_5"):
        load_cifar10(root, download=False)
    assert_no_cache(isolated_env)


def test_truncated_pickle(tmp_path, isolated_env):
    root = write_official_folder(tmp_path / "src", synthetic())
    path = root / "cifar-10-batches-py" / "data_batch_2"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DatasetError, match=r"data_batch_2: could not unpickle"):
        load_cifar10(root, download=False)
    assert_no_cache(isolated_env)


def test_pickle_with_code_is_refused(tmp_path, isolated_env):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo should-not-run",))

    root = write_official_folder(tmp_path / "src", synthetic())
    (root / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(DatasetError, match=r"test_batch: could not unpickle.*refusing"):
        load_cifar10(root, download=False)


def test_file_that_is_not_an_archive(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(DatasetError, match=r"notes\.txt.*not a tar archive"):
        load_cifar10(bad, download=False)


# ===================================================================== not found / download

def test_offline_message_lists_every_place(tmp_path, monkeypatch, isolated_env):
    calls = []

    def offline(url, dest, hash_name, expected):
        calls.append((url, dest, hash_name, expected))
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(cifar10_module, "download_file", offline)
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(missing)
    message = str(info.value)
    assert str(missing) in message
    assert str(isolated_env) in message
    assert "--data PATH" in message and "MINITORCH_CV_DATA=PATH" in message
    assert "name resolution" in message
    assert calls and calls[0][0] == cifar10_module.CIFAR10_URL
    assert calls[0][2:] == ("md5", "c58f30108f718f92721af3b95e74349a")
    assert_no_cache(isolated_env)


def test_offline_message_names_env_folder(tmp_path, monkeypatch, isolated_env):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("MINITORCH_CV_DATA", str(empty))
    monkeypatch.setattr(cifar10_module, "download_file",
                        lambda *a: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10()
    message = str(info.value)
    assert f"{empty} ($MINITORCH_CV_DATA)" in message
    assert str(isolated_env) in message


def test_download_false_does_not_download(tmp_path, monkeypatch):
    def fail(*args):
        raise AssertionError("must not download")

    monkeypatch.setattr(cifar10_module, "download_file", fail)
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_cifar10(tmp_path / "nowhere", download=False)


def test_download_then_load(tmp_path, monkeypatch, isolated_env):
    data = synthetic()
    archive = write_tar(tmp_path / "served.tar.gz", official_members(data))

    def fake_download(url, dest, hash_name, expected):
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(archive.read_bytes())
        return dest

    monkeypatch.setattr(cifar10_module, "download_file", fake_download)
    check_loaded(load_cifar10(), data)
    assert (isolated_env / "cifar-10-python.tar.gz").is_file()


# ===================================================================== splits

def test_train_val_split_sizes_disjoint_deterministic():
    train_idx, val_idx = train_val_split(50000, val_fraction=0.1, seed=0)
    assert len(train_idx) == 45000 and len(val_idx) == 5000
    assert train_idx.dtype == np.int64 and val_idx.dtype == np.int64
    assert np.intersect1d(train_idx, val_idx).size == 0
    np.testing.assert_array_equal(np.union1d(train_idx, val_idx), np.arange(50000))
    again = train_val_split(50000, 0.1, seed=0)
    np.testing.assert_array_equal(again[1], val_idx)
    other = train_val_split(50000, 0.1, seed=1)
    assert not np.array_equal(other[1], val_idx)
    # Random, not a block: validation examples are spread over the whole range.
    assert val_idx.min() < 1000 and val_idx.max() > 49000


def test_train_val_split_edge_cases():
    assert len(train_val_split(100, 0.29)[1]) == 29
    assert len(train_val_split(10, 0.0)[1]) == 0
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError):
            train_val_split(10, bad)
    with pytest.raises(ValueError):
        train_val_split(-1)


def test_subset_random_never_first_n_and_checked():
    idx = subset(50000, 1000, seed=0)
    assert idx.shape == (1000,) and idx.dtype == np.int64
    assert len(np.unique(idx)) == 1000 and idx.min() >= 0 and idx.max() < 50000
    assert not np.array_equal(idx, np.arange(1000))
    assert idx.max() > 40000  # spread over the whole (class-sorted) set
    np.testing.assert_array_equal(idx, subset(50000, 1000, seed=0))
    assert not np.array_equal(idx, subset(50000, 1000, seed=1))
    for n in (1, 5, 99):
        assert not np.array_equal(subset(100, n, seed=0), np.arange(n))
    for bad in (0, -3, 50001):
        with pytest.raises(ValueError):
            subset(50000, bad)


# ===================================================================== batch iterator

def toy(n=103):
    images = np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1) * np.ones((1, 3, 4, 4), np.uint8)
    labels = np.arange(n, dtype=np.int64)
    return images, labels


def test_every_index_once_per_epoch_with_last_partial_batch():
    images, labels = toy(103)
    it = BatchIterator(images, labels, batch_size=10, shuffle=True, drop_last=False, rng=0)
    assert len(it) == 11
    epochs = []
    for _ in range(2):
        batches = list(it)
        assert len(batches) == 11
        assert [len(y) for _, y in batches] == [10] * 10 + [3]
        seen = np.concatenate([y for _, y in batches])
        np.testing.assert_array_equal(np.sort(seen), np.arange(103))
        for x, y in batches:
            assert x.dtype == np.float32 and y.dtype == np.int64
            np.testing.assert_allclose(x[:, 0, 0, 0], y / 255, rtol=1e-6)  # images match labels
        epochs.append(seen)
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch


def test_drop_last():
    images, labels = toy(103)
    it = BatchIterator(images, labels, batch_size=10, shuffle=True, drop_last=True, rng=0)
    assert len(it) == 10
    batches = list(it)
    assert len(batches) == 10 and all(len(y) == 10 for _, y in batches)
    seen = np.concatenate([y for _, y in batches])
    assert len(np.unique(seen)) == 100


def test_no_shuffle_keeps_order():
    images, labels = toy(25)
    it = BatchIterator(images, labels, batch_size=8)
    np.testing.assert_array_equal(np.concatenate([y for _, y in it]), np.arange(25))


def test_indices_select_examples():
    images, labels = toy(50)
    _, val_idx = train_val_split(50, 0.2, seed=0)
    it = BatchIterator(images, labels, 4, shuffle=True, rng=1, indices=val_idx)
    assert it.num_examples == 10 and len(it) == 3
    np.testing.assert_array_equal(np.sort(np.concatenate([y for _, y in it])), val_idx)


def test_bad_arguments():
    images, labels = toy(10)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="batch_size"):
            BatchIterator(images, labels, batch_size=bad)
    with pytest.raises(ValueError):
        BatchIterator(images, labels[:5], batch_size=2)
    with pytest.raises(ValueError):
        BatchIterator(images, labels, 2, indices=[0, 10])


def _augment():
    return Compose([RandomCrop(4, padding=1), RandomHorizontalFlip(), ToFloat(),
                    Normalize(0.5, 0.25)])


def test_seeded_iterator_is_reproducible():
    images = np.random.default_rng(0).integers(0, 256, (40, 3, 4, 4), dtype=np.uint8)
    labels = np.arange(40)
    runs = []
    for _ in range(2):
        it = BatchIterator(images, labels, 8, shuffle=True, drop_last=True,
                           transform=_augment(), rng=np.random.default_rng(42))
        runs.append([(x.copy(), y.copy()) for _ in range(2) for x, y in it])
    for (xa, ya), (xb, yb) in zip(*runs, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_resume_mid_epoch_equals_uninterrupted_run():
    images = np.random.default_rng(0).integers(0, 256, (50, 3, 4, 4), dtype=np.uint8)
    labels = np.arange(50)

    def make():
        return BatchIterator(images, labels, 8, shuffle=True, drop_last=True,
                             transform=_augment(), rng=7)

    full = make()
    reference = [(x, y) for _ in range(3) for x, y in full]

    first = make()
    got = []
    for x, y in first:  # epoch 1 completely
        got.append((x, y))
    for i, (x, y) in enumerate(first):  # epoch 2: stop after 2 batches, then "crash"
        got.append((x, y))
        if i == 1:
            state = first.get_state()
            break

    resumed = make()
    resumed.set_state(state)
    got += [(x, y) for x, y in resumed]  # the rest of epoch 2
    got += [(x, y) for x, y in resumed]  # epoch 3
    assert resumed.epoch == 3
    assert len(got) == len(reference)
    for (xa, ya), (xb, yb) in zip(got, reference, strict=True):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)


def test_iterator_never_touches_global_numpy_random():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    images, labels = toy(30)
    list(BatchIterator(images, labels, 7, shuffle=True, transform=_augment(), rng=3))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


# ===================================================================== real data

real = pytest.mark.skipif(not REAL_DATA, reason="MINITORCH_CV_DATA is not set")


@pytest.fixture(scope="module")
def real_cifar():
    return load_cifar10(REAL_DATA, download=False, cache_dir=REAL_CACHE)


@real
def test_real_data_shapes_means_and_labels(real_cifar):
    ds = real_cifar
    assert ds.train_images.shape == (50000, 3, 32, 32) and ds.train_images.dtype == np.uint8
    assert ds.test_images.shape == (10000, 3, 32, 32) and ds.test_images.dtype == np.uint8
    assert ds.classes == CIFAR10_CLASSES
    means = ds.train_images.reshape(50000, 3, -1).mean(axis=(0, 2))
    np.testing.assert_allclose(means, (125.3, 122.9, 113.9), atol=0.1)
    np.testing.assert_array_equal(np.bincount(ds.train_labels), [5000] * 10)
    np.testing.assert_array_equal(np.bincount(ds.test_labels), [1000] * 10)


@real
def test_real_test_split_is_in_canonical_order(real_cifar):
    ds = real_cifar
    # Sorted member names: test/airplane/0000.jpg ... test/truck/0999.jpg.
    np.testing.assert_array_equal(ds.test_labels, np.repeat(np.arange(10), 1000))
    logits_file = Path(REAL_DATA) / "resnet18_cifar10" / "test_logits.npy"
    if logits_file.is_file():
        # PyTorch's logits are in canonical order: argmax agrees on 8,872 images.
        logits = np.load(logits_file)
        assert int((logits.argmax(axis=1) == ds.test_labels).sum()) == 8872
    archive = Path(REAL_DATA) / "cifar10-jpeg.tar.gz"
    if archive.is_file():
        wanted = {"test/airplane/0000.jpg": 0, "test/cat/0123.jpg": 3123,
                  "test/truck/0999.jpg": 9999}
        found = {}
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                if member.name in wanted:
                    with Image.open(io.BytesIO(tar.extractfile(member).read())) as img:
                        found[member.name] = np.asarray(img.convert("RGB")).transpose(2, 0, 1)
        assert set(found) == set(wanted)
        for name, i in wanted.items():
            np.testing.assert_array_equal(ds.test_images[i], found[name])


@real
def test_real_cached_load_is_fast(real_cifar):
    start = time.perf_counter()
    ds = load_cifar10(REAL_DATA, download=False, cache_dir=REAL_CACHE)
    elapsed = time.perf_counter() - start
    assert ds.train_images.shape[0] == 50000
    assert elapsed < 5.0, f"cached load took {elapsed:.1f} s"


# ================================================== a given path is the only place looked

def test_a_given_path_is_the_only_place_looked(tmp_path, monkeypatch):
    def fail(*args):
        raise AssertionError("must not download")

    monkeypatch.setattr(cifar10_module, "download_file", fail)
    monkeypatch.delenv("MINITORCH_CV_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(tmp_path / "nope", given_path_only=True)
    assert str(info.value) == (
        f"no CIFAR-10 at {tmp_path / 'nope'}: it does not exist; give --data a folder "
        f"holding {cifar10_module._LAYOUTS}, or the archive itself ($MINITORCH_CV_DATA is "
        "not set)")
    holder = tmp_path / "x"
    (holder / "b").mkdir(parents=True)
    (holder / "a.txt").write_text("")
    monkeypatch.setenv("MINITORCH_CV_DATA", str(holder))
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(given_path_only=True)
    message = str(info.value)
    assert message.startswith(f"MINITORCH_CV_DATA={holder} holds no CIFAR-10 (it holds none "
                              "of the layouts (found: a.txt, b/));")
    assert "\n" not in message
    with pytest.raises(FileNotFoundError, match=rf"\(\$MINITORCH_CV_DATA={holder} is set, "
                                                r"but --data comes first\)"):
        load_cifar10(tmp_path / "nope", given_path_only=True)
