"""Tests for SliceDataset: arrays, subsets, subject splits and tf.data pipelines."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from oasisgen.datasets import (
    SliceDataset,
    load_images,
    load_nifti,
    load_oasis,
    load_sample,
)

from ..fresh_process import run_python


def uint8_slices(n=6, size=16, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


def batches_of(dataset, **kwargs) -> np.ndarray:
    return np.concatenate([batch.numpy() for batch in dataset.as_tf_dataset(**kwargs)])


# -- from_array ---------------------------------------------------------------


@pytest.mark.parametrize(
    "images",
    [
        uint8_slices(),
        uint8_slices()[..., None],
        uint8_slices().astype(np.float32) / 255,
        (uint8_slices().astype(np.float64) / 255)[..., None],
    ],
    ids=["uint8-3d", "uint8-4d", "float32-3d", "float64-4d"],
)
def test_from_array_gives_float32_in_unit_range(images):
    dataset = SliceDataset.from_array(images)
    out = dataset.to_numpy()
    assert out.shape == (6, 16, 16, 1)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[..., 0], uint8_slices() / 255, atol=1e-6)
    assert dataset.image_shape == (16, 16)
    assert list(dataset.subjects) == [f"slice_{i}" for i in range(6)]
    assert dataset.sources[2] == "array[2]"


def test_from_array_copies_its_input():
    images = uint8_slices().astype(np.float32) / 255
    dataset = SliceDataset.from_array(images)
    images[:] = 0
    assert dataset.to_numpy().max() > 0
    dataset.to_numpy()[:] = 0
    assert dataset.to_numpy().max() > 0


@pytest.mark.parametrize(
    "images, error, match",
    [
        (
            np.zeros((16, 16)),
            ValueError,
            r"grayscale images of shape .*got .*\(16, 16\)",
        ),
        (
            np.zeros((2, 16, 16, 3)),
            ValueError,
            r"got an array of shape \(2, 16, 16, 3\)",
        ),
        (np.zeros((1, 2, 16, 16, 1)), ValueError, r"shape \(1, 2, 16, 16, 1\)"),
        (np.full((2, 4, 4), np.nan), ValueError, "NaN or inf"),
        (np.full((2, 4, 4), np.inf), ValueError, "NaN or inf"),
        (np.full((2, 4, 4), 2.0), ValueError, r"values in \[0, 1\]"),
        (np.full((2, 4, 4), "a"), TypeError, "real numeric dtype"),
        (
            np.zeros((2, 4, 4), dtype=complex),
            (TypeError, ValueError),
            r"(?i)complex|real numeric dtype",
        ),
        (np.zeros((0, 4, 4)), ValueError, "at least 1 image"),
    ],
    ids=["2d", "rgb", "5d", "nan", "inf", "above-one", "strings", "complex", "empty"],
)
def test_from_array_rejects_bad_arrays(images, error, match):
    with pytest.raises(error, match=match):
        SliceDataset.from_array(images)


def test_subjects_must_match_the_slices():
    with pytest.raises(
        ValueError, match=r"subjects with one entry per slice, shape \(6,\)"
    ):
        SliceDataset.from_array(uint8_slices(), subjects=["a", "b"])


def test_repr_and_array_protocol(png_folder):
    dataset = SliceDataset.from_array(uint8_slices(), subjects=list("aabbcc"))
    assert repr(dataset) == (
        "SliceDataset(n_slices=6, image_shape=(16, 16), n_subjects=3, storage='memory')"
    )
    assert np.asarray(dataset).shape == (6, 16, 16, 1)
    assert "storage='files'" in repr(load_images(png_folder))


def test_subjects_are_read_only():
    dataset = SliceDataset.from_array(uint8_slices())
    with pytest.raises(ValueError, match="read-only"):
        dataset.subjects[0] = "x"


# -- positions ----------------------------------------------------------------


def test_positions_default_to_none():
    assert SliceDataset.from_array(uint8_slices()).positions is None


@pytest.mark.parametrize(
    "positions",
    [[0, 0.2, 0.4, 0.6, 0.8, 1], np.linspace(0, 1, 6), np.array([0, 0, 1, 1, 0, 1])],
    ids=["list", "float64", "ints"],
)
def test_positions_are_float32_and_read_only(positions):
    dataset = SliceDataset.from_array(uint8_slices(), positions=positions)
    assert dataset.positions.dtype == np.float32
    assert dataset.positions.shape == (6,)
    np.testing.assert_allclose(dataset.positions, np.asarray(positions, float))
    with pytest.raises(ValueError, match="read-only"):
        dataset.positions[0] = 0.5


def test_positions_are_copied():
    positions = np.linspace(0, 1, 6)
    dataset = SliceDataset.from_array(uint8_slices(), positions=positions)
    positions[:] = 0.5
    assert dataset.positions[0] == 0.0


@pytest.mark.parametrize(
    "positions, match",
    [
        (
            [0.0, 1.0],
            r"expected 6 slice positions, one per slice \(shape \(6,\)\); got shape "
            r"\(2,\)",
        ),
        (np.zeros((6, 1)), r"one per slice \(shape \(6,\)\); got shape \(6, 1\)"),
        (0.5, r"one per slice \(shape \(6,\)\); got shape \(\)"),
        (
            [0, 0.2, np.nan, 0.6, 0.8, 1],
            r"finite numbers in \[0, 1\].*got nan at index 2",
        ),
        ([0, 0.2, 0.4, np.inf, 0.8, 1], r"got inf at index 3"),
        ([0, 0.2, 0.4, 0.6, 0.8, 1.5], r"in \[0, 1\].*got 1\.5 at index 5\.$"),
        ([-0.1, 0.2, 0.4, 0.6, 2, 1], r"got -0\.1 at index 0 \(and 1 more\)"),
    ],
    ids=[
        "short",
        "2d",
        "scalar",
        "nan",
        "inf",
        "above-one",
        "below-zero",
    ],
)
def test_bad_positions_are_refused(positions, match):
    with pytest.raises(ValueError, match=match):
        SliceDataset.from_array(uint8_slices(), positions=positions)


@pytest.mark.parametrize(
    "positions, match",
    [
        (list("abcdef"), r"positions as real numbers in \[0, 1\].*dtype <U1"),
        ([0, 0.2, None, 0.6, 0.8, 1], r"positions as real numbers.*dtype object"),
    ],
    ids=["strings", "none-inside"],
)
def test_positions_that_are_not_numbers_are_a_type_error(positions, match):
    with pytest.raises(TypeError, match=match):
        SliceDataset.from_array(uint8_slices(), positions=positions)


# -- subset and split_by_subject ----------------------------------------------


@pytest.mark.parametrize(
    "indices, expected",
    [
        ([4, 1], [4, 1]),
        (np.array([True, False] * 3), [0, 2, 4]),
        (slice(1, 3), [1, 2]),
        (5, [5]),
    ],
    ids=["ints", "mask", "slice", "scalar"],
)
def test_subset(indices, expected):
    images = uint8_slices()
    positions = np.linspace(0, 1, 6)
    dataset = SliceDataset.from_array(
        images, subjects=list("abcdef"), positions=positions
    )
    part = dataset.subset(indices)
    assert list(part.subjects) == [dataset.subjects[i] for i in expected]
    np.testing.assert_allclose(part.positions, positions[expected])
    assert part.positions.dtype == np.float32
    np.testing.assert_allclose(
        part.to_numpy()[..., 0], images[expected] / 255, atol=1e-6
    )


def test_subset_of_files_reads_only_those(oasis_root):
    dataset = load_oasis(oasis_root)
    part = dataset.subset([8, 0])
    np.testing.assert_array_equal(part.to_numpy(), dataset.to_numpy()[[8, 0]])
    assert list(part.sources) == [dataset.sources[8], dataset.sources[0]]


@pytest.mark.parametrize("random_state", [0, 1, 2])
def test_split_by_subject_keeps_subjects_apart(random_state):
    subjects = np.repeat(["a", "b", "c", "d", "e"], 3)
    dataset = SliceDataset.from_array(uint8_slices(15), subjects=subjects)
    train, test = dataset.split_by_subject(test_size=0.4, random_state=random_state)
    assert not set(train.subjects) & set(test.subjects)
    assert len(set(test.subjects)) == 2
    assert len(train) + len(test) == 15
    assert sorted(np.concatenate([train.sources, test.sources])) == sorted(
        dataset.sources
    )


def test_split_by_subject_keeps_positions_with_their_slices():
    subjects = np.repeat(["a", "b", "c", "d", "e"], 3)
    positions = np.tile([0.0, 0.5, 1.0], 5)
    images = uint8_slices(15)
    dataset = SliceDataset.from_array(images, subjects=subjects, positions=positions)
    for part in dataset.split_by_subject(test_size=2, random_state=0):
        rows = [int(source[6:-1]) for source in part.sources]  # "array[i]"
        np.testing.assert_array_equal(part.positions, positions[rows])
        np.testing.assert_allclose(part.to_numpy()[..., 0], images[rows] / 255)


def test_unknown_positions_stay_unknown():
    dataset = SliceDataset.from_array(uint8_slices(), subjects=list("aabbcc"))
    assert dataset.subset([0, 3]).positions is None
    assert all(part.positions is None for part in dataset.split_by_subject())


def test_subset_of_files_keeps_positions(oasis_root):
    dataset = load_oasis(oasis_root)
    part = dataset.subset([8, 0, 4])
    np.testing.assert_array_equal(part.positions, dataset.positions[[8, 0, 4]])


def test_split_by_subject_is_repeatable():
    dataset = SliceDataset.from_array(uint8_slices(), subjects=list("aabbcc"))
    first = dataset.split_by_subject(random_state=3)[1].subjects
    second = dataset.split_by_subject(random_state=3)[1].subjects
    np.testing.assert_array_equal(first, second)


def test_split_needs_two_subjects():
    dataset = SliceDataset.from_array(uint8_slices(), subjects=["only"] * 6)
    with pytest.raises(ValueError, match=r"at least 2 subjects.*has 1"):
        dataset.split_by_subject()


# -- split_within_subjects ----------------------------------------------------


def rows_of(part) -> np.ndarray:
    """The row in the full dataset of each slice of a part ("array[i]" sources)."""
    return np.array([int(source[6:-1]) for source in part.sources])


def interleaved_subjects(counts) -> np.ndarray:
    """Subjects "s0", "s1", ... with ``counts`` slices each, not in blocks."""
    subjects = np.concatenate([[f"s{i}"] * n for i, n in enumerate(counts)])
    return subjects[np.random.default_rng(0).permutation(len(subjects))]


@pytest.fixture(scope="module")
def sample_train() -> SliceDataset:
    """The bundled sample's training slices, at 8x8, with subjects and positions."""
    images, subjects, positions = load_sample(
        "train", image_size=8, return_subjects=True, return_positions=True
    )
    return SliceDataset.from_array(images, subjects=subjects, positions=positions)


