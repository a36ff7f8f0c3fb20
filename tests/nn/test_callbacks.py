"""oasisgen/nn/callbacks.py: the callbacks of the estimators' training loops."""

import keras
import numpy as np
import pytest

from oasisgen.nn.callbacks import (
    RunCallbacks,
    RunProgbarLogger,
    StopOnNonFiniteLoss,
    StopOnRequest,
)

N_SAMPLES, BATCH_SIZE = 16, 4  # 4 batches an epoch
STEPS = N_SAMPLES // BATCH_SIZE


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_SAMPLES, 3)).astype("float32")
    return x, x @ np.array([[1.0], [-2.0], [0.5]], "float32")


def make_model(poison=None):
    """A linear model; its loss is multiplied by ``1 + poison`` (a variable)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])

    def loss(y_true, y_pred):
        squared = keras.ops.mean((y_true - y_pred) ** 2)
        return squared if poison is None else squared * (1.0 + poison)

    model.compile(keras.optimizers.SGD(0.01), loss=loss, jit_compile=False)
    return model


def flat(weights):
    return np.concatenate([w.ravel() for w in weights])


class Recorder(keras.callbacks.Callback):
    """Write down every event, and the weights at the end of every epoch and batch."""

    def __init__(self):
        super().__init__()
        self.events, self.epoch_weights, self.batch_weights = [], [], []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin",))

    def on_train_end(self, logs=None):
        self.events.append(("train_end", sorted(logs or {})))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, sorted(logs or {})))
        self.epoch_weights.append(flat(self.model.get_weights()))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch))
        self.batch_weights.append(flat(self.model.get_weights()))

    def on_test_begin(self, logs=None):
        self.events.append(("test_begin",))

    def on_test_end(self, logs=None):
        self.events.append(("test_end",))


# ------------------------------------------------------------ StopOnNonFiniteLoss
class Poisoner(keras.callbacks.Callback):
    """Make the loss NaN from batch ``batch`` of epoch ``epoch`` on."""

    def __init__(self, poison, epoch, batch):
        super().__init__()
        self.poison, self.at = poison, (epoch, batch)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.poison.assign(float("nan"))


@pytest.mark.parametrize("epoch, batch", [(0, 0), (0, 2), (2, 1)])
def test_a_non_finite_loss_stops_and_restores_the_last_complete_epoch(epoch, batch):
    poison = keras.Variable(0.0, trainable=False)
    model = make_model(poison)
    start = flat(model.get_weights())
    guard, recorder = StopOnNonFiniteLoss(), Recorder()
    callbacks = [Poisoner(poison, epoch, batch), recorder, guard]
    model.fit(
        *make_data(),
        batch_size=BATCH_SIZE,
        epochs=5,
        shuffle=False,
        callbacks=callbacks,
        verbose=0,
    )
    assert guard.diverged
    assert guard.where == f"epoch {epoch + 1}, batch {batch + 1} (loss nan)"
    # training stopped at the end of the bad batch: no further batch, no epoch
    assert len(recorder.batch_weights) == epoch * STEPS + batch + 1
    assert not np.all(np.isfinite(recorder.batch_weights[-1]))  # the step broke them
    last_good = recorder.epoch_weights[epoch - 1] if epoch else start
    np.testing.assert_array_equal(flat(model.get_weights()), last_good)


def test_a_finite_run_keeps_its_last_weights():
    model = make_model()
    start = flat(model.get_weights())
    guard = StopOnNonFiniteLoss()
    model.fit(
        *make_data(), batch_size=BATCH_SIZE, epochs=2, callbacks=[guard], verbose=0
    )
    assert (guard.diverged, guard.where) == (False, "")
    assert not model.stop_training
    weights = flat(model.get_weights())
    assert np.all(np.isfinite(weights)) and not np.allclose(weights, start)


def test_the_epoch_in_the_message_counts_from_initial_epoch():
    # The estimators train one epoch per fit, with initial_epoch=e.
    poison = keras.Variable(0.0, trainable=False)
    model = make_model(poison)
    guard = StopOnNonFiniteLoss()
    model.fit(
        *make_data(),
        batch_size=BATCH_SIZE,
        initial_epoch=6,
        epochs=7,
        callbacks=[Poisoner(poison, 6, 3), guard],
        verbose=0,
    )
    assert guard.where == "epoch 7, batch 4 (loss nan)"


# ------------------------------------------------------------------ StopOnRequest
class RequestAt(keras.callbacks.Callback):
    """Request a stop during batch ``batch`` of epoch ``epoch``, as a signal would."""

    def __init__(self, request, epoch, batch):
        super().__init__()
        self.request, self.at, self.epoch = request, (epoch, batch), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.request.request_stop("SIGINT")


@pytest.mark.parametrize("epoch, batch", [(0, 0), (0, 2), (1, 3)])
def test_a_requested_stop_ends_the_batch_under_way_and_no_other(epoch, batch):
    model = make_model()
    request, recorder = StopOnRequest(), Recorder()
    model.fit(
        *make_data(),
        batch_size=BATCH_SIZE,
        epochs=3,
        shuffle=False,
        callbacks=[RequestAt(request, epoch, batch), request, recorder],
        verbose=0,
    )
    assert (request.requested, request.stopped) == ("SIGINT", True)
    assert request.batches == batch + 1  # batches of the epoch cut short
    assert int(model.optimizer.iterations) == epoch * STEPS + batch + 1
    assert len(recorder.batch_weights) == epoch * STEPS + batch + 1


def test_a_stop_requested_before_fit_stops_after_the_first_batch():
    model = make_model()
    request = StopOnRequest()
    request.request_stop()
    assert request.requested == "a request" and not request.stopped
    model.fit(
        *make_data(), batch_size=BATCH_SIZE, epochs=2, callbacks=[request], verbose=0
    )
    assert request.stopped and request.batches == 1
    assert int(model.optimizer.iterations) == 1


def test_without_a_request_the_batches_of_the_last_epoch_are_counted():
    model = make_model()
    request = StopOnRequest()
    model.fit(
        *make_data(), batch_size=BATCH_SIZE, epochs=3, callbacks=[request], verbose=0
    )
    assert (request.requested, request.stopped) == (None, False)
    assert request.batches == STEPS  # counted per epoch, not over the run
    assert int(model.optimizer.iterations) == 3 * STEPS


# --------------------------------------------------------------- RunProgbarLogger
@pytest.mark.parametrize("epoch, run_epochs", [(0, 3), (7, 10)])
def test_the_progress_bar_counts_the_epochs_of_the_run(epoch, run_epochs, capsys):
    model = make_model()
    model.fit(
        *make_data(),
        batch_size=BATCH_SIZE,
        initial_epoch=epoch,
        epochs=epoch + 1,
        callbacks=[RunProgbarLogger(run_epochs)],
        verbose=2,
    )
    out = capsys.readouterr().out
    assert f"Epoch {epoch + 1}/{run_epochs}\n" in out
    assert f"Epoch {epoch + 1}/{epoch + 1}" not in out


# ------------------------------------------------------------------- RunCallbacks
def test_user_callbacks_see_one_run_over_one_fit_per_epoch():
    model = make_model()
    x, y = make_data()
    recorder = Recorder()
    relay = RunCallbacks([recorder], model, epochs=3)
    relay.begin()
    for epoch in range(3):
        model.fit(
            x,
            y,
            batch_size=BATCH_SIZE,
            initial_epoch=epoch,
            epochs=epoch + 1,
            validation_data=(x[:4], y[:4]),
            callbacks=[relay],
            verbose=0,
        )
        assert recorder.params["epochs"] == 3  # the run's, not this fit's
    relay.end({"loss": 1.0})
    assert recorder.model is model
    events = recorder.events
    assert events[0] == ("train_begin",) and events[-1] == ("train_end", ["loss"])
    assert [e for e in events if e[0] in ("train_begin", "train_end")] == [
        events[0],
        events[-1],
    ]
    assert [e[1] for e in events if e[0] == "epoch_begin"] == [0, 1, 2]
    assert [e[1] for e in events if e[0] == "batch_end"] == [0, 1, 2, 3] * 3
    # every epoch's validation pass is relayed, and its figures reach on_epoch_end
    assert [e[0] for e in events].count("test_begin") == 3
    assert [e[0] for e in events].count("test_end") == 3
    ends = [e for e in events if e[0] == "epoch_end"]
    assert [e[1] for e in ends] == [0, 1, 2]
    assert all(e[2] == ["loss", "val_loss"] for e in ends)


def test_early_stopping_keeps_its_patience_across_the_fits():
    # A loss that never improves: patience 2 stops the run at its third epoch,
    # although every fit is a fresh one-epoch run to Keras.
    model = make_model()
    model.compile(keras.optimizers.SGD(0.0), loss="mse", jit_compile=False)
    x, y = make_data()
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=2, min_delta=1.0)
    relay = RunCallbacks([stopper], model, epochs=10)
    relay.begin()
    epochs = 0
    for epoch in range(10):
        model.fit(
            x,
            y,
            batch_size=BATCH_SIZE,
            initial_epoch=epoch,
            epochs=epoch + 1,
            callbacks=[relay],
            verbose=0,
        )
        epochs += 1
        if model.stop_training:
            break
    relay.end()
    assert epochs == 3
    assert stopper.stopped_epoch == 2
