import math
import warnings

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from oasisgen.datasets import load_sample
from oasisgen.metrics import _reconstruction as reconstruction
from oasisgen.metrics import (
    bits_per_code,
    codebook_usage,
    level_error,
    perplexity,
    psnr,
    ssim,
)

SIZES = [(16, 16), (32, 32), (64, 64), (32, 48), (48, 32)]
SIZE_IDS = [f"{h}x{w}" for h, w in SIZES]


def _smooth_image(shape, seed=0):
    """A seeded image in [0, 1] with some structure (smoothed noise)."""
    rng = np.random.default_rng(seed)
    image = gaussian_filter(rng.random(shape), sigma=2.0)
    image -= image.min()
    return image / image.max()


def _noisy(image, seed=1):
    rng = np.random.default_rng(seed)
    return np.clip(image + rng.normal(0.0, 0.1, image.shape), 0.0, 1.0)


def _blurred(image, seed=1):
    return gaussian_filter(image, sigma=1.5)


def _unrelated(image, seed=1):
    return np.random.default_rng(seed).random(image.shape)


def _identical(image, seed=1):
    return image.copy()


PAIRS = [_noisy, _blurred, _unrelated, _identical]
PAIR_IDS = ["noisy", "blurred", "unrelated", "identical"]


def _skimage_ssim(a, b, data_range=1.0):
    return structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
    )


# --- ssim -------------------------------------------------------------------------


