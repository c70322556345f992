"""The property-based fuzz test (tests/fuzz_layers.py), run with numba's bounds checking on.

``NUMBA_BOUNDSCHECK`` must be set before numba is imported, and a kernel that writes outside
its arrays could take the process down with it: so the fuzz runs in a subprocess, with its
own numba cache directory (bounds-checked machine code must never land in, or come from, the
cache the library normally uses) and its own Hypothesis storage. A crash shows up here as a
nonzero (negative: killed by a signal) return code, with the subprocess's output.

Cost: most of the time goes to numba compiling the kernels afresh with bounds checks; the
examples themselves are quick.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("hypothesis")

FUZZ_FILE = Path(__file__).with_name("fuzz_layers.py")


def test_layers_survive_the_fuzz_with_bounds_checking(tmp_path):
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / "numba"),
               HYPOTHESIS_STORAGE_DIRECTORY=str(tmp_path / "hypothesis"),
               MINITORCH_CV_NUM_THREADS="2")
    env.pop("NUMBA_DISABLE_JIT", None)
    root = str(FUZZ_FILE.parent.parent)             # this copy of the library, from any cwd
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(FUZZ_FILE), "-q", "-p", "no:cacheprovider",
         "-W", "ignore::DeprecationWarning", "--rootdir", str(FUZZ_FILE.parent)],
        check=False, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    output = result.stdout[-6000:] + result.stderr[-3000:]
    assert result.returncode == 0, f"return code {result.returncode}:\n{output}"
    assert " passed" in result.stdout and "failed" not in result.stdout, output
