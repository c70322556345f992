"""The textbook layers (minitorch_cv.reference) against the fast ones, on the same input.

    python benchmarks/reference_vs_fast.py             # about half a minute

Times the Task 2 network's training step (forward, loss, backward) with every layer on
the fast path and inside ``minitorch_cv.reference.use()``, then single convolutions: the
fast Conv2d, the textbook im2col version and the definition as nested loops (the loops on
one image only). Medians of five alternating runs, float32, after a warm-up. Prints a
Markdown table for docs/results.md.
"""

import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minitorch_cv import functional as F
from minitorch_cv import models, nn, reference


def compare(label, fast, textbook, repeats=5):
    """Median times of ``fast`` and ``textbook``, run alternately (so a machine that is
    busy for a moment slows both) after one warm-up call of each (numba, caches)."""
    fast(), textbook()
    times = {fast: [], textbook: []}
    for _ in range(repeats):
        for function in (fast, textbook):
            start = time.perf_counter()
            function()
            times[function].append(time.perf_counter() - start)
    t_fast, t_text = statistics.median(times[fast]), statistics.median(times[textbook])
    print(f"| {label} | {t_fast * 1e3:,.1f} ms | {t_text * 1e3:,.1f} ms | "
          f"{t_text / t_fast:,.0f}x |", flush=True)


def main():
    rng = np.random.default_rng(0)
    model = models.task2_model(rng=0)
    x = rng.standard_normal((64, 3, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, 64)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        model.zero_grad()
        loss_fn(model(x), labels)
        model.backward(loss_fn.backward())

    def step_textbook():
        with reference.use():
            step()

    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    print("| what (float32) | fast | textbook | textbook / fast |")
    print("|---|---:|---:|---:|")
    compare("Task 2 training step, batch 64", step, step_textbook)

    x2 = rng.standard_normal((64, 32, 16, 16)).astype(np.float32)
    w2 = (rng.standard_normal((64, 32, 5, 5)) * 0.05).astype(np.float32)
    b2 = np.zeros(64, dtype=np.float32)
    out, cache = F.conv2d_forward(x2, w2, b2, 1, 2)
    _, cache_ref = reference.conv2d_forward(x2, w2, b2, 1, 2)
    dout = np.ones_like(out)
    compare("conv 32->64, 5x5, 16x16, batch 64: forward",
            lambda: F.conv2d_forward(x2, w2, b2, 1, 2),
            lambda: reference.conv2d_forward(x2, w2, b2, 1, 2))
    compare("same layer: backward", lambda: F.conv2d_backward(dout, cache),
            lambda: reference.conv2d_backward(dout, cache_ref))
    compare("same layer, ONE image: forward, im2col vs nested loops",
            lambda: reference.conv2d_forward(x2[:1], w2, b2, 1, 2),
            lambda: reference.conv2d_forward_loops(x2[:1], w2, b2, 1, 2), repeats=3)


if __name__ == "__main__":
    main()
