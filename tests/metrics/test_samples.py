"""Tests of the sample-quality measures of oasisgen.metrics, on real slices."""

import json
import math

import numpy as np
import pytest
from scipy import ndimage
from skimage.filters import threshold_otsu

import oasisgen.metrics._samples as samples_module
from oasisgen.datasets import load_sample
from oasisgen.metrics import (
    copy_rate,
    detail_energy,
    head_intensity,
    head_mask,
    nearest_ssim,
    neighbour_ssim,
    pairwise_ssim,
    sample_quality,
    shape_plausibility,
    shape_statistics,
    ssim,
    two_sample_test,
)

SIZE = 32
STATISTICS = ["n_components", "solidity", "symmetry", "area_fraction", "skull_ring"]
QUALITY_KEYS = {
    "n_samples",
    "n_real",
    "n_train",
    "two_sample_accuracy",
    "two_sample_accuracy_std",
    "two_sample_accuracy_real",
    "two_sample_accuracy_real_std",
    "two_sample_n_per_class",
    "shape_plausibility",
    "shape_plausibility_real",
    "detail_energy_median",
    "detail_energy_median_real",
    "detail_energy_real_q25",
    "detail_energy_real_q75",
    "detail_energy_in_real_iqr",
    "head_intensity_median",
    "head_intensity_median_real",
    "head_intensity_in_real_iqr",
    "nearest_ssim_median",
    "nearest_ssim_p95",
    "nearest_ssim_median_real",
    "nearest_ssim_p95_real",
    "nearest_index",
    "copy_threshold",
    "copy_rate",
    "copy_rate_real",
    "pairwise_ssim",
    "pairwise_ssim_real",
    "two_sample_accuracy_reconstructed",
    "shape_plausibility_reconstructed",
    "detail_energy_median_reconstructed",
    "detail_energy_in_real_iqr_reconstructed",
    "head_intensity_in_real_iqr_reconstructed",
    "two_sample_accuracy_given_real_top",
    "shape_plausibility_given_real_top",
    "detail_energy_median_given_real_top",
    "detail_energy_in_real_iqr_given_real_top",
    "head_intensity_in_real_iqr_given_real_top",
}
STAND_INS = pytest.mark.parametrize(
    "param, suffix",
    [("reconstructions", "reconstructed"), ("real_top_samples", "given_real_top")],
)


@pytest.fixture(scope="module")
def train():
    """178 real slices of 3 people, ordered by subject then slice, and subjects."""
    images, subjects = load_sample("train", image_size=SIZE, return_subjects=True)
    return images[..., 0], subjects


@pytest.fixture(scope="module")
def heldout():
    """54 real slices of a fourth person."""
    return load_sample("test", image_size=SIZE)[..., 0]


@pytest.fixture(scope="module")
def noise():
    return np.random.default_rng(0).random((24, SIZE, SIZE)).astype(np.float32)


def _ellipse(cy, cx, ry, rx, value=0.7):
    yy, xx = np.mgrid[:SIZE, :SIZE]
    inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return np.where(inside, value, 0.0)


def _square():
    image = np.zeros((SIZE, SIZE))
    image[8:24, 8:24] = 0.8
    return image


def _crescent():
    inside = (_ellipse(16, 16, 12, 10) > 0) & ~(_ellipse(16, 22, 10, 9) > 0)
    return np.where(inside, 0.7, 0.0)


def _lopsided():
    return np.maximum(_ellipse(16, 13, 12, 8), _ellipse(20, 22, 6, 7))


def _two_heads():
    return np.maximum(_ellipse(16, 8, 6, 5), _ellipse(16, 24, 6, 5))


def _uniform_noise():
    return np.random.default_rng(1).random((SIZE, SIZE))


