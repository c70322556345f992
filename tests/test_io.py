"""Tests for minitorch_cv.io: torch.save files, safetensors and .npz, loaded without torch."""

import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from minitorch_cv.io import (
    WeightsFormatError,
    load_npz,
    load_safetensors,
    load_torch,
    load_weights,
    save_npz,
    save_safetensors,
)

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------
# Helpers: write torch.save-style archives by hand, so most tests need no torch at all.
# ----------------------------------------------------------------------------------------
def _str(text):
    """Pickle opcode BINUNICODE pushing `text`."""
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _int(value):
    """Pickle opcode BININT pushing `value`."""
    return b"J" + struct.pack("<i", value)


def _tuple(values):
    return b"(" + b"".join(_int(v) for v in values) + b"t"


def _tensor_pickle(key, storage_type, numel, offset, size, stride):
    """The pickle opcodes torch.save writes for one tensor (protocol 2)."""
    storage = (b"(" + _str("storage") + f"ctorch\n{storage_type}\n".encode() + _str(key)
               + _str("cpu") + _int(numel) + b"tQ")
    hooks = b"ccollections\nOrderedDict\n)R"
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + storage + _int(offset) + _tuple(size)
            + _tuple(stride) + b"\x89" + hooks + b"tR")


def _write_archive(path, data_pkl, storages=None, prefix="archive/"):
    """Write a zip laid out like torch.save's: data.pkl, byteorder, data/<key>."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(prefix + "data.pkl", data_pkl)
        archive.writestr(prefix + "byteorder", "little")
        for key, raw in (storages or {}).items():
            archive.writestr(f"{prefix}data/{key}", raw)
        archive.writestr(prefix + "version", "3\n")
    return path


def _float_archive(path, values, offset, size, stride, numel=None):
    """An archive with one float32 tensor "w" viewing storage "0" holding `values`."""
    values = np.asarray(values, dtype="<f4")
    numel = values.size if numel is None else numel
    data_pkl = (b"\x80\x02}" + _str("w")
                + _tensor_pickle("0", "FloatStorage", numel, offset, size, stride) + b"s.")
    return _write_archive(path, data_pkl, {"0": values.tobytes()})


def _copy_archive(src, dst, drop=(), replace=None):
    """Copy a zip, leaving out the records in `drop` and replacing those in `replace`."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name not in drop:
                zout.writestr(name, replace.get(name, zin.read(name)))
    return dst


# ----------------------------------------------------------------------------------------
# torch.save files, hand-made (no torch needed)
# ----------------------------------------------------------------------------------------
def test_handmade_archive_honours_offset_and_strides(tmp_path):
    storage = np.arange(12, dtype=np.float32)
    path = _float_archive(tmp_path / "w.pth", storage, offset=1, size=(2, 3), stride=(1, 4))
    w = load_torch(path)["w"]
    expected = np.lib.stride_tricks.as_strided(storage[1:], (2, 3), (4, 16))
    np.testing.assert_array_equal(w, expected)
    assert w.dtype == np.float32 and w.flags.c_contiguous and w.flags.writeable


def test_view_past_end_of_storage_is_refused(tmp_path):
    path = _float_archive(tmp_path / "oob.pth", np.zeros(6), offset=2, size=(2, 3), stride=(3, 1))
    with pytest.raises(WeightsFormatError, match="too small for a tensor view") as info:
        load_torch(path)
    assert "oob.pth" in str(info.value)


def test_storage_record_smaller_than_declared_is_refused(tmp_path):
    path = _float_archive(tmp_path / "short.pth", np.zeros(4), 0, (10,), (1,), numel=10)
    with pytest.raises(WeightsFormatError, match=r"short\.pth.*has 16 bytes.*needs 40"):
        load_torch(path)


def test_missing_storage_record(tmp_path):
    data_pkl = (b"\x80\x02}" + _str("w")
                + _tensor_pickle("7", "FloatStorage", 3, 0, (3,), (1,)) + b"s.")
    path = _write_archive(tmp_path / "missing.pth", data_pkl, {"0": b"\0" * 12})
    with pytest.raises(WeightsFormatError, match=r"missing\.pth.*missing storage record "
                                                 r"'archive/data/7'"):
        load_torch(path)