@pytest.mark.parametrize("make_pred", PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("shape", SIZES, ids=SIZE_IDS)
def test_ssim_matches_skimage(shape, make_pred):
    true = _smooth_image(shape)
    pred = make_pred(true)
    assert ssim(true, pred) == pytest.approx(_skimage_ssim(true, pred), abs=1e-3)


def test_ssim_matches_skimage_for_uint8_range():
    true = np.round(_smooth_image((32, 32)) * 255)
    pred = np.round(_noisy(true / 255) * 255)
    expected = _skimage_ssim(true, pred, data_range=255)
    assert ssim(true, pred, data_range=255) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("shape", [(5, 5), (8, 12), (3, 40)], ids=str)
def test_ssim_small_images_use_a_smaller_window(shape):
    true = _smooth_image(shape)
    assert ssim(true, true) == pytest.approx(1.0, abs=1e-6)
    value = ssim(true, _noisy(true))
    assert -1.0 <= value < 1.0


def test_ssim_per_image_values_match_skimage_and_mean():
    shape = (4, 24, 24)
    true = np.stack([_smooth_image(shape[1:], seed=s) for s in range(shape[0])])
    pred = np.stack([_noisy(t, seed=s) for s, t in enumerate(true)])
    values = ssim(true, pred, reduction="none")
    expected = [_skimage_ssim(t, p) for t, p in zip(true, pred, strict=True)]
    assert values.shape == (4,)
    np.testing.assert_allclose(values, expected, atol=1e-3)
    assert ssim(true, pred) == pytest.approx(values.mean())


@pytest.mark.parametrize(
    "shape",
    [(16, 16), (3, 16, 16), (3, 16, 16, 1)],
    ids=["2d", "3d-batch", "4d-batch"],
)
def test_ssim_accepts_image_shapes(shape):
    true = np.random.default_rng(0).random(shape)
    values = ssim(true, _noisy(true), reduction="none")
    n_expected = 1 if len(shape) == 2 else shape[0]
    assert values.shape == (n_expected,)
    assert isinstance(ssim(true, _noisy(true)), float)


def test_ssim_runs_in_batches(monkeypatch):
    monkeypatch.setattr(reconstruction, "_BATCH_SIZE", 3)
    true = np.stack([_smooth_image((16, 16), seed=s) for s in range(7)])
    pred = _noisy(true)
    batched = ssim(true, pred, reduction="none")
    expected = [_skimage_ssim(t, p) for t, p in zip(true, pred, strict=True)]
    np.testing.assert_allclose(batched, expected, atol=1e-3)


# --- psnr -------------------------------------------------------------------------


@pytest.mark.parametrize("make_pred", [_noisy, _blurred, _unrelated], ids=PAIR_IDS[:3])
@pytest.mark.parametrize("shape", SIZES, ids=SIZE_IDS)
def test_psnr_matches_skimage(shape, make_pred):
    true = _smooth_image(shape)
    pred = make_pred(true)
    expected = peak_signal_noise_ratio(true, pred, data_range=1.0)
    assert psnr(true, pred) == pytest.approx(expected, rel=1e-6)


def test_psnr_by_hand():
    true = np.zeros((2, 4, 4))
    pred = np.full((2, 4, 4), 0.1)
    # mse = 0.01 -> 10 * log10(1 / 0.01) = 20 dB
    assert psnr(true, pred) == pytest.approx(20.0)
    # data_range 2: 10 * log10(4 / 0.01) = 20 + 20 log10(2)
    assert psnr(true, pred, data_range=2.0) == pytest.approx(20 + 20 * math.log10(2))


def test_psnr_identical_images_are_inf_without_warning():
    image = _smooth_image((2, 16, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = psnr(image, image, reduction="none")
        mean = psnr(image, image)
    assert np.all(np.isposinf(values))
    assert mean == math.inf


def test_psnr_per_image_values(monkeypatch):
    monkeypatch.setattr(reconstruction, "_BATCH_SIZE", 2)
    true = np.stack([_smooth_image((16, 16), seed=s) for s in range(5)])
    pred = _noisy(true)
    values = psnr(true, pred, reduction="none")
    expected = [
        peak_signal_noise_ratio(t, p, data_range=1.0)
        for t, p in zip(true, pred, strict=True)
    ]
    np.testing.assert_allclose(values, expected, rtol=1e-6)


# --- shared validation of the image metrics ----------------------------------------


@pytest.mark.parametrize("metric", [ssim, psnr], ids=["ssim", "psnr"])
class TestImageMetricValidation:
    def test_different_shapes(self, metric):
        with pytest.raises(ValueError, match=r"same shape; got \(2, 16, 16\) and"):
            metric(np.zeros((2, 16, 16)), np.zeros((2, 16, 17)))

    @pytest.mark.parametrize("shape", [(16,), (2, 16, 16, 3), (1, 2, 16, 16, 1)])
    def test_bad_rank(self, metric, shape):
        with pytest.raises(ValueError, match="expected images_true of shape"):
            metric(np.zeros(shape), np.zeros(shape))

    def test_empty(self, metric):
        with pytest.raises(ValueError, match="at least one non-empty image"):
            metric(np.zeros((0, 16, 16)), np.zeros((0, 16, 16)))

    @pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
    def test_not_finite(self, metric, bad):
        pred = np.zeros((2, 16, 16))
        pred[1, 3, 4] = bad
        with pytest.raises(ValueError, match=r"images_pred containing NaN or inf \(1"):
            metric(np.zeros((2, 16, 16)), pred)

    @pytest.mark.parametrize("data_range", [0, -1.0, math.inf], ids=str)
    def test_bad_data_range(self, metric, data_range):
        with pytest.raises(ValueError, match="expected data_range > 0"):
            metric(np.zeros((16, 16)), np.zeros((16, 16)), data_range=data_range)

    def test_data_range_type(self, metric):
        with pytest.raises(TypeError, match="data_range to be a real number"):
            metric(np.zeros((16, 16)), np.zeros((16, 16)), data_range="1")

    def test_bad_reduction(self, metric):
        with pytest.raises(ValueError, match="reduction to be one of"):
            metric(np.zeros((16, 16)), np.zeros((16, 16)), reduction="sum")

    def test_non_numeric(self, metric):
        images = np.full((2, 4, 4), "a")
        with pytest.raises(TypeError, match="real numeric dtype"):
            metric(images, images)


# --- code statistics ---------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 5, 16], ids=lambda k: f"k={k}")
def test_perplexity_uniform_over_k_codes(k):
    codes = np.tile(np.arange(k), 3).reshape(3, k)
    assert perplexity(codes, num_embeddings=16) == pytest.approx(k)


def test_perplexity_one_code_is_one():
    assert perplexity(np.full((4, 8, 8), 7), num_embeddings=512) == pytest.approx(1.0)


def test_perplexity_by_hand():
    # p = (1/2, 1/4, 1/4): H = 1.5 ln 2, exp(H) = 2 ** 1.5
    assert perplexity([0, 0, 1, 2], num_embeddings=3) == pytest.approx(2**1.5)


@pytest.mark.parametrize(
    ("codes", "expected"),
    [([0], 0.125), ([0, 0, 0], 0.125), ([0, 1, 1, 3], 0.375), (list(range(8)), 1.0)],
    ids=["one", "one-repeated", "three", "all"],
)
def test_codebook_usage(codes, expected):
    assert codebook_usage(np.asarray(codes), num_embeddings=8) == expected


@pytest.mark.parametrize("func", [perplexity, codebook_usage], ids=lambda f: f.__name__)
class TestCodeValidation:
    @pytest.mark.parametrize(
        ("codes", "text"),
        [([0, 8], "from 0 to 8"), ([-1, 3], "from -1 to 3")],
        ids=["too-large", "negative"],
    )
    def test_out_of_range(self, func, codes, text):
        with pytest.raises(ValueError, match=rf"codes in \[0, 8\).*{text}"):
            func(np.asarray(codes), num_embeddings=8)

    def test_whole_float_codes_count_as_integers(self, func):
        assert func(np.array([0.0, 1.0]), num_embeddings=8) == func(
            np.array([0, 1]), num_embeddings=8
        )

    @pytest.mark.parametrize("codes", [[0.5, 1.0], [True, False]], ids=str)
    def test_codes_that_are_not_whole_numbers(self, func, codes):
        with pytest.raises(TypeError, match="expected integer codes; got dtype"):
            func(np.array(codes), num_embeddings=8)

    def test_empty_codes(self, func):
        with pytest.raises(ValueError, match="at least one of the codes"):
            func(np.array([], dtype=int), num_embeddings=8)

    def test_num_embeddings_too_small(self, func):
        with pytest.raises(ValueError, match="num_embeddings >= 1; got 0"):
            func([0], num_embeddings=0)

    def test_num_embeddings_type(self, func):
        with pytest.raises(TypeError, match="num_embeddings to be an int; got float"):
            func([0], num_embeddings=8.0)


# --- bits per code -----------------------------------------------------------------


def test_bits_per_code_by_hand():
    # 10 codes, each with probability 1/4: ll = 10 ln(1/4) -> 2 bits per code
    assert bits_per_code(10 * math.log(0.25), n_codes=10) == pytest.approx(2.0)
    # ll = -ln 2 over 2 codes -> 0.5 bit per code
    assert bits_per_code(-math.log(2), n_codes=2) == pytest.approx(0.5)
    assert bits_per_code(0.0, n_codes=3) == 0.0


def test_bits_per_code_accepts_numpy_scalars():
    value = bits_per_code(np.float32(-8 * math.log(2)), n_codes=np.int64(4))
    assert value == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("log_likelihood", "n_codes", "error", "text"),
    [
        (1.5, 10, ValueError, "log-likelihood <= 0"),
        (-math.inf, 10, ValueError, "finite log-likelihood"),
        (math.nan, 10, ValueError, "finite log-likelihood"),
        (-1.0, 0, ValueError, "n_codes >= 1; got 0"),
        (-1.0, 2.5, TypeError, "n_codes to be an int"),
        ("-1", 2, TypeError, "log_likelihood to be a real number"),
    ],
    ids=["positive", "minus-inf", "nan", "zero-codes", "float-codes", "string-ll"],
)
def test_bits_per_code_errors(log_likelihood, n_codes, error, text):
    with pytest.raises(error, match=text):
        bits_per_code(log_likelihood, n_codes)


@pytest.fixture(scope="module")
def levels():
    """(images, positions) of the bundled training and test slices."""
    return tuple(
        load_sample(split, image_size=32, return_positions=True)
        for split in ("train", "test")
    )


def test_level_error_reads_the_level_of_real_slices_of_another_person(levels):
    (train, train_positions), (test, test_positions) = levels
    chance = np.mean(np.abs(test_positions - train_positions.mean()))
    error = level_error(test, test_positions, train, train_positions)
    assert error < 0.75 * chance
    # slices claimed at the opposite level read far from it
    assert level_error(test, 1 - test_positions, train, train_positions) > 2 * error


@pytest.mark.parametrize(
    "change, error, match",
    [
        (
            lambda a: {"positions": a["positions"][:3]},
            ValueError,
            "expected 4 slice positions",
        ),
        (
            lambda a: {"positions": ["high"] * 4},
            TypeError,
            r"\(positions\).*real numbers",
        ),
        (
            lambda a: {"train_positions": None},
            TypeError,
            r"\(train_positions\).*real numbers",
        ),
        (
            lambda a: {"positions": np.full(4, 1.5)},
            ValueError,
            r"in \[0, 1\].*got 1\.5 at index 0",
        ),
        (lambda a: {"positions": np.full(4, np.nan)}, ValueError, "got nan at index 0"),
        (
            lambda a: {"images": a["images"][:, :16, :16]},
            ValueError,
            "of the same size",
        ),
        (
            lambda a: {"train_images": a["train_images"][:1], "train_positions": [0]},
            ValueError,
            r"at least 2 image\(s\) in train_images; got 1",
        ),
    ],
    ids=["length", "text", "none", "above-one", "nan", "size", "one-train"],
)
def test_level_error_refuses_bad_input(levels, change, error, match):
    (train, train_positions), (test, test_positions) = levels
    args = dict(
        images=test[:4],
        positions=test_positions[:4],
        train_images=train,
        train_positions=train_positions,
    )
    with pytest.raises(error, match=match):
        level_error(**{**args, **change(args)})
