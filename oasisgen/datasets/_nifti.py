"""Cut T1 volumes (NIfTI, or Analyze as OASIS-1 ships them) into 2D slices.

Each volume is reoriented to RAS with ``nibabel.as_closest_canonical``, scaled to
[0, 1] by robust percentiles of its nonzero voxels, and cut along one axis. Slices
are shown as a radiologist's viewer would in neurological convention: anterior up
in axial slices, superior up in coronal and sagittal ones, the patient's right on
the image right (and anterior on the right in sagittal slices). Slices without
enough brain are dropped; the rest are fitted into a square of ``image_size``
pixels keeping the physical aspect of the voxels. Each kept slice records its
position along the axis among the kept slices of its volume (0 lowest, 1 highest).
"""

from __future__ import annotations

import os
import re
import struct
import warnings
import zlib
from collections.abc import Sequence
from numbers import Real
from pathlib import Path

import nibabel as nib
import numpy as np

from oasisgen.datasets._errors import (
    ON_ERROR_OPTIONS,
    check_option,
    read_each,
    skipped_message,
)
from oasisgen.datasets._files import VOLUME_EXTENSIONS, find_files, subject_from_path
from oasisgen.datasets._slices import ArraySlices, SliceDataset, relative_positions
from oasisgen.datasets.imaging import as_size, resize_image

# slicing axis of a RAS volume: x runs left -> right, y posterior -> anterior,
# z inferior -> superior
AXES = {"sagittal": 0, "coronal": 1, "axial": 2}
PERCENTILES = (0.5, 99.5)
MAX_NATIVE_SIDE = 4096  # largest slice side kept with image_size=None
BRAIN_THRESHOLD = 0.1

_BIDS_T1W = re.compile(r"_T1w\.nii(\.gz)?$")
_READ_ERRORS = (
    nib.filebasedimages.ImageFileError,
    nib.spatialimages.HeaderDataError,
    nib.spatialimages.HeaderTypeError,
    nib.spatialimages.ImageDataError,
    nib.orientations.OrientationError,
    OSError,
    OverflowError,  # numpy's memmap, for a header whose sizes overflow
    MemoryError,  # a (broken) header declaring a volume too large to hold
    EOFError,
    ValueError,
    TypeError,
    zlib.error,
    struct.error,
)


