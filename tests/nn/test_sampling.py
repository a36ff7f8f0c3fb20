"""Samplers of a GatedPixelCNN: fast == naive, shapes, top-k, bad arguments."""

import keras
import numpy as np
import pytest

from oasisgen.nn.pixelcnn import GatedPixelCNN
from oasisgen.nn.sampling import Sampler, sample_codes

K = 6


def _model(condition_upsample=None, kernel_size=5, n_layers=3):
    """A tiny prior whose logits are sharp, so they (not the noise) decide."""
    keras.utils.set_random_seed(0)
    conditional = {}
    if condition_upsample is not None:
        conditional = dict(
            condition_num_embeddings=4,
            condition_upsample=condition_upsample,
            condition_channels=4,
        )
    model = GatedPixelCNN(
        K, n_layers=n_layers, channels=8, kernel_size=kernel_size, **conditional
    )
    model.build(None)
    # At initialisation the logits are almost uniform (std 0.01 across codes),
    # and exactly uniform at the first position (all biases are zero).
    model.head_logits.kernel.assign(model.head_logits.kernel * 300.0)
    model.head_logits.bias.assign(np.random.default_rng(0).normal(size=K))
    return model


def _condition(n, shape, seed=1):
    return np.random.default_rng(seed).integers(0, 4, size=(n, *shape))


