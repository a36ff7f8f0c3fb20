import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils import get_tags

from oasisgen.datasets import load_sample
from oasisgen.preprocessing import (
    IntensityScaler,
    RandomSliceTransform,
    Resize,
    random_transform,
)


def _images(shape=(4, 32, 32), seed=0):
    """Seeded float images in [0, 1]."""
    return np.random.default_rng(seed).random(shape)


def _raw_images(shape=(4, 32, 32), seed=0):
    """Seeded images with scanner-like intensities, including negative values."""
    return np.random.default_rng(seed).normal(300.0, 200.0, shape)


# --- Resize -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image_size", "expected"),
    [(16, (16, 16)), (64, (64, 64)), ((8, 24), (8, 24)), ([24, 8], (24, 8))],
    ids=["down-16", "up-64", "tuple-8x24", "list-24x8"],
)
@pytest.mark.parametrize(
    "input_shape", [(3, 32, 32), (3, 32, 32, 1), (3, 40, 20)], ids=["3d", "4d", "40x20"]
)
def test_resize_shape_and_dtype(image_size, expected, input_shape):
    out = Resize(image_size).fit_transform(_images(input_shape))
    assert out.shape == (3, *expected, 1)
    assert out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_resize_uint8_is_scaled():
    images = np.full((2, 8, 8), 255, dtype=np.uint8)
    np.testing.assert_allclose(Resize(4).fit_transform(images), 1.0)


def test_resize_same_size_keeps_values():
    images = _images((2, 16, 16))
    out = Resize(16).fit_transform(images)
    np.testing.assert_allclose(out[..., 0], images, rtol=1e-6)


def test_resize_constant_image_stays_constant():
    out = Resize(12).fit_transform(np.full((1, 32, 32), 0.25))
    np.testing.assert_allclose(out, 0.25, atol=1e-6)


def test_resize_fit_records_input_shape_and_returns_self():
    resize = Resize(16)
    assert resize.fit(_images((2, 32, 48))) is resize
    assert resize.input_shape_ == (32, 48)


def test_resize_is_stateless():
    out = Resize(8).transform(_images((2, 16, 16)))
    assert out.shape == (2, 8, 8, 1)
    assert get_tags(Resize()).requires_fit is False


@pytest.mark.parametrize(
    ("image_size", "match"),
    [
        (0, r"The 'image_size' parameter of Resize must be an int in the range"),
        (-3, r"The 'image_size' parameter of Resize must be an int in the range"),
        ("big", r"The 'image_size' parameter of Resize must be .* Got 'big'"),
        (2.5, r"The 'image_size' parameter of Resize must be .* Got 2.5"),
        ((0, 8), r"a \(height, width\) pair of positive ints. Got \(0, 8\)"),
        ((8, 8, 8), r"a \(height, width\) pair of positive ints. Got \(8, 8, 8\)"),
    ],
    ids=["zero", "negative", "string", "float", "tuple-with-zero", "triple"],
)
@pytest.mark.parametrize("method", ["fit", "transform"])
def test_resize_invalid_image_size(image_size, match, method):
    resize = Resize(image_size)
    with pytest.raises(ValueError, match=match):
        getattr(resize, method)(_images((1, 8, 8)))


def test_resize_rejects_values_outside_unit_range():
    with pytest.raises(
        ValueError, match=r"Resize.fit expected float images .* \[0, 1\]"
    ):
        Resize(8).fit(_raw_images((1, 16, 16)))


# --- IntensityScaler ---------------------------------------------------------------


@pytest.mark.parametrize("per_image", [True, False], ids=["per-image", "batch"])
@pytest.mark.parametrize("input_shape", [(3, 16, 16), (3, 16, 24, 1)], ids=["3d", "4d"])
def test_intensity_scaler_shape_dtype_and_range(per_image, input_shape):
    out = IntensityScaler(per_image=per_image).fit_transform(_raw_images(input_shape))
    assert out.shape == (*input_shape[:3], 1)
    assert out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == 1.0


