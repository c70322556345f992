"""The networks of the seed report: Task 2 (Table 1), Task 3 (Tables 2, 4, 7), ResNet18."""

from .task2 import task2_model
from .task3 import improved_network, network1, network2

__all__ = ["improved_network", "network1", "network2", "resnet18", "task2_model"]


def __getattr__(name):
    if name == "resnet18":
        from .resnet import resnet18
        return resnet18
    raise AttributeError(f"module 'minitorch_cv.models' has no attribute {name!r}")
