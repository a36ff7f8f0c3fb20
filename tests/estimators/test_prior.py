import json
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV

import oasisgen
from oasisgen import PixelCNNPrior

from ..fresh_process import run_python
from .conftest import TINY_PRIOR, make_row_codes, upsample_codes


@pytest.fixture(scope="module")
def row_prior():
    codes = make_row_codes(96)
    params = {**TINY_PRIOR, "epochs": 15, "learning_rate": 3e-3, "hidden_channels": 32}
    return PixelCNNPrior(**params).fit(codes)


def test_the_prior_learns_constant_rows(row_prior):
    samples = row_prior.sample(16, random_state=0)
    assert samples.shape == (16, 6, 6) and samples.dtype == np.int32
    assert samples.min() >= 0 and samples.max() < 4
    rows_constant = (samples == samples[:, :, :1]).all(axis=2).mean()
    # a prior that knew nothing would make constant rows with probability 4**-5
    assert rows_constant > 0.8


def test_training_raises_the_likelihood(row_prior):
    codes = make_row_codes(32, seed=1)
    untrained = PixelCNNPrior(**TINY_PRIOR).fit(make_row_codes(96))
    assert row_prior.score(codes) > untrained.score(codes) + 0.3
    assert len(row_prior.history_["loss"]) == 15
    assert row_prior.history_["loss"][-1] < row_prior.history_["loss"][0]


def test_score_is_the_mean_log_likelihood_per_code(row_prior):
    codes = make_row_codes(8, seed=2)
    per_map = row_prior.score_samples(codes)
    assert per_map.shape == (8,) and np.all(per_map < 0)
    assert row_prior.score(codes) == pytest.approx(per_map.mean() / 36, rel=1e-6)


def test_fitted_attributes(row_prior):
    assert row_prior.grid_shape_ == (6, 6)
    assert row_prior.num_embeddings_ == 4
    assert row_prior.condition_num_embeddings_ is None


def test_an_explicit_codebook_size_is_kept():
    prior = PixelCNNPrior(**{**TINY_PRIOR, "num_embeddings": 10})
    prior.fit(make_row_codes(16))
    assert prior.num_embeddings_ == 10 and prior.model_.num_embeddings == 10


def test_a_condition_that_determines_the_codes_is_used():
    top = make_row_codes(64, size=3, seed=3)
    bottom = upsample_codes(top)
    params = {**TINY_PRIOR, "epochs": 10, "learning_rate": 3e-3}
    conditional = PixelCNNPrior(**params).fit(bottom, top)
    unconditional = PixelCNNPrior(**params).fit(bottom)
    assert conditional.condition_num_embeddings_ == 4
    # negative log-likelihood per code: the condition leaves almost nothing to guess
    assert -conditional.score(bottom, top) < 0.2 * -unconditional.score(bottom)
    samples = conditional.sample(4, top[:4], random_state=0)
    assert samples.shape == (4, 6, 6)
    assert (samples == bottom[:4]).mean() > 0.8


def test_a_deeper_condition_network_fits_samples_and_is_saved(tmp_path):
    top = make_row_codes(16, size=3, seed=3)
    bottom = upsample_codes(top)
    prior = PixelCNNPrior(**TINY_PRIOR, condition_layers=3).fit(bottom, top)
    assert prior.model_.condition_layers == 3
    fast, naive = (
        prior.sample(2, top[:2], random_state=0, method=method)
        for method in ("fast", "naive")
    )
    np.testing.assert_array_equal(fast, naive)
    prior.save(tmp_path / "prior")
    loaded = oasisgen.load(tmp_path / "prior")
    assert loaded.condition_layers == 3
    assert loaded.score(bottom, top) == pytest.approx(prior.score(bottom, top))


