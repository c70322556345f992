"""The README's Python snippets run as written, so the front door never drifts from the code.

The blocks run in order in one namespace (a later block may use an earlier one's imports),
as a reader pasting them into one session would.
"""

import re
from pathlib import Path

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
