"""Gradescope: ``check --all --format gradescope`` writes a results.json that follows
Gradescope's "Autograder Specifications" (Output format), and ``autograder --out DIR``
writes a bundle whose run_autograder grades a submission end to end.

:func:`validate_results` is the specification written as checks: the top-level keys and
their types, each test's keys, and the allowed values of ``visibility``,
``stdout_visibility``, ``status`` and the ``*_format`` fields.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from numbers import Real
from pathlib import Path

import pytest

from minitorch_cv.exercises import gradescope
from minitorch_cv.exercises.grader import Check, Report

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = ROOT / "benchmarks" / "students" / "textbook"

VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
TOP = {"score": Real, "max_score": Real, "execution_time": Real, "output": str,
       "output_format": str, "test_output_format": str, "test_name_format": str,
       "visibility": str, "stdout_visibility": str, "extra_data": dict, "tests": list,
       "leaderboard": list}
TEST = {"score": Real, "max_score": Real, "status": str, "name": str, "name_format": str,
        "number": str, "output": str, "output_format": str, "tags": list,
        "visibility": str, "extra_data": dict}


def _check_fields(obj, fields, where):
    assert isinstance(obj, dict), f"{where} must be an object"
    unknown = set(obj) - set(fields)
    assert not unknown, f"{where}: keys not in the specification: {unknown}"
    for key, kind in fields.items():
        if key in obj:
            value = obj[key]
            assert isinstance(value, kind) and not isinstance(value, bool), \
                f"{where}.{key} must be {kind.__name__}, got {value!r}"
    for key in ("visibility", "stdout_visibility"):
        if key in obj:
            assert obj[key] in VISIBILITY, f"{where}.{key}: {obj[key]!r}"
    for key in ("output_format", "test_output_format", "name_format", "test_name_format"):
        if key in obj:
            assert obj[key] in FORMATS, f"{where}.{key}: {obj[key]!r}"


def validate_results(data):
    """Assert that ``data`` is a results.json Gradescope accepts."""
    _check_fields(data, TOP, "results")
    tests = data.get("tests", [])
    for i, test in enumerate(tests):
        _check_fields(test, TEST, f"tests[{i}]")
        if "status" in test:
            assert test["status"] in {"passed", "failed"}, test["status"]
        if "score" in test and "max_score" in test:
            assert 0 <= test["score"] <= test["max_score"]
    # "score" is optional at the top only when every test has one
    assert "score" in data or (tests and all("score" in t for t in tests)), \
        "a score is needed at the top or on every test"
    if "execution_time" in data:
        assert data["execution_time"] >= 0


def _report(name, passed, total, folder):
    (folder / f"{name}.py").write_text("")
    report = Report(name, str(folder / f"{name}.py"))
    report.checks = [Check(f"check {i}", i < passed, "message") for i in range(total)]
    return report


def test_the_validator_refuses_what_the_specification_does_not_allow():
    good = {"score": 1.0, "tests": [{"name": "a", "score": 1.0, "max_score": 2.0}]}
    validate_results(good)
    for bad in ({"tests": [{"name": "a"}]},                       # no score anywhere
                {"score": "1", "tests": []},
                {"score": 1.0, "visibility": "students"},
                {"score": 1.0, "tests": [{"status": "ok"}]},
                {"score": 1.0, "tests": [{"output_format": "rtf"}]},
                {"score": 1.0, "tests": [{"score": 3.0, "max_score": 2.0}]},
                {"score": 1.0, "grade": "A"}):
        with pytest.raises(AssertionError):
            validate_results(bad)


def test_results_score_each_exercise_by_its_checks(tmp_path):
    reports = [_report("relu", 6, 6, tmp_path), _report("conv2d", 3, 12, tmp_path)]
    data = gradescope.results(reports, points=10, visibility="after_published",
                              execution_time=3.4)
    validate_results(data)
    relu, conv = data["tests"]
    assert (relu["score"], relu["max_score"], relu["status"]) == (10.0, 10.0, "passed")
    assert (conv["score"], conv["max_score"], conv["status"]) == (2.5, 10.0, "failed")
    assert data["score"] == 12.5 and data["max_score"] == 20.0
    assert data["execution_time"] == 3 and relu["visibility"] == "after_published"
    assert relu["name"].startswith("relu: ReLU")
    assert "3/12 checks passed" in conv["output"]
    with pytest.raises(ValueError, match="visibility must be one of"):
        gradescope.results(reports, visibility="public")


def cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "minitorch_cv.exercises", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600, check=False)


def _submission(folder):
    """A correct relu, a linear that subtracts its bias, no maxpool2d."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(STUDENTS / "relu.py", folder / "relu.py")
    (folder / "linear.py").write_text((STUDENTS / "linear.py").read_text().replace(
        "out = out + b", "out = out - b"))
    return folder


