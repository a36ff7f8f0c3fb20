"""Tests for load_oasis: the OASIS PNG slice layout."""

from __future__ import annotations

import numpy as np
import pytest

from oasisgen.datasets import load_oasis


@pytest.mark.parametrize(
    "split, cases",
    [("train", (1, 2, 3)), ("validate", (4, 5, 6)), ("test", (7, 8, 9))],
    ids=["train", "validate", "test"],
)
def test_each_split_loads_its_cases_and_not_the_labels(oasis_root, split, cases):
    dataset = load_oasis(oasis_root, split)
    assert len(dataset) == 9
    assert dataset.image_shape == (32, 32)
    assert sorted(set(dataset.subjects)) == [f"case_{case:03d}" for case in cases]
    assert all(f"keras_png_slices_{split}" in source for source in dataset.sources)
    images = dataset.to_numpy()
    assert images.shape == (9, 32, 32, 1)
    assert 0.0 <= images.min() and images.max() <= 1.0


def test_slices_of_a_case_are_in_natural_order(oasis_root):
    sources = load_oasis(oasis_root).sources
    names = [source.rsplit("/", 1)[-1] for source in sources[:3]]
    assert names == [f"case_001_slice_{n}.nii.png" for n in (0, 2, 10)]


def test_root_can_be_a_split_folder(oasis_root):
    dataset = load_oasis(oasis_root / "keras_png_slices_test")
    assert set(dataset.subjects) == {"case_007", "case_008", "case_009"}


def test_image_size_resizes(oasis_root):
    dataset = load_oasis(oasis_root, "validate", image_size=16)
    assert dataset.image_shape == (16, 16)
    assert dataset.to_numpy().shape == (9, 16, 16, 1)


def test_subject_falls_back_to_the_file_stem(tmp_path, helpers):
    folder = tmp_path / "keras_png_slices_train"
    helpers.write_png(folder / "odd_name.nii.png", np.zeros((8, 8), np.uint8))
    assert list(load_oasis(tmp_path).subjects) == ["odd_name"]


def test_split_by_subject_keeps_cases_apart(oasis_root):
    train, test = load_oasis(oasis_root).split_by_subject(test_size=1, random_state=0)
    assert len(set(test.subjects)) == 1
    assert not set(train.subjects) & set(test.subjects)
    assert len(train) + len(test) == 9


@pytest.mark.parametrize("split", ["val", "Train", "all"], ids=str)
def test_bad_split_lists_the_allowed_values(oasis_root, split):
    with pytest.raises(ValueError, match=r"'split' .* 'train', 'validate', 'test'"):
        load_oasis(oasis_root, split)


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"could not find .*no_oasis"):
        load_oasis(tmp_path / "no_oasis")


def test_root_that_is_a_file(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"")
    with pytest.raises(NotADirectoryError, match=r"a\.png.* is a file"):
        load_oasis(path)


def test_root_without_split_folders_lists_what_was_expected(tmp_path):
    (tmp_path / "something_else").mkdir()
    with pytest.raises(
        FileNotFoundError,
        match=r"no folder keras_png_slices_train.*keras_png_slices_train, "
        r"keras_png_slices_validate, keras_png_slices_test",
    ):
        load_oasis(tmp_path)


def test_missing_split_names_the_folders_present(oasis_root):
    import shutil

    shutil.rmtree(oasis_root / "keras_png_slices_test")
    with pytest.raises(FileNotFoundError, match=r"It holds .*keras_png_slices_train"):
        load_oasis(oasis_root, "test")


def test_label_folder_is_refused(oasis_root):
    with pytest.raises(ValueError, match="segmentation labels"):
        load_oasis(oasis_root / "keras_png_slices_seg_train")


def test_empty_split_folder(tmp_path):
    (tmp_path / "keras_png_slices_train").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no files ending in \.png in"):
        load_oasis(tmp_path)


def test_corrupt_slice_is_named_or_skipped(oasis_root):
    bad = oasis_root / "keras_png_slices_train" / "case_002_slice_2.nii.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match=r"case_002_slice_2\.nii\.png"):
        load_oasis(oasis_root)
    with pytest.warns(UserWarning, match=r"case_002_slice_2\.nii\.png"):
        dataset = load_oasis(oasis_root, on_error="skip")
    assert len(dataset) == 8


def test_nothing_is_written_into_the_data(oasis_root, helpers):
    before = helpers.snapshot(oasis_root)
    dataset = load_oasis(oasis_root, "test", image_size=16)
    dataset.to_numpy()
    list(dataset.as_tf_dataset(batch_size=4, shuffle=True, seed=0))
    assert helpers.snapshot(oasis_root) == before
