"""The ``exercise-list`` directive: what ``python -m minitorch_cv.exercises list`` prints,
generated from the exercise catalogue when the site is built, so that the list in
docs/exercises.md never needs an edit when an exercise is added."""

from docutils import nodes
from docutils.parsers.rst import Directive


class ExerciseList(Directive):
    """``python -m minitorch_cv.exercises list`` and its output, as a console block."""

    def run(self):
        from minitorch_cv.exercises.catalogue import listing
        text = "$ python -m minitorch_cv.exercises list\n" + listing()
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def setup(app):
    app.add_directive("exercise-list", ExerciseList)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
