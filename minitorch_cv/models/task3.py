"""The Task 3 networks of the seed report: Network 1 (Table 2), Network 2 (Table 4) and the
improved network (Table 7).

Reading the tables: a layer with Conv2D, BatchNorm2D and ReLU runs them in that order, but
Network 1's second layer pools before the ReLU. The softmax of the tables is part of
:class:`~minitorch_cv.nn.CrossEntropyLoss`.
"""

from .. import nn
from ..theory import conv_output_size, pool_output_size

__all__ = ["network1", "network2", "improved_network"]


def _conv(cin, cout, k, p, rng):
    return nn.Conv2d(cin, cout, kernel_size=k, stride=1, padding=p, rng=rng)


def _network1(num_classes, dropout, rng, classifier_dropout):
    """Tables 2 and 7: the two differ only in a Dropout after each hidden Linear layer."""
    rng = nn.init.get_rng(rng)
    size = 32
    layers = [_conv(3, 32, 5, 2, rng), nn.BatchNorm2d(32), nn.ReLU(),          # layer 1
              _conv(32, 64, 5, 2, rng), nn.MaxPool2d(2, 2), nn.ReLU(),         # layer 2
              _conv(64, 128, 5, 2, rng), nn.BatchNorm2d(128), nn.ReLU(),       # layer 3
              _conv(128, 128, 5, 2, rng), nn.ReLU(), nn.MaxPool2d(2, 2),       # layer 4
              nn.Dropout2d(dropout, rng=rng), nn.Flatten()]
    for _ in range(4):
        size = conv_output_size(size, 5, 1, 2)
    width = 128 * pool_output_size(pool_output_size(size, 2, 2), 2, 2) ** 2
    for _ in range(4):                                                         # layers 5-8
        layers += [nn.Linear(width, 64, rng=rng), nn.BatchNorm1d(64), nn.ReLU()]
        layers += [nn.Dropout(dropout, rng=rng)] if classifier_dropout else []
        width = 64
    layers.append(nn.Linear(64, num_classes, rng=rng))
    return nn.Sequential(*layers)


def network1(num_classes=10, dropout=0.05, rng=None) -> nn.Sequential:
    """Network 1 (Table 2): 4 conv layers, 4 hidden Linear(64) layers each with
    BatchNorm1d, ReLU and Dropout(p=dropout)."""
    return _network1(num_classes, dropout, rng, classifier_dropout=True)


def improved_network(num_classes=10, dropout=0.05, rng=None) -> nn.Sequential:
    """The improved network (Table 7): Network 1 without dropout in the classifier."""
    return _network1(num_classes, dropout, rng, classifier_dropout=False)


def network2(num_classes=10, dropout=0.1, rng=None) -> nn.Sequential:
    """Network 2 (Table 4): three 3x3 convs with padding 2 (each grows the map by 2),
    flatten size 128 x 10 x 10, one hidden Linear(64) with BatchNorm1d."""
    rng = nn.init.get_rng(rng)
    size = conv_output_size(32, 3, 1, 2)                                       # 34
    size = pool_output_size(conv_output_size(size, 3, 1, 2), 2, 2)             # 36 -> 18
    size = pool_output_size(conv_output_size(size, 3, 1, 2), 2, 2)             # 20 -> 10
    flat = 128 * size * size
    return nn.Sequential(
        _conv(3, 32, 3, 2, rng), nn.ReLU(),                                    # layer 1
        _conv(32, 64, 3, 2, rng), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2, 2),
        _conv(64, 128, 3, 2, rng), nn.BatchNorm2d(128), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Dropout2d(dropout, rng=rng),
        nn.Flatten(),
        nn.Linear(flat, 64, rng=rng), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Linear(64, num_classes, rng=rng))