@pytest.mark.parametrize(
    "dtype", [np.int16, np.int64, np.float32, np.float64], ids=lambda d: d.__name__
)
def test_intensity_scaler_accepts_any_real_dtype(dtype):
    images = np.array([[[-1000, 0], [1000, 3000]]], dtype=dtype)
    out = IntensityScaler(0, 100).fit_transform(images)
    np.testing.assert_allclose(out[0, ..., 0], [[0.0, 0.25], [0.5, 1.0]])


def test_intensity_scaler_per_image_by_hand():
    # image 0 spans [0, 10], image 1 spans [100, 300]; each maps to [0, 1] on its own
    images = np.array([[[0.0, 5.0], [10.0, 2.5]], [[100.0, 200.0], [300.0, 150.0]]])
    out = IntensityScaler(0, 100).fit_transform(images)[..., 0]
    np.testing.assert_allclose(out[0], [[0.0, 0.5], [1.0, 0.25]])
    np.testing.assert_allclose(out[1], [[0.0, 0.5], [1.0, 0.25]])


def test_intensity_scaler_clips_outside_percentiles():
    images = np.arange(100.0).reshape(1, 10, 10)
    out = IntensityScaler(10, 90).fit_transform(images)[0, ..., 0].ravel()
    lower, upper = np.percentile(np.arange(100.0), [10, 90])
    np.testing.assert_allclose(
        out, np.clip((np.arange(100) - lower) / (upper - lower), 0, 1), rtol=1e-6
    )
    # percentiles 9.9 and 89.1: values 0..9 clip to 0, values 90..99 clip to 1
    assert np.count_nonzero(out == 0.0) == 10
    assert np.count_nonzero(out == 1.0) == 10


@pytest.mark.parametrize("per_image", [True, False], ids=["per-image", "batch"])
@pytest.mark.parametrize("value", [0.0, -7.5, 1e6], ids=["zero", "negative", "large"])
def test_intensity_scaler_constant_images_map_to_zeros(per_image, value):
    images = np.full((2, 8, 8), value)
    with np.errstate(all="raise"):
        out = IntensityScaler(per_image=per_image).fit_transform(images)
    np.testing.assert_array_equal(out, np.zeros((2, 8, 8, 1), dtype=np.float32))


def test_intensity_scaler_one_constant_image_in_a_batch():
    images = np.stack([np.full((4, 4), 3.0), np.arange(16.0).reshape(4, 4)])
    out = IntensityScaler(0, 100).fit_transform(images)[..., 0]
    np.testing.assert_array_equal(out[0], 0.0)
    np.testing.assert_allclose(out[1], np.arange(16.0).reshape(4, 4) / 15)


def test_intensity_scaler_batch_mode_uses_fitted_percentiles():
    train = np.linspace(-100.0, 100.0, 64).reshape(1, 8, 8)
    scaler = IntensityScaler(0, 100, per_image=False).fit(train)
    assert scaler.lower_ == pytest.approx(-100.0)
    assert scaler.upper_ == pytest.approx(100.0)
    # a new image spanning [0, 50] keeps the training scale rather than its own
    test = np.array([[[0.0, 50.0], [25.0, 200.0]]])
    out = scaler.transform(test)[0, ..., 0]
    np.testing.assert_allclose(out, [[0.5, 0.75], [0.625, 1.0]])


def test_intensity_scaler_per_image_fit_learns_nothing():
    scaler = IntensityScaler().fit(_raw_images())
    assert scaler.lower_ is None and scaler.upper_ is None
    assert get_tags(IntensityScaler()).requires_fit is False
    # stateless: transform works without fit
    assert IntensityScaler().transform(_raw_images((1, 8, 8))).shape == (1, 8, 8, 1)


def test_intensity_scaler_batch_mode_requires_fit():
    assert get_tags(IntensityScaler(per_image=False)).requires_fit is True
    with pytest.raises(NotFittedError, match="not fitted yet"):
        IntensityScaler(per_image=False).transform(_raw_images())


