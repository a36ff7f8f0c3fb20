"""scikit-learn transformers for batches of grayscale images.

The transformers take images of shape (n_samples, height, width) or
(n_samples, height, width, 1) and return float32 images, so they can sit in a
:class:`sklearn.pipeline.Pipeline` in front of :class:`oasisgen.VQVAE2Estimator` and
be tuned with :class:`sklearn.model_selection.GridSearchCV`. :class:`IntensityScaler`
and :class:`Resize` always return shape (n_samples, height, width, 1). A typical
chain scales raw scanner intensities to [0, 1] first, then resizes::

    make_pipeline(IntensityScaler(), Resize(32), VQVAE2Estimator())

:class:`RandomSliceTransform` (and the function :func:`random_transform`) augments
slices already in [0, 1] with random flips, rotations, scalings, shifts and gamma
changes; it keeps the layout of its input.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import Tags, check_random_state
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_is_fitted

from oasisgen.datasets.imaging import as_size, resize_images
from oasisgen.datasets.validation import (
    check_finite,
    check_images,
    check_real_dtype,
    refuse_bad_image_shape,
)

__all__ = ["IntensityScaler", "RandomSliceTransform", "Resize", "random_transform"]


def _image_tags(tags: Tags) -> Tags:
    """Declare image input (3D/4D float arrays) and float32 output."""
    tags.input_tags.two_d_array = False
    tags.input_tags.three_d_array = True
    tags.transformer_tags.preserves_dtype = ["float32"]
    return tags


class Resize(TransformerMixin, BaseEstimator):
    """Resize grayscale images to a fixed size.

    Stateless: ``fit`` only checks the parameters and the images, so ``transform``
    also works on an unfitted instance. Each image is resized with Pillow's
    antialiased bilinear filter and clipped to [0, 1].

    Parameters
    ----------
    image_size : int or tuple of (int, int), default=32
        Output side length, or ``(height, width)``. Use sizes divisible by 8 in front
        of :class:`oasisgen.VQVAE2Estimator`.

    Attributes
    ----------
    input_shape_ : tuple of (int, int)
        ``(height, width)`` of the images seen in ``fit``.

    See Also
    --------
    IntensityScaler : Scale raw intensities to [0, 1] before resizing.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.preprocessing import Resize
    >>> images = np.zeros((5, 64, 48), dtype=np.uint8)
    >>> Resize(32).fit_transform(images).shape
    (5, 32, 32, 1)
    >>> Resize((16, 24)).transform(images).dtype
    dtype('float32')
    """

    _parameter_constraints: dict = {
        "image_size": [Interval(Integral, 1, None, closed="left"), tuple, list],
    }

    def __init__(self, image_size: int | tuple[int, int] = 32) -> None:
        self.image_size = image_size

    def _check_params(self) -> tuple[int, int]:
        """Validate ``image_size`` and return it as ``(height, width)``."""
        self._validate_params()
        try:
            return as_size(self.image_size)
        except ValueError:
            raise ValueError(
                "The 'image_size' parameter of Resize must be a positive int or a "
                f"(height, width) pair of positive ints. Got {self.image_size!r} "
                "instead."
            ) from None

    def fit(self, X: object, y: object = None) -> Resize:
        """Check the parameters and the images; learn nothing else.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or \
(n_samples, height, width, 1)
            uint8 images, or floats in [0, 1].
        y : None
            Ignored.

        Returns
        -------
        self : Resize
            This transformer.
        """
        self._check_params()
        images = check_images(X, caller="Resize.fit")
        self.input_shape_ = (int(images.shape[1]), int(images.shape[2]))
        return self

    def transform(self, X: object) -> np.ndarray:
        """Resize the images.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or \
