"""Tests for load_nifti: NIfTI and Analyze volumes cut into oriented slices."""

from __future__ import annotations

import gzip
import re

import nibabel as nib
import numpy as np
import pytest

from oasisgen.datasets import load_nifti


def marker_centre(images: np.ndarray) -> tuple[float, float]:
    """Row and column of the marker (the brightest pixels), as fractions of the side."""
    bright = images[..., 0] > 0.9
    _, rows, cols = np.nonzero(bright)
    height, width = images.shape[1:3]
    return rows.mean() / height, cols.mean() / width


@pytest.mark.parametrize("codes", ["RAS", "LPS", "PSL", "IRA"], ids=str)
def test_reorientation_gives_the_same_slices(tmp_path, helpers, codes):
    canonical = helpers.ras_image(helpers.head_volume())
    stored = helpers.reoriented(canonical, codes)
    assert "".join(nib.aff2axcodes(stored.affine)) == codes
    expected = load_nifti(helpers.save(canonical, tmp_path / "ras.nii"), None)
    loaded = load_nifti(helpers.save(stored, tmp_path / f"{codes}.nii"), None)
    np.testing.assert_array_equal(loaded.to_numpy(), expected.to_numpy())


@pytest.mark.parametrize(
    "axis, side",
    [("axial", "right"), ("coronal", "right"), ("sagittal", "anterior-right")],
    ids=["axial", "coronal", "sagittal"],
)
def test_marker_is_up_and_right(tmp_path, helpers, axis, side):
    # the marker sits at the anterior, superior, right end of the head: axial
    # slices show anterior up, coronal and sagittal ones superior up; the
    # patient's right (or anterior, in sagittal slices) is on the image right
    image = helpers.reoriented(helpers.ras_image(helpers.head_volume()), "LPS")
    images = load_nifti(helpers.save(image, tmp_path / "head.nii.gz"), 64, axis)
    row, col = marker_centre(images.to_numpy())
    assert row < 0.4
    assert col > 0.55


def test_axial_slices_run_inferior_to_superior(tmp_path, helpers):
    path = helpers.save(helpers.ras_image(helpers.head_volume()), tmp_path / "h.nii")
    images = load_nifti(path, 32, min_brain_fraction=0).to_numpy()
    assert len(images) == helpers.head_shape[2]
    with_marker = np.nonzero((images > 0.9).any(axis=(1, 2, 3)))[0]
    assert with_marker.min() > len(images) / 2


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".hdr"], ids=str)
def test_formats_agree(tmp_path, helpers, suffix):
    volume = helpers.head_volume()
    reference = load_nifti(helpers.save(helpers.ras_image(volume), tmp_path / "r.nii"))
    if suffix == ".hdr":
        path = helpers.save_analyze(volume, tmp_path / "volume.hdr")
        assert (tmp_path / "volume.img").exists()
    else:
        path = helpers.save(helpers.ras_image(volume), tmp_path / f"volume{suffix}")
    dataset = load_nifti(path)
    assert dataset.image_shape == (256, 256)
    np.testing.assert_array_equal(dataset.to_numpy(), reference.to_numpy())


def test_analyze_img_can_be_given_for_its_pair(tmp_path, helpers):
    helpers.save_analyze(helpers.head_volume(), tmp_path / "v.hdr")
    assert len(load_nifti(tmp_path / "v.img", 32)) > 0


def test_oasis1_names_give_the_subject(tmp_path, helpers):
    name = "OAS1_0001_MR1_mpr_n4_anon_111_t88_masked_gfc.hdr"
    helpers.save_analyze(helpers.head_volume(), tmp_path / "OAS1_0001_MR1" / name)
    helpers.save_analyze(
        helpers.head_volume(), tmp_path / "OAS1_0002_MR1" / name.replace("1_M", "2_M")
    )
    dataset = load_nifti(tmp_path, 32)
    assert set(dataset.subjects) == {"OAS1_0001", "OAS1_0002"}
    assert not any(source.endswith(".img") for source in dataset.sources)


