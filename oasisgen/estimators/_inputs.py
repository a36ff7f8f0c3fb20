"""What the estimators accept as images, turned into tf.data pipelines and batches.

Three kinds of input are accepted wherever images are:

- an array of shape (n, H, W) or (n, H, W, 1), uint8 or float in [0, 1];
- a :class:`oasisgen.datasets.SliceDataset`, streamed from disk;
- a ``tf.data.Dataset`` of image batches (or of ``(images, ...)`` tuples), streamed.

Only arrays are validated up front (every value is at hand); streamed inputs are
checked for their shape from the element spec, and batch by batch as they arrive.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from oasisgen.datasets import SliceDataset
from oasisgen.datasets.validation import (
    IMAGE_SHAPE_TEXT,
    check_divisible_images,
    check_images,
)


@dataclass
class ImageSource:
    """Images of one call, in a form every method can stream.

    Attributes
    ----------
    array : ndarray of shape (n, H, W, 1) or None
        Validated float32 images, when the input was an array.
    dataset : SliceDataset or None
        The dataset, when the input was one.
    tf_dataset : tf.data.Dataset or None
        Batches of images, when the input was a tf.data pipeline.
    image_shape : tuple of (int, int)
        Height and width.
    """

    array: np.ndarray | None
    dataset: SliceDataset | None
    tf_dataset: tf.data.Dataset | None
    image_shape: tuple[int, int]

    def __len__(self) -> int:
        if self.array is not None:
            return len(self.array)
        if self.dataset is not None:
            return len(self.dataset)
        cardinality = int(self.tf_dataset.cardinality())
        return max(cardinality, 0)

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """Yield float32 batches of shape (b, H, W, 1), in order."""
        if self.array is not None:
            for start in range(0, len(self.array), batch_size):
                yield self.array[start : start + batch_size]
            return
        for batch in self.training_data(batch_size, shuffle=False, seed=None):
            yield batch.numpy()

    def training_data(
        self, batch_size: int, *, shuffle: bool, seed: int | None
    ) -> tf.data.Dataset:
        """Return a tf.data pipeline of float32 batches (b, H, W, 1)."""
        if self.array is not None:
            data = tf.data.Dataset.from_tensor_slices(self.array)
            if shuffle:
                data = data.shuffle(len(self.array), seed=seed)
            return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)
        if self.dataset is not None:
            return self.dataset.as_tf_dataset(batch_size, shuffle=shuffle, seed=seed)
        return self.tf_dataset.map(_as_float_images).prefetch(tf.data.AUTOTUNE)


def image_source(X: Any, *, caller: str, multiple_of: int = 8) -> ImageSource:
    """Check ``X`` and wrap it in an :class:`ImageSource`.

    Parameters
    ----------
    X : array-like, SliceDataset or tf.data.Dataset
        Images; see the module docstring.
    caller : str
        Name for error messages, such as ``"VQVAE2Estimator.fit"``.
    multiple_of : int, default=8
        Height and width must be divisible by this.

    Returns
    -------
    source : ImageSource

    Raises
    ------
    ValueError, TypeError
        If ``X`` is not images of an accepted shape, dtype and range.

    Examples
    --------
    >>> import numpy as np
    >>> image_source(np.zeros((2, 16, 16), "uint8"), caller="demo").image_shape
    (16, 16)
    """
    if isinstance(X, SliceDataset):
        if len(X) == 0:
            raise ValueError(f"{caller} received an empty SliceDataset.")
        check_divisible_images(
            X.image_shape, multiple_of, caller=caller, what=f"a {X!r}"
        )
        return ImageSource(None, X, None, tuple(X.image_shape))
    if isinstance(X, tf.data.Dataset):
        image_shape = _tf_dataset_image_shape(X, caller)
        check_divisible_images(
            image_shape, multiple_of, caller=caller, what="a tf.data.Dataset"
        )
        return ImageSource(None, None, X, image_shape)
    array = check_images(X, caller=caller, multiple_of=multiple_of)
    return ImageSource(array, None, None, array.shape[1:3])


def _tf_dataset_image_shape(data: tf.data.Dataset, caller: str) -> tuple[int, int]:
    spec = data.element_spec
    if isinstance(spec, tuple):
        spec = spec[0]
    shape = getattr(spec, "shape", None)
    ok_rank = shape is not None and (
        shape.rank == 3 or (shape.rank == 4 and shape[-1] == 1)
    )
    if not ok_rank or shape[1] is None or shape[2] is None:
        raise ValueError(
            f"{caller} expected a tf.data.Dataset of image batches of shape "
            f"(batch, height, width) or (batch, height, width, 1) with known height "
            f"and width; got elements of shape {shape}. Batch the dataset with "
            ".batch(32) and give its images a static size."
        )
    return int(shape[1]), int(shape[2])


def _as_float_images(batch: Any, *rest: Any) -> tf.Tensor:
    """Map a tf.data batch (or ``(batch, ...)``) to float32 (b, H, W, 1) in [0, 1]."""
    images = batch
    if images.dtype == tf.uint8:
        images = tf.cast(images, tf.float32) / 255.0
    else:
        images = tf.cast(images, tf.float32)
    if images.shape.rank == 3:
        images = images[..., tf.newaxis]
    tf.debugging.assert_all_finite(
        images, f"Images from a tf.data.Dataset must be finite: {IMAGE_SHAPE_TEXT}."
    )
    return images
