"""Saving estimators in a format that never unpickles code, and loading them back.

A saved estimator is a directory::

    model_dir/
      estimator.json    class name, parameters, fitted attributes, library versions
      <name>.keras      one Keras archive for each fitted model (loaded with safe_mode)

Saving writes into a temporary directory beside the target and renames it into
place, so an interrupted or failed save never leaves a half-written model behind and
never damages one that was there before.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy
from sklearn.utils.validation import check_is_fitted

import oasisgen

MANIFEST = "estimator.json"
FORMAT_VERSION = 1

# class name -> class, filled by @register_estimator; load() never imports by name
_REGISTRY: dict[str, type] = {}


def register_estimator(cls: type) -> type:
    """Class decorator: let :func:`load` rebuild estimators of this class.

    Parameters
    ----------
    cls : type
        An estimator class with a ``_from_saved(folder, manifest)`` class
        method, such as a :class:`SaveMixin`.

    Returns
    -------
    cls : type
        The class, unchanged.
    """
    _REGISTRY[cls.__name__] = cls
    return cls


class SaveMixin:
    """``save(path)``: a fitted estimator to a directory that :func:`load` reads.

    The one implementation of ``save`` for every estimator; a class provides
    the hooks:

    - ``_write_saved(folder)`` writes ``estimator.json`` (with
      :func:`write_manifest`) and the rest of the files into ``folder``;
    - ``_writes_files()`` says whether this process writes files (not a worker
      other than the chief of a multi-worker run);
    - ``_from_saved(folder, manifest)``, a class method, rebuilds the estimator
      for :func:`load` (with the class registered by :func:`register_estimator`).
    """

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path | None:
        """Save the fitted estimator to a directory that never unpickles code.

        The directory holds ``estimator.json`` (parameters, fitted attributes,
        library versions) and the fitted models: ``model.keras`` for a
        ``VQVAE2Estimator`` or a ``PixelCNNPrior``, one saved estimator per part
        for a ``HierarchicalGenerator`` (``vqvae/``, ``top_prior/``,
        ``bottom_prior/``). Read it with :func:`oasisgen.load`. The save is
        atomic: a failure leaves any existing ``path`` untouched. Under
        ``distribute="multi_worker"`` only the chief writes ``path``; the other
        workers write into a scratch folder that is removed at once.

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
        and the Keras models with ``safe_mode=True``, so nothing in the files runs.

        Examples
        --------
        >>> import tempfile, numpy as np, oasisgen
        >>> from oasisgen import PixelCNNPrior
        >>> codes = np.random.default_rng(0).integers(0, 4, (8, 4, 4))
        >>> prior = PixelCNNPrior(num_embeddings=4, n_layers=1, hidden_channels=4,
        ...                       epochs=1, random_state=0).fit(codes)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     folder = prior.save(tmp + "/prior")
        ...     sorted(p.name for p in folder.iterdir())
        ['estimator.json', 'model.keras']
        """
        check_is_fitted(self)
        if not self._writes_files():
            discard_writes(self._write_saved)
            return None
        return save_directory(path, self._write_saved, overwrite=overwrite)

    def _write_saved(self, folder: Path) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} does not say what it saves; define "
            "_write_saved(self, folder)."
        )

    def _writes_files(self) -> bool:
        return True


def save_directory(
    path: str | os.PathLike,
    write: Callable[[Path], None],
    *,
    overwrite: bool,
) -> Path:
    """Fill a new directory with ``write(tmp_dir)`` and rename it to ``path``.

    Parameters
    ----------
    path : str or path-like
        Target directory.
    write : callable
        Writes every file into the directory it is given.
    overwrite : bool
        Replace an existing ``path``; otherwise refuse.

    Returns
    -------
    path : Path
        The saved directory.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> def write(folder):
    ...     (folder / "notes.txt").write_text("done")
    >>> target = Path(tempfile.mkdtemp()) / "run"
    >>> saved = save_directory(target, write, overwrite=False)
    >>> sorted(path.name for path in saved.iterdir())
    ['notes.txt']
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"Refusing to overwrite {str(target)!r}: it already exists. Pass "
            "overwrite=True to replace it, or choose another path."
        )
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    try:
        write(staging)
        if target.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=parent))
            os.replace(target, backup / target.name)
            os.replace(staging, target)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def discard_writes(write: Callable[[Path], None]) -> None:
    """Run ``write`` into a scratch directory that is removed at once.

    What a worker other than the chief of a multi-worker run does instead of
    saving: it runs the same operations as the chief, whose files are kept.

    Parameters
    ----------
    write : callable
        Writes every file into the directory it is given.
    """
    with tempfile.TemporaryDirectory(prefix="oasisgen-worker-") as scratch:
        write(Path(scratch))


