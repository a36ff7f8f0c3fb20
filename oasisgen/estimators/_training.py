"""The pieces of the training loop: stop signals, early stopping, interrupted epochs.

The loop itself is :class:`~oasisgen.estimators._base.KerasEstimator`'s, which
trains one epoch per ``model.fit`` call. The pieces here hold what a checkpoint
must carry across a restart: the early-stopping state, the part of an
interrupted epoch already trained, and the states of the model's random
generators; and the stop on SIGINT or SIGTERM, which ends a fit with
:class:`TrainingInterrupted`.
"""

from __future__ import annotations

import copy
import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from oasisgen.estimators._checkpoints import Progress, finite_or_none
from oasisgen.nn.callbacks import RunCallbacks, StopOnRequest

STOP_SIGNALS = ("SIGINT", "SIGTERM")


class TrainingInterrupted(KeyboardInterrupt):
    """``fit`` was stopped by SIGINT or SIGTERM, after saving a checkpoint if it could.

    A :class:`KeyboardInterrupt`, so code that lets Ctrl-C through lets this
    through too.

    Attributes
    ----------
    progress : Progress
        How far training got.
    checkpoint : Path or None
        The checkpoint written on the way out; None without ``checkpoint_dir``.
    reason : str
        The signal, such as ``"SIGTERM"``.

    Examples
    --------
    >>> from oasisgen import TrainingInterrupted
    >>> issubclass(TrainingInterrupted, KeyboardInterrupt)
    True
    """

    def __init__(self, message: str, *, progress: Progress, checkpoint, reason: str):
        super().__init__(message)
        self.progress = progress
        self.checkpoint = checkpoint
        self.reason = reason

    @property
    def epoch(self) -> int:
        """The epoch (1-based) under way when training stopped, or just finished."""
        return self.progress.epoch

    def __str__(self) -> str:
        return str(self.args[0])


@contextmanager
def stop_on_signals(request: StopOnRequest) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into a stop request while the block runs.

    The handlers that were there before come back at the end. A second SIGINT
    raises :class:`KeyboardInterrupt` at once. Outside the main thread (where
    Python cannot install handlers) nothing changes.

    Parameters
    ----------
    request : StopOnRequest
        The callback to ask to stop.

    Examples
    --------
    >>> import signal
    >>> request = StopOnRequest()
    >>> with stop_on_signals(request):
    ...     signal.raise_signal(signal.SIGTERM)
    >>> request.requested
    'SIGTERM'
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: Any) -> None:
        if request.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        request.request_stop(signal.Signals(signum).name)

    previous = {}
    for name in STOP_SIGNALS:
        number = getattr(signal, name)
        previous[number] = signal.signal(number, handle)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)


@dataclass
class EarlyStopper:
    """Early stopping whose state survives a checkpoint.

    Stops once ``monitor`` has not improved for ``patience`` epochs and gives the
    model the weights of its best epoch at the end, as Keras'
    ``EarlyStopping(restore_best_weights=True)`` does.
    """

    monitor: str
    patience: int
    best: float = math.inf
    best_epoch: int | None = None
    wait: int = 0
    stopped: bool = False
    best_weights: list[np.ndarray] | None = None

    def update(self, epoch: int, logs: dict[str, float], model: keras.Model) -> None:
        """Take the figures of a finished epoch into account."""
        current = logs.get(self.monitor)
        if current is None:
            return
        self.wait += 1
        if current < self.best:
            self.best, self.best_epoch, self.wait = current, epoch, 0
            self.best_weights = model.get_weights()
        elif self.wait >= self.patience:
            self.stopped = True

    def restore_best(self, model: keras.Model) -> None:
        """Give the model the weights of the best epoch, if there was one."""
        if self.best_weights is not None:
            model.set_weights(self.best_weights)

    def state(self) -> dict[str, Any]:
        """Return the JSON-ready state (without the weights)."""
        return {
            "monitor": self.monitor,
            "best": finite_or_none(self.best),
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped": self.stopped,
        }

    def restore(
        self, state: dict[str, Any] | None, weights: list[np.ndarray] | None
    ) -> None:
        """Continue from a state saved by :meth:`state` for the same monitor."""
        if not state or state.get("monitor") != self.monitor:
            return
        self.best = math.inf if state["best"] is None else float(state["best"])
        self.best_epoch = state["best_epoch"]
        self.wait = int(state["wait"])
        self.stopped = bool(state["stopped"])
        self.best_weights = weights


