"""Plots: training curves (the seed's Figures 1-9), filter and activation grids, overlays.

Everything draws with matplotlib's non-interactive Agg backend and saves PNG files, so it
works on a machine without a screen. Each function returns the matplotlib Figure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["smoothed_training_loss", "plot_loss", "plot_accuracy", "save_figure"]


def _plt():
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path) -> Path:
    """Save ``fig`` as PNG (atomically: temp file, then rename) and close it."""
    import os
    import tempfile
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        _plt().close(fig)
    return path


def smoothed_training_loss(history, window=None):
    """Training loss averaged over consecutive windows of steps, with its spread.

    Returns
    -------
    steps, mean, std : arrays, one entry per window (default: ~ half an epoch / 5)
    """
    steps = np.asarray(history["train"]["step"], dtype=float)
    loss = np.asarray(history["train"]["loss"], dtype=float)
    if window is None:
        window = max(1, history.get("steps_per_epoch", 700) // 10)
    n = len(loss) // window
    if n == 0:
        return steps, loss, np.zeros_like(loss)
    chunks = loss[:n * window].reshape(n, window)
    return steps[:n * window].reshape(n, window).mean(axis=1), chunks.mean(1), chunks.std(1)


def _label(name, split):
    return f"{split}" if not name else f"{name} {split}"


def plot_loss(histories, title="Cross-entropy loss", ylim=None):
    """Training loss (mean over steps, shaded +/- one standard deviation) and validation
    loss against training steps. ``histories``: one history dict or {label: history}."""
    plt = _plt()
    if "train" in histories:
        histories = {"": histories}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i}"
        s, m, sd = smoothed_training_loss(h)
        ax.plot(s, m, color=color, label=_label(name, "training loss"))
        ax.fill_between(s, m - sd, m + sd, color=color, alpha=0.2)
        ax.plot(h["val"]["step"], h["val"]["loss"], color=color, linestyle="--",
                marker="o", markersize=3, label=_label(name, "validation loss"))
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy loss")
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_accuracy(histories, title="Validation accuracy"):
    """Validation accuracy against training steps (one or several histories)."""
    plt = _plt()
    if "train" in histories:
        histories = {"": histories}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, h) in enumerate(histories.items()):
        ax.plot(h["val"]["step"], h["val"]["accuracy"], color=f"C{i}", marker="o",
                markersize=3, label=_label(name, "validation accuracy"))
    ax.set_xlabel("training step")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
