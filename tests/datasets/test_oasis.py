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


# -- slice positions from the file names --------------------------------------


def test_positions_come_from_the_slice_numbers(oasis_root):
    # every case has slices 0, 2 and 10: positions 0, 0.2 and 1
    dataset = load_oasis(oasis_root, "validate")
    assert dataset.positions.dtype == np.float32
    np.testing.assert_allclose(dataset.positions, np.tile([0, 0.2, 1], 3), atol=1e-6)


def slice_number(source: str) -> int:
    return int(source.rsplit("_slice_", 1)[1].split(".")[0])


def test_positions_of_unsorted_non_contiguous_numbers(tmp_path, helpers):
    folder = tmp_path / "keras_png_slices_test"
    numbers = {"case_010": (17, 3, 40, 9, 25), "case_002": (101, 99), "case_003": (7,)}
    rng = np.random.default_rng(0)
    for case, case_numbers in numbers.items():
        for number in case_numbers:
            name = f"{case}_slice_{number}.nii.png"
            helpers.write_png(folder / name, helpers.random_slice(rng))
    dataset = load_oasis(tmp_path, "test")
    for source, subject, position in zip(
        dataset.sources, dataset.subjects, dataset.positions, strict=True
    ):
        low, high = min(numbers[subject]), max(numbers[subject])
        expected = 0.5 if low == high else (slice_number(source) - low) / (high - low)
        assert position == pytest.approx(expected, abs=1e-6), source
    case_10 = dataset.positions[dataset.subjects == "case_010"]
    np.testing.assert_allclose(
        case_10, np.array([0, 6, 14, 22, 37]) / 37, atol=1e-6
    )  # slices 3, 9, 17, 25, 40 in natural order
    np.testing.assert_array_equal(
        dataset.positions[dataset.subjects == "case_002"], [0, 1]
    )
    np.testing.assert_array_equal(
        dataset.positions[dataset.subjects == "case_003"], [0.5]
    )


def test_positions_are_unknown_when_a_name_does_not_match(oasis_root, helpers):
    folder = oasis_root / "keras_png_slices_train"
    helpers.write_png(folder / "odd_name.nii.png", np.zeros((32, 32), np.uint8))
    dataset = load_oasis(oasis_root)
    assert len(dataset) == 10
    assert dataset.positions is None
    assert load_oasis(oasis_root, "test").positions is not None


def test_positions_count_only_the_files_loaded(oasis_root):
    # with slice 10 of case_002 left out, slice 2 becomes its highest
    bad = oasis_root / "keras_png_slices_train" / "case_002_slice_10.nii.png"
    bad.write_bytes(b"not a png")
    with pytest.warns(UserWarning, match="case_002_slice_10"):
        dataset = load_oasis(oasis_root, on_error="skip")
    np.testing.assert_allclose(
        dataset.positions[dataset.subjects == "case_002"], [0, 1], atol=1e-6
    )
    np.testing.assert_allclose(
        dataset.positions[dataset.subjects == "case_001"], [0, 0.2, 1], atol=1e-6
    )


def test_positions_survive_splits_and_load_splits(oasis_root):
    from oasisgen.datasets import load_splits

    dataset = load_oasis(oasis_root)
    train, test = dataset.split_by_subject(test_size=1, random_state=0)
    for part in (train, test):
        expected = [
            dataset.positions[list(dataset.sources).index(source)]
            for source in part.sources
        ]
        np.testing.assert_array_equal(part.positions, expected)
    splits = load_splits(oasis_root)
    for name in ("train", "validate", "test"):
        np.testing.assert_array_equal(
            splits[name].positions, load_oasis(oasis_root, name).positions
        )