def test_other_archive_folder_names_work(tmp_path):
    data_pkl = (b"\x80\x02}" + _str("w")
                + _tensor_pickle("0", "LongStorage", 1, 0, (), ()) + b"s.")
    path = _write_archive(tmp_path / "x.pth", data_pkl, {"0": struct.pack("<q", -5)},
                          prefix="resnet18-f37072fd/")
    w = load_torch(path)["w"]
    assert w.shape == () and w.dtype == np.int64 and w == -5


def test_big_endian_archive(tmp_path):
    data_pkl = (b"\x80\x02}" + _str("w")
                + _tensor_pickle("0", "FloatStorage", 3, 0, (3,), (1,)) + b"s.")
    path = tmp_path / "big.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", "big")
        archive.writestr("archive/data/0", np.array([1.5, -2, 3], dtype=">f4").tobytes())
    w = load_torch(path)["w"]
    np.testing.assert_array_equal(w, [1.5, -2, 3])
    assert w.dtype == np.float32 and w.dtype.isnative


def test_load_does_not_import_torch(tmp_path):
    path = _float_archive(tmp_path / "w.pth", np.arange(4), 0, (2, 2), (2, 1))
    code = ("import sys; from minitorch_cv.io import load_torch; "
            f"w = load_torch({str(path)!r})['w']; assert w.shape == (2, 2); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path)


# ----------------------------------------------------------------------------------------
# Malicious pickles: refused before anything runs
# ----------------------------------------------------------------------------------------
def _payload_marker(tmp_path):
    return tmp_path / "PWNED"


def _evil_calls(marker):
    """(description, opcodes that push the result of calling a dangerous global)."""
    shell = f"touch {marker}"
    python = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": b"cos\nsystem\n" + _str(shell) + b"\x85R",
        "posix.system": b"cposix\nsystem\n" + _str(shell) + b"\x85R",
        "builtins.eval": b"cbuiltins\neval\n" + _str(python) + b"\x85R",
        # protocol 4 STACK_GLOBAL instead of GLOBAL
        "builtins.exec": (b"\x8c\x08builtins\x8c\x04exec\x93" + _str(python) + b"\x85R"),
        # the INST opcode looks up and calls in one step
        "subprocess.getoutput": b"(" + _str(shell) + b"isubprocess\ngetoutput\n",
        # a name that looks harmless but is outside the allowlist
        "torch.nn.modules.linear.Linear": b"ctorch.nn.modules.linear\nLinear\n)R",
    }


EVIL_NAMES = list(_evil_calls("x"))


def _evil_pickle(tmp_path, name, hidden):
    call = _evil_calls(_payload_marker(tmp_path))[name]
    if hidden:  # inside an otherwise ordinary state dict, after a real tensor
        return (b"\x80\x04}(" + _str("w")
                + _tensor_pickle("0", "FloatStorage", 1, 0, (1,), (1,))
                + _str("evil") + call + b"u.")
    return b"\x80\x02" + call + b"."


def test_evil_payloads_are_real(tmp_path):
    """pickle.loads really does run them, so the refusals below mean something."""
    for name in ["builtins.eval", "builtins.exec"]:
        marker = _payload_marker(tmp_path)
        pickle.loads(_evil_pickle(tmp_path, name, hidden=False))
        assert marker.exists()
        marker.unlink()


@pytest.mark.parametrize("hidden", [False, True], ids=["top", "hidden"])
@pytest.mark.parametrize("name", EVIL_NAMES)
def test_malicious_pickle_in_zip_is_refused(tmp_path, name, hidden):
    path = _write_archive(tmp_path / "evil.pth", _evil_pickle(tmp_path, name, hidden),
                          {"0": b"\0" * 4})
    with pytest.raises(WeightsFormatError) as info:
        load_torch(path)
    message = str(info.value)
    assert f"refusing to load global '{name}'" in message
    assert str(path) in message and "only state-dict tensors are allowed" in message
    assert not _payload_marker(tmp_path).exists()
    with pytest.raises(WeightsFormatError, match=name):
        load_weights(path)
    assert not _payload_marker(tmp_path).exists()


@pytest.mark.parametrize("name", EVIL_NAMES)
def test_malicious_raw_pickle_is_refused(tmp_path, name):
    path = tmp_path / "evil.pkl"
    path.write_bytes(_evil_pickle(tmp_path, name, hidden=False))
    with pytest.raises(WeightsFormatError, match=f"refusing to load global '{name}'"):
        load_torch(path)
    with pytest.raises(WeightsFormatError, match=name):
        load_weights(path)
    assert not _payload_marker(tmp_path).exists()