@pytest.mark.parametrize("conditional", [False, True], ids=["plain", "conditional"])
def test_bottom_up_is_top_down_on_upside_down_maps(conditional):
    top = make_row_codes(16, size=3, seed=4)
    rng = np.random.default_rng(0)
    maps = np.where(rng.random((16, 6, 6)) < 0.3, 3, upsample_codes(top))
    assert not np.array_equal(maps, maps[:, ::-1])  # the order matters
    condition = top if conditional else None
    flipped = None if condition is None else condition[:, ::-1]
    bottom_up = PixelCNNPrior(**TINY_PRIOR, scan_order="bottom_up").fit(maps, condition)
    top_down = PixelCNNPrior(**TINY_PRIOR).fit(maps[:, ::-1], flipped)
    # the same model, fed the same maps in the same order
    np.testing.assert_allclose(
        bottom_up.score_samples(maps, condition),
        top_down.score_samples(maps[:, ::-1], flipped),
        rtol=1e-6,
    )
    n = 4
    drawn = bottom_up.sample(
        n, None if condition is None else condition[:n], random_state=0
    )
    reference = top_down.sample(
        n, None if flipped is None else flipped[:n], random_state=0
    )
    np.testing.assert_array_equal(drawn, reference[:, ::-1])


def test_a_warm_start_in_another_scan_order_starts_a_new_model():
    maps = make_row_codes(16)
    prior = PixelCNNPrior(**TINY_PRIOR, warm_start=True).fit(maps).fit(maps)
    assert len(prior.history_["loss"]) == 2  # went on
    prior.set_params(scan_order="bottom_up").fit(maps)
    assert len(prior.history_["loss"]) == 1  # started again
    assert prior.scan_order_ == "bottom_up"


def test_the_scan_order_is_saved(tmp_path):
    maps = make_row_codes(16)
    prior = PixelCNNPrior(**TINY_PRIOR, scan_order="bottom_up").fit(maps)
    prior.save(tmp_path / "prior")
    loaded = oasisgen.load(tmp_path / "prior")
    assert loaded.scan_order == loaded.scan_order_ == "bottom_up"
    assert loaded.score(maps) == pytest.approx(prior.score(maps))
    np.testing.assert_array_equal(
        loaded.sample(3, random_state=0), prior.sample(3, random_state=0)
    )


def copy_codes(n=64, seed=0):
    """Maps whose last row repeats the first (0 or 1), with 2 in between."""
    first = np.random.default_rng(seed).integers(0, 2, n)
    maps = np.full((n, 6, 6), 2)
    maps[:, 0] = maps[:, -1] = first[:, None]
    return maps


@pytest.mark.parametrize(("attention_layers", "sure"), [(0, False), (1, True)])
def test_attention_learns_what_lies_beyond_the_convolutions(attention_layers, sure):
    # Two gated layers of kernel 3 see three rows up: from the start of the last
    # row, only attention sees the first row, which the code there repeats.
    maps = copy_codes()
    params = {**TINY_PRIOR, "epochs": 30, "learning_rate": 1e-2}
    prior = PixelCNNPrior(**params, attention_layers=attention_layers).fit(maps)
    logits = np.asarray(prior.model_(maps[:16]))[:, -1, 0]
    probability = np.exp(logits - logits.max(axis=1, keepdims=True))
    probability /= probability.sum(axis=1, keepdims=True)
    right = probability[np.arange(16), maps[:16, 0, 0]].mean()
    assert (right > 0.9) == sure, right
    assert right > 0.4  # without attention: a fair guess between 0 and 1


def test_attention_layers_sample_exactly_and_are_saved(tmp_path):
    maps = copy_codes(16)
    prior = PixelCNNPrior(**TINY_PRIOR, attention_layers=2).fit(maps)
    assert prior.model_.attention_layers == 2
    fast, naive = (
        prior.sample(3, random_state=0, method=method) for method in ("fast", "naive")
    )
    np.testing.assert_array_equal(fast, naive)
    prior.save(tmp_path / "prior")
    loaded = oasisgen.load(tmp_path / "prior")
    assert loaded.attention_layers == 2
    assert loaded.score(maps) == pytest.approx(prior.score(maps))
    np.testing.assert_array_equal(loaded.sample(3, random_state=0), fast)


