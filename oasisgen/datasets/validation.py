"""The checks of input that every part of oasisgen shares: one per contract.

Images (and the sizes a model's strides need), code maps (and condition maps
against them), slice positions, global conditions and sampling options are each
checked by one function here, which the loaders, the models, the metrics and
the estimators all call, so that one mistake gives one kind of error
(``ValueError`` for values, ``TypeError`` for types) with the same advice
wherever it is made. Code that extends oasisgen (a new estimator, a new metric)
calls them too. Inside oasisgen an image batch is float32 in [0, 1] of shape
(n, height, width, 1).
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

IMAGE_SHAPE_TEXT = "(n_samples, height, width) or (n_samples, height, width, 1)"


def check_real_dtype(
    array: np.ndarray, *, caller: str, expected: str, name: str = "images"
) -> None:
    """Raise a TypeError unless ``array`` holds real integers or floats.

    ``expected`` names the dtypes the caller takes, such as ``"uint8 or float"``;
    ``name`` what the array is, in the message.

    Examples
    --------
    >>> check_real_dtype(np.zeros(3, dtype="uint8"), caller="demo", expected="any")
    >>> check_real_dtype(np.array(["a"]), caller="demo", expected="uint8 or float")
    Traceback (most recent call last):
    ...
    TypeError: demo expected images of a real numeric dtype (uint8 or float); got \
dtype <U1. Convert with np.asarray(X, dtype=np.float32).
    """
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(
            f"{caller} expected {name} of a real numeric dtype ({expected}); "
            f"got dtype {array.dtype}. Convert with np.asarray(X, dtype=np.float32)."
        )


def refuse_bad_image_shape(X: object, *, caller: str) -> None:
    """Raise the ValueError for an array that is not a batch of grayscale images.

    Examples
    --------
    >>> refuse_bad_image_shape(np.zeros((4, 8, 8, 3)), caller="demo")
    Traceback (most recent call last):
    ...
    ValueError: demo expected grayscale images of shape (n_samples, height, \
width) or (n_samples, height, width, 1); got an array of shape (4, 8, 8, 3). ...
    """
    raise ValueError(
        f"{caller} expected grayscale images of shape {IMAGE_SHAPE_TEXT}; got an "
        f"array of shape {np.shape(X)}. Stack 2D slices along a first axis; "
        "cut 3D volumes into slices with oasisgen.datasets.load_nifti."
    )


def check_finite(
    images: np.ndarray, *, caller: str, expected: str, name: str = "images"
) -> None:
    """Raise a ValueError naming how many values of ``images`` are NaN or inf.

    ``expected`` says what the values should be, such as ``"finite values"``;
    ``name`` what the array is, in the message.

    Examples
    --------
    >>> check_finite(np.array([0.0, np.nan]), caller="demo", expected="[0, 1]")
    Traceback (most recent call last):
    ...
    ValueError: demo received images containing NaN or inf (1 value(s)); \
