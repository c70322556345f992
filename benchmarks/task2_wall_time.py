"""Wall time of the Task 2 recipe on real CIFAR-10: this library against PyTorch CPU.

    MINITORCH_CV_DATA=/path/to/data python benchmarks/task2_wall_time.py --epochs 1

Both implementations train the seed's Task 2 network (SGD lr 0.05, batch 64, Normalize
0.5/0.25) on the same 45,000 training images, read by this library's data pipeline, and
validate on the 5,000 validation images every half epoch, as ``examples/task2.py`` does.
Only the model, loss and optimizer differ. Early stopping is off so that both do the same
number of steps; the time of a full default run is (time per epoch) x (epochs run).
The two run one after the other, each alone on the machine, in the same process.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")   # this script's choice (the library sets none)

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from minitorch_cv import models, nn, optim
from minitorch_cv._files import atomic_write_json
from minitorch_cv.train.experiment import cifar10_loaders, training_parser


def run_ours(train, val, epochs, lr):
    model = models.task2_model(rng=nn.init.get_rng(0))
    model.needs_input_grad = False
    opt = optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y):
        model.train()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()

    def validate():
        model.eval()
        correct = 0
        with nn.no_grad():
            for x, y in val:
                correct += int((model(x).argmax(axis=1) == y).sum())
        return correct / val.num_examples
    return _timed_epochs(train, step, validate, epochs)


def run_torch(train, val, epochs, lr):
    import torch
    import torch.nn.functional as TF
    from bench_vs_torch import to_torch

    model = to_torch(models.task2_model(rng=nn.init.get_rng(0)))
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def step(x, y):
        model.train()
        opt.zero_grad()
        TF.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt.step()

    def validate():
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in val:
                correct += int((model(torch.from_numpy(x)).argmax(1).numpy() == y).sum())
        return correct / val.num_examples
    return _timed_epochs(train, step, validate, epochs)


def _timed_epochs(train, step, validate, epochs):
    half = len(train) // 2
    accuracies, start = [], time.perf_counter()
    for _ in range(epochs):
        for i, (x, y) in enumerate(train, start=1):
            step(x, y)
            if i % half == 0:
                accuracies.append(validate())
    return time.perf_counter() - start, accuracies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "task2_wall_time.json"))
    args = parser.parse_args(argv)
    recipe = training_parser("", lr=0.05).parse_args(
        [] if args.data is None else ["--data", args.data])
    train, val, _test, _ = cifar10_loaders(recipe)
    results = {"epochs": args.epochs, "steps_per_epoch": len(train),
               "validation_images": val.num_examples}
    for name, run in (("minitorch_cv", run_ours), ("torch", run_torch)):
        if name == "torch":
            try:
                import torch
            except ImportError:
                print("torch is not installed: this library's time only")
                break
            torch.set_num_threads(os.cpu_count() or 1)
        seconds, accuracies = run(train, val, args.epochs, recipe.lr)
        results[name] = {"seconds": seconds, "seconds_per_epoch": seconds / args.epochs,
                         "val_accuracy_after_each_half_epoch": accuracies}
        print(f"{name}: {seconds:.1f} s for {args.epochs} epoch(s) "
              f"({seconds / args.epochs:.1f} s per epoch), validation accuracy {accuracies}",
              flush=True)
    if "torch" in results:
        results["ratio"] = results["minitorch_cv"]["seconds"] / results["torch"]["seconds"]
        print(f"ratio minitorch_cv / torch: {results['ratio']:.2f}")
    atomic_write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