def test_more_attention_layers_than_gated_layers_are_refused_before_fitting():
    prior = PixelCNNPrior(**{**TINY_PRIOR, "n_layers": 2}, attention_layers=3)
    with pytest.raises(ValueError, match="attention_layers=3 and n_layers=2.*at most"):
        prior.fit(make_row_codes(8))
    assert not hasattr(prior, "model_")


@pytest.mark.parametrize("method", ["fast", "naive"])
def test_the_same_seed_gives_the_same_samples(row_prior, method):
    first = row_prior.sample(3, random_state=7, method=method)
    np.testing.assert_array_equal(first, row_prior.sample(3, random_state=7))
    assert not np.array_equal(first, row_prior.sample(3, random_state=8))


def test_temperature_and_top_k_options(row_prior):
    greedy = row_prior.sample(4, random_state=0, top_k=1)
    assert (greedy == greedy[:, :, :1]).all()
    cold = row_prior.sample(4, random_state=0, temperature=0.5)
    assert cold.shape == (4, 6, 6)


def test_save_load_and_joblib_round_trips(row_prior, tmp_path):
    codes = make_row_codes(4, seed=5)
    loaded = oasisgen.load(row_prior.save(tmp_path / "prior"))
    np.testing.assert_allclose(
        loaded.score_samples(codes), row_prior.score_samples(codes), rtol=1e-6
    )
    np.testing.assert_array_equal(
        loaded.sample(2, random_state=1), row_prior.sample(2, random_state=1)
    )
    joblib.dump(row_prior, tmp_path / "prior.joblib")
    np.save(tmp_path / "codes.npy", codes)
    np.save(tmp_path / "expected.npy", row_prior.sample(2, random_state=1))
    script = (
        "import joblib, numpy as np, sys\n"
        "prior = joblib.load(sys.argv[1] + '/prior.joblib')\n"
        "expected = np.load(sys.argv[1] + '/expected.npy')\n"
        "assert (prior.sample(2, random_state=1) == expected).all()\n"
        "print(prior.grid_shape_)\n"
    )
    result = run_python(script, tmp_path)
    assert result.stdout.strip() == "(6, 6)"


def test_clone_and_grid_search_with_the_condition_as_y():
    top = make_row_codes(24, size=3, seed=3)
    bottom = upsample_codes(top)
    search = GridSearchCV(PixelCNNPrior(**TINY_PRIOR), {"n_layers": [1]}, cv=2)
    search.fit(bottom, top)
    assert search.best_params_ == {"n_layers": 1}
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    copy = clone(search.best_estimator_)
    assert not hasattr(copy, "model_")


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("codes", "error", "match"),
    [
        (np.zeros((4, 6)), ValueError, r"shape \(n_samples, height, width\)"),
        (np.zeros((4, 6, 6, 1)), ValueError, r"got an array of shape \(4, 6, 6, 1\)"),
        (np.full((4, 6, 6), -1), ValueError, r"codes in \[0, 2\*\*31\)"),
        (np.full((4, 6, 6), 0.5), TypeError, "integer codes"),
        (np.zeros((0, 6, 6)), ValueError, "got an array of shape"),
    ],
    ids=["2d", "4d", "negative", "fractional", "empty"],
)
def test_bad_codes_are_rejected_by_fit(codes, error, match):
    with pytest.raises(error, match=match):
        PixelCNNPrior(**TINY_PRIOR).fit(codes)


def test_codes_beyond_the_codebook_are_rejected():
    with pytest.raises(ValueError, match=r"codes in \[0, 3\); got values from 0 to 3"):
        PixelCNNPrior(**{**TINY_PRIOR, "num_embeddings": 3}).fit(make_row_codes(8))


