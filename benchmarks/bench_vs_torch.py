"""Speed of minitorch_cv against PyTorch CPU, side by side in ONE run.

    python benchmarks/bench_vs_torch.py            # full table, writes benchmarks/results.md
    python benchmarks/bench_vs_torch.py --quick    # under a minute: run before committing a kernel

Each row times this library and PyTorch alternately (ours, torch, ours, torch, ...) after a
warm-up, and reports medians and the ratio ours / torch. GFLOP/s counts the multiply-adds
of convolutions and linear layers (2 FLOPs each); a backward pass counts twice the forward
(dx and dW), a training step three times. A layer's forward row runs both under no_grad
(inference: nothing kept for backward), its backward row after a forward with gradients.
Without torch installed only our times are shown.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")   # this script's choice (the library sets none)

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minitorch_cv import models, nn, optim
from minitorch_cv.kernels.im2col import output_size

try:
    import torch
    import torch.nn.functional as TF
except ImportError:                                   # torch is optional
    torch = None


# ----------------------------------------------------------------------------- torch mirrors
def to_torch(module):
    """A torch.nn copy of one of our modules, with the same weights (float32)."""
    T = torch.nn
    name = type(module).__name__
    if name == "Sequential":
        return T.Sequential(*[to_torch(m) for m in module])
    if name == "Conv2d":
        t = T.Conv2d(module.in_channels, module.out_channels, module.kernel_size,
                     module.stride, module.padding, bias=module.bias is not None)
    elif name == "Linear":
        t = T.Linear(module.in_features, module.out_features, bias=module.bias is not None)
    elif name in ("BatchNorm1d", "BatchNorm2d"):
        t = getattr(T, name)(module.num_features, eps=module.eps, momentum=module.momentum)
    elif name in ("MaxPool2d", "AvgPool2d"):
        t = getattr(T, name)(module.kernel_size, module.stride, module.padding)
    elif name == "AdaptiveAvgPool2d":
        t = T.AdaptiveAvgPool2d(module.output_size)
    elif name in ("Dropout", "Dropout2d"):
        t = getattr(T, name)(module.p)
    elif name in ("ReLU", "Flatten", "Identity"):
        t = getattr(T, name)()
    elif name == "ResNet":
        return _torch_resnet18(module)
    else:
        raise NotImplementedError(f"no torch mirror for {name}")
    t.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in
                       module.state_dict().items()})
    return t


def _torch_resnet18(model):
    """torchvision's resnet18 written in plain torch (torchvision does not import here)."""
    T = torch.nn

    class Block(T.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = T.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = T.BatchNorm2d(cout)
            self.relu = T.ReLU()
            self.conv2 = T.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = T.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = T.Sequential(T.Conv2d(cin, cout, 1, stride, bias=False),
                                               T.BatchNorm2d(cout))

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + idt)

    class Net(T.Module):
        def __init__(self, num_classes):
            super().__init__()
            self.conv1 = T.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = T.BatchNorm2d(64)
            self.relu = T.ReLU()
            self.maxpool = T.MaxPool2d(3, 2, 1)
            cin = 64
            for i, cout in enumerate((64, 128, 256, 512)):
                stride = 1 if i == 0 else 2
                setattr(self, f"layer{i + 1}", T.Sequential(Block(cin, cout, stride),
                                                            Block(cout, cout, 1)))
                cin = cout
            self.avgpool = T.AdaptiveAvgPool2d(1)
            self.fc = T.Linear(512, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    net = Net(model.fc.out_features)
    net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in
                         model.state_dict().items()})
    return net


# ----------------------------------------------------------------------------- FLOPs
def forward_flops(model, input_shape):
    """2 * multiply-adds of every Conv2d and Linear for one forward pass of ``input_shape``."""
    leaves = [m for _, m in model.named_modules() if type(m).__name__ in ("Conv2d", "Linear")]
    out_shapes = {}

    def recording(m):
        def forward(x):
            out = type(m).forward(m, x)
            out_shapes[id(m)] = out.shape
            return out
        return forward
    for m in leaves:
        object.__setattr__(m, "forward", recording(m))    # instance attribute, removed below
    try:
        model.eval()
        with nn.no_grad():
            model(np.zeros(input_shape, dtype=np.float32))
    finally:
        for m in leaves:
            m.__dict__.pop("forward", None)
        model.train()
    total = 0.0
    for m in leaves:
        shape = out_shapes[id(m)]
        if type(m).__name__ == "Conv2d":
            kh, kw = m.kernel_size
            total += 2.0 * np.prod(shape) * m.in_channels * kh * kw
        else:
            total += 2.0 * shape[0] * m.in_features * m.out_features
    return total