(n_samples, height, width, 1)
            uint8 images, or floats in [0, 1]; any height and width.

        Returns
        -------
        images : ndarray of shape (n_samples, new_height, new_width, 1), dtype float32
            Resized images with values in [0, 1].
        """
        size = self._check_params()
        return resize_images(check_images(X, caller="Resize.transform"), size)

    def __sklearn_tags__(self) -> Tags:
        """Declare a stateless transformer of images."""
        tags = _image_tags(super().__sklearn_tags__())
        tags.requires_fit = False
        return tags


def _check_raw_images(X: object, *, caller: str) -> np.ndarray:
    """Validate images of any finite real values; return float64 (n, H, W)."""
    array = np.asarray(X)
    check_real_dtype(array, caller=caller, expected="int or float")
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    elif array.ndim != 3:
        refuse_bad_image_shape(X, caller=caller)
    if array.shape[0] < 1 or array.size == 0:
        raise ValueError(
            f"{caller} expected at least 1 non-empty image; got an array of shape "
            f"{np.shape(X)}."
        )
    images = array.astype(np.float64, copy=False)
    check_finite(images, caller=caller, expected="finite values")
    return images


def _scale(images: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Map [lower, upper] to [0, 1] and clip; zero where lower == upper.

    ``lower`` and ``upper`` broadcast against ``images`` of shape (n, H, W).
    """
    span = upper - lower
    safe_span = np.where(span > 0, span, 1.0)
    scaled = np.where(span > 0, (images - lower) / safe_span, 0.0)
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)[..., np.newaxis]


class IntensityScaler(TransformerMixin, BaseEstimator):
    """Scale image intensities robustly to [0, 1] using percentiles.

    Values at or below the lower percentile map to 0, values at or above the upper
    percentile map to 1, and values in between linearly; the result is clipped to
    [0, 1]. Images of any finite real values are accepted (raw scanner intensities,
    negative values, integers beyond 255). A constant image, or a batch whose two
    percentiles coincide, maps to zeros.

    Parameters
    ----------
    lower_percentile : float, default=0.5
        Percentile in [0, 100] mapped to 0.
    upper_percentile : float, default=99.5
        Percentile in [0, 100] mapped to 1; must be greater than
        ``lower_percentile``.
    per_image : bool, default=True
        If True, each image is scaled by its own percentiles, computed at transform
        time, and ``fit`` learns nothing. If False, the percentiles of all the
        pixels of the batch passed to ``fit`` are stored in ``lower_`` and
        ``upper_`` and applied to every image in ``transform``.

    Attributes
    ----------
    lower_ : float or None
        Intensity mapped to 0, learned in ``fit``; None when ``per_image=True``.
    upper_ : float or None
        Intensity mapped to 1, learned in ``fit``; None when ``per_image=True``.

    See Also
    --------
    Resize : Resize the scaled images.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.preprocessing import IntensityScaler
    >>> raw = np.array([[[-100.0, 0.0], [300.0, 900.0]]])
    >>> scaler = IntensityScaler(lower_percentile=0, upper_percentile=100)
    >>> scaled = scaler.fit_transform(raw)
    >>> scaled.shape
    (1, 2, 2, 1)
    >>> np.round(scaled[0, ..., 0], 2)
    array([[0. , 0.1],
           [0.4, 1. ]], dtype=float32)
    >>> batch = np.linspace(0, 1000, 201).reshape(1, 1, -1)
    >>> scaler = IntensityScaler(per_image=False).fit(batch)
    >>> print(round(scaler.lower_, 1), round(scaler.upper_, 1))
    5.0 995.0
    """

    _parameter_constraints: dict = {
        "lower_percentile": [Interval(Real, 0, 100, closed="both")],
        "upper_percentile": [Interval(Real, 0, 100, closed="both")],
        "per_image": ["boolean"],
    }

    def __init__(
        self,
        lower_percentile: float = 0.5,
        upper_percentile: float = 99.5,
        per_image: bool = True,
    ) -> None:
        self.lower_percentile = lower_percentile
        self.upper_percentile = upper_percentile
        self.per_image = per_image

    def _check_params(self) -> None:
        """Validate each parameter, then the order of the two percentiles."""
        self._validate_params()
        if not self.lower_percentile < self.upper_percentile:
            raise ValueError(
                "IntensityScaler expected lower_percentile < upper_percentile; got "
                f"lower_percentile={self.lower_percentile!r} and "
                f"upper_percentile={self.upper_percentile!r}. Swap them."
            )

    def fit(self, X: object, y: object = None) -> IntensityScaler:
        """Learn the batch percentiles (``per_image=False``) or just check the input.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or \
(n_samples, height, width, 1)
            Images of any finite real values.
        y : None
            Ignored.

        Returns
        -------
        self : IntensityScaler
            This transformer.
        """
        self._check_params()
        images = _check_raw_images(X, caller="IntensityScaler.fit")
        if self.per_image:
            self.lower_, self.upper_ = None, None
        else:
            lower, upper = np.percentile(
                images, [self.lower_percentile, self.upper_percentile]
            )
            self.lower_, self.upper_ = float(lower), float(upper)
        return self

    def transform(self, X: object) -> np.ndarray:
        """Scale the images to [0, 1].

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or \
(n_samples, height, width, 1)
            Images of any finite real values.

        Returns
        -------
        images : ndarray of shape (n_samples, height, width, 1), dtype float32
            Scaled images with values in [0, 1].
        """
        self._check_params()
        if not self.per_image:
            check_is_fitted(self, ["lower_", "upper_"])
        images = _check_raw_images(X, caller="IntensityScaler.transform")
        if not self.per_image:
            if self.lower_ is None:
                raise ValueError(
                    "IntensityScaler was fitted with per_image=True, so it has no "
                    "batch percentiles; fit it again after set_params(per_image=False)."
                )
            return _scale(images, np.float64(self.lower_), np.float64(self.upper_))
        flat = images.reshape(len(images), -1)
        lower, upper = np.percentile(
            flat, [self.lower_percentile, self.upper_percentile], axis=1
        )
        return _scale(images, lower[:, None, None], upper[:, None, None])

    def __sklearn_tags__(self) -> Tags:
        """Declare a transformer of images; stateless when ``per_image=True``."""
        tags = _image_tags(super().__sklearn_tags__())
        tags.requires_fit = not self.per_image
        return tags


