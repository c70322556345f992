"""Every lesson runs, once per CI run: the docs build and these tests share one execution.

A lesson is ``docs/lessons/NN_topic.py``, a jupytext percent file. Sphinx (myst-nb,
``nb_execution_mode = "cache"``) keeps each executed lesson in the jupyter-cache
``docs/_build/.jupyter_cache``, keyed by the hash of its code cells. The test below looks the
lesson up in that cache the same way: when the lesson's code did not change since it was
executed (by the docs build or by an earlier test run), it reads that execution; otherwise it
executes the lesson as a notebook -- in ``docs/lessons``, as the build does -- with a limit on
the whole lesson, and stores the result in the cache, where the docs build then finds it.
Whichever of the two runs first does the work. Each test prints how long its lesson took and
whether it ran now or was found in the cache.
"""

import math
import os
import re
import time
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="the docs extra is not installed")
nbclient = pytest.importorskip("nbclient", reason="the docs extra is not installed")
jupyter_cache = pytest.importorskip("jupyter_cache", reason="the docs extra is not installed")

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "docs" / "lessons"
CACHE = ROOT / "docs" / "_build" / ".jupyter_cache"       # docs/conf.py: nb_execution_cache_path
LESSON_TIME_LIMIT = 180                                    # seconds for a whole lesson
LESSON_FILES = sorted(LESSONS.glob("[0-9]*.py"))
# A lesson needs the data when its code names the variable or the data it reads.
NEEDS_DATA = re.compile(r"MINITORCH_CV_DATA|load_cifar10|CIFAR10\(|resnet18_cifar10")


class LessonTooSlow(Exception):
    pass


def read_lesson(path):
    """The lesson as a notebook, read exactly as docs/conf.py's nb_custom_formats reads it."""
    return jupytext.reads(path.read_text(encoding="utf-8"), fmt="py:percent")


def code_of(notebook):
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


def kernel_ipython_dir():
    """The IPython folder the docs build gives its kernels (``%matplotlib inline``)."""
    import sys
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        from lesson_pages import kernel_ipython_dir as make
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))
    return make(ROOT / "docs" / "_build")


def execute(notebook, cwd, limit):
    """Run every cell in a fresh kernel, in ``cwd``; raise if the cells take over ``limit`` s.

    nbclient's timeout is per cell; here each cell gets what is left of the lesson's budget.
    Returns the seconds the lesson took.
    """
    client = nbclient.NotebookClient(notebook, timeout=limit, allow_errors=False,
                                     record_timing=False,   # cell metadata is in the hash
                                     resources={"metadata": {"path": str(cwd)}})
    start = time.monotonic()
    with client.setup_kernel():
        info = client.wait_for_reply(client.kc.kernel_info())
        if info is not None and "language_info" in info["content"]:
            notebook.metadata["language_info"] = info["content"]["language_info"]
        for index, cell in enumerate(notebook.cells):
            left = limit - (time.monotonic() - start)
            if left <= 0:
                raise LessonTooSlow(f"stopped before cell {index}: over {limit} s")
            client.timeout = max(1, math.ceil(left))
            try:
                client.execute_cell(cell, index)
            except nbclient.exceptions.CellTimeoutError as error:
                raise LessonTooSlow(f"cell {index} ran past the lesson's {limit} s") from error
    return time.monotonic() - start


def cached_execution(cache, notebook):
    """``(record, executed notebook)`` for this code from the cache, or ``(None, None)``."""
    try:
        record = cache.match_cache_notebook(notebook)
    except KeyError:
        return None, None
    return record, cache.get_cache_bundle(record.pk).nb


@pytest.mark.parametrize("path", LESSON_FILES, ids=lambda p: p.stem)
def test_lesson_runs_within_its_time_limit(path, capsys, monkeypatch):
    from jupyter_cache.base import CacheBundleIn
    notebook = read_lesson(path)
    cache = jupyter_cache.get_cache(str(CACHE))
    record, _ = cached_execution(cache, notebook)
    if record is not None:
        seconds = record.data.get("execution_seconds")
        how = f"found in {CACHE.relative_to(ROOT)} (executed {record.created:%Y-%m-%d %H:%M})"
    else:
        if NEEDS_DATA.search(code_of(notebook)) and not os.environ.get("MINITORCH_CV_DATA"):
            pytest.skip(f"{path.name} reads CIFAR-10: set MINITORCH_CV_DATA to run it")
        monkeypatch.setenv("IPYTHONDIR", str(kernel_ipython_dir()))     # as the docs build
        failure = None
        try:
            seconds = execute(notebook, LESSONS, LESSON_TIME_LIMIT)
        except nbclient.exceptions.CellExecutionError as error:
            failure = f"{path.name}: a cell raised\n{error}"
        except LessonTooSlow as error:
            failure = f"{path.name}: {error}"
        if failure is not None:
            pytest.fail(failure, pytrace=False)
        cache.cache_notebook_bundle(
            CacheBundleIn(notebook, str(path), data={"execution_seconds": seconds}),
            check_validity=False, overwrite=True)
        how = "executed now, stored in the cache"
    with capsys.disabled():
        print(f"\n{path.name}: {seconds:.1f} s, {how}")
    assert seconds is not None and seconds <= LESSON_TIME_LIMIT, (
        f"{path.name} took {seconds} s; a lesson may take {LESSON_TIME_LIMIT} s")


@pytest.mark.parametrize("path", LESSON_FILES, ids=lambda p: p.stem)
def test_lesson_is_a_script_and_a_notebook(path):
    """``python NN_topic.py`` runs the same code (no second execution here: it is valid
    Python), and jupytext reads it as a notebook and writes it back cell for cell."""
    text = path.read_text(encoding="utf-8")
    compile(text, str(path), "exec")
    notebook = read_lesson(path)
    again = jupytext.reads(jupytext.writes(notebook, fmt="py:percent"), fmt="py:percent")
    assert [(c.cell_type, c.source) for c in again.cells] == \
           [(c.cell_type, c.source) for c in notebook.cells]
    first_text = next((c.source for c in notebook.cells if c.cell_type == "markdown"), "")
    assert first_text.startswith("# "), f"{path.name} must open with a '# Lesson N: ...' title"
    assert any(c.cell_type == "code" for c in notebook.cells)
