"""Sample quality: how generated slices compare with real ones.

Every function takes batches of grayscale slices of shape (n, height, width) or
(n, height, width, 1), floats in [0, 1] or uint8 (scaled by 1/255). The measures
look at four things:

* **shape**: is there one whole, convex, left-right symmetric head of a plausible
  size with a bright rim? (:func:`head_mask`, :func:`shape_statistics`,
  :func:`shape_plausibility`);
* **detail**: how much fine structure is inside the head (:func:`detail_energy`);
* **memorisation and diversity**: how close each sample is to its nearest training
  slice, and to the other samples (:func:`nearest_ssim`, :func:`neighbour_ssim`,
  :func:`copy_rate`, :func:`pairwise_ssim`);
* **realism**: can a classifier tell samples from real slices
  (:func:`two_sample_test`)?
* **level**: does a slice drawn at a position look like real slices at that
  position (:func:`level_error`)?

:func:`sample_quality` runs them all and puts each figure for the samples beside the
same figure for real held-out slices.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import tensorflow as tf
from scipy import ndimage
from scipy.spatial import ConvexHull
from scipy.stats import rankdata
from skimage.filters import threshold_li
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from oasisgen.datasets.imaging import resize_images
from oasisgen.datasets.validation import (
    check_images,
    check_real_dtype,
    check_slice_positions,
)
from oasisgen.metrics._reconstruction import (
    SSIM_FILTER_SIGMA,
    SSIM_FILTER_SIZE,
)

__all__ = [
    "copy_rate",
    "detail_energy",
    "head_intensity",
    "head_mask",
    "level_error",
    "nearest_ssim",
    "neighbour_ssim",
    "pairwise_ssim",
    "sample_quality",
    "shape_plausibility",
    "shape_statistics",
    "two_sample_test",
]

_SLICES_SHAPE_TEXT = "(n_slices, height, width) or (n_slices, height, width, 1)"
_RESIZE_HINT = "resize one with oasisgen.preprocessing.Resize"
# connected components of the foreground smaller than this fraction of the image
# are specks, not counted by shape_statistics
_MIN_COMPONENT_FRACTION = 0.005
# radius of the closing that bridges the dark skull before holes are filled, as a
# fraction of the image side
_CLOSING_FRACTION = 0.03
# width of the rim bands of skull_ring, as a fraction of the image side
_RING_FRACTION = 0.03
# erosion of the head mask before detail_energy and head_intensity, as a fraction
# of the image side
_DETAIL_EROSION_FRACTION = 0.05
# finest band-pass scale of detail_energy: side / 128, at least half a pixel
_DETAIL_SIGMA_DIVISOR = 128.0
_DETAIL_MIN_SIGMA = 0.5
# floor of the inner-band intensity that divides skull_ring: one gray level
_RING_FLOOR = 1.0 / 255.0
# pixels of one SSIM chunk: 2**23 float32 values, 32 MB per array
_PAIR_PIXELS = 2**23
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03
# the two-sample classifiers
_CLASSIFIERS = ("cnn", "linear")
_CNN_MAX_SIDE = 64
_CNN_EPOCHS = 30
_CNN_BATCH_SIZE = 32
_CNN_LEARNING_RATE = 1e-2
_LINEAR_SIDE = 16
_LEVEL_ALPHA = 100.0  # ridge penalty of level_error's reader (256 ranks)
_LINEAR_C = 0.1
# pairs drawn by sample_quality for pairwise_ssim
_QUALITY_MAX_PAIRS = 2000
_PLAUSIBLE_PERCENTILES = (5.0, 95.0)
_PLAUSIBLE_MARGIN = 0.25

# images sample_quality measures in place of the held-out slices: the suffix of
# their figures, and the parameter that takes them
_STAND_INS = (
    ("reconstructed", "reconstructions"),
    ("given_real_top", "real_top_samples"),
)
# the figures it reports for each of them
_STAND_IN_FIGURES = (
    "two_sample_accuracy",
    "shape_plausibility",
    "detail_energy_median",
    "detail_energy_in_real_iqr",
    "head_intensity_in_real_iqr",
)

# --- validation -----------------------------------------------------------------


def _check_slices(
    images: object, *, caller: str, name: str, min_slices: int = 1
) -> np.ndarray:
    """Return a batch of slices as float32 in [0, 1] of shape (n, height, width)."""
    array = np.asarray(images)
    check_real_dtype(array, caller=caller, expected="uint8 or float", name=name)
    if array.ndim not in (3, 4):
        raise ValueError(
            f"{caller} expected {name} as a batch of slices of shape "
            f"{_SLICES_SHAPE_TEXT}; got an array of shape {array.shape}. For a single "
            "slice, add a first axis: image[np.newaxis]."
        )
    batch = check_images(array, caller=caller, min_samples=min_slices, name=name)
    return batch[..., 0]


def _check_same_size(
    first: np.ndarray,
    second: np.ndarray,
    *,
    caller: str,
    names: tuple[str, str],
) -> None:
    """Raise ValueError unless two batches hold slices of the same size."""
    if first.shape[1:] != second.shape[1:]:
        (h1, w1), (h2, w2) = first.shape[1:], second.shape[1:]
        raise ValueError(
            f"{caller} expected {names[0]} and {names[1]} of the same size; got "
            f"{h1}x{w1} {names[0]} and {h2}x{w2} {names[1]}; {_RESIZE_HINT}, e.g. "
            f"Resize(({h2}, {w2})).fit_transform({names[0]})."
        )


def _check_groups(
    groups: object, n_slices: int, *, caller: str, name: str, images_name: str
) -> np.ndarray:
    """Validate one group label per slice, each group in one run of rows."""
    labels = np.asarray(groups)
    if labels.ndim != 1 or len(labels) != n_slices:
        raise ValueError(
            f"{caller} expected {name} of shape ({n_slices},), one label per slice "
            f"of {images_name}; got shape {labels.shape}. Pass the subject or volume "
            "of each slice, such as the subjects of "
            "load_sample(..., return_subjects=True)."
        )
    starts = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    run_labels = labels[np.concatenate([[0], starts])] if n_slices else labels
    if len(np.unique(run_labels)) != len(run_labels):
        raise ValueError(
            f"{caller} expected the slices of each group in {name} on consecutive "
            f"rows of {images_name}, ordered by slice position; a group appears in "
            "several runs. Sort the slices by group first, keeping their order "
            "within a group: order = np.argsort(groups, kind='stable')."
        )
    return labels


def _check_n_splits(n_splits: object, *, caller: str) -> int:
    if isinstance(n_splits, bool) or not isinstance(n_splits, numbers.Integral):
        raise TypeError(
            f"{caller} expected n_splits to be an int; got {type(n_splits).__name__}."
        )
    if n_splits < 2:
        raise ValueError(f"{caller} expected n_splits >= 2; got {n_splits}.")
    return int(n_splits)


def _check_classifier(classifier: object, *, caller: str) -> str:
    if classifier not in _CLASSIFIERS:
        raise ValueError(
            f"{caller} expected classifier to be one of {_CLASSIFIERS}; got "
            f"{classifier!r}."
        )
    return str(classifier)


def _seed(random_state: object) -> int:
    """Draw one int seed from an int, None or a RandomState."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


# --- head masks and shape -------------------------------------------------------


def _threshold_of(image: np.ndarray, threshold: str | float) -> float | None:
    """Foreground threshold of one slice, or None when the slice is constant."""
    if image.max() - image.min() <= 1e-6:
        return None if threshold == "li" else float(threshold)
    return float(threshold_li(image)) if threshold == "li" else float(threshold)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    labels, n_labels = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if n_labels <= 1:
        return labels > 0
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def _foreground_and_mask(
    images: np.ndarray, threshold: str | float
) -> tuple[np.ndarray, np.ndarray]:
    """Raw thresholded foregrounds and head masks, both bool (n, height, width)."""
    foreground = np.zeros(images.shape, dtype=bool)
    masks = np.zeros(images.shape, dtype=bool)
    radius = _band_width(images.shape, _CLOSING_FRACTION)
    for i, image in enumerate(images):
        level = _threshold_of(image, threshold)
        if level is None:
            continue
        foreground[i] = _closed(image > level, radius)
        if foreground[i].any():
            masks[i] = _largest_component(ndimage.binary_fill_holes(foreground[i]))
    return foreground, masks


