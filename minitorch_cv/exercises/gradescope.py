"""The grader's reports as Gradescope's ``results.json``: one test per exercise, worth
``points``, scored as ``check`` scores it (docs/exercises.md, "On Gradescope", shows the
format). :func:`write_results` is ``check --all --format gradescope``;
:mod:`minitorch_cv.exercises.autograder` writes the bundle that runs it on Gradescope.
"""

import json
import time
from pathlib import Path

__all__ = ["VISIBILITIES", "results", "write_results"]

#: Gradescope's visibility settings (for a test, the results and stdout).
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


def _check_options(expect=(), points=10.0, flag="", **visibilities):
    """ValueError for an unknown exercise in ``expect``, a bad visibility or points."""
    from .catalogue import EXERCISES
    unknown = [name for name in expect if name not in EXERCISES]
    if unknown:
        raise ValueError(f"no exercise {', '.join(map(repr, unknown))}; "
                         "`python -m minitorch_cv.exercises list` shows them")
    for name, value in visibilities.items():
        if value not in VISIBILITIES:
            raise ValueError(f"{flag}{name} must be one of {', '.join(VISIBILITIES)}, "
                             f"got {value!r}")
    if not points > 0:
        raise ValueError(f"{flag}points must be positive, got {points}")


def _test(report, points, visibility, summary):
    path = Path(report.path)
    if path.is_file():     # the report without the grading folder's path: the file's name
        output = report.text().replace(f"{path.parent}/", "")
    else:
        output = f"{path.name} is not in your submission: hand it in to get this exercise graded"
    return {"name": f"{report.exercise}: {summary}" if summary else report.exercise,
            "score": round(report.score * points, 2), "max_score": float(points),
            "status": "passed" if report.passed else "failed", "output": output,
            "output_format": "text", "visibility": visibility}


def results(reports, points=10.0, visibility="visible", execution_time=None,
            stdout_visibility="hidden"):
    """The ``results.json`` dict for the grader's ``reports``: one test each, worth
    ``points``, of ``visibility`` (one of :data:`VISIBILITIES`); ``stdout_visibility`` is
    hidden by default (the autograder's stdout is for the teacher)."""
    from .catalogue import EXERCISES
    _check_options(points=points, visibility=visibility, stdout_visibility=stdout_visibility)
    tests = [_test(r, points, visibility,
                   EXERCISES[r.exercise].summary if r.exercise in EXERCISES else "")
             for r in reports]
    score = round(sum(t["score"] for t in tests), 2)
    max_score = float(points * len(tests))
    passed = sum(r.passed for r in reports)
    out = {"score": score, "max_score": max_score,
           "output": f"{passed}/{len(tests)} exercises passed every check; score {score:g} "
                     f"of {max_score:g}. Each exercise is worth {points:g} points, in "
                     "proportion to the checks it passes.",
           "visibility": visibility, "stdout_visibility": stdout_visibility, "tests": tests}
    if execution_time is not None:
        out["execution_time"] = round(execution_time)
    return out


def write_results(directory, out=None, expect=(), points=10.0, visibility="visible",
                  time_scale=1.0, allow_library=False):
    """Grade ``directory`` and write ``results.json`` to ``out`` (print it for None or
    ``"-"``); returns the reports.

    ``expect`` are the exercises the assignment asks for: each is graded, a missing file
    scoring 0. Without it, every exercise file present is graded (``check --all``).
    ``allow_library`` grades files that use the library's implementations (``check
    --allow-library``); by default they score 0.
    """
    from . import grader
    _check_options(expect, points, visibility=visibility)
    start = time.perf_counter()
    if expect:
        reports = [grader.grade(name, directory, time_scale, allow_library) for name in expect]
    else:
        reports = grader.grade_all(directory, time_scale, allow_library)
    data = results(reports, points, visibility, time.perf_counter() - start)
    if not reports:
        data["output"] = ("no exercise file found in the submission: hand in the files "
                          "named after the exercises (conv2d.py, relu.py, ...)")
    text = json.dumps(data, indent=2)
    if out in (None, "-"):
        print(text)
    else:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")
    return reports
