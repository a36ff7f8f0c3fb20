"""SliceDataset: 2D grayscale slices with the subject, source and position of each.

A dataset holds its slices either in memory (an array, from ``from_array`` or
``load_nifti``) or as a list of image files decoded on demand (``load_images``,
``load_oasis``). Both give the same arrays and the same ``tf.data`` pipelines.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from oasisgen.datasets._files import LUMA_WEIGHTS, read_slice, read_slices
from oasisgen.datasets.validation import check_images, check_slice_positions


class ArraySlices:
    """Slices held in an array of shape (n, height, width, 1), uint8 or float32."""

    def __init__(self, images: np.ndarray):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.images.shape[1:3])

    def take(self, indices: np.ndarray) -> ArraySlices:
        return ArraySlices(self.images[indices])

    def to_numpy(self) -> np.ndarray:
        if self.images.dtype == np.uint8:
            return self.images.astype(np.float32) / np.float32(255)
        return self.images.astype(np.float32, copy=True)

    def tf_dataset(self, order, batch_size: int):
        import tensorflow as tf

        # batches are gathered from shuffled indices, so shuffling needs no buffer
        # holding a second copy of the images
        images = tf.convert_to_tensor(self.images)
        divisor = 255.0 if self.images.dtype == np.uint8 else 1.0

        def gather(indices):
            return tf.cast(tf.gather(images, indices), tf.float32) / divisor

        return order.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE)


class FileSlices:
    """Slices stored as image files, decoded (and resized) each time they are read.

    ``image_size`` is the size every file is resized to, or None to keep the files'
    own size, which is then ``image_shape`` for all of them.
    """

    def __init__(
        self,
        paths: Sequence[str],
        formats: Sequence[str],
        image_shape: tuple[int, int],
        image_size: tuple[int, int] | None,
    ):
        self.paths = np.asarray(paths, dtype=str)
        self.formats = np.asarray(formats, dtype=str)
        self.image_shape = tuple(image_shape)
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, indices: np.ndarray) -> FileSlices:
        return FileSlices(
            self.paths[indices],
            self.formats[indices],
            self.image_shape,
            self.image_size,
        )

    def to_numpy(self) -> np.ndarray:
        return read_slices(list(self.paths), self.image_size, self.image_shape)

    def tf_dataset(self, order, batch_size: int):
        import tensorflow as tf

        if np.all(self.formats == "PNG"):
            decode = self._decode_png_in_graph()
        else:
            decode = self._decode_with_pillow()
        images = order.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
        return images.batch(batch_size)

    def _decode_png_in_graph(self):
        """Read and decode PNGs with TensorFlow ops, matching ``read_slice``."""
        import tensorflow as tf

        paths = tf.constant(self.paths)
        weights = tf.constant(LUMA_WEIGHTS, dtype=tf.float32)
        height, width = self.image_shape

        def decode(index):
            data = tf.io.read_file(tf.gather(paths, index))
            # 8-bit PNGs come out multiplied by 257, so both depths share one scale
            pixels = tf.io.decode_png(data, channels=0, dtype=tf.uint16)
            pixels = tf.cast(pixels, tf.float32) / 65535.0
            gray = tf.cond(
                tf.shape(pixels)[-1] >= 3,
                lambda: _luminance(pixels, weights),
                lambda: pixels[..., :1],
            )
            if self.image_size is not None:
                gray = tf.image.resize(
                    gray, self.image_size, method="bilinear", antialias=True
                )
                gray = tf.clip_by_value(gray, 0.0, 1.0)
            return tf.ensure_shape(gray, (height, width, 1))

        return decode

    def _decode_with_pillow(self):
        """Decode formats TensorFlow does not read the way Pillow does."""
        import tensorflow as tf

        paths, image_size, shape = self.paths, self.image_size, self.image_shape

        def read(index):
            return read_slice(paths[int(index)], image_size, shape)[..., np.newaxis]

        def decode(index):
            pixels = tf.numpy_function(read, [index], tf.float32, stateful=False)
            return tf.ensure_shape(pixels, (*shape, 1))

        return decode


def _luminance(pixels, weights):
    import tensorflow as tf

    rgb = pixels[..., :3] * weights
    gray = rgb[..., 0:1] + rgb[..., 1:2] + rgb[..., 2:3]
    return tf.clip_by_value(gray, 0.0, 1.0)


class SliceDataset:
    """2D grayscale slices with the subject, source file and position of each slice.

    The loaders (:func:`load_oasis`, :func:`load_nifti`, :func:`load_images`,
    :func:`load_sample`) return one; :meth:`from_array` wraps an array. Slices
    loaded from image files stay on disk until :meth:`to_numpy` or
    :meth:`as_tf_dataset` reads them.

    Parameters
    ----------
    storage : ArraySlices or FileSlices
        Where the slices are; built by the loaders, not by users.
    subjects : array-like of str of shape (n_slices,)
        Subject of every slice.
    sources : array-like of str of shape (n_slices,)
        File (or array) every slice comes from.
    positions : array-like of float of shape (n_slices,), optional
        Slice position of every slice, in [0, 1] (see ``positions`` below);
        None when unknown.

    Attributes
    ----------
    image_shape : tuple of (int, int)
        ``(height, width)`` of every slice.
    subjects : ndarray of str of shape (n_slices,)
        Subject of every slice; splits keep subjects apart.
    sources : ndarray of str of shape (n_slices,)
        File every slice was read from.
    positions : ndarray of float32 of shape (n_slices,) or None
        Slice position of every slice: where it lies along the slicing axis among
        the slices kept from its volume, 0 for the lowest (most inferior, in axial
        slices) and 1 for the highest; 0.5 when a volume gave a single slice.
        It is ``(k - k_min) / (k_max - k_min)`` for the index ``k`` of the slice
        along the axis, so gaps between kept slices show. None when the loader
        cannot know it (:func:`load_images`, OASIS files named otherwise than
        ``case_XXX_slice_N``, arrays wrapped without positions).

    See Also
    --------
    load_oasis, load_nifti, load_images : Loaders that return a SliceDataset.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.datasets import SliceDataset
    >>> images = np.zeros((6, 16, 16), dtype=np.uint8)
    >>> subjects = ["a", "a", "b", "b", "c", "c"]
    >>> dataset = SliceDataset.from_array(images, subjects=subjects)
    >>> dataset
    SliceDataset(n_slices=6, image_shape=(16, 16), n_subjects=3, storage='memory')
    >>> dataset.to_numpy().shape
    (6, 16, 16, 1)
    >>> train, test = dataset.split_by_subject(test_size=1, random_state=0)
    >>> len(train), len(test)
    (4, 2)
    """

    def __init__(
        self,
        storage: ArraySlices | FileSlices,
        subjects: Sequence[str],
        sources: Sequence[str],
        positions: Any = None,
    ):
        self._storage = storage
        self._subjects = _string_column(subjects, "subjects", len(storage))
        self._sources = _string_column(sources, "sources", len(storage))
        self._positions = None
        if positions is not None:
            self._positions = check_slice_positions(
                positions, n_slices=len(storage), caller="SliceDataset"
            )
            self._positions.flags.writeable = False

    @classmethod
    def from_array(
        cls,
        images: Any,
        subjects: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
        positions: Any = None,
    ) -> SliceDataset:
        """Wrap an array of slices.

        Parameters
        ----------
        images : array-like of shape (n_slices, height, width) or \
