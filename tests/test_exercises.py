"""The exercise kit grades right and wrong layers correctly, and says what is wrong.

Every grade runs the student's file in a subprocess; the broken students below are the
textbook implementations with one classic mistake each, and each must fail with its
diagnosis. The reference implementations (minitorch_cv.reference, minitorch_cv.theory)
score full marks and the skeletons score zero.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from students import CONV2D, CORRECT, RELU, broken

from minitorch_cv.exercises import grader
from minitorch_cv.exercises.catalogue import EXERCISES
from minitorch_cv.exercises.diagnosis import NOT_IMPLEMENTED, compare, window_coverage
from minitorch_cv.exercises.skeleton import skeleton_text, write_skeleton

ROOT = Path(__file__).resolve().parents[1]
DATA = os.environ.get("MINITORCH_CV_DATA")

def grade_source(tmp_path, name, source, **kwargs):
    (tmp_path / f"{name}.py").write_text(source)
    return grader.grade(name, tmp_path, **kwargs)


def failing(report):
    return "\n".join(f"{c.name}: {c.message}" for c in report.checks if not c.passed)


# ----------------------------------------------------------------- full marks and zero
def test_reference_implementations_score_full_marks(tmp_path):
    import minitorch_cv.reference
    for name, exercise in EXERCISES.items():
        functions = [signature.split("(")[0] for signature, _ in exercise.functions]
        module = ("minitorch_cv.reference" if hasattr(minitorch_cv.reference, functions[0])
                  else "minitorch_cv.theory")
        (tmp_path / f"{name}.py").write_text(
            f"from {module} import {', '.join(functions)}  # noqa: F401\n")
    reports = grader.grade_all(tmp_path, allow_library=True)       # a teacher's flag
    assert [r.exercise for r in reports] == list(EXERCISES)
    for report in reports:
        assert report.passed and report.score == 1.0, report.text()
        assert report.diagnoses == [], report.text()


def test_skeletons_score_zero_with_not_implemented(tmp_path):
    for name in EXERCISES:
        write_skeleton(name, tmp_path)
    for report in grader.grade_all(tmp_path):
        assert report.score == 0.0 and not report.passed, report.text()
        assert any(d.kind == NOT_IMPLEMENTED for d in report.diagnoses), report.text()


def test_every_exercise_has_a_textbook_student():
    assert set(EXERCISES) <= {name.replace("_im2col", "") for name in CORRECT}


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_textbook_students_pass(tmp_path, name):
    report = grade_source(tmp_path, name.replace("_im2col", ""), CORRECT[name])
    assert report.passed, report.text()


def test_wrong_dtype_is_named(tmp_path):
    report = grade_source(tmp_path, "conv2d", broken(
        CONV2D, ("out = np.zeros((n, f, out_h, out_w), dtype=x.dtype)",
                 "out = np.zeros((n, f, out_h, out_w))")))
    assert "`out` has dtype float64, expected float32" in failing(report), report.text()
    assert report.score > 0.8


def test_conv2d_mistakes_name_the_wrong_output(tmp_path):
    report = grade_source(tmp_path, "conv2d", broken(
        CONV2D, ("dx = dx_pad[:, :, padding:padding + h, padding:padding + wd]", "dx = dx_pad")))
    wrong = failing(report)
    assert "`dx` has shape" in wrong and "`dw`" not in wrong, wrong
    # the forward checks still pass: only backward is wrong
    assert all(c.passed for c in report.checks if c.name.startswith("forward")), report.text()


# ----------------------------------------------------------------- students behaving badly
RELU_FORWARD_BODY = "    return np.maximum(x, 0), x\n"


@pytest.mark.parametrize("body, words", [
    ("    return x[100], x\n", "raised IndexError"),
    ("    return [0.0], x\n", "must return (out, cache)"),
    ("    x[x < 0] = 0\n    return x, x\n", "changed its input `x` in place"),
    ("    print('debug', x.shape)\n    return np.maximum(x, 0), x\n", "prints"),
    ("    import sys\n    sys.exit(3)\n", "sys.exit"),
    ("    import os\n    os._exit(0)\n", "exited"),
    ("    import ctypes\n    ctypes.string_at(0)\n", "died"),
], ids=["raises", "wrong type", "mutates", "prints", "sys.exit", "os._exit", "segfault"])
def test_misbehaving_student_gets_a_clear_message(tmp_path, body, words):
    report = grade_source(tmp_path, "relu", broken(RELU, (RELU_FORWARD_BODY, body)))
    assert not report.passed
    assert words in report.text(), report.text()
    assert "Traceback" not in report.text()


def test_raising_student_is_told_the_line(tmp_path):
    source = broken(RELU, (RELU_FORWARD_BODY, "    return x[100], x\n"))
    line = source.splitlines().index("    return x[100], x") + 1
    report = grade_source(tmp_path, "relu", source)
    assert f"line {line}, in relu_forward: return x[100], x" in report.text(), report.text()


def test_infinite_loop_is_stopped(tmp_path):
    source = broken(RELU, (RELU_FORWARD_BODY, "    while True:\n        pass\n"))
    report = grade_source(tmp_path, "relu", source, time_scale=0.05)      # 0.5 s per call
    assert not report.passed
    assert "did not finish within" in report.text(), report.text()


def test_infinite_loop_at_import_is_stopped(tmp_path):
    report = grade_source(tmp_path, "relu", "while True:\n    pass\n", time_scale=0.05)
    assert not report.passed and report.score == 0.0
    assert "importing your file did not finish" in report.text(), report.text()


def test_half_done_exercise_says_what_is_left(tmp_path):
    source = skeleton_text("relu").replace(
        "    raise NotImplementedError", "    return np.maximum(x, 0), x", 1)
    report = grade_source(tmp_path, "relu", source)
    assert 0 < report.score < 1
    assert any("relu_backward: not implemented yet" in d.text for d in report.diagnoses), report.text()


def test_file_that_does_not_import(tmp_path):
    report = grade_source(tmp_path, "relu", "def relu_forward(x):\n    return x +\n")
    assert not report.passed and report.score == 0.0
    assert "could not be imported: SyntaxError" in report.text(), report.text()


def test_student_may_import_own_helper_module(tmp_path):
    (tmp_path / "my_helpers.py").write_text("import numpy as np\n\n\ndef relu(x):\n"
                                            "    return np.maximum(x, 0)\n")
    report = grade_source(tmp_path, "relu", "from my_helpers import relu\n\n\n"
                          "def relu_forward(x):\n    return relu(x), x\n\n\n"
                          "def relu_backward(dout, x):\n    return dout * (x > 0)\n")
    assert report.passed, report.text()


def test_missing_function(tmp_path):
    report = grade_source(tmp_path, "relu", "def relu_forward(x):\n    return x, x\n")
    assert "has no function relu_backward" in report.text()


# ----------------------------------------------------------------- diagnosis helpers
def test_compare_locates_border_channel_and_overlap():
    expected = np.zeros((2, 3, 6, 6))
    wrong = expected.copy()
    wrong[:, :, 0, :] = 1
    assert "only at the border" in compare("out", wrong, expected, border=1)[1]
    wrong = expected.copy()
    wrong[:, 1] = 1
    assert "only in channel(s) 1 (of 3)" in compare("dw", wrong, expected)[1]
    coverage = window_coverage((6, 6), 3, 2, 0)
    wrong = expected + (coverage > 1)
    assert "only where several windows overlap" in compare("dx", wrong, expected,
                                                           coverage=coverage)[1]
    assert compare("out", expected, expected)[0]


def test_skeleton_has_the_library_signatures():
    text = skeleton_text("conv2d")
    assert "def conv2d_forward(x, w, b=None, stride=1, padding=0):" in text
    assert "def conv2d_backward(dout, cache):" in text
    assert text.count("raise NotImplementedError") == 2
    compile(text, "conv2d.py", "exec")
    for name in EXERCISES:
        compile(skeleton_text(name), f"{name}.py", "exec")


# ----------------------------------------------------------------- the command line
def cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "minitorch_cv.exercises", *args], cwd=cwd,
                          check=False,
                          env=env, capture_output=True, text=True, timeout=300)


def test_done_when_flow_through_the_command_line(tmp_path):
    listed = cli("list", cwd=tmp_path)
    assert listed.returncode == 0
    for name in ("linear", "relu", "softmax_cross_entropy", "conv2d", "maxpool2d", "avgpool2d",
                 "batchnorm", "dropout", "sgd_momentum", "adam", "conv_output_size",
                 "same_padding", "kernel_size_for", "param_count"):
        assert f"\n{name} " in "\n" + listed.stdout
    assert cli("start", "conv2d", "--dir", "work", cwd=tmp_path).returncode == 0
    student = tmp_path / "work" / "conv2d.py"
    first = cli("check", "conv2d", "--dir", "work", cwd=tmp_path)
    assert first.returncode == 1 and "not implemented" in first.stdout, first.stdout
    again = cli("start", "conv2d", "--dir", "work", cwd=tmp_path)      # never overwrites
    assert again.returncode != 0 and "exists already" in again.stderr
    assert "raise NotImplementedError" in student.read_text()
    student.write_text(CONV2D)
    passed = cli("check", "conv2d", "--dir", "work", "--json", "report.json", cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["exercise"] == "conv2d" and report["passed"] and report["score"] == 1.0
    assert all(set(c) == {"name", "passed", "message"} for c in report["checks"])
    unwritable = cli("check", "conv2d", "--dir", "work", "--json", "no/such/folder/r.json",
                     cwd=tmp_path)
    assert unwritable.returncode == 2 and unwritable.stderr.count("\n") == 1, unwritable.stderr
    assert "--json: cannot write no/such/folder/r.json" in unwritable.stderr
    student.write_text(broken(CONV2D, ("np.tensordot(window, w, axes",
                                       "np.tensordot(window, w[:, :, ::-1, ::-1], axes")))
    failed = cli("check", "--all", "--dir", "work", "--json", cwd=tmp_path)
    assert failed.returncode == 1
    summary = json.loads(failed.stdout)                    # --all: always the class format
    assert not summary["passed"] and 0 < summary["score"] < 1
    (only,) = summary["exercises"]
    assert only["exercise"] == "conv2d" and only["score"] == summary["score"]
    assert any("flipped" in d for d in only["diagnosis"])


def test_unknown_exercise_and_usage_errors(tmp_path):
    assert cli("start", "conv3d", "--dir", "w", cwd=tmp_path).returncode == 2
    assert cli("check", "--dir", "w", cwd=tmp_path).returncode == 2
    missing = cli("check", "relu", "--dir", "nowhere", cwd=tmp_path)
    assert missing.returncode == 1 and "no file" in missing.stdout


# ----------------------------------------------------------------- own work
LIBRARY_COPIES = {
    "import of the textbook": "from minitorch_cv.reference import conv2d_forward, "
                              "conv2d_backward  # noqa: F401\n",
    "wrapper of functional": ("import minitorch_cv.functional as F\n\n\n"
                              "def conv2d_forward(x, w, b=None, stride=1, padding=0):\n"
                              "    return F.conv2d_forward(x, w, b, stride, padding)\n\n\n"
                              "def conv2d_backward(dout, cache):\n"
                              "    return F.conv2d_backward(dout, cache)\n"),
    "import inside the function": ("def conv2d_forward(x, w, b=None, stride=1, padding=0):\n"
                                   "    from minitorch_cv import functional\n"
                                   "    return functional.conv2d_forward(x, w, b, stride, "
                                   "padding)\n\n\n"
                                   "def conv2d_backward(dout, cache):\n"
                                   "    from minitorch_cv.functional import conv2d_backward\n"
                                   "    return conv2d_backward(dout, cache)\n"),
    "importlib with a computed name": (
        "import importlib\n\n\n"
        "def _lib():\n"
        "    return importlib.import_module('minitorch' + '_cv.reference')\n\n\n"
        "def conv2d_forward(x, w, b=None, stride=1, padding=0):\n"
        "    return _lib().conv2d_forward(x, w, b, stride, padding)\n\n\n"
        "def conv2d_backward(dout, cache):\n"
        "    return _lib().conv2d_backward(dout, cache)\n"),
    "torch": "import torch  # noqa: F401\n" + CONV2D,
}


@pytest.mark.parametrize("how", sorted(LIBRARY_COPIES))
def test_a_copy_of_the_library_is_refused(tmp_path, how):
    report = grade_source(tmp_path, "conv2d", LIBRARY_COPIES[how])
    assert not report.passed and report.score == 0.0, report.text()
    assert [c.name for c in report.checks] == ["own work"], report.text()
    assert "not graded" in report.checks[0].message, report.text()
    assert "--allow-library" in report.text()


def test_a_helper_module_that_imports_the_library_is_refused(tmp_path):
    (tmp_path / "my_conv.py").write_text("from minitorch_cv.reference import conv2d_forward, "
                                         "conv2d_backward  # noqa: F401\n")
    report = grade_source(tmp_path, "conv2d", "from my_conv import conv2d_forward, "
                          "conv2d_backward  # noqa: F401\n")
    assert report.checks[0].name == "own work", report.text()
    assert "my_conv.py line 1: imports minitorch_cv.reference" in report.text()


def test_a_teacher_can_allow_the_library(tmp_path):
    report = grade_source(tmp_path, "conv2d", LIBRARY_COPIES["wrapper of functional"],
                          allow_library=True)
    assert report.passed, report.text()
    (tmp_path / "conv2d.py").write_text(LIBRARY_COPIES["import of the textbook"])
    refused = cli("check", "conv2d", "--dir", str(tmp_path), cwd=tmp_path)
    assert refused.returncode == 1 and "own work" in refused.stdout, refused.stdout
    allowed = cli("check", "conv2d", "--dir", str(tmp_path), "--allow-library", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stdout


def test_permitted_helpers_and_numpy_are_not_library_uses(tmp_path):
    from minitorch_cv.exercises.own_work import library_uses
    path = tmp_path / "conv2d.py"
    path.write_text("import numpy as np\nfrom minitorch_cv.exercises.helpers import im2col\n"
                    "import minitorch_cv.exercises.helpers as H\n")
    assert library_uses(path) == []
    path.write_text("from minitorch_cv.exercises import grader\n")
    assert library_uses(path) == ["conv2d.py line 1: imports minitorch_cv.exercises"]


# ----------------------------------------------------------------- the rules of evidence
def test_a_setting_is_named_only_when_it_alone_divides_the_cases():
    from types import SimpleNamespace as Case

    from minitorch_cv.exercises.diagnosis import setting_diagnoses
    nouns = {"out": ("the forward output", "is")}

    def case(passed, **settings):
        return Case(group="out", passed=passed, checked=True, settings=settings)

    base = {"stride": 1, "padding": 1}
    exact = [case(True, **base), case(False, stride=1, padding=0),
             case(False, stride=2, padding=0)]
    (found,) = setting_diagnoses(exact, nouns)
    assert found.cause == "setting:padding=0" and "padding 0" in found.text
    # the other padding-0 case passes: padding 0 does not single the failure out
    assert setting_diagnoses(exact + [case(True, stride=3, padding=0)], nouns) == []
    # two settings divide the cases the same way: neither is named
    tied = [case(True, stride=1, padding=1), case(False, stride=2, padding=0)]
    assert setting_diagnoses(tied, nouns) == []
    # no passing case differs from a failing one in that setting alone
    far = [case(True, stride=1, padding=1, batch=1), case(False, stride=1, padding=0, batch=2),
           case(False, stride=2, padding=0, batch=2), case(True, stride=2, padding=1, batch=1)]
    assert setting_diagnoses(far, nouns) == []


def test_a_mistake_is_named_only_when_every_case_agrees():
    from minitorch_cv.exercises.diagnosis import Evidence, mistake_diagnoses
    texts = (("a", "mistake a"), ("b", "mistake b"))
    agree = [Evidence("dx", frozenset("ab"), frozenset("a"), texts),
             Evidence("dx", frozenset("a"), frozenset("a"), texts)]
    assert [d.cause for d in mistake_diagnoses(agree)] == ["a"]
    # a case where mistake a would change the answer, but the student's answer is not a's
    against = agree + [Evidence("dx", frozenset("a"), frozenset(), texts)]
    assert mistake_diagnoses(against) == []
    # two mistakes fit every case: the cases cannot tell them apart
    both = [Evidence("dx", frozenset("ab"), frozenset("ab"), texts)]
    assert mistake_diagnoses(both) == []


def test_the_documented_list_is_the_list_command(tmp_path):
    from minitorch_cv.exercises.catalogue import listing
    assert cli("list", cwd=tmp_path).stdout.strip() == listing()
    assert "```{exercise-list}" in (ROOT / "docs" / "exercises.md").read_text()
