"""Smoke tests for the plotting helpers: PNGs come out, and filters are min-max scaled."""

import numpy as np
import pytest

from minitorch_cv import viz  # draws with matplotlib's Agg backend

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG_MAGIC


def test_minmax_scale_whole_array_and_per_filter():
    a = np.array([[1.0, 3.0], [-2.0, 2.0]])
    np.testing.assert_allclose(viz.minmax_scale(a), (a + 2) / 5)
    w = np.stack([np.full((3, 2, 2), 4.0), np.arange(12.0).reshape(3, 2, 2) - 5])
    s = viz.minmax_scale(w, axis=(1, 2, 3))
    assert np.all(s[0] == 0)                                  # constant filter -> 0
    np.testing.assert_allclose(s[1], np.arange(12.0).reshape(3, 2, 2) / 11)
    assert s.min() == 0 and s.max() == 1


def test_filter_grid_scales_each_filter_on_its_own(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 3, 7, 7)).astype(np.float32)
    w[1] *= 100                                               # scale must not leak across
    fig = viz.filter_grid(w, ncols=4, title="conv1")
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(shown) == 6
    for i, img in enumerate(shown):
        expected = (w[i] - w[i].min()) / (w[i].max() - w[i].min())
        np.testing.assert_allclose(np.asarray(img), expected.transpose(1, 2, 0), atol=1e-6)
    path = viz.save_figure(fig, tmp_path / "filters.png")
    assert _is_png(path)


def test_filter_grid_grey_for_other_channel_counts(tmp_path):
    w = np.random.default_rng(1).standard_normal((3, 16, 3, 3))
    fig = viz.filter_grid(w)
    assert len([ax for ax in fig.axes if ax.images]) == 3
    assert _is_png(viz.save_figure(fig, tmp_path / "grey.png"))
    with pytest.raises(ValueError, match="F, C, K_h, K_w"):
        viz.filter_grid(w[0])


def test_activation_grid(tmp_path):
    maps = np.random.default_rng(2).random((1, 10, 7, 7))
    fig = viz.activation_grid(maps, ncols=5, title="layer4")
    assert len([ax for ax in fig.axes if ax.images]) == 10
    np.testing.assert_array_equal(np.asarray(fig.axes[3].images[0].get_array()), maps[0, 3])
    assert _is_png(viz.save_figure(fig, tmp_path / "act.png"))


def test_overlay_upsamples_and_scales(tmp_path):
    image = (np.random.default_rng(3).random((3, 32, 32)) * 255).astype(np.uint8)
    heat = np.arange(16.0).reshape(4, 4)
    fig = viz.overlay(image, heat, title="Grad-CAM")
    ax = fig.axes[0]
    assert len(ax.images) == 2
    back, front = (np.asarray(im.get_array()) for im in ax.images)
    assert back.shape == (32, 32, 3) and front.shape == (32, 32)
    np.testing.assert_allclose(back, image.transpose(1, 2, 0) / 255.0)
    assert front.min() == 0 and front.max() == 1
    np.testing.assert_allclose(front, viz.minmax_scale(viz.upsample(heat, (32, 32))))
    assert _is_png(viz.save_figure(fig, tmp_path / "overlay.png"))


