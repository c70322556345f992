"""Write the starting file of an exercise: the functions to write, each with its
docstring (shapes and formula) and ``raise NotImplementedError``."""

from pathlib import Path

from .catalogue import EXERCISES

__all__ = ["skeleton_text", "write_skeleton"]


def skeleton_text(name, directory="DIR"):
    """The text of ``NAME.py`` for exercise ``name`` (``directory`` goes in the command
    it quotes)."""
    e = EXERCISES[name]
    lines = [f'"""Exercise {e.name}, {e.task}: {e.summary}.', "",
             "Write the function bodies below (keep the names and arguments), then grade",
             "them with",
             f"    python -m minitorch_cv.exercises check {e.name} --dir {directory}",
             '"""', ""]
    if e.imports:
        lines += [e.imports, ""]
    for signature, doc in e.functions:
        lines += ["", f"def {signature}:", f'    """{doc.rstrip()}', '    """',
                  "    raise NotImplementedError", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_skeleton(name, directory):
    """Write ``directory/NAME.py``; never overwrites: raises FileExistsError instead."""
    path = Path(directory) / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x") as f:                        # "x": fails if the file exists
        f.write(skeleton_text(name, directory))
    return path
