"""Plots: training curves, filter and activation grids, overlays, charts and the convolution
animation of the lessons. Each function returns a :class:`matplotlib.figure.Figure` made
without ``pyplot`` (no backend chosen, no figure left open), which :func:`save_figure`
writes as PNG; a notebook displays it as any other."""

from __future__ import annotations

import operator
import sys
from pathlib import Path

import numpy as np

__all__ = ["ConvolutionAnimation", "activation_grid", "animate_convolution", "bar_chart",
           "filter_grid", "filters_and_activations", "image_figure", "image_grid",
           "matrices_figure", "minmax_scale", "overlay", "plot_accuracy", "plot_loss",
           "save_figure", "smoothed_training_loss", "to_image", "upsample"]

# The widest figure (inches) bar_chart and matrices_figure draw: at 100 dpi it fits a page
# column of the lessons (about 900 px), so its 8-10 pt labels are not shrunk with it.
PAGE_WIDTH = 8.5


def _subplots(nrows=1, ncols=1, figsize=None, squeeze=True):
    """``pyplot.subplots`` without pyplot: a new Figure and its axes, no global state."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def _titled(fig, title):
    if title:
        fig.suptitle(title)
    return fig


def save_figure(fig, path) -> Path:
    """Save ``fig`` as PNG (atomically: temp file, then rename); a figure made with
    ``pyplot`` is closed afterwards (pyplot would keep it open)."""
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


# ----------------------------------------------------------------------------- curves
def smoothed_training_loss(history, window=None):
    """Training loss averaged over consecutive windows of steps (default: a tenth of an
    epoch): ``(steps, mean, std)``, arrays with one entry per window."""
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
    return f"{name} {split}" if name else split


def _as_histories(histories):
    """One history dict (it has "train" or "val") or {label: history}, as the latter."""
    return {"": histories} if "train" in histories or "val" in histories else histories


def _split(history, name):
    """A history's "train" or "val" record, or None when it is missing or empty."""
    record = history.get(name)
    return record if record and len(record.get("step", ())) else None


def _finish_axes(ax, ylabel, title):
    """Labels, integer step ticks, and a legend only if something has a label."""
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="training step", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()


def plot_loss(histories, title="Cross-entropy loss", ylim=None):
    """Training loss (mean over steps, shaded +/- one standard deviation) and validation
    loss against training steps. ``histories``: one history dict or {label: history}; a
    split a history lacks (no "val", or no validation step yet) draws nothing."""
    fig, ax = _subplots(figsize=(7, 4.5))
    for i, (name, h) in enumerate(_as_histories(histories).items()):
        color = f"C{i}"
        if _split(h, "train") is not None:
            s, m, sd = smoothed_training_loss(h)
            ax.plot(s, m, color=color, label=_label(name, "training loss"))
            ax.fill_between(s, m - sd, m + sd, color=color, alpha=0.2)
        val = _split(h, "val")
        if val is not None:
            ax.plot(val["step"], val["loss"], color=color, linestyle="--",
                    marker="o", markersize=3, label=_label(name, "validation loss"))
    if ylim:
        ax.set_ylim(*ylim)
    _finish_axes(ax, "cross-entropy loss", title)
    return fig


def plot_accuracy(histories, title="Validation accuracy"):
    """Validation accuracy against training steps; see :func:`plot_loss`."""
    fig, ax = _subplots(figsize=(7, 4.5))
    for i, (name, h) in enumerate(_as_histories(histories).items()):
        val = _split(h, "val")
        if val is not None:
            ax.plot(val["step"], val["accuracy"], color=f"C{i}", marker="o",
                    markersize=3, label=_label(name, "validation accuracy"))
    _finish_axes(ax, "accuracy", title)
    return fig


# ----------------------------------------------------------------------------- images
def minmax_scale(a, axis=None):
    """Scale ``a`` to [0, 1]: ``(a - min) / (max - min)``, min and max taken over ``axis``
    (``axis=(1, 2, 3)`` on filters (F, C, K_h, K_w) scales each on its own); a constant
    slice becomes 0."""
    a = np.asarray(a, dtype=np.float64)
    lo = a.min(axis=axis, keepdims=True)
    span = a.max(axis=axis, keepdims=True) - lo
    return np.divide(a - lo, span, out=np.zeros_like(a), where=span > 0)