@pytest.mark.parametrize(
    "counts, test_size, held_out",
    [
        ((10, 10), 0.2, (2, 2)),
        ((10, 7, 3), 0.3, (3, 2, 1)),
        ((2, 5), 0.1, (1, 1)),  # at least one
        ((3, 4), 0.9, (2, 3)),  # at most n - 1
        ((6, 1, 4), 0.5, (3, 0, 2)),  # a single slice stays in train
        ((9,), 0.34, (3,)),
    ],
    ids=["even", "uneven", "at-least-one", "at-most-n-1", "single-slice", "one"],
)
def test_split_within_subjects_holds_out_a_share_of_every_subject(
    counts, test_size, held_out
):
    subjects = interleaved_subjects(counts)
    dataset = SliceDataset.from_array(uint8_slices(len(subjects)), subjects=subjects)
    train, test = dataset.split_within_subjects(test_size, random_state=0)
    for i, (n, n_held) in enumerate(zip(counts, held_out, strict=True)):
        assert np.sum(test.subjects == f"s{i}") == n_held, f"subject s{i}"
        assert np.sum(train.subjects == f"s{i}") == n - n_held, f"subject s{i}"
        if n >= 2:
            assert f"s{i}" in set(train.subjects) and f"s{i}" in set(test.subjects)
    assert len(train) + len(test) == len(dataset)