def test_harmless_raw_pickle_is_still_not_a_torch_file(tmp_path):
    path = tmp_path / "plain.pt"
    path.write_bytes(pickle.dumps({"a": 1.5, "b": [1, 2]}))
    with pytest.raises(WeightsFormatError, match=r"plain\.pt: a plain pickle, not a torch"):
        load_torch(path)


def test_build_cannot_modify_the_allowed_functions(tmp_path):
    """BUILD sets attributes on an object; on our stand-ins it must fail cleanly."""
    attack = (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n"
              b"N}" + _str("__defaults__") + b")s\x86b.")
    path = _write_archive(tmp_path / "build.pth", attack)
    with pytest.raises(WeightsFormatError, match=r"build\.pth.*AttributeError"):
        load_torch(path)
    good = _float_archive(tmp_path / "good.pth", [1, 2], 0, (2,), (1,))
    np.testing.assert_array_equal(load_torch(good)["w"], [1, 2])


# ----------------------------------------------------------------------------------------
# Damaged and foreign files
# ----------------------------------------------------------------------------------------
def test_truncated_file_names_the_file(tmp_path):
    full = _float_archive(tmp_path / "full.pth", np.arange(1000), 0, (1000,), (1,))
    path = tmp_path / "truncated.pth"
    path.write_bytes(full.read_bytes()[:2000])
    with pytest.raises(WeightsFormatError, match=r"truncated\.pth: truncated or corrupt zip"):
        load_torch(path)
    with pytest.raises(WeightsFormatError, match="truncated"):
        load_weights(path)


def test_corrupt_storage_bytes_are_detected(tmp_path):
    values = np.full(64, 1.2345678, dtype=np.float32)
    path = _float_archive(tmp_path / "corrupt.pth", values, 0, (64,), (1,))
    raw = bytearray(path.read_bytes())
    start = raw.index(values.tobytes())
    raw[start + 10] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(WeightsFormatError, match=r"corrupt\.pth: storage record .* is corrupt"):
        load_torch(path)


def test_not_a_torch_file(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("conv1.weight = 1\n")
    with pytest.raises(WeightsFormatError, match=r"notes\.pth: not a torch.save file"):
        load_torch(text)
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(WeightsFormatError, match="empty"):
        load_torch(empty)
    npz = tmp_path / "w.npz"
    np.savez(npz, a=np.zeros(2))
    with pytest.raises(WeightsFormatError, match="load_npz"):
        load_torch(npz)
    with pytest.raises(FileNotFoundError):
        load_torch(tmp_path / "nowhere.pth")


def test_weights_format_error_is_a_value_error():
    assert issubclass(WeightsFormatError, ValueError)


# ----------------------------------------------------------------------------------------
# Files written by torch itself
# ----------------------------------------------------------------------------------------
def _to_numpy(tensor):
    import torch

    tensor = tensor.detach()
    if tensor.dtype == torch.bfloat16:
        return tensor.float().numpy()
    return tensor.numpy()


def _assert_same(ours, theirs):
    """Our nested result equals torch.load's, array for array, dtype for dtype."""
    import torch

    if isinstance(theirs, torch.Tensor):
        expected = _to_numpy(theirs)
        assert isinstance(ours, np.ndarray)
        assert ours.dtype == expected.dtype and ours.shape == expected.shape
        np.testing.assert_array_equal(ours, expected)
    elif isinstance(theirs, dict):
        assert list(ours) == list(theirs)
        for key in theirs:
            _assert_same(ours[key], theirs[key])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _assert_same(a, b)
    else:
        assert ours == theirs


def test_torch_save_many_dtypes_and_views(tmp_path):
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=gen)
    big = torch.arange(100, dtype=torch.float64)
    sd = {
        "float32": torch.randn(3, 4, 5, generator=gen),
        "float64": torch.randn(7, generator=gen, dtype=torch.float64),
        "float16": torch.randn(2, 3, generator=gen).half(),
        "bfloat16": torch.randn(5, 3, generator=gen).bfloat16(),
        "num_batches_tracked": torch.tensor(7800, dtype=torch.long),
        "int64": torch.arange(-5, 5),
        "int32": torch.arange(6, dtype=torch.int32).reshape(2, 3),
        "int16": torch.tensor([-32768, 0, 32767], dtype=torch.int16),
        "int8": torch.tensor([-128, 5, 127], dtype=torch.int8),
        "uint8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "complex64": torch.tensor([1 + 2j, -3j]),
        "empty": torch.empty(0, 3),
        "base": base,
        "transposed": base.t(),  # shares base's storage, strides (1, 6)
        "sliced": base[1:, 2:5],  # offset 8, strides (6, 1)
        "stepped": base[::2, ::3],
        "expanded": torch.arange(3.0).expand(4, 3),  # stride 0
        "part_of_big": big[10:20],  # the whole 100-element storage is saved
        "bf16_view": torch.randn(4, 4, generator=gen).bfloat16().t()[1:],
    }
    path = tmp_path / "many.pth"
    torch.save(sd, path)
    ours = load_torch(path)
    _assert_same(ours, torch.load(path, weights_only=True))
    assert ours["bfloat16"].dtype == np.float32
    assert ours["num_batches_tracked"].shape == () and ours["num_batches_tracked"] == 7800
    np.testing.assert_array_equal(ours["transposed"], ours["base"].T)
    for array in ours.values():
        assert array.flags.c_contiguous and array.flags.writeable


