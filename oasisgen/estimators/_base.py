"""Plumbing shared by the Keras-backed estimators: training, pickling, saving.

Keras models are pickled through their own ``.keras`` archive format (loaded back with
``safe_mode=True``), so an estimator can be sent to joblib workers, stored with
``joblib.dump`` and copied with :func:`copy.deepcopy`.
"""

from __future__ import annotations

import inspect
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
from sklearn.utils.validation import check_is_fitted

from oasisgen.estimators._checkpoints import (
    CheckpointError,
    TrainingState,
    has_checkpoints,
    latest_checkpoint,
    read_state,
    write_checkpoint,
)
from oasisgen.estimators._persistence import (
    discard_writes,
    jsonable,
    load_keras_model,
    read_manifest,
    save_directory,
    saved_params,
    write_manifest,
)
from oasisgen.estimators._training import (
    TrainingLoopMixin,
    set_random_states,
)
from oasisgen.nn.distribute import DISTRIBUTE_OPTIONS, make_strategy, writes_files
from oasisgen.nn.optimizers import FusedAdam


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


def make_optimizer(
    optimizer: str | dict[str, Any], learning_rate: float, *, caller: str
) -> keras.optimizers.Optimizer:
    """Return a new Keras optimizer from a name or a config, at ``learning_rate``.

    Parameters
    ----------
    optimizer : str or dict
        A name Keras knows (``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"``,
        ...) or a config ``{"class_name": "AdamW", "config": {"weight_decay":
        1e-4}}`` as ``keras.optimizers.serialize`` writes it, without the
        learning rate.
    learning_rate : float
        The estimator's ``learning_rate``.
    caller : str
        Name for error messages.

    Returns
    -------
    optimizer : keras.optimizers.Optimizer

    Raises
    ------
    ValueError
        If Keras knows no such optimizer or argument, or the config sets the
        learning rate.

    Examples
    --------
    >>> type(make_optimizer("adamw", 1e-3, caller="demo")).__name__
    'AdamW'
    >>> config = {"class_name": "SGD", "config": {"momentum": 0.9}}
    >>> float(make_optimizer(config, 0.01, caller="demo").momentum)
    0.9
    """
    kind, config = check_optimizer(optimizer, caller=caller)
    try:
        return kind(learning_rate=learning_rate, **config)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{caller} cannot make the optimizer {optimizer!r}: {error}"
        ) from error


def check_optimizer(
    optimizer: Any, *, caller: str
) -> tuple[type[keras.optimizers.Optimizer], dict[str, Any]]:
    """Return the optimizer class and config that ``optimizer`` names.

    Checks the name and the arguments without making the optimizer, so nothing
    runs in TensorFlow (a multi-worker strategy must start first).

    Examples
    --------
    >>> check_optimizer("rmsprop", caller="demo")[0].__name__
    'RMSprop'
    """
    if isinstance(optimizer, dict):
        if set(optimizer) - {"class_name", "config", "module", "registered_name"}:
            raise ValueError(
                f"{caller} got optimizer={optimizer!r}; expected a name such as "
                "'adamw' or a dict {'class_name': 'AdamW', 'config': {...}}."
            )
        name, config = optimizer.get("class_name"), dict(optimizer.get("config") or {})
        if "learning_rate" in config:
            raise ValueError(
                f"{caller} got an optimizer config that sets learning_rate="
                f"{config['learning_rate']!r}; set the estimator's learning_rate "
                "instead, and leave it out of the config."
            )
    else:
        name, config = optimizer, {}
    kinds = _optimizer_classes()
    kind = kinds.get(str(name).lower().replace("_", ""))
    if kind is None:
        raise ValueError(
            f"{caller} cannot make the optimizer {optimizer!r}: Keras has no "
            f"optimizer {name!r}. Expected a Keras optimizer name such as 'adam', "
            "'adamw', 'sgd' or 'rmsprop', or a config such as {'class_name': "
            "'AdamW', 'config': {'weight_decay': 1e-4}}."
        )
    accepted = set(inspect.signature(kind.__init__).parameters) - {
        "self",
        "args",
        "kwargs",
    }
    unknown = sorted(set(config) - accepted)
    if unknown:
        raise ValueError(
            f"{caller} cannot make the optimizer {optimizer!r}: {kind.__name__} "
            f"takes no argument {', '.join(map(repr, unknown))}; it takes "
            f"{', '.join(sorted(accepted - {'learning_rate'}))}."
        )
    return kind, config


