"""Hand in your own work: find where an exercise file uses the library's implementations.

:func:`library_uses` reads the student's file and the student's modules beside it that it
imports, without running them, for imports of the library or a deep-learning framework;
:func:`watch_settings` tells the student's process which calls into the library to refuse
while the grader runs it, which catches what no import statement shows (``importlib``).
NumPy, the student's own modules and :mod:`minitorch_cv.exercises.helpers` are allowed;
``check --allow-library`` allows the library (docs/exercises.md, "For teachers").
"""

import ast
import os
from pathlib import Path

__all__ = ["FORBIDDEN_PACKAGES", "ALLOWED_MODULES", "library_uses", "refusal_message",
           "watch_settings"]

#: Top-level packages a solution may not import (this library, and the frameworks that
#: have the layers built in).
FORBIDDEN_PACKAGES = ("minitorch_cv", "torch", "tensorflow", "jax", "keras")
#: Modules of this library a solution may use.
ALLOWED_MODULES = ("minitorch_cv.exercises.helpers",)

_PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: Library files whose functions a student's call may run: Module mechanics (a
#: ``param_count`` solution calls ``model.parameters()``) and the permitted helpers.
_ALLOWED_FILES = tuple(str(_PACKAGE_DIR / f) for f in (
    "nn/module.py", "nn/container.py", "exercises/helpers.py", "exercises/runner.py",
    "_module_state.py"))


def _imports(tree):
    """(line, module name, name to show) for every import of ``tree``, including
    ``importlib.import_module("...")`` and ``__import__("...")`` with a literal name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:                   # from minitorch_cv import reference
                yield node.lineno, f"{node.module}.{alias.name}", node.module
        elif isinstance(node, ast.Call) and node.args:
            func, name = node.func, getattr(node.args[0], "value", None)
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(name, str):
                yield node.lineno, name, name


def library_uses(path):
    """Where the exercise file ``path`` (and the student's modules beside it that it
    imports) imports a forbidden package: a list of ``"FILE line N: imports MODULE"``
    strings, empty for a file of the student's own work. A file that cannot be parsed is
    left to the grader, which reports the syntax error."""
    path = Path(path).resolve()
    found, seen, todo = [], set(), [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            tree = ast.parse(current.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError, OSError):
            continue
        reported = set()
        for line, module, shown in _imports(tree):
            top = module.split(".")[0]
            sibling = path.parent / f"{top}.py"
            if sibling.is_file() and sibling != current:
                todo.append(sibling)                      # the student's own module
                continue
            allowed = any(module == a or module.startswith(a + ".") for a in ALLOWED_MODULES)
            if top in FORBIDDEN_PACKAGES and not allowed and (line, top) not in reported:
                reported.add((line, top))
                found.append(f"{current.name} line {line}: imports {shown}")
    return found


def refusal_message(uses):
    """The report's line for a file that uses the library."""
    shown = "; ".join(uses[:3]) + ("; ..." if len(uses) > 3 else "")
    return (f"not graded: your solution uses the library's implementations or a framework "
            f"({shown}). Write the functions yourself with NumPy; only "
            f"{', '.join(ALLOWED_MODULES)} may be imported")


def watch_settings():
    """What the student's process (:mod:`~minitorch_cv.exercises.runner`, which imports
    no part of the library) watches for, as JSON: ``package``, the library's folder, whose
    functions a student's call may not run except those in the ``allowed`` files (Module
    mechanics and the permitted helpers), and the ``frameworks`` it may not import."""
    return {"package": str(_PACKAGE_DIR) + os.sep, "allowed": list(_ALLOWED_FILES),
            "frameworks": [p for p in FORBIDDEN_PACKAGES if p != "minitorch_cv"]}
