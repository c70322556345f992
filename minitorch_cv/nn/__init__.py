"""Layers with hand-written forward and backward passes, named and used like torch.nn."""

from . import init
from .activation import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .container import Flatten, Identity, Sequential
from .conv import Conv2d
from .dropout import Dropout, Dropout2d
from .linear import Linear
from .loss import CrossEntropyLoss, L1Loss, MSELoss
from .module import Module, Parameter, is_grad_enabled, no_grad
from .normalization import BatchNorm1d, BatchNorm2d
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

__all__ = ["Module", "Parameter", "Sequential", "no_grad", "is_grad_enabled", "init",
           "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d",
           "BatchNorm2d", "Dropout", "Dropout2d", "Linear", "Flatten", "Identity", "ReLU",
           "LeakyReLU", "Tanh", "Sigmoid", "Softmax", "CrossEntropyLoss", "MSELoss", "L1Loss"]
