"""Damaged files: the loaders name the first bad file, or skip and list them all.

A file that passes the loaders' checks must also decode in the TensorFlow
pipeline that streams it during training, or training would stop half-way.
"""

import struct
import zlib

import nibabel as nib
import numpy as np
import pytest

from oasisgen.datasets import load_images, load_nifti

from .conftest import random_slice, write_png


def png_chunk(kind, data):
    checksum = struct.pack(">I", zlib.crc32(kind + data))
    return struct.pack(">I", len(data)) + kind + data + checksum


def scans(folder, n=6):
    rng = np.random.default_rng(0)
    return [
        write_png(folder / f"case_{i:03d}_slice_0.png", random_slice(rng, 16))
        for i in range(n)
    ]


def test_corrupt_pngs_stop_the_load_or_are_skipped_and_listed(tmp_path):
    files = scans(tmp_path)
    files[1].write_bytes(files[1].read_bytes()[:60])  # cut short
    files[4].write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="case_001_slice_0.png"):
        load_images(tmp_path)
    with pytest.warns(UserWarning, match="skipped 2 of 6") as record:
        dataset = load_images(tmp_path, on_error="skip")
    assert "case_001_slice_0.png" in str(record[0].message)
    assert "case_004_slice_0.png" in str(record[0].message)
    assert len(dataset) == 4
    streamed = np.concatenate([b.numpy() for b in dataset.as_tf_dataset(2)])
    np.testing.assert_array_equal(streamed, dataset.to_numpy())


def test_a_png_without_its_iend_chunk_is_refused_at_load(tmp_path):
    path = scans(tmp_path, n=1)[0]
    path.write_bytes(path.read_bytes()[:-4])  # Pillow decodes it; TensorFlow not
    with pytest.raises(ValueError, match="case_000_slice_0.png.*IEND"):
        load_images(tmp_path)


def test_a_png_header_declaring_billions_of_pixels_is_unreadable(tmp_path):
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    chunks = [png_chunk(b"IHDR", header), png_chunk(b"IEND", b"")]
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"".join(chunks))
    with pytest.raises(ValueError, match="bomb.png.*decompression bomb"):
        load_images(tmp_path)


def brain(tmp_path, name="brain.nii", zooms=(1.0, 1.0, 1.0)):
    x, y, z = np.mgrid[:12, :12, :12]
    head = ((x - 6) / 5) ** 2 + ((y - 6) / 5) ** 2 + ((z - 6) / 5) ** 2 < 1
    path = tmp_path / name
    nib.save(nib.Nifti1Image(100.0 * head, np.diag([*zooms, 1.0])), path)
    return path


def test_a_volume_with_an_unknown_data_type_names_the_file(tmp_path):
    path = brain(tmp_path)
    data = bytearray(path.read_bytes())
    data[70:72] = struct.pack("<h", 44)  # datatype: no such code
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="brain.nii.*data code 44"):
        load_nifti(path, image_size=16)


def test_extreme_voxel_sizes_need_an_image_size(tmp_path):
    path = brain(tmp_path, zooms=(1e-4, 1.0, 1.0))
    with pytest.raises(ValueError, match="brain.nii.*Pass image_size"):
        load_nifti(path, image_size=None)
    assert load_nifti(path, image_size=16).image_shape == (16, 16)