def to_image(x, mean=None, std=None):
    """An (H, W, 3) or (H, W) float image in [0, 1] for ``imshow``, from (3, H, W) or
    (1, 3, H, W) (NCHW, as the network sees it), (H, W, 3) or (H, W). uint8 is divided by
    255; with ``mean``/``std`` a normalized input is mapped back (``x * std + mean``) first."""
    x = np.asarray(x)
    if x.ndim == 4:
        x = x[0]
    if x.ndim == 3 and x.shape[0] in (1, 3) and x.shape[-1] not in (1, 3):
        x = x.transpose(1, 2, 0)
    x = np.asarray(x / 255.0 if x.dtype == np.uint8 else x, dtype=np.float64)
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
    return resize(np.asarray(heatmap, dtype=np.float64)[None, None], size)[0, 0]


def image_figure(image, title=None, size=4.5):
    """One image (anything :func:`to_image` accepts) on its own figure."""
    img = to_image(image)
    fig, ax = _subplots(figsize=(size, size))
    ax.imshow(img, cmap=None if img.ndim == 3 else "gray")
    ax.axis("off")
    ax.set_title(title or "")
    return fig


def _grid_figure(n, ncols, size, title_room=0.4):
    """A grid of ``size``-inch cells for ``n`` pictures, axes off: ``(fig, first n axes)``."""
    ncols = max(1, min(n, ncols or n))
    nrows = -(-n // ncols)
    fig, axes = _subplots(nrows, ncols, figsize=(size * ncols, size * nrows + title_room),
                          squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, list(axes.flat)[:n]


def _show_filter(ax, scaled, **grey):
    """A min-max scaled filter (C, K_h, K_w): RGB for 3 channels, else their grey mean, drawn
    with the ``grey`` imshow arguments (``vmin``/``vmax``: a fixed scale)."""
    if scaled.shape[0] == 3:
        ax.imshow(scaled.transpose(1, 2, 0), interpolation="nearest")
    else:
        ax.imshow(scaled.mean(axis=0), cmap="gray", **grey, interpolation="nearest")


def filter_grid(weights, ncols=8, titles=None, title=None, size=1.2):
    """Convolution filters (F, C, K_h, K_w) as small images, each min-max scaled on its own:
    three input channels as RGB, any other number as their grey-scale mean. ``titles`` labels
    the filters (default: their indices), ``title`` the figure; ``size`` is inches per filter."""
    w = np.asarray(weights)
    if w.ndim != 4:
        raise ValueError(f"filter_grid expects weights of shape (F, C, K_h, K_w), got {w.shape}")
    scaled = minmax_scale(w, axis=(1, 2, 3))
    fig, axes = _grid_figure(len(w), ncols, size)
    for i, ax in enumerate(axes):
        _show_filter(ax, scaled[i], vmin=0, vmax=1)
        ax.set_title(str(titles[i]) if titles is not None else str(i), fontsize=8)
    return _titled(fig, title)


def activation_grid(maps, ncols=5, titles=None, title=None, cmap="viridis", size=2.0):
    """Feature maps (K, H, W) or (1, K, H, W) in a grid, each with its own colour scale;
    ``titles`` labels the maps (default: "channel i"), ``title`` the figure."""
    m = np.asarray(maps)
    if m.ndim == 4 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 3:
        raise ValueError(f"activation_grid expects maps of shape (K, H, W), got {m.shape}")
    fig, axes = _grid_figure(len(m), ncols, size)
    for i, ax in enumerate(axes):
        ax.imshow(m[i], cmap=cmap, interpolation="nearest")
        ax.set_title(str(titles[i]) if titles is not None else f"channel {i}", fontsize=8)
    return _titled(fig, title)


def overlay(image, heatmap, alpha=0.5, cmap="jet", title=None, ax=None):
    """A heat map (h, w) (e.g. Grad-CAM), upsampled bilinearly to the image's (H, W), min-max
    scaled and drawn with opacity ``alpha`` over ``image`` (anything :func:`to_image` takes).
    With ``ax`` it draws there instead of on a new figure; returns the figure."""
    img = to_image(image)
    heat = np.asarray(heatmap, dtype=np.float64)
    if heat.ndim != 2:
        raise ValueError(f"overlay expects a 2-D heat map, got shape {heat.shape}")
    if heat.shape != img.shape[:2]:
        heat = upsample(heat, img.shape[:2])
    if ax is None:
        ax = _subplots(figsize=(4.5, 4.5))[1]
    ax.imshow(img, cmap=None if img.ndim == 3 else "gray")
    ax.imshow(minmax_scale(heat), cmap=cmap, alpha=alpha, vmin=0, vmax=1)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax.figure


def filters_and_activations(weights, activations, indices=None, title=None,
                            cmap="gray", size=2.0):
    """The seed's Figure 11: activation maps (F, H, W) or (1, F, H, W) (top row) above their
    first-layer filters (F, 3, K_h, K_w) (bottom row, as in :func:`filter_grid`); ``indices``
    which filters to show (default: all)."""
    w, a = np.asarray(weights), np.asarray(activations)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if w.ndim != 4 or a.ndim != 3:
        raise ValueError(f"expected weights (F, C, K_h, K_w) and activations (F, H, W), got "
                         f"{w.shape} and {a.shape}")
    indices = list(range(len(w))) if indices is None else [int(i) for i in indices]
    scaled = minmax_scale(w, axis=(1, 2, 3))
    fig, axes = _grid_figure(2 * len(indices), len(indices), size)
    for top, bottom, i in zip(axes, axes[len(indices):], indices):
        top.imshow(a[i], cmap=cmap)
        top.set_title(f"filter {i}", fontsize=9)
        _show_filter(bottom, scaled[i])
    return _titled(fig, title)


def image_grid(images, titles=None, ncols=8, title=None, mean=None, std=None, size=1.3):
    """A batch of images (N, 3, H, W) or (N, H, W, 3) in a grid, each shown by :func:`to_image`
    (``mean``/``std`` undo a ``Normalize``), with one caption per image from ``titles``;
    ``title`` is the figure's, ``size`` inches per image."""
    imgs = np.asarray(images)
    if imgs.ndim != 4:
        raise ValueError(f"image_grid expects a batch of images (N, 3, H, W) or (N, H, W, 3), "
                         f"got shape {imgs.shape}")
    if titles is not None and len(titles) != len(imgs):
        raise ValueError(f"image_grid: {len(titles)} titles for {len(imgs)} images")
    fig, axes = _grid_figure(len(imgs), ncols, size, title_room=0.5)
    for i, ax in enumerate(axes):
        img = to_image(imgs[i], mean=mean, std=std)
        ax.imshow(img, cmap=None if img.ndim == 3 else "gray", interpolation="nearest")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    return _titled(fig, title)


# ----------------------------------------------------------------------------- lessons
def bar_chart(labels, series, ylabel, title=None, xlabel=None, log_scale=False,
              value_format="{:.3g}"):
    """Grouped bars: one group per label, one bar per series, each bar with its value.

    ``series`` maps each bar colour's name to one number per label (e.g. ``{"loops": [...],
    "fast": [...]}``); a NaN draws no bar. ``value_format`` formats the value written above
    each bar (None writes none)."""
    labels = [str(label) for label in labels]
    values = {name: np.asarray(v, dtype=np.float64) for name, v in series.items()}
    for name, v in values.items():
        if v.shape != (len(labels),):
            raise ValueError(f"bar_chart: series {name!r} has {v.size} values for "
                             f"{len(labels)} labels")
    # At most PAGE_WIDTH wide with the legend beside it.
    legend = 0.0 if len(values) < 2 else 0.6 + 0.08 * max(len(name) for name in values)
    fig, ax = _subplots(figsize=(min(PAGE_WIDTH - legend,
                                     max(5.0, 0.5 * len(labels) * len(values) + 2)), 4.5))
    width = 0.8 / max(1, len(values))
    x = np.arange(len(labels))
    for k, (name, v) in enumerate(values.items()):
        shown = np.isfinite(v)
        bars = ax.bar(x[shown] + (k - (len(values) - 1) / 2) * width, v[shown], width,
                      label=name, color=f"C{k}")
        if value_format is not None:
            ax.bar_label(bars, labels=[value_format.format(a) for a in v[shown]], fontsize=8)
    ax.set_xticks(x, labels)
    ax.set(yscale="log" if log_scale else "linear", ylabel=ylabel, xlabel=xlabel or "",
           title=title or "")
    ax.grid(alpha=0.3, axis="y")
    ax.margins(y=0.12)                                     # room for the values on top
    if len(values) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))   # beside, never on a bar
    return fig