# --- random augmentation -------------------------------------------------------------

_AUGMENT_CONSTRAINTS: dict = {
    "flip": ["boolean"],
    "rotation": [Interval(Real, 0, 180, closed="both")],
    "scale": [Interval(Real, 0, 1, closed="left")],
    "shift": [Interval(Real, 0, 0.5, closed="both")],
    "gamma": [Interval(Real, 0, None, closed="left")],
    "random_state": ["random_state"],
}


def _augment(
    images: np.ndarray,
    rng: np.random.RandomState,
    *,
    flip: bool,
    rotation: float,
    scale: float,
    shift: float,
    gamma: float,
) -> np.ndarray:
    """Randomly transform float32 images of shape (n, H, W); return a new array.

    Six uniform numbers in [-1, 1) are drawn per image, in image order, whatever
    parts are switched on: the draws of image ``i`` do not depend on the other
    parameters nor on the number of images after it.
    """
    n_images, height, width = images.shape
    draws = rng.uniform(-1.0, 1.0, size=(n_images, 6))
    mirror = draws[:, 0] < 0.0 if flip else np.zeros(n_images, dtype=bool)
    out = images.copy()
    if rotation or scale or shift:
        angles = np.deg2rad(rotation * draws[:, 1])
        factors = 1.0 + scale * draws[:, 2]
        shifts = shift * draws[:, 3:5] * np.array([height, width])
        centre = np.array([(height - 1) / 2.0, (width - 1) / 2.0])
        for i in range(n_images):
            # The image is mirrored, rotated and scaled about its centre, then
            # shifted: x_out = centre + factor R F (x_in - centre) + shift.
            # affine_transform needs the inverse map, output -> input pixel.
            cos, sin = np.cos(angles[i]), np.sin(angles[i])
            inverse = np.array([[cos, sin], [-sin, cos]]) / factors[i]
            if mirror[i]:
                inverse[1] = -inverse[1]
            offset = centre - inverse @ (centre + shifts[i])
            ndimage.affine_transform(
                images[i],
                inverse,
                offset=offset,
                order=1,
                mode="grid-constant",
                cval=0.0,
                output=out[i],
            )
    elif mirror.any():
        out[mirror] = out[mirror, :, ::-1]
    if gamma:
        exponents = np.exp(gamma * draws[:, 5]).astype(np.float32)
        np.power(out, exponents[:, np.newaxis, np.newaxis], out=out)
    return np.clip(out, 0.0, 1.0, out=out)