def write_manifest(folder: Path, estimator: Any, fitted: dict[str, Any]) -> None:
    """Write ``estimator.json``: class, parameters, fitted attributes, versions."""
    import sklearn
    import tensorflow

    manifest = {
        "format_version": FORMAT_VERSION,
        "class": type(estimator).__name__,
        "params": saved_params(estimator),
        "fitted": fitted,
        "versions": {
            "oasisgen": oasisgen.__version__,
            "keras": keras.__version__,
            "tensorflow": tensorflow.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": numpy.__version__,
        },
    }
    (folder / MANIFEST).write_text(
        json.dumps(jsonable(manifest, nan_to_none=False), indent=2)
    )


def saved_params(estimator: Any) -> dict[str, Any]:
    """Return the parameters of ``estimator`` as they are saved.

    Those named in its ``_unsaved_params`` (such as ``callbacks``, objects with
    open files and a model attached) are saved as None.

    Examples
    --------
    >>> import keras
    >>> from oasisgen import PixelCNNPrior
    >>> prior = PixelCNNPrior(callbacks=[keras.callbacks.TerminateOnNaN()])
    >>> saved_params(prior)["callbacks"] is None
    True
    """
    params = estimator.get_params(deep=False)
    for name in getattr(estimator, "_unsaved_params", ()):
        if name in params:
            params[name] = None
    return params


def jsonable(value: Any, *, nan_to_none: bool = True) -> Any:
    """Return ``value`` as what :mod:`json` writes: dicts, lists, strings, numbers.

    Tuples and NumPy arrays become lists, NumPy scalars Python numbers, paths
    strings, dictionary keys strings, estimators their class and saved parameters
    (:func:`saved_params`), and a ``RandomState`` or ``Generator`` None (its state
    is not a parameter). NaN and the infinities become None, which strict JSON
    needs; with ``nan_to_none=False`` they stay floats, which :mod:`json` writes as
    ``NaN`` and ``Infinity`` and reads back (what a saved model's history needs).

    Parameters
    ----------
    value : object
        Nested dicts, lists and tuples of JSON values and of the values above.
    nan_to_none : bool, default=True
        Write NaN, inf and -inf as None.

    Returns
    -------
    value : object
        The same data, of types ``json.dumps`` writes without a ``default``.

    Raises
    ------
    TypeError
        If a value is of none of these types.

    Examples
    --------
    >>> import numpy as np
    >>> from pathlib import PurePosixPath
    >>> jsonable({"size": (32, 32), "loss": np.float32(0.5), "dir": PurePosixPath("a")})
    {'size': [32, 32], 'loss': 0.5, 'dir': 'a'}
    >>> jsonable([np.nan, np.array([1, 2])]), jsonable(np.inf, nan_to_none=False)
    ([None, [1, 2]], inf)
    """
    if isinstance(value, dict):
        return {
            _json_key(key): jsonable(item, nan_to_none=nan_to_none)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [jsonable(item, nan_to_none=nan_to_none) for item in value]
    if isinstance(value, numpy.generic | numpy.ndarray):
        return jsonable(value.tolist(), nan_to_none=nan_to_none)
    if isinstance(value, float):
        return None if nan_to_none and not math.isfinite(value) else value
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, numpy.random.RandomState | numpy.random.Generator):
        return None
    if hasattr(value, "get_params"):
        params = jsonable(saved_params(value), nan_to_none=nan_to_none)
        return {"class": type(value).__name__, "params": params}
    raise TypeError(
        f"{type(value).__name__} values cannot be written to JSON; pass numbers, "
        "strings, paths, NumPy values, estimators, and dicts, lists and tuples of "
        "them."
    )


