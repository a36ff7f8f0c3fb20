"""The Keras estimators' ``callbacks`` and ``optimizer`` parameters."""

import csv

import joblib
import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

import oasisgen
from oasisgen import PixelCNNPrior, VQVAE2Estimator

from .conftest import TINY_PRIOR, TINY_VQVAE, make_row_codes, make_slices


def vqvae(**params):
    return VQVAE2Estimator(**{**TINY_VQVAE, **params}), make_slices(12)


def prior(**params):
    return PixelCNNPrior(**{**TINY_PRIOR, **params}), make_row_codes(32)


MAKERS = pytest.mark.parametrize("make", [vqvae, prior], ids=["vqvae", "prior"])


class Recorder(keras.callbacks.Callback):
    """Records the events it sees; stops training or fails after an epoch if told."""

    def __init__(self, stop_after=None, fail_after=None):
        super().__init__()
        self.stop_after, self.fail_after = stop_after, fail_after
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append("begin")

    def on_epoch_end(self, epoch, logs=None):
        self.events.append((epoch, self.params["epochs"], round(logs["loss"], 6)))
        if epoch == self.fail_after:
            raise RuntimeError("the callback failed")
        if epoch == self.stop_after:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.events.append("end")


@MAKERS
def test_callbacks_see_one_run_numbered_over_its_epochs(make):
    estimator, X = make(epochs=3, callbacks=[Recorder()])
    estimator.fit(X)
    (used,) = estimator.callbacks_
    losses = [round(loss, 6) for loss in estimator.history_["loss"]]
    assert used.events == ["begin", *[(e, 3, losses[e]) for e in range(3)], "end"]
    assert used is not estimator.callbacks[0]  # a copy: the parameter stays fresh
    assert estimator.callbacks[0].events == []


@MAKERS
def test_a_callback_that_sets_stop_training_ends_the_fit_after_that_epoch(make):
    estimator, X = make(epochs=5, callbacks=[Recorder(stop_after=1)])
    estimator.fit(X)
    assert len(estimator.history_["loss"]) == 2
    assert estimator.callbacks_[0].events[-1] == "end"


def test_a_failing_callback_still_gets_on_train_end():
    estimator, X = prior(epochs=3, callbacks=[Recorder(fail_after=0)])
    with pytest.raises(RuntimeError, match="the callback failed"):
        estimator.fit(X)
    assert estimator.callbacks_[0].events[-1] == "end"


def test_keras_csv_logger_and_tensorboard_write_one_run(tmp_path):
    pytest.importorskip("tensorboard")
    log, board = tmp_path / "log.csv", tmp_path / "board"
    callbacks = [
        keras.callbacks.CSVLogger(str(log)),
        keras.callbacks.TensorBoard(board),
    ]
    estimator, X = prior(epochs=3, validation_fraction=0.25, callbacks=callbacks)
    estimator.fit(X)
    with log.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]
    np.testing.assert_allclose(
        [float(row["val_loss"]) for row in rows], estimator.history_["val_loss"]
    )
    for part in ("train", "validation"):
        events = list((board / part).glob("events.out.tfevents.*"))
        assert len(events) == 1 and events[0].stat().st_size > 0


def test_a_resumed_run_numbers_its_epochs_on(tmp_path):
    estimator, X = prior(epochs=2, checkpoint_dir=tmp_path / "run")
    estimator.fit(X)
    resumed = clone(estimator).set_params(
        epochs=4, warm_start=True, callbacks=[Recorder()]
    )
    resumed.fit(X)  # a new estimator: goes on from the checkpoint of epoch 2
    epochs = [event[:2] for event in resumed.callbacks_[0].events[1:-1]]
    assert epochs == [(2, 4), (3, 4)]


def test_callbacks_survive_clone_pickling_and_saving(tmp_path):
    estimator, X = prior(
        epochs=2, callbacks=[keras.callbacks.CSVLogger(str(tmp_path / "a.csv"))]
    )
    estimator.fit(X)
    copied = clone(estimator)
    assert isinstance(copied.callbacks[0], keras.callbacks.CSVLogger)
    joblib.dump(estimator, tmp_path / "prior.joblib")
    unpickled = joblib.load(tmp_path / "prior.joblib")
    assert not hasattr(unpickled, "callbacks_")
    np.testing.assert_allclose(unpickled.score_samples(X), estimator.score_samples(X))
    estimator.save(tmp_path / "saved")
    assert oasisgen.load(tmp_path / "saved").callbacks is None  # documented drop


