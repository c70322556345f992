"""Run folders (docs/runs.md): one run at a time (``run.lock``, an ``flock`` the kernel
drops however the process ends), no silent overwrite, and a resume only with the settings
of ``settings.json``, except :data:`MAY_DIFFER_ON_RESUME` (``epochs`` may grow).
"""

from __future__ import annotations

import datetime
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .._files import atomic_write_json

try:                                  # POSIX; elsewhere the lock falls back to pid checks
    import fcntl
except ImportError:                   # pragma: no cover - Windows
    fcntl = None

__all__ = ["LOCK_NAME", "MAY_DIFFER_ON_RESUME", "RUN_FILES", "SETTINGS_NAME", "RunFolder",
           "RunFolderError", "RunFolderNames", "RunLock", "cli_flag", "settings_differences"]

LOCK_NAME = "run.lock"
SETTINGS_NAME = "settings.json"
RUN_FILES = ("metrics.json", "history.json", "best.npz", "checkpoint.npz", "checkpoint.pkl",
             SETTINGS_NAME, "loss.png", "accuracy.png")
# what a run needs to be worth continuing (the plots and settings alone are not)
_RESULT_FILES = ("metrics.json", "history.json", "best.npz", "checkpoint.npz")

# where the run is, how it is shown, the data's path, the final evaluation (not eval_limit:
# it also sets the validation images that pick the best weights and stop early)
MAY_DIFFER_ON_RESUME = frozenset({"out", "resume", "overwrite", "no_progress", "data",
                                  "no_train_eval"})


class RunFolderError(ValueError):
    """The run folder is in use, holds another run, or the settings do not fit it."""


@dataclass(frozen=True)
class RunFolderNames:
    """How a run folder's messages name its options: the Python arguments by default, or a
    command line's, e.g. ``RunFolderNames("--resume", "--overwrite", "--out", cli_flag)``."""
    resume: str = "resume=True"
    overwrite: str = "overwrite=True"
    folder: str = "run folder"
    setting: Callable = str


def cli_flag(key):
    """The command-line flag of a setting: ``--batch-size`` for ``batch_size``."""
    return "--" + key.replace("_", "-")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _describe(holder):
    if not isinstance(holder, dict):
        return "a run whose lock file is unreadable"
    return (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, started "
            f"{holder.get('started', '?')}")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError, TypeError):
        pass
    return True


class RunLock:
    """``run.lock`` in ``folder``, held by one live process: ``acquire()`` refuses another's
    and describes a stale holder it took over (or None); ``release()`` removes the file."""

    def __init__(self, folder, command=None, names=RunFolderNames()):
        self.path = Path(folder) / LOCK_NAME
        self.command, self.names = command, names
        self._fd = None

    def _content(self):
        return json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "started": _now(), "command": self.command}).encode()

    def _read(self, text=None):
        try:
            return json.loads(self.path.read_text() if text is None else text)
        except (OSError, ValueError):
            return None

    def _refuse(self, holder):
        raise RunFolderError(
            f"{self.path.parent} is in use by another run ({_describe(holder)}); wait for "
            f"it to end or give another {self.names.folder} (a lock whose run has ended is "
            "taken over by itself)")

    def acquire(self):
        if fcntl is None:                              # pragma: no cover - Windows
            return self._acquire_by_pid()
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                self._refuse(self._read())
            try:             # the file may have been removed by its holder meanwhile
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = os.read(fd, 1 << 16)
            os.ftruncate(fd, 0)
            os.pwrite(fd, self._content(), 0)
            os.fsync(fd)
            self._fd = fd
            return _describe(self._read(previous)) if previous.strip() else None

    def _acquire_by_pid(self):                         # pragma: no cover - Windows
        stale = None
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self._read()
                if (isinstance(holder, dict) and holder.get("host") == socket.gethostname()
                        and not _pid_alive(holder.get("pid"))):
                    stale = _describe(holder)
                    self.path.unlink(missing_ok=True)
                    continue
                self._refuse(holder)
            os.write(fd, self._content())
            self._fd = fd
            return stale
        self._refuse(self._read())

    def release(self):
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)          # while still holding the lock
        finally:
            os.close(self._fd)
            self._fd = None


