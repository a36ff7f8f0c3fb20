"""scikit-learn's estimator checks that feed tables, written again for images.

``test_sklearn_checks.py`` runs scikit-learn's own checks; those that build their
data as (n_samples, n_features) tables fail there by design (the estimators take
images or code maps). The same contracts are checked here on data of the right
shape: slices (n, 16, 16, 1) for the VQ-VAE-2 and the generator, code maps
(n, 6, 6) for the prior. Each names the scikit-learn check it stands for.
"""

import pickle

import joblib
import keras
import numpy as np
import pytest
from sklearn.base import BaseEstimator

from oasisgen import HierarchicalGenerator, PixelCNNPrior, VQVAE2Estimator

from .conftest import TINY_PRIOR, TINY_VQVAE, make_row_codes, make_slices


def _vqvae():
    return VQVAE2Estimator(**TINY_VQVAE), make_slices(12), ["transform", "reconstruct"]


def _prior():
    return PixelCNNPrior(**TINY_PRIOR), make_row_codes(24), ["score_samples"]


def _generator():
    generator = HierarchicalGenerator(
        vqvae=VQVAE2Estimator(**TINY_VQVAE),
        top_prior=PixelCNNPrior(**{**TINY_PRIOR, "n_layers": 1}),
        bottom_prior=PixelCNNPrior(**{**TINY_PRIOR, "n_layers": 1}),
    )
    return generator, make_slices(12), ["score_samples"]


CASES = {"VQVAE2Estimator": _vqvae, "PixelCNNPrior": _prior}
CASES_AND_GENERATOR = {**CASES, "HierarchicalGenerator": _generator}


def _outputs(estimator, X, methods):
    return {name: np.asarray(getattr(estimator, name)(X)) for name in methods}


def _fingerprint(value):
    """A hash of a value; of the weights of a Keras model, recursively."""
    if isinstance(value, keras.Model):
        return joblib.hash(value.get_weights())
    if isinstance(value, BaseEstimator):
        return _state(value)
    if isinstance(value, keras.callbacks.Callback):
        return type(value).__name__
    if isinstance(value, list | tuple):
        return [_fingerprint(item) for item in value]
    return joblib.hash(value)


def _state(estimator):
    """The fingerprints of the parameters and the fitted attributes.

    Private attributes are left out: they hold caches, such as traced
    functions, that a method may build on its first call.
    """
    return {
        name: _fingerprint(value)
        for name, value in vars(estimator).items()
        if not name.startswith("_")
    }


@pytest.fixture(scope="module", params=list(CASES_AND_GENERATOR))
def fitted(request):
    """A fitted estimator, its data and methods, and its parameters before fit."""
    estimator, X, methods = CASES_AND_GENERATOR[request.param]()
    params_before = joblib.hash(estimator.get_params(deep=True))
    attributes_before = set(vars(estimator))
    returned = estimator.fit(X)
    return estimator, X, methods, returned, params_before, attributes_before


def test_fit_returns_self(fitted):
    # check_estimators_fit_returns_self
    estimator, _, _, returned, _, _ = fitted
    assert returned is estimator


def test_fit_changes_no_parameter(fitted):
    # check_estimators_overwrite_params
    estimator, _, _, _, params_before, _ = fitted
    assert joblib.hash(estimator.get_params(deep=True)) == params_before


def test_fit_adds_only_attributes_that_end_with_an_underscore(fitted):
    # check_dont_overwrite_parameters
    estimator, _, _, _, _, attributes_before = fitted
    added = set(vars(estimator)) - attributes_before
    public = [name for name in added if not name.startswith("_")]
    assert public and all(name.endswith("_") for name in public), public


def test_methods_leave_the_estimator_unchanged(fitted):
    # check_dict_unchanged
    estimator, X, methods, _, _, _ = fitted
    before = _state(estimator)
    _outputs(estimator, X, methods)
    assert _state(estimator) == before


def test_methods_give_each_sample_the_same_result_in_any_batch(fitted):
    # check_methods_subset_invariance and check_methods_sample_order_invariance
    estimator, X, methods, _, _, _ = fitted
    whole = _outputs(estimator, X, methods)
    order = np.random.default_rng(0).permutation(len(X))
    shuffled = _outputs(estimator, X[order], methods)
    half = _outputs(estimator, X[:5], methods)
    for name in methods:
        np.testing.assert_allclose(shuffled[name], whole[name][order], atol=1e-5)
        np.testing.assert_allclose(half[name], whole[name][:5], atol=1e-5)


def test_a_pickled_estimator_gives_the_same_results(fitted):
    # check_estimators_pickle
    estimator, X, methods, _, _, _ = fitted
    again = pickle.loads(pickle.dumps(estimator))
    expected, got = _outputs(estimator, X, methods), _outputs(again, X, methods)
    for name in methods:
        np.testing.assert_allclose(got[name], expected[name], atol=1e-6)


@pytest.mark.parametrize("case", list(CASES))
def test_fitting_twice_gives_the_same_model(case):
    # check_fit_idempotent: a second fit of the same estimator starts afresh
    estimator, X, methods = CASES[case]()
    first = _outputs(estimator.fit(X), X, methods)
    second = _outputs(estimator.fit(X), X, methods)
    for name in methods:
        np.testing.assert_allclose(second[name], first[name], atol=1e-6)


@pytest.mark.parametrize("case", list(CASES))
def test_read_only_and_fortran_ordered_input_is_taken(case):
    # check_readonly_memmap_input and check_f_contiguous_array_estimator
    estimator, X, methods = CASES[case]()
    read_only = np.asfortranarray(X)
    read_only.flags.writeable = False
    estimator.fit(read_only)
    expected = _outputs(estimator, np.ascontiguousarray(X), methods)
    got = _outputs(estimator, read_only, methods)
    for name in methods:
        np.testing.assert_allclose(got[name], expected[name], atol=1e-6)
