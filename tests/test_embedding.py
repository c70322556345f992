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
