"""The exercise kit: write the layers yourself, and get them graded with a diagnosis.

    python -m minitorch_cv.exercises list                    # the exercises
    python -m minitorch_cv.exercises start conv2d --dir work # writes work/conv2d.py
    python -m minitorch_cv.exercises check conv2d --dir work # one line per check
    python -m minitorch_cv.exercises train --dir work        # Task 2 on every layer you wrote

The student's file runs in a separate process (:mod:`~minitorch_cv.exercises.runner`), so
nothing it does can hang or crash the grader. See docs/exercises.md.
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