def matrices_figure(arrays, titles=None, title=None, value_format="{:.2g}", cmap="viridis",
                    size=2.6):
    """Small 2-D arrays side by side, each cell coloured and (up to 12 x 12) labelled with
    its value: an input, a kernel and an output; or a gradient and where it goes.

    Each panel has its own colour scale and is as wide as its array; ``size`` is inches for
    the largest array's longest side; ``value_format=None`` writes no numbers."""
    mats = [np.asarray(a, dtype=np.float64) for a in arrays]
    for m in mats:
        if m.ndim != 2:
            raise ValueError(f"matrices_figure expects 2-D arrays, got shape {m.shape}")
    from matplotlib.figure import Figure
    widths = [max(m.shape[1], 3) for m in mats]            # panels as wide as their arrays
    longest = max(3, max(max(m.shape) for m in mats))
    labels = 0.9 * len(mats)                               # inches for each panel's labels
    # no wider than a page column, so it is shown at its own size and its numbers stay legible
    size = min(size, PAGE_WIDTH / len(mats), (PAGE_WIDTH - labels) * longest / sum(widths))
    cell = size / longest
    fig = Figure(figsize=(max(size * len(mats), cell * sum(widths) + labels),
                          size + 0.6), layout="constrained")   # the title clear of panels
    axes = fig.subplots(1, len(mats), squeeze=False, gridspec_kw={"width_ratios": widths})
    for i, (ax, m) in enumerate(zip(axes[0], mats)):
        image = ax.imshow(m, cmap=cmap, interpolation="nearest")
        if value_format is not None and max(m.shape) <= 12:
            lo, hi = np.nanmin(m), np.nanmax(m)
            for (r, c), v in np.ndenumerate(m):
                ax.text(c, r, value_format.format(v), ha="center", va="center", fontsize=8,
                        color="black" if v > (lo + hi) / 2 else "white")
            image.set_clim(lo, hi)
        ax.set_xticks(range(m.shape[1]) if m.shape[1] <= 12 else [])
        ax.set_yticks(range(m.shape[0]) if m.shape[0] <= 12 else [])
        ax.tick_params(labelsize=8)
        ax.set_xlabel("column", fontsize=8)
        ax.set_ylabel("row", fontsize=8)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
    return _titled(fig, title)


