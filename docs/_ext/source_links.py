"""Links from a page to the library's source files, kept working in the site.

The Markdown pages link source files the way GitHub shows them, relative to the page
(``[reference/conv.py](../minitorch_cv/reference/conv.py)``). Outside the docs folder those
are no documents, so this extension rewrites each such link: a Python file becomes a link to
a highlighted copy of it (``_source/<path>.html``, written with the HTML), a folder that is a
public package becomes a link to its API page. A link to anything else in the repository is
left to MyST, which warns about it.
"""

import html
import os
from pathlib import Path

from docutils import nodes
from sphinx import addnodes

SOURCE_FOLDER = "_source"


def _target_path(app, docname, node):
    """The repository path a MyST link points to, or None when it stays inside the docs."""
    target = node.get("reftarget", "")
    if node.get("refdomain") == "doc":             # "x.py" was taken for a document name
        path = Path(target if os.path.isabs(target) else Path(app.srcdir) / target)
        path = path.with_suffix(".py")
    else:
        if "://" in target or target.startswith("#"):
            return None
        doc_folder = (Path(app.srcdir) / docname).parent
        path = (doc_folder / target)
    path = Path(os.path.normpath(path))
    root = Path(app.srcdir).parent
    if Path(app.srcdir) in path.parents or root not in path.parents or not path.exists():
        return None
    return path.relative_to(root)


def rewrite_source_links(app, doctree):
    docname = app.env.docname
    depth = docname.count("/")
    up = "../" * depth
    wanted = app.env.__dict__.setdefault("minitorch_source_files", set())
    for node in list(doctree.findall(addnodes.pending_xref)):
        if node.get("reftype") != "myst":
            continue
        path = _target_path(app, docname, node)
        if path is None:
            continue
        if path.suffix == ".py":
            uri = f"{up}{SOURCE_FOLDER}/{path.as_posix()}.html"
            wanted.add(path.as_posix())
        elif (Path(app.srcdir).parent / path / "__init__.py").exists():
            module = ".".join(path.parts)
            uri = f"{up}api/{module}.html"
        else:
            continue
        reference = nodes.reference("", "", *[child.deepcopy() for child in node.children],
                                    refuri=uri, internal=True)
        node.replace_self(reference)


def write_sources(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    root = Path(app.srcdir).parent
    for relative in sorted(getattr(app.env, "minitorch_source_files", ())):
        source = (root / relative).read_text(encoding="utf-8")
        body = highlight(source, PythonLexer(), HtmlFormatter(full=True, linenos="table",
                                                               title=html.escape(relative)))
        target = Path(app.outdir) / SOURCE_FOLDER / f"{relative}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")


def merge_source_files(app, env, docnames, other):
    env.__dict__.setdefault("minitorch_source_files", set()).update(
        getattr(other, "minitorch_source_files", set()))


def setup(app):
    app.connect("doctree-read", rewrite_source_links)
    app.connect("env-merge-info", merge_source_files)
    app.connect("build-finished", write_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
