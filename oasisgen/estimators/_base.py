"""The base of the Keras-backed estimators: training, checkpoints, pickling, saving.

:class:`KerasEstimator` trains the Keras model of an estimator one epoch per
``model.fit`` call, so that each epoch's shuffling depends only on the seed and
the epoch's number, and a run resumed from a checkpoint goes on exactly as an
unbroken one would. Its subclasses change a step by overriding one method
(building the model, the optimizer, the batches, an epoch).

Keras models are pickled through their own ``.keras`` archive format (loaded back with
``safe_mode=True``), so an estimator can be sent to joblib workers, stored with
``joblib.dump`` and copied with :func:`copy.deepcopy`.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Callable
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from oasisgen.estimators._checkpoints import (
    CheckpointError,
    Progress,
    TrainingState,
    has_checkpoints,
    latest_checkpoint,
    read_state,
    remove_staging,
    write_checkpoint,
)
from oasisgen.estimators._optimizers import check_optimizer, make_optimizer
from oasisgen.estimators._persistence import (
    SaveMixin,
    discard_writes,
    jsonable,
    load_keras_model,
    read_manifest,
    saved_params,
    write_manifest,
)
from oasisgen.estimators._training import (
    EarlyStopper,
    PartialEpoch,
    TrainingInterrupted,
    copy_callbacks,
    ending_callbacks,
    epoch_seed,
    is_whole_epoch,
    random_states,
    set_random_states,
    stop_on_signals,
    without_autotuning,
)
from oasisgen.nn.callbacks import (
    RunCallbacks,
    RunProgbarLogger,
    StopOnNonFiniteLoss,
    StopOnRequest,
)
from oasisgen.nn.distribute import DISTRIBUTE_OPTIONS, make_strategy, writes_files


def seed_from(random_state: None | int | np.random.RandomState) -> int | None:
    """Return a seed for Keras and TensorFlow from a scikit-learn ``random_state``.

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState
        ``None`` leaves everything unseeded.

    Returns
    -------
    seed : int or None

    Examples
    --------
    >>> seed_from(7), seed_from(None)
    (7, None)
    """
    if random_state is None:
        return None
    if isinstance(random_state, int | np.integer):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def model_to_bytes(model: keras.Model) -> bytes:
    """Serialise a Keras model to the bytes of its ``.keras`` archive.

    Parameters
    ----------
    model : keras.Model

    Returns
    -------
    archive : bytes
    """
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as file:
            return file.read()


def model_from_bytes(archive: bytes, origin: str = "a pickled estimator") -> Any:
    """Load a Keras model from ``.keras`` archive bytes, with ``safe_mode=True``.

    Parameters
    ----------
    archive : bytes
        What :func:`model_to_bytes` returned.
    origin : str
        Where the bytes came from, for error messages.

    Returns
    -------
    model : keras.Model
    """
    if not zipfile.is_zipfile(io.BytesIO(archive)):
        raise ValueError(
            f"The Keras model stored in {origin} is not a valid .keras archive "
            "(truncated or corrupted?)."
        )
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as file:
            file.write(archive)
        return keras.saving.load_model(path, safe_mode=True, compile=True)


TRAINING_CONSTRAINTS: dict[str, list[Any]] = {
    "optimizer": [str, dict],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "epochs": [Interval(Integral, 1, None, closed="left")],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "early_stopping": ["boolean"],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "jit_compile": ["boolean"],
    "distribute": [None, StrOptions(set(DISTRIBUTE_OPTIONS))],
    "checkpoint_dir": [None, str, os.PathLike],
    "keep_checkpoints": [None, Interval(Integral, 1, None, closed="left")],
    "checkpoint_every": [Interval(Integral, 1, None, closed="left")],
    "callbacks": [None, list],
}
"""Constraints of the training parameters every Keras-backed estimator shares."""

RESUMABLE_CHANGES = frozenset(
    {
        "epochs",
        "verbose",
        "warm_start",
        "checkpoint_dir",
        "keep_checkpoints",
        "checkpoint_every",
        "jit_compile",
        "distribute",
        "early_stopping",
        "n_iter_no_change",
        "callbacks",
    }
)
"""Parameters that may differ between a checkpoint and the fit that resumes it."""


def check_callbacks(callbacks: list[Any] | None, *, caller: str) -> list[Any]:
    """Return the user's callbacks as a list, refusing what is not a callback.

    Examples
    --------
    >>> import keras
    >>> len(check_callbacks([keras.callbacks.TerminateOnNaN()], caller="demo"))
    1
    >>> check_callbacks(None, caller="demo")
    []
    """
    callbacks = list(callbacks or [])
    for callback in callbacks:
        if not isinstance(callback, keras.callbacks.Callback):
            raise TypeError(
                f"{caller} got callbacks holding {callback!r} "
                f"({type(callback).__name__}); expected keras.callbacks.Callback "
                "instances, such as keras.callbacks.CSVLogger('log.csv')."
            )
    return callbacks


class KerasEstimator(SaveMixin):
    """The base of every estimator wrapping one Keras model (``model_``).

    It holds the whole training of the model, so that a subclass changes one
    step of it by overriding one method:

    - a new model: built by :meth:`build_model`, compiled with the optimizer of
      :meth:`make_optimizer` inside the ``distribute`` strategy;
    - the data: :meth:`training_data` turns the training (and validation) data
      into batches, shuffled with a seed per epoch, so a resumed run shuffles as
      an unbroken one; ``validation_fraction`` is held out by ``_hold_out``;
    - the epochs: :meth:`fit_epoch` trains one, with history, early stopping, a
      stop at the first NaN or inf loss that keeps the last good weights, and a
      clean stop on SIGINT or SIGTERM;
    - checkpoints after every epoch (``checkpoint_dir``), and resuming from the
      last complete one (``warm_start``);
    - inference functions traced once per estimator (``_graph``);
    - pickling through the ``.keras`` format (loaded with ``safe_mode=True``);
    - ``save(path)`` to a directory and the matching ``_from_saved`` for
      :func:`oasisgen.load`.

    Subclasses provide :meth:`build_model`, :meth:`training_data`,
    ``_fitted_state()`` (JSON-ready fitted attributes other than the model) and
    ``_restore_fitted(state)``; :class:`~oasisgen.VQVAE2Estimator` and
    :class:`~oasisgen.PixelCNNPrior` do. Users override their methods.

    Notes
    -----
    The override points, called by ``fit`` in this order:

    ``build_model(seed)``
        Return the built Keras model of a new fit (not of one that goes on from
        ``model_`` or a checkpoint). Called inside the ``distribute`` strategy.
    ``make_optimizer(learning_rate)``
        Return the optimizer a new model is compiled with; by default the one
        the ``optimizer`` parameter names. A model resumed from a checkpoint or
        loaded by :func:`oasisgen.load` keeps the optimizer saved with it.
    ``training_data(data, shuffle=..., seed=...)``
        Return the ``tf.data.Dataset`` of batches of ``data`` (what the
        estimator's ``fit`` holds, such as images or code maps): shuffled with
        ``seed`` for the training data of an epoch, in order for validation.
    ``fit_epoch(data, validation, epoch, last_epoch, callbacks)``
        Train ``model_`` one epoch and return its figures, which ``history_``
        records; by default one ``model.fit`` call.

    Examples
    --------
    A VQ-VAE-2 whose optimizer clips the norm of each gradient:

    >>> import keras, numpy as np
    >>> from oasisgen import VQVAE2Estimator
    >>> class ClippedVQVAE2(VQVAE2Estimator):
    ...     def make_optimizer(self, learning_rate):
    ...         return keras.optimizers.Adam(learning_rate, clipnorm=1.0)
    >>> X = np.random.default_rng(0).random((8, 16, 16, 1)).astype("float32")
    >>> est = ClippedVQVAE2(num_embeddings=8, embedding_dim=4, hidden_channels=8,
    ...                     n_res_channels=4, epochs=1, random_state=0).fit(X)
    >>> type(est.model_.optimizer).__name__, est.model_.optimizer.clipnorm
    ('Adam', 1.0)
    """

    _keras_models: tuple[str, ...] = ("model_",)
    _unsaved_params: tuple[str, ...] = ("callbacks",)
    # old parameter name -> new one, for files saved before a rename
    _renamed_params: dict[str, str] = {}

    @classmethod
    def _current_names(cls, saved: dict[str, Any]) -> dict[str, Any]:
        """Return saved parameters with the names of today's parameters.

        A file saved before a rename records the value under the old name only;
        it goes to the new name, so that the estimator loads as it was saved
        and without a deprecation warning its user never asked for.
        """
        saved = dict(saved)
        for old, new in cls._renamed_params.items():
            if old in saved and new not in saved:
                saved[new] = saved.pop(old)
        return saved

    def _validate_params(self) -> None:
        """Check the parameters, the optimizer and the callbacks before any work."""
        super()._validate_params()  # type: ignore[misc]
        caller = f"{type(self).__name__}.fit"
        check_callbacks(self.callbacks, caller=caller)
        check_optimizer(self.optimizer, caller=caller)

    # ------------------------------------------------------------ override points
    def build_model(self, seed: int | None) -> keras.Model:
        """Return the built Keras model that a new fit trains.

        Parameters
        ----------
        seed : int or None
            The fit's seed, for the model's initialisers and random layers.

        Returns
        -------
        model : keras.Model
            Built (its variables made), not compiled.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not say how to build its model; define "
            "build_model(self, seed) returning a built keras.Model."
        )

    def make_optimizer(self, learning_rate: float) -> keras.optimizers.Optimizer:
        """Return the optimizer a new model is compiled with.

        Parameters
        ----------
        learning_rate : float
            The learning rate the estimator starts at (``learning_rate``, or what
            ``"auto"`` resolved to).

        Returns
        -------
        optimizer : keras.optimizers.Optimizer
            By default the Keras optimizer that the ``optimizer`` parameter names.
            Return a Keras optimizer class, or one registered with
            ``keras.saving.register_keras_serializable``, for checkpoints and
            :func:`oasisgen.load` to read it back.

        Examples
        --------
        >>> from oasisgen import PixelCNNPrior
        >>> optimizer = PixelCNNPrior(optimizer="adamw").make_optimizer(1e-3)
        >>> type(optimizer).__name__, float(optimizer.learning_rate)
        ('AdamW', 0.001)
        """
        # the module's function, which reads the optimizer parameter
        return make_optimizer(
            self.optimizer, learning_rate, caller=f"{type(self).__name__}.fit"
        )

    def training_data(
        self, data: Any, *, shuffle: bool, seed: int | None
    ) -> tf.data.Dataset:
        """Return the batches that ``fit`` trains (or validates) on.

        Parameters
        ----------
        data : object
            The training or the validation part of what ``fit`` got, in the form
            the estimator holds it.
        shuffle : bool
            True for the training data of an epoch, False for validation data.
        seed : int or None
            The shuffling seed of the epoch (the fit's seed plus the epoch's
            number over the run); None for validation data.

        Returns
        -------
        batches : tf.data.Dataset
            ``(inputs, targets)`` or ``inputs`` batches, as ``model_.fit`` takes.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not say how to batch its data; define "
            "training_data(self, data, *, shuffle, seed) returning a "
            "tf.data.Dataset."
        )

    def fit_epoch(
        self,
        data: tf.data.Dataset,
        validation: tf.data.Dataset | None,
        epoch: int,
        last_epoch: int,
        callbacks: list[keras.callbacks.Callback],
    ) -> dict[str, float]:
        """Train ``model_`` one epoch; return its figures.

        Parameters
        ----------
        data : tf.data.Dataset
            The epoch's training batches (without those of an interrupted epoch
            already trained).
        validation : tf.data.Dataset or None
            Validation batches, for the ``val_*`` figures.
        epoch : int
            The epoch's number (from 0 over the whole run).
        last_epoch : int
            The number of epochs the run ends at, for progress bars.
        callbacks : list of keras.callbacks.Callback
            Callbacks to run: the stop request (SIGINT, SIGTERM) and the user's
            ``callbacks``, to pass to ``model.fit``.

        Returns
        -------
        logs : dict of str to float
            The epoch's figures (``loss``, ``val_loss``, ...) for ``history_``.

        Raises
        ------
        FloatingPointError
            If the loss becomes NaN or inf; ``model_`` is then back at the end of
            the last complete epoch.
        """
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

    # ------------------------------------------------------------ a new model
    def _new_model(self, seed: int | None, **compile_args: Any) -> None:
        """Start ``model_``: built, compiled, with an empty history.

        :meth:`build_model` makes the model inside the ``distribute`` strategy;
        it is compiled with :meth:`make_optimizer`'s optimizer (and
        ``compile_args``, such as a loss), and the optimizer's slots are made.
        """
        with make_strategy(self.distribute).scope():
            model = self.build_model(seed)
            model.compile(
                optimizer=self.make_optimizer(self._initial_learning_rate()),
                jit_compile=self.jit_compile,
                **compile_args,
            )
            # Its slots made now, eagerly, rather than inside the first traced
            # step, where each one costs a tf.cond: halves the first epoch's
            # tracing (benchmarks/README.md, "Fixed cost of a fit").
            model.optimizer.build(model.trainable_variables)
        self.model_ = model
        self.history_: dict[str, list[float]] = {}
        self._compiled = {}

    def _initial_learning_rate(self) -> float:
        """Return the learning rate a new model's optimizer starts at.

        The estimator's ``learning_rate``; an estimator whose parameter can be
        ``"auto"`` returns the value it resolved to.
        """
        return self.learning_rate

    # ------------------------------------------------ batches over the replicas
    def _replicas(self) -> int:
        """Return how many replicas ``distribute`` trains on (1 without it)."""
        if self.distribute is None:
            return 1
        return make_strategy(self.distribute).num_replicas_in_sync

    def _split_over_replicas(
        self, batch_size: int, *, given: bool, unit: str, auto: bool = False
    ) -> int:
        """Return ``batch_size`` that splits evenly over the replicas.

        Keras builds a distributed model from the mean of the replicas' first
        batches, which fails unless they are the same size. A batch size the
        estimator chose (``given=False``) is rounded up to a multiple of the
        replicas; one the user gave is refused rather than changed behind their
        back. ``unit`` names one sample in the message (``"image"``); ``auto``
        says that the parameter also takes ``"auto"``.
        """
        replicas = self._replicas()
        if batch_size % replicas == 0:
            return batch_size
        if given:
            lower = max(replicas, batch_size // replicas * replicas)
            alternatives = f"{lower} or {lower + replicas}" + (
                ", or 'auto'" if auto else ""
            )
            raise ValueError(
                f"{type(self).__name__}(batch_size={batch_size}) does not split "
                f"evenly over the {replicas} replicas of "
                f"distribute={self.distribute!r}: Keras needs the same number of "
                f"{unit}s on each. Pass a multiple of {replicas}, such as "
                f"{alternatives}."
            )
        return -(-batch_size // replicas) * replicas

    def _split_batches(
        self,
        batches: tf.data.Dataset,
        n_samples: int,
        batch_size: int,
        *,
        training: bool,
    ) -> tf.data.Dataset:
        """Return ``batches`` that split evenly over the replicas.

        tf.data gives each replica its share of the global batch, so a batch that
        is not a multiple of the replicas splits unevenly, which the replicas
        cannot sum (nor the VQ-VAE-2's codebook updates gather). ``batch_size``
        is a multiple of the replicas (:meth:`_split_over_replicas`), so only
        the last batch can be uneven: in training the last, smaller batch is
        dropped (each epoch shuffles anew, so the samples left out differ from
        epoch to epoch); in validation the last ``n_samples % replicas``
        samples are, the same ones every epoch. On one replica every sample is
        kept.
        """
        replicas = self._replicas()
        if replicas == 1 or n_samples % batch_size == 0:
            return batches
        if training:
            return batches.take(max(1, n_samples // batch_size))
        if n_samples % replicas == 0:
            return batches
        if n_samples < replicas:
            raise ValueError(
                f"{type(self).__name__}.fit holds out {n_samples} samples for "
                f"validation, fewer than the {replicas} replicas of "
                f"distribute={self.distribute!r}, which need one each. Raise "
                "validation_fraction, or pass more data."
            )
        kept = n_samples - n_samples % replicas
        return batches.unbatch().take(kept).batch(batch_size)

    # ------------------------------------------------------- the validation data
    def _hold_out(
        self, arrays: tuple[np.ndarray | None, ...], seed: int | None, *, unit: str
    ) -> tuple[tuple[np.ndarray | None, ...], tuple[np.ndarray | None, ...]]:
        """Split ``arrays`` into training and validation parts by their samples.

        ``validation_fraction`` of the samples (rounded) go to validation, drawn
        with ``seed``; every array (None stays None) is split the same way.
        ``unit`` names one sample in messages (``"image"``).
        """
        n_samples = len(next(a for a in arrays if a is not None))
        n_held_out = int(round(self.validation_fraction * n_samples))
        if not 1 <= n_held_out < n_samples:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of {n_samples} "
                f"{unit}s leaves {n_held_out} for validation; expected at least "
                f"one {unit} on each side. Use more {unit}s or change "
                "validation_fraction."
            )
        order = np.random.RandomState(seed).permutation(n_samples)
        train, held_out = order[n_held_out:], order[:n_held_out]
        return (
            tuple(None if a is None else a[train] for a in arrays),
            tuple(None if a is None else a[held_out] for a in arrays),
        )

    # ------------------------------------------------------ starting and resuming
    def _start_training(
        self, fits: Callable[[], bool], *, continue_fitted: bool, data: str
    ) -> bool:
        """Decide where ``fit`` starts; return True to go on with ``model_``.

        ``fits()`` says whether ``model_`` suits the data, which ``data``
        describes for messages. Training goes on with
        the model in memory when ``continue_fitted`` and it fits; else, with
        ``warm_start`` and a ``checkpoint_dir``, from the last complete checkpoint
        (loaded into ``self``); else from a new model (return False), which may
        not overwrite the checkpoints of another fit.
        """
        pending = getattr(self, "_interrupted_state", None)
        self._resume_state = self._interrupted_state = None
        self._goes_on_in_memory = continue_fitted and fits()
        if self._goes_on_in_memory:
            self._resume_state = pending  # go on where an interrupted fit stopped
            return True
        if self.checkpoint_dir is None:
            return False
        directory = Path(self.checkpoint_dir)
        if self.warm_start and not hasattr(self, "model_"):
            found = latest_checkpoint(directory, self._read_checkpoint)
            if found is not None:
                self._adopt_checkpoint(*found[1])
                if not fits():
                    raise ValueError(
                        f"{type(self).__name__}.fit cannot resume from "
                        f"{str(found[0])!r}: it was trained on "
                        f"{self._fitted_data()}, and fit got {data}. Pass the data "
                        "of that run, or another checkpoint_dir to start again."
                    )
                return True
        if has_checkpoints(directory):
            raise FileExistsError(
                f"{type(self).__name__}.fit would start a new model, but "
                f"checkpoint_dir={str(self.checkpoint_dir)!r} holds the checkpoints "
                "of another fit. Pass warm_start=True to resume from them, or empty "
                "the directory (or choose another one) to start again."
            )
        return False

    def _fitted_data(self) -> str:
        """Describe the data ``model_`` was fitted to, for messages."""
        return "other data"

    def _seed_globally(self, seed: int | None) -> None:
        """Seed Keras' global generators for a fit that ``_start_training`` began.

        Not when the fit goes on with the model in memory: seeding clears
        TensorFlow's caches, so a warm start would trace its training step again
        (1-3 s at 128 px). A new model and one resumed from a checkpoint are seeded.
        """
        if seed is not None and not self._goes_on_in_memory:
            keras.utils.set_random_seed(seed)

    def _training_seed(self) -> int | None:
        """Return the seed of this fit: the checkpoint's when resuming one."""
        state = getattr(self, "_resume_state", None)
        if state is not None:
            return state.seed
        return seed_from(self.random_state)

    # ------------------------------------------------------------- the epochs
    def _epochs_to_train(self) -> int:
        """Return how many epochs ``fit`` trains.

        With ``checkpoint_dir`` and ``warm_start``, ``epochs`` is the total of the
        run, so a resumed fit trains what is left; otherwise ``epochs`` more.
        """
        if self.checkpoint_dir is not None and self.warm_start:
            return max(self.epochs - len(self.history_.get("loss", [])), 0)
        return self.epochs

    def _run_epochs(
        self, train: Any, validation: Any, *, epochs: int, seed: int | None
    ) -> None:
        """Train ``model_`` for ``epochs`` more epochs, extending ``history_``.

        :meth:`training_data` batches ``train`` anew for each epoch, shuffled
        with :func:`epoch_seed` of the epoch's number over the whole run, so that
        a resumed run shuffles as an uninterrupted one, and ``validation`` (if
        not None) once, in order. :meth:`fit_epoch` trains each epoch. After each
        epoch, ``history_`` grows and, with ``checkpoint_dir``, a
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
            validation = without_autotuning(
                self.training_data(validation, shuffle=False, seed=None)
            )
        start = len(self.history_.get("loss", []))
        self.callbacks_ = copy_callbacks(
            self.callbacks, caller=f"{type(self).__name__}.fit"
        )
        users = RunCallbacks(self.callbacks_, self.model_, start + epochs)
        users.begin()
        logs: dict[str, float] | None = None
        unsaved: TrainingState | None = None  # the last epoch's, if not written
        with stop_on_signals(request), ending_callbacks(users, lambda: logs):
            for epoch in range(start, start + epochs):
                if stopper is not None and stopper.stopped:
                    break
                if request.requested:  # arrived before the epoch began
                    state = self._state(epoch, seed, stopper, partial)
                    raise self._interrupted(request.requested, state)
                data = without_autotuning(
                    self.training_data(
                        train, shuffle=True, seed=epoch_seed(seed, epoch)
                    )
                )
                if partial is not None:
                    data = data.skip(partial.batches)
                logs = self.fit_epoch(
                    data, validation, epoch, start + epochs, [request, users]
                )
                if request.stopped and not is_whole_epoch(data, request.batches):
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

    # -------------------------------------------------------------- checkpoints
    def _checkpoint(self, state: TrainingState) -> Path | None:
        """Write a checkpoint of the whole training state, if ``checkpoint_dir``."""
        if self.checkpoint_dir is None:
            return None
        if not writes_files(self.distribute):
            discard_writes(
                lambda scratch: write_checkpoint(
                    scratch, self._write_saved, state, keep=None
                )
            )
            return None
        return write_checkpoint(
            self.checkpoint_dir, self._write_saved, state, keep=self.keep_checkpoints
        )

    def _read_checkpoint(self, path: Path) -> tuple[Any, TrainingState]:
        """Read one checkpoint into a new, fitted estimator; ``self`` stays as is."""
        manifest = read_manifest(path, error=CheckpointError)
        name = type(self).__name__
        try:
            params, fitted = manifest["params"], manifest["fitted"]
            n_epochs = len(fitted["history_"]["loss"])
            if manifest["class"] != name or not isinstance(params, dict):
                raise TypeError(f"expected the parameters of a {name}")
        except (KeyError, TypeError) as error:
            raise CheckpointError(
                f"{str(path / 'estimator.json')!r} does not describe a fitted {name} "
                f"({error!r})."
            ) from error
        self._check_same_params(params, path)
        state = read_state(path)
        if n_epochs != state.progress.epochs:
            raise CheckpointError(
                f"{str(path)!r} records {state.progress.epochs} epochs but its "
                f"history_ has {n_epochs}."
            )
        try:
            with make_strategy(self.distribute).scope():
                model = load_keras_model(path / "model.keras")
            restored = type(self).__new__(type(self))
            restored._load_fitted(model, fitted)
        except (ValueError, KeyError, TypeError) as error:
            raise CheckpointError(f"{error}") from error
        return restored, state

    def _check_same_params(self, saved: dict[str, Any], path: Path) -> None:
        """Refuse to resume a checkpoint made with other model parameters.

        A parameter the checkpoint does not record (it is older than the
        parameter) was at its default when the checkpoint was made.
        """
        mine = jsonable(saved_params(self), nan_to_none=False)
        defaults = saved_params(type(self)())
        saved = self._current_names(saved)
        saved = {**jsonable(defaults, nan_to_none=False), **saved}
        different = [
            name
            for name, value in mine.items()
            if name not in RESUMABLE_CHANGES
            and saved[name] != value
            and not (name == "random_state" and not isinstance(value, int | None))
        ]
        if different:
            listing = ", ".join(
                f"{name}={saved[name]!r} (now {mine[name]!r})" for name in different
            )
            raise ValueError(
                f"{type(self).__name__}.fit cannot resume from {str(path)!r}: it was "
                f"trained with {listing}. Use the same parameters to resume, or "
                "another checkpoint_dir to start again."
            )

    def _adopt_checkpoint(self, restored: Any, state: TrainingState) -> None:
        """Take the fitted attributes of a checkpoint read by ``_read_checkpoint``."""
        for name, value in vars(restored).items():
            setattr(self, name, value)
        set_random_states(self.model_, state.random_states)
        self._resume_state = state

    # ---------------------------------------------------------------- inference
    def _graph(self, name: str, function: Any, signature: list[tf.TensorSpec]) -> Any:
        """Return ``function`` traced once, for any batch size, and cached."""
        if not hasattr(self, "_compiled"):
            self._compiled = {}
        if name not in self._compiled:
            self._compiled[name] = tf.function(
                function, input_signature=signature, autograph=False
            )
        return self._compiled[name]

    # -------------------------------------------------------------- persistence
    def _writes_files(self) -> bool:
        """Whether this process writes files (not a worker other than the chief)."""
        return writes_files(self.distribute)

    def _write_saved(self, folder: Path) -> None:
        """Write ``model.keras`` and ``estimator.json`` into ``folder``."""
        self.model_.save(folder / "model.keras")
        fitted = {"history_": self.history_, **self._fitted_state()}
        write_manifest(folder, self, fitted)

    @classmethod
    def _from_saved(cls, folder: Path, manifest: dict[str, Any]) -> Any:
        params = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in cls._current_names(manifest["params"]).items()
        }
        estimator = cls(**params)
        estimator._load_fitted(
            load_keras_model(folder / "model.keras"), manifest["fitted"]
        )
        return estimator

    def _load_fitted(self, model: Any, fitted: dict[str, Any]) -> None:
        """Set ``model_``, ``history_`` and the other fitted attributes."""
        fitted = dict(fitted)
        self.model_ = model
        self.history_ = {
            name: [float(v) for v in values]
            for name, values in fitted.pop("history_").items()
        }
        self._compiled = {}
        self._restore_fitted(fitted)

    def _fitted_state(self) -> dict[str, Any]:
        return {}

    def _restore_fitted(self, state: dict[str, Any]) -> None:
        pass

    # ----------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # type: ignore[misc]
        state.pop("_compiled", None)
        state.pop("_resume_state", None)
        state.pop("_interrupted_state", None)
        state.pop("callbacks_", None)  # open files and the model: not pickled
        for name in self._keras_models:
            if state.get(name) is not None:
                state[name] = model_to_bytes(state[name])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        for name in self._keras_models:
            if isinstance(state.get(name), bytes):
                state[name] = model_from_bytes(state[name])
        super().__setstate__(state)  # type: ignore[misc]

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        clone = type(self).__new__(type(self))
        clone.__setstate__(self.__getstate__())
        return clone


KerasEstimatorMixin = KerasEstimator
"""The former name of :class:`KerasEstimator`, for code that imports it."""