# ----------------------------------------------------------------------- convolution animation
class ConvolutionAnimation:
    """A finished convolution animation (see :func:`animate_convolution`): one frame per output
    position in row-major order, as figures, a GIF and notebook HTML. ``output`` holds the
    numbers the frames show, ``padded`` the image the kernel slides over, ``applied_kernel``
    the kernel as laid over it (flipped when ``flip``); ``padding`` and ``stride`` are (h, w)
    pairs."""

    def __init__(self, image, kernel, output, padding, stride, flip, duration_ms, dpi):
        self.image, self.kernel, self.output = image, kernel, output
        self.padding, self.stride, self.flip = padding, stride, flip
        self.duration_ms, self.dpi = duration_ms, dpi
        self.padded = np.pad(image, [(p, p) for p in padding])
        self.applied_kernel = kernel[::-1, ::-1] if flip else kernel
        self._frames = self._gif = None              # drawn and encoded when first asked for

    @property
    def n_frames(self) -> int:
        """Number of frames: one per output position, ``H_out * W_out``."""
        return int(self.output.size)

    def __len__(self) -> int:
        return self.n_frames

    def positions(self):
        """The output positions ``(i, j)`` in the order the frames show them."""
        return [(i, j) for i in range(self.output.shape[0]) for j in range(self.output.shape[1])]

    def format_value(self, value) -> str:
        """A number as the frames write it: an integer as is, else 3 significant digits."""
        if np.issubdtype(np.asarray(value).dtype, np.integer):
            return str(int(value))
        if np.iscomplexobj(value):
            return f"{complex(value):.3g}"
        return f"{float(value):.3g}"

    def products_text(self, index) -> str:
        """The sum of products frame ``index`` computes, one kernel row per line, and its total
        ``output[i, j]`` (only the total for kernels with more than 49 entries)."""
        i, j = self.positions()[index]
        (sh, sw), (kh, kw) = self.stride, self.applied_kernel.shape
        window = self.padded[i * sh:i * sh + kh, j * sw:j * sw + kw]
        head, f = f"output[{i}, {j}] = ", self.format_value
        total = f(self.output[i, j])
        if self.applied_kernel.size > 49:
            return f"{head}sum of {kh}*{kw} products = {total}"

        def term(a, b):                              # a negative factor in parentheses
            return f"{f(a)}*({f(b)})" if f(b).startswith("-") else f"{f(a)}*{f(b)}"
        rows = [" + ".join(term(a, b) for a, b in zip(wrow, krow))
                for wrow, krow in zip(window, self.applied_kernel)]
        lines = [head + rows[0]] + [" " * (len(head) - 2) + "+ " + r for r in rows[1:]]
        return "\n".join(lines) + f" = {total}"

    def frame_figure(self, index):
        """The Figure of frame ``index``: input, kernel and output, the products beneath."""
        from matplotlib.figure import Figure

        index = operator.index(index)
        if not 0 <= index < self.n_frames:
            raise IndexError(f"frame {index} out of range: the animation has "
                             f"{self.n_frames} frames")
        (ph, pw), (oh, ow) = self.padding, self.output.shape
        i, j = self.positions()[index]
        text = self.products_text(index)
        n_lines = text.count("\n") + 1
        rows, cols = zip(self.padded.shape, self.applied_kernel.shape, self.output.shape)
        cell = 0.42                                  # inches per grid cell
        height = cell * max(rows) + 1.3 + 0.22 * n_lines
        fig = Figure(figsize=(max(cell * sum(cols) + 2.2, 6.0), height))
        # widths in proportion to the columns, so a cell is the same size in every panel
        axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": list(cols)})
        fig.subplots_adjust(left=0.03, right=0.97, top=1 - 0.75 / height,
                            bottom=(0.3 + 0.22 * n_lines) / height, wspace=0.25)
        labels = [("input (padded)", f"grey: zero padding ({ph} row(s), {pw} column(s))"),
                  ("kernel", "flipped (true convolution)" if self.flip
                   else "as given (not flipped)"),
                  ("output", f"{oh}x{ow}, position ({i}, {j})")]
        for ax, n_rows, n_cols, (title, xlabel) in zip(axes, rows, cols, labels):
            # row 0 at the top, as in a matrix
            ax.set(xlim=(-0.5, n_cols - 0.5), ylim=(n_rows - 0.5, -0.5), aspect="equal",
                   xticks=[], yticks=[])
            ax.set_title(title, fontsize=10)
            ax.set_xlabel(xlabel, fontsize=8)
        self._draw_cells(axes, index)
        operation = "true convolution" if self.flip else "cross-correlation"
        fig.suptitle(f"{operation}, padding {self.padding}, stride {self.stride}: "
                     f"step {index + 1} of {self.n_frames}", fontsize=10)
        fig.text(0.03, 0.15 / height, text, family="monospace", fontsize=8, ha="left",
                 va="bottom")
        return fig

    def _draw_cells(self, axes, index):
        """The numbers in their cells, padding grey, the window and position outlined."""
        from matplotlib.patches import Rectangle

        (ph, pw), (sh, sw) = self.padding, self.stride
        (kh, kw), (ih, iw) = self.applied_kernel.shape, self.image.shape
        i, j = self.positions()[index]
        size = 9 if max(self.padded.shape) <= 9 else 7

        def box(ax, r, c, face, edge="0.6", lw=0.8):
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=face, edgecolor=edge,
                                   linewidth=lw))

        ax_in, ax_k, ax_out = axes
        for (r, c), value in np.ndenumerate(self.padded):
            inside = ph <= r < ph + ih and pw <= c < pw + iw
            box(ax_in, r, c, "white" if inside else "0.85")
            ax_in.text(c, r, self.format_value(value), ha="center", va="center",
                       fontsize=size, color="black" if inside else "0.45",
                       style="normal" if inside else "italic")
        ax_in.add_patch(Rectangle((j * sw - 0.5, i * sh - 0.5), kw, kh, fill=False,
                                  edgecolor="tab:red", linewidth=2.5))
        for (r, c), value in np.ndenumerate(self.applied_kernel):
            box(ax_k, r, c, "#dbe9f6")
            ax_k.text(c, r, self.format_value(value), ha="center", va="center", fontsize=size)
        for k, (r, c) in enumerate(self.positions()):
            box(ax_out, r, c, "#d9f0d3" if k <= index else "white")
            if k <= index:
                ax_out.text(c, r, self.format_value(self.output[r, c]), ha="center",
                            va="center", fontsize=size)
        ax_out.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="tab:red",
                                   linewidth=2.5))

    def frames(self):
        """The frames as RGB :class:`PIL.Image.Image` objects (drawn once, then kept)."""
        if self._frames is None:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from PIL import Image
            frames = []                      # kept only once all are drawn (not on Ctrl-C)
            for index in range(self.n_frames):
                fig = self.frame_figure(index)
                canvas = FigureCanvasAgg(fig)        # renders this figure only; no backend
                fig.set_dpi(self.dpi)
                canvas.draw()
                frames.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]))
            self._frames = frames
        return list(self._frames)

    def to_gif_bytes(self) -> bytes:
        """The animation as the bytes of an animated GIF that loops forever."""
        if self._gif is None:
            import io
            frames = self.frames()
            # the last frame, the finished output, shows three times as long
            durations = [self.duration_ms] * (len(frames) - 1) + [3 * self.duration_ms]
            buffer = io.BytesIO()
            frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:],
                           duration=durations, loop=0)
            self._gif = buffer.getvalue()
        return self._gif

    def save(self, path) -> Path:
        """Write the GIF to ``path`` (atomically) and return the path."""
        from ._files import atomic_write_bytes
        atomic_write_bytes(Path(path), self.to_gif_bytes())
        return Path(path)

    @property
    def alt_text(self) -> str:
        """A description of the animation for readers who cannot see it."""
        operation = "true convolution" if self.flip else "cross-correlation"
        return (f"Animation of {operation}: a {self.kernel.shape[0]}x{self.kernel.shape[1]} "
                f"kernel slides over a {self.image.shape[0]}x{self.image.shape[1]} input "
                f"with zero padding {self.padding} and stride {self.stride}, filling in the "
                f"{self.output.shape[0]}x{self.output.shape[1]} output one position per "
                "frame")

    def _repr_html_(self) -> str:
        import base64
        import html
        data = base64.b64encode(self.to_gif_bytes()).decode("ascii")
        return (f'<img src="data:image/gif;base64,{data}" '
                f'alt="{html.escape(self.alt_text, quote=True)}">')

    def __repr__(self) -> str:
        return (f"ConvolutionAnimation({self.n_frames} frames, input {self.image.shape}, "
                f"kernel {self.kernel.shape}, padding={self.padding}, stride={self.stride}, "
                f"flip={self.flip})")