CASES = {
    "6x6": (None, (6, 6), 5, {}),
    "6x6 cold top-3": (None, (6, 6), 5, {"temperature": 0.7, "top_k": 3}),
    "5x8 hot": (None, (5, 8), 5, {"temperature": 2.0}),
    "5x8 kernel 3 greedy": (None, (5, 8), 3, {"top_k": 1}),
    "6x6 on 3x3": (2, (6, 6), 5, {}),
    "6x6 on 3x3 cold top-2": (2, (6, 6), 5, {"temperature": 0.5, "top_k": 2}),
    "5x8 on 5x8 kernel 3 hot": (1, (5, 8), 3, {"temperature": 2.0}),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_fast_and_naive_draw_identical_samples(case):
    upsample, grid, kernel_size, settings = case
    model = _model(upsample, kernel_size)
    condition = None
    if upsample is not None:
        condition = _condition(3, (grid[0] // upsample, grid[1] // upsample))
    draw = dict(condition=condition, seed=7, **settings)
    fast = sample_codes(model, 3, grid, **draw)
    naive = sample_codes(model, 3, grid, method="naive", **draw)
    np.testing.assert_array_equal(fast, naive)


def test_samples_follow_the_model_not_only_the_noise():
    # Guards the test above: with these models the logits decide many codes.
    model = _model()
    codes = sample_codes(model, 4, (6, 6), seed=7)
    noise_only = np.random.default_rng(7)
    rows = [noise_only.gumbel(size=(4, 6, K)).argmax(-1) for _ in range(6)]
    assert np.mean(codes != np.stack(rows, axis=1)) > 0.3


@pytest.mark.parametrize("conditional", [False, True], ids=["plain", "conditional"])
def test_codes_have_the_requested_shape_and_range(conditional):
    model = _model(2 if conditional else None)
    condition = _condition(5, (2, 3)) if conditional else None
    codes = sample_codes(model, 5, (4, 6), condition, seed=0)
    assert codes.shape == (5, 4, 6)
    assert codes.dtype == np.int32
    assert codes.min() >= 0
    assert codes.max() < K


def test_the_seed_makes_sampling_repeatable():
    model = _model()
    first = sample_codes(model, 3, (5, 5), seed=3)
    np.testing.assert_array_equal(first, sample_codes(model, 3, (5, 5), seed=3))
    assert not np.array_equal(first, sample_codes(model, 3, (5, 5), seed=4))


def test_top_k_one_is_greedy_whatever_the_seed():
    model = _model()
    first = sample_codes(model, 2, (5, 5), top_k=1, seed=0)
    np.testing.assert_array_equal(
        first, sample_codes(model, 2, (5, 5), top_k=1, seed=1)
    )


def test_top_k_codes_are_among_the_k_most_likely():
    model = _model()
    codes = sample_codes(model, 4, (5, 6), top_k=2, temperature=5.0, seed=0)
    # Teacher forcing on the sample gives the conditionals it was drawn from.
    logits = np.asarray(model(codes))
    rank = (logits > np.take_along_axis(logits, codes[..., None], -1)).sum(-1)
    assert rank.max() <= 1


def test_progress_bar_over_rows(capsys):
    sample_codes(_model(n_layers=1), 1, (3, 4), seed=0, progress=True)
    assert "3/3" in capsys.readouterr().out


def test_sampler_is_kept_with_its_model():
    model = _model(n_layers=1)
    assert Sampler.of(model) is Sampler.of(model)
    assert Sampler.of(model).model is model


def test_sampler_builds_an_unbuilt_model():
    keras.utils.set_random_seed(0)
    model = GatedPixelCNN(K, n_layers=1, channels=4)
    assert sample_codes(model, 1, (3, 3), seed=0).shape == (1, 3, 3)


def test_sampler_refuses_other_models():
    with pytest.raises(TypeError, match="expected a GatedPixelCNN; got Sequential"):
        Sampler(keras.Sequential())


BAD_ARGUMENTS = {
    "zero temperature": ({"temperature": 0.0}, r"temperature must be > 0; got 0.0"),
    "negative temperature": ({"temperature": -1}, r"temperature must be > 0; got -1"),
    "zero top_k": ({"top_k": 0}, r"top_k must be None or an int >= 1; got 0"),
    "zero samples": ({"n_samples": 0}, r"n_samples must be an int >= 1; got 0"),
    "infinite samples": ({"n_samples": np.inf}, r"n_samples must be .*; got inf"),
    "text samples": ({"n_samples": "2"}, r"n_samples must be .*; got '2'"),
    "infinite top_k": ({"top_k": float("inf")}, r"top_k must be .*; got inf"),
    "infinite grid": ({"grid_shape": (4, np.inf)}, r"grid_shape must be .*inf"),
    "bad grid": ({"grid_shape": (4,)}, r"grid_shape must be a pair.*got \(4,\)"),
    "unknown method": ({"method": "slow"}, r"method must be one of.*got 'slow'"),
    "condition to a plain model": (
        {"condition": np.zeros((2, 2, 2), "int32")},
        "unconditional.*sample without a condition",
    ),
}


@pytest.mark.parametrize(
    ("kwargs", "match"), list(BAD_ARGUMENTS.values()), ids=list(BAD_ARGUMENTS)
)
def test_bad_arguments_raise(kwargs, match):
    arguments = dict(n_samples=2, grid_shape=(4, 4)) | kwargs
    with pytest.raises(ValueError, match=match):
        sample_codes(_model(n_layers=1), **arguments)


BAD_CONDITIONS = {
    "missing": (None, (4, 4), r"conditional.*pass a condition of shape"),
    "wrong grid": (
        np.zeros((2, 4, 4), "int32"),
        (4, 4),
        r"Expected a condition of shape \(2, 2, 2\).*got.*\(2, 4, 4\)",
    ),
    "wrong count": (
        np.zeros((3, 2, 2), "int32"),
        (4, 4),
        r"Expected a condition of shape \(2, 2, 2\).*got.*\(3, 2, 2\)",
    ),
    "grid not divisible": (
        np.zeros((2, 2, 2), "int32"),
        (5, 4),
        r"divisible by condition_upsample=2; got \(5, 4\)",
    ),
}


@pytest.mark.parametrize(
    ("condition", "grid", "match"),
    list(BAD_CONDITIONS.values()),
    ids=list(BAD_CONDITIONS),
)
def test_bad_conditions_raise(condition, grid, match):
    with pytest.raises(ValueError, match=match):
        sample_codes(_model(2, n_layers=1), 2, grid, condition)
