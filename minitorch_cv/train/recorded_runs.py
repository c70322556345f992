"""The library's full training runs, as recorded: their ``metrics.json`` ships with the
package, so a lesson that trains on a subset compares with the full run anywhere.

>>> from minitorch_cv.train import recorded_run
>>> run = recorded_run("task2")
>>> run["command"]
'python examples/task2.py --no-progress'
>>> f"{run['test']['accuracy']:.2%} after {run['epochs_run']:.2f} epochs"
'71.99% after 7.49 epochs'
"""

import json
from pathlib import Path

_FOLDER = Path(__file__).resolve().parent / "recorded"

#: The recorded full runs: the Task 2 network, Task 3's networks, Network 1 without
#: augmentation (Task 3d) and the ResNet18 transfer learning of Task 4a.
RECORDED_RUNS = ("task2", "network1", "network2", "improved", "task3d_without_augmentation",
                 "task4a")


def recorded_run(name):
    """The ``metrics.json`` of a recorded full run, ``name`` one of :data:`RECORDED_RUNS`
    (ValueError otherwise): ``"train"``, ``"val"`` and ``"test"`` loss and accuracy of
    the best weights, ``"epochs_run"``, ``"steps"``, ``"stop_reason"``, ``"command"``, ...
    """
    if name not in RECORDED_RUNS:
        raise ValueError(f"no recorded run named {name!r}; expected one of "
                         f"{', '.join(RECORDED_RUNS)}")
    return json.loads((_FOLDER / f"{name}.json").read_text(encoding="utf-8"))


def reference_accuracies():
    """The test accuracies the recorded runs are compared with, per network: PyTorch's per
    seed on the same data and split, and the report's (on the official files, 1-2 points
    easier).

    Examples
    --------
    >>> from minitorch_cv.train import reference_accuracies
    >>> reference_accuracies()["task2"]
    {'pytorch_test_accuracy': [0.7237, 0.6918, 0.6839], 'report_test_accuracy': 0.738}
    """
    return json.loads((_FOLDER / "references.json").read_text(encoding="utf-8"))["networks"]