def test_bids_tree_keeps_t1w_and_subjects(tmp_path, helpers):
    image = helpers.ras_image(helpers.head_volume())
    helpers.save(image, tmp_path / "sub-01" / "anat" / "sub-01_T1w.nii.gz")
    helpers.save(
        image, tmp_path / "sub-02" / "ses-1" / "anat" / "sub-02_ses-1_T1w.nii.gz"
    )
    bold = np.stack([helpers.head_volume()] * 2, axis=-1)
    helpers.save(
        nib.Nifti1Image(bold, np.eye(4)),
        tmp_path / "sub-01" / "func" / "sub-01_task-rest_bold.nii.gz",
    )
    dataset = load_nifti(tmp_path, 32)
    assert sorted(set(dataset.subjects)) == ["sub-01", "sub-02"]
    assert not any("bold" in source for source in dataset.sources)
    train, test = dataset.split_by_subject(test_size=0.5, random_state=0)
    assert set(train.subjects) | set(test.subjects) == {"sub-01", "sub-02"}
    assert not set(train.subjects) & set(test.subjects)


def test_list_of_files_and_glob(tmp_path, helpers):
    image = helpers.ras_image(helpers.head_volume())
    paths = [helpers.save(image, tmp_path / f"head_{i}.nii.gz") for i in (1, 2)]
    from_list = load_nifti(paths, 32)
    assert list(np.unique(from_list.subjects)) == ["head_1", "head_2"]
    assert len(load_nifti(str(tmp_path / "head_*.nii.gz"), 32)) == len(from_list)


def test_4d_uses_the_first_volume(tmp_path, helpers):
    volume = helpers.head_volume()
    series = np.stack([volume, np.zeros_like(volume)], axis=-1)
    four_d = helpers.save(nib.Nifti1Image(series, np.eye(4)), tmp_path / "series.nii")
    three_d = helpers.save(helpers.ras_image(volume), tmp_path / "volume.nii")
    np.testing.assert_array_equal(
        load_nifti(four_d, 32).to_numpy(), load_nifti(three_d, 32).to_numpy()
    )


@pytest.mark.parametrize("shape", [(32, 40), (8, 8, 8, 2, 2)], ids=["2d", "5d"])
def test_wrong_dimensions_name_the_file_and_shape(tmp_path, helpers, shape):
    path = helpers.save(
        nib.Nifti1Image(np.ones(shape, np.float32), np.eye(4)), tmp_path / "odd.nii"
    )
    with pytest.raises(
        ValueError, match=rf"3D volume .*odd\.nii; got .*shape {re.escape(str(shape))}"
    ):
        load_nifti(path)