# ----------------------------------------------------------------------------- timing
def alternate(fns, repeats, warmup=2):
    """Median seconds of each callable, run alternately (a, b, a, b, ...)."""
    for f in fns:
        for _ in range(warmup):
            f()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for f, t in zip(fns, times):
            start = time.perf_counter()
            f()
            t.append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def train_step_pair(model, batch=64, size=32):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    model.needs_input_grad = False
    opt = optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()

    def ours():
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        opt.zero_grad()
    if torch is None:
        return ours, None
    tmodel = to_torch(model).train()
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.01)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def theirs():
        topt.zero_grad()
        TF.cross_entropy(tmodel(tx), ty).backward()
        topt.step()
    return ours, theirs


def inference_pair(model, batch, size):
    x = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32)
    model.eval()

    def ours():
        with nn.no_grad():
            model(x)
    if torch is None:
        return ours, None
    tmodel = to_torch(model).eval()
    tx = torch.from_numpy(x)

    def theirs():
        with torch.no_grad():
            tmodel(tx)
    return ours, theirs


def layer_pairs(layer, input_shape, backward):
    x = np.random.default_rng(0).standard_normal(input_shape).astype(np.float32)
    out = layer(x)
    dout = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    if backward:
        def ours():
            layer.backward(dout)
    else:
        def ours():
            with nn.no_grad():                  # as PyTorch's forward below
                layer(x)
    if torch is None:
        return ours, None
    t = to_torch(layer)
    tx = torch.from_numpy(x).requires_grad_(backward)
    tdout = torch.from_numpy(dout)
    if backward:
        tout = t(tx)

        def theirs():
            tx.grad = None
            for p in t.parameters():
                p.grad = None
            tout.backward(tdout, retain_graph=True)
    else:
        def theirs():
            with torch.no_grad():
                t(tx)
    return ours, theirs


def distinct_layers(model_fns, input_shape=(64, 3, 32, 32)):
    """Distinct (Conv2d | MaxPool2d, input shape) pairs in the given networks."""
    seen = {}
    for build in model_fns:
        model = build()
        x = np.zeros(input_shape, dtype=np.float32)
        model.eval()
        with nn.no_grad():
            for layer in model:
                kind = type(layer).__name__
                if kind in ("Conv2d", "MaxPool2d"):
                    key = (repr(layer), x.shape)
                    seen.setdefault(key, (layer, x.shape))
                x = layer(x)
    return list(seen.values())


def peak_memory(impl, steps):
    """Peak RSS (MB) of a fresh process training the Task 2 model for ``steps`` steps."""
    # VmHWM (peak RSS of this process image), not ru_maxrss, which Linux carries over
    # from the parent across fork/exec.
    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import numpy as np
steps = {steps}
rng = np.random.default_rng(0)
x = rng.standard_normal((64, 3, 32, 32)).astype(np.float32)
y = rng.integers(0, 10, 64)
if {impl!r} == "ours":
    from minitorch_cv import models, nn, optim
    m = models.task2_model(); m.needs_input_grad = False
    opt = optim.SGD(m.parameters(), lr=0.01); lf = nn.CrossEntropyLoss()
    for _ in range(steps):
        lf(m(x), y); m.backward(lf.backward()); opt.step(); opt.zero_grad()
