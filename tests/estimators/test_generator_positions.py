"""Generation by slice position, augmentation of the priors' data, evaluation."""

import numpy as np
import pytest

import oasisgen
from oasisgen import HierarchicalGenerator, PixelCNNPrior, VQVAE2Estimator
from oasisgen.datasets import SliceDataset, load_sample
from oasisgen.metrics import head_mask
from oasisgen.preprocessing import RandomSliceTransform

from .conftest import TINY_PRIOR, TINY_VQVAE


def make_generator(**params):
    return HierarchicalGenerator(
        vqvae=VQVAE2Estimator(**TINY_VQVAE),
        top_prior=PixelCNNPrior(**TINY_PRIOR),
        bottom_prior=PixelCNNPrior(**TINY_PRIOR),
        **params,
    )


@pytest.fixture(scope="module")
def sample():
    X, subjects, positions = load_sample(
        "train", image_size=32, return_subjects=True, return_positions=True
    )
    return X, subjects, positions


@pytest.fixture(scope="module")
def fitted(sample):
    X, _, positions = sample
    return make_generator().fit(X[::2], positions[::2])


@pytest.fixture(scope="module")
def unconditional(sample):
    return make_generator().fit(sample[0][::4])


def test_positions_condition_the_top_prior_only(fitted, sample):
    assert fitted.top_prior_.global_condition_dim_ == 1
    assert fitted.bottom_prior_.global_condition_dim_ is None
    np.testing.assert_allclose(fitted.slice_positions_, sample[2][::2])


def test_a_slice_dataset_brings_its_positions(sample):
    X, subjects, positions = sample
    dataset = SliceDataset.from_array(X[::4], subjects[::4], positions=positions[::4])
    generator = make_generator().fit(dataset)
    np.testing.assert_allclose(generator.slice_positions_, positions[::4])
    assert generator.score_samples(dataset).shape == (len(dataset),)


def test_without_positions_the_top_prior_is_unconditional(unconditional):
    assert unconditional.slice_positions_ is None
    assert unconditional.top_prior_.global_condition_dim_ is None
    assert unconditional.sample(2, random_state=0).shape == (2, 32, 32, 1)


def test_one_position_or_one_per_sample(fitted, sample):
    same = fitted.sample(3, slice_position=0.4, random_state=0)
    each = fitted.sample(3, slice_position=[0.4, 0.4, 0.4], random_state=0)
    np.testing.assert_array_equal(same, each)
    # The positions reach the top prior: the same slices score otherwise at other
    # levels. (The samples themselves may not differ: after one epoch the tiny
    # prior's probabilities move too little to change the codes drawn with the
    # same random numbers.)
    X = sample[0][1:4]
    at_one = fitted.score_samples(X, slice_position=[0.4, 0.4, 0.4])
    at_three = fitted.score_samples(X, slice_position=[0.0, 0.5, 1.0])
    assert not np.allclose(at_one, at_three)


def test_without_a_position_levels_are_drawn_from_the_training_ones(fitted):
    first = fitted.sample(4, random_state=3)
    np.testing.assert_array_equal(first, fitted.sample(4, random_state=3))


@pytest.mark.parametrize(
    "slice_position, match",
    [
        (1.5, r"in \[0, 1\].*1\.5"),
        (-0.1, r"in \[0, 1\]"),
        (
            [0.2, 0.5],
            r"expected 3 slice positions, one per slice \(shape \(3,\)\); got "
            r"shape \(2,\)",
        ),
        (float("nan"), r"in \[0, 1\]"),
        ([[0.2, 0.5, 0.1]], "one per slice"),
    ],
)
def test_bad_positions_are_refused(fitted, slice_position, match):
    with pytest.raises(ValueError, match=match):
        fitted.sample(3, slice_position=slice_position)


def test_a_position_that_is_not_a_number_is_a_type_error(fitted):
    with pytest.raises(TypeError, match="as real numbers in .*dtype <U6"):
        fitted.sample(3, slice_position="middle")


def test_positions_for_a_generator_fitted_without_them_are_refused(unconditional):
    with pytest.raises(ValueError, match="fitted without slice positions"):
        unconditional.sample(2, slice_position=0.5)


