"""A library trusted inside other people's programs: what importing and running it leaves
behind, and where it keeps working (a read-only install, after fork, from several threads).

Each test runs in a subprocess when it needs a fresh interpreter (what ``import`` does,
numba's cache, fork), with a timeout, so that a hang fails instead of blocking the suite.
"""

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_python(code, env=None, timeout=240, cwd=None):
    """Run ``code`` in a fresh interpreter; return its stdout (fail on a non-zero exit)."""
    full_env = dict(os.environ)
    full_env.setdefault("PYTHONPATH", str(ROOT))
    full_env.update(env or {})
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env, check=False,
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


# ----------------------------------------------------------------------------- numba cache
def test_a_read_only_install_without_a_cache_directory_imports_and_runs(tmp_path):
    """No writable ``__pycache__`` beside the kernels and no writable NUMBA_CACHE_DIR or
    user cache: numba cannot cache, and the library compiles without a cache, with ONE
    warning. (chmod does not stop root, so every cache directory is made impossible: a
    regular file sits where numba would create it.)"""
    install = tmp_path / "site"
    shutil.copytree(ROOT / "minitorch_cv", install / "minitorch_cv",
                    ignore=shutil.ignore_patterns("__pycache__"))
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("a file where numba wants a directory\n")
    for folder in [install, *(p for p in (install / "minitorch_cv").rglob("*") if p.is_dir()),
                   install / "minitorch_cv"]:
        (folder / "__pycache__").write_text("")
    for path in install.rglob("*"):                 # read-only too, for non-root runs
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    env = {"PYTHONPATH": str(install), "NUMBA_CACHE_DIR": str(blocker / "numba"),
           "XDG_CACHE_HOME": str(blocker / "cache"), "HOME": str(blocker / "home"),
           "PYTHONDONTWRITEBYTECODE": "1", "MINITORCH_CV_NUM_THREADS": "1",
           "INSTALL": str(install)}
    try:
        out = run_python("""
            import warnings
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                import numpy as np
                import minitorch_cv
                from minitorch_cv import functional as F
                from minitorch_cv.kernels import _jit
            import os
            assert minitorch_cv.__file__.startswith(os.environ["INSTALL"]), minitorch_cv.__file__
            cache_warnings = [w for w in caught
                              if issubclass(w.category, _jit.KernelCacheWarning)]
            assert len(cache_warnings) == 1, [str(w.message) for w in caught]
            assert "NUMBA_CACHE_DIR" in str(cache_warnings[0].message)
            rng = np.random.default_rng(0)
            x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
            w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
            out, _ = F.conv2d_forward(x, w, None, 1, 1)
            xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
            want = np.zeros_like(out)
            for i in range(3):
                for j in range(3):
                    want += np.einsum("fc,nchw->nfhw", w[:, :, i, j],
                                      xp[:, :, i:i + 6, j:j + 6])
            np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
            print("ok")
        """, env=env, cwd=tmp_path)
    finally:
        for path in install.rglob("*"):             # let pytest clean tmp_path up
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert out.strip() == "ok"


# ----------------------------------------------------------------------------- import
def test_import_changes_nothing_outside_the_library():
    """``import minitorch_cv`` (and every subpackage, and running a layer on two threads)
    writes no environment variable, leaves glibc's allocator settings alone -- a 256 MB
    block still comes from mmap (glibc's default threshold), which ``tune_allocator``
    would have changed -- and leaves BLAS's thread count as it was."""
    out = run_python("""
        import ctypes, os
        import numpy as np
        from threadpoolctl import threadpool_info
        environ_before = dict(os.environ)
        blas_before = {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()
                       if lib["user_api"] == "blas"}
        import minitorch_cv
        from minitorch_cv import (data, functional as F, gradcheck, io, kernels, models,
                                  nn, optim, theory, train, viz)
        x = np.random.default_rng(0).standard_normal((8, 3, 16, 16)).astype(np.float32)
        layer = nn.Conv2d(3, 4, 3, padding=1)
        layer.backward(np.ones_like(layer(x)))
        assert dict(os.environ) == environ_before, set(os.environ.items()) ^ set(
            environ_before.items())
        blas_after = {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()}
        assert {path: blas_after[path] for path in blas_before} == blas_before
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "mallinfo2"):             # not glibc >= 2.33: environ only
            print("ok")
            raise SystemExit

        class Mallinfo2(ctypes.Structure):
            _fields_ = [(name, ctypes.c_size_t) for name in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                "uordblks", "fordblks", "keepcost")]

        libc.mallinfo2.restype = Mallinfo2
        mmapped_before = libc.mallinfo2().hblkhd
        block = np.ones(256 << 20, dtype=np.uint8)
        assert libc.mallinfo2().hblkhd - mmapped_before >= 256 << 20, "mallopt was called"
        del block
        assert minitorch_cv.tune_allocator() is True      # the opt-in does change it
        block = np.ones(256 << 20, dtype=np.uint8)
        assert libc.mallinfo2().hblkhd - mmapped_before < 256 << 20
        print("ok")
    """, env={"MINITORCH_CV_NUM_THREADS": "2"})
    assert out.strip() == "ok"


