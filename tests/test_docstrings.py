"""The docstrings: every public name has one, and every ``>>>`` example in them runs.

Public names are those of every public ``__all__`` (``minitorch_cv`` and the modules its
``__all__`` lists, recursively) -- the names the API reference of the site documents, found
by the same code (``docs/_ext/api_reference.py``). The examples are collected from every
module of the package, private ones included, with :class:`doctest.DocTestFinder`; compiled
kernels (numba dispatchers, which the finder passes over) are searched through their Python
function. No example is skipped: one that needs a file gets it in its working directory.
"""

import doctest
import importlib
import inspect
import os
import pkgutil
import sys
from pathlib import Path

import numpy as np
import pytest

import minitorch_cv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
import api_reference

DATA = os.environ.get("MINITORCH_CV_DATA")
CHECKPOINT = "resnet18_cifar10/resnet18_cifar10.pth"
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def all_modules():
    names = [minitorch_cv.__name__]
    names += [info.name for info in pkgutil.walk_packages(minitorch_cv.__path__,
                                                           minitorch_cv.__name__ + ".")]
    return names


def public_names():
    return [(module, name) for module in api_reference.public_modules()
            for name, _ in api_reference.public_names(module)]


@pytest.mark.parametrize("module, name", public_names(), ids=lambda value: value)
def test_public_name_has_a_docstring(module, name):
    assert api_reference.public_docstring(module, name), (
        f"{module}.{name} has no docstring (a constant: a '#:' comment above it)")


def docstring_examples():
    """Every docstring holding a ``>>>`` example, over all modules of the package."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = {}
    for module_name in all_modules():
        module = importlib.import_module(module_name)
        tests = finder.find(module, module_name)
        for name, value in vars(module).items():       # compiled kernels: their Python function
            py_func = getattr(value, "py_func", None)
            if inspect.isfunction(py_func) and py_func.__module__ == module_name:
                tests += finder.find(py_func, f"{module_name}.{name}",
                                     globs=vars(module).copy())
        for test in tests:
            if test.examples:
                found[test.name] = test
    return [found[name] for name in sorted(found)]


EXAMPLES = docstring_examples()


def test_docstring_examples_are_found():
    assert len(EXAMPLES) >= 10          # theory, gradcheck, io, data, ... (none silently lost)


@pytest.fixture
def example_folder(tmp_path, monkeypatch):
    """A working directory with what the examples name: the ResNet18 checkpoint, and
    ``data``, the data folder ($MINITORCH_CV_DATA)."""
    work = tmp_path / "work"
    work.mkdir()
    if DATA:
        (work / "data").symlink_to(Path(DATA).resolve())
        checkpoint = Path(DATA) / CHECKPOINT
        if checkpoint.exists():
            (work / checkpoint.name).symlink_to(checkpoint.resolve())
    monkeypatch.chdir(work)
    return work


def needs_data(test):
    source = "".join(example.source for example in test.examples)
    return any(word in source for word in ("load_cifar10", "resnet18_cifar10"))


@pytest.mark.parametrize("test", EXAMPLES, ids=lambda test: test.name)
def test_docstring_example_runs(test, example_folder):
    if needs_data(test) and not DATA:
        pytest.skip(f"{test.name} reads CIFAR-10 or the ResNet18 checkpoint: "
                    f"set MINITORCH_CV_DATA")
    from minitorch_cv import nn
    globs = dict(test.globs)
    # Names the examples use as "your" objects: a model to save, images to batch.
    globs.setdefault("model", nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()))
    rng = np.random.default_rng(0)
    globs.setdefault("images", rng.integers(0, 256, (130, 3, 32, 32), dtype=np.uint8))
    globs.setdefault("labels", rng.integers(0, 10, 130))
    test = doctest.DocTest(test.examples, globs, test.name, test.filename, test.lineno,
                           test.docstring)
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    report = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    skipped = [e.source for e in test.examples if e.options.get(doctest.SKIP)]
    assert not skipped, f"{test.name}: examples marked +SKIP do not run: {skipped}"