def test_fit_refuses_positions_of_the_wrong_length(sample):
    X, _, positions = sample
    with pytest.raises(ValueError, match="expected 45 slice positions"):
        make_generator().fit(X[::4], positions[:3])


def test_scoring_needs_the_positions_it_was_fitted_with(fitted, sample):
    X, _, positions = sample
    with pytest.raises(ValueError, match="fitted with slice positions; pass"):
        fitted.score_samples(X[1::8])
    assert np.isfinite(fitted.score(X[1::8], positions[1::8]))


def synthetic_levels(n=96, size=32, seed=0):
    """Heads whose size grows with the level, as in axial slices towards the middle."""
    rng = np.random.default_rng(seed)
    positions = rng.uniform(0, 1, n).astype("float32")
    yy, xx = np.mgrid[:size, :size] / (size - 1) - 0.5
    radii = 0.12 + 0.3 * positions
    images = [
        0.8 * ((xx / r) ** 2 + (yy / r) ** 2 < 1) + rng.normal(0, 0.01, (size, size))
        for r in radii
    ]
    return np.clip(np.stack(images), 0, 1)[..., None].astype("float32"), positions


@pytest.mark.slow
def test_samples_at_low_and_high_positions_differ_as_real_slices_do():
    X, positions = synthetic_levels()
    prior = dict(TINY_PRIOR, epochs=20, hidden_channels=16, learning_rate=3e-3)
    generator = HierarchicalGenerator(
        vqvae=VQVAE2Estimator(**{**TINY_VQVAE, "epochs": 15}),
        top_prior=PixelCNNPrior(**prior),
        bottom_prior=PixelCNNPrior(**prior),
    ).fit(X, positions)
    areas = {}
    for level in (0.1, 0.9):
        samples = generator.sample(16, slice_position=level, random_state=0)
        areas[level] = head_mask(samples).mean()
    real_low = head_mask(X[positions < 0.2]).mean()
    real_high = head_mask(X[positions > 0.8]).mean()
    assert real_high > 2 * real_low
    assert areas[0.9] > 1.5 * areas[0.1]


def test_augmented_generator_keeps_positions_and_augmentation_when_saved(
    sample, tmp_path
):
    X, _, positions = sample
    generator = make_generator(
        augmentation=RandomSliceTransform(n_copies=2, rotation=3.0, random_state=0)
    ).fit(X[::4], positions[::4])
    # the copies train the priors; the positions drawn from are those of X alone
    np.testing.assert_allclose(generator.slice_positions_, positions[::4])
    generator.save(tmp_path / "gen")
    loaded = oasisgen.load(tmp_path / "gen")
    np.testing.assert_allclose(loaded.slice_positions_, generator.slice_positions_)
    assert loaded.augmentation.get_params() == generator.augmentation.get_params()
    np.testing.assert_array_equal(
        loaded.sample(2, slice_position=0.3, random_state=1),
        generator.sample(2, slice_position=0.3, random_state=1),
    )


def test_augmentation_must_return_whole_copies(sample):
    class Drops:
        def fit_transform(self, X):
            return X[:-1]

        def get_params(self, deep=True):
            return {}

        def set_params(self, **params):
            return self

    generator = make_generator(augmentation=Drops())
    with pytest.raises(ValueError, match="expected whole copies"):
        generator.fit(sample[0][::4])


# ---------------------------------------------------------------- evaluation
def test_evaluate_reports_every_figure_beside_the_real_one(fitted, sample):
    X, subjects, positions = sample
    quality, samples = fitted.evaluate(
        X[1::4],
        X[::2],
        slice_position=positions[1::4],
        groups=subjects[1::4],
        train_groups=subjects[::2],
        n_samples=12,
        classifier="linear",
        n_splits=3,
        return_samples=True,
    )
    assert samples.shape == (12, 32, 32, 1)
    for name in (
        "two_sample_accuracy",
        "shape_plausibility",
        "nearest_ssim_median",
        "copy_rate",
        "pairwise_ssim",
    ):
        assert np.isfinite(quality[name]) and np.isfinite(quality[f"{name}_real"])
    assert quality["sampled_at_real_positions"] is True
    assert quality["level_error"] is None  # X_train, an array, has no positions
    assert quality["top_bits_per_code"] > 0
    assert quality["top_bits_per_code_uniform"] == pytest.approx(4.0)
    # real held-out slices of the training people look like the training slices
    assert quality["shape_plausibility_real"] >= 0.7
    assert quality["nearest_ssim_median_real"] > 0.5
    for stage in ("reconstructed", "given_real_top"):
        for name in (
            "two_sample_accuracy",
            "shape_plausibility",
            "detail_energy_median",
        ):
            assert np.isfinite(quality[f"{name}_{stage}"]), (name, stage)


