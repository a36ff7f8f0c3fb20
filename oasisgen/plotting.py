"""Figures of oasisgen results. matplotlib is imported when a figure is made.

Every function returns the :class:`matplotlib.figure.Figure` and saves it when given
``path``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from numbers import Integral
from typing import Any

import numpy as np

from oasisgen.datasets.validation import check_code_maps


def _new_figure(
    n_rows: int, n_cols: int, size: float, *, axis_off: bool = True
) -> tuple[Any, np.ndarray]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(n_cols * size, n_rows * size), layout="constrained")
    axes = figure.subplots(n_rows, n_cols, squeeze=False)
    if axis_off:
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


def plot_nearest_training_slices(
    samples: np.ndarray,
    nearest: np.ndarray,
    *,
    scores: Sequence[float] | None = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """Show generated slices above their nearest training slices.

    A sample that repeats its nearest training slice is a copy, not a new slice;
    :func:`oasisgen.metrics.nearest_ssim` finds the nearest slices.

    Parameters
    ----------
    samples : ndarray of shape (n, height, width[, 1])
        Generated slices in [0, 1].
    nearest : ndarray of shape (n, height, width[, 1])
        The training slice nearest to each sample.
    scores : sequence of float, optional
        The SSIM of each pair, written under it.
    path : str or path-like, optional
        Where to save the figure.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.plotting import plot_nearest_training_slices
    >>> figure = plot_nearest_training_slices(np.zeros((3, 8, 8)), np.ones((3, 8, 8)))
    >>> len(figure.axes)
    6
    """
    samples, nearest = np.asarray(samples), np.asarray(nearest)
    if len(samples) != len(nearest) or samples.shape[1:3] != nearest.shape[1:3]:
        raise ValueError(
            "plot_nearest_training_slices expected one nearest training slice of "
            f"the same size per sample; got samples of shape {samples.shape} and "
            f"nearest slices of shape {nearest.shape}."
        )
    if scores is not None and len(scores) != len(samples):
        raise ValueError(
            "plot_nearest_training_slices expected one score per sample "
            f"({len(samples)}); got {len(scores)}."
        )
    figure, axes = _new_figure(2, len(samples), 1.6)
    for column, (sample, match) in enumerate(zip(samples, nearest, strict=True)):
        axes[0, column].imshow(np.squeeze(sample), cmap="gray", vmin=0, vmax=1)
        axes[1, column].imshow(np.squeeze(match), cmap="gray", vmin=0, vmax=1)
        if scores is not None:
            axes[1, column].set_title(f"SSIM {scores[column]:.2f}", fontsize=8)
    axes[0, 0].set_title("sample", fontsize=8, loc="left")
    axes[1, 0].text(
        0,
        -0.08,
        "nearest training slice",
        transform=axes[1, 0].transAxes,
        fontsize=8,
        va="top",
    )
    _save(figure, path)
    return figure


# ------------------------------------------------------------------ training
# (panel title, history keys drawn in it, log-scale y axis)
_HISTORY_PANELS = (
    ("loss", ("loss", "reconstruction_loss", "commitment_loss"), True),
    ("SSIM", ("ssim",), False),
    ("codebook perplexity", ("top_perplexity", "bottom_perplexity"), False),
    ("codebook usage", ("top_usage", "bottom_usage"), False),
)


def plot_history(
    history: Mapping[str, Sequence[float]],
    *,
    path: str | os.PathLike | None = None,
) -> Any:
    """Plot training curves: losses, SSIM, codebook perplexity and usage per level.

    One panel per group of curves found in ``history``; validation curves
    (``val_*``) are drawn dashed in the colour of their training curve.

    Parameters
    ----------
    history : dict of str to list of float
        Per-epoch figures, such as ``VQVAE2Estimator.history_`` or the
        ``history.json`` of a run: ``loss``, ``reconstruction_loss``,
        ``commitment_loss``, ``ssim``, ``top_perplexity``, ``top_usage``,
        ``bottom_perplexity``, ``bottom_usage`` and their ``val_*`` versions. Any
        of them may be missing; other keys are ignored.
    path : str or path-like, optional
        Where to save the figure.

    Returns
    -------
    figure : matplotlib.figure.Figure
        One axes per panel that has data (at most four).

    Raises
    ------
    TypeError
        If ``history`` is not a mapping.
    ValueError
        If it holds none of the curves above, or a curve is not a flat list of
        finite numbers.

    Examples
    --------
    >>> from oasisgen.plotting import plot_history
    >>> history = {"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.7, 0.6],
    ...            "ssim": [0.2, 0.5, 0.6]}
    >>> figure = plot_history(history)
    >>> [ax.get_title() for ax in figure.axes]
    ['loss', 'SSIM']
    """
    curves = _history_curves(history)
    panels = [p for p in _HISTORY_PANELS if any(k in curves for k in p[1])]
    figure, axes = _new_figure(1, len(panels), 3.2, axis_off=False)
    for ax, (title, keys, log_scale) in zip(axes.flat, panels, strict=True):
        _plot_panel(ax, curves, keys, log_scale=log_scale)
        ax.set_title(title)
    _save(figure, path)
    return figure


def _history_curves(history: Any) -> dict[str, np.ndarray]:
    if not isinstance(history, Mapping):
        raise TypeError(
            "plot_history expected a dict of per-epoch lists such as "
            f"VQVAE2Estimator.history_; got {type(history).__name__}."
        )
    known = {k for _, keys, _ in _HISTORY_PANELS for k in keys}
    curves = {}
    for name, values in history.items():
        if name.removeprefix("val_") not in known:
            continue
        try:
            array = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            array = np.empty((0, 0))  # not numbers: rejected below
        if array.ndim != 1 or not np.all(np.isfinite(array)):
            raise ValueError(
                f"plot_history expected history[{name!r}] to be a flat list of "
                f"finite numbers, one per epoch; got {values!r}."
            )
        if array.size:
            curves[name] = array
    if not curves:
        raise ValueError(
            "plot_history found no curves to plot: expected keys such as "
            f"{sorted(known)} with at least one value; got keys {sorted(history)}."
        )
    return curves


def _plot_panel(
    ax: Any, curves: dict[str, np.ndarray], keys: Sequence[str], *, log_scale: bool
) -> None:
    drawn = []
    for index, key in enumerate(keys):
        color = f"C{index}"
        for name, style in ((key, "-"), (f"val_{key}", "--")):
            if name in curves:
                values = curves[name]
                epochs = np.arange(1, len(values) + 1)
                marker = "o" if len(values) <= 20 else None
                ax.plot(
                    epochs, values, style, color=color, marker=marker, ms=3, label=name
                )
                drawn.append(values)
    if log_scale and all(np.all(v > 0) for v in drawn):
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    n_epochs = max(len(values) for values in drawn)
    ax.set_xlim(0.5, n_epochs + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


# --------------------------------------------------------------------- codes
def plot_code_maps(
    top: np.ndarray,
    bottom: np.ndarray,
    n_images: int = 4,
    *,
    images: np.ndarray | None = None,
    cmap: str = "viridis",
    path: str | os.PathLike | None = None,
) -> Any:
    """Show the top and bottom code maps of a few images, one row per level.

    Each code is drawn as a colour (within a level, one code has one colour in every
    image), so regions the model encodes alike show as patches of one colour. The
    codes shown are ranked and spread over the whole colormap, so that a level
    using few codes still shows contrast.

    Parameters
    ----------
    top : array-like of int of shape (n_samples, height / 8, width / 8)
        Top-level codes, as returned first by ``VQVAE2Estimator.encode``.
    bottom : array-like of int of shape (n_samples, height / s, width / s)
        Bottom-level codes, as returned second by ``VQVAE2Estimator.encode``
        (s is its ``bottom_stride``, 4 by default).
    n_images : int, default=4
        How many images to show (the first ones).
    images : ndarray of shape (n_samples, height, width[, 1]), optional
        The encoded images in [0, 1], shown in a first row.
    cmap : str, default="viridis"
        Matplotlib colormap for the code indices.
    path : str or path-like, optional
        Where to save the figure.

    Returns
    -------
    figure : matplotlib.figure.Figure
        ``n_images`` axes per row: (images,) top, bottom.

    Raises
    ------
    ValueError
        If the maps are not 3-D integer arrays of non-negative codes, hold
        different numbers of images, or ``n_images`` is not a positive int.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.plotting import plot_code_maps
    >>> rng = np.random.default_rng(0)
    >>> top, bottom = rng.integers(0, 16, (5, 4, 4)), rng.integers(0, 32, (5, 8, 8))
    >>> figure = plot_code_maps(top, bottom, n_images=3)
    >>> len(figure.axes)
    6
    """
    maps = {
        "top": check_code_maps(top, caller="plot_code_maps", name="top codes"),
        "bottom": check_code_maps(bottom, caller="plot_code_maps", name="bottom codes"),
    }
    _check_same_length(maps, "plot_code_maps")
    n = min(_check_positive_int(n_images, "n_images", "plot_code_maps"), len(top))
    rows = [] if images is None else [("image", np.asarray(images)[:n], "gray", 1)]
    for level, codes in maps.items():
        ranks = _code_ranks(codes[:n])
        rows.append((f"{level} codes", ranks, cmap, max(int(ranks.max()), 1)))
    figure, axes = _new_figure(len(rows), n, 1.6)
    for row, (label, arrays, colormap, vmax) in zip(axes, rows, strict=True):
        for ax, array in zip(row, arrays, strict=False):
            ax.imshow(
                np.squeeze(array),
                cmap=colormap,
                vmin=0,
                vmax=vmax,
                interpolation="nearest",
            )
        size = "x".join(map(str, arrays.shape[1:3]))
        row[0].set_title(f"{label} ({size})", fontsize=8, loc="left")
    _save(figure, path)
    return figure


def plot_codebook_usage(
    top: np.ndarray,
    bottom: np.ndarray,
    n_top_codes: int,
    n_bottom_codes: int,
    *,
    path: str | os.PathLike | None = None,
) -> Any:
    """Plot how often each code is used, per level.

    Parameters
    ----------
    top : array-like of int of shape (n_samples, height / 8, width / 8)
        Top-level codes, in ``[0, n_top_codes)``.
    bottom : array-like of int of shape (n_samples, height / s, width / s)
        Bottom-level codes, in ``[0, n_bottom_codes)``; s is the VQ-VAE-2's
        ``bottom_stride``, 4 by default.
    n_top_codes, n_bottom_codes : int
        Codebook sizes, such as ``VQVAE2Estimator.n_top_codes_`` and
        ``n_bottom_codes_``.
    path : str or path-like, optional
        Where to save the figure.

    Returns
    -------
    figure : matplotlib.figure.Figure
        Two axes, top then bottom, each titled with the fraction of codes used
        and the perplexity.

    Raises
    ------
    ValueError
        If a codebook size is not a positive int, or a code lies outside
        ``[0, size)``.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.plotting import plot_codebook_usage
    >>> top = np.array([[[0, 1], [1, 1]]])
    >>> bottom = np.zeros((1, 4, 4), dtype=int)
    >>> figure = plot_codebook_usage(top, bottom, n_top_codes=4, n_bottom_codes=8)
    >>> for ax in figure.axes:
    ...     print(ax.get_title())
    top: 2/4 codes used (50%)
    perplexity 1.75
    bottom: 1/8 codes used (12%)
    perplexity 1.00
    """
    caller = "plot_codebook_usage"
    levels = (
        ("top", check_code_maps(top, caller=caller, name="top codes"), n_top_codes),
        (
            "bottom",
            check_code_maps(bottom, caller=caller, name="bottom codes"),
            n_bottom_codes,
        ),
    )
    figure, axes = _new_figure(1, 2, 3.2, axis_off=False)
    for ax, (level, codes, size) in zip(axes.flat, levels, strict=True):
        counts = _code_counts(codes, size, level, caller)
        ax.bar(np.arange(size), counts, width=1.0, color="C0")
        ax.set_xlim(-0.5, size - 0.5)
        ax.set_xlabel(f"{level} code")
        ax.set_ylabel("count")
        ax.set_title(_usage_title(level, counts), fontsize=9)
    _save(figure, path)
    return figure


def _code_ranks(codes: np.ndarray) -> np.ndarray:
    """Replace each code by its rank among the distinct codes present."""
    return np.unique(codes, return_inverse=True)[1].reshape(codes.shape)


def _code_counts(codes: np.ndarray, size: Any, level: str, caller: str) -> np.ndarray:
    size = _check_positive_int(size, f"n_{level}_codes", caller)
    if codes.size and codes.max() >= size:
        raise ValueError(
            f"{caller} expected {level} codes in [0, {size}) for n_{level}_codes="
            f"{size}; got a code {codes.max()}. Pass the codebook size the codes "
            "come from."
        )
    return np.bincount(codes.ravel(), minlength=size)


def _usage_title(level: str, counts: np.ndarray) -> str:
    used = int(np.count_nonzero(counts))
    probs = counts[counts > 0] / max(counts.sum(), 1)
    perplexity = float(np.exp(-np.sum(probs * np.log(probs))))
    return (
        f"{level}: {used}/{len(counts)} codes used ({used / len(counts):.0%})\n"
        f"perplexity {perplexity:.2f}"
    )


def _check_same_length(maps: dict[str, np.ndarray], caller: str) -> None:
    lengths = {len(v) for v in maps.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(
            f"{caller} expected the same number (at least one) of top and bottom "
            f"code maps; got {[len(v) for v in maps.values()]}."
        )


def _check_positive_int(value: Any, name: str, caller: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{caller} expected {name} to be an int >= 1; got {value!r}.")
    return int(value)


# ------------------------------------------------------------- interpolation
def plot_interpolation(
    estimator: Any,
    image_a: np.ndarray,
    image_b: np.ndarray,
    n_steps: int = 8,
    *,
    path: str | os.PathLike | None = None,
) -> Any:
    """Show a walk through the latent space from one slice to another.

    Both images are encoded; at each level their quantized embeddings (the
    codebook vectors of their codes) are mixed linearly, ``(1 - t) a + t b`` for
    ``n_steps`` values of ``t`` from 0 to 1. Each mixture is quantized again to its
    nearest codes and decoded with ``estimator.decode``, so every frame is a code
    map the model can produce, as a prior would sample it (rather than a blend of
    embeddings the decoder never sees in training). The first and last frames are
    therefore the reconstructions of the two images; the originals are shown at
    either end.

    Parameters
    ----------
    estimator : VQVAE2Estimator
        A fitted estimator.
    image_a, image_b : ndarray of shape (height, width[, 1])
        The two slices, in [0, 1] (or uint8), of the size the estimator was fitted
        on.
    n_steps : int, default=8
        Frames from ``image_a`` to ``image_b``, both ends included; at least 2.
    path : str or path-like, optional
        Where to save the figure.

    Returns
    -------
    figure : matplotlib.figure.Figure
        ``n_steps + 2`` axes in one row: original a, the frames, original b.

    Raises
    ------
    ValueError
        If an image is not a single 2-D slice, the sizes differ, or ``n_steps``
        is not an int >= 2.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.

    Examples
    --------
    >>> from oasisgen import VQVAE2Estimator
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.plotting import plot_interpolation
    >>> images = load_sample("test", image_size=32)[::4]
    >>> estimator = VQVAE2Estimator(num_embeddings=16, embedding_dim=4,
    ...     hidden_channels=8, n_res_blocks=1, n_res_channels=4, epochs=1,
    ...     random_state=0).fit(images)
    >>> figure = plot_interpolation(estimator, images[2], images[10], n_steps=5)
    >>> len(figure.axes)
    7
    """
    pair = _image_pair(image_a, image_b)
    n_steps = _check_positive_int(n_steps, "n_steps", "plot_interpolation")
    if n_steps < 2:
        raise ValueError(f"plot_interpolation expected n_steps >= 2; got {n_steps}.")
    weights = np.linspace(0.0, 1.0, n_steps)
    frames = estimator.decode(*_interpolated_codes(estimator, pair, weights))
    figure, axes = _new_figure(1, n_steps + 2, 1.4)
    row = axes[0]
    for ax, image, label in zip(
        row,
        [pair[0], *frames, pair[1]],
        ["a", *(f"t={t:.2f}" for t in weights), "b"],
        strict=True,
    ):
        ax.imshow(np.squeeze(image), cmap="gray", vmin=0, vmax=1)
        ax.set_title(label, fontsize=8)
    _save(figure, path)
    return figure


def _interpolated_codes(
    estimator: Any, images: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mix the embeddings of two images' codes by ``weights`` and re-quantize them.

    Weight 0 gives the codes of ``images[0]``, 1 those of ``images[1]``; returns
    ``(top, bottom)`` int32 maps with one entry per weight.
    """
    levels = estimator.encode(images)  # checks that the estimator is fitted
    model = estimator.model_
    t = np.asarray(weights, dtype=np.float32).reshape(-1, 1, 1, 1)
    mixed = []
    for codes, quantizer in zip(
        levels, (model.top_quantizer, model.bottom_quantizer), strict=True
    ):
        ends = np.asarray(quantizer.lookup(codes))
        mixture = (1.0 - t) * ends[:1] + t * ends[1:]
        mixed.append(np.asarray(quantizer.encode(mixture), dtype=np.int32))
    return mixed[0], mixed[1]


def _image_pair(image_a: Any, image_b: Any) -> np.ndarray:
    pair = []
    for name, image in (("image_a", image_a), ("image_b", image_b)):
        array = np.asarray(image)
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        if array.ndim != 2:
            raise ValueError(
                f"plot_interpolation expected {name} to be one slice of shape "
                f"(height, width) or (height, width, 1); got shape {array.shape}."
            )
        scale = 255.0 if array.dtype == np.uint8 else 1.0
        pair.append(array.astype(np.float32) / scale)
    if pair[0].shape != pair[1].shape:
        raise ValueError(
            "plot_interpolation expected two slices of one size; got "
            f"{pair[0].shape} and {pair[1].shape}."
        )
    return np.stack(pair)[..., np.newaxis]