else:
    import torch
    sys.argv = ["x"]
    from benchmarks.bench_vs_torch import to_torch
    from minitorch_cv import models
    m = to_torch(models.task2_model()); opt = torch.optim.SGD(m.parameters(), lr=0.01)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(steps):
        opt.zero_grad(); torch.nn.functional.cross_entropy(m(tx), ty).backward(); opt.step()
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
print(int(hwm.split()[1]) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def startup_times():
    """Seconds to import minitorch_cv, and to run the first Task 2 training step, in a fresh
    process (numba's on-disk cache warm after the first run)."""
    code = """
import time; t0 = time.perf_counter()
import minitorch_cv
t1 = time.perf_counter()
import numpy as np
from minitorch_cv import models, nn, optim
m = models.task2_model(); lf = nn.CrossEntropyLoss(); opt = optim.SGD(m.parameters(), lr=0.01)
x = np.zeros((64, 3, 32, 32), np.float32); y = np.zeros(64, np.int64)
lf(m(x), y); m.backward(lf.backward()); opt.step()
t2 = time.perf_counter()
print(t1 - t0, t2 - t0)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    imp, first = map(float, out.stdout.split())
    return imp, first


# ----------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions and rows (under a minute)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 10)
    rows = []

    def add(name, pair, flops=None, reps=repeats):
        ours, theirs = pair
        fns = [ours] + ([theirs] if theirs else [])
        t = alternate(fns, reps)
        row = {"name": name, "ours_ms": 1e3 * t[0],
               "torch_ms": 1e3 * t[1] if theirs else None}
        row["ratio"] = row["ours_ms"] / row["torch_ms"] if theirs else None
        row["gflops_ours"] = flops / t[0] / 1e9 if flops else None
        row["gflops_torch"] = flops / t[1] / 1e9 if (flops and theirs) else None
        rows.append(row)
        print(format_row(row), flush=True)

    print(header())
    nets = [("Task 2 model", models.task2_model), ("Network 1", models.network1),
            ("improved network", models.improved_network)]
    if args.quick:
        nets = nets[:1]
    for label, build in nets:
        model = build()
        flops = forward_flops(model, (64, 3, 32, 32))
        add(f"train step, {label}, batch 64", train_step_pair(model), 3 * flops)
    builds = [b for _, b in nets]
    for layer, shape in distinct_layers(builds):
        flops = None
        if type(layer).__name__ == "Conv2d":
            kh, kw = layer.kernel_size
            oh = output_size(shape[2], kh, layer.stride[0], layer.padding[0])
            ow = output_size(shape[3], kw, layer.stride[1], layer.padding[1])
            flops = 2.0 * shape[0] * layer.out_channels * oh * ow * layer.in_channels * kh * kw
        add(f"{layer!r} forward {tuple(shape)}", layer_pairs(layer, shape, False), flops)
        add(f"{layer!r} backward {tuple(shape)}", layer_pairs(layer, shape, True),
            2 * flops if flops else None)
    try:
        resnet = models.resnet18(num_classes=10)
    except (ImportError, AttributeError) as err:   # ResNet18 not available
        print(f"(ResNet18 skipped: {err})")
        resnet = None
    if resnet is not None:
        settings = [(64, 64)] if args.quick else [(64, 64), (8, 224)]
        for batch, size in settings:
            flops = forward_flops(resnet, (batch, 3, size, size))
            add(f"ResNet18 inference, batch {batch}, {size}x{size}",
                inference_pair(resnet, batch, size), flops, reps=max(2, repeats // 3))
    steps = 20 if args.quick else 200
    mem = {"ours": peak_memory("ours", steps)}
    if torch is not None:
        mem["torch"] = peak_memory("torch", steps)
    imp, first = startup_times()
    report = render(rows, mem, steps, imp, first, args)
    print(f"peak RSS training Task 2 for {steps} steps: " +
          ", ".join(f"{k} {v:.0f} MB" for k, v in mem.items()) +
          (f" (ratio {mem['ours'] / mem['torch']:.2f})" if "torch" in mem else ""))
    print(f"import minitorch_cv: {imp:.2f} s; first training step in a fresh process "
          f"(import included, numba cache warm): {first:.2f} s")
    if not args.quick:
        Path(args.out).write_text(report)
        json_path = Path(args.out).with_suffix(".json")
        json_path.write_text(json.dumps({"rows": rows, "memory_mb": mem, "import_s": imp,
                                         "first_step_s": first}, indent=1))
        print(f"wrote {args.out}")


def header():
    return (f"{'benchmark':<78} {'ours ms':>9} {'torch ms':>9} {'ratio':>6} "
            f"{'GF/s ours':>9} {'GF/s torch':>10}")


def _fmt(v, spec):
    return format(v, spec) if v is not None else "-"


def format_row(r):
    return (f"{r['name'][:78]:<78} {_fmt(r['ours_ms'], '9.2f')} {_fmt(r['torch_ms'], '9.2f')} "
            f"{_fmt(r['ratio'], '6.2f')} {_fmt(r['gflops_ours'], '9.1f')} "
            f"{_fmt(r['gflops_torch'], '10.1f')}")


def render(rows, mem, steps, imp, first, args):
    import numba
    lines = ["# minitorch_cv vs PyTorch CPU", "",
             (f"Command: `python benchmarks/bench_vs_torch.py"
              f"{' --quick' if args.quick else ''}` (medians of alternating runs after "
              "warm-up; ratio = ours / torch, lower is better)."), "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}, NumPy {np.__version__}, "
             f"numba {numba.__version__}"
             + (f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
                if torch else ", torch not installed"), "",
             "| benchmark | ours (ms) | torch (ms) | ratio | GFLOP/s ours | GFLOP/s torch |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['name']} | {_fmt(r['ours_ms'], '.2f')} | "
                     f"{_fmt(r['torch_ms'], '.2f')} | {_fmt(r['ratio'], '.2f')} | "
                     f"{_fmt(r['gflops_ours'], '.1f')} | {_fmt(r['gflops_torch'], '.1f')} |")
    lines += ["", f"Peak resident memory of a fresh process training the Task 2 model for "
              f"{steps} steps (batch 64): " +
              ", ".join(f"{k} {v:.0f} MB" for k, v in mem.items()) +
              (f", ratio {mem['ours'] / mem['torch']:.2f}" if "torch" in mem else "") + ".",
              "", (f"Start-up: `import minitorch_cv` {imp:.2f} s; first Task 2 training step "
                   f"of a fresh process, import included, numba cache warm: {first:.2f} s."),
              ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
