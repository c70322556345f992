"""``train``: the Task 2 network on the student's own layers.

The student files are the plain-NumPy stand-ins in benchmarks/students (textbook: im2col
by index arrays and np.add.at; offsets: im2col/col2im as a loop over the kernel offsets).
A network running them must compute what the library computes; the command grades the
files first, refuses failing ones, says which part is whose and trains like the examples.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minitorch_cv import models, nn, optim
from minitorch_cv.exercises.capstone import CAPSTONE_EXERCISES, network_exercises
from minitorch_cv.exercises.student_layers import (
    StudentCodeError,
    StudentFile,
    student_loss,
    student_optimizer,
    use_student_layers,
)

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = ROOT / "benchmarks" / "students"
DATA = os.environ.get("MINITORCH_CV_DATA")
LAYERS = ("conv2d", "maxpool2d", "avgpool2d", "relu", "linear", "batchnorm", "dropout")


def students(folder, names=LAYERS):
    return {name: StudentFile(name, folder) for name in names}


def cli(*args, cwd, env=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "minitorch_cv.exercises", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600, check=False)


def copy_students(folder, target, names):
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        (target / f"{name}.py").write_text((STUDENTS / folder / f"{name}.py").read_text())
    return target


def test_the_network_takes_every_layer_exercise_in_order():
    model = models.task2_model(rng=0)
    assert network_exercises(model, "sgd") == ["conv2d", "relu", "maxpool2d", "linear",
                                               "softmax_cross_entropy", "sgd_momentum"]
    assert network_exercises(model, "adam")[-1] == "adam"
    assert network_exercises(model, "adamw")[-1] == "softmax_cross_entropy"
    assert set(CAPSTONE_EXERCISES) == {*LAYERS, "softmax_cross_entropy", "sgd_momentum",
                                       "adam"}


def _net(rng):
    """Every layer type the swap knows: conv, batchnorm, relu, max and average pooling,
    dropout, linear."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, rng=rng), nn.BatchNorm2d(4), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout2d(0.3, rng=np.random.default_rng(5)),
        nn.Conv2d(4, 6, (3, 2), stride=2, rng=rng), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(6, 8, rng=rng), nn.BatchNorm1d(8),
        nn.Dropout(0.5, rng=np.random.default_rng(6)), nn.ReLU(), nn.Linear(8, 3, rng=rng))


def _step(model, x, y):
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(model(x), y)
    return loss, model.backward(loss_fn.backward())


@pytest.mark.parametrize("folder", ["textbook", "offsets"])
def test_student_layers_compute_what_the_library_computes(folder):
    names = LAYERS if folder == "textbook" else ("conv2d", "maxpool2d", "relu", "linear")
    ours, theirs = _net(np.random.default_rng(0)), _net(np.random.default_rng(0))
    counts = use_student_layers(ours, students(STUDENTS / folder, names))
    changed = {"textbook": {"Conv2d": (2, 0), "BatchNorm2d": (1, 0), "ReLU": (2, 0),
                            "MaxPool2d": (1, 0), "Dropout2d": (1, 0), "AvgPool2d": (1, 0),
                            "Linear": (2, 0), "BatchNorm1d": (1, 0), "Dropout": (1, 0)},
               "offsets": {"Conv2d": (2, 0), "BatchNorm2d": (0, 1), "ReLU": (2, 0),
                           "MaxPool2d": (1, 0), "Dropout2d": (0, 1), "AvgPool2d": (0, 1),
                           "Linear": (2, 0), "BatchNorm1d": (0, 1), "Dropout": (0, 1)}}
    assert counts == changed[folder]
    assert type(ours[0]).__name__ == "StudentConv2d" and isinstance(ours[0], nn.Conv2d)
    x = np.random.default_rng(1).standard_normal((5, 3, 12, 12)).astype(np.float32)
    y = np.array([0, 2, 1, 1, 0])
    (loss, dx), (loss_lib, dx_lib) = (_step(model, x, y) for model in (ours, theirs))
    assert loss == pytest.approx(loss_lib, rel=1e-5)
    np.testing.assert_allclose(dx, dx_lib, rtol=1e-4, atol=1e-6)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-4, atol=1e-6, err_msg=name)
    for (name, b), (_, c) in zip(ours.named_buffers(), theirs.named_buffers()):
        np.testing.assert_allclose(b, c, rtol=1e-5, atol=1e-7, err_msg=name)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-4, atol=1e-5)