expected [0, 1]. Replace them, e.g. with np.nan_to_num.
    """
    finite = np.isfinite(images)
    if not np.all(finite):
        n_bad = int(images.size - np.count_nonzero(finite))
        raise ValueError(
            f"{caller} received {name} containing NaN or inf ({n_bad} value(s)); "
            f"expected {expected}. Replace them, e.g. with np.nan_to_num."
        )


def check_images(
    X: object,
    *,
    caller: str,
    multiple_of: int | None = None,
    min_samples: int = 1,
    name: str = "images",
) -> np.ndarray:
    """Validate a batch of grayscale images and return it as float32 in [0, 1].

    Parameters
    ----------
    X : array-like of shape (n_samples, height, width) or (n_samples, height, width, 1)
        uint8 images (scaled by 1/255), or floats already in [0, 1].
    caller : str
        Name used in error messages, such as ``"VQVAE2Estimator.fit"``.
    multiple_of : int, optional
        Height and width must be divisible by this number.
    min_samples : int, default=1
        Fewest images accepted.
    name : str, default="images"
        What the images are, for error messages (``"reference"``).

    Returns
    -------
    images : ndarray of shape (n_samples, height, width, 1), dtype float32
        The images, values in [0, 1].

    Raises
    ------
    TypeError
        If ``X`` is not numeric (strings, objects, complex numbers).
    ValueError
        If the shape, the values or the number of images is not what is expected.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.datasets.validation import check_images
    >>> check_images(np.zeros((2, 8, 8), dtype=np.uint8), caller="demo").shape
    (2, 8, 8, 1)
    """
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise TypeError(
            f"{caller} does not support sparse input; expected dense {name} of "
            f"shape {IMAGE_SHAPE_TEXT}. Convert with X.toarray()."
        )
    array = np.asarray(X)
    if np.iscomplexobj(array):
        raise ValueError(
            f"{caller} got complex {name}. Complex data not supported: expected real "
            f"uint8 or float {name}; take np.abs(X) of a complex MR signal first."
        )
    check_real_dtype(array, caller=caller, expected="uint8 or float", name=name)
    if array.ndim == 3:
        array = array[..., np.newaxis]
    elif not (array.ndim == 4 and array.shape[-1] == 1):
        refuse_bad_image_shape(X, caller=caller)
    n_samples, height, width = array.shape[:3]
    if height < 1 or width < 1:
        raise ValueError(
            f"{caller} expected {name} of at least 1x1 pixels; got an array of "
            f"shape {np.shape(X)}, whose images are {height}x{width}."
        )
    if n_samples < min_samples:
        where = "" if name == "images" else f" in {name}"
        raise ValueError(
            f"{caller} expected at least {min_samples} image(s){where}; got "
            f"{n_samples} (an array of shape {np.shape(X)})."
        )
    if multiple_of is not None:
        check_divisible_images(
            (height, width),
            multiple_of,
            caller=caller,
            what="an array",
        )
    if np.issubdtype(array.dtype, np.integer):
        if (
            array.dtype != np.uint8
            and array.size
            and (array.min() < 0 or array.max() > 255)
        ):
            raise ValueError(
                f"{caller} expected integer {name} in [0, 255] (uint8); got values in "
                f"[{array.min()}, {array.max()}]. Scale them to [0, 1] floats first."
            )
        return array.astype(np.float32) / np.float32(255.0)
    images = array.astype(np.float32, copy=False)
    check_finite(images, caller=caller, expected="finite values in [0, 1]", name=name)
    if images.size and (images.min() < 0.0 or images.max() > 1.0):
        raise ValueError(
            f"{caller} expected float {name} with values in [0, 1]; got values in "
            f"[{images.min():.4g}, {images.max():.4g}]. Rescale them, e.g. with "
            "oasisgen.preprocessing.IntensityScaler, clip generated images with "
            "np.clip(images, 0, 1), or pass uint8 images."
        )
    return images


def check_divisible_images(
    image_shape: tuple[int, int], multiple_of: int, *, caller: str, what: str
) -> None:
    """Check that the height and width of images are multiples of ``multiple_of``.

    The one check of an image size a model's strides need, for arrays, slice
    datasets and ``tf.data`` pipelines alike.

    Parameters
    ----------
    image_shape : tuple of (int, int)
        The ``(height, width)`` of the images.
    multiple_of : int
        The number both sides must be divisible by (8 for the VQ-VAE-2).
    caller : str
        Name for error messages.
    what : str
        What holds the images, for error messages (``"a tf.data.Dataset"``).

    Raises
    ------
    ValueError
        If a side is not divisible by ``multiple_of``.

    Examples
    --------
    >>> from oasisgen.datasets.validation import check_divisible_images
    >>> check_divisible_images((32, 32), 8, caller="demo", what="images")
    >>> check_divisible_images((30, 32), 8, caller="demo", what="an array")
    Traceback (most recent call last):
    ...
    ValueError: demo expected images whose height and width are divisible by 8; \