def test_split_within_subjects_keeps_every_slice_once_in_order_with_its_data():
    subjects = interleaved_subjects((8, 5, 7))
    positions = np.random.default_rng(1).random(len(subjects))
    images = uint8_slices(len(subjects))
    dataset = SliceDataset.from_array(images, subjects=subjects, positions=positions)
    train, test = dataset.split_within_subjects(0.4, random_state=2)
    train_rows, test_rows = rows_of(train), rows_of(test)
    assert not set(train_rows) & set(test_rows)
    np.testing.assert_array_equal(
        np.sort(np.concatenate([train_rows, test_rows])), np.arange(len(subjects))
    )
    for part, rows in ((train, train_rows), (test, test_rows)):
        assert np.all(np.diff(rows) > 0), "not in the original order"
        np.testing.assert_array_equal(part.subjects, subjects[rows])
        np.testing.assert_allclose(part.positions, positions[rows].astype(np.float32))
        np.testing.assert_allclose(part.to_numpy()[..., 0], images[rows] / 255)


def test_split_within_subjects_keeps_unknown_positions_unknown():
    dataset = SliceDataset.from_array(uint8_slices(), subjects=list("aaabbb"))
    assert all(p.positions is None for p in dataset.split_within_subjects(0.3, 0))


def test_split_within_subjects_of_the_sample(sample_train):
    assert len(sample_train) == 178
    train, test = sample_train.split_within_subjects(0.2, random_state=0)
    for subject in np.unique(sample_train.subjects):
        n = np.sum(sample_train.subjects == subject)
        assert np.sum(test.subjects == subject) == round(0.2 * n)
        assert np.sum(train.subjects == subject) == n - round(0.2 * n)
    rows = rows_of(test)
    np.testing.assert_array_equal(test.positions, sample_train.positions[rows])


