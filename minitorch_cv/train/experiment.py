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
import time

import numpy as np

from .run_folder import RunFolder
from .trainer import FAILED_STOPS, Trainer, atomic_write_json

__all__ = [
    "check_training_args",
    "cifar10_loaders",
    "make_optimizer",
    "resume_command",
    "run_main",
    "run_training",
    "training_parser",
]


def training_parser(description, *, lr, batch_size=64, epochs=10, early_stop_count=4,
                    optimizer="sgd", out="runs/experiment", image_size=32,
                    mean=(0.5,), std=(0.25,)):
    """An argparse parser with a flag for every hyperparameter, the seed's values as
    defaults (override them per example)."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default=None,
                   help="CIFAR-10 folder or archive (default: $MINITORCH_CV_DATA, then the "
                        "user cache, then a download)")
    p.add_argument("--out", default=out, help="output folder")
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default=optimizer)
    p.add_argument("--lr", type=float, default=lr, help="learning rate")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--epochs", type=int, default=epochs)
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
    p.add_argument("--limit", type=int, default=None,
                   help="train on a random (seeded) subset of N training images")
    p.add_argument("--no-train-eval", action="store_true",
                   help="skip the final evaluation on the whole training set")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint (refused when a setting "
                        "differs from the run's, except --epochs may grow; see docs/runs.md)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run in --out: its files are deleted when this run "
                        "starts (without --resume or --overwrite, an --out that holds a run "
                        "is refused)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


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
    if args.image_size < 8:
        problems.append(f"--image-size must be at least 8, got {args.image_size}")
    for name in ("dropout",):
        value = getattr(args, name, None)
        if value is not None and not 0 <= value < 1:
            problems.append(f"--{name} must be in [0, 1), got {value}")
    if getattr(args, "resume", False) and getattr(args, "overwrite", False):
        problems.append("--resume continues the run in --out and --overwrite replaces it: "
                        "give one of them")
    if problems:
        raise ValueError("; ".join(problems))


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
    if len(train_idx) < args.batch_size:
        raise ValueError(f"{len(train_idx)} training images are fewer than one batch "
                         f"of {args.batch_size}")
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
                         transform=eval_tf)
    train_eval = None if args.no_train_eval else BatchIterator(
        data.train_images, data.train_labels, eval_batch_size, transform=eval_tf,
        indices=train_idx)
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


def run_training(args, model, augment=(), name="experiment", command=None, log=print):
    """Train ``model`` on CIFAR-10 as the seed did and write everything to ``args.out``.

    ``args.out`` is claimed as a run folder first (:class:`~.run_folder.RunFolder`): a
    folder that holds another run is refused unless ``args.resume`` or ``args.overwrite``,
    a live run's lock is respected, and a resume with other settings is refused. The
    folder is created only for a run that starts, and removed again if the start fails.

    Returns
    -------
    metrics : dict
        final train/val/test loss and accuracy (best-validation weights), epochs run,
        wall time, images per second, stop reason. After a divergence (``stop_kind``
        "diverged") or a bad batch ("bad_input") the evaluation uses the best weights
        from before, and is empty when there are none.

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
                       overwrite=getattr(args, "overwrite", False), command=command, log=log)
    with folder:
        return _train_in(folder, args, model, augment, name, command, log)


def _train_in(folder, args, model, augment, name, command, log):
    out = folder.path
    t_start = time.perf_counter()
    train, val, test, train_eval = cifar10_loaders(args, augment)
    optimizer = make_optimizer(args, model.parameters())
    log(f"{name}: {sum(p.data.size for p in model.parameters()):,} parameters, "
        f"{train.num_examples} training / {val.num_examples} validation / "
        f"{test.num_examples} test images, {len(train)} steps per epoch")
    trainer = Trainer(model, optimizer, train, val, test, epochs=args.epochs,
                      early_stop_count=args.early_stop_count, out_dir=out,
                      resume=args.resume, progress=not args.no_progress, log=log)
    folder.start()
    try:       # Ctrl-C while training or evaluating: say how to continue
        return _fit_and_report(trainer, out, args, train_eval, name, command, log, t_start)
    except KeyboardInterrupt:
        if trainer.checkpoint_step is not None:
            log(f"resume with: {resume_command(command)}")
        else:
            words = [w for w in shlex.split(command or "python ...") if w != "--overwrite"]
            log(f"nothing to resume yet; start again with: {shlex.join(words)}")
        raise


def _fit_and_report(trainer, out, args, train_eval, name, command, log, t_start):
    history = trainer.fit()
    if trainer.failed and trainer.best_state is not None:
        log(f"final evaluation with the best weights (step {trainer.best_step}), from "
            "before the run stopped")
    results = trainer.final_evaluation(train_eval)
    wall = time.perf_counter() - t_start
    h = trainer.history
    best = trainer.best_val_loss
    metrics = {
        "name": name,
        "command": command,
        **{split: {"loss": v[0], "accuracy": v[1]} for split, v in results.items()},
        "best_val_loss": best if best != float("inf") else None,
        "epochs_run": h["epochs_run"], "steps": trainer.global_step,
        "stop_reason": h["stop_reason"], "stop_kind": h.get("stop_kind"),
        "stop_step": h.get("stop_step"),
        "wall_seconds": wall, "train_seconds": h["train_seconds"],
        "train_images_per_second": h["images_seen"] / max(h["train_seconds"], 1e-9),
        "hyperparameters": {k: v for k, v in vars(args).items()},
        "versions": _versions(),
    }
    atomic_write_json(out / "history.json", history)
    atomic_write_json(out / "metrics.json", metrics)
    from .. import viz
    if history["train"]["step"]:
        viz.save_figure(viz.plot_loss(history, title=f"{name}: training and validation loss"),
                        out / "loss.png")
    if history["val"]["step"]:
        viz.save_figure(viz.plot_accuracy(history, title=f"{name}: validation accuracy"),
                        out / "accuracy.png")
    summary = ", ".join(f"{k} loss {metrics[k]['loss']:.3f} acc {metrics[k]['accuracy']:.4f}"
                        for k in ("train", "val", "test") if k in metrics)
    if not results:
        summary = "no final evaluation (no best weights)"
    log(f"{name}: {summary}; {h['epochs_run']:.2f} epochs, {wall:.0f} s, "
        f"{metrics['train_images_per_second']:.0f} img/s ({h['stop_reason']})")
    written = [n for n in ("metrics.json", "history.json", "best.npz", "checkpoint.npz",
                           "loss.png", "accuracy.png") if (out / n).exists()]
    log(f"wrote {out}/{', '.join(written)}")
    return metrics


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