# ----------------------------------------------------------------------------- fork
FORK_SCRIPT = """
import multiprocessing
import sys

import numpy as np

from minitorch_cv import functional as F
from minitorch_cv.kernels import parallel


def conv_step(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, 3, 16, 16)).astype(np.float32)   # 8 groups of one image
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    out, cache = F.conv2d_forward(x, w, np.zeros(4, np.float32), 1, 1)
    dx, dw, db = F.conv2d_backward(np.cos(out), cache)
    return out, dx, dw, parallel._pool is not None               # the pool did the work


if __name__ == "__main__":
    parent = [conv_step(seed) for seed in (1, 2)]                # threads now run here
    assert parallel._pool is not None
    context = multiprocessing.get_context(sys.argv[1])
    with context.Pool(2) as pool:
        children = pool.map_async(conv_step, (1, 2)).get(timeout=60)
    for want, got in zip(parent, children):
        assert got[3], "the child did not use its thread pool"
        for a, b in zip(want[:3], got[:3]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    print("ok")
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_children_of_a_process_that_ran_layers_run_their_own(tmp_path, method):
    """The parent runs Conv2d forward and backward on its pool of threads, then a
    multiprocessing pool (fork or spawn) runs them in its children: each child makes its
    own pool and finishes (after fork, the parent's worker threads do not exist)."""
    import multiprocessing
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method!r} start method here")
    script = tmp_path / "fork_children.py"
    script.write_text(FORK_SCRIPT)
    done = subprocess.run([sys.executable, str(script), method], cwd=tmp_path, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT),
                               "MINITORCH_CV_NUM_THREADS": "2"},
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


# ----------------------------------------------------------------------------- user threads
def _train_small_model(seed, steps=3, barrier=None):
    import numpy as np

    from minitorch_cv import nn, optim
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, rng=rng), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 8 * 8, 10, rng=rng))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x = rng.standard_normal((8, 3, 16, 16)).astype(np.float32)
    y = rng.integers(0, 10, 8)
    if barrier is not None:
        barrier.wait()
    for _ in range(steps):
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
    return [p.data.copy() for p in model.parameters()]


def test_two_user_threads_train_as_one_after_the_other_and_leave_blas_as_found(monkeypatch):
    """Two threads train two models at once: the same parameters, bit for bit, as trained
    one after the other (the same operations, the same threads), and BLAS's thread count
    afterwards is what it was (each call's save/restore used to interleave and leave the
    process at one BLAS thread)."""
    import threading

    import numpy as np
    from threadpoolctl import threadpool_info

    monkeypatch.setenv("MINITORCH_CV_NUM_THREADS", "2")

    def blas_threads(libraries=None):      # scipy's BLAS may load meanwhile (numba uses it)
        now = {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()
               if lib["user_api"] == "blas"}
        return {path: now[path] for path in (libraries or now)}

    before = blas_threads()
    sequential = [_train_small_model(seed) for seed in (1, 2)]
    assert blas_threads(before) == before
    for _ in range(3):                                       # a few interleavings
        results, errors = {}, []
        barrier = threading.Barrier(2)

        def train(seed, results=results, errors=errors, barrier=barrier):
            try:
                results[seed] = _train_small_model(seed, barrier=barrier)
            except Exception as error:                      # noqa: BLE001 -- re-raised below
                errors.append(error)

        threads = [threading.Thread(target=train, args=(seed,)) for seed in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        for want, seed in zip(sequential, (1, 2)):
            for a, b in zip(want, results[seed]):
                np.testing.assert_array_equal(a, b)
        assert blas_threads(before) == before


CTRL_C_DURING_KERNELS = """
import os, signal, sys, threading
import numpy as np
from minitorch_cv import functional as F

signal.signal(signal.SIGINT, signal.default_int_handler)   # as in a terminal
x = np.random.default_rng(0).standard_normal((64, 32, 32, 32), dtype=np.float32)
w = np.random.default_rng(1).standard_normal((8, 32, 3, 3), dtype=np.float32)
F.maxpool2d_forward(x, 2, 2, 0)
F.conv2d_forward(x[:4], w, None, 1, 1)                      # compiled before the clock starts
threading.Timer(float(sys.argv[1]), os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    while True:                                  # nearly all the time inside compiled kernels
        F.maxpool2d_forward(x, 2, 2, 0)
        F.conv2d_forward(x[:4], w, None, 1, 1)
except KeyboardInterrupt:
    print("KeyboardInterrupt")
except BaseException as err:
    print(type(err).__name__, repr(err.__cause__))
"""


def test_ctrl_c_during_a_compiled_kernel_is_a_keyboard_interrupt():
    """SIGINT while a kernel runs raises KeyboardInterrupt, not numba's "SystemError:
    CPUDispatcher(...) returned a result with an exception set" (9 runs in 12 gave that
    before the fix), so a training loop's Ctrl-C handling and a notebook's interrupt work."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for delay in (0.1, 0.2, 0.3, 0.45, 0.6, 0.75):
        result = subprocess.run([sys.executable, "-c", CTRL_C_DURING_KERNELS, str(delay)],
                                check=False, capture_output=True, text=True, timeout=300,
                                env=env)
        assert result.stdout.strip() == "KeyboardInterrupt", (delay, result.stdout,
                                                              result.stderr[-2000:])