def test_intensity_scaler_switch_to_batch_mode_requires_refit():
    scaler = IntensityScaler().fit(_raw_images())
    scaler.set_params(per_image=False)
    with pytest.raises(ValueError, match="fitted with per_image=True"):
        scaler.transform(_raw_images())


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            {"lower_percentile": 90, "upper_percentile": 10},
            r"lower_percentile < upper_percentile; got lower_percentile=90",
        ),
        (
            {"lower_percentile": 50, "upper_percentile": 50},
            r"lower_percentile < upper_percentile",
        ),
        (
            {"lower_percentile": -1},
            r"The 'lower_percentile' parameter of IntensityScaler must be a float",
        ),
        (
            {"upper_percentile": 101},
            r"The 'upper_percentile' parameter of IntensityScaler must be a float",
        ),
        (
            {"per_image": "yes"},
            r"The 'per_image' parameter of IntensityScaler must be an instance of",
        ),
    ],
    ids=["reversed", "equal", "lower-negative", "upper-above-100", "per-image-str"],
)
@pytest.mark.parametrize("method", ["fit", "transform"])
def test_intensity_scaler_invalid_parameters(params, match, method):
    scaler = IntensityScaler(**params)
    with pytest.raises(ValueError, match=match):
        getattr(scaler, method)(_raw_images((1, 8, 8)))


# --- input validation shared by the transformers ------------------------------------

TRANSFORMERS = [Resize(8), IntensityScaler(), RandomSliceTransform()]
TRANSFORMER_IDS = ["Resize", "IntensityScaler", "RandomSliceTransform"]


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=TRANSFORMER_IDS)
@pytest.mark.parametrize(
    "shape", [(16, 16), (2, 16, 16, 3), (1, 2, 16, 16, 1)], ids=["2d", "rgb", "5d"]
)
def test_bad_rank(transformer, shape):
    name = type(transformer).__name__
    with pytest.raises(
        ValueError, match=rf"{name}.fit expected grayscale images of shape"
    ):
        clone(transformer).fit(np.zeros(shape))


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=TRANSFORMER_IDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_not_finite(transformer, bad):
    images = _images((2, 8, 8))
    images[0, 1, 2] = bad
    name = type(transformer).__name__
    with pytest.raises(
        ValueError, match=rf"{name}.transform received images containing NaN or inf \(1"
    ):
        clone(transformer).transform(images)


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=TRANSFORMER_IDS)
def test_no_images(transformer):
    with pytest.raises(ValueError, match="at least 1"):
        clone(transformer).fit(np.zeros((0, 8, 8)))


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=TRANSFORMER_IDS)
def test_non_numeric(transformer):
    with pytest.raises(TypeError, match="real numeric dtype"):
        clone(transformer).fit(np.full((1, 4, 4), "a"))


# --- scikit-learn integration --------------------------------------------------------


@pytest.mark.parametrize(
    "transformer",
    [
        Resize((8, 16)),
        IntensityScaler(1.0, 99.0, per_image=False),
        RandomSliceTransform(flip=False, rotation=20.0, random_state=3, n_copies=2),
    ],
    ids=TRANSFORMER_IDS,
)
def test_clone_keeps_parameters_and_drops_fitted_state(transformer):
    fitted = clone(transformer).fit(_images((2, 16, 16)))
    copy = clone(fitted)
    assert copy.get_params() == transformer.get_params()
    assert not hasattr(copy, "input_shape_") and not hasattr(copy, "lower_")


def test_pipeline_scales_then_resizes():
    pipe = make_pipeline(IntensityScaler(), Resize(16))
    out = pipe.fit_transform(_raw_images((3, 32, 24)))
    assert out.shape == (3, 16, 16, 1)
    assert out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


class _MeanIntensity(BaseEstimator):
    """A minimal final step: scores a batch by its mean intensity."""

    def fit(self, X, y=None):
        self.mean_ = float(np.mean(X))
        return self

    def score(self, X, y=None):
        return -abs(float(np.mean(X)) - self.mean_)


def test_grid_search_over_transformer_parameters():
    pipe = make_pipeline(IntensityScaler(), Resize(16), _MeanIntensity())
    grid = GridSearchCV(
        pipe,
        {
            "resize__image_size": [8, (8, 16)],
            "intensityscaler__per_image": [True, False],
        },
        cv=2,
    )
    grid.fit(_raw_images((6, 16, 16)))
    assert len(grid.cv_results_["params"]) == 4
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))


