"""``train``: the Task 2 network trained on the student's OWN layers.

    python -m minitorch_cv.exercises train --dir work                 # every layer you wrote
    python -m minitorch_cv.exercises train conv2d --dir work          # only your conv2d
    python -m minitorch_cv.exercises train --dir work --epochs 1 --limit 2000   # a quick look
    python -m minitorch_cv.exercises train --dir work --resume        # continue a run

Every layer of models.task2_model() whose exercise file is in --dir (conv2d.py, relu.py,
..., softmax_cross_entropy.py for the loss, sgd_momentum.py or adam.py for the optimizer)
runs the student's functions, once every file it uses passes its checks; the rest runs the
library's code, and a table says which part is whose. It trains with the seed's Task 2
recipe (SGD lr 0.05, batch 64), 4 epochs by default, and writes a run folder as the
examples do. docs/exercises.md ("The capstone") tells the whole story.
"""

import functools
import shlex
import sys
from pathlib import Path

from .. import models, nn
from ..train.experiment import (
    check_training_args,
    make_optimizer,
    run_main,
    run_training,
    training_parser,
)
from ..train.trainer import atomic_write_json
from .student_layers import (
    LAYER_EXERCISES,
    LOSS_EXERCISE,
    OPTIMIZER_EXERCISES,
    StudentCodeError,
    StudentFile,
    student_loss,
    student_optimizer,
    use_student_layers,
)

__all__ = ["parser", "main", "network_exercises", "CAPSTONE_EXERCISES"]

#: Every exercise a network of the library's layers can take from a student.
CAPSTONE_EXERCISES = tuple(dict.fromkeys(
    [cls.exercise for cls in LAYER_EXERCISES.values()] + [LOSS_EXERCISE]
    + [exercise for exercise, _cls in OPTIMIZER_EXERCISES.values()]))


def parser():
    """The command line: the examples' training flags (the seed's Task 2 recipe as
    defaults, 4 epochs) and the student's folder and exercises."""
    p = training_parser(__doc__, lr=0.05, epochs=4, out="runs/capstone")
    p.prog = "python -m minitorch_cv.exercises train"
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="use only these exercise files (default: every one in --dir)")
    p.add_argument("--dir", default=".", help="the folder with your exercise files")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="multiply every time limit of the checks (a slow machine)")
    return p


def network_exercises(model, optimizer):
    """The exercises ``model`` trained with ``optimizer`` ("sgd", "adam", "adamw") can
    take from a student, in the network's order: its layers', the loss's, the
    optimizer's."""
    layers = [LAYER_EXERCISES[type(m)].exercise for m in model.modules()
              if type(m) in LAYER_EXERCISES]
    optimizers = [OPTIMIZER_EXERCISES[optimizer][0]] if optimizer in OPTIMIZER_EXERCISES else []
    return list(dict.fromkeys([*layers, LOSS_EXERCISE, *optimizers]))


def _choose(args, wanted):
    """(exercise -> path of the student's file to use, why-not lines for the others)."""
    folder = Path(args.dir)
    unknown = [n for n in args.names if n not in CAPSTONE_EXERCISES]
    if unknown:                                            # run_main: "error: ...", status 2
        raise ValueError(f"{', '.join(unknown)}: not a layer, loss or optimizer exercise; "
                         f"train takes {', '.join(CAPSTONE_EXERCISES)}")
    missing = [n for n in args.names if not (folder / f"{n}.py").is_file()]
    if missing:
        raise _Refused("\n".join(f"no file {folder / n}.py: run `python -m minitorch_cv."
                                  f"exercises start {n} --dir {args.dir}` first"
                                  for n in missing))
    names = args.names or [e for e in CAPSTONE_EXERCISES if (folder / f"{e}.py").is_file()]
    used = {n: folder / f"{n}.py" for n in wanted if n in names}
    flags = {"adam": "adam --lr 1e-3", "sgd_momentum": "sgd"}   # the optimizer exercises
    unused = []
    for n in (n for n in names if n not in used):
        if n not in flags:
            why = "the network has no such layer"
        elif args.optimizer == "adamw":
            why = "AdamW is not an exercise"
        else:
            why = f"the run uses --optimizer {args.optimizer}; --optimizer {flags[n]} uses it"
        unused.append(f"{folder / n}.py is not used: {why}")
    if not used:
        first = (f"no exercise file of yours in {folder} for this network: write one with "
                 f"`python -m minitorch_cv.exercises start conv2d --dir {args.dir}` (any of "
                 f"{', '.join(wanted)})")
        raise _Refused("\n".join([first, *unused]))
    return used, unused