def animate_convolution(image, kernel, padding=0, stride=1, flip=False, duration_ms=700,
                        dpi=100, max_frames=400):
    """Animate a kernel sliding over a zero-padded image, filling in the output.

    Each frame shows the padded input (padding grey, the window outlined in red), the
    kernel and the output filled in so far, with the sum of products beneath. The numbers
    come from :func:`minitorch_cv.theory.cross_correlate2d` or, with ``flip=True``,
    :func:`minitorch_cv.theory.convolve2d` (the kernel shown flipped), so the animation and
    the worked answer can never disagree. ``image`` (H, W) and ``kernel`` (K_h, K_w) are
    small 2-D arrays of numbers. Each frame shows ``duration_ms`` in the GIF (the last three
    times as long), drawn at ``dpi``; more than ``max_frames`` output positions, or anything
    else that cannot be animated, is a ValueError or TypeError that says what.

    Returns
    -------
    ConvolutionAnimation
        One frame per output position; ``.save(path)`` writes the GIF, and in a notebook it
        displays itself as an ``<img>`` of the GIF.

    Examples
    --------
    >>> from minitorch_cv import theory, viz
    >>> anim = viz.animate_convolution(theory.TASK1A_IMAGE, theory.TASK1A_KERNEL, padding=1)
    >>> anim.n_frames                     # one frame per output position: 3 x 5
    15
    >>> anim.output[0]
    array([  2,  -1,  11,  -2, -13])
    >>> print(anim.products_text(0))
    output[0, 0] = 0*(-1) + 0*0 + 0*1
                 + 0*(-2) + 1*0 + 0*2
                 + 0*(-1) + 3*0 + 2*1 = 2
    >>> anim.to_gif_bytes()[:6]
    b'GIF89a'
    """
    from . import theory

    image, kernel = np.asarray(image), np.asarray(kernel)
    padding, stride = _check_animation(image, kernel, padding, stride, duration_ms, dpi,
                                       max_frames)
    compute = theory.convolve2d if flip else theory.cross_correlate2d
    output = compute(image, kernel, padding=padding, stride=stride)
    # the frames show the arrays in the type the sums were taken in
    image, kernel = image.astype(output.dtype), kernel.astype(output.dtype)
    return ConvolutionAnimation(image, kernel, output, padding, stride, bool(flip),
                                int(duration_ms), int(dpi))