# --- random_transform and RandomSliceTransform ----------------------------------------

ALL_OFF = {"flip": False, "rotation": 0.0, "scale": 0.0, "shift": 0.0, "gamma": 0.0}


@pytest.fixture(scope="module")
def slices():
    """The real training slices of the bundled sample, (178, 32, 32, 1) in [0, 1]."""
    return load_sample("train", image_size=32)


def _augment(images, how, **params):
    """Augment with the function or with a fitted transformer (one copy)."""
    if how == "function":
        return random_transform(images, **params)
    return RandomSliceTransform(**params).fit(images).transform(images)


def _centroids(images):
    """(row, col) intensity centroid of each (H, W) image."""
    rows, cols = np.indices(images.shape[1:3])
    mass = images.sum(axis=(1, 2))
    return (
        np.stack(
            [(images * rows).sum(axis=(1, 2)), (images * cols).sum(axis=(1, 2))], axis=1
        )
        / mass[:, np.newaxis]
    )


HOWS = pytest.mark.parametrize("how", ["function", "transformer"])


@HOWS
@pytest.mark.parametrize("layout", ["4d", "3d"])
@pytest.mark.parametrize(
    "params",
    [{}, {"rotation": 180.0, "scale": 0.5, "shift": 0.5, "gamma": 2.0}],
    ids=["default", "extreme"],
)
def test_augment_keeps_shape_dtype_and_range(slices, how, layout, params):
    images = slices if layout == "4d" else slices[..., 0]
    before = images.copy()
    out = _augment(images, how, random_state=0, **params)
    assert out.shape == images.shape
    assert out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert not np.array_equal(out, images)
    np.testing.assert_array_equal(images, before)  # the input is left alone


@HOWS
def test_augment_all_off_is_an_exact_copy(slices, how):
    out = _augment(slices, how, random_state=0, **ALL_OFF)
    np.testing.assert_array_equal(out, slices)
    assert out is not slices and not np.shares_memory(out, slices)


def test_augment_accepts_uint8(slices):
    images = np.round(slices[..., 0] * 255).astype(np.uint8)
    out = random_transform(images, **ALL_OFF)
    np.testing.assert_array_equal(out, images / np.float32(255.0))


