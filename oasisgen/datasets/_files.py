"""Finding slice and volume files, naming their subjects, and decoding 2D images.

Everything here reads; nothing ever writes into the folders it is pointed at.
"""

from __future__ import annotations

import glob
import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from oasisgen.datasets._imaging import resize_image

IMAGE_EXTENSIONS = (
    ".png",
    ".jpg",
    ".jpeg",
    ".tif",
    ".tiff",
    ".bmp",
    ".gif",
    ".webp",
    ".pgm",
    ".ppm",
)
VOLUME_EXTENSIONS = (".nii", ".nii.gz", ".hdr")

# ITU-R 601-2 luma, the weights Pillow uses for RGB -> L
LUMA_WEIGHTS = (0.299, 0.587, 0.114)

# the exceptions Pillow raises for files it cannot decode, or will not: a header
# declaring billions of pixels is refused as a possible decompression bomb
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    zlib.error,
    struct.error,
    Image.DecompressionBombError,
)

_BIDS_FILE = re.compile(r"^(sub-[A-Za-z0-9]+)_")
_BIDS_FOLDER = re.compile(r"^sub-[A-Za-z0-9]+$")
_OASIS_SUBJECT = re.compile(r"OAS\d_\d{4}")
_SLICE_NAME = re.compile(r"^(.+?)_slice_?\d+", re.IGNORECASE)
_STRIPPED_SUFFIXES = (".gz", ".nii", ".hdr", ".img", *IMAGE_EXTENSIONS)


def natural_key(path: str | os.PathLike) -> list:
    """Sort key under which ``slice_2`` comes before ``slice_10``.

    Examples
    --------
    >>> sorted(["slice_10.png", "slice_2.png"], key=natural_key)
    ['slice_2.png', 'slice_10.png']
    """
    parts = re.split(r"(\d+)", os.fspath(path))
    return [int(part) if i % 2 else part.lower() for i, part in enumerate(parts)]


def find_files(
    path_or_glob: str | os.PathLike,
    *,
    extensions: tuple[str, ...],
    caller: str,
    recursive: bool = False,
) -> list[Path]:
    """List the files a loader was pointed at, in natural order.

    A folder gives its files ending in one of ``extensions`` (hidden files left
    out), a file gives itself, and a glob pattern gives every file it matches.

    Raises
    ------
    FileNotFoundError
        If the path does not exist, the pattern matches nothing, or the folder
        holds no file with one of the extensions.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     find_files(folder, extensions=(".png",), caller="demo")
    Traceback (most recent call last):
    ...
    FileNotFoundError: demo found no files ending in .png in ...
    """
    text = os.fspath(path_or_glob)
    path = Path(text).expanduser()
    if path.is_dir():
        files = _files_in_folder(path, extensions, recursive)
        if not files:
            where = "under" if recursive else "in"
            raise FileNotFoundError(
                f"{caller} found no files ending in {', '.join(extensions)} "
                f"{where} {path}."
            )
    elif path.is_file():
        files = [path]
    elif glob.has_magic(text):
        matches = glob.glob(os.path.expanduser(text), recursive=True)
        files = [Path(match) for match in matches if Path(match).is_file()]
        if not files:
            raise FileNotFoundError(f"{caller}: the pattern {text!r} matched no files.")
    else:
        raise FileNotFoundError(
            f"{caller} could not find {text!r}: no such file or folder."
        )
    return sorted(files, key=natural_key)


def _files_in_folder(folder: Path, extensions: tuple[str, ...], recursive: bool):
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    return [
        path
        for path in candidates
        if path.name.lower().endswith(extensions)
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        and path.is_file()
    ]


def strip_extensions(name: str) -> str:
    """Return a file name without its image or volume extensions.

    Examples
    --------
    >>> strip_extensions("case_001_slice_0.nii.png")
    'case_001_slice_0'
    """
    while name.lower().endswith(_STRIPPED_SUFFIXES):
        name = name[: name.rindex(".")]
    return name


def subject_from_path(path: str | os.PathLike) -> str:
    """Name the subject a slice or volume file belongs to.

    In order: a BIDS ``sub-<label>`` prefix of the file name, an OASIS subject
    (``OAS1_0001``) in the file name, the part before ``_slice_<n>``, a BIDS
    ``sub-<label>`` folder above the file, and last the file name without its
    extensions.

    Examples
    --------
    >>> subject_from_path("keras_png_slices_train/case_001_slice_0.nii.png")
    'case_001'
    >>> subject_from_path("OAS1_0001_MR1_mpr_n4_anon_111_t88_masked_gfc.hdr")
    'OAS1_0001'
    >>> subject_from_path("bids/sub-02/ses-1/anat/sub-02_ses-1_T1w.nii.gz")
    'sub-02'
    >>> subject_from_path("scans/brain.nii.gz")
    'brain'
    """
    path = Path(path)
    for pattern in (_BIDS_FILE, _OASIS_SUBJECT, _SLICE_NAME):
        match = pattern.search(path.name)
        if match:
            return match.group(match.lastindex or 0)
    for folder in reversed(path.parent.parts):
        if _BIDS_FOLDER.match(folder):
            return folder
    return strip_extensions(path.name)


