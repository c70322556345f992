"""The exercise kit's command line.

    python -m minitorch_cv.exercises list
    python -m minitorch_cv.exercises start conv2d --dir work
    python -m minitorch_cv.exercises check conv2d --dir work [--json report.json]
    python -m minitorch_cv.exercises check --all --dir work [--json -] [--allow-library]
    python -m minitorch_cv.exercises train conv2d --dir work [--steps 300] [--limit 5000]

``check`` exits with status 0 only when every check passed (1 otherwise, 2 for a usage
error); ``--json PATH`` writes the machine-readable report to PATH, ``--json`` alone (or
``--json -``) prints it instead of the text report.
"""

import argparse
import sys

__all__ = ["main"]


def _parser():
    parser = argparse.ArgumentParser(prog="python -m minitorch_cv.exercises",
                                     description="Write the layers yourself; get them graded.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the exercises, one line each")
    start = sub.add_parser("start", help="write DIR/NAME.py, the file to fill in")
    start.add_argument("name")
    start.add_argument("--dir", default=".", help="folder for the file (default: here)")
    check = sub.add_parser("check", help="grade DIR/NAME.py (or --all files in DIR)")
    check.add_argument("name", nargs="?")
    check.add_argument("--all", action="store_true", help="every exercise file in --dir")
    check.add_argument("--dir", default=".")
    check.add_argument("--json", metavar="PATH", nargs="?", const="-",
                       help="write the JSON report to PATH; without PATH (or with '-') "
                            "print it instead of the text report")
    check.add_argument("--time-scale", type=float, default=1.0,
                       help="multiply every time limit (a slow machine)")
    check.add_argument("--allow-library", action="store_true",
                       help="grade files that use the library's implementations or PyTorch "
                            "(refused by default: students hand in their own work)")
    train = sub.add_parser("train", help="train the Task 2 network with your conv2d")
    train.add_argument("name", choices=["conv2d"])
    train.add_argument("--dir", default=".")
    train.add_argument("--steps", type=int, default=300)
    train.add_argument("--limit", type=int, default=5000,
                       help="training images to use (a random subset)")
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--test-images", type=int, default=500,
                       help="test images for the accuracy at the end")
    train.add_argument("--lr", type=float, default=0.05)
    train.add_argument("--data", default=None, help="CIFAR-10 (default: $MINITORCH_CV_DATA)")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    from .catalogue import EXERCISES, listing
    if args.command == "list":
        print(listing())
        return 0
    name = getattr(args, "name", None)
    if name is not None and name not in EXERCISES:
        print(f"error: no exercise {name!r}; `python -m minitorch_cv.exercises list` shows "
              "them", file=sys.stderr)
        return 2
    if args.command == "start":
        from .skeleton import write_skeleton
        try:
            path = write_skeleton(name, args.dir)
        except FileExistsError:
            print(f"error: {args.dir}/{name}.py exists already; it was left as it is (move it "
                  "away to start again)", file=sys.stderr)
            return 1
        print(f"wrote {path}: write the functions, then run\n"
              f"    python -m minitorch_cv.exercises check {name} --dir {args.dir}")
        return 0
    if args.command == "check":
        from . import grader
        if args.all == (name is not None):
            print("error: give an exercise name or --all", file=sys.stderr)
            return 2
        if args.all:
            reports = grader.grade_all(args.dir, args.time_scale, args.allow_library)
            if not reports:
                print(f"error: no exercise file in {args.dir}", file=sys.stderr)
                return 1
        else:
            reports = [grader.grade(name, args.dir, args.time_scale, args.allow_library)]
        if args.json == "-":
            print(grader.reports_json(reports, many=args.all))
        else:
            print("\n\n".join(r.text() for r in reports))
            if len(reports) > 1:
                print(f"\n{sum(r.passed for r in reports)}/{len(reports)} exercises passed")
            if args.json:
                with open(args.json, "w") as f:
                    f.write(grader.reports_json(reports, many=args.all) + "\n")
        return 0 if all(r.passed for r in reports) else 1
    if args.command == "train":
        from .training import train_student_conv2d
        return train_student_conv2d(args.dir, steps=args.steps, limit=args.limit,
                                    batch_size=args.batch_size, lr=args.lr, data=args.data,
                                    test_images=args.test_images)
    return 2


if __name__ == "__main__":
    sys.exit(main())