@HOWS
@pytest.mark.parametrize("seed", [0, 1])
def test_augment_flip_only_mirrors_some_slices(slices, how, seed):
    out = _augment(slices, how, random_state=seed, **{**ALL_OFF, "flip": True})
    same = np.all(out == slices, axis=(1, 2, 3))
    mirrored = np.all(out == slices[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same | mirrored)
    # about half the 178 slices are mirrored (binomial: 89 +/- 6.7)
    assert 60 <= np.count_nonzero(mirrored & ~same) <= 118


@HOWS
def test_augment_int_random_state_repeats_and_seeds_differ(slices, how):
    first = _augment(slices, how, random_state=7)
    np.testing.assert_array_equal(first, _augment(slices, how, random_state=7))
    other = _augment(slices, how, random_state=8)
    assert not np.allclose(first, other)


def test_transformer_random_state_instance_draws_new_transforms(slices):
    augment = RandomSliceTransform(random_state=np.random.RandomState(0)).fit(slices)
    first, second = augment.transform(slices), augment.transform(slices)
    assert not np.allclose(first, second)
    # the stream matches the function fed the same RandomState
    rng = np.random.RandomState(0)
    np.testing.assert_array_equal(first, random_transform(slices, random_state=rng))
    np.testing.assert_array_equal(second, random_transform(slices, random_state=rng))


def test_augment_disabling_one_part_keeps_the_other_draws(slices):
    # six numbers are drawn per slice whatever is on, so the flips do not move
    flips = random_transform(slices, random_state=4, **{**ALL_OFF, "flip": True})
    both = random_transform(
        slices, random_state=4, **{**ALL_OFF, "flip": True, "gamma": 0.3}
    )
    gamma = random_transform(slices, random_state=4, **{**ALL_OFF, "gamma": 0.3})
    mirrored = ~np.all(flips == slices, axis=(1, 2, 3))
    np.testing.assert_array_equal(both[mirrored], gamma[mirrored][:, :, ::-1])
    np.testing.assert_array_equal(both[~mirrored], gamma[~mirrored])


@pytest.mark.parametrize("rotation", [8.0, 45.0, 180.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_rotation_keeps_head_mass_and_centroid(slices, rotation, seed):
    images = slices[..., 0]
    out = random_transform(
        images, random_state=seed, **{**ALL_OFF, "rotation": rotation}
    )
    ratio = out.sum(axis=(1, 2)) / images.sum(axis=(1, 2))
    assert np.all(np.abs(ratio - 1.0) < 0.15)
    centre = (np.array(images.shape[1:]) - 1) / 2
    before = np.linalg.norm(_centroids(images) - centre, axis=1)
    after = np.linalg.norm(_centroids(out) - centre, axis=1)
    # rotating about the centre keeps each centroid's distance to it
    np.testing.assert_allclose(after, before, atol=0.5)
    assert after.max() < 5.0  # the heads stay near the middle of the 32x32 slices


def test_shift_moves_the_head_within_bounds(slices):
    images = slices[..., 0]
    out = random_transform(images, random_state=0, **{**ALL_OFF, "shift": 0.05})
    moved = _centroids(out) - _centroids(images)
    assert np.abs(moved).max() <= 0.05 * 32 + 0.5
    assert np.abs(moved).max() > 0.5


def test_scale_changes_the_head_mass_by_the_squared_factor(slices):
    images = slices[..., 0]
    out = random_transform(images, random_state=0, **{**ALL_OFF, "scale": 0.2})
    ratio = out.sum(axis=(1, 2)) / images.sum(axis=(1, 2))
    assert 0.8**2 - 0.05 <= ratio.min() and ratio.max() <= 1.2**2 + 0.05
    assert ratio.max() - ratio.min() > 0.3


@HOWS
@pytest.mark.parametrize("gamma", [0.15, 1.0])
def test_gamma_only_keeps_the_order_of_pixel_values(slices, how, gamma):
    out = _augment(slices, how, random_state=0, **{**ALL_OFF, "gamma": gamma})
    flat_in = slices.reshape(len(slices), -1)
    flat_out = out.reshape(len(out), -1)
    order = np.argsort(flat_in, axis=1, kind="stable")
    assert np.all(np.diff(np.take_along_axis(flat_out, order, axis=1), axis=1) >= 0)
    # 0 and 1 are fixed points; the other values move
    np.testing.assert_array_equal(flat_out[flat_in == 0.0], 0.0)
    assert not np.allclose(out, slices, atol=1e-3)


@pytest.mark.parametrize("n_copies", [1, 3])
@pytest.mark.parametrize("layout", ["4d", "3d"])
def test_transformer_stacks_copies_copy_major(slices, n_copies, layout):
    images = slices if layout == "4d" else slices[..., 0]
    n = len(images)
    params = {**ALL_OFF, "flip": True, "gamma": 0.2}
    out = RandomSliceTransform(n_copies=n_copies, random_state=0, **params).transform(
        images
    )
    assert out.shape == (n_copies * n, *images.shape[1:])
    # copy k of slice i is slice i, maybe mirrored, with the same pixel order
    for k in range(n_copies):
        block = out[k * n : (k + 1) * n].reshape(n, 32, 32)
        plain = images.reshape(n, 32, 32)
        for i in (0, n // 2, n - 1):
            for candidate in (plain[i], plain[i, :, ::-1]):
                if np.all((candidate == 0) == (block[i] == 0)):
                    order = np.argsort(candidate, axis=None, kind="stable")
                    assert np.all(np.diff(block[i].ravel()[order]) >= 0)
                    break
            else:
                pytest.fail(f"copy {k} of slice {i} is not a transform of slice {i}")
    if n_copies > 1:
        assert not np.array_equal(out[:n], out[n : 2 * n])


def test_transformer_all_off_copies_are_the_input(slices):
    out = RandomSliceTransform(n_copies=2, **ALL_OFF).fit_transform(slices)
    np.testing.assert_array_equal(out, np.concatenate([slices, slices]))


def test_transformer_fit_is_stateless(slices):
    augment = RandomSliceTransform()
    assert augment.fit(slices) is augment
    assert augment.input_shape_ == (32, 32)
    assert get_tags(augment).requires_fit is False
    assert RandomSliceTransform(random_state=0).transform(slices[:2]).shape == (
        2,
        32,
        32,
        1,
    )


def test_transformer_get_params_and_clone():
    augment = RandomSliceTransform(rotation=3.0, gamma=0.0, n_copies=4, random_state=1)
    params = augment.get_params()
    assert params == {
        "flip": True,
        "rotation": 3.0,
        "scale": 0.06,
        "shift": 0.04,
        "gamma": 0.0,
        "random_state": 1,
        "n_copies": 4,
    }
    copy = clone(augment)
    assert copy is not augment and copy.get_params() == params


def test_pipeline_augments_then_resizes(slices):
    pipe = make_pipeline(
        RandomSliceTransform(n_copies=2, random_state=0), Resize(16)
    ).set_params(randomslicetransform__rotation=15.0)
    out = pipe.fit_transform(slices)
    assert out.shape == (2 * len(slices), 16, 16, 1)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, clone(pipe).fit_transform(slices))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            {"rotation": -1.0},
            r"The 'rotation' parameter of \w+ must be a float in the range "
            r"\[0.0, 180.0\]. Got -1.0",
        ),
        ({"rotation": 200}, r"'rotation' parameter .* Got 200"),
        ({"scale": 1.0}, r"'scale' parameter .* range \[0.0, 1.0\). Got 1.0"),
        ({"shift": 0.6}, r"'shift' parameter .* range \[0.0, 0.5\]. Got 0.6"),
        ({"gamma": -0.1}, r"'gamma' parameter .* range \[0.0, inf\). Got -0.1"),
        ({"flip": "yes"}, r"'flip' parameter .* must be an instance of"),
        ({"random_state": "seed"}, r"'random_state' parameter .* Got 'seed'"),
    ],
    ids=["rotation-neg", "rotation-200", "scale-1", "shift", "gamma", "flip", "seed"],
)
@pytest.mark.parametrize("how", ["function", "fit", "transform"])
def test_augment_invalid_parameters(params, match, how):
    images = _images((1, 8, 8))
    with pytest.raises(ValueError, match=match):
        if how == "function":
            random_transform(images, **params)
        else:
            getattr(RandomSliceTransform(**params), how)(images)


