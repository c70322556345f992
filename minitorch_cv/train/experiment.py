"""What the example scripts share: command-line flags, CIFAR-10 loaders, and one function
that trains, evaluates and writes ``history.json``, ``metrics.json``, ``best.npz`` and the
plots into the output folder.

An example (``examples/task2.py``) only builds its model, optimizer and augmentation.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from .trainer import Trainer, atomic_write_json

__all__ = [
    "check_training_args",
    "cifar10_loaders",
    "make_optimizer",
    "make_scheduler",
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
                   help="continue from the checkpoint in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_scheduler_arguments(p)
    return p


SCHEDULERS = ("none", "step", "multistep", "exponential", "cosine", "plateau")


def add_scheduler_arguments(parser):
    """``--scheduler`` and its parameters (torch.optim.lr_scheduler's, see
    :func:`make_scheduler`), as their own group in ``--help``."""
    g = parser.add_argument_group(
        "learning-rate schedule",
        "--scheduler changes the lr during training: step, multistep, exponential and "
        "cosine once per epoch; plateau after every validation (two per epoch), with the "
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
                   help="cosine: epochs from --lr down to --eta-min (T_max); None means "
                        "--epochs")
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
    """Refuse impossible hyperparameters before any work starts."""
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
    problems.extend(_scheduler_problems(args))
    for name in ("dropout",):
        value = getattr(args, name, None)
        if value is not None and not 0 <= value < 1:
            problems.append(f"--{name} must be in [0, 1), got {value}")
    if problems:
        raise SystemExit("error: " + "; ".join(problems))


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
    """
    from ..data import BatchIterator, load_cifar10, subset, train_val_split
    from ..data.transforms import Compose, Normalize, Resize, ToFloat

    data = load_cifar10(args.data)
    n_train = len(data.train_images)
    if args.limit is not None and args.limit > n_train:
        raise SystemExit(f"error: --limit {args.limit} is larger than the training set "
                         f"({n_train} images)")
    train_idx, val_idx = train_val_split(n_train, args.val_fraction, seed=args.seed)
    if args.limit is not None:
        keep = subset(len(train_idx), args.limit, seed=args.seed)
        train_idx = train_idx[keep]
        # keep validation in proportion (10% of train -> 1 validation image per 9)
        n_val = min(len(val_idx), max(1, args.limit // 9))
        val_idx = val_idx[subset(len(val_idx), n_val, seed=args.seed)]
    if len(train_idx) < args.batch_size:
        raise SystemExit(f"error: {len(train_idx)} training images are fewer than one batch "
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


def run_training(args, model, augment=(), name="experiment", command=None, log=print):
    """Train ``model`` on CIFAR-10 as the seed did and write everything to ``args.out``.

    Returns
    -------
    metrics : dict
        final train/val/test loss and accuracy (best-validation weights), epochs run,
        wall time, images per second, stop reason.
    """
    check_training_args(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    train, val, test, train_eval = cifar10_loaders(args, augment)
    optimizer = make_optimizer(args, model.parameters())
    scheduler = make_scheduler(args, optimizer)
    log(f"{name}: {sum(p.data.size for p in model.parameters()):,} parameters, "
        f"{train.num_examples} training / {val.num_examples} validation / "
        f"{test.num_examples} test images, {len(train)} steps per epoch")
    trainer = Trainer(model, optimizer, train, val, test, epochs=args.epochs,
                      early_stop_count=args.early_stop_count, out_dir=out,
                      resume=args.resume, progress=not args.no_progress, log=log,
                      scheduler=scheduler)
    history = trainer.fit()
    results = trainer.final_evaluation(train_eval)
    wall = time.perf_counter() - t_start
    h = trainer.history
    metrics = {
        "name": name,
        "command": command,
        **{split: {"loss": v[0], "accuracy": v[1]} for split, v in results.items()},
        "best_val_loss": trainer.best_val_loss,
        "epochs_run": h["epochs_run"], "steps": trainer.global_step,
        "stop_reason": h["stop_reason"],
        "wall_seconds": wall, "train_seconds": h["train_seconds"],
        "train_images_per_second": h["images_seen"] / max(h["train_seconds"], 1e-9),
        "hyperparameters": {k: v for k, v in vars(args).items()},
        "versions": _versions(),
    }
    atomic_write_json(out / "history.json", history)
    atomic_write_json(out / "metrics.json", metrics)
    from .. import viz
    viz.save_figure(viz.plot_loss(history, title=f"{name}: training and validation loss"),
                    out / "loss.png")
    viz.save_figure(viz.plot_accuracy(history, title=f"{name}: validation accuracy"),
                    out / "accuracy.png")
    summary = ", ".join(f"{k} loss {metrics[k]['loss']:.3f} acc {metrics[k]['accuracy']:.4f}"
                        for k in ("train", "val", "test") if k in metrics)
    log(f"{name}: {summary}; {h['epochs_run']:.2f} epochs, {wall:.0f} s, "
        f"{metrics['train_images_per_second']:.0f} img/s ({h['stop_reason']})")
    log(f"wrote {out}/metrics.json, history.json, best.npz, loss.png, accuracy.png")
    return metrics
