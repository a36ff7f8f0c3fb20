"""Keras callbacks used by the estimators' training loops."""

from __future__ import annotations

import math
from typing import Any

import keras


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop at the first NaN or inf loss and restore the last good weights.

    The weights (trainable and not, so the codebooks too) are copied at the start
    of training and after every complete epoch; when a batch reports a loss that is
    not finite, training stops and the model gets the last copy back. After
    ``fit``, ``diverged`` says whether that happened, and ``where`` says when.

    Examples
    --------
    >>> from oasisgen.nn.callbacks import StopOnNonFiniteLoss
    >>> callback = StopOnNonFiniteLoss()
    >>> callback.diverged
    False
    """

    def __init__(self) -> None:
        super().__init__()
        self.diverged = False
        self.where = ""
        self._good_weights: list[Any] | None = None
        self._epoch = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Copy the starting weights."""
        self._good_weights = self.model.get_weights()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Remember the epoch number for the message."""
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None):
        """Stop when the batch loss is NaN or inf."""
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged = True
            self.where = f"epoch {self._epoch + 1}, batch {batch + 1} (loss {loss})"
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Copy the weights of a finished, finite epoch."""
        if not self.diverged:
            self._good_weights = self.model.get_weights()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Put the last good weights back if training diverged."""
        if self.diverged and self._good_weights is not None:
            self.model.set_weights(self._good_weights)


class StopOnRequest(keras.callbacks.Callback):
    """Stop training at the end of the current batch once a stop is requested.

    Call :meth:`request_stop` from anywhere (a signal handler, another thread):
    the next ``on_train_batch_end`` sets ``model.stop_training``, so the batch
    under way finishes and no other starts. The callback counts the batches of
    the current epoch, so after ``fit`` ``batches`` says how far the epoch got and
    ``stopped`` whether it was cut short.

    Examples
    --------
    >>> from oasisgen.nn.callbacks import StopOnRequest
    >>> callback = StopOnRequest()
    >>> callback.request_stop("SIGTERM")
    >>> callback.requested, callback.stopped
    ('SIGTERM', False)
    """

    def __init__(self) -> None:
        super().__init__()
        self.requested: str | None = None
        self.stopped = False
        self.batches = 0

    def request_stop(self, reason: str = "a request") -> None:
        """Ask training to stop at the end of the current batch.

        Parameters
        ----------
        reason : str, default="a request"
            What asked, such as ``"SIGINT"``; kept in ``requested``.
        """
        self.requested = reason

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Start counting the batches of a new epoch."""
        self.batches = 0

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None):
        """Count the batch; stop training if a stop was requested."""
        self.batches = batch + 1
        if self.requested is not None:
            self.stopped = True
            self.model.stop_training = True


class RunProgbarLogger(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, counting epochs over a run trained one epoch per ``fit``.

    Passed to ``fit(..., initial_epoch=e, epochs=e + 1)``, it prints
    ``Epoch 8/10`` rather than ``Epoch 8/8``.

    Parameters
    ----------
    epochs : int
        The last epoch of the run.

    Examples
    --------
    >>> from oasisgen.nn.callbacks import RunProgbarLogger
    >>> RunProgbarLogger(10).run_epochs
    10
    """

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.run_epochs = int(epochs)

    def set_params(self, params: dict[str, Any]) -> None:
        """Set the parameters of ``fit``, with the run's number of epochs."""
        super().set_params({**params, "epochs": self.run_epochs})


class RunCallbacks(keras.callbacks.Callback):
    """A user's callbacks, shown one run where Keras sees one ``fit`` per epoch.

    The estimators train one epoch per ``model.fit`` call. Passed to each of those
    calls, this callback relays the epoch, batch and validation events to the
    user's callbacks, with the run's number of epochs in their ``params``, but
    keeps Keras' ``on_train_begin`` and ``on_train_end`` to itself: the training
    loop calls :meth:`begin` once before the first epoch and :meth:`end` once
    after the last, so a ``CSVLogger`` writes one file, a ``TensorBoard`` one run
    and an ``EarlyStopping`` keeps its patience across epochs.

    Parameters
    ----------
    callbacks : list of keras.callbacks.Callback
        The user's callbacks, used as they are (not copied).
    model : keras.Model
        The model they watch.
    epochs : int
        The last epoch of the run.

    Examples
    --------
    >>> import keras
    >>> from oasisgen.nn.callbacks import RunCallbacks
    >>> logger = keras.callbacks.LambdaCallback()
    >>> relay = RunCallbacks([logger], keras.Sequential(), epochs=10)
    >>> relay.set_params({"epochs": 3, "steps": 5, "verbose": 0})
    >>> logger.params
    {'epochs': 10, 'steps': 5, 'verbose': 0}
    """

    def __init__(
        self, callbacks: list[keras.callbacks.Callback], model: Any, epochs: int
    ) -> None:
        super().__init__()
        self.run_epochs = int(epochs)
        self.callbacks = keras.callbacks.CallbackList(list(callbacks), model=model)

    def begin(self) -> None:
        """Start the run: ``on_train_begin`` of every callback."""
        self.callbacks.on_train_begin()

    def end(self, logs: dict[str, Any] | None = None) -> None:
        """End the run: ``on_train_end`` of every callback, with the last logs."""
        self.callbacks.on_train_end(logs)

    def set_params(self, params: dict[str, Any]) -> None:
        """Pass the parameters of ``fit`` on, with the run's number of epochs."""
        super().set_params(params)
        self.callbacks.set_params({**params, "epochs": self.run_epochs})

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Relay the start of an epoch."""
        self.callbacks.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Relay the end of an epoch, with its training and validation figures."""
        self.callbacks.on_epoch_end(epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None):
        """Relay the start of a training batch."""
        self.callbacks.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None):
        """Relay the end of a training batch."""
        self.callbacks.on_train_batch_end(batch, logs)

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Relay the start of the validation pass."""
        self.callbacks.on_test_begin(logs)

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        """Relay the end of the validation pass."""
        self.callbacks.on_test_end(logs)

    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None):
        """Relay the start of a validation batch."""
        self.callbacks.on_test_batch_begin(batch, logs)

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None):
        """Relay the end of a validation batch."""
        self.callbacks.on_test_batch_end(batch, logs)
