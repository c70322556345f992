"""Imports go down the house: no module of minitorch_cv imports from a layer above its own.

And every function fits on a screen: :data:`LONGEST_FUNCTION` lines at most, docstring
included, outside ``kernels/`` (whose compiled loops are written out in full on purpose).

The layers, from the bottom, are those of docs/contributing.md ("Map of the house"). Every
module is parsed with :mod:`ast` (nothing is imported), and every ``import`` statement that
names minitorch_cv -- at the top of the file or inside a function -- is checked: it may
name its own package or a package of a LOWER layer. The one documented exception is in
:data:`LAZY_UPWARD`: an import inside a function, named with the reason it exists.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "minitorch_cv"

#: From the bottom. A unit is a subpackage or a top-level module of minitorch_cv.
LAYERS = [
    {"checks", "_files", "_memory", "_module_state"},   # import nothing from the library
    {"kernels"},                   # compiled loops: arrays and ints in, no checks of names
    {"functional"},                # the math the nn layers run (fast path)
    {"reference"},                 # the textbook versions, same signatures, and use()
    {"_dispatch"},                 # picks functional or reference at each call
    {"nn"},                        # Module, Parameter, the layers
    {"optim", "gradcheck", "theory"},
    {"data", "io"},
    {"models"},
    {"viz"},
    {"train"},
    {"exercises"},
]

#: (from unit, to unit): why an import inside a function may go up there.
LAZY_UPWARD = {
    ("theory", "models"): "theory.worked_answers() and its command line print the "
                          "Task 2 network's summary; models uses theory's output sizes",
}

LAYER_OF = {unit: level for level, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    """``minitorch_cv.nn.conv`` -> ``nn``; the package itself is ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def is_unit(name: str) -> bool:
    """Whether ``minitorch_cv.<name>`` is a subpackage or a module (not a re-exported name)."""
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def root_layer():
    """The package itself counts as the highest layer it imports when it is imported
    (``minitorch_cv/__init__.py`` at the top level: nn, optim, ...)."""
    eager = {unit_of(target) for _, target, lazy in library_imports(PACKAGE / "__init__.py")
             if not lazy}
    return max(LAYER_OF[unit] for unit in eager - {""})


def module_name(path: Path):
    """The dotted name of a file, and the package its relative imports start from."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), ".".join(parts[:-1])
    return ".".join(parts), ".".join(parts[:-1])


def library_imports(path: Path):
    """``(line, imported module, inside a function)`` for each import of minitorch_cv."""
    _, package = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nested = {id(node) for function in ast.walk(tree)
              if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(function)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from .. import io`` imports the subpackage minitorch_cv.io; a name the
            # package re-exports (``from .. import tune_allocator``) imports the package
            targets = ([f"{module}.{alias.name}" if is_unit(alias.name) else module
                        for alias in node.names] if module == "minitorch_cv" else [module])
        else:
            continue
        for target in targets:
            if target == "minitorch_cv" or target.startswith("minitorch_cv."):
                yield node.lineno, target, id(node) in nested


FILES = sorted(PACKAGE.rglob("*.py"))


def test_every_unit_has_a_layer():
    units = {unit_of(module_name(path)[0]) for path in FILES} - {""}
    assert units - set(LAYER_OF) == set(), "place the new package in LAYERS (and the map)"
    assert set(LAYER_OF) - units == set(), "LAYERS names a package that does not exist"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_upward_import(path):
    module, _ = module_name(path)
    here = unit_of(module)
    if here == "":
        return          # minitorch_cv/__init__.py: the front door, it may load every package
    upward = []
    for line, target, lazy in library_imports(path):
        there = unit_of(target)
        if there == here:
            continue
        if (root_layer() if there == "" else LAYER_OF[there]) >= LAYER_OF[here]:
            if lazy and (here, there) in LAZY_UPWARD:
                continue
            upward.append(f"line {line}: {target} ({there or 'the package root'})")
    assert not upward, (f"{module} (layer of {here!r}) imports from its own layer or above: "
                        + "; ".join(upward))


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    """The test above would fail on nn importing train (top level or in a function)."""
    fake = tmp_path / "minitorch_cv" / "nn"
    for unit in ("nn", "train", "exercises"):
        (tmp_path / "minitorch_cv" / unit).mkdir(parents=True)
    (fake / "bad.py").write_text("from ..train import Trainer\n\n\n"
                                 "def f():\n    from .. import exercises\n")
    monkeypatch.setitem(globals(), "PACKAGE", tmp_path / "minitorch_cv")
    found = list(library_imports(fake / "bad.py"))
    assert found == [(1, "minitorch_cv.train", False), (5, "minitorch_cv.exercises", True)]
    with pytest.raises(AssertionError, match="imports from its own layer or above"):
        test_no_upward_import(fake / "bad.py")


#: The most lines a function (or method) of the library may take, from ``def`` to its last
#: line, docstring included; docs/contributing.md says why.
LONGEST_FUNCTION = 60


def long_functions(path):
    """(name, first line, lines) of every function in ``path`` longer than the limit."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            length = node.end_lineno - first + 1
            if length > LONGEST_FUNCTION:
                yield node.name, first, length


@pytest.mark.parametrize("path", [p for p in FILES if "kernels" not in p.parts],
                         ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_function_longer_than_a_screen(path):
    found = [f"{name} (line {line}: {length} lines)" for name, line, length in
             long_functions(path)]
    assert not found, (f"{path.name}: split into named steps, at most {LONGEST_FUNCTION} "
                       "lines each: " + "; ".join(found))


def test_the_length_check_sees_a_long_function(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(LONGEST_FUNCTION))
    (tmp_path / "long.py").write_text("def long():\n" + body + "\n\ndef short():\n    pass\n")
    assert list(long_functions(tmp_path / "long.py")) == [("long", 1, LONGEST_FUNCTION + 1)]
