"""``autograder``: the bundle Gradescope runs to grade each submission.

Writes ``setup.sh`` (installs the package ``--package`` names: a wheel or sdist file, copied
into the bundle, or anything ``pip install`` takes; by default a wheel built from this
copy), ``run_autograder`` (``check --all --format gradescope`` on each submission) and
``autograder.zip`` holding them; docs/exercises.md ("On Gradescope") tells how to use them.
"""

import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .gradescope import _check_options

__all__ = ["write_bundle", "RUN_AUTOGRADER", "SETUP_SH"]

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the grading image.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update
    apt-get install -y python3 python3-pip
fi
# Ubuntu 24.04's python3 refuses system-wide installs without this (older pips ignore it)
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install {requirement}
python3 -m minitorch_cv.exercises list >/dev/null    # the package imports
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: grade its exercise files, write results.json.
set -u
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SUBMISSION="${{MINITORCH_CV_SUBMISSION:-$ROOT/submission}}"
RESULTS="${{MINITORCH_CV_RESULTS:-$ROOT/results/results.json}}"
WORK="${{MINITORCH_CV_WORK:-$(mktemp -d)}}"
PYTHON="${{MINITORCH_CV_PYTHON:-python3}}"
mkdir -p "$WORK" "$(dirname "$RESULTS")"
rm -f "$RESULTS"
# the submission's .py files, also from a folder it was zipped in, into one flat folder
find "$SUBMISSION" -name '*.py' -type f -exec cp {{}} "$WORK"/ \\;
"$PYTHON" -m minitorch_cv.exercises check --all --dir "$WORK" --format gradescope \\
    --out "$RESULTS"{options}
status=$?
if [ ! -s "$RESULTS" ]; then
    # grading itself failed (status 2 or worse): still give Gradescope a valid result
    printf '{{"score": 0.0, "output": "The autograder could not grade this submission '\\
'(exit status %s); the course staff can see why in its output.", '\\
'"stdout_visibility": "hidden", "tests": []}}\\n' "$status" > "$RESULTS"
fi
exit 0
"""

BUNDLE_FILES = ("setup.sh", "run_autograder")


def _requirement(package, out):
    """What setup.sh gives ``pip install``, and the bundle files it needs."""
    if package is None:
        root = Path(__file__).resolve().parents[2]     # the source folder, unless a wheel's
        if not ((root / "pyproject.toml").is_file() and (root / "minitorch_cv").is_dir()):
            raise ValueError("this copy of minitorch_cv was not installed from a source "
                             "folder: give --package (a wheel, an sdist, a version or a URL)")
        with tempfile.TemporaryDirectory() as tmp:     # the build leaves the source as is
            source = Path(tmp) / "source"
            shutil.copytree(root / "minitorch_cv", source / "minitorch_cv",
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            for name in ("pyproject.toml", "setup.cfg", "setup.py", "README.md"):
                if (root / name).is_file():
                    shutil.copy(root / name, source / name)
            built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                                    "--no-build-isolation", "--quiet", "-w", str(out.resolve()),
                                    str(source)], capture_output=True, text=True, check=False)
        wheels = sorted(out.glob("minitorch_cv-*.whl"))
        if built.returncode != 0 or not wheels:
            raise ValueError(f"could not build a wheel of {root}: "
                             f"{(built.stderr or built.stdout).strip()[-300:]}")
        return f"./{wheels[-1].name}", [wheels[-1].name]
    path = Path(package)
    if path.is_file():
        if not path.name.endswith((".whl", ".tar.gz", ".zip")):
            raise ValueError(f"--package {package}: a file must be a wheel (.whl) or an sdist "
                             "(.tar.gz, .zip)")
        target = out / path.name
        if path.resolve() != target.resolve():
            target.write_bytes(path.read_bytes())
        return f"./{path.name}", [path.name]
    return shlex.quote(package), []


def write_bundle(out, package=None, expect=(), points=10.0, visibility="visible"):
    """Write setup.sh, run_autograder and autograder.zip to the folder ``out`` (created);
    returns the paths. ``package`` is what setup.sh installs (see the module docstring);
    ``expect``, ``points`` and ``visibility`` are run_autograder's options (see
    :func:`~minitorch_cv.exercises.gradescope.write_results`)."""
    _check_options(expect, points, "--", visibility=visibility)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    requirement, extra = _requirement(package, out)
    options = f" --points {points:g} --visibility {visibility}"
    if expect:
        options += " --expect " + " ".join(expect)
    files = {"setup.sh": SETUP_SH.format(requirement=requirement),
             "run_autograder": RUN_AUTOGRADER.format(options=options)}
    for name, text in files.items():
        (out / name).write_text(text)
        (out / name).chmod(0o755)
    archive = out / "autograder.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name in (*BUNDLE_FILES, *extra):
            info = zipfile.ZipInfo.from_file(out / name, name)
            info.external_attr = 0o100755 << 16 if name in BUNDLE_FILES else 0o100644 << 16
            z.writestr(info, (out / name).read_bytes(), zipfile.ZIP_DEFLATED)
    return [out / name for name in (*BUNDLE_FILES, *extra)] + [archive]
