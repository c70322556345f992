"""Time of one Task 2 training step in a plain loop (no PyTorch in the process).

    python benchmarks/train_step_time.py                      # the library as embedded
    python benchmarks/train_step_time.py --tune-allocator     # with the script's opt-in

Batch 64 of random data, SGD; prints the median and mean of ``--steps`` steps after
``--warmup`` steps, and the minor page faults and system CPU time per step (getrusage),
which show what :func:`minitorch_cv.tune_allocator` changes. Run it several times,
alternating the settings (or two checkouts): on a shared virtual machine single runs drift.
"""

import argparse
import resource
import time

import numpy as np

import minitorch_cv
from minitorch_cv import models, nn, optim


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--tune-allocator", action="store_true",
                        help="call minitorch_cv.tune_allocator() first, as the examples do")
    args = parser.parse_args()
    if args.tune_allocator:
        minitorch_cv.tune_allocator()
    rng = np.random.default_rng(0)
    model = models.task2_model(rng=0)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.05)
    x = rng.random((64, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    times = []
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            usage = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - start)
    end = resource.getrusage(resource.RUSAGE_SELF)
    ms = np.array(times[args.warmup:]) * 1e3
    print(f"Task 2 step, batch 64: median {np.median(ms):.1f} ms, mean {ms.mean():.1f} ms; "
          f"per step {(end.ru_minflt - usage.ru_minflt) / args.steps:.0f} page faults, "
          f"{(end.ru_stime - usage.ru_stime) / args.steps * 1e3:.1f} ms system time"
          + (" (tune_allocator on)" if args.tune_allocator else ""))


if __name__ == "__main__":
    main()
