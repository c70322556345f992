"""Sphinx configuration of the minitorch_cv site.

Build (no warning allowed)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The lessons (``lessons/NN_topic.py``, jupytext percent format) are read as notebooks and
executed through a jupyter-cache in ``docs/_build/.jupyter_cache``: a lesson whose code did
not change since its last execution is not run again, and ``tests/test_lessons.py`` fills
and reads the same cache, so a CI run executes each lesson once. See ``contributing.md``.
"""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))        # document this checkout's minitorch_cv
sys.path.insert(0, str(DOCS / "_ext"))

project = "minitorch_cv"
author = "minitorch_cv contributors"
copyright = "minitorch_cv contributors (MIT licence)"

extensions = [
    "myst_nb",                   # Markdown pages (MyST) and the executed lessons
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",       # numpydoc-style docstrings, with our Shape/Backward sections
    "sphinx.ext.mathjax",        # math, rendered in the browser by MathJax...
    "sphinx-mathjax-offline",    # ...from a copy in _static/mathjax: no network needed
    "sphinx_copybutton",
    "api_reference",             # docs/_ext: API pages generated from every __all__
    "lesson_pages",              # docs/_ext: notebook download, the lesson table
    "source_links",              # docs/_ext: links from a page to the library's source files
    "exercise_list",             # docs/_ext: the exercise list, from the catalogue
]

# Sources: Markdown pages, and Python files that are jupytext percent notebooks (lessons).
source_suffix = {".md": "myst-nb", ".py": "myst-nb", ".rst": "restructuredtext"}
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
exclude_patterns = ["_build", "_ext", "conf.py", "**/__pycache__", "**.ipynb_checkpoints"]

# Execution: once per change of a lesson's code, shared with tests/test_lessons.py.
# The kernels show a Figure as PNG (%matplotlib inline at start): see docs/_ext/lesson_pages.py.
from lesson_pages import kernel_ipython_dir

os.environ["IPYTHONDIR"] = str(kernel_ipython_dir(DOCS / "_build"))
nb_execution_mode = "cache"
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 180             # seconds per cell; the test bounds the whole lesson
nb_execution_raise_on_error = True     # a cell that raises fails the build
nb_execution_show_tb = True
nb_merge_streams = True

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# Docstrings: numpydoc layout (Parameters, Returns, ...) plus the library's own sections.
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True              # "Attributes" as fields: autodoc lists members itself
napoleon_custom_sections = [("Shape", "notes_style"), ("Backward", "notes_style"),
                            ("Randomness", "notes_style")]
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False,
                           "show-inheritance": True}
autodoc_typehints = "description"
add_module_names = False

html_theme = "pydata_sphinx_theme"
html_title = "minitorch_cv"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    # The top bar: Lessons, Exercises, Theory, Layers, API reference; the rest under "More".
    "header_links_before_dropdown": 5,
}
# Pages outside the lessons and the API reference have no section to navigate: no left
# sidebar there, so the text gets the room (docs/index.md orders the site in its toctree).
html_sidebars = {path.stem: [] for path in DOCS.glob("*.md")}
html_static_path = ["_static"]
html_css_files = ["site.css"]     # wider lessons, math that scrolls, download buttons
