import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV

import oasisgen
from oasisgen import PixelCNNPrior

from .conftest import TINY_PRIOR, make_row_codes, upsample_codes


@pytest.fixture(scope="module")
def row_prior():
    codes = make_row_codes(96)
    params = {**TINY_PRIOR, "epochs": 15, "learning_rate": 3e-3, "channels": 32}
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
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "(6, 6)"


def test_clone_and_grid_search_with_the_condition_as_y():
    top = make_row_codes(24, size=3, seed=3)
    bottom = upsample_codes(top)
    search = GridSearchCV(PixelCNNPrior(**TINY_PRIOR), {"n_layers": [1, 2]}, cv=2)
    search.fit(bottom, top)
    assert search.best_params_["n_layers"] in (1, 2)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    copy = clone(search.best_estimator_)
    assert not hasattr(copy, "model_")


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("codes", "error", "match"),
    [
        (np.zeros((4, 6)), ValueError, r"shape \(n_samples, height, width\)"),
        (np.zeros((4, 6, 6, 1)), ValueError, r"got an array of shape \(4, 6, 6, 1\)"),
        (np.full((4, 6, 6), -1), ValueError, r"codes in \[0, inf\)"),
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
    ],
    ids=["one-code", "kernel-1", "dropout", "zero-lr", "distribute"],
)
def test_invalid_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        PixelCNNPrior(**{**TINY_PRIOR, **params}).fit(make_row_codes(8))
