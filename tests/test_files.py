"""Atomic writes and checked downloads (minitorch_cv._files), shared by every writer."""

import hashlib
import os
import stat

import pytest

from minitorch_cv._files import atomic_write, atomic_write_json, download_file


def test_atomic_write_replaces_only_when_complete(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    atomic_write_json(target, {"a": 1})
    before = target.read_bytes()
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write(b"half a file")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == before                   # the old file is intact
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.bin"]   # no temp file


def test_atomic_write_uses_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "f.bin") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.bin").stat().st_mode) == 0o644


def test_download_checks_hash_and_is_atomic(tmp_path):
    src = tmp_path / "served.bin"
    src.write_bytes(b"x" * 5000)
    url = src.as_uri()
    dest = tmp_path / "dl" / "archive.tar.gz"
    good = hashlib.md5(src.read_bytes()).hexdigest()
    with pytest.raises(OSError, match="checksum"):
        download_file(url, dest, "md5", "0" * 32)
    assert list(dest.parent.iterdir()) == []               # no partial or temp file left
    download_file(url, dest, "md5", good)
    assert dest.read_bytes() == src.read_bytes()
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    download_file(url, tmp_path / "w.pth", "sha256", sha[:8])   # a prefix, as torchvision's names
    assert [p.name for p in dest.parent.iterdir()] == ["archive.tar.gz"]
