"""Inputs that fuzzing showed were let through, or raised the wrong error."""

import numpy as np
import pytest

from oasisgen import PixelCNNPrior, VQVAE2Estimator
from oasisgen.datasets.validation import check_code_maps as check_codes

from .conftest import TINY_PRIOR, TINY_VQVAE, make_row_codes


def test_images_of_zero_pixels_are_rejected():
    with pytest.raises(ValueError, match="at least 1x1 pixels"):
        VQVAE2Estimator(**TINY_VQVAE).fit(np.zeros((2, 0, 0), dtype=np.uint8))


def test_codes_beyond_int32_are_rejected():
    with pytest.raises(ValueError, match=r"in \[0, 2\*\*31\) \(codes are int32\)"):
        check_codes(np.full((1, 2, 2), 2.0**40), caller="test")


@pytest.fixture(scope="module")
def prior():
    return PixelCNNPrior(**TINY_PRIOR).fit(make_row_codes(16, size=4))


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"n_samples": float("inf")}, ValueError, "n_samples"),
        ({"n_samples": "2"}, TypeError, "n_samples"),
        ({"n_samples": None}, TypeError, "n_samples"),
        ({"temperature": float("inf")}, ValueError, "temperature"),
        ({"temperature": "hot"}, TypeError, "temperature"),
        ({"top_k": float("nan")}, ValueError, "top_k"),
    ],
    ids=["inf-samples", "str-samples", "no-samples", "inf-temp", "str-temp", "nan-k"],
)
def test_sampling_options_are_checked_before_sampling(prior, options, error, match):
    with pytest.raises(error, match=match):
        prior.sample(**{"n_samples": 1, **options})
