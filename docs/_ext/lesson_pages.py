"""The lessons in the site: downloads on each lesson page, and the lesson table.

A lesson is a jupytext percent file ``lessons/NN_topic.py``; myst-nb executes and renders it.
This extension adds, under each lesson's title, two download buttons: ``NN_topic.ipynb``, the
same lesson as a Jupyter notebook (written next to the page by jupytext when the HTML is
built, with the local images its text shows attached to their cells), and ``NN_topic.py``,
the lesson's source (copied next to the page). Both run in any folder where the library is
installed: what a lesson needs besides the library comes from the package or from
``$MINITORCH_CV_DATA``. It also provides the ``lesson-table`` directive of
``lessons/index.md``.

The lessons show a figure by making a :class:`matplotlib.figure.Figure` (built without pyplot,
as :mod:`minitorch_cv.viz` does) the last expression of a cell. IPython shows such a figure
as a PNG only once ``%matplotlib inline`` ran, so the kernels that execute the lessons (for
the site and for ``tests/test_lessons.py``) start with it: :func:`kernel_ipython_dir` makes an
IPython folder whose kernel configuration says so, used through ``IPYTHONDIR``; and the
notebook to download starts with a ``%matplotlib inline`` cell.
"""

import base64
import os
import re
import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx import addnodes
from sphinx.util import logging

INLINE_FIGURES = "%matplotlib inline"
KERNEL_CONFIG = """\
# Written by docs/_ext/lesson_pages.py: the kernels that execute the lessons.
c.InteractiveShellApp.matplotlib = "inline"    # a Figure as a cell's value shows as a PNG
c.Application.log_level = "ERROR"              # no start-up chatter in the build's log
"""
LESSON_FOLDER = "lessons"
MARKDOWN_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
IMAGE_TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg",
               ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
LESSON_PATTERN = "[0-9]*.py"

logger = logging.getLogger(__name__)


def kernel_ipython_dir(build_folder):
    """An IPython folder (for ``IPYTHONDIR``) whose kernels start with ``%matplotlib inline``."""
    profile = Path(build_folder) / "ipython" / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    config = profile / "ipython_kernel_config.py"
    if not config.exists() or config.read_text(encoding="utf-8") != KERNEL_CONFIG:
        config.write_text(KERNEL_CONFIG, encoding="utf-8")
    return profile.parent


def is_lesson(env, docname):
    """True for ``lessons/NN_topic``, read from a ``.py`` source."""
    return (docname.startswith(LESSON_FOLDER + "/")
            and Path(env.doc2path(docname)).suffix == ".py")


DOWNLOAD_BUTTONS = """\
<div class="lesson-downloads">
<a class="lesson-download" href="{stem}.ipynb" download>Download notebook (.ipynb)</a>
<a class="lesson-download" href="{stem}.py" download>Download .py</a>
</div>
"""


def add_download_buttons(app, doctree):
    """Put 'download notebook' and 'download .py' buttons under the lesson's title."""
    env = app.env
    if not is_lesson(env, env.docname):
        return
    stem = env.docname.split("/")[-1]
    buttons = nodes.raw("", DOWNLOAD_BUTTONS.format(stem=stem), format="html")
    how = nodes.paragraph(
        "", "", nodes.Text("Open the notebook in Jupyter, or run the file as a script: "),
        nodes.literal("", f"python {stem}.py"),
        nodes.Text(". Either runs in any folder where minitorch_cv is installed."))
    how["classes"].append("lesson-download-note")
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None or not section.children:
        doctree[0:0] = [buttons, how]
    else:
        section[1:1] = [buttons, how]          # after the title


