"""The exercise kit: write the layers yourself, and get them graded with a diagnosis
(``python -m minitorch_cv.exercises list | start | check | train``; see docs/exercises.md).

The student's file runs in a separate process (:mod:`~minitorch_cv.exercises.runner`), so
nothing it does can hang or crash the grader.
"""

import importlib

__all__ = ["grade", "grade_all", "write_skeleton", "EXERCISES"]

#: Public name -> the module that defines it (imported on first use).
_HOMES = {"grade": "grader", "grade_all": "grader", "write_skeleton": "skeleton",
          "EXERCISES": "catalogue"}


def __getattr__(name):
    if name in _HOMES:
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module 'minitorch_cv.exercises' has no attribute {name!r}")
