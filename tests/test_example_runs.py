"""The examples' runs through their command line: an occupied --out is refused, a diverged
run says so truthfully and records why, errors are one line with exit status 2, Ctrl-C prints
the command that resumes, and a failed start leaves no folder behind."""

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = os.environ.get("MINITORCH_CV_DATA")
needs_data = pytest.mark.skipif(not DATA, reason="MINITORCH_CV_DATA not set")
QUICK = ["--no-progress", "--no-train-eval"]


def example(script, *args, env=None, timeout=600):
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT), **(env or {})}
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run([sys.executable, str(ROOT / "examples" / script), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)


def one_line_error(result, status=2):
    """The run ended with ``status`` and ``error: ...`` as its last line, no traceback."""
    assert result.returncode == status, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ")
    return last


def test_a_mistyped_data_path_fails_at_once_and_leaves_nothing(tmp_path):
    cache = tmp_path / "cache"
    env = {"MINITORCH_CV_CACHE": str(cache), "MINITORCH_CV_DATA": None}
    result = example("task2.py", "--data", tmp_path / "nope", "--out", tmp_path / "run",
                     env=env)
    assert one_line_error(result) == (
        f"error: no CIFAR-10 at {tmp_path / 'nope'}: it does not exist; give --data a folder "
        "holding cifar-10-batches-py/, cifar-10-python.tar.gz, train/<class>/ + "
        "test/<class>/ image folders, or a *cifar*.tar[.gz] archive, or the archive itself "
        "($MINITORCH_CV_DATA is not set)")
    assert not (tmp_path / "run").exists() and not cache.exists()      # never downloads
    # $MINITORCH_CV_DATA: the message says it is set and what it holds
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.txt").write_text("")
    result = example("task3d.py", "--out", tmp_path / "fig", "--limit", 64,
                     env={**env, "MINITORCH_CV_DATA": str(tmp_path / "x")})
    assert one_line_error(result).startswith(
        f"error: MINITORCH_CV_DATA={tmp_path / 'x'} holds no CIFAR-10 (it holds none of the "
        "layouts (found: a.txt));")
    assert not (tmp_path / "fig").exists() and not cache.exists()


@pytest.mark.parametrize("script", ["task4a.py", "task4b.py", "task4c.py"])
def test_bad_weights_are_one_line_and_leave_no_folder(tmp_path, script):
    weights = tmp_path / "weights.pth"
    weights.write_bytes(b"not a checkpoint")
    result = example(script, "--weights", weights, "--out", tmp_path / "run")
    assert str(weights) in one_line_error(result)
    assert not (tmp_path / "run").exists()


@needs_data
def test_task4a_refuses_a_folder_holding_a_run(tmp_path):
    (tmp_path / "best.npz").write_text("a run's weights")
    result = example("task4a.py", "--limit", 64, "--out", tmp_path)
    assert one_line_error(result) == (
        f"error: {tmp_path} already holds a run (best.npz); add --resume to continue it, "
        "--overwrite to replace it, or give another --out")


def test_task3d_refuses_a_subfolder_holding_another_run(tmp_path):
    folder = tmp_path / "fig" / "with_augmentation"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"hyperparameters": {"lr": 1.0}}))
    result = example("task3d.py", "--out", tmp_path / "fig", "--data", tmp_path / "nope")
    assert one_line_error(result) == (
        f"error: {folder} already holds a run (metrics.json); add --resume to continue it, "
        "--overwrite to replace it, or give another --out")
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.json"]     # untouched