def test_a_condition_of_the_wrong_grid_is_rejected():
    codes = make_row_codes(8)
    with pytest.raises(ValueError, match=r"condition of shape \(8, 3, 3\)"):
        PixelCNNPrior(**TINY_PRIOR).fit(codes, make_row_codes(8, size=4))


def test_scoring_needs_the_condition_the_prior_was_fitted_with(row_prior):
    codes = make_row_codes(4)
    with pytest.raises(ValueError, match="fitted without a condition"):
        row_prior.score(codes, make_row_codes(4, size=3))
    top = make_row_codes(8, size=3)
    conditional = PixelCNNPrior(**TINY_PRIOR).fit(upsample_codes(top), top)
    with pytest.raises(ValueError, match="fitted with a condition"):
        conditional.score(upsample_codes(top))
    with pytest.raises(ValueError, match=r"condition of shape \(2, 3, 3\)"):
        conditional.sample(2, make_row_codes(3, size=3))


def test_codes_of_another_grid_are_rejected_by_score(row_prior):
    with pytest.raises(ValueError, match="expected code maps of 6x6.*got 8x8"):
        row_prior.score(make_row_codes(4, size=8))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"method": "slow"}, "method"),
    ],
    ids=["no-samples", "zero-temperature", "negative-temperature", "top-0", "method"],
)
def test_bad_sampling_options_are_rejected(row_prior, options, match):
    options = {"n_samples": 2, **options}
    with pytest.raises(ValueError, match=match):
        row_prior.sample(**options)


@pytest.mark.parametrize("method", ["sample", "score", "score_samples", "save"])
def test_methods_before_fit_raise_not_fitted(method, tmp_path):
    prior = PixelCNNPrior()
    with pytest.raises(NotFittedError):
        if method == "sample":
            prior.sample(1)
        elif method == "save":
            prior.save(tmp_path / "x")
        else:
            getattr(prior, method)(make_row_codes(2))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"num_embeddings": 1}, "'num_embeddings' parameter"),
        ({"kernel_size": 1}, "'kernel_size' parameter"),
        ({"dropout": 1.5}, "'dropout' parameter"),
        ({"learning_rate": 0}, "'learning_rate' parameter"),
        ({"distribute": "tpu"}, "'distribute' parameter"),
        ({"condition_layers": 0}, "'condition_layers' parameter"),
        ({"attention_layers": -1}, "'attention_layers' parameter"),
        (
            {"scan_order": "sideways"},
            r"'scan_order' parameter .* must be a str among \{.*'bottom_up'.*\}. "
            "Got 'sideways'",
        ),
    ],
    ids=[
        "one-code",
        "kernel-1",
        "dropout",
        "zero-lr",
        "distribute",
        "condition",
        "attention",
        "scan-order",
    ],
)
def test_invalid_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        PixelCNNPrior(**{**TINY_PRIOR, **params}).fit(make_row_codes(8))


# ------------------------------------------------------- global condition
def level_codes(levels, size=4):
    """All-0 maps below level 0.5, all-1 maps from 0.5: the vector sets the map."""
    levels = np.asarray(levels)
    maps = np.broadcast_to((levels >= 0.5)[:, None, None], (len(levels), size, size))
    return maps.astype(np.int64)


LEVELS = np.linspace(0, 1, 48)


@pytest.fixture(scope="module")
def level_prior():
    params = {**TINY_PRIOR, "epochs": 6, "learning_rate": 1e-2, "num_embeddings": 4}
    return PixelCNNPrior(**params).fit(level_codes(LEVELS), global_condition=LEVELS)


def test_a_prior_fitted_with_a_global_condition_records_its_length(level_prior):
    assert level_prior.global_condition_dim_ == 1
    assert level_prior.model_.global_condition_dim == 1
    assert level_prior.condition_num_embeddings_ is None
    assert level_prior.grid_shape_ == (4, 4)


