"""Samplers of a GatedPixelCNN: fast == naive, shapes, top-k, bad arguments."""

import keras
import numpy as np
import pytest

from oasisgen.nn.pixelcnn import GatedPixelCNN
from oasisgen.nn.sampling import Sampler, sample_codes

K = 6


def _model(
    condition_upsample=None,
    kernel_size=5,
    n_layers=3,
    global_condition_dim=None,
    mirror_context=False,
):
    """A tiny prior whose logits are sharp, so they (not the noise) decide."""
    keras.utils.set_random_seed(0)
    conditional = {}
    if condition_upsample is not None:
        conditional = dict(
            condition_num_embeddings=4,
            condition_upsample=condition_upsample,
            condition_channels=4,
        )
    if global_condition_dim is not None:
        conditional |= dict(global_condition_dim=global_condition_dim)
        conditional.setdefault("condition_channels", 4)
    model = GatedPixelCNN(
        K,
        n_layers=n_layers,
        hidden_channels=8,
        kernel_size=kernel_size,
        mirror_context=mirror_context,
        **conditional,
    )
    model.build(None)
    # At initialisation the logits are almost uniform (std 0.01 across codes),
    # and exactly uniform at the first position (all biases are zero).
    model.head_logits.kernel.assign(model.head_logits.kernel * 300.0)
    model.head_logits.bias.assign(np.random.default_rng(0).normal(size=K))
    if global_condition_dim is not None:
        # else the vector outweighs the codes and nearly every code is the same
        last = model.global_network.layers[-1]
        last.kernel.assign(last.kernel * 0.1)
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


MIRROR_CASES = {
    "6x6": (None, None, (6, 6), 5),
    "5x7 kernel 3 (odd width)": (None, None, (5, 7), 3),
    "6x6 on 3x3": (2, None, (6, 6), 5),
    "global 5x8": (None, 1, (5, 8), 3),
    "6x8 on 3x4 and global": (2, 1, (6, 8), 3),
}


