"""The grader: build an exercise's *plan* (the calls to make and the checks on what they
return), run it on the student's file (:mod:`~minitorch_cv.exercises.runner`) and evaluate
every check into a :class:`Report` (docs/exercises.md, "How the grader works")."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from . import own_work, runner
from .diagnosis import (
    IMPORT,
    NOT_IMPLEMENTED,
    OWN_WORK,
    Diagnosis,
    mistake_diagnoses,
    setting_diagnoses,
)

__all__ = ["Check", "Report", "Plan", "grade", "grade_all"]

#: What each group of checks is, for the diagnoses that name a setting: (noun, verb).
GROUP_NOUNS = {"out": ("the forward output", "is"), "gradients": ("the gradients", "are"),
               "step": ("the update", "is"), "value": ("the value", "is")}


@dataclass
class Check:
    """One line of the report: an :class:`Outcome` with its ``name``, and the case's
    ``settings`` (:mod:`~minitorch_cv.exercises.settings`), compared within its ``group``."""
    name: str
    passed: bool
    message: str
    group: str = ""
    settings: dict | None = None
    evidence: tuple = ()
    diagnosis: Diagnosis | None = None
    checked: bool = True


@dataclass
class Report:
    """The grade of one exercise file: its checks, diagnoses, ``score`` (the fraction of
    checks passed) and ``passed`` (every check passed)."""
    exercise: str
    path: str
    checks: list = field(default_factory=list)
    diagnoses: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def score(self) -> float:
        return (round(sum(c.passed for c in self.checks) / len(self.checks), 3)
                if self.checks else 0.0)

    def to_dict(self) -> dict:
        return {"exercise": self.exercise, "path": self.path, "passed": self.passed,
                "score": self.score, "checks": [{"name": c.name, "passed": c.passed,
                                                 "message": c.message} for c in self.checks],
                "diagnosis": [d.text for d in self.diagnoses],
                "causes": [d.cause for d in self.diagnoses if d.cause]}

    def text(self) -> str:
        lines = [f"{self.exercise} ({self.path})"]
        lines += [f"  {'PASS' if c.passed else 'FAIL'}  {c.name}: {c.message}"
                  for c in self.checks]
        if self.diagnoses:
            lines += ["  DIAGNOSIS"] + [f"    - {d.text}" for d in self.diagnoses]
        lines.append(f"  {sum(c.passed for c in self.checks)}/{len(self.checks)} checks "
                     f"passed, score {self.score:.2f}: "
                     f"{'PASSED' if self.passed else 'NOT PASSED'}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Outcome:
    """What evaluating one check found: the ``evidence`` about known mistakes (one
    :class:`~minitorch_cv.exercises.diagnosis.Evidence` per output compared), a ``diagnosis``
    the check makes by itself, ``checked`` False when the call it continues failed."""
    passed: bool
    message: str
    evidence: tuple = ()
    diagnosis: Diagnosis | None = None
    checked: bool = True


# --------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class _Stand:
    """A value made in the student's process: the runner builds it from ``{key: value}``."""
    key: str
    value: object


Cache = partial(_Stand, "cache")          # the cache an earlier forward call kept as `value`
Rng = partial(_Stand, "rng")              # numpy.random.default_rng(value)
ModuleExpr = partial(_Stand, "module")    # the Module that the expression `value` builds


class Plan:
    """The calls to make on the student's file (:meth:`call`, :meth:`numgrad`: each returns
    the step's index), and the checks on the results (:meth:`check`: a function of the
    :class:`~minitorch_cv.exercises.runner.StepResult` list returning an :class:`Outcome`)."""

    def __init__(self, exercise):
        from .catalogue import EXERCISES
        self.exercise, self.arguments = exercise, EXERCISES[exercise].arguments
        self.steps, self.arrays, self.checks = [], {}, []
        self.allowed_mutation = {}            # step index -> indices of args it may change

    def _encode(self, value):
        if isinstance(value, np.ndarray):
            key = f"a{len(self.arrays)}"
            self.arrays[key] = value
            return {"a": key}
        if isinstance(value, _Stand):
            return {value.key: value.value}
        if isinstance(value, (np.integer, np.floating)):
            value = value.item()
        return {"v": value}

    def call(self, label, function, args, kwargs=None, keep=None, limit=None,
             report_args=(), may_change=(), arg_names=None):
        step = {"label": label, "function": function,
                "args": [self._encode(a) for a in args],
                "kwargs": {k: self._encode(v) for k, v in (kwargs or {}).items()},
                "arg_names": arg_names or self.arguments(function),
                "report_args": list(report_args)}
        step.update({key: v for key, v in (("keep", keep), ("limit", limit)) if v})
        self.steps.append(step)
        self.allowed_mutation[len(self.steps) - 1] = set(may_change)
        return len(self.steps) - 1

    def numgrad(self, label, function, args, wrt, dout, kwargs=None, output="pair", limit=60):
        index = self.call(label, function, args, kwargs, limit=limit)
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.asarray(dout, dtype=np.float64)
        self.steps[index].update(kind="numgrad", wrt=list(wrt), dout=key, output=output)
        return index

    def check(self, name, evaluate, group="", settings=None):
        self.checks.append((name, evaluate, group, settings))


# --------------------------------------------------------------------------- grading
def _quiet_check(plan, results):
    if not any(r.get("status") in ("ok", "raised", "exit") for r in results):
        return False, "not checked: no call returned"
    printed = next(((step["function"], r["printed"]) for step, r in zip(plan.steps, results)
                    if r.get("printed")), None)
    if not printed:
        return True, "your functions print nothing"
    function, text = printed
    first = text.strip().splitlines()[0][:80] if text.strip() else repr(text[:20])
    return False, (f"{function} prints ({first!r} ...): remove debug prints, a grader or a "
                   "training loop calls it thousands of times")