def test_check_all_format_gradescope(tmp_path):
    _submission(tmp_path / "work")
    result = cli("check", "--all", "--dir", "work", "--format", "gradescope", "--out",
                 "out/results.json", "--expect", "relu", "linear", "maxpool2d", cwd=tmp_path)
    assert result.returncode == 1, result.stderr                  # not every exercise passed
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    validate_results(data)
    names = [t["name"].split(":")[0] for t in data["tests"]]
    assert names == ["relu", "linear", "maxpool2d"]
    relu, linear, maxpool = data["tests"]
    assert relu["score"] == 10.0 and relu["status"] == "passed"
    assert 0 <= linear["score"] < 10 and linear["status"] == "failed"
    assert "checks passed" in linear["output"] and "FAIL" in linear["output"]
    assert "work/" not in linear["output"]                  # the file's name, not the folder
    assert maxpool["score"] == 0 and "maxpool2d.py is not in your submission" in \
        maxpool["output"]
    assert data["max_score"] == 30.0
    printed = cli("check", "--all", "--dir", "work", "--format", "gradescope", cwd=tmp_path)
    validate_results(json.loads(printed.stdout))                  # without --out: printed
    single = cli("check", "relu", "--dir", "work", "--format", "gradescope", cwd=tmp_path)
    assert single.returncode == 2 and "use --all" in single.stderr
    wrong = cli("check", "--all", "--dir", "work", "--format", "gradescope", "--expect",
                "conv3d", cwd=tmp_path)
    assert wrong.returncode == 2 and "no exercise 'conv3d'" in wrong.stderr


def test_autograder_bundle_grades_a_submission_end_to_end(tmp_path):
    wheel = tmp_path / "minitorch_cv-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"a wheel")                  # setup.sh only names it; nothing installs
    made = cli("autograder", "--out", "bundle", "--package", str(wheel), "--expect", "relu",
               "linear", "--points", "5", "--visibility", "after_due_date", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    bundle = tmp_path / "bundle"
    with zipfile.ZipFile(bundle / "autograder.zip") as z:
        assert sorted(z.namelist()) == sorted(["setup.sh", "run_autograder", wheel.name])
        for name in ("setup.sh", "run_autograder"):
            assert (z.getinfo(name).external_attr >> 16) & 0o111      # executable
    setup = (bundle / "setup.sh").read_text()
    assert f"python3 -m pip install ./{wheel.name}" in setup
    # Gradescope's layout, in a temporary folder: the submission zipped inside a folder
    root = tmp_path / "autograder"
    _submission(root / "submission" / "handin")
    env = dict(os.environ, PYTHONPATH=str(ROOT), AUTOGRADER_ROOT=str(root),
               MINITORCH_CV_WORK=str(tmp_path / "grading"), MINITORCH_CV_PYTHON=sys.executable)
    run = subprocess.run([str(bundle / "run_autograder")], env=env, capture_output=True,
                         text=True, timeout=600, check=False, cwd=root)
    assert run.returncode == 0, run.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    validate_results(data)
    assert [t["max_score"] for t in data["tests"]] == [5.0, 5.0]
    assert {t["visibility"] for t in data["tests"]} == {"after_due_date"}
    assert data["tests"][0]["score"] == 5.0 and data["tests"][1]["status"] == "failed"
    # grading that crashes still leaves a valid results.json (score 0)
    env["MINITORCH_CV_PYTHON"] = "false"
    crashed = subprocess.run([str(bundle / "run_autograder")], env=env, capture_output=True,
                             text=True, timeout=60, check=False, cwd=root)
    assert crashed.returncode == 0
    data = json.loads((root / "results" / "results.json").read_text())
    validate_results(data)
    assert data["score"] == 0.0 and "could not grade" in data["output"]


def test_autograder_package_as_a_requirement_and_bad_options(tmp_path):
    made = cli("autograder", "--out", "b", "--package", "minitorch_cv==0.1.0", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "python3 -m pip install minitorch_cv==0.1.0" in (tmp_path / "b" / "setup.sh") \
        .read_text()
    assert "--expect" not in (tmp_path / "b" / "run_autograder").read_text()
    bad = cli("autograder", "--out", "c", "--package", "x", "--visibility", "public",
              cwd=tmp_path)
    assert bad.returncode == 2 and "--visibility must be one of" in bad.stderr
    (tmp_path / "notes.txt").write_text("")
    odd = cli("autograder", "--out", "d", "--package", "notes.txt", cwd=tmp_path)
    assert odd.returncode == 2 and "a wheel (.whl) or an sdist" in odd.stderr


def test_autograder_builds_a_wheel_of_this_package_by_default(tmp_path):
    made = cli("autograder", "--out", "bundle", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    (wheel,) = (tmp_path / "bundle").glob("minitorch_cv-*.whl")
    with zipfile.ZipFile(wheel) as z:
        assert "minitorch_cv/exercises/gradescope.py" in z.namelist()
    assert f"pip install ./{wheel.name}" in (tmp_path / "bundle" / "setup.sh").read_text()