def _check_animation(image, kernel, padding, stride, duration_ms, dpi, max_frames):
    """Refuse what :func:`animate_convolution` cannot animate; padding, stride as pairs."""
    from . import theory
    from .checks import _is_int, pair

    for name, array, shape in (("image", image, "(H, W)"), ("kernel", kernel, "(K_h, K_w)")):
        if array.ndim != 2:
            raise ValueError(f"animate_convolution: {name} must be a 2-D array {shape}, got "
                             f"shape {array.shape}")
        if array.size == 0:
            raise ValueError(f"animate_convolution: {name} is empty (shape {array.shape})")
        if array.dtype.kind not in "biufc":
            raise TypeError(f"animate_convolution: {name} must hold numbers, got dtype "
                            f"{array.dtype}")
    padding = pair(padding, "padding", "animate_convolution", minimum=0)
    stride = pair(stride, "stride", "animate_convolution", minimum=1)
    padded_shape = (image.shape[0] + 2 * padding[0], image.shape[1] + 2 * padding[1])
    if kernel.shape[0] > padded_shape[0] or kernel.shape[1] > padded_shape[1]:
        raise ValueError(f"animate_convolution: the kernel {kernel.shape} is larger than the "
                         f"padded image {padded_shape} (image {image.shape} with padding "
                         f"{padding}): it fits nowhere")
    for name, value in (("duration_ms", duration_ms), ("dpi", dpi), ("max_frames", max_frames)):
        if not _is_int(value) or value < 1:
            raise ValueError(f"animate_convolution: {name} must be a positive int, "
                             f"got {value!r}")
    out_h, out_w = theory.conv_output_size(image.shape, kernel.shape, stride, padding)
    if out_h * out_w > max_frames:
        raise ValueError(f"animate_convolution: {out_h}x{out_w} output positions would make "
                         f"{out_h * out_w} frames, more than max_frames={max_frames}; use a "
                         "smaller image or a larger stride (or raise max_frames)")
    return padding, stride
