"""Image quality and code statistics: SSIM, PSNR, perplexity, bits per code.

The image metrics compare two batches of grayscale images pair by pair and return the
mean over the batch or one value per pair. They run in batches of
``_BATCH_SIZE`` images, so memory stays bounded for tens of thousands of slices.
The code metrics describe how a VQ-VAE uses its codebook.
"""

from __future__ import annotations

import math
import numbers
from typing import Literal

import numpy as np
import tensorflow as tf

from oasisgen.datasets.validation import (
    check_code_values,
    check_finite,
    check_real_dtype,
)

__all__ = ["bits_per_code", "codebook_usage", "perplexity", "psnr", "ssim"]

# images per tf.image.ssim call: 64 images of 256x256 need a few tens of MB
_BATCH_SIZE = 64
SSIM_FILTER_SIZE = 11
SSIM_FILTER_SIGMA = 1.5
_REDUCTIONS = ("mean", "none")
_PAIR_SHAPE_TEXT = (
    "(height, width), (n_samples, height, width) or (n_samples, height, width, 1)"
)


def _as_image_batch(images: object, *, caller: str, name: str) -> np.ndarray:
    """Return images as a float array of shape (n_samples, height, width)."""
    array = np.asarray(images)
    check_real_dtype(array, caller=caller, expected="uint8 or float", name=name)
    if array.ndim == 2:
        array = array[np.newaxis]
    elif array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    elif array.ndim != 3:
        raise ValueError(
            f"{caller} expected {name} of shape {_PAIR_SHAPE_TEXT}; got an array of "
            f"shape {np.shape(images)}."
        )
    if array.size == 0:
        raise ValueError(
            f"{caller} expected at least one non-empty image in {name}; got an array "
            f"of shape {np.shape(images)}."
        )
    return array


def _check_finite(array: np.ndarray, *, caller: str, name: str) -> None:
    """Raise ValueError if a float array holds NaN or inf."""
    if np.issubdtype(array.dtype, np.floating):
        check_finite(array, caller=caller, expected="finite values", name=name)


def _check_pair(
    images_true: object,
    images_pred: object,
    *,
    caller: str,
    data_range: float,
    reduction: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate the arguments shared by the image metrics; return two 3D arrays."""
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"{caller} expected reduction to be one of {_REDUCTIONS}; "
            f"got {reduction!r}."
        )
    if isinstance(data_range, bool) or not isinstance(data_range, numbers.Real):
        raise TypeError(
            f"{caller} expected data_range to be a real number; "
            f"got {type(data_range).__name__}."
        )
    if not (math.isfinite(data_range) and data_range > 0):
        raise ValueError(
            f"{caller} expected data_range > 0 (the span of possible pixel values, "
            f"1.0 for images in [0, 1], 255 for uint8); got {data_range!r}."
        )
    if np.shape(images_true) != np.shape(images_pred):
        raise ValueError(
            f"{caller} expected images_true and images_pred of the same shape; got "
            f"{np.shape(images_true)} and {np.shape(images_pred)}."
        )
    true = _as_image_batch(images_true, caller=caller, name="images_true")
    pred = _as_image_batch(images_pred, caller=caller, name="images_pred")
    _check_finite(true, caller=caller, name="images_true")
    _check_finite(pred, caller=caller, name="images_pred")
    return true, pred


def _reduce(values: np.ndarray, reduction: str) -> float | np.ndarray:
    """Return the mean as a Python float, or the per-image values."""
    return float(np.mean(values)) if reduction == "mean" else values


def _ssim_batch(
    true: np.ndarray, pred: np.ndarray, data_range: float, filter_size: int
) -> np.ndarray:
    """SSIM of each pair in one batch of shape (batch, height, width)."""
    values = tf.image.ssim(
        tf.convert_to_tensor(true[..., np.newaxis], dtype=tf.float32),
        tf.convert_to_tensor(pred[..., np.newaxis], dtype=tf.float32),
        max_val=data_range,
        filter_size=filter_size,
        filter_sigma=SSIM_FILTER_SIGMA,
    )
    return values.numpy().astype(np.float64)


def ssim(
    images_true: object,
    images_pred: object,
    *,
    data_range: float = 1.0,
    reduction: Literal["mean", "none"] = "mean",
) -> float | np.ndarray:
    """Structural similarity of pairs of grayscale images.

    SSIM (Wang et al. 2004) with an 11x11 Gaussian window of standard deviation 1.5,
    computed by :func:`tf.image.ssim` and averaged over the positions where the
    window fits inside the image. It matches
    ``skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=data_range)`` to about 1e-4. For images
    smaller than 11 pixels, the window shrinks to ``min(11, height, width)`` pixels
    (same standard deviation).

    Parameters
    ----------
    images_true : array-like of shape (n_samples, height, width) or \
