"""Task 4c of the seed report: the last convolutional layer's activations, and Grad-CAM.

    MINITORCH_CV_DATA=/path/to/data python examples/task4c.py
    python examples/task4c.py --weights IMAGENET1K_V1 --image my_photo.jpg

Writes to --out:

- figure12_layer4_activations.png   layer4's output, first ten channels (Figure 12)
- figure13_layer4_overlay.png       their mean, upsampled bilinearly over the image (Figure 13)
- gradcam.png                       Grad-CAM for the predicted class
- prediction.json                   the predicted classes and probabilities

At 224x224 layer4's maps are 7x7 (2x2 at 64x64). The seed looked only at raw activations,
which show where the network responds, not what the response means. Grad-CAM (Selvaraju
et al., 2017) weights each of the 512 maps by how much it raises the predicted class's
score -- the spatial mean of d(score)/d(map), computed here with the library's own backward
pass through fc and avgpool -- and keeps the positive part of the weighted sum.

The shared checkpoint is a CIFAR-10 model trained at 64x64: a zebra is not one of its
classes, and it sees the 224x224 image at a scale it never trained on, so the prediction is
printed both at --image-size and at 64x64.
"""

import sys
from pathlib import Path

import numpy as np

from minitorch_cv import nn, viz
from minitorch_cv.data import CIFAR10_CLASSES, resize
from minitorch_cv.models.resnet import grad_cam
from minitorch_cv.train.experiment import run_main

try:                                          # run as a script: examples/ is on sys.path
    from task4b import common_parser, load_image, load_model
except ImportError:                           # pragma: no cover - imported from elsewhere
    from examples.task4b import common_parser, load_image, load_model


def class_name(index, num_classes):
    return CIFAR10_CLASSES[index] if num_classes == 10 else f"class {index}"


def softmax(logits):
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def describe(logits, num_classes, top=3):
    p = softmax(logits[0].astype(np.float64))
    order = np.argsort(-p)[:top]
    return [{"class": int(i), "name": class_name(int(i), num_classes),
             "probability": float(p[i])} for i in order]


def parser():
    """The command line (``--help`` shows every default)."""
    p = common_parser(__doc__, "runs/task4c")
    p.add_argument("--channels", type=int, default=10,
                   help="how many of layer4's first channels to plot and average")
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if args.image is None:
        p.error("--image is required when $MINITORCH_CV_DATA does not hold zebra.jpg")
    model = load_model(args.weights)
    k = model.num_classes
    rgb, x = load_image(args.image, args.image_size)

    with nn.no_grad():
        logits, feats = model.forward_features(x, names=("layer4",))
        logits64 = model(resize(x, 64)) if args.image_size != 64 else logits
    act = feats["layer4"][0, :args.channels]                    # (channels, h, w)
    cam, target, _ = grad_cam(model, x)
    cls = class_name(int(target[0]), k)

    result = {"image": str(args.image), "weights": str(args.weights),
              "image_size": args.image_size,
              f"top3_at_{args.image_size}": describe(logits, k),
              "top3_at_64": describe(logits64, k),
              "gradcam_class": {"class": int(target[0]), "name": cls}}
    for size, key in ((args.image_size, f"top3_at_{args.image_size}"), (64, "top3_at_64")):
        best = result[key][0]
        print(f"prediction at {size}x{size}: {best['name']} ({best['probability']:.1%}); "
              "top 3: " + ", ".join(f"{t['name']} {t['probability']:.1%}" for t in result[key]))
    if k == 10:
        print("(a CIFAR-10 model has no zebra class: it answers with the nearest of its ten)")

    out = Path(args.out)
    h, w = act.shape[1:]
    saved = [
        viz.save_figure(viz.activation_grid(
            act, ncols=5, title=f"layer4 output, channels 0-{args.channels - 1} ({h}x{w})"),
            out / "figure12_layer4_activations.png"),
        viz.save_figure(viz.overlay(
            rgb, act.mean(axis=0),
            title=f"mean of layer4 channels 0-{args.channels - 1}, upsampled"),
            out / "figure13_layer4_overlay.png"),
        viz.save_figure(viz.overlay(rgb, cam[0], title=f"Grad-CAM for '{cls}'"),
                        out / "gradcam.png"),
    ]
    from minitorch_cv.train import atomic_write_json
    atomic_write_json(out / "prediction.json", result)
    for path in saved + [out / "prediction.json"]:
        print(f"wrote {path}")
    return result


if __name__ == "__main__":
    sys.exit(run_main(main))