def test_anisotropic_voxels_keep_their_aspect(tmp_path, helpers):
    image = helpers.ras_image(helpers.head_volume(), zooms=(1.0, 1.0, 2.0))
    path = helpers.save(image, tmp_path / "thick.nii")
    coronal = load_nifti(path, None, "coronal", min_brain_fraction=0)
    # 24 slices of 2 mm tall, 32 voxels of 1 mm wide: 48 x 32 mm, padded to square
    assert coronal.image_shape == (48, 48)
    image = coronal.to_numpy()[len(coronal) // 2, ..., 0]
    columns = np.nonzero(image.any(axis=0))[0]
    assert columns.min() >= 8 and columns.max() < 40


def test_intensities_are_robust_to_outliers_and_nan(tmp_path, helpers):
    volume = helpers.head_volume()
    volume[16, 20, 12] = 1e6  # one hot voxel
    volume[0, 0, :] = np.nan
    images = load_nifti(
        helpers.save(helpers.ras_image(volume), tmp_path / "v.nii"), None
    ).to_numpy()
    assert images.min() == 0.0 and images.max() == 1.0
    brain = images[images > 0]
    # the ellipsoid (100) sits at a quarter of the marker (400), not crushed to ~0
    assert np.median(brain) == pytest.approx(0.25, abs=0.02)


def test_slices_without_brain_are_dropped(tmp_path, helpers):
    path = helpers.save(helpers.ras_image(helpers.head_volume()), tmp_path / "v.nii")
    n_all = len(load_nifti(path, 32, min_brain_fraction=0.0))
    n_brain = len(load_nifti(path, 32))
    n_big = len(load_nifti(path, 32, min_brain_fraction=0.5))
    assert n_all == 24 and n_all > n_brain > n_big


def test_no_brain_at_all(tmp_path, helpers):
    path = helpers.save(
        helpers.ras_image(np.zeros((8, 8, 8), np.float32)), tmp_path / "blank.nii"
    )
    with pytest.raises(
        ValueError, match=r"no slice with brain .*blank\.nii.*min_brain_fraction"
    ):
        load_nifti(path)


def test_mixed_sizes_without_image_size(tmp_path, helpers):
    small = helpers.save(
        helpers.ras_image(helpers.head_volume((16, 20, 12))), tmp_path / "a.nii"
    )
    large = helpers.save(helpers.ras_image(helpers.head_volume()), tmp_path / "b.nii")
    with pytest.raises(
        ValueError,
        match=r"different sizes: .*a\.nii gives 20x20 .*b\.nii gives 40x40.*image_size",
    ):
        load_nifti([small, large], None)
    assert load_nifti([small, large], 32).image_shape == (32, 32)


@pytest.mark.parametrize(
    "content",
    [b"not a volume at all", gzip.compress(b"\x00" * 10)],
    ids=["garbage", "bad-gzip"],
)
def test_unreadable_volume_is_named_or_skipped(tmp_path, helpers, content):
    helpers.save(helpers.ras_image(helpers.head_volume()), tmp_path / "good.nii.gz")
    (tmp_path / "bad.nii.gz").write_bytes(content)
    with pytest.raises(ValueError, match=r"Could not read .*bad\.nii\.gz"):
        load_nifti(tmp_path, 32)
    with pytest.warns(UserWarning, match=r"skipped 1 of 2 .*bad\.nii\.gz"):
        dataset = load_nifti(tmp_path, 32, on_error="skip")
    assert set(dataset.subjects) == {"good"}


def test_header_without_its_image(tmp_path, helpers):
    helpers.save_analyze(helpers.head_volume(), tmp_path / "lonely.hdr")
    (tmp_path / "lonely.img").unlink()
    with pytest.raises(ValueError, match=r"lonely"):
        load_nifti(tmp_path / "lonely.hdr")


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"could not find .*absent\.nii"):
        load_nifti(tmp_path / "absent.nii")
    with pytest.raises(
        FileNotFoundError, match=r"no files ending in \.nii, \.nii\.gz, \.hdr under"
    ):
        load_nifti(tmp_path)
    with pytest.raises(ValueError, match="empty list"):
        load_nifti([])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"axis": "transverse"}, r"'axis' .* 'sagittal', 'coronal', 'axial'"),
        ({"on_error": "warn"}, r"'on_error' .* 'raise', 'skip'"),
        ({"min_brain_fraction": 1.5}, r"'min_brain_fraction' .* \[0, 1\]"),
        ({"image_size": 0}, "image_size must be a positive int"),
    ],
    ids=["axis", "on_error", "fraction", "image_size"],
)
def test_bad_options(tmp_path, helpers, kwargs, match):
    path = helpers.save(helpers.ras_image(helpers.head_volume()), tmp_path / "v.nii")
    with pytest.raises(ValueError, match=match):
        load_nifti(path, **kwargs)


def test_nothing_is_written_into_the_data(tmp_path, helpers):
    helpers.save(
        helpers.ras_image(helpers.head_volume()),
        tmp_path / "scans" / "head.nii.gz",
    )
    helpers.save_analyze(helpers.head_volume(), tmp_path / "OAS1_0003_MR1.hdr")
    before = helpers.snapshot(tmp_path)
    dataset = load_nifti(tmp_path, 32)
    assert set(dataset.subjects) == {"head", "OAS1_0003"}
    list(dataset.as_tf_dataset(batch_size=8))
    assert helpers.snapshot(tmp_path) == before


# -- slice positions ------------------------------------------------------------


def graded_head(head: np.ndarray, axis: int) -> np.ndarray:
    """The synthetic head (without its marker), brighter along ``axis``.

    Along RAS axes the bright end is the right (x), anterior (y) or superior (z).
    """
    ramp = np.arange(head.shape[axis], dtype=np.float32) + 10
    shape = [1, 1, 1]
    shape[axis] = -1
    return (head > 0) * ramp.reshape(shape)


def brain_brightness(images: np.ndarray) -> np.ndarray:
    """Median of the nonzero pixels of every slice."""
    return np.array([np.median(image[image > 0]) for image in images[..., 0]])


