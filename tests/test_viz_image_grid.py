"""viz.image_grid: a batch of NCHW images in a grid, captioned, normalization undone."""

import numpy as np
import pytest

from minitorch_cv import viz


def test_image_grid_shows_each_image_with_its_caption(tmp_path):
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, size=(5, 3, 4, 6), dtype=np.uint8)      # NCHW, uint8
    fig = viz.image_grid(batch, titles=list("abcde"), ncols=3, title="five")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 6 and len(shown) == 5         # 2 x 3 grid, one cell empty
    for i, ax in enumerate(shown):
        np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()),
                                      batch[i].transpose(1, 2, 0) / 255.0)
        assert ax.get_title() == "abcde"[i]
    assert fig._suptitle.get_text() == "five"
    with open(viz.save_figure(fig, tmp_path / "grid.png"), "rb") as f:
        assert f.read(4) == b"\x89PNG"


def test_image_grid_undoes_normalize():
    rgb = np.random.default_rng(1).random((2, 3, 5, 5))
    normalized = (rgb - 0.5) / 0.25
    fig = viz.image_grid(normalized, mean=0.5, std=0.25)
    for i, ax in enumerate(fig.axes):
        np.testing.assert_allclose(np.asarray(ax.images[0].get_array()),
                                   rgb[i].transpose(1, 2, 0), atol=1e-12)


def test_image_grid_refuses_wrong_shapes_and_caption_counts():
    with pytest.raises(ValueError, match="batch of images"):
        viz.image_grid(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="2 titles for 3 images"):
        viz.image_grid(np.zeros((3, 3, 8, 8)), titles=["a", "b"])