@pytest.mark.parametrize("n_copies", [0, -2, 1.5])
def test_transformer_invalid_n_copies(n_copies):
    with pytest.raises(
        ValueError,
        match=rf"The 'n_copies' parameter of RandomSliceTransform must be an int in "
        rf"the range \[1, inf\). Got {n_copies}",
    ):
        RandomSliceTransform(n_copies=n_copies).fit(_images((1, 8, 8)))


@pytest.mark.parametrize(
    ("images", "error", "match"),
    [
        (
            np.full((2, 8, 8), np.nan),
            ValueError,
            r"random_transform received images containing NaN or inf \(128",
        ),
        (
            np.zeros((8, 8)),
            ValueError,
            r"random_transform expected grayscale images of shape .* got an array "
            r"of shape \(8, 8\)",
        ),
        (
            np.zeros((2, 8, 8, 3)),
            ValueError,
            r"random_transform expected grayscale images .* shape \(2, 8, 8, 3\)",
        ),
        (
            np.full((1, 4, 4), 2.0),
            ValueError,
            r"random_transform expected float images with values in \[0, 1\]",
        ),
        (np.full((1, 4, 4), "a"), TypeError, r"real numeric dtype"),
    ],
    ids=["nan", "2d", "rgb", "above-1", "strings"],
)
def test_random_transform_bad_images(images, error, match):
    with pytest.raises(error, match=match):
        random_transform(images)


def test_transformer_nan_slice_is_reported(slices):
    images = slices.copy()
    images[3, 10, 10, 0] = np.nan
    with pytest.raises(
        ValueError,
        match=r"RandomSliceTransform.fit received images containing NaN or inf \(1",
    ):
        RandomSliceTransform().fit(images)