def _halves_within_subjects(subjects, seed=0):
    """Split rows at random into two halves, half of each subject in each."""
    rng = np.random.default_rng(seed)
    first = np.zeros(len(subjects), dtype=bool)
    for subject in np.unique(subjects):
        rows = np.flatnonzero(subjects == subject)
        first[rng.choice(rows, len(rows) // 2, replace=False)] = True
    return first


# --- head_mask --------------------------------------------------------------------


def test_head_mask_of_real_slices_is_one_plausible_component(train):
    images, _ = train
    masks = head_mask(images)
    assert masks.shape == images.shape and masks.dtype == bool
    fractions = masks.mean(axis=(1, 2))
    assert np.all((fractions > 0.2) & (fractions < 0.9))
    for mask in masks:
        assert ndimage.label(mask, structure=np.ones((3, 3)))[1] == 1
        # holes filled: the mask's complement has no component off the border
        assert np.array_equal(ndimage.binary_fill_holes(mask), mask)


@pytest.mark.parametrize("row", [0, 20, 45, 61, 70, 100, 115])
def test_li_keeps_more_of_the_head_than_otsu(train, row):
    image = train[0][row : row + 1]
    li = head_mask(image)
    otsu = head_mask(image, threshold=float(threshold_otsu(image[0])))
    assert li.sum() > otsu.sum()
    assert np.all(li | ~otsu)  # Otsu's mask lies inside Li's


@pytest.mark.parametrize(
    "layout",
    [
        lambda x: x,
        lambda x: x[..., np.newaxis],
        lambda x: np.round(x * 255).astype("u1"),
    ],
    ids=["3d", "4d", "uint8"],
)
def test_head_mask_accepts_slice_layouts(train, layout):
    images = train[0][:4]
    expected = head_mask(np.round(images * 255) / 255)
    np.testing.assert_array_equal(
        head_mask(layout(np.round(images * 255) / 255)), expected
    )


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0], ids=["black", "gray", "white"])
def test_constant_slice_gives_empty_mask_and_zero_statistics(value):
    images = np.full((2, SIZE, SIZE), value)
    assert not head_mask(images).any()
    stats = shape_statistics(images)
    for name in STATISTICS:
        np.testing.assert_array_equal(stats[name], 0)
    np.testing.assert_array_equal(detail_energy(images), 0.0)


def test_float_threshold_is_used_for_every_slice(train):
    images = train[0][:3]
    assert not head_mask(images, threshold=1.0).any()
    assert head_mask(images, threshold=0.0).sum() >= head_mask(images).sum()


# --- shape statistics and plausibility --------------------------------------------


def test_shape_statistics_of_real_slices(train):
    images, _ = train
    stats = shape_statistics(images)
    assert list(stats) == STATISTICS
    assert all(values.shape == (len(images),) for values in stats.values())
    assert np.median(stats["n_components"]) == 1
    assert np.median(stats["solidity"]) > 0.9
    assert np.median(stats["symmetry"]) > 0.9
    np.testing.assert_allclose(
        stats["area_fraction"], head_mask(images).mean(axis=(1, 2))
    )
    assert np.all(np.isfinite(stats["skull_ring"]))


@pytest.mark.parametrize(
    ("make", "statistic", "compare"),
    [
        (_crescent, "solidity", "below"),
        (_lopsided, "symmetry", "below"),
        (_two_heads, "n_components", "above"),
        (_uniform_noise, "skull_ring", "above"),
        (_square, "solidity", "above"),
    ],
    ids=["crescent", "lopsided", "two-heads", "noise", "square"],
)
def test_unreal_shapes_are_implausible(train, make, statistic, compare):
    images = make()[np.newaxis]
    value = shape_statistics(images)[statistic][0]
    real = shape_statistics(train[0])[statistic]
    if compare == "below":
        assert value < np.percentile(real, 5)
    else:
        assert value > np.percentile(real, 95)
    assert shape_plausibility(images, train[0]) == 0.0


