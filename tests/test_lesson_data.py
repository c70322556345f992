"""What a lesson needs besides the library: the recorded full runs (package data) and the
data folder ``$MINITORCH_CV_DATA``, checked at once with one message."""

import json
import re

import pytest

from minitorch_cv.data import CIFAR10_URL, DATA_FILES, data_folder
from minitorch_cv.train import RECORDED_RUNS, recorded_run, reference_accuracies


@pytest.mark.parametrize("name", RECORDED_RUNS)
def test_every_recorded_run_ships_with_its_metrics(name):
    run = recorded_run(name)
    splits = ("val", "test") if "--no-train-eval" in run["command"] else ("train", "val", "test")
    for split in splits:
        assert 0.1 < run[split]["accuracy"] < 1.0
        assert run[split]["loss"] > 0
    assert run["command"].startswith("python examples/")
    assert run["epochs_run"] > 0 and run["steps"] > 0
    absolute = re.findall(r'(?:^|[\s"=])(/[\w.-]+/[\w./-]*)', json.dumps(run))
    assert not absolute, absolute                   # no path of the machine it ran on


def test_recorded_run_names_what_exists():
    with pytest.raises(ValueError, match=r"no recorded run named 'task5'; expected one of "
                                         r"task2, network1"):
        recorded_run("task5")


def test_reference_accuracies_cover_the_recorded_networks():
    references = reference_accuracies()
    assert set(references) == {"task2", "network1", "network2", "improved"}
    for name, ref in references.items():
        recorded_run(name)                           # each has a recorded run beside it
        assert len(ref["pytorch_test_accuracy"]) in (0, 3)
        assert 0.7 < ref["report_test_accuracy"] < 0.9


def test_data_folder_without_the_variable_says_how_to_get_everything(monkeypatch):
    monkeypatch.delenv("MINITORCH_CV_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as error:
        data_folder("cifar10", "resnet18_checkpoint", "resnet18_test_logits", "zebra")
    message = str(error.value)
    assert message.startswith("MINITORCH_CV_DATA is not set.")
    assert CIFAR10_URL in message
    for name in ("resnet18_checkpoint", "resnet18_test_logits", "zebra"):
        assert f"- {DATA_FILES[name][0]}: {DATA_FILES[name][1]}" in message
    assert "torch.save(model.state_dict(), path)" in message
    assert "examples/task4a.py" in message


def test_data_folder_lists_only_what_is_missing(monkeypatch, tmp_path):
    (tmp_path / "zebra.jpg").write_bytes(b"a photo")
    monkeypatch.setenv("MINITORCH_CV_DATA", str(tmp_path))
    assert data_folder("zebra") == tmp_path
    with pytest.raises(FileNotFoundError) as error:
        data_folder("zebra", "resnet18_checkpoint")
    lines = str(error.value).splitlines()
    assert lines[0] == f"MINITORCH_CV_DATA={tmp_path} lacks what is needed here:"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "  - resnet18_cifar10/resnet18_cifar10.pth"]


def test_data_folder_finds_cifar10_in_any_layout_load_cifar10_reads(monkeypatch, tmp_path):
    monkeypatch.setenv("MINITORCH_CV_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="CIFAR-10: the official archive"):
        data_folder("cifar10")
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    assert data_folder("cifar10") == tmp_path


def test_data_folder_refuses_an_unknown_name():
    with pytest.raises(ValueError, match="unknown data 'cifar100'; expected names from "
                                         "cifar10, resnet18_checkpoint"):
        data_folder("cifar100")
