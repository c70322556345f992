"""``train``: the Task 2 network trained on the student's OWN layers.

    python -m minitorch_cv.exercises train --dir work                 # every layer you wrote
    python -m minitorch_cv.exercises train conv2d --dir work          # only your conv2d
    python -m minitorch_cv.exercises train --dir work --epochs 1 --limit 2000   # a quick look
    python -m minitorch_cv.exercises train --dir work --resume        # continue a run

The network is models.task2_model() (three 5x5 conv blocks, Linear, ReLU, Linear). Every
layer whose exercise file is in --dir runs the student's functions: conv2d.py, maxpool2d.py,
relu.py, linear.py, softmax_cross_entropy.py (the loss), sgd_momentum.py (the optimizer;
adam.py with --optimizer adam), and batchnorm.py, dropout.py, avgpool2d.py for a network
that has such layers. A layer without a file runs the library's code; a table says which
part is whose. Naming exercises (train conv2d relu) uses only those files.

Before training, every file it will use is graded; a file that fails a check is refused
and nothing trains (run `check NAME --dir DIR` to see why).

The seed's Task 2 recipe: SGD lr 0.05, batch 64, inputs normalized with mean 0.5 and std
0.25, no augmentation, validation every half epoch on 10 % of the training set, early stop
4, the best weights evaluated on the test set. 4 epochs by default: PyTorch passes 65 %
validation accuracy after about 3.5 epochs of this recipe (``--epochs 10`` is the seed's
full run; ``--resume --epochs N`` continues a finished run for more epochs). Writes metrics.json,
history.json, best.npz, checkpoint.npz, loss.png and accuracy.png to --out, as the examples.
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
        raise _Refused([f"no file {folder / n}.py: run `python -m minitorch_cv.exercises "
                        f"start {n} --dir {args.dir}` first" for n in missing])
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
        raise _Refused([first, *unused])
    return used, unused


class _Refused(Exception):
    """The run cannot start because of the student's files (exit status 1); one line
    each."""

    def __init__(self, lines):
        super().__init__("\n".join(lines))


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
        raise _Refused([*refused, last])


def _table(kinds, counts, students, args):
    """The lines saying which part of the network is whose; ``kinds`` are the types of the
    network's modules (before the swap), one per module."""
    rows = []
    for kind in dict.fromkeys(kinds):
        name = kind.__name__
        if kind is nn.Sequential:
            continue
        if kind not in LAYER_EXERCISES:
            rows.append((f"{name} x{kinds.count(kind)}", "library's", "not an exercise"))
            continue
        exercise = LAYER_EXERCISES[kind].exercise
        changed, kept = counts.get(name, (0, 0))
        if changed:
            rows.append((f"{name} x{changed}", "yours", str(students[exercise].path)))
        if kept:
            why = ("its settings are not the exercise's" if exercise in students
                   else _why_library(exercise, args))
            rows.append((f"{name} x{kept}", "library's", why))
    label = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}[args.optimizer]
    optimizer = OPTIMIZER_EXERCISES.get(args.optimizer, (None,))[0]     # None: AdamW
    for part, exercise in (("loss: CrossEntropyLoss", LOSS_EXERCISE),
                           (f"optimizer: {label}", optimizer)):
        if exercise in students:
            rows.append((part, "yours", str(students[exercise].path)))
        else:
            why = _why_library(exercise, args) if exercise else "not an exercise"
            rows.append((part, "library's", why))
    width = max(len(r[0]) for r in rows)
    return [f"  {part:<{width}}  {whose:<9}  {source}" for part, whose, source in rows]


def _why_library(exercise, args):
    path = Path(args.dir) / f"{exercise}.py"
    if args.names and path.is_file():
        return f"{exercise} was not named on the command line"
    return f"no {path}"


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
    say("The Task 2 network, part by part:")
    for line in _table(kinds, counts, students, args):
        say(line)
    for line in unused:
        say(f"note: {line}")
    exercise = OPTIMIZER_EXERCISES.get(args.optimizer, (None,))[0]

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
