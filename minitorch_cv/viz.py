"""Plots: training curves (the seed's Figures 1-9), filter and activation grids, overlays.

Each function returns a matplotlib Figure built with the object-oriented API
(:class:`matplotlib.figure.Figure`, not ``pyplot``), and :func:`save_figure` writes it as
PNG through matplotlib's Agg renderer. So it works on a machine without a screen, and it
leaves the program's matplotlib state alone: the pyplot backend (a notebook's inline one,
say) is neither chosen nor switched, and no figure is left open in pyplot. A notebook
displays a returned figure as it displays any other.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

__all__ = ["activation_grid", "filter_grid", "filters_and_activations", "image_figure",
           "image_grid", "minmax_scale", "overlay", "plot_accuracy", "plot_loss",
           "save_figure", "smoothed_training_loss", "to_image", "upsample"]


def _subplots(nrows=1, ncols=1, figsize=None, squeeze=True):
    """``pyplot.subplots`` without pyplot: a new Figure and its axes, no global state."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def save_figure(fig, path) -> Path:
    """Save ``fig`` as PNG (atomically: temp file, then rename).

    A figure made with ``pyplot`` is closed afterwards (pyplot would keep it open); the
    figures this module makes belong to no one else and need no closing.
    """
    from ._files import atomic_write
    path = Path(path)
    try:
        with atomic_write(path) as f:
            fig.savefig(f, format="png", dpi=120, bbox_inches="tight")
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")     # never imported here
        if pyplot is not None:
            pyplot.close(fig)                             # a no-op for our own figures
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
    if "train" in histories:
        histories = {"": histories}
    fig, ax = _subplots(figsize=(7, 4.5))
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
    if "train" in histories:
        histories = {"": histories}
    fig, ax = _subplots(figsize=(7, 4.5))
    for i, (name, h) in enumerate(histories.items()):
        ax.plot(h["val"]["step"], h["val"]["accuracy"], color=f"C{i}", marker="o",
                markersize=3, label=_label(name, "validation accuracy"))
    ax.set_xlabel("training step")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


# ----------------------------------------------------------------------------- filters
def minmax_scale(a, axis=None):
    """Scale ``a`` to [0, 1]: ``(a - min) / (max - min)``, min and max taken over ``axis``.

    ``axis=None`` uses the whole array; ``axis=(1, 2, 3)`` on filters (F, C, K_h, K_w)
    scales every filter on its own ("per-filter min-max scaling"), so each one uses the
    full colour range. A constant slice becomes 0.
    """
    a = np.asarray(a, dtype=np.float64)
    lo = a.min(axis=axis, keepdims=True)
    span = a.max(axis=axis, keepdims=True) - lo
    return np.divide(a - lo, span, out=np.zeros_like(a), where=span > 0)


def to_image(x, mean=None, std=None):
    """An (H, W, 3) or (H, W) float image in [0, 1] for ``imshow``.

    ``x`` may be (3, H, W) or (1, 3, H, W) (NCHW, as the network sees it), (H, W, 3) or
    (H, W); uint8 is divided by 255. With ``mean``/``std`` a normalized input is mapped
    back (``x * std + mean``) first. Values are clipped to [0, 1].
    """
    x = np.asarray(x)
    if x.ndim == 4:
        x = x[0]
    if x.ndim == 3 and x.shape[0] in (1, 3) and x.shape[-1] not in (1, 3):
        x = x.transpose(1, 2, 0)
    if x.dtype == np.uint8:
        x = x / 255.0
    x = np.asarray(x, dtype=np.float64)
    if std is not None:
        x = x * np.asarray(std, dtype=np.float64)
    if mean is not None:
        x = x + np.asarray(mean, dtype=np.float64)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    return np.clip(x, 0.0, 1.0)


def upsample(heatmap, size):
    """Bilinear upsampling of an (h, w) map to ``size`` = (H, W) (PyTorch's
    ``interpolate(mode="bilinear", align_corners=False)``)."""
    from .data.transforms import resize
    heatmap = np.asarray(heatmap, dtype=np.float64)
    return resize(heatmap[None, None], size)[0, 0]


def image_figure(image, title=None, size=4.5):
    """One image (anything :func:`to_image` accepts) on its own figure."""
    img = to_image(image)
    fig, ax = _subplots(figsize=(size, size))
    ax.imshow(img, cmap=None if img.ndim == 3 else "gray")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return fig


