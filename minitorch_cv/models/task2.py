"""The Task 2 network of the seed report (Table 1)."""

from .. import nn
from ..theory import conv_output_size, pool_output_size

__all__ = ["task2_model"]


def task2_model(num_classes: int = 10, image_size: int = 32, rng=None) -> nn.Sequential:
    """Three 5x5 conv blocks (32, 64, 128 filters, padding 2), each with ReLU and 2x2 max
    pooling, then Linear(flat, 64), ReLU, Linear(64, num_classes).

    ========  ===================================  ==================  ===========
    layer     module                               output (N=1)        parameters
    ========  ===================================  ==================  ===========
    1         Conv2d(3, 32, 5, padding=2), ReLU    (1, 32, 32, 32)     2,432
              MaxPool2d(2, 2)                      (1, 32, 16, 16)
    2         Conv2d(32, 64, 5, padding=2), ReLU   (1, 64, 16, 16)     51,264
              MaxPool2d(2, 2)                      (1, 64, 8, 8)
    3         Conv2d(64, 128, 5, padding=2), ReLU  (1, 128, 8, 8)      204,928
              MaxPool2d(2, 2)                      (1, 128, 4, 4)
              Flatten                              (1, 2048)
    4         Linear(2048, 64), ReLU               (1, 64)             131,136
    5         Linear(64, 10)                       (1, 10)             650
    ========  ===================================  ==================  ===========

    390,410 parameters in all (Task 1g). The softmax of the table is part of the loss
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
