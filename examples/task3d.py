"""Task 3d of the seed report: Network 1 trained with and without data augmentation, both
loss curves in one figure (the seed's Figure 5).

    MINITORCH_CV_DATA=../shared/data python examples/task3d.py
    python examples/task3d.py --reuse        # only redraw from the two runs' history.json

Every other flag is passed on to examples/task3.py (e.g. --limit 2000 --epochs 1).
Writes <out>/with_augmentation/, <out>/without_augmentation/ and <out>/augmentation.png.

A run whose folder already holds a finished run (metrics.json) with exactly the same
settings is not trained again (``--retrain`` forces it). The run with augmentation is
Network 1's default recipe, so a finished ``examples/task3.py --network 1`` run can stand
in for it: ``cp -r runs/task3_network1 runs/task3d/with_augmentation``.
"""

import argparse
import json
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import task3

from minitorch_cv import tune_allocator, viz
from minitorch_cv.train.experiment import run_main
from minitorch_cv.train.trainer import FAILED_STOPS

# settings that do not change what is trained
NOT_RECIPE = {"out", "resume", "overwrite", "no_progress", "data"}


def finished_with_same_settings(folder, run_argv):
    """True when ``folder`` holds a finished run whose recipe equals ``run_argv``'s."""
    metrics_path = folder / "metrics.json"
    if not metrics_path.exists() or not (folder / "history.json").exists():
        return False
    done = json.loads(metrics_path.read_text()).get("hyperparameters", {})
    wanted = vars(task3.parse_args(run_argv))
    return all(done.get(k) == v for k, v in wanted.items() if k not in NOT_RECIPE)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/task3d")
    parser.add_argument("--reuse", action="store_true",
                        help="do not train; plot the histories already in --out")
    parser.add_argument("--retrain", action="store_true",
                        help="train even when a finished run with the same settings exists "
                             "(replacing it, as --overwrite)")
    args, rest = parser.parse_known_args(argv)
    out = Path(args.out)
    runs = {"with augmentation": ("crop+flip", out / "with_augmentation"),
            "without augmentation": ("none", out / "without_augmentation")}
    histories = {}
    for label, (augment, folder) in runs.items():
        run_argv = ["--network", "1", "--augment", augment, "--out", str(folder)] + rest
        if args.reuse:
            pass
        elif not args.retrain and finished_with_same_settings(folder, run_argv):
            print(f"{label}: using the finished run in {folder} (same settings; "
                  "--retrain trains it again)")
        else:
            if args.retrain and "--overwrite" not in run_argv and "--resume" not in run_argv:
                run_argv.append("--overwrite")         # --retrain replaces the old run
            try:
                metrics = task3.main(run_argv)
            except KeyboardInterrupt:
                print("resume both runs with: " + shlex.join(
                    ["python", "examples/task3d.py", *(sys.argv[1:] if argv is None else argv),
                     *([] if "--resume" in rest else ["--resume"])]))
                raise
            if metrics.get("stop_kind") in FAILED_STOPS:
                return metrics                         # no figure from a failed run
        histories[label] = json.loads((folder / "history.json").read_text())
    fig = viz.plot_loss(histories, title="Network 1: training and validation loss with and "
                                         "without data augmentation")
    path = viz.save_figure(fig, out / "augmentation.png")
    print(f"wrote {path}")


if __name__ == "__main__":
    # A training script may choose its process's allocator (the library never does):
    # freed activations stay in the heap for the next step, without page faults.
    tune_allocator()
    sys.exit(run_main(main))