@dataclass
class PartialEpoch:
    """The batches of an epoch already trained when it was interrupted."""

    batches: int
    logs: dict[str, float]

    def merged(self, logs: dict[str, float], batches: int) -> dict[str, float]:
        """Combine with the figures of the rest of the epoch, weighted by batches.

        Validation figures (``val_*``) come from the rest only, which ends the
        epoch.

        Examples
        --------
        >>> PartialEpoch(3, {"loss": 1.0}).merged({"loss": 2.0, "val_loss": 5.0}, 1)
        {'loss': 1.25, 'val_loss': 5.0}
        """
        total = self.batches + batches
        merged = {}
        for name, value in logs.items():
            if name.startswith("val_") or name not in self.logs or total == 0:
                merged[name] = value
            else:
                weighted = self.logs[name] * self.batches + value * batches
                merged[name] = weighted / total
        for name, value in self.logs.items():
            merged.setdefault(name, value)
        return merged

    def extended(self, logs: dict[str, float], batches: int) -> PartialEpoch:
        """Return the partial epoch grown by ``batches`` more (training figures)."""
        training = {k: v for k, v in logs.items() if not k.startswith("val_")}
        return PartialEpoch(self.batches + batches, self.merged(training, batches))


def random_states(model: keras.Model) -> list[np.ndarray]:
    """Return the states of the model's random generators (not in ``.keras`` files).

    Examples
    --------
    >>> random_states(keras.Sequential([keras.layers.Dropout(0.5, seed=1)]))
    [array([1, 0])]
    """
    return [np.asarray(v.numpy()) for v in _seed_variables(model)]


def set_random_states(model: keras.Model, states: list[np.ndarray]) -> None:
    """Put back states from :func:`random_states`; ignore states that do not fit."""
    variables = _seed_variables(model)
    if len(variables) != len(states) or any(
        tuple(v.shape) != s.shape for v, s in zip(variables, states, strict=True)
    ):
        return
    for variable, state in zip(variables, states, strict=True):
        variable.assign(state.astype(variable.dtype))


def _seed_variables(model: keras.Model) -> list[Any]:
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def copy_callbacks(
    callbacks: list[keras.callbacks.Callback] | None, *, caller: str
) -> list[keras.callbacks.Callback]:
    """Return fresh copies of the user's callbacks for one fit, as skorch does.

    The parameter stays as given, so ``clone`` and ``get_params`` keep working
    after a fit whose callbacks opened files or hold the model.
    """
    try:
        return copy.deepcopy(list(callbacks or []))
    except (TypeError, copy.Error) as error:
        raise TypeError(
            f"{caller} cannot copy its callbacks ({error}); each fit runs copies of "
            "them. Pass callbacks that have not been used yet, such as a new "
            "keras.callbacks.CSVLogger('log.csv')."
        ) from error


@contextmanager
def ending_callbacks(
    callbacks: RunCallbacks, last_logs: Callable[[], dict[str, float] | None]
) -> Iterator[None]:
    """End the run of the user's callbacks however the block ends."""
    try:
        yield
    finally:
        callbacks.end(last_logs())


def without_autotuning(data: tf.data.Dataset) -> tf.data.Dataset:
    """Return ``data`` with tf.data's autotuning off.

    Each epoch is one ``model.fit`` over a new iterator. Deleting an autotuned
    iterator at the end of a fit stalled for about 2 seconds in about half the
    epochs (TensorFlow 2.21, 2 CPU cores): 29 % of an epoch of the demo's top
    prior (benchmarks/README.md, "Fixed cost of an epoch"). Without autotuning,
    ``AUTOTUNE`` prefetching and parallel maps use fixed sizes instead.

    Examples
    --------
    >>> data = without_autotuning(tf.data.Dataset.range(3))
    >>> data.options().autotune.enabled
    False
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return data.with_options(options)


def epoch_seed(seed: int | None, epoch: int) -> int | None:
    """Return the shuffling seed of an epoch (numbered from 0 over the whole run).

    Examples
    --------
    >>> epoch_seed(7, 0), epoch_seed(7, 3), epoch_seed(None, 3)
    (7, 10, None)
    """
    return None if seed is None else seed + epoch


def is_whole_epoch(data: tf.data.Dataset, batches: int) -> bool:
    """Whether ``batches`` batches are all of ``data`` (when its size is known)."""
    cardinality = int(data.cardinality())
    return cardinality >= 0 and batches >= cardinality