def test_a_prior_fitted_without_one_has_none(row_prior):
    assert row_prior.global_condition_dim_ is None
    assert row_prior.model_.global_condition_dim is None


@pytest.mark.parametrize(("level", "code"), [(0.1, 0), (0.9, 1)])
@pytest.mark.parametrize("method", ["fast", "naive"])
def test_samples_follow_the_global_condition(level_prior, level, code, method):
    samples = level_prior.sample(
        24, global_condition=np.full(24, level), random_state=0, method=method
    )
    assert samples.shape == (24, 4, 4)
    # a prior that ignored the level would draw each kind half of the time
    assert (samples == code).mean() > 0.9


def test_one_batch_of_samples_can_mix_levels(level_prior):
    levels = np.array([0.05, 0.95] * 8)
    samples = level_prior.sample(16, global_condition=levels[:, None], random_state=1)
    majority = (samples.mean(axis=(1, 2)) > 0.5).astype(int)
    assert (majority == (levels >= 0.5)).mean() > 0.9


@pytest.mark.parametrize("code", [0, 1])
def test_maps_score_higher_under_their_own_level(level_prior, code):
    maps = np.full((4, 4, 4), code)
    own, other = (0.1, 0.9) if code == 0 else (0.9, 0.1)
    under_own = level_prior.score_samples(maps, global_condition=np.full(4, own))
    under_other = level_prior.score_samples(maps, global_condition=[[other]] * 4)
    assert under_own.shape == (4,)
    assert np.all(under_own > under_other + 2.0)
    assert level_prior.score(maps, global_condition=np.full(4, own)) == pytest.approx(
        under_own.mean() / 16, rel=1e-6
    )


def test_a_flat_and_a_column_global_condition_score_the_same(level_prior):
    maps = level_codes(LEVELS[::6])
    np.testing.assert_allclose(
        level_prior.score_samples(maps, global_condition=LEVELS[::6]),
        level_prior.score_samples(maps, global_condition=LEVELS[::6, None]),
        rtol=1e-6,
    )


def test_a_global_condition_of_two_numbers_with_a_condition_map():
    top = make_row_codes(16, size=3, seed=3)
    vectors = np.random.default_rng(0).random((16, 2))
    prior = PixelCNNPrior(**TINY_PRIOR).fit(
        upsample_codes(top), top, global_condition=vectors
    )
    assert prior.global_condition_dim_ == 2
    assert prior.condition_num_embeddings_ == 4
    scores = prior.score_samples(upsample_codes(top), top, global_condition=vectors)
    assert scores.shape == (16,) and np.all(np.isfinite(scores))
    samples = prior.sample(3, top[:3], global_condition=vectors[:3], random_state=0)
    assert samples.shape == (3, 6, 6)
    naive = prior.sample(
        3, top[:3], global_condition=vectors[:3], random_state=0, method="naive"
    )
    np.testing.assert_array_equal(samples, naive)


def test_save_load_keeps_the_global_condition(level_prior, tmp_path):
    loaded = oasisgen.load(level_prior.save(tmp_path / "prior"))
    assert loaded.global_condition_dim_ == 1
    levels = np.array([0.1, 0.9, 0.3])
    np.testing.assert_array_equal(
        loaded.sample(3, global_condition=levels, random_state=4),
        level_prior.sample(3, global_condition=levels, random_state=4),
    )
    maps = level_codes(levels)
    np.testing.assert_allclose(
        loaded.score_samples(maps, global_condition=levels),
        level_prior.score_samples(maps, global_condition=levels),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="fitted with a global_condition of length 1"):
        loaded.sample(3, random_state=4)


