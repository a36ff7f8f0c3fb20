"""The search file: its format, its checks, and the search it describes.

:func:`read_search_file` reads a TOML file into a :class:`SearchSpec` (with its
:class:`DataSpec`), refusing unknown keys, estimators and parameter names, and
values the parameters do not accept, before any work.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

ESTIMATORS = ("VQVAE2Estimator", "HierarchicalGenerator")
SPLITS = ("train", "validate", "test")
FOLDS = ("subject", "slice")

_TOP_KEYS = (
    "estimator",
    "cv",
    "folds",
    "random_state",
    "error_score",
    "data",
    "params",
    "grid",
)
_DATA_KEYS = ("source", "split", "image_size", "max_slices", "on_error")
# set by HierarchicalGenerator.fit from the VQ-VAE-2, so a value would be ignored
_DERIVED = {
    "top_prior__num_embeddings": "the top codebook size of the VQ-VAE-2",
    "bottom_prior__num_embeddings": "the bottom codebook size of the VQ-VAE-2",
    "bottom_prior__condition_num_embeddings": "the top codebook size of the VQ-VAE-2",
    "bottom_prior__condition_upsample": "the VQ-VAE-2 (8 / its bottom_stride)",
}
# every candidate would write into the same folder
_SHARED_FOLDERS = ("checkpoint_dir",)


@dataclass(frozen=True)
class DataSpec:
    """Where the images of a search come from (the ``[data]`` table).

    Parameters
    ----------
    source : str, default="sample"
        ``"sample"`` for the bundled slices, or a path (relative paths are read
        from the search file's folder): an OASIS root folder, a NIfTI file or a
        folder of them, or a folder of images. See
        :func:`oasisgen.datasets.load_splits`.
    split : {"train", "validate", "test"}, default="train"
        Which split of the source to search on.
    image_size : int or tuple of (int, int), optional
        Resize every slice; the loader's default size when omitted.
    max_slices : int, optional
        Keep this many slices, evenly spaced through the split, for a quick
        search.
    on_error : {"raise", "skip"}, default="raise"
        What to do with files that cannot be read.

    Examples
    --------
    >>> from oasisgen.search import DataSpec
    >>> DataSpec("sample", image_size=16, max_slices=20).load().shape
    (20, 16, 16, 1)
    """

    source: str = "sample"
    split: str = "train"
    image_size: int | tuple[int, int] | None = None
    max_slices: int | None = None
    on_error: str = "raise"

    def load(self, *, return_subjects: bool = False) -> Any:
        """Load the images of the split.

        Parameters
        ----------
        return_subjects : bool, default=False
            Also return the person each slice comes from.

        Returns
        -------
        images : ndarray of shape (n_samples, height, width, 1), dtype float32
        subjects : ndarray of str of shape (n_samples,)
            Only with ``return_subjects``.

        Raises
        ------
        ValueError
            If the source has no such split, or a file cannot be read.
        """
        from oasisgen.datasets import load_sample, load_splits

        if self.source == "sample" and self.split != "validate":
            size = 256 if self.image_size is None else self.image_size
            images, subjects = load_sample(
                self.split, image_size=size, return_subjects=True
            )
        else:
            splits = load_splits(
                self.source, image_size=self.image_size, on_error=self.on_error
            )
            dataset = splits[self.split]
            if dataset is None:
                present = [name for name in SPLITS if splits[name] is not None]
                raise ValueError(
                    f"The data source {self.source!r} has no {self.split!r} split; "
                    f"choose split = one of {present} in [data]."
                )
            images, subjects = np.asarray(dataset), np.asarray(dataset.subjects)
        if self.max_slices is not None and self.max_slices < len(images):
            keep = np.linspace(0, len(images) - 1, self.max_slices).round()
            images, subjects = images[keep.astype(int)], subjects[keep.astype(int)]
        return (images, subjects) if return_subjects else images


@dataclass(frozen=True)
class SearchSpec:
    """A checked grid search: what :func:`read_search_file` returns.

    Parameters
    ----------
    estimator : {"VQVAE2Estimator", "HierarchicalGenerator"}
        The estimator to search.
    grid : list of dict
        One or more parameter grids, as for
        :class:`sklearn.model_selection.GridSearchCV`.
    params : dict, default={}
        Parameters shared by every candidate.
    cv : int, default=3
        Number of cross-validation folds.
    folds : {"subject", "slice"}, default="subject"
        ``"subject"`` keeps all slices of a person in the same fold
        (``GroupKFold`` over the subjects), so no candidate is scored on a person
        it was trained on; ``"slice"`` splits the slices in order (``KFold``),
        for data whose subjects are unknown.
    random_state : int, default=0
        Seed of every ``random_state`` parameter that ``params`` and ``grid``
        leave unset.
    error_score : "raise" or float, default="raise"
        What a candidate that fails to fit scores: raise the error, or this
        value (``nan`` in TOML).
    data : DataSpec, default=DataSpec()
        The images to search on.
    path : Path, optional
        The file the search was read from, for messages.

    Attributes
    ----------
    n_candidates : int
        Number of parameter combinations in the grid.

    Examples
    --------
    >>> from oasisgen.search import SearchSpec
    >>> spec = SearchSpec(
    ...     "VQVAE2Estimator", grid=[{"num_embeddings": [8, 16]}], params={"epochs": 1}
    ... )
    >>> spec.n_candidates
    2
    >>> est = spec.make_estimator()
    >>> est.epochs, est.random_state
    (1, 0)
    """

    estimator: str
    grid: list[dict[str, list[Any]]]
    params: dict[str, Any] = field(default_factory=dict)
    cv: int = 3
    folds: str = "subject"
    random_state: int = 0
    error_score: str | float = "raise"
    data: DataSpec = field(default_factory=DataSpec)
    path: Path | None = None

    @property
    def n_candidates(self) -> int:
        """Number of parameter combinations in the grid."""
        from sklearn.model_selection import ParameterGrid

        return len(ParameterGrid(self.grid))

    def make_estimator(self) -> Any:
        """Return the unfitted estimator with ``params`` and the seeds set.

        Returns
        -------
        estimator : VQVAE2Estimator or HierarchicalGenerator
        """
        estimator = _base_estimator(self.estimator)
        searched = {name for grid in self.grid for name in grid}
        seeds = {
            name: self.random_state
            for name in estimator.get_params(deep=True)
            if name.split("__")[-1] == "random_state"
            and name not in self.params
            and name not in searched
        }
        return estimator.set_params(**seeds, **self.params)

    def to_dict(self) -> dict[str, Any]:
        """Return the search as JSON-ready data, in the layout of the file.

        Returns
        -------
        spec : dict
        """
        from oasisgen.estimators.persistence import jsonable

        data = {k: v for k, v in asdict(self.data).items() if v is not None}
        return jsonable(
            {
                "estimator": self.estimator,
                "cv": self.cv,
                "folds": self.folds,
                "random_state": self.random_state,
                "error_score": self.error_score,
                "data": data,
                "params": self.params,
                "grid": self.grid,
                "path": None if self.path is None else str(self.path),
            }
        )


# --------------------------------------------------------------------- reading
def read_search_file(path: str | os.PathLike) -> SearchSpec:
    """Read and check a search file (TOML).

    Every name is checked against the estimator's parameters
    (``get_params(deep=True)``) and every candidate's values against its
    parameter constraints, so mistakes show up before anything is trained.

    Parameters
    ----------
    path : str or path-like
        The TOML file; its layout is in :mod:`oasisgen.search`.

    Returns
    -------
    spec : SearchSpec

    Raises
    ------
    FileNotFoundError
        If the file, or the data source it names, does not exist.
    ValueError
        If the file is not TOML, or names an unknown key, estimator or
        parameter, or a parameter value is out of range; the message names the
        file, the value and the valid choices.
    TypeError
        If a value has the wrong type, such as a grid entry that is not a list.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from oasisgen.search import read_search_file
    >>> text = '''
    ... estimator = "VQVAE2Estimator"
    ... cv = 2
    ... [data]
    ... image_size = 16
    ... [params]
    ... epochs = 1
    ... [grid]
    ... num_embeddings = [8, [8, 16]]
    ... '''
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     file = pathlib.Path(tmp) / "search.toml"
    ...     _ = file.write_text(text)
    ...     spec = read_search_file(file)
    >>> spec.grid, spec.n_candidates, spec.data.image_size
    ([{'num_embeddings': [8, (8, 16)]}], 2, 16)

    A misspelt parameter is named, with the file and the closest valid name:

    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     file = pathlib.Path(tmp) / "search.toml"
    ...     _ = file.write_text(text.replace("num_embeddings", "num_embedding"))
    ...     read_search_file(file)
    Traceback (most recent call last):
    ...
    ValueError: ...search.toml: [grid] names the parameter 'num_embedding', which \
VQVAE2Estimator does not have. Did you mean 'num_embeddings'? ...
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(
            f"No search file at {str(file)!r}. Write one as described in "
            "oasisgen.search (estimator, [data], [params], [grid])."
        )
    try:
        config = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{str(file)!r} is not a valid TOML file: {error}.") from None
    return _parse(config, file)


def _parse(config: Mapping[str, Any], file: Path) -> SearchSpec:
    where = str(file)
    _check_keys(config, _TOP_KEYS, where=f"{where}:", what="top-level key")
    name = config.get("estimator")
    if name not in ESTIMATORS:
        hint = ""
        if name == "PixelCNNPrior":
            hint = (
                " A PixelCNNPrior is fitted on code maps, not images: search its "
                "parameters through HierarchicalGenerator (top_prior__n_layers...)."
            )
        raise ValueError(
            f"{where}: estimator = {name!r} is not one the search can run; "
            f"choose one of {', '.join(map(repr, ESTIMATORS))}.{hint}"
        )
    cv = _integer(config.get("cv", 3), "cv", where, minimum=2)
    folds = config.get("folds", "subject")
    if folds not in FOLDS:
        raise ValueError(
            f"{where}: folds = {folds!r} is not a way to cut folds; choose "
            '"subject" (a person\'s slices stay together) or "slice".'
        )
    seed = _integer(config.get("random_state", 0), "random_state", where, minimum=0)
    error_score = config.get("error_score", "raise")
    if error_score != "raise" and (
        isinstance(error_score, bool) or not isinstance(error_score, Real)
    ):
        raise TypeError(
            f'{where}: error_score must be "raise" or a number (such as nan); '
            f"got {error_score!r}."
        )
    data = _parse_data(config.get("data", {}), file)
    known = _base_estimator(name).get_params(deep=True)
    params = _flatten(_table(config.get("params", {}), "[params]", where))
    grids = _parse_grids(config.get("grid"), where)
    for section, names in [("[params]", params), *(("[grid]", g) for g in grids)]:
        for parameter in names:
            _check_parameter(parameter, section, name, known, where)
    for grid in grids:
        both = sorted(set(grid) & set(params))
        if both:
            raise ValueError(
                f"{where}: {', '.join(map(repr, both))} is both fixed in [params] "
                "and searched in [grid]; keep it in one of them."
            )
    spec = SearchSpec(
        estimator=name,
        grid=grids,
        params={key: _from_toml(value) for key, value in params.items()},
        cv=cv,
        folds=folds,
        random_state=seed,
        error_score=float(error_score) if error_score != "raise" else "raise",
        data=data,
        path=file,
    )
    _check_values(spec, where)
    return spec


def _check_keys(
    table: Mapping[str, Any], allowed: tuple[str, ...], *, where: str, what: str
) -> None:
    for key in table:
        if key not in allowed:
            raise ValueError(
                f"{where} unknown {what} {key!r}{_did_you_mean(key, allowed)} "
                f"Valid ones: {', '.join(allowed)}."
            )


def _did_you_mean(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f". Did you mean {close[0]!r}?" if close else "."


def _integer(value: Any, name: str, where: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{where}: {name} must be an integer; got {value!r}.")
    if value < minimum:
        raise ValueError(f"{where}: {name} must be at least {minimum}; got {value}.")
    return int(value)


def _table(value: Any, section: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(
            f"{where}: {section} must be a table of name = value pairs; got {value!r}."
        )
    return value


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Turn nested tables (``[params.vqvae]``) into ``vqvae__name`` keys."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}__"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _parse_grids(value: Any, where: str) -> list[dict[str, list[Any]]]:
    if value is None:
        raise ValueError(
            f"{where}: no [grid] table; add one with a list of values for each "
            "parameter to search, such as num_embeddings = [256, 512]."
        )
    tables = value if isinstance(value, list) else [value]
    grids = []
    for table in tables:
        grid = _flatten(_table(table, "[grid]", where))
        if not grid:
            raise ValueError(f"{where}: [grid] is empty; name at least one parameter.")
        for name, values in grid.items():
            if not isinstance(values, list) or not values:
                raise TypeError(
                    f"{where}: [grid] {name} must be a non-empty list of values, "
                    f"such as {name} = [a, b]; got {values!r}. Put a single "
                    "value in [params] instead."
                )
        grids.append({k: [_from_toml(v) for v in vs] for k, vs in grid.items()})
    return grids


def _from_toml(value: Any) -> Any:
    """TOML arrays become tuples: parameters such as (top, bottom) pairs."""
    if isinstance(value, list):
        return tuple(_from_toml(v) for v in value)
    return value


def _check_parameter(
    name: str, section: str, estimator: str, known: Mapping[str, Any], where: str
) -> None:
    if name not in known:
        choices = sorted(k for k in known if not _is_estimator(known[k]))
        raise ValueError(
            f"{where}: {section} names the parameter {name!r}, which {estimator} "
            f"does not have{_did_you_mean(name, choices)} Valid parameters: "
            f"{', '.join(choices)}."
        )
    if estimator == "HierarchicalGenerator" and name in _DERIVED:
        raise ValueError(
            f"{where}: {section} sets {name!r}, but HierarchicalGenerator sets it "
            f"from {_DERIVED[name]}; remove it."
        )
    if name.split("__")[-1] in _SHARED_FOLDERS:
        raise ValueError(
            f"{where}: {section} sets {name!r}, but every candidate of a search "
            "would write into the same folder; remove it."
        )


def _is_estimator(value: Any) -> bool:
    return hasattr(value, "get_params")


def _check_values(spec: SearchSpec, where: str) -> None:
    """Check every candidate's values against the parameter constraints."""
    from sklearn.base import clone
    from sklearn.model_selection import ParameterGrid

    base = spec.make_estimator()
    for candidate in ParameterGrid(spec.grid):
        estimator = clone(base).set_params(**candidate)
        parts = [estimator, *(v for v in vars(estimator).values() if _is_estimator(v))]
        for part in parts:
            try:
                part._validate_params()
            except (ValueError, TypeError) as error:
                raise type(error)(
                    f"{where}: {error} (in the candidate {candidate})"
                ) from None


def _parse_data(value: Any, file: Path) -> DataSpec:
    where = str(file)
    table = _table(value, "[data]", where)
    _check_keys(table, _DATA_KEYS, where=f"{where}: [data] has an", what="key")
    source = table.get("source", "sample")
    if not isinstance(source, str) or not source:
        raise TypeError(
            f'{where}: [data] source must be "sample" or a path; got {source!r}.'
        )
    if source != "sample":
        resolved = (file.parent / source).resolve()
        if not resolved.exists():
            raise FileNotFoundError(
                f"{where}: [data] source = {source!r} does not exist (looked for "
                f'{str(resolved)!r}). Use "sample", an OASIS root folder, a NIfTI '
                "file or folder, or a folder of images; relative paths start at "
                "the search file's folder."
            )
        source = str(resolved)
    split = table.get("split", "train")
    if split not in SPLITS:
        raise ValueError(
            f"{where}: [data] split = {split!r}; choose one of "
            f"{', '.join(map(repr, SPLITS))}."
        )
    size = table.get("image_size")
    if isinstance(size, list) and len(size) == 2:
        size = tuple(_integer(s, "[data] image_size", where, minimum=1) for s in size)
    elif size is not None:
        size = _integer(size, "[data] image_size", where, minimum=1)
    max_slices = table.get("max_slices")
    if max_slices is not None:
        max_slices = _integer(max_slices, "[data] max_slices", where, minimum=1)
    on_error = table.get("on_error", "raise")
    if on_error not in ("raise", "skip"):
        raise ValueError(
            f"{where}: [data] on_error = {on_error!r}; choose 'raise' or 'skip'."
        )
    return DataSpec(source, split, size, max_slices, on_error)


def _base_estimator(name: str) -> Any:
    """Return a default estimator, with the parts of a generator spelled out."""
    from oasisgen.estimators import (
        HierarchicalGenerator,
        PixelCNNPrior,
        VQVAE2Estimator,
    )

    if name == "VQVAE2Estimator":
        return VQVAE2Estimator()
    return HierarchicalGenerator(
        vqvae=VQVAE2Estimator(),
        top_prior=PixelCNNPrior(),
        bottom_prior=PixelCNNPrior(),
    )