def write_notebooks(app, exception):
    """Write every lesson as ``NN_topic.ipynb`` beside its HTML page, and copy its ``.py``."""
    if exception is not None or app.builder.format != "html":
        return
    import jupytext
    env = app.env
    for docname in sorted(env.found_docs):
        if not is_lesson(env, docname):
            continue
        source = Path(env.doc2path(docname))
        notebook = jupytext.read(os.fspath(source), fmt="py:percent")
        notebook.metadata.pop("jupytext", None)      # a plain notebook, not a paired one
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                attach_images(cell, source.parent)
        if not any(INLINE_FIGURES in cell.source for cell in notebook.cells):
            import nbformat
            notebook.cells.insert(0, nbformat.v4.new_code_cell(INLINE_FIGURES))
        target = Path(app.outdir) / f"{docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        jupytext.write(notebook, target, fmt="ipynb")
        shutil.copyfile(env.doc2path(docname), target.with_suffix(".py"))


def attach_images(cell, folder):
    """Put the local images a markdown cell shows (``![alt](path)``, e.g. a figure of
    ``docs/results/``) into the cell as attachments, so the notebook shows them anywhere."""
    def attach(match):
        alt, target = match.group(1), match.group(2)
        path = folder / target
        if "://" in target or not path.is_file() or path.suffix.lower() not in IMAGE_TYPES:
            return match.group(0)
        attachments = cell.setdefault("attachments", {})
        attachments[path.name] = {
            IMAGE_TYPES[path.suffix.lower()]: base64.b64encode(path.read_bytes()).decode()}
        return f"![{alt}](attachment:{path.name})"

    cell.source = MARKDOWN_IMAGE.sub(attach, cell.source)


class LessonTable(Directive):
    """The lessons in order, one line each: ``NN_topic | task | what it teaches``.

    A line whose lesson file exists links to the lesson (by its title); a lesson file without
    a line is a warning, so a new lesson cannot be left out of the index. The directive also
    makes the (hidden) table of contents of the lessons that exist, in this order, so the
    site's navigation has them and a branch without lessons yet still builds cleanly.
    """

    has_content = True

    def run(self):
        env = self.state.document.settings.env
        folder = Path(env.srcdir) / LESSON_FOLDER
        present = {path.stem for path in folder.glob(LESSON_PATTERN)}
        listed = []
        items = nodes.bullet_list()
        for line in self.content:
            if not line.strip():
                continue
            stem, task, description = (part.strip() for part in line.split("|", 2))
            listed.append(stem)
            if stem in present:
                name = addnodes.pending_xref(
                    "", nodes.inline("", stem), refdomain="std", reftype="doc",
                    reftarget=f"/{LESSON_FOLDER}/{stem}", refexplicit=False,
                    refdoc=env.docname)
            else:
                name = nodes.literal("", f"{stem}.py (not written yet)")
            text = nodes.paragraph("", "", nodes.strong("", "", name),
                                   nodes.Text(f" ({task}). {description}"))
            items += nodes.list_item("", text)
        for stem in sorted(present - set(listed)):
            logger.warning(f"lesson {stem}.py has no line in the lesson-table of "
                           f"{env.docname}", location=(env.docname, self.lineno))
        in_order = [stem for stem in listed if stem in present]
        in_order += sorted(present - set(listed))
        return [items, self.table_of_contents(env, in_order)]

    def table_of_contents(self, env, stems):
        """A hidden toctree of the lessons, as ``.. toctree:: :hidden:`` would make it."""
        docnames = [f"{LESSON_FOLDER}/{stem}" for stem in stems]
        toctree = addnodes.toctree()
        toctree["parent"] = env.docname
        toctree["entries"] = [(None, docname) for docname in docnames]
        toctree["includefiles"] = docnames
        options = {"maxdepth": -1, "caption": None, "glob": False, "hidden": True,
                   "includehidden": False, "numbered": 0, "titlesonly": False}
        for key, value in options.items():
            toctree[key] = value
        return nodes.compound("", toctree, classes=["toctree-wrapper"])


def setup(app):
    app.add_directive("lesson-table", LessonTable)
    app.connect("doctree-read", add_download_buttons)
    app.connect("build-finished", write_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
