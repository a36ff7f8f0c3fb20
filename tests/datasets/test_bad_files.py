"""Damaged files: the loaders name the first bad file, or skip and list them all.

A file that passes the loaders' checks must also decode in the TensorFlow
pipeline that streams it during training, or training would stop half-way.
"""

import struct
import time
import zlib

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from oasisgen.datasets import load_images, load_nifti
from oasisgen.datasets._errors import read_each

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


# -- PNG files are checked without decoding them: what a decoder needs ----------


def png_file(pixels, *, color_type=0, depth=8, extra=(), rows=None, interlace=0):
    """Bytes of a PNG written by hand: unfiltered rows, one IDAT, then IEND."""
    height, width = pixels.shape[:2]
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, interlace)
    if rows is None:
        rows = b"".join(b"\x00" + row.tobytes() for row in pixels)
    chunks = [
        png_chunk(b"IHDR", header),
        *extra,
        png_chunk(b"IDAT", zlib.compress(rows)),
        png_chunk(b"IEND", b""),
    ]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def adam7_rows(pixels):
    """The rows of an 8-bit grayscale image in Adam7 order, each unfiltered."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4)]
    passes += [(1, 0, 2, 2), (0, 1, 1, 2)]
    out = b""
    for x0, y0, dx, dy in passes:
        sub = pixels[y0::dy, x0::dx]
        if sub.size:
            out += b"".join(b"\x00" + row.tobytes() for row in sub)
    return out


def pixels_16(seed=0, shape=(16, 16)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_a_hand_written_png_loads_and_streams(tmp_path):
    pixels = pixels_16()
    (tmp_path / "a.png").write_bytes(png_file(pixels))
    dataset = load_images(tmp_path)
    np.testing.assert_array_equal(
        dataset.to_numpy()[0, ..., 0], pixels / np.float32(255)
    )
    streamed = np.concatenate([b.numpy() for b in dataset.as_tf_dataset(1)])
    np.testing.assert_array_equal(streamed, dataset.to_numpy())


@pytest.mark.parametrize("shape", [(16, 16), (7, 5), (1, 9), (3, 1)], ids=str)
def test_interlaced_pngs_are_checked_pass_by_pass(tmp_path, shape):
    pixels = pixels_16(1, shape)
    (tmp_path / "a.png").write_bytes(
        png_file(pixels, rows=adam7_rows(pixels), interlace=1)
    )
    dataset = load_images(tmp_path)
    np.testing.assert_array_equal(
        dataset.to_numpy()[0, ..., 0], pixels / np.float32(255)
    )
    streamed = np.concatenate([b.numpy() for b in dataset.as_tf_dataset(1)])
    np.testing.assert_array_equal(streamed, dataset.to_numpy())
    # one row short of the last pass
    (tmp_path / "a.png").write_bytes(
        png_file(pixels, rows=adam7_rows(pixels)[:-2], interlace=1)
    )
    with pytest.raises(ValueError, match=r"a\.png.*bytes of image data"):
        load_images(tmp_path)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_pngs_of_every_mode_and_depth_pass_the_check(tmp_path, mode):
    pixels = pixels_16(2, (9, 11))
    image = Image.fromarray(pixels)
    if mode == "I;16":
        image = Image.fromarray(pixels.astype(np.uint16) * 257)
    elif mode != "L":
        image = image.convert(mode)
    image.save(tmp_path / "a.png")
    dataset = load_images(tmp_path)
    assert dataset.image_shape == (9, 11)
    streamed = np.concatenate([b.numpy() for b in dataset.as_tf_dataset(1)])
    np.testing.assert_allclose(streamed, dataset.to_numpy(), atol=1e-6)


def damaged_pngs():
    pixels = pixels_16()
    good = png_file(pixels)
    rows = b"".join(b"\x00" + row.tobytes() for row in pixels)
    idat_at = good.index(b"IDAT")
    bad_crc = bytearray(good)
    bad_crc[idat_at + 10] ^= 0xFF  # a byte of the compressed pixels
    return {
        "checksum": (bytes(bad_crc), "checksum of the PNG file's IDAT chunk"),
        "short data": (png_file(pixels, rows=rows[:-5]), "bytes of image data"),
        "not zlib": (
            good[: idat_at - 4]
            + struct.pack(">I", 6)
            + b"IDAT"
            + b"garbag"
            + struct.pack(">I", zlib.crc32(b"IDATgarbag"))
            + good[good.index(b"IEND") - 4 :],
            "image data is damaged",
        ),
        "filter type": (png_file(pixels, rows=b"\x07" + rows[1:]), "unknown filter"),
        "no IEND": (good[: good.index(b"IEND") - 4], "without its IEND chunk"),
        "no IDAT": (good[:33] + good[good.index(b"IEND") - 4 :], "no image data"),
        "critical chunk": (
            png_file(pixels, extra=[png_chunk(b"ABCD", b"x")]),
            "unknown critical chunk ABCD",
        ),
        "split IDAT": (
            good[: good.index(b"IEND") - 4]
            + png_chunk(b"tEXt", b"a\x00b")
            + png_chunk(b"IDAT", b"")
            + good[good.index(b"IEND") - 4 :],
            "not consecutive",
        ),
        "palette": (png_file(pixels, color_type=3), "no PLTE"),
        "bit depth": (png_file(pixels, color_type=2, depth=4), "bit depth 4"),
        "IHDR not first": (
            good[:8] + png_chunk(b"tEXt", b"a\x00b") + good[8:],
            "starts with a tEXt chunk",
        ),
        "garbage chunk": (good[:33] + b"\x00\x00\x00\x01\x00\x01\x02\x03", "damaged"),
    }


@pytest.mark.parametrize("damage", list(damaged_pngs()))
def test_damaged_pngs_are_named_with_what_is_wrong(tmp_path, damage):
    content, reason = damaged_pngs()[damage]
    scans(tmp_path, n=2)
    (tmp_path / "case_009_slice_0.png").write_bytes(content)
    with pytest.raises(ValueError, match=rf"case_009_slice_0\.png.*{reason}"):
        load_images(tmp_path)
    with pytest.warns(UserWarning, match=r"skipped 1 of 3 .*case_009_slice_0\.png"):
        assert len(load_images(tmp_path, on_error="skip")) == 2


def test_files_with_a_png_extension_in_other_formats_are_decoded_by_pillow(tmp_path):
    Image.fromarray(pixels_16()).save(tmp_path / "a.png", format="BMP")
    dataset = load_images(tmp_path)
    streamed = np.concatenate([b.numpy() for b in dataset.as_tf_dataset(1)])
    np.testing.assert_array_equal(streamed, dataset.to_numpy())


def test_files_checked_on_threads_keep_their_order_and_first_error():
    def read(path):
        if path.startswith("bad"):
            time.sleep(0.05 if path == "bad-slow" else 0)
            raise ValueError(f"cannot read {path}")
        return path.upper()

    paths = ["a", "bad-slow", "b", "bad", "c"]
    with pytest.raises(ValueError, match="cannot read bad-slow"):
        read_each(paths, read, on_error="raise", caller="demo", threads=4)
    results, skipped = read_each(paths, read, on_error="skip", caller="demo", threads=4)
    assert results == [("a", "A"), ("b", "B"), ("c", "C")]
    assert [path for path, _ in skipped] == ["bad-slow", "bad"]
    assert read_each(paths[:1], read, on_error="raise", caller="d", threads=4)[0] == [
        ("a", "A")
    ]
