"""What the example scripts share: command-line flags, CIFAR-10 loaders, a run that trains,
evaluates and writes the results into a run folder (docs/runs.md), and :func:`run_main`,
which turns an example's outcome into one line and an exit status.
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

__all__ = ["DefaultsHelpFormatter", "check_training_args", "cifar10_loaders", "make_optimizer",
           "make_scheduler", "resume_command", "run_main", "run_training", "show_default",
           "training_parser"]


def show_default(value):
    """A default as ``--help`` shows it: a list as typed (``0.5 0.5``), False as ``off``."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


class DefaultsHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` with the description as written and `` (default: VALUE)`` after every
    option's help text that does not give its default in words (give every option one)."""

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


# The flags of training_parser, in --help order: (flag, add_argument's options, help); the
# example's defaults are filled in there
_TRAINING_FLAGS = (
    ("--data", {"default": None}, ("CIFAR-10 folder or archive (default: $MINITORCH_CV_DATA, then "
     "the user cache, then a download)")),
    ("--out", {}, "output folder"),
    ("--optimizer", {"choices": ("sgd", "adam", "adamw")}, ("torch.optim's update rule: sgd (with "
     "--momentum), adam or adamw")),
    ("--lr", {"type": float}, "learning rate"),
    ("--momentum", {"type": float, "default": 0.0}, "SGD momentum (adam and adamw ignore it)"),
    ("--weight-decay", {"type": float, "default": 0.0}, ("weight decay: an L2 term in the "
     "gradient (sgd, adam) or decoupled from it (adamw), as torch.optim")),
    ("--batch-size", {"type": int}, "training images per step (evaluation uses batches of 256)"),
    ("--epochs", {"type": int}, "passes over the training set (early stopping may end sooner)"),
    ("--early-stop-count", {"type": int}, ("stop when the first of this many last validation "
     "losses is the smallest")),
    ("--val-fraction", {"type": float, "default": 0.1}, ("share of the training set held out for "
     "validation")),
    ("--mean", {"type": float, "nargs": "+"}, ("Normalize mean (one value or one per channel, "
     "pixels in [0, 1])")),
    ("--std", {"type": float, "nargs": "+"}, "Normalize std"),
    ("--image-size", {"type": int}, "resize images to this size (bilinear) before the network"),
    ("--seed", {"type": int, "default": 0}, ("seeds the weights, the split, shuffling, "
     "augmentation and dropout")),
    ("--limit", {"type": int, "default": None, "metavar": "N"}, ("train on a random (seeded) "
     "subset of N training images; the validation set shrinks in proportion (N // 9 images) and "
     "the final evaluation to --eval-limit (default: every training image)")),
    ("--eval-limit", {"type": int, "default": None, "metavar": "N"}, ("evaluate on at most N "
     "images per split (seeded random subsets; the test subset is the same for every --seed): the "
     "final train, validation and test numbers and the validation set used during training "
     "(default: with --limit N, N for train and test and N // 9 for validation; without --limit, "
     "every image)")),
    ("--no-train-eval", {"action": "store_true"}, "skip the final evaluation on the training set"),
    ("--resume", {"action": "store_true"}, ("continue the run in --out from its checkpoint "
     "(refused when a setting differs from the run's, except --epochs may grow; "
     "see docs/runs.md)")),
    ("--overwrite", {"action": "store_true"}, ("replace the run in --out: its files are deleted "
     "when this run starts (without --resume or --overwrite, an --out that holds a run is "
     "refused)")),
    ("--no-progress", {"action": "store_true"}, ("no progress bar (a line per validation is "
     "printed either way)")),
)


def training_parser(description, *, lr, batch_size=64, epochs=10, early_stop_count=4,
                    optimizer="sgd", out="runs/experiment", image_size=32,
                    mean=(0.5,), std=(0.25,)):
    """An argparse parser with a flag for every hyperparameter, the seed's values as
    defaults (override them per example), formatted by :class:`DefaultsHelpFormatter`."""
    p = argparse.ArgumentParser(description=description, formatter_class=DefaultsHelpFormatter)
    defaults = {"out": out, "optimizer": optimizer, "lr": lr, "batch_size": batch_size,
                "epochs": epochs, "early_stop_count": early_stop_count, "mean": list(mean),
                "std": list(std), "image_size": image_size}
    for flag, options, text in _TRAINING_FLAGS:
        dest = flag[2:].replace("-", "_")
        if dest in defaults:
            options = {**options, "default": defaults[dest]}
        p.add_argument(flag, **options, help=text)
    group = p.add_argument_group(
        "learning-rate schedule",
        "The lr changes during training: step, multistep, exponential and cosine\n"
        "once per epoch; plateau after every validation (two per epoch), with the\n"
        "validation loss. history.json records the lr per validation (val.lr).")
    for flag, options, text in _SCHEDULER_FLAGS:
        group.add_argument(flag, **options, help=text)
    return p


SCHEDULERS = ("none", "step", "multistep", "exponential", "cosine", "plateau")

_SCHEDULER_FLAGS = (
    ("--scheduler", {"choices": SCHEDULERS, "default": "none"}, ("none: --lr throughout (the "
     "seed's recipe); step: StepLR; multistep: MultiStepLR; exponential: ExponentialLR; cosine: "
     "CosineAnnealingLR; plateau: ReduceLROnPlateau")),
    ("--step-size", {"type": int, "default": 5}, ("step: multiply the lr by --gamma every this "
     "many epochs")),
    ("--gamma", {"type": float, "default": 0.1}, ("step, multistep, exponential: the factor the "
     "lr is multiplied by (exponential applies it every epoch: try 0.9)")),
    ("--milestones", {"type": int, "nargs": "+", "default": [5, 8]}, ("multistep: the epochs "
     "(counted from 0) at which the lr is multiplied by --gamma")),
    ("--t-max", {"type": int, "default": None}, ("cosine: epochs from --lr down to --eta-min "
     "(T_max) (default: --epochs)")),
    ("--eta-min", {"type": float, "default": 0.0}, "cosine: the lowest lr"),
    ("--factor", {"type": float, "default": 0.1}, ("plateau: the factor the lr is multiplied by "
     "when the validation loss stops improving")),
    ("--patience", {"type": int, "default": 1}, ("plateau: validations without improvement (two "
     "per epoch) tolerated; the next one lowers the lr. Keep it below --early-stop-count - 2, or "
     "early stopping comes first")),
)


# (dest or dests, test, what it must be), checked when the values are there (not None)
_ARGUMENT_CHECKS = (
    ("batch_size", lambda v: v > 0, "positive"),
    ("lr", lambda v: v > 0, "positive"),
    ("epochs", lambda v: v > 0, "positive"),
    ("early_stop_count", lambda v: v >= 1, ">= 1"),
    ("val_fraction", lambda v: 0 < v < 1, "in (0, 1)"),
    (("momentum", "weight_decay"), lambda m, w: not (m < 0 or w < 0), ">= 0"),
    ("std", lambda v: not any(s <= 0 for s in v), "positive"),
    ("limit", lambda v: v > 0, "positive"),
    ("eval_limit", lambda v: v > 0, "positive"),
    ("image_size", lambda v: v >= 8, "at least 8"),
    ("scheduler", lambda v: v in SCHEDULERS, f"one of {', '.join(SCHEDULERS)}"),
    ("step_size", lambda v: v >= 1, ">= 1"),
    ("gamma", lambda v: v > 0, "positive"),
    ("t_max", lambda v: v >= 1, ">= 1"),
    ("eta_min", lambda v: v >= 0, ">= 0"),
    ("factor", lambda v: 0 <= v < 1, "in [0, 1)"),
    ("patience", lambda v: v >= 0, ">= 0"),
    ("milestones", lambda v: all(m >= 0 for m in v), ">= 0"),
    ("dropout", lambda v: 0 <= v < 1, "in [0, 1)"),
)


def check_training_args(args):
    """Refuse impossible hyperparameters before any work: one ValueError names them all."""
    problems = []
    for dests, ok, what in _ARGUMENT_CHECKS:
        dests = (dests,) if isinstance(dests, str) else dests
        values = [getattr(args, dest, None) for dest in dests]
        if None in values or ok(*values):
            continue
        got = f", got {values[0]!r}" if len(values) == 1 else ""
        problems.append(f"{' and '.join(map(cli_flag, dests))} must be {what}{got}")
    if getattr(args, "resume", False) and getattr(args, "overwrite", False):
        problems.append("--resume continues the run in --out and --overwrite replaces it: "
                        "give one of them")
    if problems:
        raise ValueError("; ".join(problems))


def make_scheduler(args, optimizer):
    """The scheduler ``--scheduler`` names (None for ``none`` or without the flag), on
    ``optimizer``, with its flags' values (``cosine``: ``T_max`` ``--t-max`` or ``--epochs``)."""
    from ..optim import lr_scheduler
    kind = getattr(args, "scheduler", "none")
    build = {
        "none": lambda: None,
        "step": lambda: lr_scheduler.StepLR(optimizer, step_size=args.step_size,
                                            gamma=args.gamma),
        "multistep": lambda: lr_scheduler.MultiStepLR(optimizer, milestones=args.milestones,
                                                      gamma=args.gamma),
        "exponential": lambda: lr_scheduler.ExponentialLR(optimizer, gamma=args.gamma),
        "cosine": lambda: lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=args.t_max if args.t_max is not None else args.epochs,
            eta_min=args.eta_min),
        "plateau": lambda: lr_scheduler.ReduceLROnPlateau(optimizer, factor=args.factor,
                                                          patience=args.patience),
    }
    if kind not in build:
        raise ValueError(f"unknown scheduler {kind!r}; one of {', '.join(SCHEDULERS)}")
    return build[kind]()


def make_optimizer(args, params):
    from .. import optim
    if args.optimizer == "sgd":
        return optim.SGD(params, lr=args.lr, momentum=args.momentum,
                         weight_decay=args.weight_decay)
    adam = optim.Adam if args.optimizer == "adam" else optim.AdamW
    return adam(params, lr=args.lr, weight_decay=args.weight_decay)


def cifar10_loaders(args, augment=(), eval_batch_size=256):
    """Train (``augment``, shuffled, drop_last), validation, test and train-evaluation
    loaders, subsets as the ``--limit`` and ``--eval-limit`` flags say."""
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
    def capped(indices, limit):                 # a seeded subset of at most limit indices
        if limit is None or limit >= len(indices):
            return indices
        return indices[subset(len(indices), limit, seed=args.seed)]

    eval_limit = getattr(args, "eval_limit", None)
    val_idx = capped(val_idx, eval_limit)
    if eval_limit is None:
        eval_limit = args.limit                 # None: every image
    if len(train_idx) < args.batch_size:
        raise ValueError(f"{len(train_idx)} training images are fewer than one batch "
                         f"of {args.batch_size}")
    train_eval_idx = capped(train_idx, eval_limit)
    test_idx = None                             # every test image
    if eval_limit is not None and eval_limit < len(data.test_images):
        test_idx = subset(len(data.test_images), eval_limit, seed=0)
    resize = [Resize(args.image_size)] if args.image_size != 32 else []
    to_input = [ToFloat(), Normalize(args.mean, args.std)] + resize
    eval_tf = Compose(to_input)
    train = BatchIterator(data.train_images, data.train_labels, args.batch_size,
                          shuffle=True, drop_last=True, transform=Compose(list(augment) + to_input),
                          rng=np.random.default_rng(args.seed + 1), indices=train_idx)
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


def _without_overwrite(command):
    return [w for w in shlex.split(command or "python ...") if w != "--overwrite"]


def resume_command(command):
    """The command that continues the run ``command`` started (with ``--resume``)."""
    words = _without_overwrite(command)
    return shlex.join(words if "--resume" in words else [*words, "--resume"])


#: How the examples' messages name a run folder's options: by their flags.
CLI_NAMES = RunFolderNames(resume="--resume", overwrite="--overwrite", folder="--out",
                           setting=cli_flag)


def run_training(args, model, augment=(), name="experiment", command=None, log=print,
                 notes=(), optimizer_factory=None, loss_fn=None):
    """Train ``model`` on CIFAR-10 as the seed did and write everything to ``args.out``.

    ``args.out`` is claimed as a run folder first (:class:`~.run_folder.RunFolder`).
    ``notes`` are warnings a reader of the results must know (e.g. that pretrained weights
    saw the validation images), logged and written into ``metrics.json``.
    ``optimizer_factory(args, parameters)`` defaults to :func:`make_optimizer`. Returns the
    metrics; Ctrl-C logs how to resume first.
    """
    check_training_args(args)
    folder = RunFolder(args.out, vars(args), resume=args.resume,
                       overwrite=getattr(args, "overwrite", False), command=command, log=log,
                       names=CLI_NAMES)
    run = _Run(args, name, command, log, tuple(notes))
    with folder:
        return run.train_in(folder, model, augment, optimizer_factory or make_optimizer, loss_fn)


@dataclass
class _Run:
    """One training run of an example: what it trains and how it reports."""
    args: argparse.Namespace
    name: str
    command: str | None
    log: Callable
    notes: tuple
    out: Path | None = None
    t_start: float = 0.0

    def train_in(self, folder, model, augment, optimizer_factory, loss_fn):
        """Build the loaders, optimizer, scheduler and Trainer, and run in ``folder``."""
        args, self.out, self.t_start = self.args, folder.path, time.perf_counter()
        train, val, test, train_eval = cifar10_loaders(args, tuple(augment))
        for note in self.notes:
            self.log(f"warning: {note}")
        optimizer = optimizer_factory(args, model.parameters())
        scheduler = make_scheduler(args, optimizer)
        self.log(f"{self.name}: {sum(p.data.size for p in model.parameters()):,} "
                 f"parameters, {train.num_examples} training / {val.num_examples} validation "
                 f"/ {test.num_examples} test images, {len(train)} steps per epoch")
        trainer = Trainer(model, optimizer, train, val, test, epochs=args.epochs,
                          early_stop_count=args.early_stop_count, out_dir=self.out,
                          loss_fn=loss_fn, resume=args.resume,
                          progress=not args.no_progress, log=self.log, scheduler=scheduler)
        folder.start()
        try:       # Ctrl-C while training or evaluating: say how to continue
            history = trainer.fit()
            if trainer.failed and trainer.best_state is not None:
                self.log(f"final evaluation with the best weights (step {trainer.best_step}), "
                         "from before the run stopped")
            results = trainer.final_evaluation(train_eval)
            metrics = self.metrics(trainer, results, train_eval)
            self.write(history, metrics)
            self.report(metrics, results)
            return metrics
        except KeyboardInterrupt:
            if trainer.checkpoint_step is not None:
                self.log(f"resume with: {resume_command(self.command)}")
            else:
                self.log("nothing to resume yet; start again with: "
                         f"{shlex.join(_without_overwrite(self.command))}")
            raise

    def metrics(self, trainer, results, train_eval):
        h, best = trainer.history, trainer.best_val_loss
        evaluated = {"train": train_eval, "val": trainer.val_loader, "test": trainer.test_loader}
        metrics = {
            "name": self.name, "command": self.command,
            **{split: {"loss": v[0], "accuracy": v[1], "images": evaluated[split].num_examples}
               for split, v in results.items()},
            "best_val_loss": best if best != float("inf") else None,
            "epochs_run": h["epochs_run"], "steps": trainer.global_step,
            "stop_reason": h["stop_reason"], "stop_kind": h.get("stop_kind"),
            "stop_step": h.get("stop_step"), "wall_seconds": time.perf_counter() - self.t_start,
            "train_seconds": h["train_seconds"],
            "train_images_per_second": h["images_seen"] / max(h["train_seconds"], 1e-9),
            "hyperparameters": dict(vars(self.args)), "versions": _versions(),
        }
        if self.notes:
            metrics["notes"] = list(self.notes)
        return metrics

    def write(self, history, metrics):
        atomic_write_json(self.out / "history.json", history)
        atomic_write_json(self.out / "metrics.json", metrics)
        from .. import viz
        plots = (("train", viz.plot_loss, "training and validation loss", "loss.png"),
                 ("val", viz.plot_accuracy, "validation accuracy", "accuracy.png"))
        for split, plot, what, file in plots:
            if history[split]["step"]:
                viz.save_figure(plot(history, title=f"{self.name}: {what}"), self.out / file)

    def report(self, metrics, results):
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


def run_main(main, argv=None):
    """Run an example's ``main(argv)`` and return the process's exit status.

    0: done. 1: the run failed (diverged, a bad batch), its results recorded. 2: it could
    not start or continue (a ``ValueError`` or ``OSError``). Both print ``error: ...`` on
    one line, no traceback. 130: Ctrl-C, after the run printed how to resume it.
    """
    try:
        result = main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as err:
        text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
        print(f"error: {text or type(err).__name__}", file=sys.stderr)
        return 2
    if isinstance(result, dict) and result.get("stop_kind") in FAILED_STOPS:
        print(f"error: {result['stop_reason']}", file=sys.stderr)
        return 1
    return 0