def test_torch_bfloat16_special_values(tmp_path):
    torch = pytest.importorskip("torch")
    values = torch.tensor([0.0, -0.0, 1.0, -2.5, 0.1, 3.0e38, float("inf"), float("-inf"),
                           1e-40, float("nan")]).bfloat16()
    torch.save({"v": values}, tmp_path / "bf16.pt")
    ours = load_torch(tmp_path / "bf16.pt")["v"]
    expected = values.float().numpy()
    assert ours.tobytes() == expected.tobytes()  # bit for bit, nan and -0.0 included


def test_torch_new_dtypes_use_rebuild_tensor_v3(tmp_path):
    torch = pytest.importorskip("torch")
    values = torch.tensor([0, 1, 65535, 40000], dtype=torch.int32).to(torch.uint16)
    torch.save({"u16": values, "u16_view": values[1:3]}, tmp_path / "u16.pt")
    ours = load_torch(tmp_path / "u16.pt")
    assert ours["u16"].dtype == np.uint16
    np.testing.assert_array_equal(ours["u16"], [0, 1, 65535, 40000])
    np.testing.assert_array_equal(ours["u16_view"], [1, 65535])


def test_module_state_dict_with_metadata(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                                torch.nn.Linear(4, 2))
    torch.save(model.state_dict(), tmp_path / "model.pth")
    ours = load_torch(tmp_path / "model.pth")
    _assert_same(ours, model.state_dict())
    # torch attaches the modules' versions as an attribute; the unpickler keeps it
    assert ours._metadata["1"] == {"version": 2}


def test_parameters_and_nested_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "parameter": model.weight,  # a torch.nn.Parameter, pickled via _rebuild_parameter
        "epoch": 3,
        "best_accuracy": 0.8872,
        "arch": "resnet18",
        "classes": ("cat", "dog"),
        "note": None,
    }
    torch.save(checkpoint, tmp_path / "checkpoint.pth")
    ours = load_torch(tmp_path / "checkpoint.pth")
    _assert_same(ours, torch.load(tmp_path / "checkpoint.pth", weights_only=True))
    assert isinstance(ours["parameter"], np.ndarray)
    assert ours["optimizer"]["param_groups"][0]["lr"] == 1e-3


def test_legacy_torch_format_is_explained(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "old.pth"
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(WeightsFormatError, match=r"old\.pth.*legacy.*torch>=1\.6"):
        load_torch(path)


def test_torch_archive_with_a_record_removed_or_cut(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"a": torch.ones(5), "b": torch.zeros(3)}, tmp_path / "ok.pth")
    with zipfile.ZipFile(tmp_path / "ok.pth") as archive:
        prefix = archive.namelist()[0].split("/")[0]
    missing = _copy_archive(tmp_path / "ok.pth", tmp_path / "missing.pth",
                            drop={f"{prefix}/data/1"})
    with pytest.raises(WeightsFormatError, match=f"missing storage record '{prefix}/data/1'"):
        load_torch(missing)
    cut = _copy_archive(tmp_path / "ok.pth", tmp_path / "cut.pth",
                        replace={f"{prefix}/data/0": b"\0" * 8})
    with pytest.raises(WeightsFormatError, match=r"cut\.pth.*has 8 bytes.*needs 20"):
        load_torch(cut)