def test_evaluate_draws_bottom_codes_over_the_real_top_codes(
    fitted, sample, monkeypatch
):
    X, _, positions = sample
    real = X[1::4]
    drawn = []
    prior = fitted.bottom_prior_
    original = type(prior).sample

    def recording(self, n_samples, condition=None, **kwargs):
        if self is prior:  # not the top prior, of the same class
            drawn.append(np.asarray(condition))
        return original(self, n_samples, condition, **kwargs)

    monkeypatch.setattr(type(prior), "sample", recording)
    quality = fitted.evaluate(
        real,
        X[::2],
        slice_position=positions[1::4],
        n_samples=8,
        classifier="linear",
        n_splits=2,
    )
    # over the samples' top codes, then over the held-out slices' own
    assert len(drawn) == 2
    np.testing.assert_array_equal(drawn[1], fitted.vqvae_.encode(real)[0])
    assert 0 <= quality["shape_plausibility_given_real_top"] <= 1


def test_evaluate_takes_positions_and_subjects_from_a_slice_dataset(fitted, sample):
    X, subjects, positions = sample
    held = SliceDataset.from_array(X[1::4], subjects[1::4], positions=positions[1::4])
    train = SliceDataset.from_array(X[::2], subjects[::2], positions=positions[::2])
    quality = fitted.evaluate(held, train, n_samples=8, classifier="linear", n_splits=2)
    assert quality["sampled_at_real_positions"] is True
    assert quality["n_real"] == len(held)
    # the levels of real held-out slices of the training people are easy to read
    assert 0 <= quality["level_error_real"] < 0.5 * quality["level_error_chance"]
    assert 0 <= quality["level_error"] <= 1


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda X: X[:, :16, :16], "expected X of 32x32.*got 16x16"),
        (lambda X: np.where(X > 0.5, np.nan, X), "NaN"),
        (lambda X: X[:2], "fewer|at least"),
    ],
)
def test_evaluate_refuses_bad_real_slices(fitted, sample, change, match):
    X = sample[0]
    with pytest.raises(ValueError, match=match):
        fitted.evaluate(change(X[1::4]), X[::2], n_samples=8, classifier="linear")


def test_evaluate_refuses_positions_for_a_generator_without_them(unconditional, sample):
    with pytest.raises(ValueError, match="fitted without slice positions"):
        unconditional.evaluate(
            sample[0][1::4], sample[0][::4], slice_position=sample[2][1::4]
        )


def test_augmentation_needs_images_in_memory(sample):
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices(sample[0][:8]).batch(4)
    generator = make_generator(augmentation=RandomSliceTransform(n_copies=1))
    with pytest.raises(ValueError, match="augmentation needs the images in memory"):
        generator.fit(data)


def test_the_top_and_bottom_priors_take_their_own_temperatures(fitted, monkeypatch):
    used = {}
    for level in ("top_prior_", "bottom_prior_"):
        prior = getattr(fitted, level)

        def spy(*args, _sample=prior.sample, _level=level, **kwargs):
            used[_level] = kwargs["temperature"]
            return _sample(*args, **kwargs)

        monkeypatch.setattr(prior, "sample", spy)
    fitted.sample(2, slice_position=0.5, random_state=2, temperature=(0.5, 1.5))
    assert used == {"top_prior_": 0.5, "bottom_prior_": 1.5}
    fitted.sample(2, slice_position=0.5, random_state=2, temperature=0.7)
    assert used == {"top_prior_": 0.7, "bottom_prior_": 0.7}
    with pytest.raises(ValueError, match=r"a pair \(top, bottom\).*got 3 values"):
        fitted.sample(2, temperature=(0.5, 1.0, 1.0))
    with pytest.raises(ValueError, match="temperature must be a float > 0"):
        fitted.sample(2, temperature=(0.5, -1.0))