def test_refitting_without_the_global_condition_drops_it(level_prior):
    prior = clone(level_prior).set_params(warm_start=True, epochs=1)
    prior.fit(level_codes(LEVELS), global_condition=LEVELS)
    assert prior.global_condition_dim_ == 1
    prior.fit(level_codes(LEVELS))
    assert prior.global_condition_dim_ is None
    assert prior.sample(2, random_state=0).shape == (2, 4, 4)


MAPS = level_codes(np.array([0.1, 0.2, 0.8, 0.9]))


@pytest.mark.parametrize("method", ["score", "score_samples", "sample"])
@pytest.mark.parametrize(
    ("vectors", "match"),
    [
        (
            None,
            r"PixelCNNPrior\.{method}: this prior was fitted with a global_condition "
            r"of length 1; pass one per map",
        ),
        (
            [0.1, 0.2, 0.8],
            r"PixelCNNPrior\.{method} expected one global_condition row per map "
            r"\(4\); got 3",
        ),
        (
            np.zeros((4, 2)),
            r"expected global_condition vectors of length 1 \(global_condition_dim\); "
            r"got length 2",
        ),
        ([0.1, np.nan, 0.8, 0.9], r"expected finite global_condition; got NaN or inf"),
        ([0.1, 0.2, np.inf, 0.9], r"expected finite global_condition; got NaN or inf"),
        (np.zeros((4, 1, 1)), r"got float64 values of shape \(4, 1, 1\)"),
    ],
    ids=["missing", "rows", "length", "nan", "inf", "3d"],
)
def test_bad_global_conditions_are_rejected(level_prior, method, vectors, match):
    # score hands its checks to score_samples, whose name the messages carry
    caller = "score_samples" if method == "score" else method
    with pytest.raises(ValueError, match=match.replace("{method}", caller)):
        if method == "sample":
            level_prior.sample(4, global_condition=vectors)
        else:
            getattr(level_prior, method)(MAPS, global_condition=vectors)


@pytest.mark.parametrize("method", ["score", "score_samples", "sample"])
@pytest.mark.parametrize(
    ("vectors", "dtype"),
    [(["a", "b", "c", "d"], "<U1"), (np.array([True, False, True, True]), "bool")],
    ids=["text", "bool"],
)
def test_a_global_condition_of_another_type_is_a_type_error(
    level_prior, method, vectors, dtype
):
    caller = "score_samples" if method == "score" else method
    match = (
        rf"PixelCNNPrior\.{caller} expected global_condition as real numbers; got "
        rf"values of dtype {dtype}\. Convert with np\.asarray"
    )
    with pytest.raises(TypeError, match=match):
        if method == "sample":
            level_prior.sample(4, global_condition=vectors)
        else:
            getattr(level_prior, method)(MAPS, global_condition=vectors)


@pytest.mark.parametrize("method", ["score", "score_samples", "sample"])
def test_a_global_condition_is_refused_by_a_prior_fitted_without(row_prior, method):
    caller = "score_samples" if method == "score" else method
    match = (
        rf"PixelCNNPrior\.{caller}: this prior was fitted without a global_condition; "
        "do not pass one"
    )
    with pytest.raises(ValueError, match=match):
        if method == "sample":
            row_prior.sample(2, global_condition=[0.1, 0.9])
        else:
            getattr(row_prior, method)(make_row_codes(2), global_condition=[0.1, 0.9])


@pytest.mark.parametrize(
    ("vectors", "match"),
    [
        (LEVELS[:7], r"PixelCNNPrior\.fit expected one global_condition row per map "),
        (np.full(8, np.nan), r"PixelCNNPrior\.fit expected finite global_condition"),
        (np.zeros((8, 1, 1)), r"PixelCNNPrior\.fit expected global_condition as num"),
    ],
    ids=["rows", "nan", "3d"],
)
def test_bad_global_conditions_are_rejected_by_fit(vectors, match):
    with pytest.raises(ValueError, match=match):
        PixelCNNPrior(**TINY_PRIOR).fit(
            level_codes(LEVELS[:8]), global_condition=vectors
        )