(n_samples, height, width, 1)
        Reference images. A single 2D image of shape (height, width) is also
        accepted; a 3D array is always read as a batch.
    images_pred : array-like of the same shape as ``images_true``
        Images to compare with the references.
    data_range : float, default=1.0
        Span of the possible pixel values: 1.0 for images in [0, 1], 255 for uint8.
        Values are used as given, not rescaled.
    reduction : {"mean", "none"}, default="mean"
        ``"mean"`` returns the mean over the images; ``"none"`` returns one value per
        image pair.

    Returns
    -------
    ssim : float or ndarray of shape (n_samples,)
        Values in [-1, 1]; 1 for identical images. A single 2D pair gives an array of
        shape (1,) with ``reduction="none"``.

    Raises
    ------
    ValueError
        If the shapes differ or are not image shapes, values are NaN or inf,
        ``data_range`` is not positive, or ``reduction`` is unknown.
    TypeError
        If the images are not numeric or ``data_range`` is not a number.

    See Also
    --------
    psnr : Peak signal-to-noise ratio.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.metrics import ssim
    >>> rng = np.random.default_rng(0)
    >>> images = rng.random((4, 32, 32))
    >>> round(ssim(images, images), 4)
    1.0
    >>> noisy = np.clip(images + rng.normal(0, 0.1, images.shape), 0, 1)
    >>> np.round(ssim(images, noisy, reduction="none"), 2)
    array([0.95, 0.95, 0.94, 0.94])
    """
    true, pred = _check_pair(
        images_true,
        images_pred,
        caller="ssim",
        data_range=data_range,
        reduction=reduction,
    )
    filter_size = min(SSIM_FILTER_SIZE, true.shape[1], true.shape[2])
    values = np.concatenate(
        [
            _ssim_batch(
                true[start : start + _BATCH_SIZE],
                pred[start : start + _BATCH_SIZE],
                float(data_range),
                filter_size,
            )
            for start in range(0, len(true), _BATCH_SIZE)
        ]
    )
    return _reduce(values, reduction)


def psnr(
    images_true: object,
    images_pred: object,
    *,
    data_range: float = 1.0,
    reduction: Literal["mean", "none"] = "mean",
) -> float | np.ndarray:
    """Peak signal-to-noise ratio of pairs of grayscale images, in decibels.

    For each pair, ``10 * log10(data_range**2 / mse)`` where ``mse`` is the mean
    squared difference over the pixels, as in
    ``skimage.metrics.peak_signal_noise_ratio``. Identical images have ``mse = 0``
    and a PSNR of ``inf`` (without a warning); the mean over a batch that holds an
    identical pair is therefore ``inf`` too. Use ``reduction="none"`` and
    ``np.isfinite`` to leave such pairs out.

    Parameters
    ----------
    images_true : array-like of shape (n_samples, height, width) or \