@needs_data
def test_divergence_is_recorded_then_the_folder_is_refused(tmp_path):
    out = tmp_path / "run"
    result = example("task2.py", "--lr", 5, "--limit", 640, "--epochs", 1, *QUICK,
                     "--out", out)
    last = one_line_error(result, status=1)
    assert last.startswith("error: training diverged: non-finite loss at step ")
    assert "is kept" not in result.stdout and "no best weights" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    history = json.loads((out / "history.json").read_text())
    assert metrics["stop_reason"] == history["stop_reason"] == last[len("error: "):]
    assert metrics["stop_kind"] == "diverged" and metrics["stop_step"] == history["stop_step"]
    assert "test" not in metrics and metrics["best_val_loss"] is None   # nothing to evaluate
    assert not (out / "run.lock").exists()
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = example("task2.py", "--lr", 5, "--limit", 640, "--epochs", 1, *QUICK, "--out", out)
    assert "already holds a run" in one_line_error(again)
    other = example("task2.py", "--lr", 0.3, "--limit", 640, "--epochs", 1, *QUICK,
                    "--out", out, "--resume")
    assert "holds no checkpoint.npz to continue from" in one_line_error(other)  # diverged first
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


@needs_data
def test_validation_divergence_after_taking_over_a_stale_lock(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(gone.stdout)                                  # a process that has ended
    (out / "run.lock").write_text(json.dumps({"pid": pid, "host": "here", "started": "then"}))
    (out / "best.npz").write_text("an old run's weights")
    (out / "notes.txt").write_text("not a run file")
    result = example("task2.py", "--lr", 1e6, "--limit", 300, *QUICK, "--out", out,
                     "--overwrite")
    assert "--overwrite: removed the previous run's best.npz" in result.stdout
    assert (out / "notes.txt").read_text() == "not a run file"
    assert not (out / "best.npz").exists()          # the new run diverged before a best
    assert f"took over the lock of a run that ended without removing it (pid {pid} " \
        in result.stdout
    assert one_line_error(result, status=1).startswith(
        "error: training diverged: non-finite validation loss after step ")
    assert json.loads((out / "history.json").read_text())["stop_kind"] == "diverged"
    assert not (out / "run.lock").exists()


# python -c WITH_CTRL_C script.py args...: run script.py as `python script.py args...`, with
# SIGINT raising KeyboardInterrupt even when the test process inherited it ignored
WITH_CTRL_C = ("import runpy, signal, sys; "
               "signal.signal(signal.SIGINT, signal.default_int_handler); "
               "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


@needs_data
def test_ctrl_c_prints_the_resume_command_and_a_live_run_keeps_its_folder(tmp_path):
    out = tmp_path / "run"
    # far more epochs than can finish while the test below runs: the run is still
    # training when Ctrl-C arrives, on any machine
    args = ["--limit", 640, "--epochs", 100000, "--early-stop-count", 1000000,
            "--no-progress", "--out", out]
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    # Ctrl-C as in a terminal: a test run in the background (`nohup pytest &`, some CI
    # runners) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt
    # handler; the example runs with Python's own handler put back
    proc = subprocess.Popen([sys.executable, "-c", WITH_CTRL_C,
                             str(ROOT / "examples" / "task2.py"), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    watchdog = threading.Timer(600, proc.kill)
    watchdog.start()
    try:
        lines = []
        for line in proc.stdout:     # step 10's validation is logged: step 5's checkpoint
            lines.append(line)       # was written before step 6 began
            if line.startswith("step 10 "):
                break
        assert (out / "run.lock").exists() and (out / "checkpoint.npz").exists()
        # a second run into the same folder while this one trains: refused
        second = example("task2.py", *args, "--resume")
        assert f"is in use by another run (pid {proc.pid} " in one_line_error(second)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=600)
    finally:
        watchdog.cancel()
        proc.kill()
    output = "".join(lines) + rest
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert (f"resume with: python examples/task2.py --limit 640 --epochs 100000 "
            f"--early-stop-count 1000000 --no-progress --out {out} --resume") in output
    assert not (out / "run.lock").exists() and (out / "checkpoint.npz").exists()
    assert not (out / "metrics.json").exists()
    # resuming with another learning rate (or batch size) is refused, naming each
    other = example("task2.py", *args, "--resume", "--lr", 0.3, "--batch-size", 32)
    assert ("was started with other settings: --lr 0.05 -> 0.3; --batch-size 64 -> 32. "
            in one_line_error(other))