class _Refused(Exception):
    """The run cannot start because of the student's files (exit status 1)."""


def _grade(used, args, say):
    """Grade every file in ``used``; raise :class:`_Refused` with a line per failing one."""
    from . import grader
    refused = []
    for name, path in used.items():
        report = grader.grade(name, args.dir, args.time_scale)
        passed, total = sum(c.passed for c in report.checks), len(report.checks)
        say(f"checked {path}: {passed}/{total} checks passed")
        if not report.passed:
            refused.append(f"refused: {path} passes {passed}/{total} checks (score "
                           f"{report.score:.0%}); run `python -m minitorch_cv.exercises check "
                           f"{name} --dir {args.dir}` to see what is wrong")
    if refused:
        last = ("nothing was trained: fix the refused files, or leave them out by naming "
                f"the others (train NAME ... --dir {args.dir})")
        raise _Refused("\n".join([*refused, last]))


def _table(kinds, counts, students, args, optimizer):
    """The lines saying which part of the network is whose; ``kinds`` are the types of the
    network's modules (before the swap), one per module; ``optimizer`` its exercise."""
    rows = []
    for kind in dict.fromkeys(kinds):
        name, exercise = kind.__name__, getattr(LAYER_EXERCISES.get(kind), "exercise", None)
        changed, kept = counts.get(name, (0, kinds.count(kind)))
        if changed:
            rows.append((f"{name} x{changed}", *_whose(exercise, students, args)))
        if kept and kind is not nn.Sequential:
            why = ("its settings are not the exercise's" if exercise in students
                   else _whose(exercise, students, args)[1])
            rows.append((f"{name} x{kept}", "library's", why))
    label = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}[args.optimizer]
    rows.append(("loss: CrossEntropyLoss", *_whose(LOSS_EXERCISE, students, args)))
    rows.append((f"optimizer: {label}", *_whose(optimizer, students, args)))
    width = max(len(r[0]) for r in rows)
    return [f"  {part:<{width}}  {whose:<9}  {source}" for part, whose, source in rows]


def _whose(exercise, students, args):
    """("yours", the file) or ("library's", why) for the part of ``exercise`` (None: the
    part is not an exercise)."""
    if exercise in students:
        return "yours", str(students[exercise].path)
    if exercise is None:
        return "library's", "not an exercise"
    path = Path(args.dir) / f"{exercise}.py"
    if args.names and path.is_file():
        return "library's", f"{exercise} was not named on the command line"
    return "library's", f"no {path}"


def _run(argv):
    args = parser().parse_args(argv)
    check_training_args(args)
    say = functools.partial(print, flush=True)   # a log file (nohup) sees every line at once
    model = models.task2_model(rng=nn.init.get_rng(args.seed))
    used, unused = _choose(args, network_exercises(model, args.optimizer))
    _grade(used, args, say)
    students = {name: StudentFile(name, args.dir) for name in used}
    kinds = [type(m) for m in model.modules()]
    counts = use_student_layers(model, students)
    exercise = OPTIMIZER_EXERCISES.get(args.optimizer, (None,))[0]     # None: AdamW
    say("\n".join(["The Task 2 network, part by part:",
                   *_table(kinds, counts, students, args, exercise),
                   *(f"note: {line}" for line in unused)]))

    def optimizer_factory(args, params):
        if exercise in students:
            return student_optimizer(args.optimizer, students[exercise], params, args.lr,
                                     args.momentum, args.weight_decay)
        return make_optimizer(args, params)

    loss_fn = student_loss(students[LOSS_EXERCISE]) if LOSS_EXERCISE in students else None
    command = shlex.join(["python", "-m", "minitorch_cv.exercises", "train", *argv])
    metrics = run_training(args, model, name="capstone", command=command, log=say,
                           optimizer_factory=optimizer_factory, loss_fn=loss_fn)
    metrics["students"] = {name: str(path) for name, path in used.items()}
    atomic_write_json(Path(args.out) / "metrics.json", metrics)
    return metrics


def main(argv=None):
    """``train``'s exit status: 0 trained; 1 a refused or failing student file (one line
    each, on stderr) or a run that diverged; 2 a bad command line, data or run folder;
    130 interrupted."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return run_main(_run, argv)
    except _Refused as err:
        print(err, file=sys.stderr)
        return 1
    except StudentCodeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
