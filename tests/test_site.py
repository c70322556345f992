"""The built site: every lesson with its figures, notebook and download buttons, the pages,
the navigation in course order, the API reference.

The site is ``docs/_build/html``, built by
``python -m sphinx -W --keep-going -b html docs docs/_build/html``. When it is older than any
of its sources, the fixture below runs that command once per session (``-W``: a warning fails
it); in CI the tests run before ``.ci/run`` builds the docs, so this build is the site's, and
the lessons it renders come from the jupyter-cache ``tests/test_lessons.py`` filled.
"""

import os
import posixpath
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx", reason="the docs extra is not installed")
pytest.importorskip("myst_nb", reason="the docs extra is not installed")
nbformat = pytest.importorskip("nbformat", reason="the docs extra is not installed")
jupytext = pytest.importorskip("jupytext", reason="the docs extra is not installed")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SITE = DOCS / "_build" / "html"
EXECUTED = DOCS / "_build" / "jupyter_execute"         # myst-nb's executed notebooks
BUILD = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "docs",
         "docs/_build/html"]
LESSON_FILES = sorted((DOCS / "lessons").glob("[0-9]*.py"))
PAGES = sorted(DOCS.glob("*.md"))
sys.path.insert(0, str(DOCS / "_ext"))
import api_reference  # docs/_ext is no package

NEEDS_DATA = re.compile(r"MINITORCH_CV_DATA|load_cifar10|CIFAR10\(|resnet18_cifar10")


def sources():
    for folder in (DOCS, ROOT / "minitorch_cv"):
        for path in folder.rglob("*"):
            if path.is_file() and "_build" not in path.parts and "__pycache__" not in path.parts \
                    and path.suffix in (".md", ".py", ".png", ".json", ".rst", ".css"):
                yield path


def site_is_current():
    inventory = SITE / "objects.inv"
    if not inventory.exists():
        return False
    built = inventory.stat().st_mtime
    return all(path.stat().st_mtime <= built for path in sources())


def built_site():
    """The site, built first when it is older than its sources (skips without the data the
    lessons read). The other tests of the built site call this too."""
    if not site_is_current():
        if not os.environ.get("MINITORCH_CV_DATA") and any(
                NEEDS_DATA.search(path.read_text(encoding="utf-8")) for path in LESSON_FILES):
            pytest.skip("building the site executes the lessons, some read CIFAR-10: "
                        "set MINITORCH_CV_DATA")
        result = subprocess.run(BUILD, cwd=ROOT, capture_output=True, text=True, check=False)
        problems = [line for line in (result.stdout + result.stderr).splitlines()
                    if "WARNING" in line or "ERROR" in line or "Error" in line]
        assert result.returncode == 0, "the docs build failed:\n" + "\n".join(
            problems or (result.stdout + result.stderr).splitlines()[-40:])
    return SITE


@pytest.fixture(scope="session")
def site():
    return built_site()


def page_text(site, name):
    path = site / f"{name}.html"
    assert path.exists(), f"{path.relative_to(ROOT)} was not built"
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lesson", LESSON_FILES, ids=lambda p: p.stem)
def test_lesson_page_and_its_notebook(site, lesson):
    source = jupytext.read(lesson, fmt="py:percent")
    title = next(c.source for c in source.cells if c.cell_type == "markdown")
    title = title.splitlines()[0].lstrip("# ").strip()
    html = page_text(site, f"lessons/{lesson.stem}")
    assert title.split(":")[0] in html
    assert f'href="{lesson.stem}.ipynb"' in html
    notebook = nbformat.read(site / "lessons" / f"{lesson.stem}.ipynb", as_version=4)
    nbformat.validate(notebook)
    lesson_code = [c.source for c in source.cells if c.cell_type == "code"]
    assert [c.source for c in notebook.cells if c.cell_type == "code"][-len(lesson_code):] \
        == lesson_code


def figure_outputs(notebook):
    """(PNG figures, figures that showed as text only) among the notebook's outputs."""
    png = text_only = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                png += 1
            elif str(data.get("text/plain", "")).startswith("<Figure size"):
                text_only += 1
    return png, text_only


@pytest.mark.parametrize("lesson", LESSON_FILES, ids=lambda p: p.stem)
def test_lesson_figures_are_in_its_page(site, lesson):
    executed = nbformat.read(EXECUTED / "lessons" / f"{lesson.stem}.ipynb", as_version=4)
    png, text_only = figure_outputs(executed)
    assert text_only == 0, (f"{lesson.name}: {text_only} figure(s) shown as text "
                            "('<Figure size ...>') instead of an image")
    html = page_text(site, f"lessons/{lesson.stem}")
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', html)
    for src in images:
        assert (site / "lessons" / src).resolve().exists(), f"{lesson.stem}: {src} missing"
    assert len(images) >= png, f"{lesson.stem}: {png} PNG outputs, {len(images)} in the page"