def load_nifti(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    image_size: int | tuple[int, int] | None = 256,
    axis: str = "axial",
    *,
    on_error: str = "raise",
    min_brain_fraction: float = 0.1,
) -> SliceDataset:
    """Cut T1-weighted volumes into 2D slices.

    Parameters
    ----------
    path : str, path-like, or list of them
        A volume (``.nii``, ``.nii.gz``, or the ``.hdr`` of an Analyze
        ``.hdr``/``.img`` pair), a list of volumes, a glob pattern, or a folder
        searched recursively for ``.nii``, ``.nii.gz`` and ``.hdr`` files. When a
        folder holds BIDS T1w files (``sub-*/**/anat/*_T1w.nii.gz``) only those
        are loaded, leaving out other modalities.
    image_size : int or tuple of (int, int) or None, default=256
        Side (or ``(height, width)``) of the slices. Each slice is resized
        keeping the physical aspect of its voxels and padded with background to
        this size. None keeps the voxel grid, resampled to square pixels of the
        finest in-plane spacing and padded to a square.
    axis : {"axial", "coronal", "sagittal"}, default="axial"
        Direction of the cut. Axial slices have anterior up; coronal and
        sagittal slices have superior up.
    on_error : {"raise", "skip"}, default="raise"
        What to do with a volume that cannot be read: stop and name it, or leave
        it out with a UserWarning listing the volumes left out.
    min_brain_fraction : float, default=0.1
        Keep a slice only if at least this fraction of its pixels is above 0.1
        after intensity scaling (that is, holds tissue rather than background).

    Returns
    -------
    dataset : SliceDataset
        The slices of every volume, held in memory (as uint8, so 256 grey levels
        like the OASIS PNG slices), each volume's from the lowest index along
        the axis to the highest. Subjects come from the paths: the BIDS
        ``sub-<label>``, the OASIS subject (``OAS1_0001``), or the file name
        without extensions. ``positions`` holds the slice position of every
        slice (see Notes).

    Raises
    ------
    FileNotFoundError
        If a path does not exist, a pattern matches nothing, or a folder holds
        no volumes.
    ValueError
        If a volume cannot be read or is not 3D (4D series give their first
        volume), no slice holds enough brain, the slices differ in size with
        ``image_size=None``, or an option is not an allowed value.

    Notes
    -----
    Intensities are mapped linearly to [0, 1] and clipped, per volume: the 99.5th
    percentile of the nonzero voxels becomes 1, and zero (or the 0.5th percentile
    of the nonzero voxels, if that is negative) becomes 0, so background stays
    black and the darkest tissue does not. NaN and infinite voxels count as
    background.

    The slice position of a slice is ``(k - k_min) / (k_max - k_min)``, where
    ``k`` is its index along the axis of the volume reoriented to RAS and
    ``k_min``, ``k_max`` are the lowest and highest indices of the slices kept
    from that volume (0.5 when only one is kept). It runs from inferior (0) to
    superior (1) in axial slices, from posterior to anterior in coronal slices,
    and from the patient's left to right in sagittal slices.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import nibabel as nib
    >>> import numpy as np
    >>> from oasisgen.datasets import load_nifti
    >>> x, y, z = np.mgrid[:20, :24, :16]
    >>> head = ((x - 10) / 8) ** 2 + ((y - 12) / 10) ** 2 + ((z - 8) / 7) ** 2 < 1
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "sub-01_T1w.nii.gz"
    ...     nib.save(nib.Nifti1Image(100.0 * head, np.eye(4)), path)
    ...     dataset = load_nifti(path, image_size=32)
    >>> dataset
    SliceDataset(n_slices=13, image_shape=(32, 32), n_subjects=1, storage='memory')
    >>> dataset.subjects[0]
    np.str_('sub-01')
    >>> print(dataset.positions[[0, 6, -1]])
    [0.  0.5 1. ]
    """
    caller = "load_nifti"
    check_option(axis, name="axis", allowed=tuple(AXES), caller=caller)
    check_option(on_error, name="on_error", allowed=ON_ERROR_OPTIONS, caller=caller)
    size = None if image_size is None else as_size(image_size)
    _check_fraction(min_brain_fraction)
    paths = find_volumes(path)

    def cut(volume_path):
        return volume_slices(volume_path, AXES[axis], size, min_brain_fraction)

    results, skipped = read_each(paths, cut, on_error=on_error, caller=caller)
    if skipped:
        warnings.warn(
            skipped_message(skipped, len(paths), caller), UserWarning, stacklevel=2
        )
    empty = [os.fspath(p) for p, (slices, _) in results if len(slices) == 0]
    results = [(p, cut) for p, cut in results if len(cut[0])]
    if not results:
        raise ValueError(_no_brain_message(empty, min_brain_fraction))
    if empty:
        warnings.warn(
            f"load_nifti kept no slice of {len(empty)} volume(s), whose slices hold "
            f"too little brain (min_brain_fraction={min_brain_fraction}): "
            f"{', '.join(empty)}",
            UserWarning,
            stacklevel=2,
        )
    return _stack(results)


