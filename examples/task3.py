"""Task 3 of the seed report: Network 1, Network 2 or the improved network on CIFAR-10.

    MINITORCH_CV_DATA=/path/to/data python examples/task3.py --network 1
    python examples/task3.py --network improved
    python examples/task3.py --network 2 --limit 2000 --epochs 1     # a quick look

Defaults are the seed's recipe for the chosen network (all SGD, batch 64, 10 epochs,
early stop 4, Normalize mean 0.5 / std 0.25):

==========  =====  =======  ==========================================
network     lr     dropout  augmentation
==========  =====  =======  ==========================================
1           0.04   0.05     RandomCrop(32, padding=4) + horizontal flip
2           0.05   0.1      RandomCrop(32, padding=4) + horizontal flip
improved    0.035  0.05     RandomRotation(10) + horizontal flip
==========  =====  =======  ==========================================
"""

import shlex
import sys

from minitorch_cv import models, nn, tune_allocator
from minitorch_cv.data.transforms import RandomCrop, RandomHorizontalFlip, RandomRotation
from minitorch_cv.train.experiment import (
    check_training_args,
    run_main,
    run_training,
    training_parser,
)

RECIPES = {
    "1": {"build": models.network1, "lr": 0.04, "dropout": 0.05, "augment": "crop+flip"},
    "2": {"build": models.network2, "lr": 0.05, "dropout": 0.1, "augment": "crop+flip"},
    "improved": {"build": models.improved_network, "lr": 0.035, "dropout": 0.05,
                     "augment": "rotate+flip"},
}

NAMES = {"1": "network1", "2": "network2", "improved": "improved"}

AUGMENTATIONS = {
    "crop+flip": lambda: [RandomCrop(32, padding=4), RandomHorizontalFlip()],
    "rotate+flip": lambda: [RandomRotation(10), RandomHorizontalFlip()],
    "flip": lambda: [RandomHorizontalFlip()],
    "none": list,
}


def _option(parser, flag):
    return parser._option_string_actions[flag]


def _per_network(values, what="the network's recipe"):
    """``(default: ...)`` for a setting that depends on ``--network``."""
    listing = ", ".join(f"{network}: {value}" for network, value in values.items())
    return f"(default: {what}: {listing})"


def parser(network=None):
    """The command line. Defaults of ``--lr``, ``--dropout``, ``--augment`` and ``--out``
    are None, filled in from ``--network``'s recipe by :func:`parse_args` (``--help``
    lists them per network); ``network="1"`` gives a parser with Network 1's values as
    plain defaults (examples/task3d.py's, which always trains Network 1)."""
    recipe = RECIPES[network] if network else None
    p = training_parser(__doc__, lr=recipe["lr"] if recipe else None,
                        out=f"runs/task3_{NAMES[network]}" if recipe else None)
    p.add_argument("--network", choices=list(RECIPES), default=network or "1",
                   help="which of the seed's networks (the table above)")
    p.add_argument("--dropout", type=float, default=recipe["dropout"] if recipe else None,
                   help="dropout probability (p = probability of dropping)")
    p.add_argument("--augment", choices=list(AUGMENTATIONS),
                   default=recipe["augment"] if recipe else None,
                   help="training-set augmentation: crop+flip = RandomCrop(32, padding=4) + "
                        "horizontal flip, rotate+flip = RandomRotation(10) + horizontal "
                        "flip, flip, or none")
    if recipe is None:
        for flag, key in (("--lr", "lr"), ("--dropout", "dropout"), ("--augment", "augment")):
            _option(p, flag).help += " " + _per_network(
                {n: r[key] for n, r in RECIPES.items()})
        _option(p, "--out").help += " " + _per_network(
            {n: f"runs/task3_{name}" for n, name in NAMES.items()}, what="per network")
    return p


def parse_args(argv=None):
    """Parse the command line, then fill in what was not given from the chosen network's
    recipe, so the namespace (and metrics.json) holds the values really used."""
    args = parser().parse_args(argv)
    recipe = RECIPES[args.network]
    for key in ("lr", "dropout", "augment"):
        if getattr(args, key) is None:
            setattr(args, key, recipe[key])
    if args.out is None:
        args.out = f"runs/task3_{NAMES[args.network]}"
    return args


def main(argv=None):
    args = parse_args(argv)
    check_training_args(args)          # refuse impossible settings before any work
    recipe = RECIPES[args.network]
    model = recipe["build"](dropout=args.dropout, rng=nn.init.get_rng(args.seed))
    return run_training(args, model, augment=AUGMENTATIONS[args.augment](),
                        name=f"network {args.network}",
                        command=shlex.join(["python", "examples/task3.py",
                                            *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    # A training script may choose its process's allocator (the library never does):
    # freed activations stay in the heap for the next step, without page faults.
    tune_allocator()
    sys.exit(run_main(main))