# ----------------------------------------------------------------------------------------
# The real torchvision checkpoint
# ----------------------------------------------------------------------------------------
@pytest.fixture
def resnet18_checkpoint():
    root = os.environ.get("MINITORCH_CV_DATA")
    if not root:
        pytest.skip("MINITORCH_CV_DATA is not set")
    path = Path(root) / "resnet18_cifar10" / "resnet18_cifar10.pth"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


def test_real_resnet18_checkpoint(resnet18_checkpoint):
    sd = load_torch(resnet18_checkpoint)
    assert len(sd) == 122
    assert list(sd)[:3] == ["conv1.weight", "bn1.weight", "bn1.bias"]
    assert sd["conv1.weight"].shape == (64, 3, 7, 7) and sd["conv1.weight"].dtype == np.float32
    assert sd["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
    assert sd["fc.weight"].shape == (10, 512) and sd["fc.bias"].shape == (10,)
    assert sd["bn1.num_batches_tracked"].dtype == np.int64
    assert sd["bn1.num_batches_tracked"].shape == ()
    parameters = sum(v.size for k, v in sd.items()
                     if "running_" not in k and "num_batches_tracked" not in k)
    assert parameters == 11_181_642
    assert load_weights(resnet18_checkpoint).keys() == sd.keys()


def test_real_resnet18_checkpoint_equals_torch_load(resnet18_checkpoint):
    torch = pytest.importorskip("torch")
    _assert_same(load_torch(resnet18_checkpoint),
                 torch.load(resnet18_checkpoint, weights_only=True))


def test_real_checkpoint_converts_to_safetensors_and_npz(resnet18_checkpoint, tmp_path):
    sd = load_torch(resnet18_checkpoint)
    for save, load, name in [(save_safetensors, load_safetensors, "r18.safetensors"),
                             (save_npz, load_npz, "r18.npz")]:
        save(tmp_path / name, sd)
        again = load_weights(tmp_path / name)
        assert list(again) == list(sd)
        for key in sd:
            assert again[key].dtype == sd[key].dtype
            np.testing.assert_array_equal(again[key], sd[key])


# ----------------------------------------------------------------------------------------
# safetensors
# ----------------------------------------------------------------------------------------
def _all_dtypes_dict():
    rng = np.random.default_rng(0)
    return {
        "f64": rng.standard_normal((2, 3)),
        "f32": rng.standard_normal((4, 1, 2)).astype(np.float32),
        "f16": rng.standard_normal(5).astype(np.float16),
        "i64": np.array(7800, dtype=np.int64),
        "i32": np.arange(-3, 3, dtype=np.int32),
        "i16": np.array([-32768, 32767], dtype=np.int16),
        "i8": np.array([-128, 127], dtype=np.int8),
        "u8": np.array([0, 255], dtype=np.uint8),
        "u16": np.array([65535], dtype=np.uint16),
        "bool": np.array([[True, False]]),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "transposed": np.arange(6, dtype=np.float32).reshape(2, 3).T,
        "big_endian": np.array([1.5, -2.0], dtype=">f4"),
        "layer1.0.conv1.weight": rng.standard_normal((2, 2, 3, 3)).astype(np.float32),
    }


def test_safetensors_round_trip(tmp_path):
    tensors = _all_dtypes_dict()
    path = tmp_path / "all.safetensors"
    save_safetensors(path, tensors, metadata={"format": "np", "note": "ünïcode"})
    loaded, metadata = load_safetensors(path, with_metadata=True)
    assert metadata == {"format": "np", "note": "ünïcode"}
    assert list(loaded) == list(tensors)
    for name, array in tensors.items():
        assert loaded[name].shape == array.shape
        assert loaded[name].dtype == array.dtype.newbyteorder("=")
        np.testing.assert_array_equal(loaded[name], array)
        assert loaded[name].flags.writeable
    assert load_safetensors(path).keys() == tensors.keys()
    assert [p.name for p in tmp_path.iterdir()] == ["all.safetensors"]  # no temp file left


def test_safetensors_file_layout_is_the_documented_one(tmp_path):
    tensors = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.array(3, np.int64)}
    path = tmp_path / "layout.safetensors"
    save_safetensors(path, tensors, metadata={"format": "pt"})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0  # the data starts 8-byte aligned
    header = json.loads(raw[8:8 + n])
    assert header == {
        "__metadata__": {"format": "pt"},
        "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "n": {"dtype": "I64", "shape": [], "data_offsets": [24, 32]},
    }
    data = raw[8 + n:]
    assert data == tensors["w"].astype("<f4").tobytes() + struct.pack("<q", 3)