@MAKERS
@pytest.mark.parametrize(
    "optimizer, kind",
    [
        ("adamw", keras.optimizers.AdamW),
        ({"class_name": "SGD", "config": {"momentum": 0.9}}, keras.optimizers.SGD),
    ],
    ids=["name", "config"],
)
def test_the_optimizer_is_the_one_asked_for_and_is_saved(
    make, optimizer, kind, tmp_path
):
    estimator, X = make(optimizer=optimizer, learning_rate=0.01)
    estimator.fit(X)
    assert isinstance(estimator.model_.optimizer, kind)
    assert float(estimator.model_.optimizer.learning_rate) == pytest.approx(0.01)
    estimator.save(tmp_path / "saved")
    loaded = oasisgen.load(tmp_path / "saved")
    assert loaded.optimizer == optimizer
    assert isinstance(loaded.model_.optimizer, kind)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (
            {"optimizer": "nope"},
            ValueError,
            r"cannot make the optimizer 'nope'.*'adamw'",
        ),
        (
            {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.1}}},
            ValueError,
            "set the estimator's learning_rate instead",
        ),
        (
            {"optimizer": {"class_name": "Adam", "config": {"momentum": 0.9}}},
            ValueError,
            "Adam takes no argument 'momentum'; it takes .*beta_1",
        ),
        ({"optimizer": {"name": "adam"}}, ValueError, "expected a name such as"),
        ({"optimizer": 3}, InvalidParameterError, "optimizer"),
        ({"callbacks": [print]}, TypeError, "expected keras.callbacks.Callback"),
        ({"callbacks": keras.callbacks.History()}, InvalidParameterError, "callbacks"),
    ],
    ids=["unknown", "learning rate", "argument", "keys", "type", "item", "not list"],
)
def test_bad_optimizers_and_callbacks_are_refused(params, error, match):
    estimator, X = prior(epochs=1, **params)
    with pytest.raises(error, match=match):
        estimator.fit(X)
    assert not hasattr(estimator, "model_")


def test_a_bad_optimizer_leaves_a_fitted_estimator_as_it_was():
    estimator, X = prior(epochs=1)
    estimator.fit(X)
    weights = [w.copy() for w in estimator.model_.get_weights()]
    with pytest.raises(ValueError, match="Keras has no optimizer 'nope'"):
        estimator.set_params(warm_start=True, optimizer="nope").fit(X)
    assert len(estimator.history_["loss"]) == 1
    for before, after in zip(weights, estimator.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)


def test_a_resumed_fit_keeps_the_adamw_optimizer_and_its_state(tmp_path):
    estimator, X = prior(optimizer="adamw", epochs=2, checkpoint_dir=tmp_path / "run")
    estimator.fit(X)
    saved = estimator.model_.optimizer
    resumed = clone(estimator).set_params(warm_start=True)
    resumed.fit(X)  # a new estimator: reads the checkpoint of epoch 2, trains none
    optimizer = resumed.model_.optimizer
    assert type(optimizer) is keras.optimizers.AdamW
    assert int(optimizer.iterations) == int(saved.iterations) == 2 * 2  # 32 maps
    assert float(optimizer.weight_decay) == pytest.approx(float(saved.weight_decay))
    assert len(optimizer.variables) == len(saved.variables) > 2  # its moments too
    for mine, theirs in zip(optimizer.variables, saved.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    unbroken, _ = prior(optimizer="adamw", epochs=4)
    unbroken.fit(X)
    resumed = clone(resumed).set_params(epochs=4).fit(X)  # from the checkpoint
    assert int(resumed.model_.optimizer.iterations) == 4 * 2
    assert resumed.history_["loss"] == pytest.approx(unbroken.history_["loss"])
    for mine, theirs in zip(
        resumed.model_.get_weights(), unbroken.model_.get_weights(), strict=True
    ):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
