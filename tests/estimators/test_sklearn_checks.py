"""scikit-learn's own estimator checks, with every expected failure explained.

The estimators take images of shape (n, height, width[, 1]) with height and width
divisible by 8, and their tags say so. scikit-learn runs its checks only for
estimators that take 2D tables and silently skips the others, so the classes tested
here are subclasses whose tags claim 2D input: scikit-learn then runs every check.
The checks about the API (parameters, cloning, repr, tags, unfitted errors) pass; the
checks that feed (n_samples, n_features) tables fail by design, with our ValueError
naming the expected image shape, and are listed below with that reason; the
contracts they check (fit returns self and is idempotent, parameters untouched,
methods that change nothing and give each sample the same result in any batch,
pickling, read-only and Fortran-ordered input) are checked on images and code
maps in ``test_image_checks.py``.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from oasisgen import HierarchicalGenerator, PixelCNNPrior, VQVAE2Estimator

from .conftest import TINY_PRIOR, TINY_VQVAE

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


CODE_MAPS = (
    "fits (n_samples, n_features) tables; the prior takes integer code maps "
    "(n, height, width), and the ValueError says so"
)
PRIOR_EXPECTED_FAILURES = {
    name: CODE_MAPS
    for name in [
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_estimators_dtypes",
        "check_estimators_fit_returns_self",
        "check_estimators_nan_inf",
        "check_estimators_overwrite_params",
        "check_estimators_pickle",
        "check_estimators_pickle(readonly_memmap=True)",
        "check_f_contiguous_array_estimator",
        "check_fit2d_1feature",
        "check_fit2d_1sample",
        "check_fit2d_predict1d",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_fit_score_takes_y",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_pipeline_consistency",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
        "check_complex_data",
        "check_dtype_object",
        "check_estimators_empty_data_messages",
    ]
} | {
    "check_n_features_in": NO_FEATURES.replace("image_shape_", "grid_shape_"),
    "check_n_features_in_after_fitting": NO_FEATURES.replace(
        "image_shape_", "grid_shape_"
    ),
}
GENERATOR_EXPECTED_FAILURES = {
    name: reason
    for name, reason in EXPECTED_FAILURES.items()
    if not name.startswith("check_transformer")
}


def expected_failed_checks(estimator):
    if isinstance(estimator, PixelCNNPrior):
        return PRIOR_EXPECTED_FAILURES
    if isinstance(estimator, HierarchicalGenerator):
        return GENERATOR_EXPECTED_FAILURES
    return EXPECTED_FAILURES


def _claim_tables(cls):
    """Return a subclass of ``cls`` whose tags claim 2D input."""

    def __sklearn_tags__(self):  # noqa: N807
        tags = cls.__sklearn_tags__(self)
        tags.input_tags.two_d_array = True
        return tags

    return type(
        f"TabularTagged{cls.__name__}", (cls,), {"__sklearn_tags__": __sklearn_tags__}
    )


@pytest.mark.parametrize(
    "estimator",
    [VQVAE2Estimator(), PixelCNNPrior(), HierarchicalGenerator()],
    ids=lambda e: type(e).__name__,
)
def test_the_real_tags_declare_image_input(estimator):
    tags = estimator.__sklearn_tags__()
    assert not tags.input_tags.two_d_array and tags.input_tags.three_d_array
    assert not tags.target_tags.required


@parametrize_with_checks(
    [
        _claim_tables(VQVAE2Estimator)(**TINY_VQVAE),
        _claim_tables(PixelCNNPrior)(**TINY_PRIOR),
        _claim_tables(HierarchicalGenerator)(
            vqvae=VQVAE2Estimator(**TINY_VQVAE),
            top_prior=PixelCNNPrior(**TINY_PRIOR),
            bottom_prior=PixelCNNPrior(**TINY_PRIOR),
        ),
    ],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
