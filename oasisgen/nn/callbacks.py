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