@pytest.mark.parametrize("random_state", [0, 1, 2, 3, 4])
def test_split_within_subjects_is_not_every_kth_slice(sample_train, random_state):
    # neighbouring slices are near-duplicates: a regular pattern would leak
    _, test = sample_train.split_within_subjects(0.2, random_state=random_state)
    rows = rows_of(test)
    for subject in np.unique(sample_train.subjects):
        gaps = np.diff(rows[test.subjects == subject])
        assert len(gaps) >= 5
        assert len(set(gaps)) > 1, f"every {gaps[0]}th slice of {subject}"


def test_split_within_subjects_is_repeatable_and_seeded(sample_train):
    first = rows_of(sample_train.split_within_subjects(0.25, random_state=3)[1])
    again = rows_of(sample_train.split_within_subjects(0.25, random_state=3)[1])
    other = rows_of(sample_train.split_within_subjects(0.25, random_state=4)[1])
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize(
    "test_size",
    [0, 1, -0.1, 1.5, "a", None, float("nan")],
    ids=["zero", "one", "negative", "above-one", "text", "none", "nan"],
)
def test_split_within_subjects_rejects_a_bad_test_size(test_size):
    dataset = SliceDataset.from_array(uint8_slices(), subjects=list("aaabbb"))
    match = (
        r"split_within_subjects expected test_size as a fraction in \(0, 1\) of each "
        rf"subject's slices; got {re.escape(repr(test_size))}\."
    )
    with pytest.raises(ValueError, match=match):
        dataset.split_within_subjects(test_size)


# -- tf.data ------------------------------------------------------------------


def test_import_does_not_import_tensorflow():
    code = "import sys, oasisgen.datasets; print('tensorflow' in sys.modules)"
    assert run_python(code).stdout.strip() == "False"


@pytest.mark.parametrize(
    "images",
    [uint8_slices(5), uint8_slices(5).astype(np.float32) / 255],
    ids=["uint8", "float32"],
)
def test_tf_dataset_from_memory_matches_to_numpy(images):
    dataset = SliceDataset.from_array(images)
    batches = list(dataset.as_tf_dataset(batch_size=2))
    assert [tuple(b.shape) for b in batches] == [(2, 16, 16, 1)] * 2 + [(1, 16, 16, 1)]
    assert all(b.dtype.name == "float32" for b in batches)
    np.testing.assert_allclose(batches_of(dataset), dataset.to_numpy(), atol=1e-7)


