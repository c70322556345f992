"""The lesson figures' helpers: viz.bar_chart and viz.matrices_figure."""

import matplotlib
import numpy as np
import pytest

from minitorch_cv import viz


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bar_chart_draws_one_bar_per_value_at_its_height(tmp_path):
    series = {"loops": [120.0, np.nan, 30.0], "fast": [1.5, 2.0, 0.5]}
    fig = viz.bar_chart(["conv1", "conv2", "conv3"], series, "time per image (ms)",
                        title="t", xlabel="layer", log_scale=True)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == [120.0, 30.0, 1.5, 2.0, 0.5]          # the NaN draws no bar
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "time per image (ms)" and ax.get_xlabel() == "layer"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "conv2", "conv3"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loops", "fast"]
    written = [t.get_text() for t in ax.texts]
    assert written == ["120", "30", "1.5", "2", "0.5"]
    assert _is_png(viz.save_figure(fig, tmp_path / "bars.png"))


def test_bar_chart_without_values_written_and_one_series():
    fig = viz.bar_chart(range(10), {"p": np.linspace(0, 1, 10)}, "probability",
                        value_format=None)
    ax = fig.axes[0]
    assert len(ax.patches) == 10 and len(ax.texts) == 0 and ax.get_legend() is None
    assert fig.get_figwidth() <= 12


def test_bar_chart_refuses_a_series_of_the_wrong_length():
    with pytest.raises(ValueError, match="'b' has 1 values for 2 labels"):
        viz.bar_chart(["x", "y"], {"a": [1, 2], "b": [1]}, "ms")


def test_matrices_figure_shows_each_array_with_its_values(tmp_path):
    x = np.arange(16.0).reshape(4, 4)
    dx = np.zeros((4, 4))
    dx[1, 1] = 1.0
    fig = viz.matrices_figure([x, dx], titles=["x", "dx"], title="max pooling")
    assert len(fig.axes) == 2
    np.testing.assert_array_equal(np.asarray(fig.axes[0].images[0].get_array()), x)
    np.testing.assert_array_equal(np.asarray(fig.axes[1].images[0].get_array()), dx)
    assert [t.get_text() for t in fig.axes[0].texts][:3] == ["0", "1", "2"]
    assert len(fig.axes[1].texts) == 16
    assert fig.axes[1].get_title() == "dx" and fig.axes[0].get_xlabel() == "column"
    assert _is_png(viz.save_figure(fig, tmp_path / "mats.png"))


def test_matrices_figure_large_arrays_get_no_numbers_and_bad_shapes_raise():
    fig = viz.matrices_figure([np.zeros((20, 20))], value_format="{:.1f}")
    assert len(fig.axes[0].texts) == 0
    with pytest.raises(ValueError, match="2-D arrays"):
        viz.matrices_figure([np.zeros((2, 2, 2))])


def test_lesson_helpers_use_no_pyplot():
    before = matplotlib.get_backend()
    viz.bar_chart(["a"], {"s": [1.0]}, "ms")
    viz.matrices_figure([np.eye(2)])
    assert matplotlib.get_backend() == before
    import sys
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []
