"""Task 4b of the seed report: the first convolution's filters and what they see (Figure 11).

    MINITORCH_CV_DATA=/path/to/data python examples/task4b.py
    python examples/task4b.py --weights IMAGENET1K_V1 --filters 14 26 32 49 52
    python examples/task4b.py --image my_photo.jpg --filters 0 1 2 3 4 5 6 7

For each chosen filter of ``conv1`` (64 filters of 3x7x7), the bottom row shows the filter
as an RGB image (min-max scaled on its own, so every filter uses the full colour range) and
the top row its activation map on the image: conv1's output channel, before BatchNorm
(112x112 for a 224x224 image). Writes to --out:

- figure10_image.png   the input image (Figure 10)
- figure11_filters_activations.png   activations (top) over filters (bottom) (Figure 11)
- conv1_filters.png    all 64 filters

The seed does not say which filters it plotted; the course's assignment text suggested
indices 14, 26, 32, 49 and 52 for torchvision's ImageNet weights. The default here is the
first five. With the shared CIFAR-10 checkpoint (the default when $MINITORCH_CV_DATA holds
it) the filters were learnt from 64x64 upsampled CIFAR images, starting from scratch, so
they look less like the clean edge and colour detectors of the ImageNet model.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from minitorch_cv import models, nn, viz
from minitorch_cv.data import Compose, Normalize, ToFloat, resize
from minitorch_cv.models.resnet import IMAGENET_MEAN, IMAGENET_STD
from minitorch_cv.train.experiment import DefaultsHelpFormatter, run_main

try:                                          # run as a script: examples/ is on sys.path
    from task4a import default_weights
except ImportError:                           # pragma: no cover - imported from elsewhere
    from examples.task4a import default_weights


def default_image():
    data = os.environ.get("MINITORCH_CV_DATA")
    if data and (Path(data) / "zebra.jpg").exists():
        return str(Path(data) / "zebra.jpg")
    return None


def load_image(path, size=224):
    """Read an image file as the network sees it.

    Returns
    -------
    rgb : ndarray (size, size, 3) uint8, for display (resized with the same bilinear)
    x : ndarray (1, 3, size, size) float32, ImageNet-normalized
    """
    from PIL import Image
    img = np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1)[None]   # NCHW
    if img.shape[2:] != (size, size):
        img = resize(img, size)
    x = Compose([ToFloat(), Normalize(IMAGENET_MEAN, IMAGENET_STD)])(img)
    return img[0].transpose(1, 2, 0), x


def common_parser(description, out):
    """The flags task4b and task4c share; ``description`` is shown as written (pass the
    module docstring), every default as the parser really uses it."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=DefaultsHelpFormatter)
    p.add_argument("--weights", default=default_weights(),
                   help="pretrained ResNet18: a .pth/.safetensors/.npz file or IMAGENET1K_V1 "
                        "(default: $MINITORCH_CV_DATA/resnet18_cifar10/resnet18_cifar10.pth "
                        f"when it exists, else IMAGENET1K_V1; here: {default_weights()})")
    image = default_image()
    p.add_argument("--image", default=image,
                   help="image file (default: zebra.jpg in $MINITORCH_CV_DATA; "
                        + (f"here: {image})" if image else
                           "$MINITORCH_CV_DATA holds none here, so --image is required)"))
    p.add_argument("--image-size", type=int, default=224,
                   help="resize the image to this size (bilinear) first")
    p.add_argument("--out", default=out, help="output folder")
    return p


def load_model(weights):
    """ResNet18 in eval mode, with as many classes as the weights' fc has."""
    try:
        return models.resnet18(num_classes=None, weights=weights).eval()
    except TypeError as err:     # not a state dict: one line like the other weight errors
        raise ValueError(f"--weights {weights}: {err}") from None


def parser():
    """The command line (``--help`` shows every default)."""
    p = common_parser(__doc__, "runs/task4b")
    p.add_argument("--filters", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                   help="indices of the conv1 filters to show")
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if args.image is None:
        p.error("--image is required when $MINITORCH_CV_DATA does not hold zebra.jpg")
    model = load_model(args.weights)
    n_filters = model.conv1.out_channels
    bad = [i for i in args.filters if not 0 <= i < n_filters]
    if bad:
        p.error(f"--filters {bad}: conv1 has filters 0..{n_filters - 1}")
    rgb, x = load_image(args.image, args.image_size)
    with nn.no_grad():
        _, feats = model.forward_features(x, names=("conv1",))
    weights = model.conv1.weight.data
    out = Path(args.out)
    saved = [
        viz.save_figure(viz.image_figure(rgb, title=Path(args.image).name),
                        out / "figure10_image.png"),
        viz.save_figure(viz.filters_and_activations(
            weights, feats["conv1"], indices=args.filters,
            title="conv1: activations (top) and filters (bottom)"),
            out / "figure11_filters_activations.png"),
        viz.save_figure(viz.filter_grid(weights, ncols=16, title="conv1: all filters"),
                        out / "conv1_filters.png"),
    ]
    print(f"conv1 weights {tuple(weights.shape)}, activations "
          f"{tuple(feats['conv1'].shape)} for {args.image} at {args.image_size}x"
          f"{args.image_size}; filters {args.filters}")
    for path in saved:
        print(f"wrote {path}")
    return saved


if __name__ == "__main__":
    sys.exit(run_main(main))