def test_real_heldout_slices_are_plausible_and_noise_is_not(train, heldout, noise):
    images, subjects = train
    # a random fifth of each training person's slices, against the rest
    rng = np.random.default_rng(0)
    held = np.zeros(len(images), dtype=bool)
    for subject in np.unique(subjects):
        rows = np.flatnonzero(subjects == subject)
        held[rng.choice(rows, len(rows) // 5, replace=False)] = True
    assert shape_plausibility(images[held], images[~held]) >= 0.85  # measured 0.94
    # Another person's slices fall outside more often: this one's heads are less
    # solid and less symmetric than the MNI-framed training heads (0.65; 0.72
    # against two training people)
    fraction, per_image = shape_plausibility(heldout, train[0], return_per_image=True)
    assert fraction >= 0.6
    assert per_image.shape == (len(heldout),) and per_image.dtype == bool
    assert fraction == pytest.approx(per_image.mean())
    assert shape_plausibility(noise, train[0]) == 0.0
    squares = np.where(noise > 0.5, noise, 0.0)  # noise in square heads
    squares[:, :4], squares[:, -4:], squares[:, :, :4], squares[:, :, -4:] = 0, 0, 0, 0
    assert shape_plausibility(squares, train[0]) <= 0.05


def test_margin_widens_the_ranges(train, heldout):
    strict = shape_plausibility(heldout, train[0], margin=0.0)
    loose = shape_plausibility(heldout, train[0], margin=1.0)
    assert strict <= shape_plausibility(heldout, train[0]) <= loose
    assert strict < loose


# --- detail energy ----------------------------------------------------------------


def test_blurring_removes_detail_energy(train):
    images = train[0][10:110:10]
    blurred = ndimage.gaussian_filter(images, sigma=(0, 1.5, 1.5))
    energy, energy_blurred = detail_energy(images), detail_energy(blurred)
    assert energy.shape == (len(images),)
    assert np.all(energy > 0)
    assert np.all(energy_blurred < energy / 3)


def test_detail_energy_means_the_same_at_any_size():
    medians = [
        np.median(detail_energy(load_sample("train", size)[::10])) for size in (64, 128)
    ]
    assert medians[1] == pytest.approx(medians[0], rel=0.5)


def test_added_noise_raises_detail_energy(train):
    images = train[0][20:30]
    rng = np.random.default_rng(0)
    noisy = np.clip(images + rng.normal(0, 0.1, images.shape), 0, 1)
    assert np.all(detail_energy(noisy) > 1.3 * detail_energy(images))


# --- head intensity ---------------------------------------------------------------


@pytest.mark.parametrize(("gamma", "brighter"), [(0.7, True), (1.4, False)])
def test_head_intensity_follows_a_gamma_change(train, gamma, brighter):
    images = train[0][20:100:10]
    changed = head_intensity(images**gamma)
    assert changed.shape == (len(images),)
    assert np.all((changed > head_intensity(images)) == brighter)


def test_head_intensity_means_the_same_at_any_size():
    medians = [
        np.median(head_intensity(load_sample("train", size)[::10]))
        for size in (64, 128)
    ]
    assert medians[1] == pytest.approx(medians[0], abs=0.03)


def test_head_intensity_of_an_empty_slice_is_zero():
    np.testing.assert_array_equal(head_intensity(np.zeros((2, 32, 32))), 0.0)


@pytest.mark.parametrize(
    ("images", "error", "match"),
    [
        (np.full((2, 16, 16), np.nan), ValueError, "NaN"),
        (np.full((2, 16, 16), 2.0), ValueError, r"\[0, 1\]"),
        (np.zeros((16, 16)), ValueError, "n_slices"),
        (np.full((2, 16, 16), "a"), TypeError, "numeric"),
    ],
    ids=["nan", "above one", "one slice", "text"],
)
def test_head_intensity_refuses_what_is_not_slices(images, error, match):
    with pytest.raises(error, match=match):
        head_intensity(images)


# --- nearest, neighbour and pairwise SSIM -----------------------------------------


def test_nearest_ssim_finds_copies(train):
    images, _ = train
    rows = np.array([0, 33, 61, 62, 115])
    nearest, index = nearest_ssim(images[rows], images, return_index=True)
    np.testing.assert_allclose(nearest, 1.0, atol=1e-5)
    np.testing.assert_array_equal(index, rows)
    assert isinstance(nearest_ssim(images[rows], images), np.ndarray)


@pytest.mark.parametrize("chunk", [None, 7], ids=["one-chunk", "chunks-of-7"])
def test_nearest_ssim_matches_ssim_of_every_pair(train, heldout, monkeypatch, chunk):
    if chunk is not None:
        monkeypatch.setattr(samples_module, "_PAIR_PIXELS", chunk * SIZE * SIZE)
    reference = train[0][::6]
    queries = heldout[[3, 30, 31, 40, 41, 50, 51, 52, 53]]
    brute = np.array(
        [
            ssim(
                np.repeat(q[np.newaxis], len(reference), 0), reference, reduction="none"
            )
            for q in queries
        ]
    )
    nearest, index = nearest_ssim(queries, reference, return_index=True)
    np.testing.assert_allclose(nearest, brute.max(axis=1), atol=1e-5)
    np.testing.assert_array_equal(index, brute.argmax(axis=1))


def test_neighbour_ssim_pairs_consecutive_slices_of_one_group(train):
    images, subjects = train
    values = neighbour_ssim(images, subjects)
    assert values.shape == (len(images) - len(np.unique(subjects)),)
    # the last slice of the first subject is not paired with the next subject
    n_first = int(np.sum(subjects == subjects[0]))
    expected = ssim(images[:3], images[1:4], reduction="none")
    np.testing.assert_allclose(values[:3], expected, atol=1e-5)
    across = ssim(images[n_first - 1 : n_first], images[n_first : n_first + 1])
    assert not np.any(np.isclose(values, across, atol=1e-7))
    assert 0.5 < np.median(values) < 1.0


def test_copy_rate_of_copies_noise_and_new_subjects(train, heldout, noise):
    images, subjects = train
    assert copy_rate(images[::7], images, subjects) == 1.0
    assert copy_rate(noise, images, subjects) == 0.0
    assert copy_rate(heldout, images, subjects) <= 0.1


def test_pairwise_ssim_is_one_for_identical_images_and_lower_for_real(train):
    images, _ = train
    assert pairwise_ssim(np.repeat(images[40:41], 8, axis=0)) == pytest.approx(1.0)
    real = pairwise_ssim(images[::4])
    assert real < 0.6


@pytest.mark.parametrize("max_pairs", [1, 50, 190, 10_000])
def test_pairwise_ssim_draws_distinct_pairs(train, max_pairs):
    images = train[0][::9]  # 20 slices, 190 pairs
    full = pairwise_ssim(images)
    drawn = pairwise_ssim(images, max_pairs=max_pairs, random_state=0)
    assert drawn == pairwise_ssim(images, max_pairs=max_pairs, random_state=0)
    if max_pairs >= 190:
        assert drawn == pytest.approx(full, abs=1e-6)
    elif max_pairs == 50:
        assert drawn == pytest.approx(full, abs=0.1)


# --- two-sample test --------------------------------------------------------------


@pytest.mark.parametrize("classifier", ["linear", "cnn"])
def test_two_sample_test_tells_noise_from_real(train, classifier):
    rng = np.random.default_rng(2)
    fake = rng.random((40, SIZE, SIZE))
    result = two_sample_test(train[0], fake, classifier=classifier, n_splits=4)
    assert result["accuracy"] >= 0.9
    assert result["n_per_class"] == 40
    assert len(result["fold_accuracies"]) == 4
    assert result["accuracy_std"] == pytest.approx(np.std(result["fold_accuracies"]))


@pytest.mark.parametrize("seed", [0, 1])
def test_two_sample_test_cannot_tell_halves_of_the_same_people(train, seed):
    images, subjects = train
    first = _halves_within_subjects(subjects, seed=seed)
    result = two_sample_test(
        images[first], images[~first], classifier="linear", random_state=seed
    )
    assert result["accuracy"] <= 0.8
    assert result["n_per_class"] == len(images) // 2


def test_two_sample_test_is_repeatable_and_json_ready(train, heldout):
    first = two_sample_test(train[0], heldout, classifier="linear", random_state=3)
    assert first == two_sample_test(
        train[0], heldout, classifier="linear", random_state=3
    )
    assert first["n_per_class"] == len(heldout)
    json.dumps(first)


# --- sample_quality ---------------------------------------------------------------


@pytest.fixture(scope="module")
def quality_of_noise(train, heldout, noise):
    images, subjects = train
    # the held-out slices stand for a perfect autoencoder's reconstructions, and
    # for a perfect bottom prior's samples over their top codes
    return sample_quality(
        noise,
        heldout,
        images,
        train_groups=subjects,
        classifier="linear",
        reconstructions=heldout,
        real_top_samples=heldout,
    )


def test_sample_quality_reports_every_key_finite(quality_of_noise, noise, heldout):
    quality = quality_of_noise
    assert set(quality) == QUALITY_KEYS
    json.dumps(quality)
    for key, value in quality.items():
        if key == "nearest_index":
            assert len(value) == len(noise) and all(type(i) is int for i in value)
        else:
            assert type(value) in (int, float), key
            assert math.isfinite(value), key
    assert quality["n_samples"] == len(noise) and quality["n_real"] == len(heldout)


def test_sample_quality_ranks_noise_below_real(quality_of_noise):
    quality = quality_of_noise
    assert quality["two_sample_accuracy"] >= 0.9
    assert quality["shape_plausibility"] == 0.0
    assert quality["shape_plausibility_real"] >= 0.6  # another person's slices
    assert quality["copy_rate"] == 0.0
    assert quality["nearest_ssim_median"] < quality["nearest_ssim_median_real"]
    assert quality["detail_energy_median"] > quality["detail_energy_real_q75"]
    assert quality["detail_energy_in_real_iqr"] == 0.0


@STAND_INS
def test_perfect_stand_ins_reach_the_real_figures(quality_of_noise, param, suffix):
    quality = quality_of_noise
    assert quality[f"shape_plausibility_{suffix}"] == quality["shape_plausibility_real"]
    assert (
        quality[f"detail_energy_median_{suffix}"]
        == quality["detail_energy_median_real"]
    )
    assert 0.4 <= quality[f"detail_energy_in_real_iqr_{suffix}"] <= 0.6
    assert 0.4 <= quality[f"head_intensity_in_real_iqr_{suffix}"] <= 0.6
    # the same slices on both sides: nothing to tell apart
    assert quality[f"two_sample_accuracy_{suffix}"] <= 0.6


@STAND_INS
def test_blurred_stand_ins_lose_detail(train, heldout, noise, param, suffix):
    from scipy.ndimage import gaussian_filter

    blurred = gaussian_filter(heldout, sigma=(0, 1.5, 1.5))
    quality = sample_quality(
        noise, heldout, train[0], classifier="linear", **{param: blurred}
    )
    assert quality[f"detail_energy_median_{suffix}"] < quality["detail_energy_real_q25"]
    assert quality[f"detail_energy_in_real_iqr_{suffix}"] < 0.2
    assert quality[f"two_sample_accuracy_{suffix}"] >= 0.8  # blur shows
    # the other stand-in was not given
    other = "given_real_top" if suffix == "reconstructed" else "reconstructed"
    assert quality[f"detail_energy_median_{other}"] is None


def test_sample_quality_of_copied_training_slices(train, heldout):
    images, subjects = train
    quality = sample_quality(
        images[::5],
        heldout,
        images,
        heldout_groups=np.zeros(len(heldout)),
        train_groups=subjects,
        classifier="linear",
    )
    assert quality["copy_rate"] == 1.0
    assert quality["nearest_ssim_median"] == pytest.approx(1.0, abs=1e-5)
    assert quality["nearest_index"] == list(range(0, len(images), 5))
    assert quality["copy_rate_real"] <= 0.1
    assert 0.5 < quality["copy_threshold"] < 1.0


def test_sample_quality_without_groups_has_no_copy_rate(train, heldout, noise):
    quality = sample_quality(noise, heldout, train[0], classifier="linear")
    assert quality["copy_threshold"] is None
    assert quality["copy_rate"] is None and quality["copy_rate_real"] is None
    assert quality["shape_plausibility_reconstructed"] is None  # none given
    assert quality["two_sample_accuracy_reconstructed"] is None
    # held-out volumes set the threshold when the training groups are missing
    with_heldout = sample_quality(
        noise,
        heldout,
        train[0],
        heldout_groups=np.zeros(len(heldout)),
        classifier="linear",
    )
    assert with_heldout["copy_threshold"] == pytest.approx(
        float(np.median(neighbour_ssim(heldout, np.zeros(len(heldout)))))
    )


# --- bad input --------------------------------------------------------------------


def test_sample_quality_rejects_different_sizes(train, heldout):
    samples = load_sample("test", image_size=64)[:10]
    with pytest.raises(
        ValueError,
        match=r"got 64x64 samples and 32x32 heldout.*oasisgen\.preprocessing\.Resize",
    ):
        sample_quality(samples, heldout, train[0], classifier="linear")
    with pytest.raises(ValueError, match=r"got 32x32 images and 64x64 reference"):
        nearest_ssim(heldout, samples)


@STAND_INS
def test_sample_quality_rejects_stand_ins_of_other_slices(
    train, heldout, param, suffix
):
    with pytest.raises(
        ValueError,
        match=rf"expected {param} of the held-out slices, one per slice of their "
        r"shape \(54, 32, 32\); got shape \(53, 32, 32\)",
    ):
        sample_quality(
            heldout, heldout, train[0], classifier="linear", **{param: heldout[1:]}
        )


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_nan_or_inf_is_rejected(heldout, bad):
    images = heldout[:6].copy()
    images[2, 5, 5] = bad
    with pytest.raises(ValueError, match=r"samples containing NaN or inf \(1 value"):
        sample_quality(images, heldout, heldout, classifier="linear")
    with pytest.raises(ValueError, match="NaN or inf"):
        head_mask(images)


def test_too_few_slices_for_the_folds(train, heldout):
    with pytest.raises(
        ValueError, match=r"at least n_splits=5 slices.*got 3 in second"
    ):
        two_sample_test(train[0], heldout[:3], classifier="linear")
    with pytest.raises(ValueError, match=r"got 4 in heldout.*lower n_splits"):
        sample_quality(heldout, heldout[:4], train[0], classifier="linear")


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((SIZE, SIZE), r"batch of slices.*got an array of shape \(32, 32\)"),
        ((2, 3, SIZE, SIZE), r"got an array of shape \(2, 3, 32, 32\)"),
        ((2, SIZE, SIZE, 3), r"got an array of shape \(2, 32, 32, 3\)"),
        ((0, SIZE, SIZE), r"expected at least \d image\(s\); got 0"),
    ],
    ids=["2d", "4d-channels-first", "rgb", "empty"],
)
@pytest.mark.parametrize(
    "call",
    [
        head_mask,
        shape_statistics,
        detail_energy,
        pairwise_ssim,
        lambda x: nearest_ssim(x, np.zeros((2, SIZE, SIZE))),
    ],
    ids=["head_mask", "shape_statistics", "detail_energy", "pairwise", "nearest"],
)
def test_wrong_shapes_are_rejected(call, shape, message):
    with pytest.raises(ValueError, match=message):
        call(np.zeros(shape))


