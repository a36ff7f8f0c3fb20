"""Load a folder (or glob) of 2D grayscale image files as a SliceDataset."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from oasisgen.datasets._errors import (
    ON_ERROR_OPTIONS,
    check_option,
    read_each,
    skipped_message,
)
from oasisgen.datasets._files import (
    IMAGE_EXTENSIONS,
    ImageHeader,
    find_files,
    read_header,
    subject_from_path,
)
from oasisgen.datasets._slices import FileSlices, SliceDataset
from oasisgen.datasets.imaging import as_size

# files are checked on this many threads: inflating PNG data and Pillow's decoders
# release the GIL
_READ_THREADS = min(4, os.cpu_count() or 1)


def load_images(
    path_or_glob: str | os.PathLike,
    image_size: int | tuple[int, int] | None = None,
    *,
    on_error: str = "raise",
) -> SliceDataset:
    """Load 2D grayscale image files (PNG, JPEG, TIFF, BMP, ...) as slices.

    Color images become their luminance, alpha is dropped, 8-bit images are scaled
    by 1/255 and 16-bit ones by 1/65535. Every file is checked when the dataset is
    built; the pixels are decoded only when :meth:`SliceDataset.to_numpy` or
    :meth:`SliceDataset.as_tf_dataset` asks for them.

    Parameters
    ----------
    path_or_glob : str or path-like
        A folder (its image files, not those in subfolders), one image file, or
        a glob pattern such as ``"scans/**/*.png"``.
    image_size : int or tuple of (int, int), optional
        Resize every image to this side (or ``(height, width)``). By default the
        images keep their size, which must then be the same for all.
    on_error : {"raise", "skip"}, default="raise"
        What to do with a file that cannot be read: stop and name it, or leave it
        out with a UserWarning listing the files left out.

    Returns
    -------
    dataset : SliceDataset
        One slice per file, in natural order of the paths (``slice_2`` before
        ``slice_10``). Subjects are parsed from the file names (``case_001``
        from ``case_001_slice_0.png``, ``sub-01`` from BIDS names); a file whose
        name has no subject is its own subject. ``positions`` is None: a folder
        of images does not say where along the head its slices lie.

    Raises
    ------
    FileNotFoundError
        If the path does not exist, the pattern matches nothing, or the folder
        holds no image files.
    ValueError
        If a file is not a readable image (with ``on_error="raise"``), the
        images differ in size and ``image_size`` is not given, or an option is
        not one of its allowed values.

    See Also
    --------
    load_oasis : The OASIS PNG layout, split by split.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from oasisgen.datasets import load_images
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for i in range(3):
    ...         pixels = np.full((32, 32), 80 * i, dtype=np.uint8)
    ...         Image.fromarray(pixels).save(Path(folder) / f"scan_{i}.png")
    ...     dataset = load_images(folder, image_size=16)
    ...     images = dataset.to_numpy()
    >>> dataset
    SliceDataset(n_slices=3, image_shape=(16, 16), n_subjects=3, storage='files')
    >>> images.shape, images.dtype
    ((3, 16, 16, 1), dtype('float32'))
    """
    caller = "load_images"
    check_option(on_error, name="on_error", allowed=ON_ERROR_OPTIONS, caller=caller)
    size = None if image_size is None else as_size(image_size)
    paths = find_files(path_or_glob, extensions=IMAGE_EXTENSIONS, caller=caller)
    dataset, skipped = dataset_from_files(paths, size, on_error=on_error, caller=caller)
    if skipped:
        warnings.warn(
            skipped_message(skipped, len(paths), caller), UserWarning, stacklevel=2
        )
    return dataset


def dataset_from_files(
    paths: Sequence[str | os.PathLike],
    image_size: tuple[int, int] | None,
    *,
    on_error: str,
    caller: str,
    positions: Callable[[list[str]], np.ndarray | None] | None = None,
) -> tuple[SliceDataset, list]:
    """Check image files and wrap the readable ones in a file-backed SliceDataset.

    ``positions``, if given, maps the absolute paths of the readable files to
    their slice positions (or None when they cannot be known).

    Returns
    -------
    dataset : SliceDataset
        The readable files, decoded on demand.
    skipped : list of (path, reason)
        Files left out under ``on_error="skip"``.
    """
    results, skipped = read_each(
        paths, read_header, on_error=on_error, caller=caller, threads=_READ_THREADS
    )
    files = [os.path.abspath(path) for path, _ in results]
    headers = [header for _, header in results]
    if image_size is None:
        image_shape = _common_shape(files, headers, caller)
    else:
        image_shape = image_size
    storage = FileSlices(
        files, [header.format for header in headers], image_shape, image_size
    )
    subjects = [subject_from_path(path) for path in files]
    slice_positions = None if positions is None else positions(files)
    return SliceDataset(storage, subjects, files, slice_positions), skipped


def _common_shape(
    files: list[str], headers: list[ImageHeader], caller: str
) -> tuple[int, int]:
    first = headers[0]
    for path, header in zip(files, headers, strict=True):
        if (header.height, header.width) != (first.height, first.width):
            raise ValueError(
                f"{caller} found images of different sizes: {files[0]} is "
                f"{first.height}x{first.width} pixels but {path} is "
                f"{header.height}x{header.width}. Pass image_size (such as "
                "image_size=256) to resize them all to one size."
            )
    return first.height, first.width
