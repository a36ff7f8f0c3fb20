"""FusedAdam: Keras' Adam, one TensorFlow kernel per variable."""

import keras
import numpy as np
import pytest

from oasisgen import PixelCNNPrior, VQVAE2Estimator
from oasisgen.nn.optimizers import FusedAdam


def _model():
    """Dense weights and an embedding, whose gradient is sparse."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input(shape=(3,), dtype="int32"),
            keras.layers.Embedding(10, 4),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1),
        ]
    )


def _trained_weights(optimizer):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, size=(64, 3)).astype("int32")
    y = rng.normal(size=(64, 1)).astype("float32")
    model = _model()
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    return model.get_weights()


@pytest.mark.parametrize("amsgrad", [False, True], ids=["adam", "amsgrad"])
def test_training_gives_adams_weights(amsgrad):
    settings = dict(learning_rate=0.05, beta_1=0.8, epsilon=1e-6, amsgrad=amsgrad)
    fused = _trained_weights(FusedAdam(**settings))
    plain = _trained_weights(keras.optimizers.Adam(**settings))
    assert not np.allclose(fused[-2], _model().get_weights()[-2])  # it trained
    for ours, theirs in zip(fused, plain, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)  # round-off


def test_it_round_trips_through_a_keras_file(tmp_path):
    model = _model()
    model.compile(optimizer=FusedAdam(learning_rate=0.02, beta_2=0.9), loss="mse")
    model.fit(np.zeros((4, 3), "int32"), np.ones((4, 1), "float32"), verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert type(loaded.optimizer) is FusedAdam
    assert loaded.optimizer.beta_2 == pytest.approx(0.9)
    for ours, theirs in zip(
        loaded.optimizer.variables, model.optimizer.variables, strict=True
    ):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


@pytest.mark.parametrize(
    "estimator",
    [
        VQVAE2Estimator(optimizer="adam"),
        PixelCNNPrior(optimizer={"class_name": "Adam"}),
        PixelCNNPrior(optimizer={"class_name": "FusedAdam", "config": {}}),
    ],
    ids=["vqvae", "prior", "by its own name"],
)
def test_the_estimators_adam_is_fused(estimator):
    from oasisgen.estimators._base import make_optimizer

    optimizer = make_optimizer(estimator.optimizer, 1e-3, caller="test")
    assert type(optimizer) is FusedAdam
    assert float(optimizer.learning_rate) == pytest.approx(1e-3)
