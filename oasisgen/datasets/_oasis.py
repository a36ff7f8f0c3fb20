"""Load the OASIS brain MRI slices in the PNG layout they are distributed in.

The layout is a root folder holding ``keras_png_slices_train``,
``keras_png_slices_validate`` and ``keras_png_slices_test`` (256x256 grayscale PNG
slices named like ``case_001_slice_0.nii.png``), beside ``keras_png_slices_seg_*``
folders of segmentation labels, which are not loaded. The number ``N`` in
``slice_N`` gives each slice's position among the slices of its case.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oasisgen.datasets._errors import ON_ERROR_OPTIONS, check_option, skipped_message
from oasisgen.datasets._files import find_files, strip_extensions
from oasisgen.datasets._images import dataset_from_files
from oasisgen.datasets._slices import SliceDataset, relative_positions
from oasisgen.datasets.imaging import as_size

SPLITS = ("train", "validate", "test")
_FOLDER = "keras_png_slices_{}"
# case_001_slice_12.nii.png (without its extensions): the case and the slice number
_CASE_SLICE = re.compile(r"(.+?)_slice_?(\d+)", re.IGNORECASE)


def load_oasis(
    root: str | os.PathLike,
    split: str = "train",
    image_size: int | tuple[int, int] | None = None,
    *,
    on_error: str = "raise",
) -> SliceDataset:
    """Load one split of the OASIS PNG slices.

    Parameters
    ----------
    root : str or path-like
        The folder holding ``keras_png_slices_train``, ``keras_png_slices_validate``
        and ``keras_png_slices_test``; or one of those folders itself, which is
        then loaded whatever ``split`` says.
    split : {"train", "validate", "test"}, default="train"
        Which split to load.
    image_size : int or tuple of (int, int), optional
        Resize every slice to this side (or ``(height, width)``). By default the
        slices keep their size (256x256 in the OASIS release).
    on_error : {"raise", "skip"}, default="raise"
        What to do with a file that cannot be read: stop and name it, or leave it
        out with a UserWarning listing the files left out.

    Returns
    -------
    dataset : SliceDataset
        One slice per PNG file, read from disk on demand. The subject of each
        slice is parsed from its file name (``case_001`` from
        ``case_001_slice_0.nii.png``; the file name when it does not match).
        ``positions`` holds the slice position of each slice, from the ``N`` of
        its name ``<case>_slice_<N>`` (such as ``case_001_slice_12.nii.png``):
        ``(N - N_min) / (N_max - N_min)`` over the files of that case loaded from
        this split (0.5 for a case with one file), so 0 is the case's lowest
        ``N`` and 1 its highest, whatever order the files are listed in and
        whatever gaps the numbers have. ``positions`` is None for the whole
        dataset when a file name does not follow that pattern.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist or holds neither the split folder nor PNG
        slices; the message lists the folders expected.
    ValueError
        If ``split`` or ``on_error`` is not an allowed value, ``root`` is a folder
        of segmentation labels, a file is not a readable PNG, or the slices
        differ in size and ``image_size`` is not given.

    See Also
    --------
    load_images : Any folder or glob of images.
    SliceDataset.split_by_subject : Split off a validation set by subject.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from oasisgen.datasets import load_oasis
    >>> with tempfile.TemporaryDirectory() as root:
    ...     folder = Path(root) / "keras_png_slices_train"
    ...     folder.mkdir()
    ...     for case in (1, 2):
    ...         for i in range(2):
    ...             name = f"case_{case:03d}_slice_{i}.nii.png"
    ...             Image.fromarray(np.zeros((32, 32), np.uint8)).save(folder / name)
    ...     dataset = load_oasis(root, split="train")
    >>> dataset
    SliceDataset(n_slices=4, image_shape=(32, 32), n_subjects=2, storage='files')
    >>> dataset.subjects
    array(['case_001', 'case_001', 'case_002', 'case_002'], dtype='<U8')
    >>> dataset.positions
    array([0., 1., 0., 1.], dtype=float32)
    """
    caller = "load_oasis"
    check_option(split, name="split", allowed=SPLITS, caller=caller)
    check_option(on_error, name="on_error", allowed=ON_ERROR_OPTIONS, caller=caller)
    size = None if image_size is None else as_size(image_size)
    folder = _split_folder(Path(root).expanduser(), split)
    paths = find_files(folder, extensions=(".png",), caller=caller)
    dataset, skipped = dataset_from_files(
        paths, size, on_error=on_error, caller=caller, positions=slice_positions
    )
    if skipped:
        warnings.warn(
            skipped_message(skipped, len(paths), caller), UserWarning, stacklevel=2
        )
    return dataset


def slice_positions(paths: Sequence[str]) -> np.ndarray | None:
    """Slice positions from ``<case>_slice_<N>`` file names, per case.

    Returns None if a file name does not follow the pattern.

    Examples
    --------
    >>> slice_positions(["case_001_slice_4.nii.png", "case_001_slice_0.nii.png"])
    array([1., 0.], dtype=float32)
    >>> slice_positions(["case_001_slice_0.nii.png", "brain.png"]) is None
    True
    """
    cases, numbers = [], []
    for path in paths:
        match = _CASE_SLICE.fullmatch(strip_extensions(Path(path).name))
        if match is None:
            return None
        cases.append(match.group(1))
        numbers.append(int(match.group(2)))
    return relative_positions(numbers, groups=cases)


def _split_folder(root: Path, split: str) -> Path:
    """Return the folder of PNG slices for ``split`` under (or at) ``root``."""
    if not root.exists():
        raise FileNotFoundError(
            f"load_oasis could not find {os.fspath(root)!r}: no such folder."
        )
    if not root.is_dir():
        raise NotADirectoryError(
            f"load_oasis expected a folder as root; {os.fspath(root)!r} is a file. "
            "Use load_images for single files."
        )
    folder = root / _FOLDER.format(split)
    if folder.is_dir():
        return folder
    if root.name.startswith("keras_png_slices_seg"):
        raise ValueError(
            f"load_oasis was pointed at {os.fspath(root)!r}, a folder of "
            "segmentation labels, not of MRI slices. Pass the folder that holds "
            "keras_png_slices_train, _validate and _test (or one of those)."
        )
    if any(path.suffix.lower() == ".png" for path in root.iterdir()):
        return root
    raise FileNotFoundError(_layout_message(root, split))


def _layout_message(root: Path, split: str) -> str:
    expected = ", ".join(_FOLDER.format(name) for name in SPLITS)
    found = sorted(
        path.name
        for path in root.iterdir()
        if path.is_dir() and path.name.startswith("keras_png_slices")
    )
    found_text = f" It holds {', '.join(found)}." if found else ""
    return (
        f"load_oasis found no folder {_FOLDER.format(split)} in "
        f"{os.fspath(root)!r}, and no PNG slices directly in it. Expected the OASIS "
        f"layout: the folders {expected} inside root, or root being one of them."
        f"{found_text}"
    )
