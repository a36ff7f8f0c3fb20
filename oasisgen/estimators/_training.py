"""The training loop: epochs, early stopping, stop signals, interrupted epochs.

:class:`TrainingLoopMixin` trains the Keras model of an estimator one epoch per
``model.fit`` call, so that each epoch's shuffling depends only on the seed and
the epoch's number, and a run resumed from a checkpoint goes on exactly as an
unbroken one would. The other pieces hold what a checkpoint must carry across a
restart: the early-stopping state, the part of an interrupted epoch already
trained, and the states of the model's random generators.
"""

from __future__ import annotations

import copy
import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from oasisgen.estimators._checkpoints import (
    Progress,
    TrainingState,
    finite_or_none,
    remove_staging,
)
from oasisgen.nn.callbacks import (
    RunCallbacks,
    RunProgbarLogger,
    StopOnNonFiniteLoss,
    StopOnRequest,
)

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


class TrainingLoopMixin:
    """The epoch loop of the Keras-backed estimators.

    Expects ``model_``, ``history_``, the training parameters (``early_stopping``,
    ``n_iter_no_change``, ``verbose``, ``checkpoint_dir``, ``checkpoint_every``,
    ``warm_start``, ``epochs``, ``callbacks``) and ``_checkpoint(state)`` (see
    :class:`KerasEstimatorMixin`).
    An interrupted fit keeps its state in ``_interrupted_state``, so that a warm
    fit of the same estimator goes on exactly where it stopped.
    """

    def _epochs_to_train(self) -> int:
        """Return how many epochs ``fit`` trains.

        With ``checkpoint_dir`` and ``warm_start``, ``epochs`` is the total of the
        run, so a resumed fit trains what is left; otherwise ``epochs`` more.
        """
        if self.checkpoint_dir is not None and self.warm_start:
            return max(self.epochs - len(self.history_.get("loss", [])), 0)
        return self.epochs

    def _run_epochs(
        self,
        train_for: Callable[[int], tf.data.Dataset],
        validation: tf.data.Dataset | None,
        *,
        epochs: int,
        seed: int | None,
    ) -> None:
        """Train ``model_`` for ``epochs`` more epochs, extending ``history_``.

        ``train_for(epoch)`` gives the training batches of an epoch (numbered from
        0 over the whole run), so that a resumed run shuffles as an uninterrupted
        one. After each epoch, ``history_`` grows and, with ``checkpoint_dir``, a
        checkpoint is written after every ``checkpoint_every``-th epoch (numbered
        over the run) and after the last one, also when early stopping or a
        callback ends the run (not when an error does). SIGINT and
        SIGTERM stop training at the end of the current batch, write a checkpoint
        and raise :class:`TrainingInterrupted`.
        A NaN or inf loss restores the last complete epoch and raises
        FloatingPointError. The user's ``callbacks`` see the run as one Keras fit
        (:class:`~oasisgen.nn.callbacks.RunCallbacks`), ending in ``on_train_end``
        however it ends; one that sets ``model.stop_training`` ends the run after
        the current epoch, as in Keras.
        """
        resume, self._resume_state = getattr(self, "_resume_state", None), None
        stopper = None
        if self.early_stopping:
            monitor = "val_loss" if validation is not None else "loss"
            stopper = EarlyStopper(monitor, self.n_iter_no_change)
            if resume is not None:
                stopper.restore(resume.early_stopping, resume.best_weights)
        partial = None
        if resume is not None and resume.progress.batches:
            partial = PartialEpoch(resume.progress.batches, resume.partial_logs or {})
        if self.checkpoint_dir is not None:
            remove_staging(self.checkpoint_dir)
        request = StopOnRequest()
        if validation is not None:
            validation = without_autotuning(validation)
        start = len(self.history_.get("loss", []))
        self.callbacks_ = _copies(self.callbacks, caller=f"{type(self).__name__}.fit")
        users = RunCallbacks(self.callbacks_, self.model_, start + epochs)
        users.begin()
        logs: dict[str, float] | None = None
        unsaved: TrainingState | None = None  # the last epoch's, if not written
        with stop_on_signals(request), _ending(users, lambda: logs):
            for epoch in range(start, start + epochs):
                if stopper is not None and stopper.stopped:
                    break
                if request.requested:  # arrived before the epoch began
                    state = self._state(epoch, seed, stopper, partial)
                    raise self._interrupted(request.requested, state)
                data = without_autotuning(train_for(epoch))
                if partial is not None:
                    data = data.skip(partial.batches)
                logs = self._fit_epoch(
                    data, validation, epoch, start + epochs, [request, users]
                )
                if request.stopped and not _is_whole(data, request.batches):
                    partial = (partial or PartialEpoch(0, {})).extended(
                        logs, request.batches
                    )
                    state = self._state(epoch, seed, stopper, partial)
                    raise self._interrupted(request.requested, state)
                if partial is not None:
                    logs, partial = partial.merged(logs, request.batches), None
                for name, value in logs.items():
                    self.history_.setdefault(name, []).append(float(value))
                if stopper is not None:
                    stopper.update(epoch, logs, self.model_)
                state = self._state(epoch + 1, seed, stopper, None)
                last = epoch + 1 == start + epochs
                path = unsaved = None
                if last or (epoch + 1) % self.checkpoint_every == 0:
                    path = self._checkpoint(state)
                else:
                    unsaved = state
                if request.requested:  # writes the state if it is not yet
                    raise self._interrupted(request.requested, state, path)
                if self.model_.stop_training:  # asked by one of the user's callbacks
                    break
            if unsaved is not None:  # stopped early: the last epoch is kept too
                self._checkpoint(unsaved)
        if stopper is not None:
            stopper.restore_best(self.model_)

    def _state(
        self,
        epochs: int,
        seed: int | None,
        stopper: EarlyStopper | None,
        partial: PartialEpoch | None,
    ) -> TrainingState:
        """Return the training state after ``epochs`` epochs (and ``partial``)."""
        return TrainingState(
            progress=Progress(epochs, 0 if partial is None else partial.batches),
            seed=seed,
            early_stopping=None if stopper is None else stopper.state(),
            partial_logs=None if partial is None else partial.logs,
            random_states=random_states(self.model_),
            best_weights=None if stopper is None else stopper.best_weights,
        )

    def _fit_epoch(
        self,
        data: tf.data.Dataset,
        validation: tf.data.Dataset | None,
        epoch: int,
        last_epoch: int,
        callbacks: list[keras.callbacks.Callback],
    ) -> dict[str, float]:
        """Train one epoch; return its figures. Raise if the loss is not finite."""
        guard = StopOnNonFiniteLoss()
        callbacks = [guard, *callbacks]
        if self.verbose:
            callbacks.append(RunProgbarLogger(last_epoch))
        history = self.model_.fit(
            data,
            validation_data=validation,
            initial_epoch=epoch,
            epochs=epoch + 1,
            callbacks=callbacks,
            shuffle=False,  # the tf.data pipelines shuffle, with the seed
            verbose=self.verbose,
        ).history
        if guard.diverged:  # the model is back at the end of the last epoch
            raise FloatingPointError(
                f"{type(self).__name__}.fit stopped: the loss became NaN or inf at "
                f"{guard.where}. The model keeps the weights of the last complete "
                f"epoch ({len(self.history_.get('loss', []))} epochs in history_). "
                "Lower learning_rate, or check the data for extreme values."
            )
        return {name: float(values[-1]) for name, values in history.items() if values}

    def _interrupted(
        self, reason: str, state: TrainingState, path: Path | None = None
    ) -> TrainingInterrupted:
        """Keep ``state`` for the next fit, save it if not yet, return the error."""
        self._interrupted_state = state  # a warm fit in this process goes on here
        if path is None:
            path = self._checkpoint(state)
        name, progress = type(self).__name__, state.progress
        if path is not None:
            how = (
                f"The training state is saved in {str(path)!r}; to resume, call fit "
                f"again with warm_start=True and checkpoint_dir="
                f"{str(self.checkpoint_dir)!r}."
            )
        else:
            how = (
                f"history_ holds the {len(self.history_.get('loss', []))} complete "
                "epochs. Set checkpoint_dir to be able to resume an interrupted fit."
            )
        return TrainingInterrupted(
            f"{name}.fit was interrupted by {reason} at {progress.describe()}. {how}",
            progress=progress,
            checkpoint=path,
            reason=reason,
        )


def _copies(
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
def _ending(
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


def _is_whole(data: tf.data.Dataset, batches: int) -> bool:
    """Whether ``batches`` batches are all of ``data`` (when its size is known)."""
    cardinality = int(data.cardinality())
    return cardinality >= 0 and batches >= cardinality