def test_upsample_matches_bilinear_align_corners_false():
    heat = np.array([[0.0, 1.0], [2.0, 3.0]])
    up = viz.upsample(heat, (4, 4))
    # align_corners=False: output pixel i samples input at (i + 0.5) / 2 - 0.5, clamped
    np.testing.assert_allclose(up[0], [0.0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(up[:, 0], [0.0, 0.5, 1.5, 2.0])


def test_image_figure(tmp_path):
    image = (np.random.default_rng(6).random((16, 16, 3)) * 255).astype(np.uint8)
    fig = viz.image_figure(image, title="zebra")
    np.testing.assert_allclose(np.asarray(fig.axes[0].images[0].get_array()), image / 255.0)
    assert _is_png(viz.save_figure(fig, tmp_path / "image.png"))


def test_to_image_denormalizes():
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    rgb = np.random.default_rng(4).random((8, 8, 3))
    x = ((rgb - mean) / std).transpose(2, 0, 1)[None]
    np.testing.assert_allclose(viz.to_image(x, mean=mean, std=std), rgb, atol=1e-12)


def test_filters_and_activations_two_rows(tmp_path):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((64, 3, 7, 7))
    acts = rng.standard_normal((1, 64, 112, 112)).astype(np.float32)
    fig = viz.filters_and_activations(w, acts, indices=[14, 26, 32], title="Figure 11")
    axes = fig.axes
    assert len(axes) == 6
    top = [np.asarray(ax.images[0].get_array()) for ax in axes[:3]]
    bottom = [np.asarray(ax.images[0].get_array()) for ax in axes[3:]]
    np.testing.assert_array_equal(top[1], acts[0, 26])
    expected = viz.minmax_scale(w[32], axis=None).transpose(1, 2, 0)
    np.testing.assert_allclose(bottom[2], expected)
    assert _is_png(viz.save_figure(fig, tmp_path / "fig11.png"))
    # the existing helpers are still there
    assert callable(viz.plot_loss) and callable(viz.plot_accuracy)


def test_viz_leaves_matplotlib_state_alone(tmp_path):
    """No backend switch (a notebook's inline backend stays) and no figure left open in
    pyplot, whichever function draws."""
    import subprocess
    import sys
    code = """
import matplotlib
matplotlib.use("svg")
import numpy as np
from minitorch_cv import viz
history = {"train": {"step": [1, 2], "loss": [2.0, 1.0], "accuracy": [0.1, 0.2]},
           "val": {"step": [2], "loss": [1.5], "accuracy": [0.3]}, "steps_per_epoch": 2}
figs = [viz.plot_loss(history), viz.plot_accuracy(history),
        viz.filter_grid(np.zeros((2, 3, 3, 3))), viz.activation_grid(np.zeros((2, 4, 4))),
        viz.overlay(np.zeros((8, 8, 3)), np.ones((2, 2))), viz.image_figure(np.zeros((4, 4))),
        viz.filters_and_activations(np.zeros((2, 3, 3, 3)), np.zeros((2, 4, 4)))]
viz.save_figure(figs[0], sys.argv[1])
import matplotlib.pyplot as plt
print(matplotlib.get_backend(), len(plt.get_fignums()))
"""
    out = subprocess.run([sys.executable, "-c", "import sys\n" + code,
                          str(tmp_path / "loss.png")],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["svg", "0"]
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _history(train_steps, val_steps):
    return {"train": {"step": list(train_steps), "loss": [2.0 - 0.1 * s for s in train_steps],
                      "accuracy": [0.1] * len(train_steps)},
            "val": {"step": list(val_steps), "loss": [1.5] * len(val_steps),
                    "accuracy": [0.3] * len(val_steps)},
            "steps_per_epoch": 4}


def _legend_labels(fig):
    legend = fig.axes[0].get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def test_plot_loss_has_no_empty_legend_entries():
    """A split a history lacks draws nothing and has no legend entry."""
    no_val = _history(range(1, 4), [])
    assert _legend_labels(viz.plot_loss(no_val)) == ["training loss"]
    missing_val = {k: v for k, v in no_val.items() if k != "val"}
    assert _legend_labels(viz.plot_loss(missing_val)) == ["training loss"]
    both = {"with": _history(range(1, 5), [2, 4]), "without": no_val}
    assert _legend_labels(viz.plot_loss(both)) == [
        "with training loss", "with validation loss", "without training loss"]
    nothing = _history([], [])
    assert _legend_labels(viz.plot_loss(nothing)) == []
    assert _legend_labels(viz.plot_accuracy(no_val)) == []
    assert _legend_labels(viz.plot_accuracy(both)) == ["with validation accuracy"]


@pytest.mark.parametrize("plot", [viz.plot_loss, viz.plot_accuracy])
def test_step_ticks_are_integers(plot, tmp_path):
    """Two or three steps would otherwise get ticks at 1.25, 1.5, ..."""
    fig = plot(_history([1, 2, 3], [2, 3]))
    viz.save_figure(fig, tmp_path / "curve.png")              # ticks as drawn
    ticks = fig.axes[0].get_xticks()
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks


# ---------------------------------------------------------------- animate_convolution
def _panel(fig, title):
    (ax,) = [ax for ax in fig.axes if ax.get_title() == title]
    return ax


def _numbers_shown(ax):
    return [int(t.get_text()) for t in ax.texts]


@pytest.mark.parametrize("padding, stride, flip", [(1, 1, False), (0, 2, False), (2, (1, 2), True)])
def test_animate_convolution_frames_and_output_come_from_theory(padding, stride, flip):
    from minitorch_cv import theory
    rng = np.random.default_rng(0)
    image = rng.integers(-9, 10, size=(5, 5))
    kernel = rng.integers(-3, 4, size=(3, 3))
    anim = viz.animate_convolution(image, kernel, padding=padding, stride=stride, flip=flip)
    compute = theory.convolve2d if flip else theory.cross_correlate2d
    expected = compute(image, kernel, padding=padding, stride=stride)
    np.testing.assert_array_equal(anim.output, expected)
    assert anim.n_frames == len(anim) == expected.size         # one frame per output position
    # the last frame's output panel shows every entry of the worked answer, in row-major order
    last = anim.frame_figure(anim.n_frames - 1)
    assert _numbers_shown(_panel(last, "output")) == expected.ravel().tolist()
    # the first frame has exactly one output filled in
    assert _numbers_shown(_panel(anim.frame_figure(0), "output")) == [expected[0, 0]]
    # the products written under each frame add up to the value it writes
    applied = kernel[::-1, ::-1] if flip else kernel
    np.testing.assert_array_equal(anim.applied_kernel, applied)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    for k, (i, j) in enumerate(anim.positions()):
        window = anim.padded[i * sh:i * sh + 3, j * sw:j * sw + 3]
        assert int((window * applied).sum()) == expected[i, j]
        assert anim.products_text(k).endswith(f"= {expected[i, j]}")


def test_animate_convolution_labels_every_frame():
    from minitorch_cv import theory
    anim = viz.animate_convolution(theory.TASK1A_IMAGE, theory.TASK1A_KERNEL, padding=1)
    for k in range(anim.n_frames):
        fig = anim.frame_figure(k)
        assert sorted(ax.get_title() for ax in fig.axes) == ["input (padded)", "kernel",
                                                             "output"]
        assert f"step {k + 1} of 15" in fig._suptitle.get_text()
        texts = [t.get_text() for t in fig.texts]
        assert anim.products_text(k) in texts
    # the padded input shows the zeros of the padding, greyed, and the image inside
    ax_in = _panel(anim.frame_figure(0), "input (padded)")
    shown = np.array(_numbers_shown(ax_in)).reshape(5, 7)
    np.testing.assert_array_equal(shown, np.pad(theory.TASK1A_IMAGE, 1))
    colours = np.array([t.get_color() for t in ax_in.texts]).reshape(5, 7)
    assert set(colours[0]) == {"0.45"} and set(colours[1:4, 1:6].ravel()) == {"black"}
    assert _numbers_shown(_panel(anim.frame_figure(0), "kernel")) == \
        theory.TASK1A_KERNEL.ravel().tolist()
    # c[0, 0] of Task 1a, as the seed report and docs/theory.md write it
    assert " ".join(anim.products_text(0).split()) == (
        "output[0, 0] = 0*(-1) + 0*0 + 0*1 + 0*(-2) + 1*0 + 0*2 + 0*(-1) + 3*0 + 2*1 = 2")


def test_animate_convolution_gif_decodes_into_its_frames(tmp_path):
    import base64
    import io

    from PIL import Image
    anim = viz.animate_convolution(np.arange(16).reshape(4, 4), [[1, 0], [0, -1]], stride=2)
    assert anim.n_frames == 4
    data = anim.to_gif_bytes()
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.format == "GIF" and gif.n_frames == anim.n_frames
        assert gif.size == anim.frames()[0].size
    path = anim.save(tmp_path / "conv.gif")
    assert path.read_bytes() == data
    html = anim._repr_html_()
    assert html.startswith('<img src="data:image/gif;base64,') and 'alt="Animation of' in html
    encoded = html.split("base64,", 1)[1].split('"', 1)[0]
    assert base64.b64decode(encoded) == data


def test_animate_convolution_leaves_pyplot_alone():
    import sys
    had_pyplot = "matplotlib.pyplot" in sys.modules
    viz.animate_convolution(np.eye(3), np.ones((3, 3))).to_gif_bytes()
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((np.zeros((2, 3, 3)), np.ones((3, 3))), {}, ValueError, "image must be a 2-D array"),
    ((np.zeros((3, 3)), np.ones(3)), {}, ValueError, "kernel must be a 2-D array"),
    ((np.zeros((0, 3)), np.ones((1, 1))), {}, ValueError, "image is empty"),
    ((np.zeros((3, 3)), np.ones((4, 4))), {}, ValueError, "larger than the padded image"),
    ((np.zeros((3, 3)), np.ones((6, 2))), {"padding": 1}, ValueError, "larger than the padded"),
    ((np.zeros((3, 3)), np.ones((3, 3))), {"stride": 0}, ValueError, "stride must be >= 1"),
    ((np.zeros((3, 3)), np.ones((3, 3))), {"padding": -1}, ValueError, "padding must be >= 0"),
    ((np.zeros((3, 3)), np.ones((3, 3))), {"stride": 1.5}, TypeError, "stride must be an int"),
    ((np.zeros((3, 3)), np.ones((3, 3))), {"padding": True}, TypeError, "padding must be an"),
    ((np.array([["a"]]), np.ones((1, 1))), {}, TypeError, "image must hold numbers"),
    ((np.zeros((3, 3)), np.ones((3, 3))), {"duration_ms": 0}, ValueError, "duration_ms"),
    ((np.zeros((40, 40)), np.ones((3, 3))), {}, ValueError, "max_frames"),
])
def test_animate_convolution_refuses_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        viz.animate_convolution(*args, **kwargs)


def test_animation_frame_index_checked():
    anim = viz.animate_convolution(np.eye(3), np.ones((2, 2)))
    with pytest.raises(IndexError, match="4 frames"):
        anim.frame_figure(4)


def test_animation_interrupted_while_drawing_keeps_no_partial_frames(monkeypatch):
    anim = viz.animate_convolution(np.eye(3), np.ones((2, 2)))
    draw = anim.frame_figure

    def interrupted_at_frame_2(index):
        if index == 2:
            raise KeyboardInterrupt
        return draw(index)
    monkeypatch.setattr(anim, "frame_figure", interrupted_at_frame_2)
    with pytest.raises(KeyboardInterrupt):
        anim.frames()
    monkeypatch.undo()
    assert len(anim.frames()) == anim.n_frames == 4
