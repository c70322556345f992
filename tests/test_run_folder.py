"""Run folders: one live run per folder (run.lock), no silent overwrite, resume only with the
run's own settings, nothing left behind by a failed start."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from minitorch_cv.train.run_folder import (
    LOCK_NAME,
    RunFolder,
    RunFolderError,
    RunLock,
    settings_differences,
)

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {"lr": 0.1, "epochs": 2, "batch_size": 64, "out": "x", "no_progress": False}


def quiet(*args):
    pass


def test_an_occupied_folder_is_refused_without_resume_or_overwrite(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    refused = (r"already holds a run \(metrics.json\); add resume=True to continue it, "
               r"overwrite=True to replace it, or give another run folder")
    with pytest.raises(RunFolderError, match=refused), RunFolder(tmp_path, SETTINGS, log=quiet):
        pass
    assert not (tmp_path / LOCK_NAME).exists()                # the refusal left no lock
    with pytest.raises(RunFolderError, match="give one of them"):
        RunFolder(tmp_path, SETTINGS, resume=True, overwrite=True)


def test_overwrite_clears_the_old_run_only_when_the_run_starts(tmp_path):
    for name in ("metrics.json", "best.npz", "checkpoint.npz", "loss.png"):
        (tmp_path / name).write_text("old")
    (tmp_path / ".best.npz.123.tmp").write_text("half written")
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "sub").mkdir()
    messages = []
    with RunFolder(tmp_path, SETTINGS, overwrite=True, log=messages.append) as folder:
        assert (tmp_path / "metrics.json").exists()           # not yet: the start may fail
        assert (tmp_path / LOCK_NAME).exists()
        folder.start()
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([
            LOCK_NAME, "notes.txt", "settings.json", "sub"])
    assert "removed the previous run's" in messages[-1]
    # the run stopped before writing a result: its settings.json goes too, the rest stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "sub"]


def test_a_failed_start_leaves_no_folder_it_created(tmp_path):
    out = tmp_path / "a" / "b"
    with pytest.raises(RuntimeError), RunFolder(out, SETTINGS, log=quiet):
        assert out.is_dir()
        raise RuntimeError("bad data")
    assert not (tmp_path / "a").exists()
    (tmp_path / "kept").mkdir()                                 # an existing folder stays
    with pytest.raises(RuntimeError), RunFolder(tmp_path / "kept", SETTINGS, log=quiet):
        raise RuntimeError("bad data")
    assert (tmp_path / "kept").is_dir() and not any((tmp_path / "kept").iterdir())


def test_resume_refuses_other_settings_naming_each(tmp_path):
    with RunFolder(tmp_path, SETTINGS, log=quiet) as folder:
        folder.start()
        (tmp_path / "checkpoint.npz").write_text("a checkpoint")
    other = {**SETTINGS, "lr": 0.3, "batch_size": 32, "out": "elsewhere", "no_progress": True}
    with pytest.raises(RunFolderError) as info, RunFolder(tmp_path, other, resume=True,
                                                          log=quiet):
        pass
    assert "lr 0.1 -> 0.3; batch_size 64 -> 32." in str(info.value)
    assert "\n" not in str(info.value)
    # --epochs may grow (train on), not shrink; --out and --no-progress may differ
    with RunFolder(tmp_path, {**SETTINGS, "epochs": 5, "out": "y"}, resume=True, log=quiet):
        pass
    assert settings_differences(SETTINGS, {**SETTINGS, "epochs": 1}) == ["--epochs 2 -> 1"]
    assert settings_differences({"lr": 0.1}, {"lr": 0.1, "scheduler": "none"}) == []
    # --eval-limit sets the validation images that choose the best weights: compared
    assert settings_differences({**SETTINGS, "eval_limit": None},
                                {**SETTINGS, "eval_limit": 500}) == ["--eval-limit None -> 500"]


def test_resume_without_a_checkpoint_is_refused_when_results_exist(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"hyperparameters": SETTINGS}))
    with pytest.raises(RunFolderError, match="holds no checkpoint.npz"), \
            RunFolder(tmp_path, SETTINGS, resume=True, log=quiet):
        pass


HOLDER = """
import sys
from minitorch_cv.train.run_folder import RunLock
lock = RunLock(sys.argv[1], command="holder")
lock.acquire()
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_live_lock_refuses_a_second_run_and_a_stale_one_is_taken_over(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(RunFolderError, match=rf"in use by another run \(pid {holder.pid} "):
            RunLock(tmp_path).acquire()
        with pytest.raises(RunFolderError, match="in use by another run"), \
                RunFolder(tmp_path, SETTINGS, log=quiet):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)               # dies without removing its lock
        holder.wait()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == holder.pid
    messages = []
    with RunFolder(tmp_path, SETTINGS, log=messages.append):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert f"took over the lock of a run that ended without removing it (pid {holder.pid}" \
        in messages[0]
    assert not (tmp_path / LOCK_NAME).exists()


def test_the_lock_is_removed_after_an_error_and_can_be_taken_again(tmp_path):
    with pytest.raises(KeyboardInterrupt), RunFolder(tmp_path, SETTINGS, log=quiet):
        raise KeyboardInterrupt
    assert not (tmp_path / LOCK_NAME).exists()
    lock = RunLock(tmp_path)
    assert lock.acquire() is None
    lock.release()


def test_the_messages_name_the_options_as_the_caller_does(tmp_path):
    """The library speaks of its arguments; a command line passes its flags' names."""
    from minitorch_cv.train.experiment import CLI_NAMES
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(RunFolderError, match=r"add --resume to continue it, --overwrite to "
                                             r"replace it, or give another --out"), \
            RunFolder(tmp_path, SETTINGS, log=quiet, names=CLI_NAMES):
        pass
    (tmp_path / "checkpoint.npz").write_text("x")
    (tmp_path / "settings.json").write_text(json.dumps({"settings": SETTINGS}))
    changed = {**SETTINGS, "batch_size": 32}
    with pytest.raises(RunFolderError, match=r"resume=True: .* other settings: batch_size "
                                             r"64 -> 32\. .* overwrite=True or another run "
                                             r"folder"), \
            RunFolder(tmp_path, changed, resume=True, log=quiet):
        pass
    with pytest.raises(RunFolderError, match=r"--resume: .* --batch-size 64 -> 32"), \
            RunFolder(tmp_path, changed, resume=True, log=quiet, names=CLI_NAMES):
        pass