@pytest.mark.parametrize("case", list(MIRROR_CASES.values()), ids=list(MIRROR_CASES))
def test_fast_and_naive_draw_identical_samples_with_mirror_context(case):
    upsample, dim, grid, kernel_size = case
    model = _model(upsample, kernel_size, global_condition_dim=dim, mirror_context=True)
    draw = {"seed": 7, "temperature": 1.5}
    if upsample is not None:
        draw["condition"] = _condition(3, (grid[0] // upsample, grid[1] // upsample))
    if dim is not None:
        draw["global_condition"] = _vectors(3, dim)
    fast = sample_codes(model, 3, grid, **draw)
    naive = sample_codes(model, 3, grid, method="naive", **draw)
    np.testing.assert_array_equal(fast, naive)
    assert len(np.unique(fast)) >= 3, "too few codes for the comparison to tell"


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
    model = GatedPixelCNN(K, n_layers=1, hidden_channels=4)
    assert sample_codes(model, 1, (3, 3), seed=0).shape == (1, 3, 3)


def test_sampler_refuses_other_models():
    with pytest.raises(TypeError, match="expected a GatedPixelCNN; got Sequential"):
        Sampler(keras.Sequential())


BAD_ARGUMENTS = {
    "zero temperature": (
        {"temperature": 0.0},
        r"temperature must be a float > 0; got 0.0",
    ),
    "negative temperature": (
        {"temperature": -1},
        r"temperature must be .* > 0; got -1",
    ),
    "zero top_k": ({"top_k": 0}, r"top_k must be None or an int >= 1; got 0"),
    "zero samples": ({"n_samples": 0}, r"n_samples must be an int >= 1; got 0"),
    "infinite samples": ({"n_samples": np.inf}, r"n_samples must be .*; got inf"),
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


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": "2"}, r"n_samples must be an int >= 1; got '2'"),
        ({"temperature": "hot"}, r"temperature must be a float > 0; got 'hot'"),
        ({"top_k": True}, r"top_k must be None or an int >= 1; got True"),
    ],
    ids=["text samples", "text temperature", "bool top_k"],
)
def test_arguments_that_are_not_numbers_raise_type_error(kwargs, match):
    arguments = dict(n_samples=2, grid_shape=(4, 4)) | kwargs
    with pytest.raises(TypeError, match=match):
        sample_codes(_model(n_layers=1), **arguments)


BAD_CONDITIONS = {
    "missing": (None, (4, 4), r"conditional.*pass a condition of shape"),
    "wrong grid": (
        np.zeros((2, 4, 4), "int32"),
        (4, 4),
        r"Sampler.sample expected a condition of shape \(2, 2, 2\) \(one map per "
        r"code map, 2 times smaller: condition_upsample=2\) for codes of shape "
        r"\(2, 4, 4\); got a condition of shape \(2, 4, 4\)\.$",
    ),
    "wrong count": (
        np.zeros((3, 2, 2), "int32"),
        (4, 4),
        r"expected a condition of shape \(2, 2, 2\).*got a condition of shape "
        r"\(3, 2, 2\)",
    ),
    "code beyond the codebook": (
        np.full((2, 2, 2), 4, "int32"),
        (4, 4),
        r"Sampler.sample expected condition in \[0, 4\); got values from 4 to 4",
    ),
    "grid not divisible": (
        np.zeros((2, 2, 2), "int32"),
        (5, 4),
        r"shape \(2, h // 2, 2\).*for codes of shape \(2, 5, 4\).*The codes' "
        r"height and width must be multiples of 2\.",
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


# ------------------------------------------------------- global condition
def _vectors(n, dim=1, seed=2):
    return np.random.default_rng(seed).uniform(-1, 1, (n, dim)).astype("float32")


GLOBAL_CASES = {
    "global 6x6": (None, 1, (6, 6), 5, {}),
    "global of 3 5x8 cold top-3": (
        None,
        3,
        (5, 8),
        5,
        {"temperature": 0.7, "top_k": 3},
    ),
    "global kernel 3 hot": (None, 2, (5, 8), 3, {"temperature": 2.0}),
    "map 6x6 on 3x3 and global": (2, 1, (6, 6), 5, {}),
    "map 6x6 on 3x3 and global of 2 top-2": (2, 2, (6, 6), 5, {"top_k": 2}),
    "map 5x8 on 5x8 and global kernel 3": (1, 1, (5, 8), 3, {"temperature": 1.5}),
}


@pytest.mark.parametrize("case", list(GLOBAL_CASES.values()), ids=list(GLOBAL_CASES))
def test_fast_and_naive_draw_identical_samples_given_a_global_condition(case):
    upsample, dim, grid, kernel_size, settings = case
    model = _model(upsample, kernel_size, global_condition_dim=dim)
    condition = None
    if upsample is not None:
        condition = _condition(3, (grid[0] // upsample, grid[1] // upsample))
    draw = dict(condition=condition, global_condition=_vectors(3, dim), seed=7)
    fast = sample_codes(model, 3, grid, **draw, **settings)
    naive = sample_codes(model, 3, grid, method="naive", **draw, **settings)
    np.testing.assert_array_equal(fast, naive)
    assert fast.shape == (3, *grid) and fast.min() >= 0 and fast.max() < K
    assert len(np.unique(fast)) >= 3, "too few codes for the comparison to tell"


@pytest.mark.parametrize("method", ["fast", "naive"])
@pytest.mark.parametrize("upsample", [None, 2], ids=["global", "map and global"])
def test_samples_follow_the_global_condition_of_their_own_map(upsample, method):
    # Guards the test above: the vector changes the maps drawn with the same noise,
    # and only the map it belongs to.
    model = _model(upsample, global_condition_dim=1)
    condition = None if upsample is None else _condition(3, (3, 3))
    vectors = np.array([[0.1], [0.5], [0.9]], dtype="float32")
    changed = vectors.copy()
    changed[1] = -0.9
    draw = dict(condition=condition, seed=7, method=method)
    before = sample_codes(model, 3, (6, 6), global_condition=vectors, **draw)
    after = sample_codes(model, 3, (6, 6), global_condition=changed, **draw)
    np.testing.assert_array_equal(after[[0, 2]], before[[0, 2]])
    assert np.mean(after[1] != before[1]) > 0.2


def test_a_global_condition_of_one_number_per_map_may_be_flat():
    model = _model(global_condition_dim=1, n_layers=1)
    flat = sample_codes(model, 3, (4, 4), global_condition=[0.1, 0.5, 0.9], seed=1)
    column = sample_codes(
        model, 3, (4, 4), global_condition=[[0.1], [0.5], [0.9]], seed=1
    )
    np.testing.assert_array_equal(flat, column)


def test_sampler_sample_takes_the_global_condition():
    model = _model(global_condition_dim=2, n_layers=1)
    vectors = _vectors(2, 2)
    codes = Sampler.of(model).sample(2, (4, 4), global_condition=vectors, seed=3)
    expected = sample_codes(model, 2, (4, 4), global_condition=vectors, seed=3)
    np.testing.assert_array_equal(codes, expected)


BAD_GLOBAL_CONDITIONS = {
    "missing": (
        1,
        None,
        r"reads a vector of 1 per map.*pass a global_condition of shape "
        r"\(n_samples, 1\)",
    ),
    "given to a model without one": (
        None,
        [[0.1], [0.2]],
        r"reads no vector per map.*sample without a global_condition",
    ),
    "one row too many": (
        1,
        [[0.1], [0.2], [0.3]],
        r"Sampler\.sample expected one global_condition row per map \(2\); got 3",
    ),
    "vectors too long": (
        1,
        [[0.1, 0.2], [0.3, 0.4]],
        r"global_condition vectors of length 1 \(global_condition_dim\); got length 2",
    ),
    "vectors too short": (
        3,
        [[0.1, 0.2], [0.3, 0.4]],
        r"global_condition vectors of length 3 \(global_condition_dim\); got length 2",
    ),
    "nan": (
        1,
        [[0.1], [np.nan]],
        r"Sampler\.sample expected finite global_condition; got NaN or inf",
    ),
    "inf": (2, [[0.1, np.inf], [0.2, 0.3]], r"finite global_condition; got NaN or inf"),
    "scalar": (
        1,
        0.5,
        r"global_condition as numbers of shape.*got float64 values of shape \(\)",
    ),
}


@pytest.mark.parametrize("method", ["fast", "naive"])
@pytest.mark.parametrize(
    ("dim", "vectors", "match"),
    list(BAD_GLOBAL_CONDITIONS.values()),
    ids=list(BAD_GLOBAL_CONDITIONS),
)
def test_bad_global_conditions_raise(dim, vectors, match, method):
    model = _model(global_condition_dim=dim, n_layers=1)
    with pytest.raises(ValueError, match=match):
        sample_codes(model, 2, (4, 4), global_condition=vectors, method=method)


def test_a_map_model_with_a_global_condition_needs_both():
    model = _model(2, global_condition_dim=1, n_layers=1)
    with pytest.raises(ValueError, match=r"conditional.*pass a condition of shape"):
        sample_codes(model, 2, (4, 4), global_condition=_vectors(2))
    with pytest.raises(ValueError, match=r"reads a vector of 1 per map"):
        sample_codes(model, 2, (4, 4), _condition(2, (2, 2)))