@pytest.mark.parametrize("codes", ["RAS", "LPS", "IRA", "SAR"], ids=str)
@pytest.mark.parametrize(
    "axis, ras_axis",
    [("axial", 2), ("coronal", 1), ("sagittal", 0)],
    ids=["axial", "coronal", "sagittal"],
)
def test_positions_run_from_inferior_to_superior(
    tmp_path, helpers, codes, axis, ras_axis
):
    # brighter towards the superior (axial), anterior (coronal) or right
    # (sagittal) end, however the voxels are stored on disk: a brighter slice
    # has a higher position
    image = helpers.reoriented(
        helpers.ras_image(graded_head(helpers.head_volume(), ras_axis)), codes
    )
    dataset = load_nifti(helpers.save(image, tmp_path / "graded.nii.gz"), 32, axis)
    positions = dataset.positions
    assert positions.dtype == np.float32
    assert positions.shape == (len(dataset),)
    assert positions[0] == 0.0 and positions[-1] == 1.0
    assert np.all(np.diff(positions) > 0)
    brightness = brain_brightness(dataset.to_numpy())
    assert np.all(np.diff(brightness) >= 0)
    assert brightness[-1] > brightness[0] + 0.2
    assert np.corrcoef(positions, brightness)[0, 1] > 0.9


def test_positions_are_relative_to_the_kept_indices(tmp_path, helpers):
    path = helpers.save(helpers.ras_image(helpers.head_volume()), tmp_path / "h.nii")
    every = load_nifti(path, 32, min_brain_fraction=0)
    np.testing.assert_allclose(every.positions, np.linspace(0, 1, 24), atol=1e-6)
    kept = load_nifti(path, 32)
    assert len(kept) < 24
    # equally spaced (the kept slices are contiguous) from 0 to 1
    np.testing.assert_allclose(kept.positions, np.linspace(0, 1, len(kept)), atol=1e-6)


def test_positions_skip_the_gaps_between_kept_slices(tmp_path, helpers):
    # brain in axial slices 3, 4 and 10 only: positions 0, 1/7 and 1
    volume = np.zeros((16, 16, 14), dtype=np.float32)
    volume[2:14, 2:14, [3, 4, 10]] = 100.0
    path = helpers.save(helpers.ras_image(volume), tmp_path / "gaps.nii")
    dataset = load_nifti(path, 16)
    np.testing.assert_allclose(dataset.positions, [0, 1 / 7, 1], atol=1e-6)


def test_a_single_kept_slice_is_at_one_half(tmp_path, helpers):
    volume = np.zeros((16, 16, 10), dtype=np.float32)
    volume[2:14, 2:14, 6] = 100.0
    dataset = load_nifti(helpers.save(helpers.ras_image(volume), tmp_path / "v.nii"))
    assert len(dataset) == 1
    np.testing.assert_array_equal(dataset.positions, [0.5])


def test_positions_are_per_volume_and_survive_splits(tmp_path, helpers):
    small = helpers.ras_image(helpers.head_volume((32, 40, 12)))
    large = helpers.ras_image(helpers.head_volume())
    paths = [
        helpers.save(small, tmp_path / "sub-01" / "anat" / "sub-01_T1w.nii.gz"),
        helpers.save(large, tmp_path / "sub-02" / "anat" / "sub-02_T1w.nii.gz"),
    ]
    dataset = load_nifti(paths, 32)
    for subject in ("sub-01", "sub-02"):
        positions = dataset.positions[dataset.subjects == subject]
        assert positions.min() == 0.0 and positions.max() == 1.0
        assert np.all(np.diff(positions) > 0)
    train, test = dataset.split_by_subject(test_size=1, random_state=0)
    for part in (train, test):
        (subject,) = set(part.subjects)
        np.testing.assert_array_equal(
            part.positions, dataset.positions[dataset.subjects == subject]
        )


def test_load_splits_passes_nifti_positions_on(tmp_path, helpers):
    from oasisgen.datasets import load_splits

    for i in (1, 2, 3):
        helpers.save(
            helpers.ras_image(helpers.head_volume()), tmp_path / f"head_{i}.nii.gz"
        )
    splits = load_splits(tmp_path, image_size=32, test_size=1)
    whole = load_nifti(tmp_path, 32)
    for name in ("train", "test"):
        part = splits[name]
        for subject in set(part.subjects):
            np.testing.assert_array_equal(
                part.positions[part.subjects == subject],
                whole.positions[whole.subjects == subject],
            )