(n_samples, height, width, 1)
        Reference images. A single 2D image of shape (height, width) is also
        accepted; a 3D array is always read as a batch.
    images_pred : array-like of the same shape as ``images_true``
        Images to compare with the references.
    data_range : float, default=1.0
        Span of the possible pixel values: 1.0 for images in [0, 1], 255 for uint8.
    reduction : {"mean", "none"}, default="mean"
        ``"mean"`` returns the mean of the per-image PSNRs; ``"none"`` returns one
        value per image pair.

    Returns
    -------
    psnr : float or ndarray of shape (n_samples,)
        PSNR in dB; ``inf`` for identical images.

    Raises
    ------
    ValueError
        If the shapes differ or are not image shapes, values are NaN or inf,
        ``data_range`` is not positive, or ``reduction`` is unknown.
    TypeError
        If the images are not numeric or ``data_range`` is not a number.

    See Also
    --------
    ssim : Structural similarity.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.metrics import psnr
    >>> images = np.zeros((2, 8, 8))
    >>> round(psnr(images, images + 0.1), 2)
    20.0
    >>> psnr(images, images)
    inf
    """
    true, pred = _check_pair(
        images_true,
        images_pred,
        caller="psnr",
        data_range=data_range,
        reduction=reduction,
    )
    mse = np.concatenate(
        [
            np.mean(
                np.square(
                    true[start : start + _BATCH_SIZE].astype(np.float64)
                    - pred[start : start + _BATCH_SIZE].astype(np.float64)
                ),
                axis=(1, 2),
            )
            for start in range(0, len(true), _BATCH_SIZE)
        ]
    )
    with np.errstate(divide="ignore"):
        values = 10.0 * np.log10(float(data_range) ** 2 / mse)
    return _reduce(values, reduction)


def _check_codes(codes: object, num_embeddings: int, *, caller: str) -> np.ndarray:
    """Validate codes and the codebook size; return the codes as a flat int array."""
    if isinstance(num_embeddings, bool) or not isinstance(
        num_embeddings, numbers.Integral
    ):
        raise TypeError(
            f"{caller} expected num_embeddings to be an int; "
            f"got {type(num_embeddings).__name__}."
        )
    if num_embeddings < 1:
        raise ValueError(
            f"{caller} expected num_embeddings >= 1; got {num_embeddings}."
        )
    checked = check_code_values(codes, caller=caller, num_embeddings=num_embeddings)
    return checked.ravel().astype(np.int64, copy=False)


def _code_counts(codes: object, num_embeddings: int, *, caller: str) -> np.ndarray:
    """Histogram of codes, an int array of shape (num_embeddings,)."""
    flat = _check_codes(codes, num_embeddings, caller=caller)
    return np.bincount(flat, minlength=int(num_embeddings))


def perplexity(codes: object, num_embeddings: int) -> float:
    """Perplexity of the empirical code distribution: exp of its entropy.

    The effective number of codes in use: ``k`` when ``k`` codes are used equally
    often, 1 when a single code takes everything, at most ``num_embeddings``.

    Parameters
    ----------
    codes : array-like of int, any shape
        Code indices, such as the output of ``VQVAE2Estimator.encode``.
    num_embeddings : int
        Size of the codebook.

    Returns
    -------
    perplexity : float
        A value in [1, num_embeddings].

    Raises
    ------
    ValueError
        If there are no codes, a code is outside ``[0, num_embeddings)`` or
        ``num_embeddings < 1``.
    TypeError
        If the codes are not integers or ``num_embeddings`` is not an int.

    See Also
    --------
    codebook_usage : Fraction of the codebook used at least once.

    Examples
    --------
    >>> from oasisgen.metrics import perplexity
    >>> round(perplexity([0, 1, 2, 3], num_embeddings=8), 4)
    4.0
    >>> round(perplexity([[5, 5], [5, 5]], num_embeddings=8), 4)
    1.0
    """
    counts = _code_counts(codes, num_embeddings, caller="perplexity")
    probs = counts[counts > 0] / counts.sum()
    entropy = -float(np.sum(probs * np.log(probs)))
    return math.exp(entropy)


def codebook_usage(codes: object, num_embeddings: int) -> float:
    """Fraction of the codebook used at least once.

    Parameters
    ----------
    codes : array-like of int, any shape
        Code indices, such as the output of ``VQVAE2Estimator.encode``.
    num_embeddings : int
        Size of the codebook.

    Returns
    -------
    usage : float
        Number of distinct codes divided by ``num_embeddings``, in (0, 1].

    Raises
    ------
    ValueError
        If there are no codes, a code is outside ``[0, num_embeddings)`` or
        ``num_embeddings < 1``.
    TypeError
        If the codes are not integers or ``num_embeddings`` is not an int.

    See Also
    --------
    perplexity : Effective number of codes in use.

    Examples
    --------
    >>> from oasisgen.metrics import codebook_usage
    >>> codebook_usage([0, 1, 1, 3], num_embeddings=8)
    0.375
    """
    counts = _code_counts(codes, num_embeddings, caller="codebook_usage")
    return float(np.count_nonzero(counts)) / int(num_embeddings)


def bits_per_code(log_likelihood: float, n_codes: int) -> float:
    """Convert a total log-likelihood (natural log) to bits per code.

    ``-log_likelihood / (n_codes * ln 2)``: the average number of bits a prior needs
    to encode one code. A uniform prior over ``K`` codes gives ``log2(K)`` bits.

    Parameters
    ----------
    log_likelihood : float
        Sum of the natural-log probabilities of all the codes, so ``<= 0``.
    n_codes : int
        Number of codes the sum runs over, such as
        ``n_samples * code_height * code_width``.

    Returns
    -------
    bits : float
        Bits per code, ``>= 0``.

    Raises
    ------
    ValueError
        If ``log_likelihood`` is positive or not finite, or ``n_codes < 1``.
    TypeError
        If ``n_codes`` is not an int or ``log_likelihood`` is not a number.

    Examples
    --------
    >>> import math
    >>> from oasisgen.metrics import bits_per_code
    >>> round(bits_per_code(100 * math.log(1 / 512), n_codes=100), 4)
    9.0
    """
    if isinstance(n_codes, bool) or not isinstance(n_codes, numbers.Integral):
        raise TypeError(
            f"bits_per_code expected n_codes to be an int; "
            f"got {type(n_codes).__name__}."
        )
    if n_codes < 1:
        raise ValueError(f"bits_per_code expected n_codes >= 1; got {n_codes}.")
    if isinstance(log_likelihood, bool) or not isinstance(log_likelihood, numbers.Real):
        raise TypeError(
            "bits_per_code expected log_likelihood to be a real number; "
            f"got {type(log_likelihood).__name__}."
        )
    if not math.isfinite(log_likelihood) or log_likelihood > 0:
        raise ValueError(
            "bits_per_code expected a finite log-likelihood <= 0 (natural log); got "
            f"{log_likelihood!r}. If you have a negative log-likelihood (a loss), "
            "pass its negation."
        )
    return -float(log_likelihood) / (int(n_codes) * math.log(2.0))
