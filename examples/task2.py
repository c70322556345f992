"""Task 2 of the seed report: train the Table 1 network on CIFAR-10.

    MINITORCH_CV_DATA=/path/to/data python examples/task2.py            # seed's recipe
    python examples/task2.py --limit 2000 --epochs 1                     # a quick look
    python examples/task2.py --limit 2000 --eval-limit 10000             # quick, exact test

SGD lr 0.05, batch 64, 10 epochs, early stop 4, inputs normalized with mean 0.5 and std
0.25, no augmentation. Writes metrics.json, history.json, best.npz, loss.png (Figure 1) and
accuracy.png (Figure 2) to --out.
"""

import shlex
import sys

from minitorch_cv import models, nn, tune_allocator
from minitorch_cv.train.experiment import (
    check_training_args,
    run_main,
    run_training,
    training_parser,
)


def parser():
    """The command line: every flag of the seed's recipe (``--help`` shows its default)."""
    return training_parser(__doc__, lr=0.05, out="runs/task2")


def main(argv=None):
    args = parser().parse_args(argv)
    check_training_args(args)          # refuse impossible settings before any work
    model = models.task2_model(rng=nn.init.get_rng(args.seed))
    return run_training(args, model, augment=(), name="task2",
                        command=shlex.join(["python", "examples/task2.py",
                                            *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    # A training script may choose its process's allocator (the library never does):
    # freed activations stay in the heap for the next step, without page faults.
    tune_allocator()
    sys.exit(run_main(main))