def _optimizer_classes() -> dict[str, type[keras.optimizers.Optimizer]]:
    """Return Keras' optimizer classes by lower-case name (``"adamw"``).

    ``"adam"`` is :class:`~oasisgen.nn.optimizers.FusedAdam`: Adam's update in one
    TensorFlow kernel per variable, which traces in a fraction of the time.
    """
    classes = {
        name.lower(): value
        for name, value in vars(keras.optimizers).items()
        if isinstance(value, type)
        and issubclass(value, keras.optimizers.Optimizer)
        and value is not keras.optimizers.Optimizer
    }
    return {**classes, "adam": FusedAdam, "fusedadam": FusedAdam}


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


class KerasEstimatorMixin(TrainingLoopMixin):
    """What every estimator wrapping one Keras model (``model_``) shares.

    - the training loop (:class:`TrainingLoopMixin`): epochs with history, early
      stopping, a stop at the first NaN or inf loss that keeps the last good
      weights, and a clean stop on SIGINT or SIGTERM;
    - checkpoints after every epoch (``checkpoint_dir``), and resuming from the
      last complete one (``warm_start``);
    - inference functions traced once per estimator (``_graph``);
    - pickling through the ``.keras`` format (loaded with ``safe_mode=True``);
    - ``save(path)`` to a directory and the matching ``_from_saved`` for
      :func:`oasisgen.load`.

    Subclasses provide ``_fitted_state()`` (JSON-ready fitted attributes other than
    the model) and ``_restore_fitted(state)``.
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

    # ------------------------------------------------------------ a new model
    def _new_model(self, build: Callable[[], keras.Model], **compile_args: Any) -> None:
        """Start ``model_``: built by ``build``, compiled, with an empty history.

        The override point for a new kind of model: ``build`` returns the
        built Keras model; this makes it inside the ``distribute`` strategy,
        compiles it with the estimator's ``optimizer`` and ``learning_rate``
        (and ``compile_args``, such as a loss) and makes the optimizer's slots.
        """
        with make_strategy(self.distribute).scope():
            model = build()
            model.compile(
                optimizer=make_optimizer(
                    self.optimizer,
                    self._initial_learning_rate(),
                    caller=f"{type(self).__name__}.fit",
                ),
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
    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path | None:
        """Save the fitted estimator to a directory that never unpickles code.

        The directory holds ``model.keras`` and ``estimator.json`` (parameters,
        fitted attributes, library versions). Read it with :func:`oasisgen.load`.
        The save is atomic: a failure leaves any existing ``path`` untouched.
        Under ``distribute="multi_worker"`` only the chief writes ``path``; the
        other workers write into a scratch folder that is removed at once.

        Parameters
        ----------
        path : str or path-like
            Directory to create.
        overwrite : bool, default=False
            Replace an existing ``path``.

        Returns
        -------
        path : Path or None
            The saved directory; None on a worker other than the chief.

        Notes
        -----
        Share models in this format. Loading a pickle (``joblib.load``,
        ``pickle.load``) can execute any code the file holds, so load pickles only
        from sources you trust; :func:`oasisgen.load` reads parameters from JSON
        and the Keras model with ``safe_mode=True``, so nothing in the files runs.
        """
        check_is_fitted(self)
        if not writes_files(self.distribute):
            discard_writes(self._write_saved)
            return None
        return save_directory(path, self._write_saved, overwrite=overwrite)

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
