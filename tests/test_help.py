"""``--help`` tells the truth: every example's help lists every option with the default its
parser really uses (read from the parser object and a dry parse, never typed in here), and
its module docstring; task3d refuses what would make its figure wrong; ``python -m
minitorch_cv.theory`` answers ``--help`` and survives a reader that stops early."""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("task2", "task3", "task3d", "task4a", "task4b", "task4c")


@pytest.fixture(scope="module")
def examples():
    """The example scripts as modules (they import each other from examples/)."""
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        return {name: importlib.import_module(name) for name in EXAMPLES}
    finally:
        sys.path.remove(str(ROOT / "examples"))


def help_text(module, argv, capsys, monkeypatch):
    """What ``python examples/<module>.py <argv>`` prints for --help (through main)."""
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exit_info:
        module.main(argv)
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def option_entries(text):
    """{option string: its help text, whitespace collapsed} from the help's option lists."""
    entries, current = {}, None
    for line in text[text.index("\noptions:\n"):].splitlines():
        if re.match(r"  -", line):
            head, _, rest = line.strip().partition("  ")
            current = [rest]
            for flag in re.findall(r"--?[\w-]+", head):
                entries.setdefault(flag, current)
        elif current is not None and line.startswith("   "):
            current.append(line)
        else:
            current = None
    return {flag: " ".join(" ".join(parts).split()) for flag, parts in entries.items()}


def default_clause(entry):
    """The text inside ``(default: ...)`` (parentheses may nest inside it)."""
    start = entry.index("(default: ") + len("(default: ")
    depth = 1
    for i in range(start, len(entry)):
        depth += {"(": 1, ")": -1}.get(entry[i], 0)
        if depth == 0:
            return entry[start:i]
    raise AssertionError(f"unbalanced default in {entry!r}")