got an array of 30x32 images. Load them with image_size=32, or resize them with \
oasisgen.preprocessing.Resize(32).
    """
    height, width = image_shape
    if height % multiple_of or width % multiple_of:
        size = multiple_of * max(1, round(max(height, width) / multiple_of))
        raise ValueError(
            f"{caller} expected images whose height and width are divisible by "
            f"{multiple_of}; got {what} of {height}x{width} images. Load them with "
            f"image_size={size}, or resize them with "
            f"oasisgen.preprocessing.Resize({size})."
        )


def check_global_condition(
    values: Any, *, n_samples: int, caller: str, dim: int | None = None
) -> np.ndarray:
    """Validate one float vector per map (such as slice positions).

    The one check of a PixelCNN's ``global_condition``, for the estimators and the
    samplers.

    Parameters
    ----------
    values : array-like of shape (n_samples,) or (n_samples, dim)
        Finite numbers; a 1D array is one number per map.
    n_samples : int
        The number of maps.
    caller : str
        Name for error messages.
    dim : int, optional
        The expected vector length (a model's ``global_condition_dim``).

    Returns
    -------
    values : ndarray of shape (n_samples, dim), dtype float32

    Raises
    ------
    TypeError
        If the values are not real numbers.
    ValueError
        If the shape is wrong or a value is NaN or inf.

    Examples
    --------
    >>> from oasisgen.datasets.validation import check_global_condition
    >>> check_global_condition([0.1, 0.9], n_samples=2, caller="demo").shape
    (2, 1)
    """
    array = np.asarray(values)
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"{caller} expected global_condition as real numbers; got values of "
            f"dtype {array.dtype}. Convert with np.asarray(values, dtype=np.float32)."
        )
    if array.ndim not in (1, 2):
        raise ValueError(
            f"{caller} expected global_condition as numbers of shape (n_samples,) or "
            f"(n_samples, dim); got {array.dtype} values of shape {array.shape}."
        )
    array = array.reshape(len(array), -1).astype(np.float32)
    if len(array) != n_samples:
        raise ValueError(
            f"{caller} expected one global_condition row per map ({n_samples}); got "
            f"{len(array)}."
        )
    if dim is not None and array.shape[1] != dim:
        raise ValueError(
            f"{caller} expected global_condition vectors of length {dim} "
            f"(global_condition_dim); got length {array.shape[1]}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{caller} expected finite global_condition; got NaN or inf.")
    return array


_MAX_CODES = int(np.iinfo(np.int32).max) + 1  # codes are int32 inside the models


def check_code_values(
    codes: Any,
    *,
    caller: str,
    name: str = "codes",
    num_embeddings: int | None = None,
) -> np.ndarray:
    """Validate integer codes of any shape and return them as int32.

    The one rule for code values, for code maps (:func:`check_code_maps`) and
    for the code statistics of :mod:`oasisgen.metrics`: integers, or floats that
    hold whole numbers; not booleans; in ``[0, num_embeddings)``.

    Parameters
    ----------
    codes : array-like
        The codes.
    caller : str
        Name for error messages.
    name : str, default="codes"
        What the array is, for error messages (``"top codes"``).
    num_embeddings : int, optional
        Codes must lie below it; without it, only be >= 0 (and fit in int32).

    Returns
    -------
    codes : ndarray, dtype int32

    Raises
    ------
    TypeError
        If the values are not whole numbers, or are booleans or sparse.
    ValueError
        If the array is empty or a code is out of range.

    Examples
    --------
    >>> from oasisgen.datasets.validation import check_code_values
    >>> check_code_values([3.0, 1.0], caller="demo", num_embeddings=4)
    array([3, 1], dtype=int32)
    """
    _refuse_sparse(codes, caller=caller, name=name)
    array = np.asarray(codes)
    whole_floats = array.dtype.kind == "f" and bool(
        np.all(np.isfinite(array) & (np.mod(array, 1) == 0))
    )
    if array.dtype.kind not in "iu" and not whole_floats:
        raise TypeError(
            f"{caller} expected integer {name}; got dtype {array.dtype}"
            + (
                " with values that are not whole numbers"
                if array.dtype.kind == "f"
                else ""
            )
            + ". Pass code indices, such as those VQVAE2Estimator.encode returns."
        )
    if array.size == 0:
        raise ValueError(f"{caller} expected at least one of the {name}; got none.")
    low, high = array.min(), array.max()
    limit = _MAX_CODES if num_embeddings is None else min(num_embeddings, _MAX_CODES)
    if low < 0 or high >= limit:
        allowed = (
            "[0, 2**31) (codes are int32)"
            if num_embeddings is None
            else f"[0, {num_embeddings})"
        )
        raise ValueError(
            f"{caller} expected {name} in {allowed}; got values from {low:.0f} to "
            f"{high:.0f}."
            + (
                " Pass the codebook size the codes come from."
                if num_embeddings is not None
                else ""
            )
        )
    return array.astype(np.int32)


def check_code_maps(
    codes: Any,
    *,
    caller: str,
    name: str = "codes",
    num_embeddings: int | None = None,
    grid: tuple[int, int] | None = None,
) -> np.ndarray:
    """Validate a batch of integer code maps and return it as int32.

    The one check of code maps, for the VQ-VAE-2's ``decode``, the priors and
    the plots.

    Parameters
    ----------
    codes : array-like of shape (n_samples, height, width)
        Integer codes (floats holding whole numbers are accepted).
    caller : str
        Name for error messages.
    name : str, default="codes"
        What the array is, for error messages (``"condition"``, ``"top codes"``).
    num_embeddings : int, optional
        Codes must lie in ``[0, num_embeddings)``; without it, only >= 0.
    grid : tuple of (int, int), optional
        The height and width every map must have.

    Returns
    -------
    codes : ndarray of shape (n_samples, height, width), dtype int32

    Raises
    ------
    TypeError
        If the values are not whole numbers, or are booleans or sparse.
    ValueError
        If the shape or the range is wrong.

    Examples
    --------
    >>> from oasisgen.datasets.validation import check_code_maps
    >>> check_code_maps([[[0, 1], [2, 3]]], caller="demo", num_embeddings=4).shape
    (1, 2, 2)
    """
    _refuse_sparse(codes, caller=caller, name=name)
    array = np.asarray(codes)
    shape = array.shape
    expected = (
        "(n_samples, height, width)"
        if grid is None
        else (f"(n_samples, {grid[0]}, {grid[1]})")
    )
    if len(shape) != 3 or 0 in shape or (grid is not None and shape[1:] != tuple(grid)):
        raise ValueError(
            f"{caller} expected {name} as integer maps of shape {expected}, such as "
            f"VQVAE2Estimator.encode returns; got an array of shape {tuple(shape)}."
        )
    return check_code_values(
        array, caller=caller, name=name, num_embeddings=num_embeddings
    )


def check_condition_grid(
    codes_shape: tuple,
    condition_shape: tuple,
    *,
    condition_upsample: int,
    caller: str,
) -> None:
    """Check that condition maps cover the grid of the code maps they condition.

    The one check of a PixelCNN's ``condition`` against its codes, for the model,
    the sampler and the prior: one condition map per code map, each
    ``condition_upsample`` times smaller in height and width. Sizes that are None
    (Keras shapes not known yet) are not compared.

    Parameters
    ----------
    codes_shape : tuple
        ``(n, height, width)`` of the code maps (or of the grid to sample).
    condition_shape : tuple
        The shape of the condition maps.
    condition_upsample : int
        How many times larger the code maps are than the condition maps.
    caller : str
        Name for error messages.

    Raises
    ------
    ValueError
        If the condition has another number of maps or another grid.

    Examples
    --------
    >>> from oasisgen.datasets.validation import check_condition_grid
    >>> check_condition_grid((2, 8, 8), (2, 4, 4), condition_upsample=2, caller="demo")
    >>> check_condition_grid((2, 8, 8), (2, 8, 8), condition_upsample=2, caller="demo")
    Traceback (most recent call last):
    ...
    ValueError: demo expected a condition of shape (2, 4, 4) (one map per code map, \
2 times smaller: condition_upsample=2) for codes of shape (2, 8, 8); got a condition \
of shape (2, 8, 8).
    """
    factor = condition_upsample
    codes_shape, condition_shape = tuple(codes_shape), tuple(condition_shape)
    n, height, width = codes_shape[:3]
    fits = len(condition_shape) == 3 and all(
        None in (size, condition_size) or size == condition_size * scale
        for size, condition_size, scale in zip(
            (n, height, width), condition_shape, (1, factor, factor), strict=True
        )
    )
    if fits:
        return
    divisible = all(size is None or size % factor == 0 for size in (height, width))
    expected = ", ".join(
        [
            "n" if n is None else str(n),
            *(
                f"{name} // {factor}"
                if size is None or size % factor
                else str(size // factor)
                for name, size in (("h", height), ("w", width))
            ),
        ]
    )
    advice = (
        ""
        if divisible
        else f" The codes' height and width must be multiples of {factor}."
    )
    raise ValueError(
        f"{caller} expected a condition of shape ({expected}) (one map per code map, "
        f"{factor} times smaller: condition_upsample={factor}) for codes of shape "
        f"{codes_shape}; got a condition of shape {condition_shape}.{advice}"
    )


def _refuse_sparse(codes: Any, *, caller: str, name: str) -> None:
    if hasattr(codes, "toarray") and hasattr(codes, "nnz"):
        raise TypeError(
            f"{caller} does not support sparse input; expected dense integer {name}."
        )


def check_sampling_options(n_samples: Any, temperature: Any, top_k: Any) -> None:
    """Refuse sampling options a sampler cannot take.

    The one check of ``n_samples``, ``temperature`` and ``top_k``, for the
    samplers, :class:`~oasisgen.PixelCNNPrior` and
    :class:`~oasisgen.HierarchicalGenerator`.

    Parameters
    ----------
    n_samples : int
        Maps to draw, at least 1 (a float holding a whole number is accepted).
    temperature : float
        Above 0 and finite.
    top_k : int or None
        None, or at least 1.

    Raises
    ------
    TypeError
        If a value is not a number (or is a bool).
    ValueError
        If a number is out of range, not whole or not finite.

    Examples
    --------
    >>> from oasisgen.datasets.validation import check_sampling_options
    >>> check_sampling_options(8, 0.7, None)
    >>> check_sampling_options(8, 0.0, None)
    Traceback (most recent call last):
    ...
    ValueError: temperature must be a float > 0; got 0.0.
    """
    for name, value, whole, text in [
        ("n_samples", n_samples, True, "an int >= 1"),
        ("temperature", temperature, False, "a float > 0"),
        ("top_k", top_k, True, "None or an int >= 1"),
    ]:
        if value is None and name == "top_k":
            continue
        message = f"{name} must be {text}; got {value!r}."
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(message)
        in_range = math.isfinite(value) and (value >= 1 if whole else value > 0)
        if not in_range or (whole and value != int(value)):
            raise ValueError(message)


def check_slice_positions(values: Any, *, n_slices: int, caller: str) -> np.ndarray:
    """Check slice positions: one finite number in [0, 1] per slice.

    The one check of slice positions, for :class:`SliceDataset` and the
    estimators that take ``slice_position``.

    Parameters
    ----------
    values : array-like of shape (n_slices,)
        The positions: 0 for the lowest slice kept from a volume, 1 for the highest.
    n_slices : int
        How many there must be.
    caller : str
        Who checks, for error messages.

    Returns
    -------
    positions : ndarray of shape (n_slices,), dtype float32
        A new array.

    Raises
    ------
    TypeError
        If the values are not real numbers.
    ValueError
        If the values are not one per slice, or not finite and within [0, 1].

    Examples
    --------
    >>> check_slice_positions([0.2, 0.8], n_slices=2, caller="demo")
    array([0.2, 0.8], dtype=float32)
    """
    raw = np.asarray(values)
    if raw.dtype.kind not in "biuf":
        raise TypeError(
            f"{caller} expected slice positions as real numbers in [0, 1], one per "
            f"slice; got values of dtype {raw.dtype}."
        )
    if raw.shape != (n_slices,):
        raise ValueError(
            f"{caller} expected {n_slices} slice positions, one per slice (shape "
            f"({n_slices},)); got shape {raw.shape}."
        )
    column = raw.astype(np.float64)
    bad = np.flatnonzero(~(np.isfinite(column) & (column >= 0) & (column <= 1)))
    if len(bad):
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise ValueError(
            f"{caller} expected slice positions that are finite numbers in [0, 1] "
            "(0 = lowest slice kept from a volume, 1 = highest); got "
            f"{float(column[bad[0]])!r} at index {bad[0]}{more}."
        )
    return column.astype(np.float32)
