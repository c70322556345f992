"""The project speaks of the library and its users only.

Pages, docstrings, tests and comments name no issue numbers, no "stop N" milestones, no
workspace paths, no commit hashes and nothing about how the work was organised: a reader of
the site or the source should meet the library, not its development log. The history of
changes is CHANGELOG.md, written as a changelog (which this test reads too).

Each rule is a regular expression with a comment saying what it catches and what it must not
catch; a failure lists every ``file:line`` with the text that matched.
"""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
THIS_FILE = Path(__file__).resolve()
SCANNED = ("README.md", "CHANGELOG.md", "setup.cfg", "pyproject.toml", ".ci", "benchmarks",
           "docs", "examples", "minitorch_cv", "tests")
TEXT_SUFFIXES = {".py", ".md", ".txt", ".json", ".cfg", ".toml", ".ini", ".yml", ".yaml",
                 ".rst", ".sh", ".css", ".js", ".html", ""}
SKIPPED_DIRS = {"_build", "__pycache__", ".ipynb_checkpoints", ".pytest_cache"}

RULES = {
    # "issue 10", "issues 12-13", "Issue #5" (but not "an issue with" or "issued").
    "issue number": re.compile(r"\bissues? #?\d", re.IGNORECASE),
    # "#18" as a reference, but not a colour ("#1f77b4", "#336699") or "# 1" in a comment.
    "#N reference": re.compile(r"(?<![\w&#/])#\d{1,4}(?![\w])"),
    # a milestone: "stop 7", "stops 6-8"; "early stop 4" (the patience) is allowed.
    "stop N": re.compile(r"(?<!early )(?<!early-)\bstops? \d", re.IGNORECASE),
    # an absolute path of the machine the project was developed on.
    "workspace path": re.compile(r"/work/"),
    # people and their sessions: "helpers writing code", "a helper session", "the lead's".
    "how the work was organised": re.compile(
        r"\bhelpers? (writ|test|work|develop|session)\w*"
        r"|\b(helper|lead|developer|review|work(ing)?) sessions?\b"
        r"|\bfiled by a session\b|\bworktrees?\b|\bthe lead\b", re.IGNORECASE),
    # a commit hash in prose: 7-12 lowercase hex digits with a letter and a digit. Hashes
    # that name a file's content by design (torchvision's checkpoint names) are allowed below.
    "commit hash": re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,12}\b"),
}
# Content hashes that are part of a file name the library must use.
ALLOWED_HASHES = {"f37072fd"}


def tracked_text_files():
    """The text files of the repository under SCANNED (git's list when there is one)."""
    try:
        listed = subprocess.run(["git", "ls-files", "--", *SCANNED], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.splitlines()
        paths = [ROOT / name for name in listed]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for name in SCANNED for p in ([ROOT / name] if (ROOT / name).is_file()
                                                 else (ROOT / name).rglob("*"))]
    return sorted(p for p in paths
                  if p.is_file() and p.suffix in TEXT_SUFFIXES and p.resolve() != THIS_FILE
                  and not SKIPPED_DIRS & set(p.relative_to(ROOT).parts))


def hits(rule):
    found = []
    for path in tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue                                   # not text after all
        for number, line in enumerate(text.splitlines(), 1):
            for match in rule.finditer(line):
                if match.group(0) in ALLOWED_HASHES:
                    continue
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
                break
    return found


def test_some_files_are_scanned():
    names = {p.relative_to(ROOT).as_posix() for p in tracked_text_files()}
    assert {"README.md", "docs/results.md", "minitorch_cv/__init__.py"} <= names


@pytest.mark.parametrize("name", list(RULES))
def test_no_development_log_in_the_project(name):
    found = hits(RULES[name])
    assert not found, (f"{len(found)} line(s) with a {name} (say what the library does, "
                       f"not how it was made):\n" + "\n".join(found))


@pytest.mark.parametrize("text, name", [
    ("see issue 10", "issue number"), ("issues 12-13", "issue number"),
    ("fixed in #18", "#N reference"), ("the stop 7 table", "stop N"),
    ("/work/shared/data", "workspace path"), ("helpers writing and testing code",
                                              "how the work was organised"),
    ("on the code of commit 84c80c2", "commit hash")])
def test_each_rule_catches_its_example(text, name):
    assert RULES[name].search(text)


@pytest.mark.parametrize("text", [
    "early stop 4", "--early-stop-count 4", "an issue with the data", "Task 2",
    "color='#1f77b4'", "# 1. the first step", "scope=\"session\"", "start_new_session=True",
    "resnet18-f37072fd.pth", "a helper function", "x = 1234567", "# noqa: E501"])
def test_no_rule_catches_ordinary_text(text):
    for name, rule in RULES.items():
        match = rule.search(text)
        assert match is None or match.group(0) in ALLOWED_HASHES, (name, text)