def _handmade_safetensors(path, header, data, pad=True):
    header_bytes = json.dumps(header).encode()
    if pad:
        header_bytes += b" " * (-len(header_bytes) % 8)
    path.write_bytes(struct.pack("<Q", len(header_bytes)) + header_bytes + data)
    return path


def test_safetensors_reads_a_hand_built_file(tmp_path):
    bf16 = struct.pack("<4H", 0x3F80, 0xC020, 0x3DCD, 0x7F80)  # 1, -2.5, ~0.1, inf
    data = (struct.pack("<4f", 1, 2, 3, 4) + struct.pack("<q", -1) + bf16
            + bytes([1, 0, 1]) + struct.pack("<2e", 0.5, -1))
    header = {
        "__metadata__": {"source": "by hand"},
        "bf16": {"dtype": "BF16", "shape": [4], "data_offsets": [24, 32]},
        "weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "scalar": {"dtype": "I64", "shape": [], "data_offsets": [16, 24]},
        "mask": {"dtype": "BOOL", "shape": [3], "data_offsets": [32, 35]},
        "half": {"dtype": "F16", "shape": [2], "data_offsets": [35, 39]},
    }
    path = _handmade_safetensors(tmp_path / "hand.safetensors", header, data, pad=False)
    loaded, metadata = load_safetensors(path, with_metadata=True)
    assert metadata == {"source": "by hand"}
    assert list(loaded) == ["weight", "scalar", "bf16", "mask", "half"]  # data order
    np.testing.assert_array_equal(loaded["weight"], [[1, 2], [3, 4]])
    assert loaded["scalar"].shape == () and loaded["scalar"] == -1
    assert loaded["bf16"].dtype == np.float32
    np.testing.assert_array_equal(loaded["bf16"], [1.0, -2.5, 0.10009765625, np.inf])
    np.testing.assert_array_equal(loaded["mask"], [True, False, True])
    assert loaded["half"].dtype == np.float16
    np.testing.assert_array_equal(loaded["half"], [0.5, -1])
    assert load_weights(path).keys() == loaded.keys()