def test_lesson1_shows_the_convolution_animation(site):
    lesson = DOCS / "lessons" / "01_convolution_by_hand.py"
    if not lesson.exists():
        pytest.skip("lesson 1 (01_convolution_by_hand.py) is not written yet")
    html = page_text(site, "lessons/01_convolution_by_hand")
    gifs = [src for src in re.findall(r'src="([^"]+\.gif)"', html)
            if (site / "lessons" / src).resolve().exists()]
    assert "data:image/gif;base64," in html or gifs, "no GIF animation in lesson 1's page"


def test_lesson_index_lists_every_lesson(site):
    html = page_text(site, "lessons/index")
    for lesson in LESSON_FILES:
        assert f'href="{lesson.stem}.html"' in html, f"{lesson.stem} is not in the lesson table"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_is_built_with_its_images(site, page):
    page_text(site, page.stem)
    for image in re.findall(r"!\[[^\]]*\]\(([^)\s]+\.(?:png|gif|svg|jpg))\)", page.read_text()):
        assert (site / "_images" / Path(image).name).exists(), f"{page.name}: {image} missing"


def test_api_reference_has_every_public_name(site):
    from sphinx.util.inventory import InventoryFile
    with open(site / "objects.inv", "rb") as stream:
        inventory = InventoryFile.load(stream, "", posixpath.join)
    documented = {name for kind, objects in inventory.items() if kind.startswith("py:")
                  for name in objects}
    missing = [f"{module}.{name}" for module in api_reference.public_modules()
               for name, _ in api_reference.public_names(module)
               if f"{module}.{name}" not in documented]
    assert not missing, f"not in the API reference: {missing}"
    assert (site / "api" / "index.html").exists()


def next_page(site, page):
    """The page the "next" link at the bottom of ``page`` leads to (site-relative), or None."""
    html = (site / page).read_text(encoding="utf-8")
    found = re.search(r'<a class="right-next"\s+href="([^"]+)"', html)
    if not found:
        return None
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), found.group(1)))


def test_next_links_follow_the_course(site):
    """Home, the lessons index, lessons 1-8 in order, then the exercises (never an
    alphabetical neighbour such as Contributing after lesson 8)."""
    order, page = [], "index.html"
    while page is not None and len(order) < 3 + len(LESSON_FILES):
        order.append(page)
        page = next_page(site, page)
    expected = (["index.html", "lessons/index.html"]
                + [f"lessons/{lesson.stem}.html" for lesson in LESSON_FILES] + ["exercises.html"])
    assert order == expected


def test_top_bar_shows_the_main_pages_and_no_empty_sidebar(site):
    html = (site / "index.html").read_text(encoding="utf-8")
    header = html[html.index('<ul class="bd-navbar-elements'):html.index("pst-nav-more-links")]
    in_bar = re.findall(r'class="nav-link nav-internal" href="([^"]+)"', header)
    assert in_bar == ["lessons/index.html", "exercises.html", "theory.html", "layers.html",
                      "api/index.html"]
    for page in PAGES:
        text = (site / f"{page.stem}.html").read_text(encoding="utf-8")
        assert "Section Navigation" not in text, f"{page.stem}: an empty section navigation"


def test_home_page_links_every_lesson(site):
    html = (site / "index.html").read_text(encoding="utf-8")
    article = html[html.index('<article class="bd-article">'):]
    for lesson in LESSON_FILES:
        assert f'href="lessons/{lesson.stem}.html"' in article, f"{lesson.stem} is not linked"


@pytest.mark.parametrize("lesson", LESSON_FILES, ids=lambda p: p.stem)
def test_lesson_has_download_buttons(site, lesson):
    html = page_text(site, f"lessons/{lesson.stem}")
    top = html[html.index("<h1"):][:3000]                # right under the title
    for suffix in (".ipynb", ".py"):
        assert re.search(rf'<a class="lesson-download" href="{lesson.stem}\{suffix}" download>',
                         top), f"{lesson.stem}: no {suffix} download button under the title"
        assert (site / "lessons" / f"{lesson.stem}{suffix}").is_file()
    assert (site / "lessons" / f"{lesson.stem}.py").read_bytes() == lesson.read_bytes()
