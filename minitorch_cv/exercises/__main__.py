"""The exercise kit's command line: ``list``, ``start``, ``check``, ``train`` and
``autograder`` (``python -m minitorch_cv.exercises --help``; docs/exercises.md).

``check`` exits with status 0 only when every check passed (1 otherwise, 2 for a usage error).
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
    check.add_argument("--format", choices=["text", "gradescope"], default="text",
                       help="gradescope: write Gradescope's results.json (with --all)")
    _gradescope_options(check)
    check.add_argument("--out", default="-", help="--format gradescope: the file (default: "
                                                  "print it)")
    bundle = sub.add_parser("autograder", help="write the Gradescope autograder bundle")
    bundle.add_argument("--out", required=True, help="the folder to write it to")
    bundle.add_argument("--package", default=None,
                        help="what setup.sh installs: a wheel/sdist file, a version or a "
                             "URL (default: a wheel built from this copy)")
    _gradescope_options(bundle)
    sub.add_parser("train", add_help=False,
                   help="train the Task 2 network on your layers (train --help: its flags)")
    return parser


def _gradescope_options(parser):
    parser.add_argument("--expect", nargs="+", default=(), metavar="NAME",
                        help="the exercises the assignment asks for (a missing one scores 0)")
    parser.add_argument("--points", type=float, default=10.0, help="points per exercise")
    parser.add_argument("--visibility", default="visible",
                        help="of the tests: visible, hidden, after_due_date, after_published")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:                  # its own parser: the examples' flags
        from .. import tune_allocator
        from .capstone import main as train
        tune_allocator()        # a training process, as the example scripts choose
        return train(argv[1:])
    args = _parser().parse_args(argv)
    from .catalogue import EXERCISES, listing
    if args.command == "list":
        print(listing())
        return 0
    name = getattr(args, "name", None)
    if name is not None and name not in EXERCISES:
        return _error(f"no exercise {name!r}; `python -m minitorch_cv.exercises list` shows "
                      "them", 2)
    commands = {"start": _start, "check": _check, "autograder": _autograder}
    return commands[args.command](args, name)


def _error(message, status):
    """Print ``error: message`` on stderr; return ``status``."""
    print(f"error: {message}", file=sys.stderr)
    return status


def _start(args, name):
    from .skeleton import write_skeleton
    try:
        path = write_skeleton(name, args.dir)
    except FileExistsError:
        return _error(f"{args.dir}/{name}.py exists already; it was left as it is (move it "
                      "away to start again)", 1)
    print(f"wrote {path}: write the functions, then run\n"
          f"    python -m minitorch_cv.exercises check {name} --dir {args.dir}")
    return 0


def _check(args, name):
    from . import grader
    if args.all == (name is not None):
        return _error("give an exercise name or --all", 2)
    if args.format == "gradescope":
        from .gradescope import write_results
        if not args.all:
            return _error("--format gradescope grades a submission: use --all", 2)
        try:
            reports = write_results(args.dir, args.out, args.expect, args.points,
                                    args.visibility, args.time_scale, args.allow_library)
        except ValueError as err:                      # the teacher's options: status 2
            return _error(err, 2)
        return 0 if reports and all(r.passed for r in reports) else 1
    if args.all:
        reports = grader.grade_all(args.dir, args.time_scale, args.allow_library)
        if not reports:
            return _error(f"no exercise file in {args.dir}", 1)
    else:
        reports = [grader.grade(name, args.dir, args.time_scale, args.allow_library)]
    if args.json == "-":
        print(grader.reports_json(reports, many=args.all))
    else:
        print("\n\n".join(r.text() for r in reports))
        if len(reports) > 1:
            print(f"\n{sum(r.passed for r in reports)}/{len(reports)} exercises passed")
        if args.json:
            try:
                with open(args.json, "w") as f:
                    f.write(grader.reports_json(reports, many=args.all) + "\n")
            except OSError as err:
                return _error(f"--json: cannot write {args.json} ({err.strerror})", 2)
    return 0 if all(r.passed for r in reports) else 1


def _autograder(args, name):
    from .autograder import write_bundle
    try:
        paths = write_bundle(args.out, args.package, args.expect, args.points, args.visibility)
    except ValueError as err:                          # the teacher's options: status 2
        return _error(err, 2)
    print("wrote " + ", ".join(str(p) for p in paths) + "\nupload autograder.zip on "
          "Gradescope's Configure Autograder page (docs/exercises.md, For teachers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
