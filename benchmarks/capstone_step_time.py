"""Time per Task 2 training step (batch 64) with a student's own layers, as ratios.

    python benchmarks/capstone_step_time.py                  # table + capstone_step_time.json
    python benchmarks/capstone_step_time.py --profile        # + where a student step goes

The Task 2 network trains one step (forward, loss, backward, SGD) in these versions, timed
alternately after a warm-up (medians):

* ``library``: the library's fast layers;
* ``students/offsets``: every layer, the loss and the optimizer from the student files in
  benchmarks/students/offsets (plain NumPy; im2col, col2im and max pooling written as a
  loop over the K*K kernel offsets, as docs/exercises.md recommends), run as ``train``
  runs them;
* ``students/textbook``: the same with benchmarks/students/textbook (im2col by index
  arrays, col2im with ``np.add.at``, max pooling as a loop over the output positions:
  the textbook way, as in minitorch_cv.reference);
* ``library, reference.use()``: the library's layers on its own textbook functions
  (:mod:`minitorch_cv.reference`, what benchmarks/students/textbook copies);
* ``torch``: PyTorch's CPU layers on the same weights (when torch is installed).

Times are the median and the fastest of the timed steps: on a shared machine the fastest
is the step that ran without interference. The process's allocator is tuned as the
training scripts tune theirs (``minitorch_cv.tune_allocator()``).

``--profile`` adds the seconds per step spent in each student function (timed around
each call), which shows where the student path spends its time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import ClassVar

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from minitorch_cv import models, nn, optim, tune_allocator
from minitorch_cv.exercises.student_layers import (
    StudentFile,
    student_loss,
    student_optimizer,
    use_student_layers,
)

EXERCISES = ("conv2d", "maxpool2d", "relu", "linear", "softmax_cross_entropy", "sgd_momentum")
STUDENTS = ("offsets", "textbook")


class TimedStudentFile(StudentFile):
    """A StudentFile that adds the seconds of every call to ``seconds[function]``."""

    seconds: ClassVar[dict] = defaultdict(float)     # shared by every instance

    def call(self, function, *args):
        start = time.perf_counter()
        try:
            return super().call(function, *args)
        finally:
            TimedStudentFile.seconds[function] += time.perf_counter() - start


def batch(size=64):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((size, 3, 32, 32)).astype(np.float32),
            rng.integers(0, 10, size))


def training_step(model, loss_fn, opt, x, y):
    """One Task 2 training step on (x, y): forward, loss, backward, optimizer step."""
    def step():
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
    return step


def library_step(x, y):
    model = models.task2_model(rng=0)
    model.needs_input_grad = False
    return training_step(model, nn.CrossEntropyLoss(),
                         optim.SGD(model.parameters(), lr=0.05), x, y)


def reference_step(x, y):
    """The library's layers inside ``minitorch_cv.reference.use()``."""
    import minitorch_cv.reference
    step = library_step(x, y)

    def textbook():
        with minitorch_cv.reference.use():
            step()
    return textbook


def student_step(folder, x, y, file_class=StudentFile):
    model = models.task2_model(rng=0)
    model.needs_input_grad = False
    students = {name: file_class(name, folder) for name in EXERCISES}
    use_student_layers(model, students)
    loss_fn = student_loss(students["softmax_cross_entropy"])
    opt = student_optimizer("sgd", students["sgd_momentum"], model.parameters(), 0.05)
    return training_step(model, loss_fn, opt, x, y)


def torch_step(x, y):
    try:
        import torch
    except ImportError:
        return None
    from bench_vs_torch import to_torch
    tmodel = to_torch(models.task2_model(rng=0)).train()
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.05)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(tx), ty).backward()
        topt.step()
    return step


def alternate(steps, repeats, warmup=2):
    """Median seconds of each callable of ``steps`` (a dict), run in turn."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return ({name: float(np.median(t)) for name, t in times.items()},
            {name: float(np.min(t)) for name, t in times.items()}, times)


def profile(folder, x, y, steps):
    """Seconds per step in each student function of ``folder``."""
    TimedStudentFile.seconds.clear()
    step = student_step(folder, x, y, TimedStudentFile)
    step()
    TimedStudentFile.seconds.clear()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    total = (time.perf_counter() - start) / steps
    return total, {k: v / steps for k, v in sorted(TimedStudentFile.seconds.items(),
                                                   key=lambda kv: -kv[1])}


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=10, help="timed steps per version")
    p.add_argument("--profile", action="store_true", help="time each student function")
    p.add_argument("--out", default=str(HERE / "capstone_step_time.json"))
    args = p.parse_args(argv)
    tune_allocator()
    x, y = batch()
    steps = {"library": library_step(x, y), "library, reference.use()": reference_step(x, y)}
    for name in STUDENTS:
        steps[f"students/{name}"] = student_step(HERE / "students" / name, x, y)
    theirs = torch_step(x, y)
    if theirs is not None:
        steps["torch"] = theirs
    medians, fastest, times = alternate(steps, args.repeats)
    print(f"Task 2 training step, batch 64, {args.repeats} steps each (CPU: {cpu_name()}, "
          f"{os.cpu_count()} cores); ratios of the fastest steps")
    print(f"{'version':<26} {'median s':>9} {'fastest s':>10} {'/ library':>10} {'/ torch':>8}")
    for name, t in medians.items():
        best = fastest[name]
        vs_torch = f"{best / fastest['torch']:.2f}" if "torch" in fastest else "-"
        print(f"{name:<26} {t:9.3f} {best:10.3f} {best / fastest['library']:10.2f} "
              f"{vs_torch:>8}")
    result = {"cpu": cpu_name(), "cores": os.cpu_count(), "batch": 64,
              "repeats": args.repeats, "median_seconds": medians, "fastest_seconds": fastest,
              "ratio_to_library": {k: v / fastest["library"] for k, v in fastest.items()},
              "all_seconds": times}
    if "torch" in fastest:
        import torch
        result["torch"] = torch.__version__
        result["ratio_to_torch"] = {k: v / fastest["torch"] for k, v in fastest.items()}
    if args.profile:
        result["profile"] = {}
        for name in STUDENTS:
            total, parts = profile(HERE / "students" / name, x, y, max(3, args.repeats // 2))
            result["profile"][name] = {"step": total, "functions": parts}
            print(f"\nstudents/{name}: {total:.3f} s/step, of which")
            for function, seconds in parts.items():
                print(f"  {function:<24} {seconds:7.3f} s  {seconds / total:5.1%}")
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