def shown(value):
    """A value as typed on the command line: lists space-separated, flags on/off."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return " ".join(map(str, value))
    return str(value)


def visible_options(parser):
    import argparse
    return [a for a in parser._actions
            if a.option_strings and a.help != argparse.SUPPRESS and a.dest != "help"]


def check_every_option(parser, args, text):
    """Every visible option of ``parser`` is in ``text`` with the value ``args`` (a dry
    parse) holds: exactly, or after "here: " when the default is explained in words.
    Options whose dry-parse value is None must explain their default in words."""
    entries = option_entries(text)
    for action in visible_options(parser):
        flag = action.option_strings[-1]
        assert flag in entries, f"{flag} missing from --help"
        clause = default_clause(entries[flag])
        value = getattr(args, action.dest)
        if value is None:
            assert clause and "None" not in clause, (flag, clause)
        else:
            assert clause == shown(value) or clause.endswith(f"here: {shown(value)}"), (
                flag, clause, value)
    return entries


def check_description(module, text):
    for line in module.__doc__.strip().splitlines():
        assert line in text, f"docstring line missing from --help: {line!r}"


@pytest.mark.parametrize("name", ["task2", "task4a", "task4b", "task4c", "task3d"])
def test_help_shows_every_option_with_its_real_default(name, examples, capsys, monkeypatch):
    module = examples[name]
    text = help_text(module, ["--help"], capsys, monkeypatch)
    parser = module.parser()
    check_description(module, text)
    entries = check_every_option(parser, parser.parse_args([]), text)
    if name in ("task2", "task4a"):      # the flags a student tunes first are all there
        for flag in ("--batch-size", "--epochs", "--optimizer", "--weight-decay", "--lr",
                     "--limit", "--eval-limit"):
            assert flag in entries


def test_task4a_help_has_the_recipe_of_the_seed(examples, capsys, monkeypatch):
    """The numbers a reader compares with the seed, as the parser holds them."""
    text = help_text(examples["task4a"], ["--help"], capsys, monkeypatch)
    args = examples["task4a"].parser().parse_args([])
    entries = option_entries(text)
    for flag, dest in (("--batch-size", "batch_size"), ("--optimizer", "optimizer"),
                       ("--lr", "lr"), ("--epochs", "epochs")):
        assert entries[flag].endswith(f"(default: {shown(getattr(args, dest))})")
    assert (args.batch_size, args.optimizer, args.lr) == (32, "adam", 5e-4)


@pytest.mark.parametrize("network", ["1", "2", "improved"])
def test_task3_help_lists_each_networks_recipe(network, examples, capsys, monkeypatch):
    """task3's help comes from the parser that parses (no first pass with other
    defaults): the same text whatever --network says, every option there, and the
    network-dependent defaults listed per network with the values a run really uses."""
    task3 = examples["task3"]
    text = help_text(task3, ["--network", network, "--help"], capsys, monkeypatch)
    assert text == help_text(task3, ["--help"], capsys, monkeypatch)
    check_description(task3, text)
    args = task3.parse_args(["--network", network])
    entries = check_every_option(task3.parser(), task3.parser().parse_args([]), text)
    for flag in ("--lr", "--dropout", "--augment", "--out"):
        value = getattr(args, flag.lstrip("-"))
        assert value is not None
        assert f"{network}: {shown(value)}" in default_clause(entries[flag]), (flag, value)
    for flag in ("--dropout", "--augment", "--batch-size", "--epochs", "--weight-decay"):
        assert flag in entries


def test_task3d_passes_network_1s_recipe_on(examples):
    """task3d's passed-on defaults are what task3 --network 1 uses, and only flags that
    differ from them are passed on."""
    task3, task3d = examples["task3"], examples["task3d"]
    args = task3d.parser().parse_args([])
    recipe = vars(task3.parse_args(["--network", "1"]))
    for action in task3d.passed_on_actions():
        assert getattr(args, action.dest) == recipe[action.dest], action.dest
    assert task3d.passed_on_argv(args) == []
    argv = ["--lr", "0.01", "--mean", "0.4", "0.5", "0.6", "--no-train-eval", "--limit", "9"]
    passed = task3d.passed_on_argv(task3d.parser().parse_args(argv))
    assert task3.parse_args(passed) == task3.parse_args(argv)


@pytest.mark.parametrize("flags, refused", [(["--network", "2"], "--network"),
                                            (["--augment", "none"], "--augment"),
                                            (["--limit", "64", "--net=improved"], "--network")])
def test_task3d_refuses_flags_that_make_its_figure_wrong(flags, refused, tmp_path):
    out = tmp_path / "task3d"
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "task3d.py"),
                             "--out", str(out), *flags], capture_output=True, text=True,
                            env=dict(os.environ, MPLBACKEND="Agg"), timeout=120,
                            check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {refused} is refused: "), result.stderr
    assert not out.exists()


def run_theory(*args, stdout=subprocess.PIPE):
    return subprocess.run([sys.executable, "-m", "minitorch_cv.theory", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=120, check=False,
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_theory_answers_help():
    result = run_theory("--help")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("usage: python -m minitorch_cv.theory")
    for task in ("1a", "1b", "1c", "1d", "1e", "1f", "1g", "summary()"):
        assert task in result.stdout


@pytest.mark.parametrize("args", [[], ["--help"]])
def test_theory_survives_a_reader_that_stops_early(args):
    """``python -m minitorch_cv.theory | head -3``: the reader is gone before the
    output is written (here: a pipe whose read end is closed before the program starts,
    which makes every write fail, as after head exits). No traceback; exit status 1 (as
    Python's documentation suggests), or 0 for --help, whose write errors argparse
    ignores."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = run_theory(*args, stdout=write_end)
    finally:
        os.close(write_end)
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, (
        result.stderr)
    assert result.returncode == (0 if args else 1)


def test_readme_examples_name_only_flags_that_exist(examples):
    """The README's Examples section and the parsers agree: a command line there uses
    only its example's flags, and every flag named in the prose exists somewhere."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Examples"):text.index("\n## ", text.index("## Examples") + 1)]
    flags_of = {name: set(module.parser()._option_string_actions)
                for name, module in examples.items()}
    for script, args in re.findall(r"python examples/(\w+)\.py([^#`\n]*)", section):
        assert set(re.findall(r"--[\w-]+", args)) <= flags_of[script], (script, args)
    named = set(re.findall(r"`(--[\w-]+)", section))
    assert named and named <= set().union(*flags_of.values()), named
