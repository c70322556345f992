"""Task 3d of the seed report: Network 1 trained with and without data augmentation, both
loss curves in one figure (the seed's Figure 5).

    MINITORCH_CV_DATA=/path/to/data python examples/task3d.py
    python examples/task3d.py --limit 2000 --epochs 1       # a quick look
    python examples/task3d.py --reuse        # only redraw from the two runs' history.json

Trains examples/task3.py --network 1 twice, with --augment crop+flip (Network 1's recipe)
and with --augment none; the training flags below are passed on to both runs, with
Network 1's recipe as defaults. --network and --augment are refused: the figure compares
exactly these two runs of Network 1 (train other networks or augmentations with
examples/task3.py). Writes <out>/with_augmentation/, <out>/without_augmentation/ and
<out>/augmentation.png.

A run whose folder already holds a finished run (metrics.json) with exactly the same
settings is not trained again (--retrain forces it). The run with augmentation is
Network 1's default recipe, so a finished examples/task3.py --network 1 run can stand
in for it: cp -r runs/task3_network1 runs/task3d/with_augmentation
"""

import argparse
import json
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import task3

from minitorch_cv import tune_allocator, viz
from minitorch_cv.train.experiment import DefaultsHelpFormatter, run_main
from minitorch_cv.train.trainer import FAILED_STOPS

# settings that do not change what is trained
NOT_RECIPE = {"out", "resume", "overwrite", "no_progress", "data"}
# task3's flags that task3d sets itself: both runs are Network 1, one per augmentation
SET_HERE = {"network", "augment", "out"}
REFUSED = {
    "--network": "task3d always trains Network 1 (the seed's Figure 5); train another "
                 "network with examples/task3.py --network",
    "--augment": "task3d trains one run with augmentation (crop+flip) and one without "
                 "(none); to train another augmentation use examples/task3.py --augment",
}


class _Refused(argparse.Action):
    """An option that would make the figure wrong: a one-line ``error: ...`` on stderr,
    exit status 2."""

    def __init__(self, option_strings, dest, reason, **kwargs):
        super().__init__(option_strings, dest, nargs="?", default=argparse.SUPPRESS,
                         help=argparse.SUPPRESS, **kwargs)
        self.reason = reason

    def __call__(self, parser, namespace, values, option_string=None):
        parser.exit(2, f"error: {option_string} is refused: {self.reason}\n")


def passed_on_actions():
    """examples/task3.py's options that go to both runs (Network 1's defaults)."""
    return [a for a in task3.parser(network="1")._actions
            if a.option_strings and a.dest not in SET_HERE and a.dest != "help"]


def parser():
    """The command line: task3d's own flags, then the training flags both runs get."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=DefaultsHelpFormatter)
    p.add_argument("--out", default="runs/task3d",
                   help="output folder (the two runs go into its with_augmentation/ and "
                        "without_augmentation/)")
    p.add_argument("--reuse", action="store_true",
                   help="do not train; plot the histories already in --out")
    p.add_argument("--retrain", action="store_true",
                   help="train even when a finished run with the same settings exists "
                        "(replacing it, as --overwrite)")
    runs = p.add_argument_group("passed on to both runs (examples/task3.py --network 1)")
    for action in passed_on_actions():
        runs._add_action(action)
    for flag, reason in REFUSED.items():
        p.add_argument(flag, action=_Refused, reason=reason)
    return p


def passed_on_argv(args):
    """The passed-on flags that differ from their defaults, as task3.py's argv."""
    argv = []
    for action in passed_on_actions():
        value = getattr(args, action.dest)
        if value == action.default:
            continue
        flag = action.option_strings[-1]
        if isinstance(action, argparse._StoreTrueAction):
            argv.append(flag)
        elif isinstance(value, list):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return argv


def finished_with_same_settings(folder, run_argv):
    """True when ``folder`` holds a finished run whose recipe equals ``run_argv``'s."""
    metrics_path = folder / "metrics.json"
    if not metrics_path.exists() or not (folder / "history.json").exists():
        return False
    done = json.loads(metrics_path.read_text()).get("hyperparameters", {})
    wanted = vars(task3.parse_args(run_argv))
    return all(done.get(k) == v for k, v in wanted.items() if k not in NOT_RECIPE)


def main(argv=None):
    args = parser().parse_args(argv)
    rest = passed_on_argv(args)
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
