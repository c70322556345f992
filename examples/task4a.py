"""Task 4a of the seed report: transfer learning with a pretrained ResNet18 on CIFAR-10.

    MINITORCH_CV_DATA=/path/to/data python examples/task4a.py        # shared checkpoint, 64x64
    python examples/task4a.py --weights IMAGENET1K_V1 --image-size 224  # the seed's Table 10 setting
    python examples/task4a.py --limit 3000 --epochs 1 --no-train-eval   # a quick look

As the seed did: load pretrained ResNet18 weights, replace ``fc`` by a new, freshly
initialized ``nn.Linear(512, 10)``, freeze everything except ``layer4`` and ``fc``, and train
with Adam (lr 5e-4, batch 32) and early stopping (4). Images are resized bilinearly to
``--image-size`` and normalized with ImageNet's mean and std. The frozen layers cost no
backward pass (the Trainer sets ``needs_input_grad = False``).

``--weights`` defaults to $MINITORCH_CV_DATA/resnet18_cifar10/resnet18_cifar10.pth when it
exists (a torchvision ResNet18 trained on CIFAR-10 at 64x64: only its head is thrown away),
otherwise to "IMAGENET1K_V1" (torchvision's ImageNet weights, downloaded into the cache or
placed there by hand; see docs/resnet.md). Writes metrics.json, history.json, best.npz,
loss.png (Figure 8) and accuracy.png (Figure 9) to --out.

The shared checkpoint was trained on the whole CIFAR-10 training split, which holds this
run's validation images: with it, the validation accuracy is optimistic and the test
accuracy is the honest number (the run prints this warning and metrics.json keeps it
under "notes").
"""

import os
import shlex
import sys
from pathlib import Path

from minitorch_cv import models, nn, tune_allocator
from minitorch_cv.models.resnet import IMAGENET_MEAN, IMAGENET_STD, load_pretrained
from minitorch_cv.train.experiment import run_main, run_training, training_parser

SHARED_CHECKPOINT = Path("resnet18_cifar10") / "resnet18_cifar10.pth"

SAW_VALIDATION_NOTE = (
    "the pretrained weights are the shared checkpoint $MINITORCH_CV_DATA/"
    f"{SHARED_CHECKPOINT.as_posix()}, trained on the whole CIFAR-10 training split, so they "
    "saw this run's validation images: the validation accuracy is optimistic; the test "
    "accuracy is the honest number")


def shared_checkpoint():
    """The shared CIFAR-10 checkpoint in $MINITORCH_CV_DATA, or None when it is not there."""
    data = os.environ.get("MINITORCH_CV_DATA")
    if data and (Path(data) / SHARED_CHECKPOINT).is_file():
        return Path(data) / SHARED_CHECKPOINT
    return None


def default_weights():
    """The shared CIFAR-10 checkpoint when $MINITORCH_CV_DATA holds it, else ImageNet's."""
    path = shared_checkpoint()
    return str(path) if path is not None else "IMAGENET1K_V1"


def saw_validation_images(weights):
    """True when ``weights`` is the shared checkpoint (the file itself, or a copy of it
    under its own name), which was trained on every CIFAR-10 training image."""
    path, shared = Path(weights), shared_checkpoint()
    if not path.is_file():
        return False
    if shared is not None and path.samefile(shared):
        return True
    return (path.name == SHARED_CHECKPOINT.name and shared is not None
            and path.stat().st_size == shared.stat().st_size)


def parser():
    """The command line: every flag of the seed's recipe (``--help`` shows its default)."""
    p = training_parser(__doc__, lr=5e-4, batch_size=32, epochs=5,
                        early_stop_count=4, optimizer="adam", out="runs/task4a",
                        image_size=64, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    p._option_string_actions["--image-size"].help = (
        "resize the 32x32 images to this size (bilinear) before the network: 224 as in "
        "the seed; 64 is the practical size on a CPU")
    p.add_argument("--weights", default=default_weights(),
                   help="pretrained ResNet18: a .pth/.safetensors/.npz file or IMAGENET1K_V1 "
                        f"(default: $MINITORCH_CV_DATA/{SHARED_CHECKPOINT.as_posix()} when it "
                        f"exists, else IMAGENET1K_V1; here: {default_weights()})")
    p.add_argument("--trainable", nargs="+", default=["layer4", "fc"],
                   help="top-level modules to train; every other parameter is frozen")
    return p


def build_model(weights, trainable=("layer4", "fc"), seed=0, log=print):
    """Pretrained ResNet18 with a new 10-class head; only ``trainable`` modules train."""
    rng = nn.init.get_rng(seed)
    model = models.resnet18(num_classes=10, rng=rng)
    try:
        load_pretrained(model, weights, log=lambda message: None)  # head replaced below anyway
    except TypeError as err:     # not a state dict: one line like the other weight errors
        raise ValueError(f"--weights {weights}: {err}") from None
    model.fc = nn.Linear(512, 10, rng=rng)          # the seed: model.fc = nn.Linear(512, 10)
    model.requires_grad_(False)
    for name in trainable:
        if name not in model.STAGES:
            raise ValueError(f"--trainable {name}: choose from {list(model.STAGES)}")
        getattr(model, name).requires_grad_(True)
    n_train = sum(p.data.size for p in model.parameters() if p.requires_grad)
    log(f"loaded {weights}; new fc 512 -> 10 (random init); training {', '.join(trainable)} "
        f"({n_train:,} of {sum(p.data.size for p in model.parameters()):,} parameters), "
        "the rest is frozen")
    return model


def main(argv=None):
    args = parser().parse_args(argv)
    model = build_model(args.weights, args.trainable, seed=args.seed)
    notes = [SAW_VALIDATION_NOTE] if saw_validation_images(args.weights) else []
    return run_training(args, model, augment=(), name="task4a",
                        command=shlex.join(["python", "examples/task4a.py",
                                            *(sys.argv[1:] if argv is None else argv)]),
                        notes=notes)


if __name__ == "__main__":
    # A training script may choose its process's allocator (the library never does):
    # freed activations stay in the heap for the next step, without page faults.
    tune_allocator()
    sys.exit(run_main(main))
