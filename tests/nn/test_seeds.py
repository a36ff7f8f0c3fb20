"""A model's seed alone fixes its initial weights, whatever Python's ``random`` does.

Keras seeds unseeded initializers from Python's global ``random``; another thread
drawing from it (a Dask worker's event loop does) would change the weights.
"""

import random

import numpy as np
import pytest

from oasisgen.nn import VQVAE2, GatedPixelCNN
from oasisgen.nn.seeds import LayerSeeds

BUILDERS = {
    "vqvae2": lambda seed: _built(
        VQVAE2(
            num_embeddings=8,
            embedding_dim=4,
            hidden_channels=8,
            n_res_blocks=1,
            n_res_channels=4,
            seed=seed,
        ),
        (None, 16, 16, 1),
    ),
    "conditional pixelcnn": lambda seed: _built(
        GatedPixelCNN(
            num_embeddings=8,
            n_layers=2,
            hidden_channels=8,
            dropout=0.5,
            condition_num_embeddings=4,
            condition_channels=4,
            seed=seed,
        ),
        None,
    ),
}


def _built(model, shape):
    model.build(shape)
    return model


def _weights_after(python_seed, build, seed):
    random.seed(python_seed)
    return build(seed).get_weights()


@pytest.mark.parametrize("build", list(BUILDERS.values()), ids=list(BUILDERS))
def test_the_seed_alone_fixes_the_initial_weights(build):
    first = _weights_after(1, build, seed=7)
    again = _weights_after(2, build, seed=7)
    assert len(first) == len(again) > 4
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = _weights_after(1, build, seed=8)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("build", list(BUILDERS.values()), ids=list(BUILDERS))
def test_without_a_seed_keras_draws_from_python_random(build):
    first = _weights_after(1, build, seed=None)
    other = _weights_after(2, build, seed=None)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_layer_seeds_are_distinct_repeatable_and_fit_in_31_bits():
    seeds = LayerSeeds(2**40)
    drawn = [seeds() for _ in range(100)]
    assert len(set(drawn)) == 100 and all(0 <= s < 2**31 for s in drawn)
    again = LayerSeeds(2**40)
    assert [again() for _ in range(100)] == drawn