def test_check_global_condition_gives_a_column_per_number():
    from oasisgen.datasets.validation import check_global_condition

    values = check_global_condition([0.1, 2], n_samples=2, caller="demo")
    assert values.shape == (2, 1) and values.dtype == np.float32
    np.testing.assert_allclose(values[:, 0], [0.1, 2.0])
    wide = check_global_condition(np.ones((3, 2)), n_samples=3, caller="demo", dim=2)
    assert wide.shape == (3, 2)
    with pytest.raises(ValueError, match=r"^demo expected global_condition vectors"):
        check_global_condition(np.ones((3, 2)), n_samples=3, caller="demo", dim=1)


def test_a_prior_with_mirror_context_fits_samples_and_is_saved(tmp_path):
    codes = make_row_codes(32, size=6)
    prior = PixelCNNPrior(**{**TINY_PRIOR, "epochs": 2}, mirror_context=True)
    prior.fit(codes)
    assert prior.model_.mirror_context
    drawn = prior.sample(3, random_state=0)
    assert drawn.shape == (3, 6, 6) and drawn.min() >= 0 and drawn.max() < 4
    loaded = oasisgen.load(prior.save(tmp_path / "prior"))
    assert loaded.mirror_context and loaded.model_.mirror_context
    np.testing.assert_allclose(loaded.score_samples(codes), prior.score_samples(codes))
    np.testing.assert_array_equal(loaded.sample(3, random_state=0), drawn)


def test_the_global_seed_is_set_for_new_and_resumed_priors_not_warm_starts(
    tmp_path, monkeypatch
):
    calls = []
    monkeypatch.setattr("keras.utils.set_random_seed", calls.append)
    params = {**TINY_PRIOR, "checkpoint_dir": tmp_path, "warm_start": True}
    codes = make_row_codes(n=16)
    prior = PixelCNNPrior(**params).fit(codes)
    prior.set_params(epochs=2).fit(codes)  # the model in memory: no reseeding
    PixelCNNPrior(**{**params, "epochs": 3}).fit(codes)  # from the checkpoint
    assert calls == [0, 0]


def test_a_prior_trained_with_xla_matches_one_trained_without():
    top = make_row_codes(32, size=3, seed=3)
    bottom = upsample_codes(top)
    params = {**TINY_PRIOR, "mirror_context": True}
    plain = PixelCNNPrior(**params).fit(bottom, top)
    xla = PixelCNNPrior(**params, jit_compile=True).fit(bottom, top)
    assert xla.model_.jit_compile
    # the same steps, compiled otherwise: float round-off only
    np.testing.assert_allclose(xla.history_["loss"], plain.history_["loss"], rtol=1e-4)
    np.testing.assert_allclose(
        xla.score_samples(bottom, top), plain.score_samples(bottom, top), rtol=1e-4
    )


def test_the_former_channels_parameter_warns_and_is_used():
    prior = PixelCNNPrior(**{**TINY_PRIOR, "channels": 8})
    with pytest.warns(FutureWarning, match="renamed hidden_channels"):
        prior.fit(make_row_codes(16))
    assert prior.model_.hidden_channels == 8
    assert prior.get_params()["channels"] == 8  # kept as given, like any parameter


def test_a_prior_saved_before_the_rename_loads_with_its_hidden_channels(tmp_path):
    folder = PixelCNNPrior(**TINY_PRIOR).fit(make_row_codes(16)).save(tmp_path / "p")
    manifest = json.loads((folder / "estimator.json").read_text())
    params = manifest["params"]
    del params["channels"]
    params["channels"] = params.pop("hidden_channels")  # what older versions wrote
    (folder / "estimator.json").write_text(json.dumps(manifest))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # nothing the user asked for
        loaded = oasisgen.load(folder)
    assert loaded.hidden_channels == TINY_PRIOR["hidden_channels"]
    assert loaded.channels == "deprecated"
