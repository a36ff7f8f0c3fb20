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

from oasisgen.datasets.imaging import resize_image

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

    A file that passes decodes later, with Pillow and, for PNG files, with
    TensorFlow. PNG files are checked without being decoded into pixels (see
    :func:`check_png`): every chunk against its checksum, the header, the final
    IEND chunk (which TensorFlow's decoder requires), and the image data, which
    must inflate to every row the header declares. That is what a decoder needs,
    at a fraction of the cost of decoding. Files in other formats are decoded in
    full with Pillow.

    Raises
    ------
    ValueError
        If the file is not an image Pillow can read, or not a valid PNG file,
        naming the file.
    """
    with open(path, "rb") as file:
        signature = file.read(len(PNG_SIGNATURE))
        data = signature + file.read() if signature == PNG_SIGNATURE else b""
    if data:
        try:
            height, width = check_png(data)
        except ValueError as exc:
            raise ValueError(_unreadable(path, exc)) from exc
        return ImageHeader(height, width, "PNG")
    try:
        with Image.open(path) as image:
            width, height = image.size
            image_format = image.format or "unknown"
            image.load()
    except _DECODE_ERRORS as exc:
        raise ValueError(_unreadable(path, exc)) from exc
    to_gray(image, path)
    return ImageHeader(height, width, image_format)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# channels of each PNG color type, and the bit depths it allows
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# the passes of Adam7 interlacing: first column and row, column and row steps
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_CRITICAL_CHUNKS = (b"IHDR", b"PLTE", b"IDAT", b"IEND")


def check_png(data: bytes) -> tuple[int, int]:
    """Check the structure and image data of a PNG file; return (height, width).

    Parameters
    ----------
    data : bytes
        The whole file, starting with the PNG signature.

    Returns
    -------
    shape : tuple of (int, int)
        Height and width from the header.

    Raises
    ------
    ValueError
        Saying what is wrong: a chunk cut short, damaged or with a wrong
        checksum, a missing or invalid header, an unknown critical chunk, image
        data that does not inflate to every row the header declares or has a row
        of unknown filter type, no IEND chunk, or a size Pillow refuses as a
        possible decompression bomb.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.new("L", (5, 3)).save(buffer, format="PNG")
    >>> check_png(buffer.getvalue())
    (3, 5)
    >>> check_png(buffer.getvalue()[:-4])
    Traceback (most recent call last):
    ...
    ValueError: the PNG file is cut short in its IEND chunk (truncated?)
    """
    view = memoryview(data)
    position = len(PNG_SIGNATURE)
    header: tuple[int, int, int, int, bool] | None = None
    image_data: list[memoryview] = []
    idat_done = has_palette = False
    while True:
        if position + 8 > len(data):
            raise ValueError(
                "the PNG file ends without its IEND chunk (truncated?), which "
                "TensorFlow's decoder requires"
            )
        length, kind = struct.unpack_from(">I4s", data, position)
        name = kind.decode("latin-1")
        if not kind.isalpha():
            raise ValueError(f"the PNG file holds a damaged chunk ({name!r})")
        body_end = position + 8 + length
        if body_end + 4 > len(data):
            raise ValueError(
                f"the PNG file is cut short in its {name} chunk (truncated?)"
            )
        body = view[position + 8 : body_end]
        (checksum,) = struct.unpack_from(">I", data, body_end)
        if zlib.crc32(body, zlib.crc32(kind)) != checksum:
            raise ValueError(f"the checksum of the PNG file's {name} chunk is wrong")
        if header is None and kind != b"IHDR":
            raise ValueError(f"the PNG file starts with a {name} chunk, not IHDR")
        if kind == b"IHDR":
            if header is not None:
                raise ValueError("the PNG file has two IHDR chunks")
            header = _png_header(bytes(body))
        elif kind == b"IDAT":
            if idat_done:
                raise ValueError("the PNG file's IDAT chunks are not consecutive")
            image_data.append(body)
        elif kind == b"IEND":
            break
        elif not kind[0] & 0x20 and kind not in _CRITICAL_CHUNKS:
            raise ValueError(f"the PNG file holds an unknown critical chunk {name}")
        has_palette = has_palette or kind == b"PLTE"
        idat_done = bool(image_data) and kind != b"IDAT"
        position = body_end + 4
    height, width, depth, color_type, interlaced = header
    if color_type == 3 and not has_palette:
        raise ValueError("the PNG file has a palette color type but no PLTE chunk")
    if not image_data:
        raise ValueError("the PNG file holds no image data (IDAT chunk)")
    bits = _PNG_CHANNELS[color_type] * depth
    _check_png_rows(b"".join(image_data), _png_passes(height, width, bits, interlaced))
    return height, width


def _png_header(body: bytes) -> tuple[int, int, int, int, bool]:
    """Check an IHDR chunk; return (height, width, depth, color type, interlaced)."""
    if len(body) != 13:
        raise ValueError(f"the PNG file's IHDR chunk is {len(body)} bytes, not 13")
    width, height, depth, color_type, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", body
    )
    if not (0 < width < 2**31 and 0 < height < 2**31):
        raise ValueError(f"the PNG file declares a size of {width}x{height} pixels")
    if depth not in _PNG_DEPTHS.get(color_type, ()):
        raise ValueError(
            f"the PNG file declares color type {color_type} with bit depth {depth}, "
            "which PNG does not allow"
        )
    if compression or filtering or interlace > 1:
        raise ValueError(
            "the PNG file declares an unknown compression, filter or interlace "
            f"method ({compression}, {filtering}, {interlace})"
        )
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > 2 * limit:
        raise ValueError(
            f"Image size ({width * height} pixels) exceeds limit of {2 * limit} "
            "pixels, could be decompression bomb DOS attack."
        )
    return height, width, depth, color_type, bool(interlace)


def _png_passes(
    height: int, width: int, bits_per_pixel: int, interlaced: bool
) -> list[tuple[int, int]]:
    """Return (rows, bytes per row) of each pass of a PNG image's data."""
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    layout = []
    for x0, y0, dx, dy in passes:
        columns, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if columns > 0 and rows > 0:
            layout.append((rows, -(-columns * bits_per_pixel // 8)))
    return layout


def _check_png_rows(compressed: bytes, layout: list[tuple[int, int]]) -> None:
    """Check that image data inflates to every row, each of a known filter type."""
    expected = sum(rows * (1 + size) for rows, size in layout)
    try:
        raw = zlib.decompressobj().decompress(compressed, expected)
    except zlib.error as exc:
        raise ValueError(f"the PNG file's image data is damaged ({exc})") from exc
    if len(raw) < expected:
        raise ValueError(
            f"the PNG file holds {len(raw)} bytes of image data where its header "
            f"declares {expected} (truncated?)"
        )
    start = 0
    for rows, size in layout:
        block = np.frombuffer(raw, np.uint8, rows * (1 + size), start)
        if block.reshape(rows, 1 + size)[:, 0].max() > 4:
            raise ValueError("the PNG file's image data has a row of unknown filter")
        start += rows * (1 + size)


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
