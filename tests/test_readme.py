"""The README's Python snippets run as written, so the front door never drifts from the code.

The blocks run in order in one namespace (a later block may use an earlier one's imports),
as a reader pasting them into one session would.
"""

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_has_python_snippets():
    assert len(python_blocks(README.read_text())) >= 2


def test_readme_python_snippets_run(capsys):
    namespace = {"__name__": "readme"}
    for number, block in enumerate(python_blocks(README.read_text()), start=1):
        try:
            code = compile(block, f"README.md python block {number}", "exec")
            exec(code, namespace)  # noqa: S102 -- the README is ours; running it is the test
        except Exception as error:                          # name the block that broke
            raise AssertionError(f"README.md python block {number} fails: {error!r}") from error
    printed = capsys.readouterr().out
    assert "same logits: True" in printed
    assert "Total params:" in printed


# The pages of the site: every ```python block of README.md and docs/*.md runs, in order, in
# one namespace per file. A block written as a doctest (">>>" lines) runs as a doctest, its
# printed output compared. A block that cannot run on its own (it needs a trained run folder,
# a file, a variable the prose defines) is marked in the Markdown, right above its fence, by
# an HTML comment that readers do not see: <!-- not run: the reason -->.
DOCS = README.parent / "docs"
MARKDOWN_FILES = [README] + sorted(DOCS.glob("*.md"))
BLOCK = re.compile(r"(?:<!--\s*not run:\s*(?P<reason>.*?)\s*-->\s*\n)?```python\n(?P<code>.*?)```",
                   flags=re.DOTALL)


def marked_blocks(text):
    """``(line, code, reason)`` for every python block; reason is None for one that runs."""
    return [(text.count("\n", 0, match.start("code")), match.group("code"),
             match.group("reason")) for match in BLOCK.finditer(text)]


def run_block(code, namespace, where):
    import doctest
    if code.lstrip().startswith(">>>"):
        test = doctest.DocTestParser().get_doctest(code, namespace, where, where, 0)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS
                                       | doctest.NORMALIZE_WHITESPACE)
        report = []
        runner.run(test, out=report.append, clear_globs=False)
        assert runner.failures == 0, f"{where} fails:\n" + "".join(report)
    else:
        try:
            exec(compile(code, where, "exec"), namespace)  # noqa: S102 -- our own pages
        except Exception as error:
            raise AssertionError(f"{where} fails: {error!r}") from error


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=lambda path: path.name)
def test_markdown_python_blocks_run(path, capsys):
    namespace = {"__name__": path.stem}
    blocks = marked_blocks(path.read_text(encoding="utf-8"))
    if not os.environ.get("MINITORCH_CV_DATA") and any(
            "MINITORCH_CV_DATA" in code for _, code, reason in blocks if reason is None):
        pytest.skip(f"{path.name} reads $MINITORCH_CV_DATA, which is not set")
    for line, code, reason in blocks:
        if reason is None:
            run_block(code, namespace, f"{path.name} python block at line {line}")
    capsys.readouterr()


def test_blocks_not_run_say_why():
    not_run = [(path.name, line, reason) for path in MARKDOWN_FILES
               for line, _, reason in marked_blocks(path.read_text(encoding="utf-8"))
               if reason is not None]
    for name, line, reason in not_run:
        assert reason.strip(), f"{name}: the block at line {line} is marked not run, no reason"
    print("python blocks not run:", *(f"{n}:{line}: {r}" for n, line, r in not_run),
          sep="\n  ")
