"""Task 3 of the seed report: Network 1, Network 2 or the improved network on CIFAR-10.

    MINITORCH_CV_DATA=../shared/data python examples/task3.py --network 1
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
    "none": list,
    "crop+flip": lambda: [RandomCrop(32, padding=4), RandomHorizontalFlip()],
    "rotate+flip": lambda: [RandomRotation(10), RandomHorizontalFlip()],
    "flip": lambda: [RandomHorizontalFlip()],
}


def parse_args(argv=None):
    first = argv if argv is not None else sys.argv[1:]
    pre = training_parser("", lr=0.0)
    pre.add_argument("--network", choices=sorted(RECIPES), default="1")
    known, _ = pre.parse_known_args(first)
    recipe = RECIPES[known.network]
    parser = training_parser(__doc__.splitlines()[0], lr=recipe["lr"],
                             out=f"runs/task3_{NAMES[known.network]}")
    parser.add_argument("--network", choices=sorted(RECIPES), default="1",
                        help="which of the seed's networks")
    parser.add_argument("--dropout", type=float, default=recipe["dropout"],
                        help="dropout probability (p = probability of dropping)")
    parser.add_argument("--augment", choices=sorted(AUGMENTATIONS),
                        default=recipe["augment"], help="training-set augmentation")
    return parser.parse_args(argv)


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