def settings_differences(old, new, name=cli_flag):
    """``["--lr 0.1 -> 0.3", ...]``: the settings of ``new`` that differ from ``old`` but may
    not on resume (settings one side lacks are not compared; ``epochs`` may grow)."""
    problems = []
    for key, value in new.items():
        if key in MAY_DIFFER_ON_RESUME or key not in old or old[key] == value:
            continue
        ints = isinstance(value, int) and isinstance(old[key], int)
        if not (key == "epochs" and ints and value > old[key]):      # epochs may grow
            problems.append(f"{name(key)} {old[key]} -> {value}")
    return problems


class RunFolder:
    """Claim a run folder for one run (a context manager): take its lock and refuse
    (:class:`RunFolderError`) another run's folder unless ``resume`` or ``overwrite``, and
    a resume with other ``settings``. :meth:`start`, once the run really starts, deletes an
    overwritten run's files and records ``settings.json``. On exit the lock is removed, and
    a folder this run created and left without results too.
    """

    def __init__(self, folder, settings, *, resume=False, overwrite=False, command=None,
                 log=print, names=RunFolderNames()):
        self.names = names
        if resume and overwrite:
            raise RunFolderError(f"{names.resume} continues the run in the {names.folder} "
                                 f"and {names.overwrite} replaces it: give one of them")
        self.path = Path(folder)
        self.settings, self.resume, self.overwrite = dict(settings), resume, overwrite
        self.command, self.log = command, log
        self.lock = RunLock(self.path, command, names)
        self._created = []                 # folders this run created, deepest first
        self.started = False

    def existing_run_files(self):
        return [name for name in RUN_FILES if (self.path / name).exists()]

    def recorded_settings(self):
        """The settings the run in this folder was started with (None if not recorded)."""
        try:
            recorded = json.loads((self.path / SETTINGS_NAME).read_text()).get("settings")
        except (OSError, ValueError, AttributeError):
            return None
        return recorded if isinstance(recorded, dict) else None

    def __enter__(self):
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(f"{self.names.folder} {self.path} is a file, not a folder")
        self._created = [p for p in (self.path, *self.path.parents) if not p.exists()]
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            stale = self.lock.acquire()
            if stale:
                self.log(f"{self.path / LOCK_NAME}: took over the lock of a run that ended "
                         f"without removing it ({stale})")
            self._check()
        except BaseException:
            self._leave()
            raise
        return self

    def _check(self):
        found = self.existing_run_files()
        if not found or self.overwrite:
            return
        n = self.names
        if not self.resume:
            raise RunFolderError(
                f"{self.path} already holds a run ({', '.join(found)}); add {n.resume} to "
                f"continue it, {n.overwrite} to replace it, or give another {n.folder}")
        if "checkpoint.npz" not in found and set(found) & set(_RESULT_FILES):
            raise RunFolderError(
                f"{n.resume}: {self.path} holds no checkpoint.npz to continue from (it "
                f"holds {', '.join(found)}); add {n.overwrite} instead to train it again")
        recorded = self.recorded_settings()
        if recorded is None:
            self.log(f"resume: {self.path} records no settings to compare with")
            return
        differences = settings_differences(recorded, self.settings, n.setting)
        if differences:
            raise RunFolderError(
                f"{n.resume}: the run in {self.path} was started with other settings: "
                f"{'; '.join(differences)}. Resume with its settings, or train a new run "
                f"with {n.overwrite} or another {n.folder}")

    def start(self):
        """The run really starts: clear an overwritten run's files, record the settings."""
        if self.overwrite:
            removed = self.existing_run_files()
            for name in RUN_FILES:
                (self.path / name).unlink(missing_ok=True)
                for tmp in self.path.glob(f".{name}.*.tmp"):   # a killed atomic write
                    tmp.unlink(missing_ok=True)
            if removed:
                self.log(f"{self.names.overwrite}: removed the previous run's "
                         f"{', '.join(removed)} from {self.path}")
        record = {"command": self.command, "settings": self.settings, "started": _now()}
        atomic_write_json(self.path / SETTINGS_NAME, record)
        self.started = True

    def _leave(self):
        self.lock.release()
        found = self.existing_run_files()
        if self.started and found == [SETTINGS_NAME]:     # stopped before any result
            (self.path / SETTINGS_NAME).unlink(missing_ok=True)
        for folder in self._created:                      # deepest first, only if empty
            try:
                folder.rmdir()
            except OSError:
                break

    def __exit__(self, *exc):
        self._leave()
