"""Plumbing shared by the Keras-backed estimators: seeds, strategies, pickling.

Keras models are pickled through their own ``.keras`` archive format (loaded back with
``safe_mode=True``), so an estimator can be sent to joblib workers, stored with
``joblib.dump`` and copied with :func:`copy.deepcopy`.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state

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


class KerasPicklingMixin:
    """Pickle fitted Keras models (attributes listed in ``_keras_models``) safely.

    Every fitted model attribute is swapped for its ``.keras`` bytes when pickled
    and loaded back with ``safe_mode=True`` when unpickled.
    """

    _keras_models: tuple[str, ...] = ()

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()  # type: ignore[misc]
        state = dict(state)
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