@dataclass(frozen=True)
class ImageHeader:
    """Size and format of an image file, read without decoding its pixels."""

    height: int
    width: int
    format: str


def read_header(path: str | os.PathLike) -> ImageHeader:
    """Check an image file and return its size and format.

    Every file is decoded in full, so a file that passes will decode later (with
    Pillow, and with TensorFlow for PNG files, whose every chunk is also checked
    against its checksum and which must end in a complete IEND chunk).

    Raises
    ------
    ValueError
        If the file is not an image Pillow can read, naming the file.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
            image_format = image.format or "unknown"
            if image_format == "PNG":
                image.verify()
                _check_png_end(path)
        with Image.open(path) as image:
            image.load()
    except _DECODE_ERRORS as exc:
        raise ValueError(_unreadable(path, exc)) from exc
    to_gray(image, path)
    return ImageHeader(height, width, image_format)


_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # an empty IEND chunk and its CRC


def _check_png_end(path: str | os.PathLike) -> None:
    with open(path, "rb") as file:
        if _PNG_END not in file.read():
            raise ValueError(
                "the PNG file ends without its IEND chunk (truncated?), which "
                "TensorFlow's decoder requires"
            )


def read_slice(
    path: str | os.PathLike,
    image_size: tuple[int, int] | None,
    expected_shape: tuple[int, int],
) -> np.ndarray:
    """Decode one image file as a 2D float32 slice in [0, 1], resized if asked.

    Raises
    ------
    ValueError
        If the file cannot be decoded, or its size is not ``expected_shape``
        (the file changed after the dataset was built).
    """
    try:
        with Image.open(path) as image:
            image.load()
    except _DECODE_ERRORS as exc:
        raise ValueError(_unreadable(path, exc)) from exc
    pixels = to_gray(image, path)
    if image_size is not None:
        pixels = resize_image(pixels, image_size)
    if pixels.shape != tuple(expected_shape):
        raise ValueError(
            f"{os.fspath(path)} is {pixels.shape[0]}x{pixels.shape[1]} pixels; "
            f"expected {expected_shape[0]}x{expected_shape[1]} like the other "
            "slices of this dataset. Did the file change after it was loaded?"
        )
    return pixels


def read_slices(
    paths: list[str],
    image_size: tuple[int, int] | None,
    expected_shape: tuple[int, int],
) -> np.ndarray:
    """Decode image files into a (n, height, width, 1) float32 array."""
    out = np.empty((len(paths), *expected_shape, 1), dtype=np.float32)
    for i, path in enumerate(paths):
        out[i, ..., 0] = read_slice(path, image_size, expected_shape)
    return out


def to_gray(image: Image.Image, path: str | os.PathLike = "image") -> np.ndarray:
    """Convert a Pillow image to a 2D float32 array in [0, 1].

    8-bit images are scaled by 1/255, 16-bit ones by 1/65535; color images become
    their luminance (ITU-R 601-2 weights), alpha is dropped.

    Examples
    --------
    >>> from PIL import Image
    >>> to_gray(Image.new("RGB", (2, 1), (255, 0, 0)))
    array([[0.299, 0.299]], dtype=float32)
    """
    mode = image.mode
    if mode in ("L", "LA", "1"):
        pixels = np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255)
    elif mode.startswith("I"):
        pixels = _sixteen_bit(np.asarray(image), path)
    elif mode == "F":
        pixels = _unit_floats(np.asarray(image, dtype=np.float32), path)
    else:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / np.float32(255)
        pixels = luminance(rgb)
    return np.ascontiguousarray(pixels, dtype=np.float32)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Weighted sum of the red, green and blue channels (last axis), as float32."""
    red, green, blue = (rgb[..., i] * np.float32(w) for i, w in enumerate(LUMA_WEIGHTS))
    return np.clip(red + green + blue, 0.0, 1.0).astype(np.float32)


def _sixteen_bit(pixels: np.ndarray, path) -> np.ndarray:
    if pixels.size and (pixels.min() < 0 or pixels.max() > 65535):
        raise ValueError(
            f"{os.fspath(path)} holds integers in [{pixels.min()}, {pixels.max()}]; "
            "expected 8-bit or 16-bit grayscale (0 to 65535)."
        )
    return pixels.astype(np.float32) / np.float32(65535)


def _unit_floats(pixels: np.ndarray, path) -> np.ndarray:
    if not np.all(np.isfinite(pixels)) or (
        pixels.size and (pixels.min() < 0 or pixels.max() > 1)
    ):
        raise ValueError(
            f"{os.fspath(path)} holds floating-point pixels outside [0, 1] (or NaN); "
            "expected floats in [0, 1], or 8-bit or 16-bit integers."
        )
    return pixels


def _unreadable(path, exc: BaseException) -> str:
    return (
        f"Could not read {os.fspath(path)} as an image: {exc}. Expected a grayscale "
        f"or color image file ({', '.join(IMAGE_EXTENSIONS)}); remove or replace "
        "the file, or pass on_error='skip'."
    )
