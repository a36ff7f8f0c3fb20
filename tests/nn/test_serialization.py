"""Every registered layer and model: config and .keras round trips."""

import keras
import numpy as np
import pytest

from oasisgen.nn import VQVAE2, ResidualStack, VectorQuantizer


def _outputs(layer, inputs):
    outputs = layer(inputs, training=False)
    return [
        np.asarray(o) for o in (outputs if isinstance(outputs, tuple) else [outputs])
    ]


CASES = {
    "VectorQuantizer": (
        lambda: VectorQuantizer(num_embeddings=6, embedding_dim=3, seed=0),
        (2, 4, 4, 3),
    ),
    "ResidualStack": (
        lambda: ResidualStack(channels=4, n_res_blocks=2, n_res_channels=3),
        (2, 4, 4, 4),
    ),
    "VQVAE2": (
        lambda: VQVAE2(
            num_embeddings=(6, 8),
            embedding_dim=3,
            hidden_channels=4,
            n_res_blocks=1,
            n_res_channels=2,
            seed=0,
        ),
        (2, 16, 16, 1),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_config_round_trip(name):
    make, shape = CASES[name]
    layer = make()
    config = layer.get_config()
    rebuilt = type(layer).from_config(config)
    assert rebuilt.get_config() == config


@pytest.mark.parametrize("name", list(CASES))
def test_keras_file_round_trip_in_safe_mode(name, tmp_path):
    make, shape = CASES[name]
    layer = make()
    inputs = np.random.default_rng(0).random(shape).astype("float32")
    expected = _outputs(layer, inputs)
    if isinstance(layer, keras.Model):
        model = layer
    else:
        model = keras.Sequential([keras.Input(shape[1:]), layer])
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    loaded_layer = loaded if isinstance(layer, keras.Model) else loaded.layers[0]
    for got, want in zip(_outputs(loaded_layer, inputs), expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
