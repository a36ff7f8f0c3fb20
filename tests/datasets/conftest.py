"""Small image folders and volumes, written per test into tmp_path."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

SPLITS = ("train", "validate", "test")
CASES = {"train": (1, 2, 3), "validate": (4, 5, 6), "test": (7, 8, 9)}
SLICE_NUMBERS = (0, 2, 10)

# the synthetic head: RAS voxel grid (x: left -> right, y: posterior -> anterior,
# z: inferior -> superior), and a bright marker at its anterior, superior, right end
HEAD_SHAPE = (32, 40, 24)
MARKER = (slice(18, 24), slice(28, 34), slice(13, 19))


def random_slice(rng, size=32) -> np.ndarray:
    """A uint8 slice: a noisy bright disc on a black background."""
    yy, xx = np.mgrid[:size, :size] / (size - 1) - 0.5
    disc = xx**2 + yy**2 < 0.16
    noise = rng.integers(60, 250, size=(size, size))
    return (disc * noise).astype(np.uint8)


def write_png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def oasis_root(tmp_path) -> Path:
    """The OASIS PNG layout: 3 cases x 3 slices of 32x32 per split, and labels."""
    rng = np.random.default_rng(0)
    root = tmp_path / "oasis"
    for split in SPLITS:
        for case in CASES[split]:
            for number in SLICE_NUMBERS:
                name = f"case_{case:03d}_slice_{number}.nii.png"
                write_png(root / f"keras_png_slices_{split}" / name, random_slice(rng))
                # labels of another size: loading them by mistake would fail
                labels = np.zeros((16, 16), dtype=np.uint8)
                write_png(root / f"keras_png_slices_seg_{split}" / name, labels)
    return root


@pytest.fixture
def png_folder(tmp_path) -> Path:
    """A flat folder of four 32x32 grayscale PNGs."""
    rng = np.random.default_rng(1)
    folder = tmp_path / "pngs"
    for number in (1, 2, 10, 3):
        write_png(folder / f"scan_slice_{number}.png", random_slice(rng))
    return folder


def head_volume(shape=HEAD_SHAPE) -> np.ndarray:
    """A RAS float volume: an ellipsoid of 100 with a 400 marker (see MARKER)."""
    x, y, z = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    centre = [(n - 1) / 2 for n in shape]
    radii = [0.45 * n for n in shape]
    inside = (
        sum(
            ((c - m) / r) ** 2 for c, m, r in zip((x, y, z), centre, radii, strict=True)
        )
        < 1
    )
    volume = 100.0 * inside
    volume[MARKER] = 400.0
    return volume.astype(np.float32)


def ras_image(volume, zooms=(1.0, 1.0, 1.0), image_class=nib.Nifti1Image):
    affine = np.diag([*zooms, 1.0])
    return image_class(volume, affine)


def reoriented(image, codes: str):
    """The same head stored with voxel axes along ``codes`` (such as "LPS")."""
    current = nib.orientations.io_orientation(image.affine)
    target = nib.orientations.axcodes2ornt(tuple(codes))
    return image.as_reoriented(nib.orientations.ornt_transform(current, target))


def save(image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, path)
    return path


def save_analyze(volume: np.ndarray, path: Path) -> Path:
    """Save a RAS volume as Analyze, whose readers assume x runs right -> left."""
    image = nib.AnalyzeImage(volume[::-1].copy(), None)
    return save(image, path)


def snapshot(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` with its modification time."""
    return {
        os.fspath(path.relative_to(folder)): path.stat().st_mtime_ns
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture
def helpers() -> SimpleNamespace:
    """The writers above, for tests (test modules cannot import conftest safely)."""
    return SimpleNamespace(
        random_slice=random_slice,
        write_png=write_png,
        head_volume=head_volume,
        ras_image=ras_image,
        reoriented=reoriented,
        save=save,
        save_analyze=save_analyze,
        snapshot=snapshot,
        marker=MARKER,
        head_shape=HEAD_SHAPE,
    )
