"""Plumbing shared by the Keras-backed estimators: training, pickling, saving.

Keras models are pickled through their own ``.keras`` archive format (loaded back with
``safe_mode=True``), so an estimator can be sent to joblib workers, stored with
``joblib.dump`` and copied with :func:`copy.deepcopy`.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from oasisgen.estimators._persistence import (
    load_keras_model,
    save_directory,
    write_manifest,
)
from oasisgen.nn.callbacks import StopOnNonFiniteLoss

DISTRIBUTE_OPTIONS = ("mirrored", "multi_worker")


class NotFittedModelError(NotFittedError):
    """Raised when a method needs a fitted estimator; also a ``NotFittedError``."""


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


def make_strategy(distribute: str | None) -> tf.distribute.Strategy:
    """Return the ``tf.distribute`` strategy named by an estimator's ``distribute``.

    Parameters
    ----------
    distribute : {None, "mirrored", "multi_worker"}
        ``None`` uses the current (default) strategy; ``"mirrored"`` replicates the
        model on every local GPU (or logical device); ``"multi_worker"`` spans the
        hosts described by the ``TF_CONFIG`` environment variable.

    Returns
    -------
    strategy : tf.distribute.Strategy

    Examples
    --------
    >>> make_strategy(None).num_replicas_in_sync
    1
    """
    if distribute is None:
        return tf.distribute.get_strategy()
    if distribute == "mirrored":
        return tf.distribute.MirroredStrategy()
    if distribute == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(
        f"distribute must be None or one of {DISTRIBUTE_OPTIONS}; got {distribute!r}."
    )


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
}
"""Constraints of the training parameters every Keras-backed estimator shares."""


class KerasEstimatorMixin:
    """What every estimator wrapping one Keras model (``model_``) shares.

    - the training loop: epochs with history, early stopping, and a stop at the
      first NaN or inf loss that keeps the last good weights;
    - inference functions traced once per estimator (``_graph``);
    - pickling through the ``.keras`` format (loaded with ``safe_mode=True``);
    - ``save(path)`` to a directory and the matching ``_from_saved`` for
      :func:`oasisgen.load`.

    Subclasses provide ``_fitted_state()`` (JSON-ready fitted attributes other than
    the model) and ``_restore_fitted(state)``.
    """

    _keras_models: tuple[str, ...] = ("model_",)

    # ----------------------------------------------------------------- training
    def _run_epochs(
        self,
        train: tf.data.Dataset,
        validation: tf.data.Dataset | None,
        *,
        epochs: int,
    ) -> None:
        """Train ``model_`` for ``epochs`` more epochs and extend ``history_``."""
        done = len(self.history_.get("loss", []))
        guard = StopOnNonFiniteLoss()
        callbacks: list[keras.callbacks.Callback] = [guard]
        if self.early_stopping:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss" if validation is not None else "loss",
                    patience=self.n_iter_no_change,
                    restore_best_weights=True,
                )
            )
        history = self.model_.fit(
            train,
            validation_data=validation,
            initial_epoch=done,
            epochs=done + epochs,
            callbacks=callbacks,
            shuffle=False,  # the tf.data pipelines shuffle, with the seed
            verbose=self.verbose,
        ).history
        if guard.diverged:  # the cut-short epoch does not count
            history = {name: values[:-1] for name, values in history.items()}
        for name, values in history.items():
            self.history_.setdefault(name, []).extend(float(v) for v in values)
        if guard.diverged:
            raise FloatingPointError(
                f"{type(self).__name__}.fit stopped: the loss became NaN or inf at "
                f"{guard.where}. The model keeps the weights of the last complete "
                f"epoch ({len(self.history_.get('loss', []))} epochs in history_). "
                "Lower learning_rate, or check the data for extreme values."
            )

    def _shuffle_seed(self, seed: int | None) -> int | None:
        """Return a repeatable shuffling seed that differs from epoch to epoch."""
        return None if seed is None else seed + len(self.history_.get("loss", []))

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
    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Save the fitted estimator to a directory that never unpickles code.

        The directory holds ``model.keras`` and ``estimator.json`` (parameters,
        fitted attributes, library versions). Read it with :func:`oasisgen.load`.
        The save is atomic: a failure leaves any existing ``path`` untouched.

        Parameters
        ----------
        path : str or path-like
            Directory to create.
        overwrite : bool, default=False
            Replace an existing ``path``.

        Returns
        -------
        path : Path
            The saved directory.
        """
        check_is_fitted(self)

        def write(folder: Path) -> None:
            self.model_.save(folder / "model.keras")
            fitted = {"history_": self.history_, **self._fitted_state()}
            write_manifest(folder, self, fitted)

        return save_directory(path, write, overwrite=overwrite)

    @classmethod
    def _from_saved(cls, folder: Path, manifest: dict[str, Any]) -> Any:
        params = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in manifest["params"].items()
        }
        estimator = cls(**params)
        estimator.model_ = load_keras_model(folder / "model.keras")
        fitted = dict(manifest["fitted"])
        estimator.history_ = {
            name: [float(v) for v in values]
            for name, values in fitted.pop("history_").items()
        }
        estimator._restore_fitted(fitted)
        return estimator

    def _fitted_state(self) -> dict[str, Any]:
        return {}

    def _restore_fitted(self, state: dict[str, Any]) -> None:
        pass

    # ----------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # type: ignore[misc]
        state.pop("_compiled", None)
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
