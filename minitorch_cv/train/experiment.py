"""What the example scripts share: command-line flags, CIFAR-10 loaders, and one function
that trains, evaluates and writes ``history.json``, ``metrics.json``, ``best.npz`` and the
plots into the output folder (a run folder: see :mod:`minitorch_cv.train.run_folder` and
docs/runs.md), and :func:`run_main`, which turns an example's outcome into one line and an
exit status.

An example (``examples/task2.py``) only builds its model, optimizer and augmentation.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .run_folder import RunFolder, RunFolderNames, cli_flag
from .trainer import FAILED_STOPS, Trainer, atomic_write_json

__all__ = [
    "DefaultsHelpFormatter",
    "check_training_args",
    "cifar10_loaders",
    "make_optimizer",
    "make_scheduler",
    "resume_command",
    "run_main",
    "run_training",
    "show_default",
    "training_parser",
]


def show_default(value):
    """A default as ``--help`` shows it: a list as it is typed (``0.5 0.5 0.5``), a
    ``store_true`` flag's False as ``off``, anything else with ``str``."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


class DefaultsHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` for the examples: the description as written (the module docstring, with
    its usage lines) and the real default after every option's help text.

    A help text that already says ``(default: ...)`` -- a default in words, such as "the
    network's recipe" -- is left as written; any other gets `` (default: VALUE)`` from
    :func:`show_default`. Give every option a help text: argparse shows none otherwise.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if (not action.option_strings or action.default is argparse.SUPPRESS
                or "(default:" in text):
            return text
        shown = show_default(action.default).replace("%", "%%")   # help is %-formatted
        return f"{text} (default: {shown})"

    def _split_lines(self, text, width):
        # whole words: a path or a flag is never cut in two (argparse would cut it)
        return textwrap.wrap(" ".join(text.split()), width, break_long_words=False,
                             break_on_hyphens=False)


def training_parser(description, *, lr, batch_size=64, epochs=10, early_stop_count=4,
                    optimizer="sgd", out="runs/experiment", image_size=32,
                    mean=(0.5,), std=(0.25,)):
    """An argparse parser with a flag for every hyperparameter, the seed's values as
    defaults (override them per example).

    ``description`` is shown as written (pass the example's module docstring); ``--help``
    shows every flag with the default this parser really uses
    (:class:`DefaultsHelpFormatter`)."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=DefaultsHelpFormatter)
    p.add_argument("--data", default=None,
                   help="CIFAR-10 folder or archive (default: $MINITORCH_CV_DATA, then the "
                        "user cache, then a download)")
    p.add_argument("--out", default=out, help="output folder")
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default=optimizer,
                   help="torch.optim's update rule: sgd (with --momentum), adam or adamw")
    p.add_argument("--lr", type=float, default=lr, help="learning rate")
    p.add_argument("--momentum", type=float, default=0.0,
                   help="SGD momentum (adam and adamw ignore it)")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="weight decay: an L2 term in the gradient (sgd, adam) or decoupled "
                        "from it (adamw), as torch.optim")
    p.add_argument("--batch-size", type=int, default=batch_size,
                   help="training images per step (evaluation uses batches of 256)")
    p.add_argument("--epochs", type=int, default=epochs,
                   help="passes over the training set (early stopping may end sooner)")
    p.add_argument("--early-stop-count", type=int, default=early_stop_count,
                   help="stop when the first of this many last validation losses is the "
                        "smallest")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of the training set held out for validation")
    p.add_argument("--mean", type=float, nargs="+", default=list(mean),
                   help="Normalize mean (one value or one per channel, pixels in [0, 1])")
    p.add_argument("--std", type=float, nargs="+", default=list(std), help="Normalize std")
    p.add_argument("--image-size", type=int, default=image_size,
                   help="resize images to this size (bilinear) before the network")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the weights, the split, shuffling, augmentation and dropout")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="train on a random (seeded) subset of N training images; the "
                        "validation set shrinks in proportion (N // 9 images) and the final "
                        "evaluation to --eval-limit (default: every training image)")
    p.add_argument("--eval-limit", type=int, default=None, metavar="N",
                   help="evaluate on at most N images per split (seeded random subsets; the "
                        "test subset is the same for every --seed): the final train, "
                        "validation and test numbers and the validation set used during "
                        "training (default: with --limit N, N for train and test and N // 9 "
                        "for validation; without --limit, every image)")
    p.add_argument("--no-train-eval", action="store_true",
                   help="skip the final evaluation on the training set")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint (refused when a setting "
                        "differs from the run's, except --epochs may grow; see docs/runs.md)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run in --out: its files are deleted when this run "
                        "starts (without --resume or --overwrite, an --out that holds a run "
                        "is refused)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (a line per validation is printed either way)")
    add_scheduler_arguments(p)
    return p


SCHEDULERS = ("none", "step", "multistep", "exponential", "cosine", "plateau")


def add_scheduler_arguments(parser):
    """``--scheduler`` and its parameters (torch.optim.lr_scheduler's, see
    :func:`make_scheduler`), as their own group in ``--help``."""
    g = parser.add_argument_group(
        "learning-rate schedule",
        "The lr changes during training: step, multistep, exponential and cosine\n"
        "once per epoch; plateau after every validation (two per epoch), with the\n"
        "validation loss. history.json records the lr per validation (val.lr).")
    g.add_argument("--scheduler", choices=SCHEDULERS, default="none",
                   help="none: --lr throughout (the seed's recipe); step: StepLR; multistep: "
                        "MultiStepLR; exponential: ExponentialLR; cosine: "
                        "CosineAnnealingLR; plateau: ReduceLROnPlateau")
    g.add_argument("--step-size", type=int, default=5,
                   help="step: multiply the lr by --gamma every this many epochs")
    g.add_argument("--gamma", type=float, default=0.1,
                   help="step, multistep, exponential: the factor the lr is multiplied by "
                        "(exponential applies it every epoch: try 0.9)")
    g.add_argument("--milestones", type=int, nargs="+", default=[5, 8],
                   help="multistep: the epochs (counted from 0) at which the lr is "
                        "multiplied by --gamma")
    g.add_argument("--t-max", type=int, default=None,
                   help="cosine: epochs from --lr down to --eta-min (T_max) "
                        "(default: --epochs)")
    g.add_argument("--eta-min", type=float, default=0.0, help="cosine: the lowest lr")
    g.add_argument("--factor", type=float, default=0.1,
                   help="plateau: the factor the lr is multiplied by when the validation "
                        "loss stops improving")
    g.add_argument("--patience", type=int, default=1,
                   help="plateau: validations without improvement (two per epoch) "
                        "tolerated; the next one lowers the lr. Keep it below "
                        "--early-stop-count - 2, or early stopping comes first")
    return parser


def check_training_args(args):
    """Refuse impossible hyperparameters before any work starts.

    Raises
    ------
    ValueError
        One line naming every problem (:func:`run_main` prints it as ``error: ...``).
    """
    problems = []
    if args.batch_size <= 0:
        problems.append(f"--batch-size must be positive, got {args.batch_size}")
    if not args.lr > 0:
        problems.append(f"--lr must be positive, got {args.lr}")
    if args.epochs <= 0:
        problems.append(f"--epochs must be positive, got {args.epochs}")
    if args.early_stop_count < 1:
        problems.append(f"--early-stop-count must be >= 1, got {args.early_stop_count}")
    if not 0 < args.val_fraction < 1:
        problems.append(f"--val-fraction must be in (0, 1), got {args.val_fraction}")
    if args.momentum < 0 or args.weight_decay < 0:
        problems.append("--momentum and --weight-decay must be >= 0")
    if any(s <= 0 for s in args.std):
        problems.append(f"--std must be positive, got {args.std}")
    if args.limit is not None and args.limit <= 0:
        problems.append(f"--limit must be positive, got {args.limit}")
    if getattr(args, "eval_limit", None) is not None and args.eval_limit <= 0:
        problems.append(f"--eval-limit must be positive, got {args.eval_limit}")
    if args.image_size < 8:
        problems.append(f"--image-size must be at least 8, got {args.image_size}")
    problems.extend(_scheduler_problems(args))
    for name in ("dropout",):
        value = getattr(args, name, None)
        if value is not None and not 0 <= value < 1:
            problems.append(f"--{name} must be in [0, 1), got {value}")
    if getattr(args, "resume", False) and getattr(args, "overwrite", False):
        problems.append("--resume continues the run in --out and --overwrite replaces it: "
                        "give one of them")
    if problems:
        raise ValueError("; ".join(problems))


def _scheduler_problems(args):
    """What is wrong with the ``--scheduler`` flags (when the parser has them)."""
    problems = []
    if getattr(args, "scheduler", "none") not in SCHEDULERS:
        problems.append(f"--scheduler must be one of {', '.join(SCHEDULERS)}, got "
                        f"{args.scheduler!r}")
    checks = [("step_size", lambda v: v >= 1, ">= 1"), ("gamma", lambda v: v > 0, "positive"),
              ("t_max", lambda v: v is None or v >= 1, ">= 1"),
              ("eta_min", lambda v: v >= 0, ">= 0"),
              ("factor", lambda v: 0 <= v < 1, "in [0, 1)"),
              ("patience", lambda v: v >= 0, ">= 0"),
              ("milestones", lambda v: all(m >= 0 for m in v), ">= 0")]
    for name, ok, what in checks:
        if hasattr(args, name) and not ok(getattr(args, name)):
            problems.append(f"--{name.replace('_', '-')} must be {what}, got "
                            f"{getattr(args, name)}")
    return problems


def make_scheduler(args, optimizer):
    """The learning-rate scheduler ``--scheduler`` names, on ``optimizer`` (None for
    ``none``, or when ``args`` has no ``scheduler``)::

        step         StepLR(step_size=--step-size, gamma=--gamma)
        multistep    MultiStepLR(milestones=--milestones, gamma=--gamma)
        exponential  ExponentialLR(gamma=--gamma)
        cosine       CosineAnnealingLR(T_max=--t-max or --epochs, eta_min=--eta-min)
        plateau      ReduceLROnPlateau(factor=--factor, patience=--patience)

    The Trainer steps the epoch-based ones once per epoch and ``plateau`` after each
    validation with the validation loss.
    """
    from ..optim import lr_scheduler
    kind = getattr(args, "scheduler", "none")
    if kind == "none":
        return None
    if kind == "step":
        return lr_scheduler.StepLR(optimizer, step_size=args.step_size, gamma=args.gamma)
    if kind == "multistep":
        return lr_scheduler.MultiStepLR(optimizer, milestones=args.milestones,
                                        gamma=args.gamma)
    if kind == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=args.gamma)
    if kind == "cosine":
        return lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=args.t_max if args.t_max is not None else args.epochs,
            eta_min=args.eta_min)
    if kind == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, factor=args.factor,
                                              patience=args.patience)
    raise ValueError(f"unknown scheduler {kind!r}; one of {', '.join(SCHEDULERS)}")


def make_optimizer(args, params):
    from .. import optim
    if args.optimizer == "sgd":
        return optim.SGD(params, lr=args.lr, momentum=args.momentum,
                         weight_decay=args.weight_decay)
    if args.optimizer == "adam":
        return optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)
    return optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)


def cifar10_loaders(args, augment=(), eval_batch_size=256):
    """Train (augmented, shuffled, drop_last), validation, test and train-evaluation loaders.

    ``augment`` are uint8 batch transforms (crop, flip, rotation) applied before
    ToFloat + Normalize (+ Resize when ``--image-size`` differs from 32).

    Sizes: ``--limit N`` trains on a seeded random N of the training split, validates on
    ``N // 9`` images (the 1:9 ratio of ``--val-fraction 0.1``) and evaluates the final
    train and test numbers on at most N images each. ``--eval-limit M`` caps every
    evaluated split (train evaluation, validation, test) at M images instead. The subsets
    are seeded: validation and train evaluation by ``--seed``, the test subset by 0, so
    runs with different seeds are scored on the same test images.
    """
    from ..data import BatchIterator, load_cifar10, subset, train_val_split
    from ..data.transforms import Compose, Normalize, Resize, ToFloat

    # a given --data or $MINITORCH_CV_DATA is the only place looked: a typo fails at once
    data = load_cifar10(args.data, given_path_only=True)
    n_train = len(data.train_images)
    if args.limit is not None and args.limit > n_train:
        raise ValueError(f"--limit {args.limit} is larger than the training set "
                         f"({n_train} images)")
    train_idx, val_idx = train_val_split(n_train, args.val_fraction, seed=args.seed)
    if args.limit is not None:
        keep = subset(len(train_idx), args.limit, seed=args.seed)
        train_idx = train_idx[keep]
        # keep validation in proportion (10% of train -> 1 validation image per 9)
        n_val = min(len(val_idx), max(1, args.limit // 9))
        val_idx = val_idx[subset(len(val_idx), n_val, seed=args.seed)]
    eval_limit = getattr(args, "eval_limit", None)
    if eval_limit is not None and eval_limit < len(val_idx):
        val_idx = val_idx[subset(len(val_idx), eval_limit, seed=args.seed)]
    if eval_limit is None:
        eval_limit = args.limit                 # None: every image
    if len(train_idx) < args.batch_size:
        raise ValueError(f"{len(train_idx)} training images are fewer than one batch "
                         f"of {args.batch_size}")
    train_eval_idx = train_idx
    if eval_limit is not None and eval_limit < len(train_idx):
        train_eval_idx = train_idx[subset(len(train_idx), eval_limit, seed=args.seed)]
    test_idx = None                             # every test image
    if eval_limit is not None and eval_limit < len(data.test_images):
        test_idx = subset(len(data.test_images), eval_limit, seed=0)
    resize = [Resize(args.image_size)] if args.image_size != 32 else []
    to_input = [ToFloat(), Normalize(args.mean, args.std)] + resize
    train_tf = Compose(list(augment) + to_input)
    eval_tf = Compose(to_input)
    rng = np.random.default_rng(args.seed + 1)
    train = BatchIterator(data.train_images, data.train_labels, args.batch_size,
                          shuffle=True, drop_last=True, transform=train_tf, rng=rng,
                          indices=train_idx)
    val = BatchIterator(data.train_images, data.train_labels, eval_batch_size,
                        transform=eval_tf, indices=val_idx)
    test = BatchIterator(data.test_images, data.test_labels, eval_batch_size,
                         transform=eval_tf, indices=test_idx)
    train_eval = None if args.no_train_eval else BatchIterator(
        data.train_images, data.train_labels, eval_batch_size, transform=eval_tf,
        indices=train_eval_idx)
    return train, val, test, train_eval


def _versions():
    import numba
    return {"python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "machine": platform.machine(),
            "processor": platform.processor() or platform.machine()}


def resume_command(command):
    """``command`` with ``--resume`` (and without ``--overwrite``): the command that
    continues the run it started."""
    words = [w for w in shlex.split(command or "python ...") if w != "--overwrite"]
    if "--resume" not in words:
        words.append("--resume")
    return shlex.join(words)


#: How the examples' messages name a run folder's options: by their flags.
CLI_NAMES = RunFolderNames(resume="--resume", overwrite="--overwrite", folder="--out",
                           setting=cli_flag)


def run_training(args, model, augment=(), name="experiment", command=None, log=print,
                 notes=(), optimizer_factory=None, loss_fn=None):
    """Train ``model`` on CIFAR-10 as the seed did and write everything to ``args.out``.

    ``args.out`` is claimed as a run folder first (:class:`~.run_folder.RunFolder`): a
    folder that holds another run is refused unless ``args.resume`` or ``args.overwrite``,
    a live run's lock is respected, and a resume with other settings is refused. The
    folder is created only for a run that starts, and removed again if the start fails.

    ``notes`` are warnings a reader of the results must know (e.g. that pretrained
    weights saw the validation images): printed as ``warning: ...`` before training and
    again under the final numbers, and written into ``metrics.json`` under ``"notes"``.

    ``optimizer_factory(args, parameters)`` builds the optimizer (default:
    :func:`make_optimizer`) and ``loss_fn`` is the training loss (default:
    :class:`~minitorch_cv.nn.CrossEntropyLoss`): the exercise kit's ``train`` passes the
    student's own.

    Returns
    -------
    metrics : dict
        final train/val/test loss, accuracy and number of images evaluated
        (best-validation weights), epochs run, wall time, images per second, stop reason.
        After a divergence (``stop_kind`` "diverged") or a bad batch ("bad_input") the
        evaluation uses the best weights from before, and is empty when there are none.

    Raises
    ------
    ValueError, OSError
        Bad data, a refused run folder (:class:`~.run_folder.RunFolderError`), an unfit
        checkpoint (:class:`~.checkpoint.CheckpointError`).
    KeyboardInterrupt
        After logging the command that resumes the run.
    """
    check_training_args(args)
    folder = RunFolder(args.out, vars(args), resume=args.resume,
                       overwrite=getattr(args, "overwrite", False), command=command, log=log,
                       names=CLI_NAMES)
    run = _Run(args, model, name, command, log, tuple(notes), tuple(augment),
               optimizer_factory or make_optimizer, loss_fn)
    with folder:
        return run.train_in(folder)


@dataclass
class _Run:
    """One training run of an example: what it trains and how (``args``, the model, the
    optimizer factory and loss), how it reports (``name``, ``command``, ``log``, ``notes``)
    and, once started, its run folder and start time."""
    args: argparse.Namespace
    model: object
    name: str
    command: str | None
    log: Callable
    notes: tuple
    augment: tuple
    optimizer_factory: Callable
    loss_fn: object
    out: Path | None = None
    t_start: float = 0.0

    def train_in(self, folder):
        """Build the loaders, optimizer, scheduler and Trainer, start the run in
        ``folder``, train, evaluate and write the results; returns the metrics."""
        args, self.out, self.t_start = self.args, folder.path, time.perf_counter()
        train, val, test, train_eval = cifar10_loaders(args, self.augment)
        for note in self.notes:
            self.log(f"warning: {note}")
        optimizer = self.optimizer_factory(args, self.model.parameters())
        scheduler = make_scheduler(args, optimizer)
        self.log(f"{self.name}: {sum(p.data.size for p in self.model.parameters()):,} "
                 f"parameters, {train.num_examples} training / {val.num_examples} validation "
                 f"/ {test.num_examples} test images, {len(train)} steps per epoch")
        trainer = Trainer(self.model, optimizer, train, val, test, epochs=args.epochs,
                          early_stop_count=args.early_stop_count, out_dir=self.out,
                          loss_fn=self.loss_fn, resume=args.resume,
                          progress=not args.no_progress, log=self.log, scheduler=scheduler)
        folder.start()
        try:       # Ctrl-C while training or evaluating: say how to continue
            return self.fit_and_report(trainer, train_eval)
        except KeyboardInterrupt:
            if trainer.checkpoint_step is not None:
                self.log(f"resume with: {resume_command(self.command)}")
            else:
                words = [w for w in shlex.split(self.command or "python ...")
                         if w != "--overwrite"]
                self.log(f"nothing to resume yet; start again with: {shlex.join(words)}")
            raise

    def fit_and_report(self, trainer, train_eval):
        history = trainer.fit()
        if trainer.failed and trainer.best_state is not None:
            self.log(f"final evaluation with the best weights (step {trainer.best_step}), "
                     "from before the run stopped")
        results = trainer.final_evaluation(train_eval)
        metrics = self.metrics(trainer, results, train_eval)
        self.write(history, metrics)
        self.report(metrics, results)
        return metrics

    def metrics(self, trainer, results, train_eval):
        """The contents of ``metrics.json``."""
        h, best = trainer.history, trainer.best_val_loss
        evaluated = {"train": train_eval, "val": trainer.val_loader, "test": trainer.test_loader}
        metrics = {
            "name": self.name,
            "command": self.command,
            **{split: {"loss": v[0], "accuracy": v[1], "images": evaluated[split].num_examples}
               for split, v in results.items()},
            "best_val_loss": best if best != float("inf") else None,
            "epochs_run": h["epochs_run"], "steps": trainer.global_step,
            "stop_reason": h["stop_reason"], "stop_kind": h.get("stop_kind"),
            "stop_step": h.get("stop_step"),
            "wall_seconds": time.perf_counter() - self.t_start,
            "train_seconds": h["train_seconds"],
            "train_images_per_second": h["images_seen"] / max(h["train_seconds"], 1e-9),
            "hyperparameters": dict(vars(self.args)),
            "versions": _versions(),
        }
        if self.notes:
            metrics["notes"] = list(self.notes)
        return metrics

    def write(self, history, metrics):
        """``history.json``, ``metrics.json`` and the curves into the run folder."""
        atomic_write_json(self.out / "history.json", history)
        atomic_write_json(self.out / "metrics.json", metrics)
        from .. import viz
        if history["train"]["step"]:
            viz.save_figure(viz.plot_loss(history, title=f"{self.name}: training and "
                                          "validation loss"), self.out / "loss.png")
        if history["val"]["step"]:
            viz.save_figure(viz.plot_accuracy(history, title=f"{self.name}: validation "
                                              "accuracy"), self.out / "accuracy.png")

    def report(self, metrics, results):
        """The closing lines: the final numbers, the notes again, the files written."""
        summary = ", ".join(f"{k} loss {metrics[k]['loss']:.3f} acc "
                            f"{metrics[k]['accuracy']:.4f} ({metrics[k]['images']} images)"
                            for k in ("train", "val", "test") if k in metrics)
        if not results:
            summary = "no final evaluation (no best weights)"
        self.log(f"{self.name}: {summary}; {metrics['epochs_run']:.2f} epochs, "
                 f"{metrics['wall_seconds']:.0f} s, {metrics['train_images_per_second']:.0f} "
                 f"img/s ({metrics['stop_reason']})")
        for note in self.notes:
            self.log(f"warning: {note}")
        written = [n for n in ("metrics.json", "history.json", "best.npz", "checkpoint.npz",
                               "loss.png", "accuracy.png") if (self.out / n).exists()]
        self.log(f"wrote {self.out}/{', '.join(written)}")


def _one_line(err):
    text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    return text or type(err).__name__


def run_main(main, argv=None):
    """Run an example's ``main(argv)`` and return the process's exit status.

    0: done. 1: the run stopped early because it failed (diverged, a bad batch); its
    results are recorded and the reason is printed as ``error: ...``. 2: it could not
    start or continue (bad data, weights, run folder, resume; ``ValueError`` or
    ``OSError``): ``error: <message>`` on one line, no traceback. 130: Ctrl-C, after the
    run printed the command that resumes it.
    """
    try:
        result = main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2
    if isinstance(result, dict) and result.get("stop_kind") in FAILED_STOPS:
        print(f"error: {result['stop_reason']}", file=sys.stderr)
        return 1
    return 0