(n_slices, height, width, 1)
            uint8 images (scaled by 1/255) or floats in [0, 1].
        subjects : array-like of str of shape (n_slices,), optional
            Subject of every slice. By default every slice is its own subject
            (``"slice_0"``, ``"slice_1"``, ...), so splits are by slice.
        sources : array-like of str of shape (n_slices,), optional
            Where every slice comes from; ``"array[i]"`` by default.
        positions : array-like of float of shape (n_slices,), optional
            Slice position of every slice, in [0, 1]: 0 for the lowest slice
            kept from its volume, 1 for the highest. None (the default) when
            unknown.

        Returns
        -------
        dataset : SliceDataset
            The slices, kept in memory as float32.

        Raises
        ------
        ValueError
            If the images are not a stack of 2D grayscale slices with values in
            [0, 1] (or uint8), ``subjects`` has the wrong length, or
            ``positions`` is not one finite number in [0, 1] per slice.
        TypeError
            If the images are not numeric.

        Examples
        --------
        >>> import numpy as np
        >>> dataset = SliceDataset.from_array(np.ones((2, 8, 8, 1), dtype=np.float32))
        >>> dataset.subjects
        array(['slice_0', 'slice_1'], dtype='<U7')
        >>> dataset.positions is None
        True
        >>> SliceDataset.from_array(np.ones((2, 8, 8)), positions=[0, 1]).positions
        array([0., 1.], dtype=float32)
        """
        array = check_images(images, caller="SliceDataset.from_array")
        if np.may_share_memory(array, images):
            array = array.copy()
        array.flags.writeable = False
        n_slices = len(array)
        if subjects is None:
            subjects = [f"slice_{i}" for i in range(n_slices)]
        if sources is None:
            sources = [f"array[{i}]" for i in range(n_slices)]
        return cls(ArraySlices(array), subjects, sources, positions)

    def __len__(self) -> int:
        return len(self._storage)

    def __repr__(self) -> str:
        storage = "files" if isinstance(self._storage, FileSlices) else "memory"
        return (
            f"SliceDataset(n_slices={len(self)}, image_shape={self.image_shape}, "
            f"n_subjects={len(np.unique(self._subjects))}, storage={storage!r})"
        )

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        images = self.to_numpy()
        return images if dtype is None else images.astype(dtype)

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(height, width)`` of every slice, known without decoding them."""
        return tuple(int(side) for side in self._storage.image_shape)

    @property
    def subjects(self) -> np.ndarray:
        """Subject of every slice, ndarray of str of shape (n_slices,)."""
        return self._subjects

    @property
    def sources(self) -> np.ndarray:
        """Source of every slice, ndarray of str of shape (n_slices,)."""
        return self._sources

    @property
    def positions(self) -> np.ndarray | None:
        """Slice position of every slice, float32 in [0, 1] of shape (n_slices,).

        0 is the lowest slice kept from its volume along the slicing axis, 1 the
        highest (0.5 for a volume that gave one slice); None when unknown. The
        array is read-only.
        """
        return self._positions

    def to_numpy(self) -> np.ndarray:
        """Return all slices as one array.

        Returns
        -------
        images : ndarray of shape (n_slices, height, width, 1), dtype float32
            Values in [0, 1]; a new array on every call.

        Raises
        ------
        ValueError
            If an image file can no longer be decoded, naming it.

        Examples
        --------
        >>> import numpy as np
        >>> dataset = SliceDataset.from_array(np.full((1, 2, 2), 255, dtype=np.uint8))
        >>> dataset.to_numpy()[0, :, :, 0]
        array([[1., 1.],
               [1., 1.]], dtype=float32)
        """
        return self._storage.to_numpy()

    def subset(self, indices: Any) -> SliceDataset:
        """Return the slices at ``indices`` as a new dataset.

        Parameters
        ----------
        indices : array-like of int, or array-like of bool of shape (n_slices,), \
or slice
            Which slices to keep, in the order given.

        Returns
        -------
        dataset : SliceDataset
            The chosen slices, with their subjects, sources and positions.

        Examples
        --------
        >>> import numpy as np
        >>> dataset = SliceDataset.from_array(np.zeros((5, 8, 8), dtype=np.uint8))
        >>> dataset.subset([0, 2]).subjects
        array(['slice_0', 'slice_2'], dtype='<U7')
        """
        rows = np.atleast_1d(np.arange(len(self))[indices])
        return type(self)(
            self._storage.take(rows),
            self._subjects[rows],
            self._sources[rows],
            None if self._positions is None else self._positions[rows],
        )

    def split_by_subject(
        self, test_size: float | int = 0.2, random_state: int | None = None
    ) -> tuple[SliceDataset, SliceDataset]:
        """Split into train and test datasets that share no subject.

        Parameters
        ----------
        test_size : float or int, default=0.2
            Fraction of the subjects (float) or number of subjects (int) in the
            test set.
        random_state : int, optional
            Seed of the shuffle of the subjects.

        Returns
        -------
        train, test : SliceDataset
            Every slice of a subject lands in the same one; slices keep their
            order, sources and positions.

        Raises
        ------
        ValueError
            If the dataset holds fewer than two subjects.

        Examples
        --------
        >>> import numpy as np
        >>> dataset = SliceDataset.from_array(
        ...     np.zeros((4, 8, 8), dtype=np.uint8), subjects=["a", "a", "b", "c"]
        ... )
        >>> train, test = dataset.split_by_subject(test_size=1, random_state=0)
        >>> set(train.subjects) & set(test.subjects)
        set()
        """
        from sklearn.model_selection import GroupShuffleSplit

        n_subjects = len(np.unique(self._subjects))
        if n_subjects < 2:
            raise ValueError(
                "split_by_subject needs slices from at least 2 subjects to keep "
                f"train and test subjects apart; this dataset of {len(self)} "
                f"slice(s) has {n_subjects}. Load more subjects, or split by "
                "slice with subset()."
            )
        splitter = GroupShuffleSplit(
            n_splits=1, test_size=test_size, random_state=random_state
        )
        train, test = next(splitter.split(self._subjects, groups=self._subjects))
        return self.subset(np.sort(train)), self.subset(np.sort(test))

    def split_within_subjects(
        self, test_size: float = 0.2, random_state: int | None = None
    ) -> tuple[SliceDataset, SliceDataset]:
        """Hold out slices of every subject, drawn at random within each subject.

        The held-out slices show the same people as the rest, which is what a
        generator's samples must be compared with: slices of other people are
        told apart from them even when both are real. The draw is random, never
        every other slice, since neighbouring slices of a volume are
        near-duplicates.

        Parameters
        ----------
        test_size : float, default=0.2
            Fraction of each subject's slices held out, in (0, 1); every subject
            with at least two slices keeps one and gives at least one.
        random_state : int, optional
            Seed of the draw.

        Returns
        -------
        train, test : SliceDataset
            Both hold slices of every subject with two or more slices, in their
            original order, with their sources and positions.

        Raises
        ------
        ValueError
            If ``test_size`` is not in (0, 1).

        Examples
        --------
        >>> import numpy as np
        >>> dataset = SliceDataset.from_array(
        ...     np.zeros((8, 8, 8), dtype=np.uint8), subjects=["a"] * 4 + ["b"] * 4
        ... )
        >>> train, test = dataset.split_within_subjects(0.25, random_state=0)
        >>> sorted(set(test.subjects.tolist())), len(train), len(test)
        (['a', 'b'], 6, 2)
        """
        if not (
            isinstance(test_size, numbers.Real)
            and not isinstance(test_size, bool)
            and 0 < test_size < 1
        ):
            raise ValueError(
                "split_within_subjects expected test_size as a fraction in (0, 1) "
                f"of each subject's slices; got {test_size!r}."
            )
        rng = np.random.RandomState(random_state)
        held_out = np.zeros(len(self), dtype=bool)
        for subject in np.unique(self._subjects):
            rows = np.flatnonzero(self._subjects == subject)
            if len(rows) < 2:
                continue
            n_held = min(max(int(round(test_size * len(rows))), 1), len(rows) - 1)
            held_out[rng.choice(rows, n_held, replace=False)] = True
        if not held_out.any():
            raise ValueError(
                "split_within_subjects needs subjects with two slices or more; each "
                f"of the {len(np.unique(self._subjects))} subjects of this dataset "
                "has one. Give the slices their subjects (subjects=...), or split "
                "by slice with subset()."
            )
        return (
            self.subset(np.flatnonzero(~held_out)),
            self.subset(np.flatnonzero(held_out)),
        )

    def as_tf_dataset(
        self, batch_size: int = 32, shuffle: bool = False, seed: int | None = None
    ):
        """Stream the slices as a ``tf.data.Dataset`` of float32 batches.

        Slices read from PNG files are read and decoded by TensorFlow in parallel,
        so a large dataset never has to fit in memory; other image files are
        decoded with Pillow; slices held in memory are sliced from a tensor.

        Parameters
        ----------
        batch_size : int, default=32
            Slices per batch; the last batch may be smaller.
        shuffle : bool, default=False
            Shuffle the slices (a new order every epoch).
        seed : int, optional
            Seed of the shuffle, for a repeatable order.

        Returns
        -------
        dataset : tf.data.Dataset
            Batches of shape (batch_size, height, width, 1), float32 in [0, 1],
            the same values as :meth:`to_numpy`.

        Raises
        ------
        ValueError
            If ``batch_size`` is not a positive int.

        Examples
        --------
        >>> import numpy as np
        >>> dataset = SliceDataset.from_array(np.zeros((5, 8, 8), dtype=np.uint8))
        >>> [tuple(batch.shape) for batch in dataset.as_tf_dataset(batch_size=2)]
        [(2, 8, 8, 1), (2, 8, 8, 1), (1, 8, 8, 1)]
        """
        import tensorflow as tf

        if (
            not isinstance(batch_size, int | np.integer)
            or isinstance(batch_size, bool)
            or batch_size < 1
        ):
            raise ValueError(
                "The 'batch_size' parameter of SliceDataset.as_tf_dataset must be a "
                f"positive int; got {batch_size!r} instead."
            )
        order = tf.data.Dataset.range(len(self))
        if shuffle:
            order = order.shuffle(max(len(self), 1), seed=seed)
        batches = self._storage.tf_dataset(order, int(batch_size))
        return batches.prefetch(tf.data.AUTOTUNE)