def test_settings_the_exercise_cannot_express_keep_the_library_layer():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=(1, 2), rng=0),
                          nn.Conv2d(4, 4, 3, padding="same", rng=0),
                          nn.Conv2d(4, 4, 3, padding=1, rng=0))
    counts = use_student_layers(model, students(STUDENTS / "textbook", ("conv2d",)))
    assert counts == {"Conv2d": (1, 2)}
    assert [type(m).__name__ for m in model] == ["Conv2d", "Conv2d", "StudentConv2d"]


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_student_optimizers_step_as_the_library(kind):
    exercise = {"sgd": "sgd_momentum", "adam": "adam"}[kind]
    student = StudentFile(exercise, STUDENTS / "textbook")
    ours, theirs = models.task2_model(rng=0), models.task2_model(rng=0)
    settings = {"sgd": {"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-3},
                "adam": {"lr": 1e-3, "weight_decay": 1e-3}}[kind]
    opt_ours = student_optimizer(kind, student, ours.parameters(), **settings)
    library = {"sgd": optim.SGD, "adam": optim.Adam}[kind]
    opt_theirs = library(theirs.parameters(), **settings)
    rng = np.random.default_rng(0)
    for _step in range(3):
        for p, q in zip(ours.parameters(), theirs.parameters()):
            g = rng.standard_normal(p.data.shape).astype(np.float32)
            p.grad, q.grad = g.copy(), g.copy()
        opt_ours.step(), opt_theirs.step()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-6)
    state = opt_ours.state_dict()["state"]
    key = "momentum_buffer" if kind == "sgd" else "exp_avg_sq"
    assert all(key in s for s in state.values())


def test_student_loss_matches_the_library():
    loss = student_loss(StudentFile("softmax_cross_entropy", STUDENTS / "textbook"))
    logits = np.random.default_rng(0).standard_normal((6, 10)).astype(np.float32)
    labels = np.arange(6)
    library = nn.CrossEntropyLoss()
    assert loss(logits, labels) == pytest.approx(library(logits, labels), rel=1e-6)
    np.testing.assert_allclose(loss.backward(), library.backward(), rtol=1e-5, atol=1e-7)


def test_an_error_in_student_code_is_one_line_with_the_line_number(tmp_path):
    (tmp_path / "relu.py").write_text("import numpy as np\n\n\ndef relu_forward(x):\n"
                                      "    return np.maximum(x, 0), x\n\n\n"
                                      "def relu_backward(dout, cache):\n"
                                      "    return dout * (cache > 0)[:, 0]\n")
    model = nn.Sequential(nn.ReLU())
    use_student_layers(model, {"relu": StudentFile("relu", tmp_path)})
    x = np.ones((2, 3), np.float32)
    model(x)
    with pytest.raises(StudentCodeError) as err:
        model.backward(np.ones((2, 3), np.float32))
    text = str(err.value)
    assert "\n" not in text
    assert f"your relu_backward ({tmp_path / 'relu.py'}) raised ValueError" in text
    assert "(line 9)" in text and f"check relu --dir {tmp_path}" in text
    (tmp_path / "relu.py").write_text("import numpy as np\n\n\ndef relu_forward(x):\n"
                                      "    return np.maximum(x, 0)[:, :1], x\n")
    model = nn.Sequential(nn.ReLU())
    use_student_layers(model, {"relu": StudentFile("relu", tmp_path)})
    with pytest.raises(StudentCodeError, match=r"returned out of shape \(2, 1\), expected "
                                               r"\(2, 3\)"):
        model(x)
    (tmp_path / "relu.py").write_text("def relu_forward(x):\n    return x +\n")
    with pytest.raises(StudentCodeError, match="relu.py does not import: SyntaxError"):
        StudentFile("relu", tmp_path)


