"""Every lesson notebook the site offers for download runs on its own, in an empty folder.

A reader downloads ``NN_topic.ipynb`` from a lesson's page and opens it anywhere: no
repository around it, only the library installed (and ``$MINITORCH_CV_DATA`` for the lessons
that read CIFAR-10 or the ResNet18 checkpoint). Each test copies the notebook the site wrote
into an empty temporary folder and executes it there with nbclient, the folder as the
working directory and a fresh IPython folder (no configuration from the docs build), so a
lesson that reads a file of the repository fails here. The lessons that need the data are
skipped, saying so, when ``MINITORCH_CV_DATA`` is not set.
"""

import os
import re
import shutil
import time

import pytest

nbformat = pytest.importorskip("nbformat", reason="the docs extra is not installed")
nbclient = pytest.importorskip("nbclient", reason="the docs extra is not installed")

from test_site import LESSON_FILES, NEEDS_DATA, built_site

NOTEBOOK_TIME_LIMIT = 180          # seconds per cell, as the docs build allows
MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


@pytest.fixture(scope="module")
def site():
    return built_site()


def needs_data(lesson):
    return NEEDS_DATA.search(lesson.read_text(encoding="utf-8")) is not None


@pytest.mark.parametrize("lesson", LESSON_FILES, ids=lambda p: p.stem)
def test_downloaded_notebook_shows_its_images_anywhere(site, lesson):
    """A markdown image of the notebook is a web address or an attachment of the cell,
    never a path that exists only beside the page."""
    notebook = nbformat.read(site / "lessons" / f"{lesson.stem}.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for target in MARKDOWN_IMAGE.findall(cell.source):
            assert target.startswith(("attachment:", "http://", "https://")), (
                f"{lesson.stem}.ipynb shows {target}, which is not in the notebook")
            if target.startswith("attachment:"):
                assert target.split(":", 1)[1] in cell.get("attachments", {})


@pytest.mark.parametrize("lesson", LESSON_FILES, ids=lambda p: p.stem)
def test_downloaded_notebook_runs_in_an_empty_folder(site, lesson, tmp_path, monkeypatch):
    if needs_data(lesson) and not os.environ.get("MINITORCH_CV_DATA"):
        pytest.skip(f"{lesson.stem} reads CIFAR-10 or the ResNet18 checkpoint: "
                    "set MINITORCH_CV_DATA")
    folder = tmp_path / "anywhere"
    folder.mkdir()
    notebook_path = folder / f"{lesson.stem}.ipynb"
    shutil.copyfile(site / "lessons" / notebook_path.name, notebook_path)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))    # no build configuration
    notebook = nbformat.read(notebook_path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=NOTEBOOK_TIME_LIMIT,
                                     kernel_name="python3",
                                     resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{notebook_path.name} failed in an empty folder:\n{error}")
    print(f"{lesson.stem}.ipynb ran in an empty folder in {time.perf_counter() - start:.0f} s")
    left = sorted(p.name for p in folder.iterdir())
    assert left == [notebook_path.name], f"{notebook_path.name} left files behind: {left}"
