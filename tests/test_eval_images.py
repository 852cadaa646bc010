"""Tests for the PNG writers."""

import matplotlib.image
import numpy as np
import pytest

from gendiff.eval import grid_image_size, save_image_grid, save_scatter


def test_grid_png_holds_the_upscaled_images_pixel_for_pixel(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1.0, 1.0, size=(5, 8, 8, 1)).astype(np.float32)
    path = tmp_path / "grid.png"
    save_image_grid(path, images, nrow=3)
    png = matplotlib.image.imread(path)
    # 2 rows x 3 columns of 32 x 32 cells (8 x 8 upscaled by 4) with 2-pixel gaps.
    assert png.shape[:2] == grid_image_size(5, 8, 8, nrow=3) == (2 * 34 + 2, 3 * 34 + 2)
    # Third image: row 0, column 2; its pixel (i, j) fills the block at 4i, 4j; grey -> R = G = B.
    top, left = 2, 2 + 2 * 34
    cell = png[top : top + 32, left : left + 32, :3]
    expected = np.repeat(np.repeat((images[2] + 1.0) / 2.0, 4, axis=0), 4, axis=1)
    np.testing.assert_allclose(cell, np.broadcast_to(expected, (32, 32, 3)), atol=1.0 / 255)
    # The unused sixth cell is filled with the grey gap colour.
    np.testing.assert_allclose(png[36 : 36 + 32, left : left + 32, :3], 0.5, atol=1.0 / 255)


def test_grid_png_with_title_and_colour_images(tmp_path):
    images = np.random.default_rng(1).uniform(-1.5, 1.5, size=(7, 28, 28, 3))  # clipped to [-1, 1]
    path = tmp_path / "sub" / "colour.png"
    save_image_grid(path, images, title="colour samples")
    png = matplotlib.image.imread(path)
    assert png.shape[:2] == grid_image_size(7, 28, 28, title=True) == (20 + 3 * 58 + 2, 3 * 58 + 2)


def test_grid_rejects_bad_images(tmp_path):
    with pytest.raises(ValueError, match=r"\(num_images, H, W, C\)"):
        save_image_grid(tmp_path / "a.png", np.zeros((8, 8, 1)))
    with pytest.raises(ValueError, match=r"C in \{1, 3\}"):
        save_image_grid(tmp_path / "a.png", np.zeros((4, 8, 8, 2)))
    with pytest.raises(ValueError, match="NaN"):
        save_image_grid(tmp_path / "a.png", np.full((4, 8, 8, 1), np.nan))


def test_scatter_png(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "scatter.png"
    save_scatter(path, rng.normal(size=(300, 2)), reference=rng.normal(size=(500, 2)), title="toy")
    png = matplotlib.image.imread(path)
    assert png.shape[:2] == (500, 500)
    assert png[..., :3].std() > 0.01  # something was drawn
    with pytest.raises(ValueError, match=r"\(num_points, 2\)"):
        save_scatter(path, np.zeros((10, 3)))
