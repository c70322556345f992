"""The Task 2 network of the seed report (Table 1)."""

from .. import nn
from ..theory import conv_output_size, pool_output_size

__all__ = ["task2_model"]


def task2_model(num_classes: int = 10, image_size: int = 32, rng=None) -> nn.Sequential:
    """Three 5x5 conv blocks (32, 64, 128 filters, padding 2), each with ReLU and 2x2 max
    pooling, then Linear(flat, 64), ReLU, Linear(64, num_classes).

    Shape: (N, 3, 32, 32) -> (N, 32, 16, 16) -> (N, 64, 8, 8) -> (N, 128, 4, 4) -> Flatten
    (N, 2048) -> (N, 64) -> (N, num_classes). 390,410 parameters in all (Task 1g; counted
    layer by layer in docs/theory.md). The softmax of the table is part of the loss
    (:class:`~minitorch_cv.nn.CrossEntropyLoss` takes logits).
    """
    rng = nn.init.get_rng(rng)
    size = image_size
    layers = []
    for in_channels, out_channels in ((3, 32), (32, 64), (64, 128)):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=5, stride=1, padding=2,
                             rng=rng), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2)]
        size = pool_output_size(conv_output_size(size, 5, 1, 2), 2, 2)
    flat = out_channels * size * size
    layers += [nn.Flatten(), nn.Linear(flat, 64, rng=rng), nn.ReLU(),
               nn.Linear(64, num_classes, rng=rng)]
    return nn.Sequential(*layers)
