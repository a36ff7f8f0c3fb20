"""Figures of oasisgen results. matplotlib is imported when a figure is made.

Every function returns the :class:`matplotlib.figure.Figure` and saves it when given
``path``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def _new_figure(n_rows: int, n_cols: int, size: float) -> tuple[Any, np.ndarray]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(n_cols * size, n_rows * size), layout="constrained")
    axes = figure.subplots(n_rows, n_cols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    return figure, axes


def _save(figure: Any, path: str | os.PathLike | None) -> None:
    if path is not None:
        figure.savefig(path, dpi=100)


def plot_reconstructions(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    *,
    scores: np.ndarray | None = None,
    n_images: int = 8,
    path: str | os.PathLike | None = None,
) -> Any:
    """Show originals (top row) above their reconstructions (bottom row).

    Parameters
    ----------
    originals : ndarray of shape (n_samples, height, width[, 1])
        Images in [0, 1].
    reconstructions : ndarray of shape (n_samples, height, width[, 1])
        Their reconstructions, in [0, 1].
    scores : ndarray of shape (n_samples,), optional
        Per-image SSIM, written under each reconstruction.
    n_images : int, default=8
        How many pairs to show (the first ones).
    path : str or path-like, optional
        Where to save the figure (PNG, PDF, SVG ...).

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.plotting import plot_reconstructions
    >>> images = np.random.default_rng(0).random((3, 16, 16, 1))
    >>> figure = plot_reconstructions(images, images, scores=np.ones(3))
    >>> len(figure.axes)
    6
    """
    originals = np.asarray(originals)
    reconstructions = np.asarray(reconstructions)
    if originals.shape != reconstructions.shape:
        raise ValueError(
            "plot_reconstructions expected originals and reconstructions of the same "
            f"shape; got {originals.shape} and {reconstructions.shape}."
        )
    n = min(n_images, len(originals))
    figure, axes = _new_figure(2, n, 1.6)
    for i in range(n):
        axes[0, i].imshow(np.squeeze(originals[i]), cmap="gray", vmin=0, vmax=1)
        axes[1, i].imshow(np.squeeze(reconstructions[i]), cmap="gray", vmin=0, vmax=1)
        if scores is not None:
            axes[1, i].set_title(f"SSIM {scores[i]:.3f}", fontsize=8)
    axes[0, 0].set_title("original", fontsize=8, loc="left")
    _save(figure, path)
    return figure


def plot_image_grid(
    images: np.ndarray,
    *,
    n_cols: int = 4,
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """Show images in a grid, such as samples drawn from a generator.

    Parameters
    ----------
    images : ndarray of shape (n_samples, height, width[, 1])
        Images in [0, 1].
    n_cols : int, default=4
        Images per row.
    title : str, optional
        Figure title.
    path : str or path-like, optional
        Where to save the figure.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.plotting import plot_image_grid
    >>> figure = plot_image_grid(np.zeros((6, 8, 8, 1)), n_cols=3)
    >>> len(figure.axes)
    6
    """
    images = np.asarray(images)
    n_rows = -(-len(images) // n_cols)
    figure, axes = _new_figure(n_rows, n_cols, 1.6)
    for ax, image in zip(axes.flat, images, strict=False):
        ax.imshow(np.squeeze(image), cmap="gray", vmin=0, vmax=1)
    if title:
        figure.suptitle(title)
    _save(figure, path)
    return figure
