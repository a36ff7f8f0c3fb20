"""One call from "where the data is" to train, validation and test splits."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from oasisgen.datasets._images import load_images
from oasisgen.datasets._nifti import load_nifti
from oasisgen.datasets._oasis import load_oasis
from oasisgen.datasets._sample import load_sample
from oasisgen.datasets._slices import SliceDataset

_NIFTI_SUFFIXES = (".nii", ".nii.gz", ".hdr")
_OASIS_SPLIT_DIR = "keras_png_slices_train"


def load_splits(
    data: str | os.PathLike = "sample",
    image_size: int | tuple[int, int] | None = None,
    *,
    test_size: float = 0.2,
    random_state: int | None = 0,
    on_error: str = "raise",
) -> dict[str, np.ndarray | SliceDataset | None]:
    """Load training, validation and test images from a named source.

    Parameters
    ----------
    data : str or path-like, default="sample"
        ``"sample"`` for the bundled slices; an OASIS root (with
        ``keras_png_slices_train``, ``..._validate`` and ``..._test``); a NIfTI or
        Analyze file or a folder tree of them; or a folder of images.
    image_size : int or tuple of (int, int), optional
        Resize every slice to this size. The bundled sample defaults to 256.
    test_size : float, default=0.2
        Share of subjects held out for testing where the source has no split of its
        own (NIfTI volumes, image folders).
    random_state : int, optional
        Seed of that split.
    on_error : {"raise", "skip"}, default="raise"
        What to do with an image or volume that cannot be read: stop and name it,
        or leave it out with a UserWarning listing the files left out. Passed to
        :func:`load_oasis`, :func:`load_nifti` or :func:`load_images`.

    Returns
    -------
    splits : dict with keys "train", "validate" and "test"
        :class:`SliceDataset` objects; ``"validate"`` is ``None`` where the source
        has no validation split. The datasets keep the subjects and slice positions
        (``positions``) their loader recorded; the bundled sample's are in memory
        and know both.

    Raises
    ------
    FileNotFoundError
        If ``data`` is neither ``"sample"`` nor an existing path.
    ValueError
        If a file cannot be read (with ``on_error="raise"``), naming it.

    Examples
    --------
    >>> from oasisgen.datasets import load_splits
    >>> splits = load_splits("sample", image_size=32)
    >>> splits["train"].image_shape, splits["validate"] is None
    ((32, 32), True)
    >>> splits["train"].positions is not None
    True
    """
    if str(data) == "sample":
        size = 256 if image_size is None else image_size
        return {
            "train": _sample_dataset("train", size),
            "validate": None,
            "test": _sample_dataset("test", size),
        }
    path = Path(data)
    if not path.exists():
        raise FileNotFoundError(
            f"No data at {str(path)!r}: expected 'sample', an OASIS root folder, a "
            "NIfTI file or folder, or a folder of images."
        )
    if (path / _OASIS_SPLIT_DIR).is_dir():
        return {
            split: load_oasis(
                path, split=split, image_size=image_size, on_error=on_error
            )
            for split in ("train", "validate", "test")
        }
    if _holds_volumes(path):
        dataset = load_nifti(path, image_size=image_size or 256, on_error=on_error)
    else:
        dataset = load_images(path, image_size=image_size, on_error=on_error)
    train, test = dataset.split_by_subject(
        test_size=test_size, random_state=random_state
    )
    return {"train": train, "validate": None, "test": test}


def _sample_dataset(split: str, image_size: Any) -> SliceDataset:
    """Return a split of the bundled sample with its subjects and positions."""
    images, subjects, positions = load_sample(
        split, image_size=image_size, return_subjects=True, return_positions=True
    )
    return SliceDataset.from_array(images, subjects, positions=positions)


def _holds_volumes(path: Path) -> bool:
    if path.is_file():
        return path.name.endswith(_NIFTI_SUFFIXES)
    return any(
        name.endswith(_NIFTI_SUFFIXES)
        for _, _, names in os.walk(path)
        for name in names
    )