@pytest.mark.parametrize("header, data, message", [
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4,
     "outside the 4 data bytes"),
    ({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8,
     "needs 12 bytes"),
    ({"w": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}, b"\0",
     "unsupported dtype"),
    ({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4,
     "invalid shape"),
    ({"w": {"dtype": "F32", "shape": [1]}}, b"\0" * 4, "needs 'dtype'"),
    ({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
      "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}, b"\0" * 3, "overlaps"),
    ({"__metadata__": {"n": 1}}, b"", "strings to strings"),
])
def test_safetensors_invalid_headers(tmp_path, header, data, message):
    path = _handmade_safetensors(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(WeightsFormatError, match=message) as info:
        load_safetensors(path)
    assert "bad.safetensors" in str(info.value)


def test_safetensors_truncated_and_garbage(tmp_path):
    path = tmp_path / "ok.safetensors"
    save_safetensors(path, {"w": np.ones(100, np.float32)})
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(path.read_bytes()[:200])
    with pytest.raises(WeightsFormatError, match=r"cut\.safetensors.*truncated"):
        load_safetensors(cut)
    cut.write_bytes(path.read_bytes()[:20])
    with pytest.raises(WeightsFormatError, match=r"cut\.safetensors.*header length"):
        load_safetensors(cut)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(struct.pack("<Q", 4) + b"{{{{")
    with pytest.raises(WeightsFormatError, match="not valid JSON"):
        load_safetensors(garbage)


def test_safetensors_refuses_unsupported_input(tmp_path):
    with pytest.raises(TypeError, match="dtype object"):
        save_safetensors(tmp_path / "x.safetensors", {"w": np.array([{}], dtype=object)})
    with pytest.raises(TypeError, match="__metadata__"):
        save_safetensors(tmp_path / "x.safetensors", {"__metadata__": np.ones(1)})
    with pytest.raises(TypeError, match="metadata"):
        save_safetensors(tmp_path / "x.safetensors", {"w": np.ones(1)}, metadata={"n": 1})
    assert list(tmp_path.iterdir()) == []


def test_safetensors_bf16_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    values = torch.randn(50, generator=torch.Generator().manual_seed(1)).bfloat16()
    data = values.view(torch.int16).numpy().astype("<i2").tobytes()
    header = {"v": {"dtype": "BF16", "shape": [50], "data_offsets": [0, 100]}}
    path = _handmade_safetensors(tmp_path / "bf16.safetensors", header, data)
    np.testing.assert_array_equal(load_safetensors(path)["v"], values.float().numpy())


# ----------------------------------------------------------------------------------------
# .npz
# ----------------------------------------------------------------------------------------
def test_npz_round_trip(tmp_path):
    state = _all_dtypes_dict()
    state["file"] = np.ones(2)  # keys that np.savez(file, **state) could not take
    state["allow_pickle"] = np.zeros(1)
    path = tmp_path / "weights"  # no suffix: written exactly here, unlike np.savez
    save_npz(path, state)
    assert [p.name for p in tmp_path.iterdir()] == ["weights"]
    loaded = load_npz(path)
    assert list(loaded) == list(state)
    for name, array in state.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        np.testing.assert_array_equal(loaded[name], array)
    with np.load(path) as archive:  # plain NumPy reads it too
        np.testing.assert_array_equal(archive["layer1.0.conv1.weight"],
                                      state["layer1.0.conv1.weight"])


def test_npz_compressed_and_numpy_written(tmp_path):
    state = {"a": np.zeros((100, 100), np.float32), "b": np.arange(3)}
    save_npz(tmp_path / "small.npz", state, compress=True)
    save_npz(tmp_path / "plain.npz", state)
    assert (tmp_path / "small.npz").stat().st_size < (tmp_path / "plain.npz").stat().st_size
    np.testing.assert_array_equal(load_npz(tmp_path / "small.npz")["a"], state["a"])
    np.savez(tmp_path / "numpy.npz", **state)
    assert load_weights(tmp_path / "numpy.npz").keys() == state.keys()


def test_npz_refuses_objects_and_damage(tmp_path):
    with pytest.raises(TypeError, match="Python objects"):
        save_npz(tmp_path / "obj.npz", {"a": np.array([None, 1], dtype=object)})
    assert list(tmp_path.iterdir()) == []
    np.savez(tmp_path / "pickled.npz", a=np.array([None, 1], dtype=object))
    with pytest.raises(WeightsFormatError, match=r"pickled\.npz"):
        load_npz(tmp_path / "pickled.npz")
    save_npz(tmp_path / "ok.npz", {"a": np.arange(1000)})
    (tmp_path / "cut.npz").write_bytes((tmp_path / "ok.npz").read_bytes()[:500])
    with pytest.raises(WeightsFormatError, match=r"cut\.npz"):
        load_npz(tmp_path / "cut.npz")
    with pytest.raises(WeightsFormatError, match=r"cut\.npz"):
        load_weights(tmp_path / "cut.npz")


@pytest.mark.parametrize("save, name", [(save_npz, "w.npz"),
                                        (save_safetensors, "w.safetensors")])
def test_failed_save_leaves_old_file_and_no_temp(tmp_path, monkeypatch, save, name):
    path = tmp_path / name
    save(path, {"w": np.ones(3)})
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save(path, {"w": np.zeros(1000)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_saved_files_get_normal_permissions(tmp_path):
    save_npz(tmp_path / "w.npz", {"w": np.ones(1)})
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "w.npz").stat().st_mode & 0o777 == 0o666 & ~umask


# ----------------------------------------------------------------------------------------
# load_weights
# ----------------------------------------------------------------------------------------
def test_load_weights_detects_format_by_content(tmp_path):
    state = {"w": np.arange(4, dtype=np.float32)}
    save_safetensors(tmp_path / "a.weights", state)
    save_npz(tmp_path / "b.weights", state)
    _float_archive(tmp_path / "c.weights", state["w"], 0, (4,), (1,))
    for name in ["a.weights", "b.weights", "c.weights"]:
        np.testing.assert_array_equal(load_weights(tmp_path / name)["w"], state["w"])
    (tmp_path / "d.weights").write_text("hello")
    with pytest.raises(WeightsFormatError, match=r"d\.weights: unknown weights format"):
        load_weights(tmp_path / "d.weights")