def _check_unit_images(X: object, *, caller: str) -> tuple[np.ndarray, bool]:
    """Validate images in [0, 1] (or uint8); return float32 (n, H, W), was-4D flag."""
    images = check_images(X, caller=caller)
    return images[..., 0], np.ndim(X) == 4


@validate_params(_AUGMENT_CONSTRAINTS, prefer_skip_nested_validation=True)
def random_transform(
    images: object,
    *,
    random_state: int | np.random.RandomState | None = None,
    flip: bool = True,
    rotation: float = 8.0,
    scale: float = 0.06,
    shift: float = 0.04,
    gamma: float = 0.15,
) -> np.ndarray:
    """Apply a different random flip, affine transform and gamma to each slice.

    Each image gets its own transform: a left-right flip with probability 0.5, a
    rotation by an angle drawn uniformly in ``[-rotation, rotation]`` degrees, an
    isotropic scaling by a factor drawn in ``[1 - scale, 1 + scale]`` and a shift
    drawn in ``[-shift, shift]`` times the image side along each axis. The four
    are combined about the image centre into one affine map, resampled once with
    bilinear interpolation; pixels mapped from outside the image are 0. Then the
    intensities are raised to the power ``exp(u)``, ``u`` drawn uniformly in
    ``[-gamma, gamma]``, which changes the contrast but keeps 0, 1 and the order
    of the pixel values. The result is clipped to [0, 1].

    Parameters
    ----------
    images : array-like of shape (n_samples, height, width) or \
(n_samples, height, width, 1)
        uint8 images (scaled by 1/255), or floats in [0, 1].
    random_state : int, RandomState instance or None, default=None
        Seed of the random draws. An int gives the same transforms on every call;
        a RandomState instance is advanced, so repeated calls differ.
    flip : bool, default=True
        Whether to mirror half of the images left-right, at random.
    rotation : float, default=8.0
        Largest rotation in degrees, in [0, 180]; 0 disables rotations.
    scale : float, default=0.06
        Largest relative change of size, in [0, 1); 0 disables scaling.
    shift : float, default=0.04
        Largest shift as a fraction of the image height (rows) and width
        (columns), in [0, 0.5]; 0 disables shifts.
    gamma : float, default=0.15
        Largest absolute log-exponent of the gamma change, at least 0; 0
        disables it.

    Returns
    -------
    transformed : ndarray of the shape of ``images``, dtype float32
        The transformed images, values in [0, 1]. With every part disabled, a
        float32 copy of ``images``.

    See Also
    --------
    RandomSliceTransform : The same augmentation as a scikit-learn transformer.

    Notes
    -----
    Six random numbers are drawn per image, whichever parts are enabled, so with
    the same ``random_state`` disabling one part leaves the others unchanged.

    Examples
    --------
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.preprocessing import random_transform
    >>> slices = load_sample("train", image_size=32)
    >>> augmented = random_transform(slices, random_state=0)
    >>> augmented.shape, augmented.dtype
    ((178, 32, 32, 1), dtype('float32'))
    >>> bool(np.array_equal(augmented, random_transform(slices, random_state=0)))
    True
    >>> identity = random_transform(
    ...     slices, flip=False, rotation=0, scale=0, shift=0, gamma=0
    ... )
    >>> bool(np.array_equal(identity, slices))
    True
    """
    array, is_4d = _check_unit_images(images, caller="random_transform")
    out = _augment(
        array,
        check_random_state(random_state),
        flip=flip,
        rotation=rotation,
        scale=scale,
        shift=shift,
        gamma=gamma,
    )
    return out[..., np.newaxis] if is_4d else out