# ----------------------------------------------------------------- the command line
def test_a_failing_layer_is_refused_and_nothing_trains(tmp_path):
    work = copy_students("textbook", tmp_path / "work", ("relu", "linear"))
    (work / "conv2d.py").write_text(
        (STUDENTS / "textbook" / "conv2d.py").read_text().replace(
            "dx_pad[:, :, padding:padding + h", "dx_pad[:, :, 0:h"))
    result = cli("train", "--dir", "work", "--data", str(tmp_path / "no_data"),
                 "--out", "run", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    refused = [line for line in result.stderr.splitlines() if line.startswith("refused:")]
    assert len(refused) == 1, result.stderr
    assert refused[0].startswith("refused: work/conv2d.py passes ")
    assert "run `python -m minitorch_cv.exercises check conv2d --dir work`" in refused[0]
    from minitorch_cv.exercises.grader import build_plan
    checks = len(build_plan("relu").checks) + 2           # and "inputs unchanged", "prints"
    assert f"checked work/relu.py: {checks}/{checks} checks passed" in result.stdout
    assert "nothing was trained" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_usage_errors(tmp_path):
    (tmp_path / "work").mkdir()
    none = cli("train", "--dir", "work", cwd=tmp_path)
    assert none.returncode == 1 and "no exercise file of yours in work" in none.stderr
    unknown = cli("train", "conv_output_size", "--dir", "work", cwd=tmp_path)
    assert unknown.returncode == 2 and "not a layer, loss or optimizer exercise" in \
        unknown.stderr
    missing = cli("train", "conv2d", "--dir", "work", cwd=tmp_path)
    assert missing.returncode == 1 and "start conv2d --dir work" in missing.stderr
    bad = cli("train", "--dir", "work", "--epochs", "0", cwd=tmp_path)
    assert bad.returncode == 2 and "--epochs must be positive" in bad.stderr
    helped = cli("train", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "--resume" in helped.stdout and "NAME" in helped.stdout
    listed = cli("--help", cwd=tmp_path)
    assert "autograder" in listed.stdout and "train" in listed.stdout


def test_without_data_says_so_in_one_line(tmp_path):
    copy_students("textbook", tmp_path / "work", ("relu",))
    result = cli("train", "--dir", "work", "--data", str(tmp_path / "no_cifar"),
                 "--out", "run", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not DATA, reason="MINITORCH_CV_DATA not set")
def test_train_on_every_student_layer_writes_a_run_folder_and_resumes(tmp_path):
    copy_students("offsets", tmp_path / "work", ("conv2d", "maxpool2d", "relu", "linear",
                                                 "softmax_cross_entropy", "sgd_momentum"))
    copy_students("textbook", tmp_path / "work", ("batchnorm",))
    args = ("train", "--dir", "work", "--out", "run", "--limit", "192", "--eval-limit", "64",
            "--no-progress", "--no-train-eval")
    first = cli(*args, "--epochs", "1", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    table = first.stdout.split("part by part:\n")[1]
    for part, source in (("Conv2d x3", "work/conv2d.py"), ("ReLU x4", "work/relu.py"),
                         ("MaxPool2d x3", "work/maxpool2d.py"), ("Linear x2", "work/linear.py"),
                         ("loss: CrossEntropyLoss", "work/softmax_cross_entropy.py"),
                         ("optimizer: SGD", "work/sgd_momentum.py")):
        (line,) = [row for row in table.splitlines() if row.strip().startswith(part)]
        assert line.split()[-2:] == ["yours", source], line
    assert "Flatten x1" in table and "not an exercise" in table
    assert "note: work/batchnorm.py is not used: the network has no such layer" in first.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["name"] == "capstone" and metrics["steps"] == 3
    assert metrics["students"]["conv2d"] == "work/conv2d.py"
    assert 0 <= metrics["test"]["accuracy"] <= 1 and metrics["test"]["images"] == 64
    for name in ("history.json", "best.npz", "checkpoint.npz", "loss.png", "accuracy.png"):
        assert (tmp_path / "run" / name).is_file(), name
    again = cli(*args, "--epochs", "1", cwd=tmp_path)
    assert again.returncode == 2 and "--resume" in again.stderr     # the run is kept
    resumed = cli(*args, "--epochs", "2", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["steps"] == 6


@pytest.mark.skipif(not DATA, reason="MINITORCH_CV_DATA not set")
def test_named_exercises_only_and_a_student_error_while_training(tmp_path):
    work = copy_students("textbook", tmp_path / "work", ("relu", "linear"))
    args = ("--dir", "work", "--out", "run", "--limit", "128", "--eval-limit", "32",
            "--no-progress", "--no-train-eval", "--epochs", "1")
    only = cli("train", "relu", *args, cwd=tmp_path)
    assert only.returncode == 0, only.stdout + only.stderr
    assert "checked work/linear.py" not in only.stdout
    (line,) = [r for r in only.stdout.splitlines() if r.strip().startswith("Linear x2")]
    assert line.split(None, 3)[2:] == ["library's", "linear was not named on the command line"]
    copy_students("textbook", work, ("adam",))
    adam = cli("train", "relu", "adam", *args, "--overwrite", "--optimizer", "adam", "--lr",
               "1e-3", cwd=tmp_path)
    assert adam.returncode == 0, adam.stdout + adam.stderr
    (line,) = [r for r in adam.stdout.splitlines() if r.strip().startswith("optimizer:")]
    assert line.split()[1:] == ["Adam", "yours", "work/adam.py"]
    # passes the checks, fails on a batch of 64 (the checks use smaller batches)
    (work / "relu.py").write_text((work / "relu.py").read_text().replace(
        "    return dout * (cache > 0)",
        "    if len(dout) >= 64:\n        raise IndexError('big batch')\n"
        "    return dout * (cache > 0)"))
    failed = cli("train", "relu", *args, "--overwrite", cwd=tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stderr.strip() == (
        "error: your relu_backward (work/relu.py) raised IndexError: big batch (line 10); "
        "run `python -m minitorch_cv.exercises check relu --dir work`")