def find_volumes(path: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """List the volume files ``path`` points at (see :func:`load_nifti`)."""
    if isinstance(path, str | os.PathLike):
        items = [path]
    else:
        items = list(path)
        if not items:
            raise ValueError("load_nifti received an empty list of paths.")
    files = []
    for item in items:
        found = find_files(
            item, extensions=VOLUME_EXTENSIONS, caller="load_nifti", recursive=True
        )
        if Path(item).is_dir() and any(_BIDS_T1W.search(f.name) for f in found):
            found = [f for f in found if _BIDS_T1W.search(f.name)]
        files.extend(found)
    return _without_img_twins(files)


def _without_img_twins(files: list[Path]) -> list[Path]:
    """Drop ``x.img`` when ``x.hdr`` is in the list too: they are one volume."""
    headers = {f.with_suffix("") for f in files if f.suffix.lower() == ".hdr"}
    return [
        f
        for f in files
        if not (f.suffix.lower() == ".img" and f.with_suffix("") in headers)
    ]


def volume_slices(
    path: str | os.PathLike,
    axis: int,
    image_size: tuple[int, int] | None,
    min_brain_fraction: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Read one volume and return its brain slices and their positions.

    Returns
    -------
    slices : ndarray of uint8 of shape (n, height, width, 1)
        The kept slices, from the lowest index along ``axis`` to the highest.
    positions : ndarray of float32 of shape (n,)
        Their slice positions among the kept slices, 0 to 1.
    """
    volume, spacing = read_canonical(path)
    slices = _cut(_scale_intensities(volume), axis)
    others = [i for i in range(3) if i != axis]
    row_mm, col_mm = spacing[others[1]], spacing[others[0]]
    brain = (slices > BRAIN_THRESHOLD).mean(axis=(1, 2)) >= min_brain_fraction
    if image_size is None:
        pixel_mm = min(row_mm, col_mm)
        side = max(slices.shape[1] * row_mm, slices.shape[2] * col_mm) / pixel_mm
        if side > MAX_NATIVE_SIDE:
            raise ValueError(
                f"{os.fspath(path)} has voxels of {tuple(spacing.tolist())} mm, so "
                f"square pixels would make slices of {side:.0f} pixels a side, more "
                f"than {MAX_NATIVE_SIDE}. Pass image_size (such as image_size=256)."
            )
    # the index along the axis of a RAS volume grows to the right, anterior or
    # superior end (see _cut), so 0 is the left, posterior or inferior end
    positions = relative_positions(np.flatnonzero(brain))
    return _fit(slices[brain], (row_mm, col_mm), image_size), positions


def read_canonical(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a volume in RAS orientation, with its voxel sizes in mm.

    Raises
    ------
    ValueError
        If the file is not a readable volume, or not 3D or 4D; naming the file.
    """
    try:
        image = nib.load(path)
    except _READ_ERRORS as exc:
        raise ValueError(_unreadable(path, exc)) from exc
    if image.ndim not in (3, 4):
        raise ValueError(
            f"load_nifti expected a 3D volume (or a 4D series, whose first volume "
            f"is used) in {os.fspath(path)}; got an image of shape {image.shape}."
        )
    try:
        image = nib.as_closest_canonical(image)
        data = image.dataobj[..., 0] if image.ndim == 4 else image.dataobj
        volume = np.asarray(data, dtype=np.float32)
    except _READ_ERRORS as exc:
        raise ValueError(_unreadable(path, exc)) from exc
    spacing = nib.affines.voxel_sizes(image.affine)[:3]
    if not (np.all(np.isfinite(spacing)) and np.all(spacing > 0)):
        raise ValueError(
            f"{os.fspath(path)} has voxel sizes {tuple(spacing.tolist())} mm; "
            "expected positive finite sizes. Its header (pixdim, qform or sform) "
            "is broken; fix or remove the file, or pass on_error='skip'."
        )
    return np.nan_to_num(volume, nan=0.0, posinf=0.0, neginf=0.0), spacing


def _scale_intensities(volume: np.ndarray) -> np.ndarray:
    """Map robust percentiles of the nonzero voxels to [0, 1], clipped."""
    foreground = volume[volume != 0]
    if foreground.size == 0:
        return np.zeros_like(volume)
    low, high = np.percentile(foreground, PERCENTILES)
    # zero is no signal in a magnitude image: the darkest tissue stays above it
    low = min(low, 0.0)
    if high <= low:
        return np.zeros_like(volume)
    scaled = (volume - np.float32(low)) / np.float32(high - low)
    return np.clip(scaled, 0.0, 1.0, out=scaled)


def _cut(volume: np.ndarray, axis: int) -> np.ndarray:
    """Cut a RAS volume into (n, rows, cols) slices, the last in-plane axis up."""
    slices = np.moveaxis(volume, axis, 0)
    # rows run along the second in-plane axis, flipped so that its far end
    # (anterior or superior) is the top row; columns along the first one
    return np.flip(np.swapaxes(slices, 1, 2), axis=1)


def _fit(
    slices: np.ndarray,
    spacing: tuple[float, float],
    image_size: tuple[int, int] | None,
) -> np.ndarray:
    """Resize slices to their physical aspect and pad them into the target size."""
    n_slices, rows, cols = slices.shape
    height_mm, width_mm = rows * spacing[0], cols * spacing[1]
    if image_size is None:
        pixel_mm = min(spacing)
        inner = (round(height_mm / pixel_mm), round(width_mm / pixel_mm))
        target = (max(inner), max(inner))
    else:
        scale = min(image_size[0] / height_mm, image_size[1] / width_mm)
        inner = (max(1, round(height_mm * scale)), max(1, round(width_mm * scale)))
        target = image_size
    top, left = (target[0] - inner[0]) // 2, (target[1] - inner[1]) // 2
    out = np.zeros((n_slices, *target, 1), dtype=np.uint8)
    for i, image in enumerate(slices):
        resized = resize_image(image, inner)
        out[i, top : top + inner[0], left : left + inner[1], 0] = np.round(
            resized * 255
        )
    return out


def _stack(results: list[tuple[Path, tuple[np.ndarray, np.ndarray]]]) -> SliceDataset:
    first_path, (first, _) = results[0]
    for path, (slices, _) in results:
        if slices.shape[1:] != first.shape[1:]:
            raise ValueError(
                f"load_nifti cut slices of different sizes: {os.fspath(first_path)} "
                f"gives {first.shape[1]}x{first.shape[2]} and {os.fspath(path)} gives "
                f"{slices.shape[1]}x{slices.shape[2]}. Pass image_size (such as "
                "image_size=256) to bring them to one size."
            )
    images = np.concatenate([slices for _, (slices, _) in results])
    positions = np.concatenate([positions for _, (_, positions) in results])
    sources = [
        os.path.abspath(p) for p, (slices, _) in results for _ in range(len(slices))
    ]
    subjects = [subject_from_path(source) for source in sources]
    return SliceDataset(ArraySlices(images), subjects, sources, positions)


def _check_fraction(value: object) -> None:
    if (
        not isinstance(value, Real)
        or isinstance(value, bool)
        or not 0.0 <= float(value) <= 1.0
    ):
        raise ValueError(
            "The 'min_brain_fraction' parameter of load_nifti must be a float in "
            f"[0, 1]; got {value!r} instead."
        )


def _no_brain_message(empty: list[str], fraction: float) -> str:
    return (
        f"load_nifti found no slice with brain in the {len(empty)} volume(s) it "
        f"read ({', '.join(empty[:3])}{', ...' if len(empty) > 3 else ''}): a slice "
        f"is kept when at least {fraction:.0%} of its pixels are above "
        f"{BRAIN_THRESHOLD} after intensity scaling. Lower min_brain_fraction, or "
        "check that the files are brain volumes."
    )


def _unreadable(path: str | os.PathLike, exc: BaseException) -> str:
    return (
        f"Could not read {os.fspath(path)} as a NIfTI or Analyze volume: {exc}. "
        "Expected a .nii, .nii.gz, or .hdr file with its .img beside it; remove "
        "or replace the file, or pass on_error='skip'."
    )
