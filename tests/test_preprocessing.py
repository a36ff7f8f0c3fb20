import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils import get_tags

from oasisgen.preprocessing import IntensityScaler, Resize


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


# --- input validation shared by both transformers -----------------------------------

TRANSFORMERS = [Resize(8), IntensityScaler()]
TRANSFORMER_IDS = ["Resize", "IntensityScaler"]


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
    [Resize((8, 16)), IntensityScaler(1.0, 99.0, per_image=False)],
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