def _json_key(key: Any) -> str:
    """Return a dictionary key as ``json`` writes it: 1 as "1", True as "true"."""
    key = jsonable(key, nan_to_none=False)
    return key if isinstance(key, str) else json.dumps(key)


def read_manifest(folder: Path, *, error: type[Exception] = ValueError) -> dict:
    """Read the ``estimator.json`` of a saved estimator, naming it on failure.

    Parameters
    ----------
    folder : Path
        A directory written by ``save`` (or a checkpoint).
    error : type, default=ValueError
        The exception raised for a truncated or corrupted file.

    Returns
    -------
    manifest : dict

    Raises
    ------
    FileNotFoundError
        If there is no ``estimator.json``.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"No saved oasisgen estimator at {str(folder)!r}: expected a directory "
            f"with {MANIFEST} written by est.save(path)."
        )
    try:
        manifest = json.loads(path.read_bytes())
        if not isinstance(manifest, dict) or not isinstance(manifest["class"], str):
            raise TypeError("expected a JSON object with a 'class'")
    except (ValueError, KeyError, TypeError) as exc:
        raise error(
            f"{str(path)!r} is not a valid oasisgen manifest ({exc!r}); was it "
            "truncated or edited by hand?"
        ) from exc
    return manifest


def load(path: str | os.PathLike) -> Any:
    """Load an estimator written by its ``save`` method.

    Nothing in the files executes code: parameters come from JSON and Keras models
    are read with ``safe_mode=True``. Use this, not ``joblib.load``, for models from
    sources you do not trust.

    Parameters
    ----------
    path : str or path-like
        A directory written by ``save``.

    Returns
    -------
    estimator : VQVAE2Estimator, PixelCNNPrior or HierarchicalGenerator
        The fitted estimator.

    Raises
    ------
    FileNotFoundError
        If ``path`` or its ``estimator.json`` does not exist.
    ValueError
        If the files are corrupted or name an unknown estimator class.

    Examples
    --------
    >>> import tempfile, numpy as np, oasisgen
    >>> from oasisgen import VQVAE2Estimator
    >>> X = np.random.default_rng(0).random((8, 16, 16, 1)).astype("float32")
    >>> est = VQVAE2Estimator(num_embeddings=8, embedding_dim=4, hidden_channels=8,
    ...                       n_res_channels=4, epochs=1, random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = est.save(tmp + "/model")
    ...     again = oasisgen.load(tmp + "/model")
    >>> bool((again.transform(X) == est.transform(X)).all())
    True
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    cls = _REGISTRY.get(manifest["class"])
    if cls is None:
        raise ValueError(
            f"{str(folder / MANIFEST)!r} names the class {manifest['class']!r}, "
            f"which is not an oasisgen estimator ({', '.join(sorted(_REGISTRY))})."
        )
    try:
        return cls._from_saved(folder, manifest)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"{str(folder / MANIFEST)!r} does not describe a {manifest['class']} "
            f"({exc!r}); was it truncated or edited by hand?"
        ) from exc


def load_keras_model(path: Path) -> Any:
    """Load one ``.keras`` archive with ``safe_mode=True``, naming the file on error.

    Raises
    ------
    FileNotFoundError
        If the file is missing.
    ValueError
        If it is not a ``.keras`` archive Keras can load (truncated, corrupted).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"The Keras model {str(path)!r} is missing.")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"The Keras model {str(path)!r} is not a valid .keras archive: the file "
            "is truncated or corrupted. Save the estimator again, or use a copy."
        )
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=True)
    except Exception as error:
        raise ValueError(
            f"Could not load the Keras model {str(path)!r} ({error}). The file may "
            "be truncated or corrupted; save the estimator again, or use a copy."
        ) from error
