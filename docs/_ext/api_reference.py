"""The API reference, generated at build time from the library's ``__all__`` lists.

Every public module is ``minitorch_cv`` or a module named in a public module's ``__all__``
(``minitorch_cv.nn``, ``minitorch_cv.nn.init``, ...). Each gets one page, ``api/<module>.rst``,
documenting every name of its ``__all__`` in that order with autodoc; ``api/index.rst`` lists
the pages. A name added to an ``__all__`` appears in the next build without editing the docs.
The pages are written under ``docs/api/`` (not tracked by git), and only when their text
changes, so an incremental build re-reads nothing that did not change.
"""

import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

ROOT_MODULE = "minitorch_cv"
API_FOLDER = "api"


def public_modules(root=ROOT_MODULE):
    """The public modules, depth first in ``__all__`` order, starting with ``root``."""
    found = []

    def visit(name):
        if name in found:
            return
        found.append(name)
        module = importlib.import_module(name)
        for attribute in getattr(module, "__all__", []):
            value = getattr(module, attribute)
            if isinstance(value, ModuleType) and value.__name__.startswith(root + "."):
                visit(value.__name__)

    visit(root)
    return found


def public_names(module_name):
    """``(name, kind)`` for each name in the module's ``__all__``; kind is an autodoc directive
    (``module``, ``class``, ``function`` or ``data``)."""
    module = importlib.import_module(module_name)
    names = []
    for attribute in getattr(module, "__all__", []):
        names.append((attribute, object_kind(getattr(module, attribute))))
    return names


def object_kind(value):
    if isinstance(value, ModuleType):
        return "module"
    if inspect.isclass(value):
        return "class"
    if callable(value):        # functions, and numba dispatchers of compiled kernels
        return "function"
    return "data"


def data_doc(module_name, name):
    """The documentation of a public constant: its ``#:`` comment (or the string after it).

    A constant has no docstring of its own (``EXERCISES.__doc__`` is ``dict``'s), so it is
    documented where it is assigned: in the public module, or in the submodule it is
    imported from. Returns the lines, empty when there is none.
    """
    from sphinx.pycode import ModuleAnalyzer
    module = importlib.import_module(module_name)
    value = getattr(module, name)
    candidates = [module_name]
    if hasattr(module, "__path__"):
        candidates += [info.name for info in pkgutil.walk_packages(module.__path__,
                                                                   module_name + ".")]
    for candidate in candidates:
        try:
            sub = importlib.import_module(candidate)
        except ImportError:
            continue
        if getattr(sub, name, None) is not value:
            continue
        docs = ModuleAnalyzer.for_module(candidate).find_attr_docs()
        lines = docs.get(("", name))
        if lines and any(line.strip() for line in lines):
            return list(lines)
    return []


def public_docstring(module_name, name):
    """The text a reader sees for ``module_name.name``: docstring, or a constant's comment."""
    value = getattr(importlib.import_module(module_name), name)
    if object_kind(value) == "data":
        return "\n".join(data_doc(module_name, name)).strip()
    return (inspect.getdoc(value) or "").strip()


def _title(text, underline):
    return f"{text}\n{underline * len(text)}\n"


def module_page(module_name):
    """The reStructuredText of one module's page."""
    names = public_names(module_name)
    lines = [_title(f"``{module_name}``", "="),
             f".. automodule:: {module_name}", "   :no-members:", "",
             f".. currentmodule:: {module_name}", ""]
    submodules = [name for name, kind in names if kind == "module"]
    if submodules:
        lines += [".. rubric:: Modules", ""]
        lines += [f"- :doc:`{module_name}.{name}`" for name in submodules]
        lines.append("")
    others = [(name, kind) for name, kind in names if kind != "module"]
    if others:
        lines += [".. rubric:: Contents", ""]
        lines += [f"- :py:obj:`{name}`" for name, _ in others]
        lines.append("")
    for name, kind in others:
        if kind == "class":
            lines += [f".. autoclass:: {name}", "   :members:", ""]
        elif kind == "function":
            lines += [f".. autofunction:: {name}", ""]
        else:
            lines += [f".. py:data:: {name}", ""]
            lines += ["   " + line if line.strip() else "" for line in data_doc(module_name, name)]
            lines.append("")
    return "\n".join(lines)


def index_page(modules):
    lines = [_title("API reference", "="),
             "Every public name of ``minitorch_cv`` and its subpackages (their ``__all__``),",
             "from the numpydoc docstrings: parameters, the Shape of the arrays, and the",
             "gradient formulas of each Backward pass.", "",
             ".. toctree::", "   :maxdepth: 1", ""]
    lines += [f"   {name}" for name in modules]
    return "\n".join(lines) + "\n"


def _write_if_changed(path, text):
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def write_api_pages(app):
    folder = Path(app.srcdir) / API_FOLDER
    folder.mkdir(exist_ok=True)
    modules = public_modules()
    wanted = {f"{name}.rst" for name in modules} | {"index.rst"}
    for stale in folder.glob("*.rst"):            # a module that left every __all__
        if stale.name not in wanted:
            stale.unlink()
    _write_if_changed(folder / "index.rst", index_page(modules))
    for name in modules:
        _write_if_changed(folder / f"{name}.rst", module_page(name))


def setup(app):
    app.connect("builder-inited", write_api_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
