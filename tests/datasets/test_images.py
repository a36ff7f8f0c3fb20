"""Tests for load_images: folders and globs of 2D image files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from oasisgen.datasets import SliceDataset, load_images


def test_folder_gives_float_slices_in_natural_order(png_folder):
    dataset = load_images(png_folder)
    assert isinstance(dataset, SliceDataset)
    names = [source.rsplit("/", 1)[-1] for source in dataset.sources]
    assert names == [f"scan_slice_{n}.png" for n in (1, 2, 3, 10)]
    images = dataset.to_numpy()
    assert images.shape == (4, 32, 32, 1)
    assert images.dtype == np.float32
    expected = np.asarray(Image.open(png_folder / "scan_slice_2.png")) / 255
    np.testing.assert_allclose(images[1, ..., 0], expected, atol=1e-7)


def test_subjects_come_from_the_file_names(tmp_path, helpers):
    rng = np.random.default_rng(0)
    for name in ("case_001_slice_0.png", "case_001_slice_1.png", "brain.png"):
        helpers.write_png(tmp_path / name, helpers.random_slice(rng))
    assert list(load_images(tmp_path).subjects) == ["brain", "case_001", "case_001"]


def test_positions_are_unknown(png_folder):
    # a folder of images does not say where its slices lie, even when named
    # like slices (scan_slice_1.png)
    dataset = load_images(png_folder)
    assert dataset.positions is None
    assert dataset.subset([0, 1]).positions is None


@pytest.mark.parametrize(
    "pattern, n_files",
    [("*.png", 4), ("scan_slice_1*.png", 2), ("**/*.png", 5)],
    ids=["all-png", "prefix", "recursive"],
)
def test_glob_patterns(png_folder, helpers, pattern, n_files):
    helpers.write_png(png_folder / "deeper" / "extra.png", np.zeros((32, 32), np.uint8))
    assert len(load_images(f"{png_folder}/{pattern}")) == n_files


def test_folder_is_not_searched_recursively_and_skips_hidden_and_other_files(
    png_folder, helpers
):
    helpers.write_png(png_folder / "deeper" / "extra.png", np.zeros((32, 32), np.uint8))
    (png_folder / "._scan_slice_1.png").write_bytes(b"macOS resource fork")
    (png_folder / "README.txt").write_text("not an image")
    assert len(load_images(png_folder)) == 4


def test_single_file(png_folder):
    dataset = load_images(png_folder / "scan_slice_3.png")
    assert len(dataset) == 1


@pytest.mark.parametrize(
    "image_size, shape", [(16, (16, 16)), ((24, 40), (24, 40))], ids=["int", "pair"]
)
def test_image_size_resizes(png_folder, image_size, shape):
    dataset = load_images(png_folder, image_size=image_size)
    assert dataset.image_shape == shape
    assert dataset.to_numpy().shape == (4, *shape, 1)


def _color_cases():
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    luma = (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255
    rgba = np.concatenate([rgb, np.full((8, 8, 1), 7, np.uint8)], axis=-1)
    gray16 = np.full((8, 8), 40000, dtype=np.uint16)
    return [
        pytest.param(Image.fromarray(rgb), ".png", luma, id="rgb-png"),
        pytest.param(Image.fromarray(rgba), ".png", luma, id="rgba-png"),
        pytest.param(Image.fromarray(gray16), ".png", 40000 / 65535, id="16-bit-png"),
        pytest.param(Image.fromarray(rgb).convert("P"), ".png", None, id="palette"),
        pytest.param(
            Image.new("LA", (8, 8), (90, 3)), ".png", 90 / 255, id="gray-alpha"
        ),
        pytest.param(Image.new("L", (8, 8), 90), ".tif", 90 / 255, id="tiff"),
        pytest.param(Image.fromarray(gray16), ".tif", 40000 / 65535, id="16-bit-tiff"),
        pytest.param(Image.new("L", (8, 8), 90), ".bmp", 90 / 255, id="bmp"),
        pytest.param(Image.fromarray(rgb), ".jpg", luma, id="rgb-jpeg"),
    ]


@pytest.mark.parametrize("image, suffix, expected", _color_cases())
def test_formats_and_color_modes_become_gray_in_unit_range(
    tmp_path, image, suffix, expected
):
    image.save(tmp_path / f"image{suffix}")
    pixels = load_images(tmp_path).to_numpy()
    assert pixels.shape == (1, 8, 8, 1)
    assert pixels.dtype == np.float32
    if expected is None:  # palette colours are approximations of the originals
        expected = np.asarray(image.convert("L"), dtype=np.float32) / 255
    np.testing.assert_allclose(pixels[0, ..., 0], expected, atol=2 / 255)


def test_mixed_sizes_need_image_size(png_folder, helpers):
    helpers.write_png(png_folder / "scan_slice_99.png", np.zeros((20, 24), np.uint8))
    with pytest.raises(
        ValueError,
        match=r"different sizes.*scan_slice_1\.png is 32x32.*"
        r"scan_slice_99\.png is 20x24.*image_size",
    ):
        load_images(png_folder)
    assert load_images(png_folder, image_size=32).to_numpy().shape == (5, 32, 32, 1)


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"could not find .*nowhere"):
        load_images(tmp_path / "nowhere")


def test_pattern_without_matches(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"pattern .*\*\.png.* matched no files"
    ):
        load_images(tmp_path / "*.png")


def test_empty_folder_names_the_extensions_looked_for(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(FileNotFoundError, match=r"no files ending in \.png, \.jpg"):
        load_images(tmp_path)


@pytest.mark.parametrize(
    "content",
    [b"this is not a PNG", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20],
    ids=["text", "truncated-header"],
)
def test_unreadable_file_is_named(png_folder, content):
    (png_folder / "scan_slice_5.png").write_bytes(content)
    with pytest.raises(ValueError, match=r"Could not read .*scan_slice_5\.png"):
        load_images(png_folder)


def test_truncated_png_is_caught_when_loading(png_folder):
    path = png_folder / "scan_slice_2.png"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ValueError, match=r"scan_slice_2\.png"):
        load_images(png_folder)


def test_skip_leaves_out_unreadable_files_with_a_warning(png_folder):
    (png_folder / "scan_slice_5.png").write_bytes(b"broken")
    with pytest.warns(
        UserWarning, match=r"skipped 1 of 5 .*scan_slice_5\.png"
    ) as record:
        dataset = load_images(png_folder, on_error="skip")
    assert record[0].filename == __file__
    assert len(dataset) == 4
    assert not any("scan_slice_5" in source for source in dataset.sources)


def test_skip_raises_when_nothing_is_readable(tmp_path):
    for i in range(2):
        (tmp_path / f"bad_{i}.png").write_bytes(b"broken")
    with pytest.raises(ValueError, match=r"could not read any of the 2 file"):
        load_images(tmp_path, on_error="skip")


@pytest.mark.parametrize("on_error", ["ignore", None], ids=["unknown", "none"])
def test_bad_on_error_lists_allowed_values(png_folder, on_error):
    with pytest.raises(ValueError, match=r"'on_error' .* 'raise', 'skip'; got"):
        load_images(png_folder, on_error=on_error)


@pytest.mark.parametrize("image_size", [0, -3, 2.5, (16,)], ids=str)
def test_bad_image_size(png_folder, image_size):
    with pytest.raises(ValueError, match="image_size must be a positive int"):
        load_images(png_folder, image_size=image_size)


def test_float_tiff_out_of_range_is_named(tmp_path):
    Image.fromarray(np.full((8, 8), 3.0, dtype=np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(ValueError, match=r"f\.tif holds floating-point pixels"):
        load_images(tmp_path)


def test_nothing_is_written_into_the_folder(png_folder, helpers):
    before = helpers.snapshot(png_folder)
    dataset = load_images(png_folder, image_size=16)
    dataset.to_numpy()
    list(dataset.as_tf_dataset(batch_size=2))
    assert helpers.snapshot(png_folder) == before