def test_tf_dataset_from_nifti_matches_to_numpy(tmp_path, helpers):
    path = helpers.save(helpers.ras_image(helpers.head_volume()), tmp_path / "v.nii")
    dataset = load_nifti(path, 32)
    np.testing.assert_allclose(
        batches_of(dataset, batch_size=7), dataset.to_numpy(), atol=1e-7
    )


@pytest.mark.parametrize(
    "image_size, tolerance",
    [(None, 0), (32, 0), (16, 1e-5), ((24, 40), 1e-5), (48, 1e-5)],
    ids=["native", "same-size", "down", "non-square", "up"],
)
def test_tf_dataset_from_png_files_matches_to_numpy(oasis_root, image_size, tolerance):
    # TensorFlow's antialiased bilinear resize and Pillow's agree to float rounding
    dataset = load_oasis(oasis_root, image_size=image_size)
    streamed = batches_of(dataset, batch_size=4)
    assert streamed.shape == (9, *dataset.image_shape, 1)
    np.testing.assert_allclose(streamed, dataset.to_numpy(), rtol=0, atol=tolerance)


def test_tf_dataset_from_color_and_16_bit_pngs(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(
        tmp_path / "a.png"
    )
    Image.fromarray(rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)).save(
        tmp_path / "b.png"
    )
    Image.fromarray(rng.integers(0, 65536, (8, 8), dtype=np.uint16)).save(
        tmp_path / "c.png"
    )
    Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).convert("P").save(
        tmp_path / "d.png"
    )
    dataset = load_images(tmp_path)
    np.testing.assert_allclose(batches_of(dataset), dataset.to_numpy(), atol=1e-6)


def test_tf_dataset_from_other_formats_uses_pillow(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(
            tmp_path / f"s{i}.tif"
        )
    dataset = load_images(tmp_path, image_size=8)
    np.testing.assert_array_equal(batches_of(dataset, batch_size=2), dataset.to_numpy())


@pytest.mark.parametrize("source", ["memory", "png"])
def test_shuffle_is_seeded_and_a_permutation(oasis_root, source):
    dataset = load_oasis(oasis_root)
    if source == "memory":
        dataset = SliceDataset.from_array(dataset.to_numpy())
    images = dataset.to_numpy()
    first = batches_of(dataset, batch_size=4, shuffle=True, seed=7)
    second = batches_of(dataset, batch_size=4, shuffle=True, seed=7)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, images)
    order = [
        int(np.argmin(np.abs(images - image).sum(axis=(1, 2, 3)))) for image in first
    ]
    assert sorted(order) == list(range(len(images)))


@pytest.mark.parametrize("batch_size", [0, -1, 2.0, True], ids=str)
def test_bad_batch_size(batch_size):
    dataset = SliceDataset.from_array(uint8_slices())
    with pytest.raises(ValueError, match="'batch_size' .* positive int"):
        dataset.as_tf_dataset(batch_size=batch_size)


def test_png_corrupted_after_loading_does_not_vanish(png_folder):
    import tensorflow as tf

    dataset = load_images(png_folder)
    (png_folder / "scan_slice_3.png").write_bytes(b"gone bad")
    with pytest.raises(tf.errors.InvalidArgumentError):
        batches_of(dataset)
    with pytest.raises(ValueError, match=r"scan_slice_3\.png"):
        dataset.to_numpy()


def test_other_format_corrupted_after_loading_names_the_file(tmp_path):
    import tensorflow as tf

    for i in range(2):
        Image.new("L", (8, 8), 10 * i).save(tmp_path / f"s{i}.tif")
    dataset = load_images(tmp_path)
    (tmp_path / "s1.tif").write_bytes(b"gone bad")
    with pytest.raises(tf.errors.OpError, match=r"s1\.tif"):
        batches_of(dataset)


def test_image_shape_is_known_before_decoding(png_folder):
    dataset = load_images(png_folder)
    assert dataset.image_shape == (32, 32)
    resized = load_images(png_folder, image_size=(8, 12))
    assert resized.image_shape == (8, 12)