def _disk(radius: int) -> np.ndarray:
    offsets = np.arange(-radius, radius + 1)
    return offsets[:, np.newaxis] ** 2 + offsets[np.newaxis, :] ** 2 <= radius**2


def _closed(mask: np.ndarray, radius: int) -> np.ndarray:
    """Morphological closing by a disk, the image edge continued outwards."""
    if radius < 1 or not mask.any():
        return mask
    padded = np.pad(mask, radius + 1, mode="edge")
    closed = ndimage.binary_closing(padded, structure=_disk(radius))
    return closed[radius + 1 : -radius - 1, radius + 1 : -radius - 1]


def _check_threshold(threshold: object) -> str | float:
    if isinstance(threshold, str):
        if threshold != "li":
            raise ValueError(
                "head_mask expected threshold='li' or a number in [0, 1]; got "
                f"{threshold!r}. Otsu's threshold is not offered on purpose: it "
                "splits a T1 head along the gray/white matter boundary."
            )
        return threshold
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(
            "head_mask expected threshold to be 'li' or a real number; got "
            f"{type(threshold).__name__}."
        )
    if not (math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
        raise ValueError(
            "head_mask expected a threshold in [0, 1] (images are scaled to [0, 1]); "
            f"got {threshold!r}."
        )
    return float(threshold)


def head_mask(images: object, *, threshold: Literal["li"] | float = "li") -> np.ndarray:
    """Mask of the head in each slice.

    Each slice is thresholded on its own. The foreground is closed with a disk of
    radius 3 % of the shorter image side (at least 1 pixel), which bridges the dark
    skull between the bright scalp and the brain, also where the head touches the
    image edge (the edge pixels are continued outwards). Then its holes are filled
    and only its largest connected component (8-connectivity) is kept.

    Parameters
    ----------
    images : array-like of shape (n_slices, height, width) or \
(n_slices, height, width, 1)
        Floats in [0, 1], or uint8 (scaled by 1/255).
    threshold : "li" or float, default="li"
        ``"li"`` computes the threshold of each slice with Li's minimum
        cross-entropy method (:func:`skimage.filters.threshold_li`), which keeps a
        T1 head whole. (Otsu's method would cut it along the gray/white matter
        boundary.) A float in [0, 1] is used for every slice. Pixels strictly
        above the threshold are foreground.

    Returns
    -------
    masks : ndarray of shape (n_slices, height, width), dtype bool
        True inside the head. A constant slice (such as an all-black one) gives an
        empty mask.

    Raises
    ------
    ValueError
        If the images are not a batch of slices, hold NaN or inf or values outside
        [0, 1], or the threshold is not ``"li"`` or a number in [0, 1].
    TypeError
        If the images are not numeric or the threshold is not a number.

    See Also
    --------
    shape_statistics : Shape figures of these masks.

    Examples
    --------
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.metrics import head_mask
    >>> X = load_sample("train", image_size=32)
    >>> masks = head_mask(X[:4])
    >>> masks.shape, masks.dtype
    ((4, 32, 32), dtype('bool'))
    >>> bool(0.2 < masks[0].mean() < 0.9)
    True
    """
    level = _check_threshold(threshold)
    batch = _check_slices(images, caller="head_mask", name="images")
    return _foreground_and_mask(batch, level)[1]


def _n_components(foreground: np.ndarray) -> int:
    labels, n_labels = ndimage.label(foreground, structure=np.ones((3, 3), dtype=bool))
    if n_labels == 0:
        return 0
    sizes = np.bincount(labels.ravel())[1:]
    return int(np.count_nonzero(sizes >= _MIN_COMPONENT_FRACTION * foreground.size))


def _solidity(mask: np.ndarray) -> float:
    """Mask area over the area of the convex hull of its pixel squares."""
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return 0.0
    width = mask.shape[1]
    left = np.argmax(mask[rows], axis=1)
    right = width - np.argmax(mask[rows, ::-1], axis=1)
    # the hull of the pixels is the hull of the outer corners of each row's ends
    points = np.concatenate(
        [
            np.column_stack([rows, left]),
            np.column_stack([rows + 1, left]),
            np.column_stack([rows, right]),
            np.column_stack([rows + 1, right]),
        ]
    ).astype(np.float64)
    return float(mask.sum() / ConvexHull(points).volume)


def _symmetry(mask: np.ndarray) -> float:
    """IoU of the mask and its mirror image about its own centroid column."""
    columns = np.nonzero(mask)[1]
    if len(columns) == 0:
        return 0.0
    width = mask.shape[1]
    # column j mirrors to axis2 - j, the centroid column rounded to half pixels
    axis2 = int(round(2.0 * columns.mean()))
    mirrored = np.zeros_like(mask)
    first, last = max(0, axis2 - width + 1), min(width - 1, axis2)
    if first <= last:
        mirrored[:, first : last + 1] = mask[:, axis2 - last : axis2 - first + 1][
            :, ::-1
        ]
    union = np.count_nonzero(mask | mirrored)
    return float(np.count_nonzero(mask & mirrored) / union)


def _band_width(shape: tuple[int, ...], fraction: float) -> int:
    return max(1, int(round(fraction * min(shape[-2:]))))


def _skull_ring(image: np.ndarray, mask: np.ndarray, band: int) -> float:
    """Mean of the outer rim band of the mask over the mean of the band inside."""
    inner = ndimage.binary_erosion(mask, iterations=band)
    core = ndimage.binary_erosion(inner, iterations=band)
    rim, next_band = mask & ~inner, inner & ~core
    if not rim.any() or not next_band.any():
        return 0.0
    return float(image[rim].mean() / max(float(image[next_band].mean()), _RING_FLOOR))


def _shape_statistics(
    images: np.ndarray, foreground_and_mask: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Statistics of validated slices, from their foregrounds and masks if known."""
    if foreground_and_mask is None:
        foreground_and_mask = _foreground_and_mask(images, "li")
    foreground, masks = foreground_and_mask
    band = _band_width(images.shape, _RING_FRACTION)
    stats = {
        "n_components": np.array([_n_components(f) for f in foreground], dtype=int),
        "solidity": np.array([_solidity(m) for m in masks]),
        "symmetry": np.array([_symmetry(m) for m in masks]),
        "area_fraction": masks.mean(axis=(1, 2), dtype=np.float64),
        "skull_ring": np.array(
            [_skull_ring(x, m, band) for x, m in zip(images, masks, strict=True)]
        ),
    }
    return stats


def shape_statistics(images: object) -> dict[str, np.ndarray]:
    """Figures that describe the shape of the head in each slice.

    The head is found by :func:`head_mask` with Li's threshold.

    Parameters
    ----------
    images : array-like of shape (n_slices, height, width) or \
(n_slices, height, width, 1)
        Floats in [0, 1], or uint8 (scaled by 1/255).

    Returns
    -------
    statistics : dict of str to ndarray of shape (n_slices,)
        In this order:

        ``"n_components"`` (int)
            Connected components (8-connectivity) of the closed foreground of
            :func:`head_mask`, before holes are filled and the largest component
            is kept, that cover at least 0.5 % of the image. One for a whole
            head; 0 for an empty slice.
        ``"solidity"``
            Area of the mask over the area of its convex hull (the hull of the
            pixel squares), in (0, 1]; 1 for a convex head, 0 for an empty mask.
        ``"symmetry"``
            Left-right symmetry: intersection over union of the mask and its
            mirror image about the mask's own vertical centroid axis (the mean
            column, rounded to half a pixel), in [0, 1]. The axis is vertical, not
            the principal axis, because the slices are expected upright (anterior
            up), so a tilted head scores lower. 0 for an empty mask.
        ``"area_fraction"``
            Mask area over image area.
        ``"skull_ring"``
            Brightness of the head's rim: the mean intensity of the outer band of
            the mask (the pixels removed by an erosion of ``w`` pixels, ``w`` = 3 %
            of the shorter side, at least 1) over the mean intensity of the next
            band of width ``w`` inside, that mean floored at 1/255. Above 1 when
            the rim (scalp) is brighter than what lies just inside it (the skull);
            0 when the mask is empty or too small to hold both bands.

    Raises
    ------
    ValueError
        If the images are not a batch of slices or hold NaN, inf or values outside
        [0, 1].
    TypeError
        If the images are not numeric.

    See Also
    --------
    shape_plausibility : Whether these figures lie in the range of real slices.

    Examples
    --------
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.metrics import shape_statistics
    >>> stats = shape_statistics(load_sample("train", image_size=32)[:3])
    >>> list(stats)
    ['n_components', 'solidity', 'symmetry', 'area_fraction', 'skull_ring']
    >>> stats["n_components"]
    array([1, 1, 1])
    >>> bool((stats["solidity"] > 0.8).all())
    True
    """
    batch = _check_slices(images, caller="shape_statistics", name="images")
    return _shape_statistics(batch)


def _stack(stats: dict[str, np.ndarray]) -> np.ndarray:
    return np.column_stack([stats[name].astype(np.float64) for name in stats])


def _plausible(
    stats: dict[str, np.ndarray],
    reference_stats: dict[str, np.ndarray],
    margin: float = _PLAUSIBLE_MARGIN,
) -> np.ndarray:
    values, reference = _stack(stats), _stack(reference_stats)
    low, high = np.percentile(reference, _PLAUSIBLE_PERCENTILES, axis=0)
    slack = margin * (high - low)
    return np.all((values >= low - slack) & (values <= high + slack), axis=1)


def _check_margin(margin: object, *, caller: str) -> float:
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real):
        raise TypeError(
            f"{caller} expected margin to be a real number; got "
            f"{type(margin).__name__}."
        )
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(
            f"{caller} expected a finite margin >= 0 (a fraction of each range's "
            f"width); got {margin!r}."
        )
    return float(margin)


def shape_plausibility(
    images: object,
    reference: object,
    *,
    margin: float = _PLAUSIBLE_MARGIN,
    return_per_image: bool = False,
) -> float | tuple[float, np.ndarray]:
    """Fraction of slices whose head shape lies within the range of real slices.

    A slice is plausible when each of its :func:`shape_statistics` lies within the
    range from the 5th to the 95th percentile of that statistic over the reference
    slices, widened on both sides by ``margin`` times its width. A statistic that
    is the same for nearly all reference slices (one component) must match it
    exactly. Real slices of new subjects are not all plausible either (with five
    ranges, one of them is often missed), so compare the samples' rate with that
    of real held-out slices, the ceiling (see :func:`sample_quality`).

    Parameters
    ----------
    images : array-like of shape (n_slices, height, width) or \
(n_slices, height, width, 1)
        Slices to judge, such as generated samples. Floats in [0, 1] or uint8.
    reference : array-like of shape (n_reference, height_r, width_r) or \
(n_reference, height_r, width_r, 1)
        Real slices that set the ranges. Their size may differ from that of
        ``images``: the statistics are relative to the image size.
    margin : float, default=0.25
        Widening of each range on both sides, as a fraction of its width. A few
        reference subjects do not span the variation of new ones: with 0, about
        half the real slices of a new subject fall outside one of the ranges of
        the bundled sample's two training subjects; with 0.25, about 0.75 are
        plausible.
    return_per_image : bool, default=False
        Also return whether each slice is plausible.

    Returns
    -------
    plausibility : float
        Fraction of plausible slices, in [0, 1].
    per_image : ndarray of shape (n_slices,), dtype bool
        Whether each slice is plausible; only returned when ``return_per_image``
        is True.

    Raises
    ------
    ValueError
        If either batch is not a batch of slices or holds NaN, inf or values
        outside [0, 1], or ``margin`` is negative or not finite.
    TypeError
        If either batch is not numeric or ``margin`` is not a number.

    See Also
    --------
    shape_statistics : The figures compared.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.metrics import shape_plausibility
    >>> train, test = load_sample("train", 32), load_sample("test", 32)
    >>> bool(shape_plausibility(test, train) >= 0.6)
    True
    >>> noise = np.random.default_rng(0).random((8, 32, 32))
    >>> shape_plausibility(noise, train)
    0.0
    """
    caller = "shape_plausibility"
    slack = _check_margin(margin, caller=caller)
    batch = _check_slices(images, caller=caller, name="images")
    ref = _check_slices(reference, caller=caller, name="reference")
    per_image = _plausible(_shape_statistics(batch), _shape_statistics(ref), slack)
    fraction = float(per_image.mean())
    return (fraction, per_image) if return_per_image else fraction


# --- fine detail ----------------------------------------------------------------


def _detail_energy(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    side = min(images.shape[1:])
    sigma = max(_DETAIL_MIN_SIGMA, side / _DETAIL_SIGMA_DIVISOR)
    data = images.astype(np.float64)
    band_pass = ndimage.gaussian_filter(
        data, sigma=(0, sigma, sigma), mode="nearest"
    ) - ndimage.gaussian_filter(data, sigma=(0, 2 * sigma, 2 * sigma), mode="nearest")
    erosion = max(
        _band_width(images.shape, _DETAIL_EROSION_FRACTION), math.ceil(4 * sigma)
    )
    energy = np.zeros(len(images))
    for i, mask in enumerate(masks):
        inside = ndimage.binary_erosion(mask, iterations=erosion)
        if inside.any():
            energy[i] = float(np.mean(np.square(band_pass[i][inside])))
    return energy


def detail_energy(images: object) -> np.ndarray:
    """Energy of the fine structure inside the head of each slice.

    The slices are band-pass filtered with a difference of Gaussians of standard
    deviations ``s`` and ``2 s``, ``s = max(0.5, side / 128)`` pixels with ``side``
    the shorter image side, so the band covers the same anatomy at 64 and at 256
    pixels (above 64 pixels). The squared response is averaged over the head mask
    (:func:`head_mask`) eroded by ``max(5 % of side, 4 s)`` pixels, so the edge
    between head and background does not count. Blurry samples score low, noisy
    ones high: compare with real slices of the same size.

    Parameters
    ----------
    images : array-like of shape (n_slices, height, width) or \
(n_slices, height, width, 1)
        Floats in [0, 1], or uint8 (scaled by 1/255).

    Returns
    -------
    energy : ndarray of shape (n_slices,)
        Mean squared band-pass response inside the eroded mask; 0 when the eroded
        mask is empty.

    Raises
    ------
    ValueError
        If the images are not a batch of slices or hold NaN, inf or values outside
        [0, 1].
    TypeError
        If the images are not numeric.

    Examples
    --------
    >>> from scipy.ndimage import gaussian_filter
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.metrics import detail_energy
    >>> X = load_sample("train", image_size=64)[30:32, ..., 0]
    >>> blurred = gaussian_filter(X, sigma=(0, 1.5, 1.5))
    >>> bool((detail_energy(blurred) < detail_energy(X) / 4).all())
    True
    """
    batch = _check_slices(images, caller="detail_energy", name="images")
    return _detail_energy(batch, _foreground_and_mask(batch, "li")[1])


# --- brightness -----------------------------------------------------------------


def _head_intensity(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    erosion = _band_width(images.shape, _DETAIL_EROSION_FRACTION)
    intensity = np.zeros(len(images))
    for i, mask in enumerate(masks):
        inside = ndimage.binary_erosion(mask, iterations=erosion)
        if inside.any():
            intensity[i] = float(np.median(images[i][inside]))
    return intensity


def head_intensity(images: object) -> np.ndarray:
    """Median intensity inside the head of each slice.

    The median is taken over the head mask (:func:`head_mask`) eroded by 5 % of
    the shorter image side, so the bright rim of scalp and skull weighs little: on
    a T1 slice it reads the brain and the fluid around it. Samples brighter than
    real slices, with too much white matter or too little gray matter and fluid,
    score higher; compare with real slices of the same size and scanner.

    Parameters
    ----------
    images : array-like of shape (n_slices, height, width) or \
(n_slices, height, width, 1)
        Floats in [0, 1], or uint8 (scaled by 1/255).

    Returns
    -------
    intensity : ndarray of shape (n_slices,)
        Median intensity inside the eroded mask, in [0, 1]; 0 when the eroded
        mask is empty.

    Raises
    ------
    ValueError
        If the images are not a batch of slices or hold NaN, inf or values outside
        [0, 1].
    TypeError
        If the images are not numeric.

    Examples
    --------
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.metrics import head_intensity
    >>> X = load_sample("train", image_size=64)[30:32, ..., 0]
    >>> brighter = X ** 0.7  # a gamma below 1 lifts the mid-tones
    >>> bool((head_intensity(brighter) > head_intensity(X) + 0.05).all())
    True
    """
    batch = _check_slices(images, caller="head_intensity", name="images")
    return _head_intensity(batch, _foreground_and_mask(batch, "li")[1])


# --- SSIM between many pairs ----------------------------------------------------


def _gaussian_kernel(size: int) -> np.ndarray:
    """Return the normalised 1D Gaussian of tf.image.ssim's (separable) window."""
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    weights = np.exp(-(offsets**2) / (2.0 * SSIM_FILTER_SIGMA**2))
    return (weights / weights.sum()).astype(np.float32)


def _local_mean(images: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """Gaussian-weighted local means over 'valid' windows, layout (h, w, channels)."""
    channels = tf.shape(images)[-1]
    size = tf.shape(kernel)[0]
    vertical = tf.tile(tf.reshape(kernel, (size, 1, 1, 1)), (1, 1, channels, 1))
    horizontal = tf.tile(tf.reshape(kernel, (1, size, 1, 1)), (1, 1, channels, 1))
    out = tf.nn.depthwise_conv2d(images[tf.newaxis], vertical, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(out, horizontal, [1, 1, 1, 1], "VALID")[0]


@tf.function(reduce_retracing=True)
def _moments(images: tf.Tensor, kernel: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    mean = _local_mean(images, kernel)
    return mean, _local_mean(images * images, kernel) - mean * mean


@tf.function(reduce_retracing=True)
def _ssim_from_moments(
    x: tf.Tensor,
    x_mean: tf.Tensor,
    x_var: tf.Tensor,
    y: tf.Tensor,
    y_mean: tf.Tensor,
    y_var: tf.Tensor,
    kernel: tf.Tensor,
) -> tf.Tensor:
    """SSIM of the image pairs along the last axis (or of one x against every y)."""
    c1 = _SSIM_K1**2
    c2 = _SSIM_K2**2
    covariance = _local_mean(x * y, kernel) - x_mean * y_mean
    luminance = (2.0 * x_mean * y_mean + c1) / (x_mean * x_mean + y_mean * y_mean + c1)
    structure = (2.0 * covariance + c2) / (x_var + y_var + c2)
    return tf.reduce_mean(luminance * structure, axis=(0, 1))


def _chunk_size(images: np.ndarray) -> int:
    return max(1, _PAIR_PIXELS // (images.shape[1] * images.shape[2]))


def _kernel_for(images: np.ndarray) -> tf.Tensor:
    return tf.constant(_gaussian_kernel(min(SSIM_FILTER_SIZE, *images.shape[1:])))


def _ssim_chunks(
    images: np.ndarray, kernel: tf.Tensor
) -> Iterator[tuple[int, tf.Tensor, tf.Tensor, tf.Tensor]]:
    """Yield (start, slices, local means, local variances) in (h, w, chunk) layout.

    With the moments of each slice at hand, the SSIM of a pair only needs the local
    mean of the product of its two slices. Values equal :func:`tf.image.ssim` (and
    :func:`oasisgen.metrics.ssim`) to about 1e-6.
    """
    size = _chunk_size(images)
    for start in range(0, len(images), size):
        part = tf.constant(np.transpose(images[start : start + size], (1, 2, 0)))
        yield (start, part, *_moments(part, kernel))


def _zipped_ssim(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """SSIM of each pair (first[i], second[i])."""
    if len(first) == 0:
        return np.zeros(0)
    kernel = _kernel_for(first)
    values = [
        _ssim_from_moments(*x[1:], *y[1:], kernel).numpy()
        for x, y in zip(
            _ssim_chunks(first, kernel), _ssim_chunks(second, kernel), strict=True
        )
    ]
    return np.concatenate(values).astype(np.float64)


def _nearest(
    images: np.ndarray, reference: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Highest SSIM of each slice against the reference slices, and its row.

    One chunk of reference slices (and one of queries) is in memory at a time;
    each query is compared with a whole chunk in one call.
    """
    kernel = _kernel_for(images)
    best = np.full(len(images), -np.inf)
    index = np.zeros(len(images), dtype=np.int64)
    for ref_start, *ref in _ssim_chunks(reference, kernel):
        for start, queries, means, variances in _ssim_chunks(images, kernel):
            for k in range(queries.shape[-1]):
                query = (
                    queries[..., k : k + 1],
                    means[..., k : k + 1],
                    variances[..., k : k + 1],
                )
                values = _ssim_from_moments(*query, *ref, kernel).numpy()
                j = int(np.argmax(values))
                # strictly greater: ties keep the first row, as np.argmax does
                if values[j] > best[start + k]:
                    best[start + k], index[start + k] = float(values[j]), ref_start + j
    return best, index


def nearest_ssim(
    images: object, reference: object, *, return_index: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Highest SSIM of each slice against every reference slice.

    A measure of memorisation: a generated slice that copies a training slice has
    a nearest SSIM close to 1. SSIM is the one of :func:`oasisgen.metrics.ssim`
    (11x11 Gaussian window, standard deviation 1.5, data range 1), computed for
    every pair from per-slice local moments, about 20 times faster than
    :func:`tf.image.ssim` on every pair: 64 x 2000 pairs of 128 x 128 slices take
    under 20 s on one CPU core.

    Parameters
    ----------
    images : array-like of shape (n_slices, height, width) or \
(n_slices, height, width, 1)
        Slices to look up, such as generated samples. Floats in [0, 1] or uint8.
    reference : array-like of shape (n_reference, height, width) or \
(n_reference, height, width, 1)
        Slices to search, such as the training slices; the same size as
        ``images``.
    return_index : bool, default=False
        Also return the index of the nearest reference slice, to show each slice
        beside it.

    Returns
    -------
    nearest : ndarray of shape (n_slices,)
        Highest SSIM of each slice, in [-1, 1].
    index : ndarray of shape (n_slices,), dtype int64
        Row of ``reference`` that reaches it; only returned when ``return_index``
        is True.

    Raises
    ------
    ValueError
        If a batch is not a batch of slices, holds NaN, inf or values outside
        [0, 1], or the two batches differ in image size.
    TypeError
        If a batch is not numeric.

    See Also
    --------
    copy_rate : Fraction of slices that are near-copies.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.metrics import nearest_ssim
    >>> train = load_sample("train", image_size=32)
    >>> nearest, index = nearest_ssim(train[[5, 70]], train, return_index=True)
    >>> np.round(nearest, 4), index
    (array([1., 1.]), array([ 5, 70]))
    """
    caller = "nearest_ssim"
    batch = _check_slices(images, caller=caller, name="images")
    ref = _check_slices(reference, caller=caller, name="reference")
    _check_same_size(batch, ref, caller=caller, names=("images", "reference"))
    best, index = _nearest(batch, ref)
    return (best, index) if return_index else best


def _neighbour_pairs(labels: np.ndarray) -> np.ndarray:
    return np.flatnonzero(labels[1:] == labels[:-1])


def neighbour_ssim(images: object, groups: object) -> np.ndarray:
    """SSIM between neighbouring slices of the same volume.

    Neighbouring slices of one head are near-duplicates, yet distinct images: the
    median of these values is the level above which a sample counts as a copy of
    a training slice (see :func:`copy_rate`).

    Parameters
    ----------
    images : array-like of shape (n_slices, height, width) or \
(n_slices, height, width, 1)
        Slices of one or more volumes. The slices of a volume are on consecutive
        rows, ordered by their position in the volume. Floats in [0, 1] or uint8.
    groups : array-like of shape (n_slices,)
        The volume (or subject) of each slice.

    Returns
    -------
    ssim : ndarray of shape (n_pairs,)
        SSIM of rows ``i`` and ``i + 1`` for every ``i`` whose two rows share a
        group, in the order of ``i``; empty when no two rows do.

    Raises
    ------
    ValueError
        If the images are not a batch of slices or hold NaN, inf or values outside
        [0, 1], ``groups`` does not hold one label per slice, or a group's slices
        are not on consecutive rows.
    TypeError
        If the images are not numeric.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.metrics import neighbour_ssim
    >>> X, subjects = load_sample("train", image_size=32, return_subjects=True)
    >>> values = neighbour_ssim(X, subjects)
    >>> len(X), len(values)
    (178, 175)
    >>> bool(0.5 < float(np.median(values)) < 1.0)
    True
    """
    caller = "neighbour_ssim"
    batch = _check_slices(images, caller=caller, name="images")
    labels = _check_groups(
        groups, len(batch), caller=caller, name="groups", images_name="images"
    )
    pairs = _neighbour_pairs(labels)
    return _zipped_ssim(batch[pairs], batch[pairs + 1])


def _copy_threshold(reference: np.ndarray, labels: np.ndarray, *, caller: str) -> float:
    pairs = _neighbour_pairs(labels)
    if len(pairs) == 0:
        raise ValueError(
            f"{caller} needs at least one pair of neighbouring reference slices of "
            "the same group to set the copy threshold; every group has a single "
            "slice. Pass whole volumes (several consecutive slices per group)."
        )
    return float(np.median(_zipped_ssim(reference[pairs], reference[pairs + 1])))


def copy_rate(images: object, reference: object, reference_groups: object) -> float:
    """Fraction of slices that are near-copies of a reference slice.

    A slice is a near-copy when its :func:`nearest_ssim` against the reference
    slices is at least the median :func:`neighbour_ssim` of the reference volumes:
    it is as close to a training slice as two neighbouring slices of one head are
    to each other.

    Parameters
    ----------
    images : array-like of shape (n_slices, height, width) or \
(n_slices, height, width, 1)
        Slices to judge, such as generated samples. Floats in [0, 1] or uint8.
    reference : array-like of shape (n_reference, height, width) or \
(n_reference, height, width, 1)
        Reference slices, such as the training slices, the slices of each volume
        on consecutive rows in slice order.
    reference_groups : array-like of shape (n_reference,)
        The volume (or subject) of each reference slice.

    Returns
    -------
    rate : float
        Fraction of near-copies, in [0, 1].

    Raises
    ------
    ValueError
        If a batch is not a batch of slices, holds NaN, inf or values outside
        [0, 1], the two batches differ in image size, ``reference_groups`` does not
        hold one label per reference slice, a group's slices are not consecutive,
        or no group holds two slices.
    TypeError
        If a batch is not numeric.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.metrics import copy_rate
    >>> train, subjects = load_sample("train", 32, return_subjects=True)
    >>> copy_rate(train[::10], train, subjects)
    1.0
    >>> copy_rate(np.random.default_rng(0).random((8, 32, 32)), train, subjects)
    0.0
    """
    caller = "copy_rate"
    batch = _check_slices(images, caller=caller, name="images")
    ref = _check_slices(reference, caller=caller, name="reference")
    _check_same_size(batch, ref, caller=caller, names=("images", "reference"))
    labels = _check_groups(
        reference_groups,
        len(ref),
        caller=caller,
        name="reference_groups",
        images_name="reference",
    )
    threshold = _copy_threshold(ref, labels, caller=caller)
    return float(np.mean(_nearest(batch, ref)[0] >= threshold))


def _pairwise(images: np.ndarray, max_pairs: int | None, random_state: object) -> float:
    n = len(images)
    n_pairs = n * (n - 1) // 2
    if max_pairs is None or n_pairs <= max_pairs:
        first, second = np.triu_indices(n, k=1)
    else:
        rng = check_random_state(random_state)
        chosen = np.sort(rng.choice(n_pairs, size=max_pairs, replace=False))
        first, second = _pair_from_rank(chosen, n)
    return float(np.mean(_zipped_ssim(images[first], images[second])))


def _pair_from_rank(rank: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Map ranks in the row-major order of pairs i < j back to (i, j)."""
    # pairs before row i: i * n - i * (i + 1) / 2
    starts = np.arange(n) * n - np.arange(n) * (np.arange(n) + 1) // 2
    first = np.searchsorted(starts, rank, side="right") - 1
    second = rank - starts[first] + first + 1
    return first, second


def pairwise_ssim(
    images: object, *, max_pairs: int | None = None, random_state: object = None
) -> float:
    """Mean SSIM over distinct pairs of slices: lower is more diverse.

    Parameters
    ----------
    images : array-like of shape (n_slices, height, width) or \
(n_slices, height, width, 1)
        At least two slices. Floats in [0, 1] or uint8.
    max_pairs : int, optional
        Use at most this many pairs, drawn at random without replacement from the
        ``n_slices * (n_slices - 1) / 2`` distinct pairs. None uses every pair,
        which grows with the square of ``n_slices``.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw of pairs when ``max_pairs`` is smaller than their number.

    Returns
    -------
    ssim : float
        Mean SSIM, in [-1, 1]; 1 when all slices are identical.

    Raises
    ------
    ValueError
        If the images are not a batch of at least two slices, hold NaN, inf or
        values outside [0, 1], or ``max_pairs < 1``.
    TypeError
        If the images are not numeric or ``max_pairs`` is not an int.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.metrics import pairwise_ssim
    >>> X = load_sample("train", image_size=32)
    >>> round(pairwise_ssim(np.repeat(X[:1], 8, axis=0)), 4)
    1.0
    >>> bool(pairwise_ssim(X, max_pairs=500, random_state=0) < 0.7)
    True
    """
    caller = "pairwise_ssim"
    batch = _check_slices(images, caller=caller, name="images", min_slices=2)
    if max_pairs is not None:
        if isinstance(max_pairs, bool) or not isinstance(max_pairs, numbers.Integral):
            raise TypeError(
                f"{caller} expected max_pairs to be an int or None; got "
                f"{type(max_pairs).__name__}."
            )
        if max_pairs < 1:
            raise ValueError(f"{caller} expected max_pairs >= 1; got {max_pairs}.")
    return _pairwise(batch, max_pairs, random_state)


# --- two-sample classifier test -------------------------------------------------


def _downsampled(images: np.ndarray, max_side: int) -> np.ndarray:
    """(n, height, width, 1) images whose longer side is at most max_side."""
    height, width = images.shape[1:]
    scale = min(1.0, max_side / max(height, width))
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    batch = images[..., np.newaxis]
    return batch if scale == 1.0 else resize_images(batch, size)


def _linear_features(images: np.ndarray) -> np.ndarray:
    pixels = resize_images(images[..., np.newaxis], _LINEAR_SIDE).reshape(
        len(images), -1
    )
    found = _foreground_and_mask(images, "li")
    stats = _stack(_shape_statistics(images, found))
    energy = _detail_energy(images, found[1])
    return np.column_stack([pixels, stats, energy])


def level_error(
    images: object,
    positions: object,
    train_images: object,
    train_positions: object,
) -> float:
    """Mean error of the slice position read from each slice.

    A ridge regression from a slice's pixels (resized to 16 x 16 and replaced by
    their ranks within the slice, so that it reads the layout and not the
    brightness) to its position in the volume is fitted on real training slices;
    it reads the level of each of ``images``, and the mean absolute difference
    from ``positions`` is returned. For samples drawn at given positions,
    compare it with the same figure for real held-out slices at theirs (how well
    levels can be read at all) and with what ignoring the image gives,
    ``mean(|positions - mean(train_positions)|)``: a sample of the wrong level
    reads far from its position.

    Parameters
    ----------
    images : array-like of shape (n, height, width[, 1])
        Slices, floats in [0, 1] or uint8.
    positions : array-like of shape (n,)
        The position of each slice, 0 for the lowest slice kept from a volume and
        1 for the highest (for samples: the positions they were drawn at).
    train_images : array-like of shape (n_train, height, width[, 1])
        Real slices, at least 2, of the size of ``images``.
    train_positions : array-like of shape (n_train,)
        Their positions.

    Returns
    -------
    error : float
        Mean absolute error, in units of the volume's height (0 to 1).

    Raises
    ------
    ValueError
        If the slices are not batches of images in [0, 1] of one size, or the
        positions are not one number in [0, 1] per slice.

    Examples
    --------
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.metrics import level_error
    >>> train, train_levels = load_sample("train", image_size=32, return_positions=True)
    >>> test, test_levels = load_sample("test", image_size=32, return_positions=True)
    >>> error = level_error(test, test_levels, train, train_levels)
    >>> bool(error < 0.2)
    True
    >>> bool(level_error(test, 1 - test_levels, train, train_levels) > 2 * error)
    True
    """
    caller = "level_error"
    batch = _check_slices(images, caller=caller, name="images")
    train = _check_slices(
        train_images, caller=caller, name="train_images", min_slices=2
    )
    _check_same_size(batch, train, caller=caller, names=("images", "train_images"))
    levels = check_slice_positions(
        positions, n_slices=len(batch), caller=f"{caller} (positions)"
    )
    train_levels = check_slice_positions(
        train_positions, n_slices=len(train), caller=f"{caller} (train_positions)"
    )

    def pixels(slices: np.ndarray) -> np.ndarray:
        small = resize_images(slices[..., np.newaxis], _LINEAR_SIDE)
        # ranks within each slice: the layout, whatever the brightness
        return rankdata(small.reshape(len(slices), -1), axis=1) / small[0].size

    reader = make_pipeline(StandardScaler(), Ridge(alpha=_LEVEL_ALPHA))
    reader.fit(pixels(train), train_levels)
    read = np.clip(reader.predict(pixels(batch)), 0.0, 1.0)
    return float(np.mean(np.abs(read - levels)))


class _TwoSampleCNN:
    """A small Keras CNN, trained afresh on each fold.

    One model and one optimizer serve every fold: their variables are reset from
    the fold's seed, so the traced training step is reused and no global random
    state (Python's, NumPy's, TensorFlow's) is touched.
    """

    def __init__(self, input_shape: tuple[int, ...]) -> None:
        import keras

        from oasisgen.nn.optimizers import FusedAdam

        conv = {"kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"}
        self.model = keras.Sequential(
            [
                keras.Input(shape=input_shape),
                keras.layers.Conv2D(8, **conv),
                keras.layers.Conv2D(16, **conv),
                keras.layers.Conv2D(16, **conv),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        self.optimizer = FusedAdam(_CNN_LEARNING_RATE)
        self.optimizer.build(self.model.trainable_variables)
        self.loss = keras.losses.BinaryCrossentropy()
        self._step = tf.function(
            self._train_step,
            input_signature=[
                tf.TensorSpec((None, *input_shape), tf.float32),
                tf.TensorSpec((None,), tf.float32),
            ],
        )

    def _train_step(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            loss = self.loss(y, self.model(x, training=True)[:, 0])
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    def reset(self, seed: int) -> None:
        """Draw new initial weights from ``seed`` and clear the optimizer's state."""
        import keras

        from oasisgen.nn.seeds import LayerSeeds

        seeds = LayerSeeds(seed)
        for layer in self.model.layers:
            if getattr(layer, "kernel", None) is not None:
                initializer = keras.initializers.GlorotUniform(seed=seeds())
                layer.kernel.assign(initializer(layer.kernel.shape))
                layer.bias.assign(np.zeros(layer.bias.shape, dtype=np.float32))
        for variable in self.optimizer.variables:
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
        self.optimizer.learning_rate.assign(_CNN_LEARNING_RATE)

    def fit(self, x: np.ndarray, y: np.ndarray, seed: int) -> None:
        """Train ``_CNN_EPOCHS`` epochs of shuffled mini-batches."""
        rng = np.random.default_rng(seed)
        targets = y.astype(np.float32)
        for _ in range(_CNN_EPOCHS):
            order = rng.permutation(len(x))
            for start in range(0, len(x), _CNN_BATCH_SIZE):
                rows = order[start : start + _CNN_BATCH_SIZE]
                self._step(x[rows], targets[rows])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Return the probability of class 1 for each image."""
        return self.model(x, training=False).numpy()[:, 0]


def _cnn_accuracies(
    images: np.ndarray, labels: np.ndarray, folds: Iterator, seed: int
) -> list[float]:
    # centred inputs, at most _CNN_MAX_SIDE pixels a side
    batch = _downsampled(images, _CNN_MAX_SIDE) - np.float32(0.5)
    network = _TwoSampleCNN(batch.shape[1:])
    accuracies = []
    for fold, (train, test) in enumerate(folds):
        network.reset(seed + fold)
        network.fit(batch[train], labels[train], seed + fold)
        predicted = network.predict(batch[test]) >= 0.5
        accuracies.append(float(np.mean(predicted == labels[test])))
    return accuracies


def _linear_accuracies(
    images: np.ndarray, labels: np.ndarray, folds: Iterator
) -> list[float]:
    features = _linear_features(images)
    accuracies = []
    for train, test in folds:
        model = make_pipeline(
            StandardScaler(), LogisticRegression(C=_LINEAR_C, max_iter=2000)
        )
        model.fit(features[train], labels[train])
        accuracies.append(float(model.score(features[test], labels[test])))
    return accuracies


def _two_sample(
    first: np.ndarray,
    second: np.ndarray,
    *,
    classifier: str,
    n_splits: int,
    seed: int,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n_per_class = min(len(first), len(second))
    first = first[np.sort(rng.choice(len(first), n_per_class, replace=False))]
    second = second[np.sort(rng.choice(len(second), n_per_class, replace=False))]
    images = np.concatenate([first, second])
    labels = np.repeat([0, 1], n_per_class)
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(
        images, labels
    )
    if classifier == "cnn":
        accuracies = _cnn_accuracies(images, labels, folds, seed)
    else:
        accuracies = _linear_accuracies(images, labels, folds)
    return {
        "accuracy": float(np.mean(accuracies)),
        "accuracy_std": float(np.std(accuracies)),
        "fold_accuracies": accuracies,
        "n_per_class": int(n_per_class),
    }


def _check_enough(batch: np.ndarray, n_splits: int, *, caller: str, name: str) -> None:
    if len(batch) < n_splits:
        raise ValueError(
            f"{caller} needs at least n_splits={n_splits} slices per class; got "
            f"{len(batch)} in {name}. Pass more slices or lower n_splits."
        )


def two_sample_test(
    first: object,
    second: object,
    *,
    classifier: Literal["cnn", "linear"] = "cnn",
    n_splits: int = 5,
    random_state: object = 0,
) -> dict[str, Any]:
    """Classifier two-sample test: how well a classifier tells two sets apart.

    The larger set is subsampled at random to the size of the smaller; a
    classifier is trained to tell them apart and scored by stratified k-fold
    cross-validation with shuffled folds (neighbouring slices of a volume are
    near-duplicates, so the folds must not follow the row order). An accuracy of
    0.5 means the two sets are indistinguishable to that classifier; 1 means
    perfectly separable.

    Parameters
    ----------
    first, second : array-like of shape (n, height, width) or (n, height, width, 1)
        The two sets, such as generated samples and real held-out slices, of the
        same image size. Floats in [0, 1] or uint8.
    classifier : {"cnn", "linear"}, default="cnn"
        ``"cnn"``: a small Keras CNN (three 3x3 convolutions of 8, 16 and 16
        filters with stride 2, global average pooling, a sigmoid unit) on the
        slices downsampled to at most 64 pixels a side, trained 30 epochs with
        Adam. ``"linear"``: a logistic regression (``C=0.1``) on standardised
        fixed features: the slice downsampled to 16x16, its
        :func:`shape_statistics` and its :func:`detail_energy`. The linear one is
        quicker; the CNN sees more.
    n_splits : int, default=5
        Number of folds, at least 2; each set needs at least this many slices.
    random_state : int, RandomState instance or None, default=0
        Seeds the subsampling, the folds and the CNN's initial weights and
        batches. No global random state is used or changed.

    Returns
    -------
    result : dict
        ``"accuracy"`` (float)
            Mean accuracy over the folds.
        ``"accuracy_std"`` (float)
            Standard deviation of the fold accuracies.
        ``"fold_accuracies"`` (list of float)
            Accuracy on each fold.
        ``"n_per_class"`` (int)
            Slices of each set used.

    Raises
    ------
    ValueError
        If a set is not a batch of slices, holds NaN, inf or values outside [0, 1],
        the sets differ in image size, a set has fewer slices than ``n_splits``,
        ``n_splits < 2`` or ``classifier`` is unknown.
    TypeError
        If a set is not numeric or ``n_splits`` is not an int.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.metrics import two_sample_test
    >>> real = load_sample("train", image_size=32)
    >>> noise = np.random.default_rng(0).random((40, 32, 32))
    >>> result = two_sample_test(real, noise, classifier="linear")
    >>> result["accuracy"], result["n_per_class"]
    (1.0, 40)
    """
    caller = "two_sample_test"
    kind = _check_classifier(classifier, caller=caller)
    n_splits = _check_n_splits(n_splits, caller=caller)
    one = _check_slices(first, caller=caller, name="first")
    two = _check_slices(second, caller=caller, name="second")
    _check_same_size(one, two, caller=caller, names=("first", "second"))
    _check_enough(one, n_splits, caller=caller, name="first")
    _check_enough(two, n_splits, caller=caller, name="second")
    return _two_sample(
        one, two, classifier=kind, n_splits=n_splits, seed=_seed(random_state)
    )


# --- everything together --------------------------------------------------------


def _in_range(values: np.ndarray, low: float, high: float) -> float:
    return float(np.mean((values >= low) & (values <= high)))


def sample_quality(
    samples: object,
    heldout: object,
    train: object,
    *,
    heldout_groups: object = None,
    train_groups: object = None,
    classifier: Literal["cnn", "linear"] = "cnn",
    n_splits: int = 5,
    random_state: object = 0,
    reconstructions: object = None,
    real_top_samples: object = None,
) -> dict[str, Any]:
    """Every sample-quality figure, for generated slices and for real ones.

    Each figure of the samples comes with the same figure for real held-out slices
    (of subjects the generator never saw), so the samples are judged against what
    real data reaches rather than against an absolute scale.

    Parameters
    ----------
    samples : array-like of shape (n_samples, height, width) or \
(n_samples, height, width, 1)
        Generated slices. Floats in [0, 1] or uint8.
    heldout : array-like of shape (n_real, height, width) or \
(n_real, height, width, 1)
        Real slices not used for training, the same size as ``samples``.
    train : array-like of shape (n_train, height, width) or \
(n_train, height, width, 1)
        The training slices, the same size as ``samples``; the slices of each
        volume on consecutive rows in slice order when ``train_groups`` is given.
    heldout_groups : array-like of shape (n_real,), optional
        The volume of each held-out slice. Sets the copy threshold when
        ``train_groups`` is not given.
    train_groups : array-like of shape (n_train,), optional
        The volume of each training slice; sets the copy threshold (the median
        :func:`neighbour_ssim` of the training volumes).
    classifier : {"cnn", "linear"}, default="cnn"
        Classifier of the two-sample tests, see :func:`two_sample_test`.
    n_splits : int, default=5
        Folds of the two-sample tests.
    random_state : int, RandomState instance or None, default=0
        Seeds the two-sample tests and the draws of slices and pairs.
    reconstructions : array-like of shape (n_real, height, width[, 1]), optional
        The held-out slices as the generator's autoencoder reconstructs them.
        Samples are decoded by the same decoder, so its reconstructions bound
        what any prior over its codes can reach: with them, their two-sample,
        shape and detail figures are reported too.
    real_top_samples : array-like of shape (n_real, height, width[, 1]), optional
        The held-out slices' own top codes, decoded with bottom codes the
        bottom prior drew for them: samples whose layout is real. With them the
        same figures are reported, so a shortfall of the samples can be laid at
        the top prior's door (the layout: shapes, levels) or the bottom prior's
        (the texture: detail, brightness).

    Returns
    -------
    quality : dict
        Plain floats, ints, lists and None, ready for :func:`json.dump`. "Real"
        means the held-out slices unless said otherwise.

        ``"n_samples"``, ``"n_real"``, ``"n_train"`` (int)
            Slices in each batch.
        ``"two_sample_accuracy"``, ``"two_sample_accuracy_std"`` (float)
            :func:`two_sample_test` of samples against real: mean and standard
            deviation of the fold accuracies. 0.5 is ideal.
        ``"two_sample_accuracy_real"``, ``"two_sample_accuracy_real_std"`` (float)
            The same for ``n_samples`` training slices drawn at random (all of
            them if there are fewer) against real: what real data reaches.
        ``"two_sample_n_per_class"`` (int)
            Slices per class in the test of the samples.
        ``"two_sample_accuracy_reconstructed"`` (float or None)
            The same test of the reconstructions against real, the ceiling of
            any prior over the autoencoder's codes (a classifier may tell the
            decoder's output from real slices by something no prior changes);
            None without ``reconstructions``.
        ``"shape_plausibility"``, ``"shape_plausibility_real"`` (float)
            :func:`shape_plausibility` of the samples and of the real slices, both
            with the training slices as reference and the default margin; the
            second is the ceiling.
        ``"detail_energy_median"``, ``"detail_energy_median_real"`` (float)
            Median :func:`detail_energy` of the samples and of the real slices.
        ``"detail_energy_real_q25"``, ``"detail_energy_real_q75"`` (float)
            Quartiles of the real slices' detail energy.
        ``"detail_energy_in_real_iqr"`` (float)
            Fraction of samples whose detail energy lies within these quartiles
            (0.5 for samples distributed like real slices).
        ``"head_intensity_median"``, ``"head_intensity_median_real"`` (float)
            Median :func:`head_intensity` of the samples and of the real slices:
            how bright the inside of the head is.
        ``"head_intensity_in_real_iqr"`` (float)
            Fraction of samples whose head intensity lies within the real slices'
            quartiles (0.5 for samples distributed like real slices).
        ``"shape_plausibility_reconstructed"``, \
``"detail_energy_median_reconstructed"``, \
``"detail_energy_in_real_iqr_reconstructed"``, \
``"head_intensity_in_real_iqr_reconstructed"`` (float or None)
            The same figures for the ``reconstructions``: the ceiling of a prior
            over the autoencoder's codes. None without ``reconstructions``.
        ``"two_sample_accuracy_given_real_top"``, \
``"shape_plausibility_given_real_top"``, \
``"detail_energy_median_given_real_top"``, \
``"detail_energy_in_real_iqr_given_real_top"``, \
``"head_intensity_in_real_iqr_given_real_top"`` (float or None)
            The same figures for the ``real_top_samples``: what the bottom prior
            draws over a real layout. None without ``real_top_samples``.
        ``"nearest_ssim_median"``, ``"nearest_ssim_p95"`` (float)
            Median and 95th percentile of the samples' :func:`nearest_ssim`
            against the training slices.
        ``"nearest_ssim_median_real"``, ``"nearest_ssim_p95_real"`` (float)
            The same for the real slices against the training slices.
        ``"nearest_index"`` (list of int)
            Row of ``train`` nearest to each sample, to show them side by side.
        ``"copy_threshold"`` (float or None)
            Median :func:`neighbour_ssim` of the training volumes (of the held-out
            volumes without ``train_groups``); None without either groups.
        ``"copy_rate"``, ``"copy_rate_real"`` (float or None)
            Fraction of samples, and of real slices, whose nearest SSIM to a
            training slice reaches the copy threshold (see :func:`copy_rate`);
            None without a threshold.
        ``"pairwise_ssim"``, ``"pairwise_ssim_real"`` (float)
            :func:`pairwise_ssim` of the samples and of the real slices over at
            most 2000 random pairs; lower is more diverse.

    Raises
    ------
    ValueError
        If a batch is not a batch of slices, holds NaN, inf or values outside
        [0, 1], the batches differ in image size, samples or real slices number
        fewer than ``n_splits``, groups do not hold one label per slice or a
        group's slices are not consecutive, or ``classifier`` or ``n_splits`` is
        invalid.
    TypeError
        If a batch is not numeric or ``n_splits`` is not an int.

    See Also
    --------
    two_sample_test, shape_plausibility, detail_energy, nearest_ssim, copy_rate,
    pairwise_ssim : The figures, one by one.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.metrics import sample_quality
    >>> train, subjects = load_sample("train", 32, return_subjects=True)
    >>> heldout = load_sample("test", 32)
    >>> samples = np.random.default_rng(0).random((16, 32, 32))  # a poor generator
    >>> quality = sample_quality(
    ...     samples, heldout, train, train_groups=subjects, classifier="linear"
    ... )
    >>> quality["two_sample_accuracy"], quality["copy_rate"]
    (1.0, 0.0)
    >>> quality["shape_plausibility"], quality["shape_plausibility_real"] >= 0.6
    (0.0, True)
    """
    caller = "sample_quality"
    kind = _check_classifier(classifier, caller=caller)
    n_splits = _check_n_splits(n_splits, caller=caller)
    fake = _check_slices(samples, caller=caller, name="samples")
    real = _check_slices(heldout, caller=caller, name="heldout")
    seen = _check_slices(train, caller=caller, name="train")
    _check_same_size(fake, real, caller=caller, names=("samples", "heldout"))
    _check_same_size(fake, seen, caller=caller, names=("samples", "train"))
    _check_enough(fake, n_splits, caller=caller, name="samples")
    _check_enough(real, n_splits, caller=caller, name="heldout")
    _check_enough(seen, n_splits, caller=caller, name="train")
    given = {"reconstructions": reconstructions, "real_top_samples": real_top_samples}
    stand_ins = {}  # images in place of the held-out slices, by suffix
    for suffix, name in _STAND_INS:
        images = given[name]
        if images is None:
            continue
        stand_ins[suffix] = _check_slices(images, caller=caller, name=name)
        if stand_ins[suffix].shape != real.shape:
            raise ValueError(
                f"{caller} expected {name} of the held-out slices, one per slice "
                f"of their shape {real.shape}; got shape {stand_ins[suffix].shape}."
            )
    heldout_labels = train_labels = None
    if heldout_groups is not None:
        heldout_labels = _check_groups(
            heldout_groups,
            len(real),
            caller=caller,
            name="heldout_groups",
            images_name="heldout",
        )
    if train_groups is not None:
        train_labels = _check_groups(
            train_groups,
            len(seen),
            caller=caller,
            name="train_groups",
            images_name="train",
        )
    rng = check_random_state(random_state)
    seeds = [int(s) for s in rng.randint(np.iinfo(np.int32).max, size=4)]

    test = _two_sample(fake, real, classifier=kind, n_splits=n_splits, seed=seeds[0])
    subset = rng.choice(len(seen), min(len(seen), len(fake)), replace=False)
    test_real = _two_sample(
        seen[np.sort(subset)], real, classifier=kind, n_splits=n_splits, seed=seeds[1]
    )

    train_stats = _shape_statistics(seen)
    found = _foreground_and_mask(fake, "li")
    found_real = _foreground_and_mask(real, "li")
    energy = _detail_energy(fake, found[1])
    energy_real = _detail_energy(real, found_real[1])
    q25, q75 = np.percentile(energy_real, [25, 75])
    intensity = _head_intensity(fake, found[1])
    intensity_real = _head_intensity(real, found_real[1])
    bright25, bright75 = np.percentile(intensity_real, [25, 75])

    nearest, index = _nearest(np.concatenate([fake, real]), seen)
    nearest_fake, nearest_real = nearest[: len(fake)], nearest[len(fake) :]
    if train_labels is not None:
        threshold = _copy_threshold(seen, train_labels, caller=caller)
    elif heldout_labels is not None:
        threshold = _copy_threshold(real, heldout_labels, caller=caller)
    else:
        threshold = None

    def rate(values: np.ndarray) -> float | None:
        return None if threshold is None else float(np.mean(values >= threshold))

    stand_in_figures: dict[str, float | None] = {}
    for suffix, _ in _STAND_INS:
        images = stand_ins.get(suffix)
        figures = dict.fromkeys(_STAND_IN_FIGURES)
        if images is not None:
            found_images = _foreground_and_mask(images, "li")
            energy_images = _detail_energy(images, found_images[1])
            stats = _shape_statistics(images, found_images)
            figures = {
                "two_sample_accuracy": _two_sample(
                    images, real, classifier=kind, n_splits=n_splits, seed=seeds[0]
                )["accuracy"],
                "shape_plausibility": float(_plausible(stats, train_stats).mean()),
                "detail_energy_median": float(np.median(energy_images)),
                "detail_energy_in_real_iqr": _in_range(energy_images, q25, q75),
                "head_intensity_in_real_iqr": _in_range(
                    _head_intensity(images, found_images[1]), bright25, bright75
                ),
            }
        stand_in_figures.update({f"{k}_{suffix}": v for k, v in figures.items()})

    return {
        "n_samples": len(fake),
        "n_real": len(real),
        "n_train": len(seen),
        "two_sample_accuracy": test["accuracy"],
        "two_sample_accuracy_std": test["accuracy_std"],
        "two_sample_accuracy_real": test_real["accuracy"],
        "two_sample_accuracy_real_std": test_real["accuracy_std"],
        "two_sample_n_per_class": test["n_per_class"],
        "shape_plausibility": float(
            _plausible(_shape_statistics(fake, found), train_stats).mean()
        ),
        "shape_plausibility_real": float(
            _plausible(_shape_statistics(real, found_real), train_stats).mean()
        ),
        "detail_energy_median": float(np.median(energy)),
        "detail_energy_median_real": float(np.median(energy_real)),
        "detail_energy_real_q25": float(q25),
        "detail_energy_real_q75": float(q75),
        "detail_energy_in_real_iqr": _in_range(energy, q25, q75),
        "head_intensity_median": float(np.median(intensity)),
        "head_intensity_median_real": float(np.median(intensity_real)),
        "head_intensity_in_real_iqr": _in_range(intensity, bright25, bright75),
        "nearest_ssim_median": float(np.median(nearest_fake)),
        "nearest_ssim_p95": float(np.percentile(nearest_fake, 95)),
        "nearest_ssim_median_real": float(np.median(nearest_real)),
        "nearest_ssim_p95_real": float(np.percentile(nearest_real, 95)),
        "nearest_index": [int(i) for i in index[: len(fake)]],
        "copy_threshold": threshold,
        "copy_rate": rate(nearest_fake),
        "copy_rate_real": rate(nearest_real),
        "pairwise_ssim": _pairwise(fake, _QUALITY_MAX_PAIRS, seeds[2]),
        "pairwise_ssim_real": _pairwise(real, _QUALITY_MAX_PAIRS, seeds[3]),
        **stand_in_figures,
    }