def _unchanged_check(plan, results):
    ran = [i for i, r in enumerate(results) if r.get("status") == "ok"
           and plan.steps[i].get("kind") != "numgrad"]
    if not ran:
        return False, "not checked: no call returned"
    for i in ran:
        bad = sorted(set(results[i].get("mutated", [])) - plan.allowed_mutation.get(i, set()))
        if bad:
            names = plan.steps[i]["arg_names"]
            shown = ", ".join(f"`{names[k]}`" if k < len(names) else f"argument {k}"
                              for k in bad)
            return False, (f"{plan.steps[i]['function']} changed its input {shown} in place "
                           f"({plan.steps[i]['label']}): work on a copy (x.copy(), or "
                           "a = a + 1 instead of a += 1)")
    return True, "no input was changed in place"


def _run_checks(plan, results):
    rank = {"out": 0, "value": 0, "step": 0, "gradients": 1, "gradient check": 2}
    checks = []
    for name, evaluate_one, group, settings in sorted(plan.checks,
                                                      key=lambda c: rank.get(c[2], 3)):
        try:
            outcome = evaluate_one(results)
        except Exception as exc:  # noqa: BLE001 -- a student value the check cannot read
            outcome = Outcome(False, (f"could not be checked ({type(exc).__name__}: {exc}); "
                                      "return arrays of the documented shapes"))
        found = dict(vars(outcome), passed=bool(outcome.passed))   # np.bool_ is not JSON
        checks.append(Check(name, group=group, settings=settings, **found))
    return checks + [Check(name, *fn(plan, results)) for name, fn in (
        ("inputs unchanged", _unchanged_check), ("prints nothing", _quiet_check))]


def _not_implemented(plan, results):
    statuses = {}
    for step, r in zip(plan.steps, results):
        statuses.setdefault(step["function"], set()).add(r.get("status"))
    waiting = [f for f, found in statuses.items() if found - {"not_run"} == {"not_implemented"}]
    if waiting and len(waiting) == len(statuses):
        return [Diagnosis(NOT_IMPLEMENTED, "not implemented: write the functions in your "
                          "file (they still raise NotImplementedError)")]
    if waiting:
        return [Diagnosis(NOT_IMPLEMENTED, f"{', '.join(waiting)}: not implemented yet "
                          "(still raises NotImplementedError)")]
    return []


def evaluate(plan, results, path):
    """The :class:`Report` of ``results`` (what the student's calls returned)."""
    if results and all(r.get("status") == "import_error" for r in results):
        return _failed(plan.exercise, path, "import", results[0].get("message", ""), Diagnosis(
            IMPORT, "fix the error above: the grader could not load your file"))
    refused = next((r for r in results if r.get("status") == "refused"), None)
    if refused is not None:
        return _refusal(plan.exercise, path, refused.get("message", ""))
    report = Report(plan.exercise, str(path), _run_checks(plan, results))
    found = _not_implemented(plan, results)
    found += [c.diagnosis for c in report.checks if c.diagnosis]
    found += mistake_diagnoses([e for c in report.checks for e in c.evidence])
    found += setting_diagnoses(report.checks, GROUP_NOUNS)
    first = {}                               # the first diagnosis of each text
    for d in found:
        first.setdefault(d.text, d)
    report.diagnoses = list(first.values())
    return report


def _failed(exercise, path, check, message, diagnosis=None):
    """The report of a file graded no further than one failed ``check``."""
    return Report(exercise, str(path), [Check(check, False, message)],
                  [diagnosis] if diagnosis else [])


def _refusal(exercise, path, message):
    return _failed(exercise, path, "own work", message, Diagnosis(OWN_WORK, (
        "hand in your own work: write the functions with NumPy, without the library's "
        "implementations or PyTorch (a teacher can allow them with `check "
        "--allow-library`)")))


def build_plan(name, rng_seed=0):
    from .catalogue import EXERCISES
    plan = Plan(name)
    EXERCISES[name].build(plan, np.random.default_rng(rng_seed))
    return plan


def grade(name, directory=".", time_scale=1.0, allow_library=False) -> Report:
    """Grade ``DIRECTORY/NAME.py`` for exercise ``name``; a file that uses the library's
    implementations (or PyTorch) is refused with a score of 0, unless ``allow_library``."""
    path = Path(directory) / f"{name}.py"
    plan = build_plan(name)
    if not path.is_file():
        return _failed(name, path, "file", f"no file {path}: run `python -m "
                       f"minitorch_cv.exercises start {name} --dir {directory}`")
    uses = [] if allow_library else own_work.library_uses(path)
    if uses:
        return _refusal(name, path, own_work.refusal_message(uses))
    results = runner.run_plan(path, plan.steps, plan.arrays, time_scale=time_scale,
                              watch_library=not allow_library)
    return evaluate(plan, results, path)


def grade_all(directory=".", time_scale=1.0, allow_library=False) -> list:
    """Grade every exercise file present in ``directory`` (in catalogue order)."""
    from .catalogue import EXERCISES
    return [grade(name, directory, time_scale, allow_library) for name in EXERCISES
            if (Path(directory) / f"{name}.py").is_file()]


def reports_json(reports, many=False) -> str:
    """One report as its dict; with ``many`` (``check --all``), {"passed", "score",
    "exercises": [...]} whatever the number of reports."""
    if len(reports) == 1 and not many:
        return json.dumps(reports[0].to_dict(), indent=2)
    return json.dumps({"passed": bool(reports) and all(r.passed for r in reports),
                       "score": round(float(np.mean([r.score for r in reports])), 3)
                       if reports else 0.0,
                       "exercises": [r.to_dict() for r in reports]}, indent=2)
