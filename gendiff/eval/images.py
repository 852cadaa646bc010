"""PNG writers for sample grids and 2-D scatter plots (matplotlib, no pyplot state).

matplotlib is imported when a PNG is drawn, not when this module is imported. Files are
written by process 0 only, atomically (see :func:`gendiff.eval.io.write_atomically`); the
other processes check their inputs and return.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

import jax
import numpy as np

from gendiff.eval.io import write_atomically
from gendiff.metrics._validation import check_finite, check_rank

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MIN_CELL_PIXELS = 32  # images are upscaled (nearest neighbour) to at least this size
PAD_PIXELS = 2  # gap between and around the cells
PAD_VALUE = 0.5  # mid-grey gaps
TITLE_PIXELS = 20  # height of the title band, when there is a title
DPI = 100


def _upscale_factor(height: int, width: int) -> int:
    return max(1, math.ceil(MIN_CELL_PIXELS / max(height, width)))


def grid_image_size(
    num_images: int, height: int, width: int, nrow: int | None = None, title: bool = False
) -> tuple[int, int]:
    """Pixel size (height, width) of the PNG that `save_image_grid` writes.

    Example:
      >>> grid_image_size(16, 8, 8)  # 4 x 4 cells of 32 x 32 pixels, 2-pixel gaps
      (138, 138)
    """
    ncol = nrow or math.ceil(math.sqrt(num_images))
    rows = math.ceil(num_images / ncol)
    s = _upscale_factor(height, width)
    grid_h = rows * (height * s + PAD_PIXELS) + PAD_PIXELS
    grid_w = ncol * (width * s + PAD_PIXELS) + PAD_PIXELS
    return grid_h + (TITLE_PIXELS if title else 0), grid_w


def _grid_canvas(images: np.ndarray, ncol: int) -> np.ndarray:
    """Tiles images in [0, 1] of shape (N, H, W, 3) into one RGB array."""
    n, h, w, _ = images.shape
    s = _upscale_factor(h, w)
    # Nearest-neighbour upscaling: every pixel becomes an s x s block.
    cells = images.repeat(s, axis=1).repeat(s, axis=2)
    rows = math.ceil(n / ncol)
    cell_h, cell_w = h * s + PAD_PIXELS, w * s + PAD_PIXELS
    canvas = np.full(
        (rows * cell_h + PAD_PIXELS, ncol * cell_w + PAD_PIXELS, 3), PAD_VALUE, np.float32
    )
    for i, cell in enumerate(cells):
        top = (i // ncol) * cell_h + PAD_PIXELS
        left = (i % ncol) * cell_w + PAD_PIXELS
        canvas[top : top + h * s, left : left + w * s] = cell
    return canvas


def save_figure(path: str | os.PathLike, fig: Figure, dpi: int = DPI) -> bool:
    """Writes a matplotlib ``Figure`` as a PNG, atomically, on process 0 only.

    Args:
      path: output file (parent directories are created).
      fig: the figure (a ``matplotlib.figure.Figure``; no pyplot state is needed).
      dpi: resolution.

    Returns:
      True if this process wrote the file (process 0), False otherwise.

    Example:
      >>> from matplotlib.figure import Figure
      >>> fig = Figure(figsize=(2, 2)); _ = fig.add_subplot().plot([0, 1], [1, 0])
      >>> save_figure("/tmp/line.png", fig)
      True
    """
    return write_atomically(path, lambda f: fig.savefig(f, dpi=dpi, format="png"))


def save_image_grid(
    path: str | os.PathLike, images, nrow: int | None = None, title: str | None = None
) -> None:
    """Writes images in [-1, 1] as a PNG grid (process 0 only).

    Values are clipped to [-1, 1] and mapped to [0, 1]; grayscale images (C = 1)
    are shown in grey levels. Images are upscaled by an integer factor (nearest
    neighbour) to at least 32 pixels, so 8x8 digits stay visible. The PNG size is
    `grid_image_size(N, H, W, nrow, title is not None)`.

    Args:
      path: output file (parent directories are created).
      images: array of shape (N, H, W, C) with C in {1, 3}.
      nrow: images per row; ceil(sqrt(N)) by default.
      title: optional title above the grid.

    Example:
      >>> save_image_grid("/tmp/grid.png", np.zeros((16, 8, 8, 1)), title="samples")
    """
    check_rank("images", images, 4, "(num_images, H, W, C)")
    images = np.asarray(images, dtype=np.float32)
    n, h, w, c = images.shape
    if c not in (1, 3) or n == 0:
        raise ValueError(
            f"images must have shape (N >= 1, H, W, C) with C in {{1, 3}}, got {images.shape}."
        )
    if nrow is not None and nrow < 1:
        raise ValueError(f"nrow must be a positive integer, got {nrow}.")
    check_finite("images", images)
    if jax.process_index() != 0:  # only process 0 writes files
        return
    from matplotlib.figure import Figure

    # [-1, 1] -> [0, 1]; grey images become RGB with equal channels.
    rgb = np.broadcast_to((np.clip(images, -1.0, 1.0) + 1.0) / 2.0, (n, h, w, 3))
    canvas = _grid_canvas(rgb, nrow or math.ceil(math.sqrt(n)))
    title_h = TITLE_PIXELS if title is not None else 0
    grid_h, grid_w = canvas.shape[:2]
    fig = Figure(figsize=(grid_w / DPI, (grid_h + title_h) / DPI), dpi=DPI)
    # The axes cover the grid area exactly, so each canvas pixel is one PNG pixel.
    ax = fig.add_axes((0.0, 0.0, 1.0, grid_h / (grid_h + title_h)))
    ax.imshow(canvas, interpolation="nearest", aspect="auto")
    ax.set_axis_off()
    if title is not None:
        fig.text(
            0.5,
            1.0 - 0.5 * title_h / (grid_h + title_h),
            title,
            ha="center",
            va="center",
            fontsize=9,
        )
    save_figure(path, fig)


def save_scatter(path: str | os.PathLike, points, reference=None, title: str | None = None) -> None:
    """Writes a 500 x 500 PNG scatter of 2-D samples over reference points (process 0 only).

    Args:
      path: output file (parent directories are created).
      points: samples of shape (N, 2), drawn in blue.
      reference: optional reference points of shape (M, 2), drawn in light grey beneath.
      title: optional plot title.

    Example:
      >>> save_scatter("/tmp/samples.png", np.random.randn(500, 2), reference=np.random.randn(500, 2))
    """
    check_rank("points", points, 2, "(num_points, 2)")
    points = np.asarray(points, dtype=np.float32)
    if points.shape[1] != 2:
        raise ValueError(f"points must have shape (num_points, 2), got {points.shape}.")
    check_finite("points", points)
    if reference is not None:
        check_rank("reference", reference, 2, "(num_points, 2)")
        reference = np.asarray(reference, dtype=np.float32)
        if reference.shape[1] != 2:
            raise ValueError(f"reference must have shape (num_points, 2), got {reference.shape}.")
        check_finite("reference", reference)
    if jax.process_index() != 0:  # only process 0 writes files
        return
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 5), dpi=DPI)
    ax = fig.add_subplot()
    if reference is not None:
        ax.scatter(reference[:, 0], reference[:, 1], s=3, c="0.75", label="reference", linewidths=0)
    ax.scatter(points[:, 0], points[:, 1], s=3, c="tab:blue", label="samples", linewidths=0)
    ax.set_aspect("equal", adjustable="datalim")
    if reference is not None:
        ax.legend(loc="upper right", markerscale=3)
    if title is not None:
        ax.set_title(title)
    save_figure(path, fig)
