"""Task 3d of the seed report: Network 1 trained with and without data augmentation, both
loss curves in one figure (the seed's Figure 5).

    MINITORCH_CV_DATA=../shared/data python examples/task3d.py
    python examples/task3d.py --reuse        # only redraw from the two runs' history.json

Every other flag is passed on to examples/task3.py (e.g. --limit 2000 --epochs 1).
Writes <out>/with_augmentation/, <out>/without_augmentation/ and <out>/augmentation.png.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import task3

from minitorch_cv import viz


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/task3d")
    parser.add_argument("--reuse", action="store_true",
                        help="do not train; plot the histories already in --out")
    args, rest = parser.parse_known_args(argv)
    out = Path(args.out)
    runs = {"with augmentation": ("crop+flip", out / "with_augmentation"),
            "without augmentation": ("none", out / "without_augmentation")}
    histories = {}
    for label, (augment, folder) in runs.items():
        if not args.reuse:
            task3.main(["--network", "1", "--augment", augment, "--out", str(folder)] + rest)
        histories[label] = json.loads((folder / "history.json").read_text())
    fig = viz.plot_loss(histories, title="Network 1: training and validation loss with and "
                                         "without data augmentation")
    path = viz.save_figure(fig, out / "augmentation.png")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