def test_wrong_dtypes_and_ranges_are_rejected(heldout):
    with pytest.raises(TypeError, match=r"real numeric dtype.*got dtype <U1"):
        detail_energy(np.full((2, 4, 4), "a"))
    with pytest.raises(TypeError, match="got dtype bool"):
        head_mask(np.zeros((2, 4, 4), dtype=bool))
    with pytest.raises(
        ValueError, match=r"values in \[0, 1\]; got values in \[0, 1\.985\]"
    ):
        shape_statistics(heldout * 2)
    with pytest.raises(ValueError, match=r"in \[0, 255\].*got values in \[0, 310\]"):
        shape_statistics(np.arange(32, dtype=np.int16).reshape(2, 4, 4) * 10)


def test_wrong_groups_are_rejected(train, heldout, noise):
    images, subjects = train
    with pytest.raises(
        ValueError, match=r"groups of shape \(178,\).*got shape \(177,\)"
    ):
        neighbour_ssim(images, subjects[:-1])
    with pytest.raises(ValueError, match=r"train_groups of shape \(178,\)"):
        sample_quality(
            noise, heldout, images, train_groups=subjects[:10], classifier="linear"
        )
    shuffled = np.concatenate([subjects[:10], subjects[-10:], subjects[10:-10]])
    with pytest.raises(ValueError, match="consecutive rows.*np.argsort"):
        copy_rate(noise, images, shuffled)
    with pytest.raises(ValueError, match="at least one pair of neighbouring"):
        copy_rate(noise, images, np.arange(len(images)))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"classifier": "svm"}, ValueError, r"classifier to be one of .*got 'svm'"),
        ({"n_splits": 1}, ValueError, "n_splits >= 2; got 1"),
        ({"n_splits": 2.5}, TypeError, "n_splits to be an int; got float"),
    ],
)
def test_bad_test_options_are_rejected(heldout, kwargs, error, message):
    with pytest.raises(error, match=message):
        two_sample_test(heldout, heldout, **kwargs)
    with pytest.raises(error, match=message):
        sample_quality(heldout, heldout, heldout, **kwargs)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda x: head_mask(x, threshold="otsu"), ValueError, "Otsu"),
        (lambda x: head_mask(x, threshold=1.5), ValueError, "threshold in"),
        (lambda x: head_mask(x, threshold=[0.5]), TypeError, "got list"),
        (lambda x: pairwise_ssim(x, max_pairs=0), ValueError, "max_pairs >= 1"),
        (lambda x: pairwise_ssim(x, max_pairs=2.0), TypeError, "max_pairs to be"),
        (lambda x: pairwise_ssim(x[:1]), ValueError, r"at least 2 image\(s\); got 1"),
        (lambda x: shape_plausibility(x, x, margin=-1), ValueError, "margin >= 0"),
    ],
    ids=[
        "otsu",
        "threshold-range",
        "threshold-type",
        "max-pairs",
        "max-pairs-type",
        "one-slice",
        "margin",
    ],
)
def test_bad_options_are_rejected(heldout, call, error, message):
    with pytest.raises(error, match=message):
        call(heldout[:4])