class RandomSliceTransform(TransformerMixin, BaseEstimator):
    """Randomly flip, rotate, scale, shift and gamma-correct slices.

    Data augmentation for the slices a model learns from: ``transform`` returns
    ``n_copies`` randomly transformed copies of each slice, each copy drawn
    independently (see :func:`random_transform` for the transform itself).
    Stateless: ``fit`` only checks the parameters and the images, so
    ``transform`` also works on an unfitted instance.

    Parameters
    ----------
    flip : bool, default=True
        Whether to mirror half of the images left-right, at random.
    rotation : float, default=8.0
        Largest rotation in degrees, in [0, 180]; 0 disables rotations.
    scale : float, default=0.06
        Largest relative change of size, in [0, 1); 0 disables scaling.
    shift : float, default=0.04
        Largest shift as a fraction of the image height and width, in [0, 0.5];
        0 disables shifts.
    gamma : float, default=0.15
        Largest absolute log-exponent of the intensity gamma, at least 0; 0
        disables it.
    random_state : int, RandomState instance or None, default=None
        Seed of the random draws. With an int, every call of ``transform`` on the
        same images returns the same output. With a RandomState instance, each
        call of ``transform`` advances it and so draws new transforms; with None,
        the global NumPy random state is used.
    n_copies : int, default=1
        Number of transformed copies of each slice, at least 1.

    Attributes
    ----------
    input_shape_ : tuple of (int, int)
        ``(height, width)`` of the images seen in ``fit``.

    See Also
    --------
    random_transform : The same augmentation as a function.
    Resize : Resize slices before augmenting them.

    Notes
    -----
    ``transform`` returns ``n_copies * n_samples`` images, which breaks the
    alignment with any ``y``, and in a :class:`~sklearn.pipeline.Pipeline` it
    also runs at prediction or scoring time. Augment the training slices with it
    (or with ``fit_transform``) rather than keeping it in front of a model that
    is evaluated through the same pipeline.

    Examples
    --------
    >>> from oasisgen.datasets import load_sample
    >>> from oasisgen.preprocessing import RandomSliceTransform
    >>> slices = load_sample("train", image_size=32)
    >>> augment = RandomSliceTransform(n_copies=3, random_state=0)
    >>> augmented = augment.fit_transform(slices)
    >>> augmented.shape, augmented.dtype
    ((534, 32, 32, 1), dtype('float32'))
    >>> bool(np.array_equal(augmented, augment.transform(slices)))
    True
    >>> RandomSliceTransform(rotation=0, shift=0).transform(slices[:, :, :, 0]).shape
    (178, 32, 32)
    """

    _parameter_constraints: dict = {
        **_AUGMENT_CONSTRAINTS,
        "n_copies": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        flip: bool = True,
        rotation: float = 8.0,
        scale: float = 0.06,
        shift: float = 0.04,
        gamma: float = 0.15,
        random_state: int | np.random.RandomState | None = None,
        n_copies: int = 1,
    ) -> None:
        self.flip = flip
        self.rotation = rotation
        self.scale = scale
        self.shift = shift
        self.gamma = gamma
        self.random_state = random_state
        self.n_copies = n_copies

    def fit(self, X: object, y: object = None) -> RandomSliceTransform:
        """Check the parameters and the images; learn nothing else.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or \
(n_samples, height, width, 1)
            uint8 images, or floats in [0, 1].
        y : None
            Ignored.

        Returns
        -------
        self : RandomSliceTransform
            This transformer.
        """
        self._validate_params()
        images, _ = _check_unit_images(X, caller="RandomSliceTransform.fit")
        self.input_shape_ = (int(images.shape[1]), int(images.shape[2]))
        return self

    def transform(self, X: object) -> np.ndarray:
        """Return ``n_copies`` randomly transformed copies of the images.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or \
(n_samples, height, width, 1)
            uint8 images, or floats in [0, 1]; any height and width.

        Returns
        -------
        images : ndarray of shape (n_copies * n_samples, height, width) or \
(n_copies * n_samples, height, width, 1), dtype float32
            The transformed images, values in [0, 1], in the layout of ``X``.
            Copy-major: rows ``k * n_samples`` to ``(k + 1) * n_samples - 1`` are
            copy ``k`` of all the images, in the order of ``X``.
        """
        self._validate_params()
        images, is_4d = _check_unit_images(X, caller="RandomSliceTransform.transform")
        if self.n_copies > 1:
            images = np.concatenate([images] * self.n_copies)
        out = _augment(
            images,
            check_random_state(self.random_state),
            flip=self.flip,
            rotation=self.rotation,
            scale=self.scale,
            shift=self.shift,
            gamma=self.gamma,
        )
        return out[..., np.newaxis] if is_4d else out

    def __sklearn_tags__(self) -> Tags:
        """Declare a stateless transformer of images."""
        tags = _image_tags(super().__sklearn_tags__())
        tags.requires_fit = False
        return tags