def _string_column(values: Sequence[str], name: str, n_slices: int) -> np.ndarray:
    column = np.asarray(values, dtype=str)
    if column.shape != (n_slices,):
        raise ValueError(
            f"SliceDataset expected {name} with one entry per slice, shape "
            f"({n_slices},); got shape {column.shape}."
        )
    column.flags.writeable = False
    return column


def relative_positions(
    indices: Any, groups: Sequence[str] | np.ndarray | None = None
) -> np.ndarray:
    """Slice positions from slice indices along an axis, per group (volume).

    Within each group, ``(k - k_min) / (k_max - k_min)`` for every index ``k``;
    0.5 where a group's indices are all equal (a single slice).

    Examples
    --------
    >>> relative_positions([3, 5, 11, 7], groups=["a", "a", "a", "b"])
    array([0.  , 0.25, 1.  , 0.5 ], dtype=float32)
    """
    indices = np.asarray(indices, dtype=np.float64)
    if groups is None:
        groups = np.zeros(len(indices), dtype=int)
    groups = np.asarray(groups)
    positions = np.empty(len(indices), dtype=np.float64)
    for group in np.unique(groups):
        rows = groups == group
        low, high = indices[rows].min(), indices[rows].max()
        if high > low:
            positions[rows] = (indices[rows] - low) / (high - low)
        else:
            positions[rows] = 0.5
    return positions.astype(np.float32)