def _grid(n, ncols):
    ncols = max(1, min(n, ncols or n))
    return -(-n // ncols), ncols


def filter_grid(weights, ncols=8, titles=None, title=None, size=1.2):
    """Convolution filters as small images, each min-max scaled on its own.

    Parameters
    ----------
    weights : ndarray (F, C, K_h, K_w)
        E.g. ``model.conv1.weight.data`` (64, 3, 7, 7). Three input channels are shown
        as RGB; any other number as the grey-scale mean over the input channels.
    ncols : int
    titles : sequence of str, optional (default: the filter indices)
    title : str, optional
    size : float
        Inches per filter.

    Returns
    -------
    matplotlib.figure.Figure
    """
    w = np.asarray(weights)
    if w.ndim != 4:
        raise ValueError(f"filter_grid expects weights of shape (F, C, K_h, K_w), got {w.shape}")
    scaled = minmax_scale(w, axis=(1, 2, 3))
    nrows, ncols = _grid(len(w), ncols)
    fig, axes = _subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.4),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(w):
            continue
        if w.shape[1] == 3:
            ax.imshow(scaled[i].transpose(1, 2, 0), interpolation="nearest")
        else:
            ax.imshow(scaled[i].mean(axis=0), cmap="gray", vmin=0, vmax=1,
                      interpolation="nearest")
        ax.set_title(str(titles[i]) if titles is not None else str(i), fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def activation_grid(maps, ncols=5, titles=None, title=None, cmap="viridis", size=2.0):
    """Feature maps (one channel each) in a grid, each with its own colour scale.

    Parameters
    ----------
    maps : ndarray (K, H, W) or (1, K, H, W)
        E.g. the first ten channels of layer4's output.
    ncols : int
    titles : sequence of str, optional (default: "channel i")
    title : str, optional
    cmap : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    m = np.asarray(maps)
    if m.ndim == 4 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 3:
        raise ValueError(f"activation_grid expects maps of shape (K, H, W), got {m.shape}")
    nrows, ncols = _grid(len(m), ncols)
    fig, axes = _subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.4),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(m):
            continue
        ax.imshow(m[i], cmap=cmap, interpolation="nearest")
        ax.set_title(str(titles[i]) if titles is not None else f"channel {i}", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def overlay(image, heatmap, alpha=0.5, cmap="jet", title=None, ax=None):
    """A heat map (e.g. mean activation or Grad-CAM), upsampled and laid over an image.

    Parameters
    ----------
    image : ndarray
        Anything :func:`to_image` accepts: (H, W, 3) uint8 or float in [0, 1], or
        (3, H, W).
    heatmap : ndarray (h, w)
        Upsampled bilinearly to (H, W), then min-max scaled to [0, 1].
    alpha : float
        Opacity of the heat map.
    ax : matplotlib Axes, optional
        Draw there instead of on a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    img = to_image(image)
    heat = np.asarray(heatmap, dtype=np.float64)
    if heat.ndim != 2:
        raise ValueError(f"overlay expects a 2-D heat map, got shape {heat.shape}")
    if heat.shape != img.shape[:2]:
        heat = upsample(heat, img.shape[:2])
    heat = minmax_scale(heat)
    if ax is None:
        fig, ax = _subplots(figsize=(4.5, 4.5))
    else:
        fig = ax.figure
    ax.imshow(img, cmap=None if img.ndim == 3 else "gray")
    ax.imshow(heat, cmap=cmap, alpha=alpha, vmin=0, vmax=1)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return fig


def filters_and_activations(weights, activations, indices=None, title=None,
                            cmap="gray", size=2.0):
    """The seed's Figure 11: activation maps (top row) above their filters (bottom row).

    Parameters
    ----------
    weights : ndarray (F, 3, K_h, K_w)
        First-layer filters; each is shown as an RGB image, min-max scaled on its own.
    activations : ndarray (F, H, W) or (1, F, H, W)
        The filters' outputs on one image (e.g. conv1's output, before BatchNorm).
    indices : sequence of int, optional
        Which filters to show (default: all of ``weights``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    w = np.asarray(weights)
    a = np.asarray(activations)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if w.ndim != 4 or a.ndim != 3:
        raise ValueError(f"expected weights (F, C, K_h, K_w) and activations (F, H, W), got "
                         f"{w.shape} and {a.shape}")
    indices = list(range(len(w))) if indices is None else [int(i) for i in indices]
    scaled = minmax_scale(w, axis=(1, 2, 3))
    fig, axes = _subplots(2, len(indices), figsize=(size * len(indices), 2 * size + 0.4),
                             squeeze=False)
    for col, i in enumerate(indices):
        top, bottom = axes[0, col], axes[1, col]
        top.imshow(a[i], cmap=cmap)
        top.set_title(f"filter {i}", fontsize=9)
        if w.shape[1] == 3:
            bottom.imshow(scaled[i].transpose(1, 2, 0), interpolation="nearest")
        else:
            bottom.imshow(scaled[i].mean(axis=0), cmap="gray", interpolation="nearest")
        top.axis("off")
        bottom.axis("off")
    if title:
        fig.suptitle(title)
    return fig


def image_grid(images, titles=None, ncols=8, title=None, mean=None, std=None, size=1.3):
    """Several images in a grid, each with its caption (e.g. CIFAR-10 images and labels).

    Parameters
    ----------
    images : ndarray (N, 3, H, W) or (N, H, W, 3)
        A batch as the network sees it (NCHW; uint8 pixels, floats in [0, 1], or
        normalized floats with ``mean``/``std``), or channel-last images. Each image goes
        through :func:`to_image`.
    titles : sequence of str, optional
        One caption per image (e.g. the class names); none by default.
    ncols : int
    title : str, optional
        The figure's title.
    mean, std : float or sequence of float, optional
        Undo a ``Normalize(mean, std)`` before showing (``x * std + mean``).
    size : float
        Inches per image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    imgs = np.asarray(images)
    if imgs.ndim != 4:
        raise ValueError(f"image_grid expects a batch of images (N, 3, H, W) or (N, H, W, 3), "
                         f"got shape {imgs.shape}")
    if titles is not None and len(titles) != len(imgs):
        raise ValueError(f"image_grid: {len(titles)} titles for {len(imgs)} images")
    nrows, ncols = _grid(len(imgs), ncols)
    fig, axes = _subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.5),
                          squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(imgs):
            continue
        img = to_image(imgs[i], mean=mean, std=std)
        ax.imshow(img, cmap=None if img.ndim == 3 else "gray", interpolation="nearest")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
