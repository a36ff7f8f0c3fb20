"""The same seed gives the same fit on the same machine."""

import numpy as np

from oasisgen import PixelCNNPrior

from .conftest import TINY_PRIOR, make_row_codes, upsample_codes


def test_the_same_seed_gives_the_same_prior_weights():
    condition = make_row_codes(16, size=2)
    codes = upsample_codes(condition)
    params = {**TINY_PRIOR, "epochs": 2, "dropout": 0.2}
    first = PixelCNNPrior(**params).fit(codes, condition)
    second = PixelCNNPrior(**params).fit(codes, condition)
    for a, b in zip(first.model_.weights, second.model_.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    assert first.history_ == second.history_
