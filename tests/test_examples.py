"""The example scripts: bad hyperparameters are refused up front; a quick real-data run
writes its metrics, history, weights and plots."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = os.environ.get("MINITORCH_CV_DATA")


def run_example(script, *args, timeout=600):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, str(ROOT / "examples" / script), *args],
                          capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)


@pytest.mark.parametrize("flags, message", [
    (["--batch-size", "0"], "--batch-size must be positive"),
    (["--lr", "-0.1"], "--lr must be positive"),
    (["--epochs", "0"], "--epochs must be positive"),
    (["--val-fraction", "1.5"], "--val-fraction"),
    (["--scheduler", "step", "--step-size", "0"], "--step-size must be >= 1"),
    (["--scheduler", "plateau", "--factor", "1.5"], "--factor must be in [0, 1)"),
])
def test_impossible_hyperparameters_refused_before_work(tmp_path, flags, message):
    result = run_example("task2.py", "--out", str(tmp_path / "run"), "--data",
                         str(tmp_path / "nowhere"), *flags)
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "run").exists()          # nothing was written


def test_task3_refuses_bad_dropout(tmp_path):
    result = run_example("task3.py", "--network", "2", "--dropout", "1.5", "--out",
                         str(tmp_path / "run"))
    assert result.returncode != 0 and "--dropout" in result.stderr


@pytest.mark.skipif(not DATA, reason="MINITORCH_CV_DATA not set")
def test_limit_larger_than_data_refused(tmp_path):
    result = run_example("task2.py", "--limit", "10000000", "--out", str(tmp_path / "run"))
    assert result.returncode != 0 and "larger than the training set" in result.stderr


@pytest.mark.skipif(not DATA, reason="MINITORCH_CV_DATA not set")
def test_task2_quick_run_writes_everything(tmp_path):
    out = tmp_path / "task2"
    result = run_example("task2.py", "--limit", "512", "--epochs", "1", "--no-progress",
                         "--no-train-eval", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    history = json.loads((out / "history.json").read_text())
    assert metrics["steps"] == 8 and history["val"]["step"] == [4, 8]
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
    # --limit 512 limits the evaluation too: 512 test images, 512 // 9 validation images
    assert (metrics["test"]["images"], metrics["val"]["images"]) == (512, 56)
    assert "train" not in metrics                           # --no-train-eval
    assert metrics["hyperparameters"]["lr"] == 0.05          # the seed's default
    for name in ("best.npz", "loss.png", "accuracy.png", "checkpoint.npz"):
        assert (out / name).stat().st_size > 0


@pytest.mark.skipif(not DATA, reason="MINITORCH_CV_DATA not set")
def test_task2_with_a_step_scheduler_records_the_lr(tmp_path):
    """--scheduler step halves the lr after each epoch; history.json holds the lr used
    before each validation (two per epoch), metrics.json the scheduler's settings."""
    out = tmp_path / "step"
    result = run_example("task2.py", "--limit", "100", "--batch-size", "50", "--epochs", "2",
                         "--scheduler", "step", "--step-size", "1", "--gamma", "0.5",
                         "--no-progress", "--no-train-eval", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    history = json.loads((out / "history.json").read_text())
    assert history["val"]["step"] == [1, 2, 3, 4]
    assert history["val"]["lr"] == [[0.05], [0.05], [0.025], [0.025]]
    hyper = json.loads((out / "metrics.json").read_text())["hyperparameters"]
    assert (hyper["scheduler"], hyper["step_size"], hyper["gamma"]) == ("step", 1, 0.5)


@pytest.mark.skipif(not DATA, reason="MINITORCH_CV_DATA not set")
def test_task3_network2_quick_run(tmp_path):
    out = tmp_path / "net2"
    result = run_example("task3.py", "--network", "2", "--limit", "256", "--epochs", "1",
                         "--no-progress", "--no-train-eval", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["hyperparameters"]["lr"] == 0.05
    assert metrics["hyperparameters"]["dropout"] == 0.1
    assert metrics["hyperparameters"]["augment"] == "crop+flip"


@pytest.mark.skipif(not DATA, reason="MINITORCH_CV_DATA not set")
def test_task3_improved_quick_run_uses_rotation(tmp_path):
    out = tmp_path / "improved"
    result = run_example("task3.py", "--network", "improved", "--limit", "128", "--epochs",
                         "1", "--no-progress", "--no-train-eval", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    hyper = json.loads((out / "metrics.json").read_text())["hyperparameters"]
    assert (hyper["lr"], hyper["dropout"], hyper["augment"]) == (0.035, 0.05, "rotate+flip")


@pytest.mark.skipif(not DATA, reason="MINITORCH_CV_DATA not set")
def test_task3d_trains_both_runs_then_reuses_finished_ones(tmp_path):
    out = tmp_path / "task3d"
    quick = ["--limit", "128", "--epochs", "1", "--no-progress", "--no-train-eval"]
    first = run_example("task3d.py", "--out", str(out), *quick)
    assert first.returncode == 0, first.stderr[-2000:]
    for folder, augment in (("with_augmentation", "crop+flip"), ("without_augmentation", "none")):
        hyper = json.loads((out / folder / "metrics.json").read_text())["hyperparameters"]
        assert (hyper["network"], hyper["augment"]) == ("1", augment)
    assert (out / "augmentation.png").stat().st_size > 0
    # the same settings again: nothing is retrained, the figure is redrawn
    stamp = (out / "without_augmentation" / "metrics.json").stat().st_mtime_ns
    again = run_example("task3d.py", "--out", str(out), *quick)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("using the finished run") == 2
    assert (out / "without_augmentation" / "metrics.json").stat().st_mtime_ns == stamp
    # other settings (here the learning rate) would be trained again
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import task3d
    finally:
        sys.path.remove(str(ROOT / "examples"))
    folder = out / "without_augmentation"
    argv = ["--network", "1", "--augment", "none", "--out", str(folder), *quick]
    assert task3d.finished_with_same_settings(folder, argv)
    assert not task3d.finished_with_same_settings(folder, [*argv, "--lr", "0.01"])
    assert not task3d.finished_with_same_settings(out / "nowhere", argv)


@pytest.mark.skipif(not DATA, reason="MINITORCH_CV_DATA not set")
def test_task4a_eval_limit_and_the_shared_checkpoints_warning(tmp_path):
    """--eval-limit caps every evaluated split (metrics.json says how many images each
    number is from), and a run on the shared checkpoint, which saw the validation images
    during its own training, says so on screen and in metrics.json."""
    weights = Path(DATA) / "resnet18_cifar10" / "resnet18_cifar10.pth"
    if not weights.exists():
        pytest.skip("no shared ResNet18 checkpoint in MINITORCH_CV_DATA")
    out = tmp_path / "task4a"
    result = run_example("task4a.py", "--limit", "64", "--batch-size", "32", "--epochs", "1",
                         "--eval-limit", "40", "--image-size", "32", "--no-progress",
                         "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    # train evaluation and test: 40 of the 64 training / 10,000 test images; validation:
    # 64 // 9 = 7 images, fewer than 40
    assert {split: metrics[split]["images"] for split in ("train", "val", "test")} == {
        "train": 40, "val": 7, "test": 40}
    assert "(40 images)" in result.stdout and "(7 images)" in result.stdout
    assert metrics["hyperparameters"]["weights"] == str(weights)
    [note] = metrics["notes"]
    assert "saw this run's validation images" in note and "test accuracy" in note
    assert result.stdout.count(f"warning: {note}") == 2      # before training and after
