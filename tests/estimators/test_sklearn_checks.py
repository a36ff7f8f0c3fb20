"""scikit-learn's own estimator checks, with every expected failure explained.

The estimators take images of shape (n, height, width[, 1]) with height and width
divisible by 8, and their tags say so. scikit-learn runs its checks only for
estimators that take 2D tables and silently skips the others, so the classes tested
here are subclasses whose tags claim 2D input: scikit-learn then runs every check.
The checks about the API (parameters, cloning, repr, tags, unfitted errors) pass; the
checks that feed (n_samples, n_features) tables fail by design, with our ValueError
naming the expected image shape, and are listed below with that reason.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from oasisgen import VQVAE2Estimator

from .conftest import TINY_VQVAE

TABULAR = (
    "feeds 2D (n_samples, n_features) tables; the estimator takes images "
    "(n, height, width[, 1]) and raises a ValueError naming the expected shape"
)

TABLES = (
    "fits (n_samples, n_features) tables; images of shape (n, height, width[, 1]) "
    "are required, and the ValueError says so"
)
NO_FEATURES = (
    "n_features_in_ describes tables; the estimator records image_shape_ instead"
)

EXPECTED_FAILURES = {
    "check_dict_unchanged": TABLES,
    "check_dont_overwrite_parameters": TABLES,
    "check_dtype_object": TABLES + " (object tables raise a TypeError)",
    "check_estimators_dtypes": TABLES,
    "check_estimators_empty_data_messages": TABLES
    + " (no message about '0 feature(s)': images have no features)",
    "check_estimators_fit_returns_self": TABLES,
    "check_estimators_nan_inf": TABLES,
    "check_estimators_overwrite_params": TABLES,
    "check_estimators_pickle": TABLES,
    "check_estimators_pickle(readonly_memmap=True)": TABLES,
    "check_f_contiguous_array_estimator": TABLES,
    "check_fit2d_1feature": TABLES,
    "check_fit2d_1sample": TABLES,
    "check_fit2d_predict1d": TABLES,
    "check_fit_check_is_fitted": TABLES,
    "check_fit_idempotent": TABLES,
    "check_fit_score_takes_y": TABLES,
    "check_methods_sample_order_invariance": TABLES,
    "check_methods_subset_invariance": TABLES,
    "check_n_features_in": NO_FEATURES,
    "check_n_features_in_after_fitting": NO_FEATURES,
    "check_pipeline_consistency": TABLES,
    "check_positive_only_tag_during_fit": TABLES,
    "check_readonly_memmap_input": TABLES,
    "check_transformer_data_not_an_array": TABLES,
    "check_transformer_general": TABLES,
    "check_transformer_general(readonly_memmap=True)": TABLES,
}


def expected_failed_checks(estimator):
    return EXPECTED_FAILURES


class TabularTaggedVQVAE2Estimator(VQVAE2Estimator):
    """VQVAE2Estimator whose tags claim 2D input, so scikit-learn runs its checks."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        return tags


def test_the_real_tags_declare_image_input():
    tags = VQVAE2Estimator().__sklearn_tags__()
    assert not tags.input_tags.two_d_array and tags.input_tags.three_d_array
    assert not tags.target_tags.required


@parametrize_with_checks(
    [TabularTaggedVQVAE2Estimator(**TINY_VQVAE)],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
