"""Running a search: on joblib's loky backend or on Dask, and writing its results."""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from oasisgen.search._spec import SearchSpec, read_search_file

BACKENDS = ("loky", "dask")
RESULTS_FILE = "cv_results.csv"
SUMMARY_FILE = "search.json"
BEST_MODEL_DIR = "best_model"


def run_search(
    spec: SearchSpec | str | os.PathLike,
    out: str | os.PathLike,
    *,
    backend: str = "loky",
    scheduler: str | None = None,
    n_jobs: int | None = None,
    overwrite: bool = False,
    timeout: float = 10.0,
    verbose: int = 0,
) -> Any:
    """Run a grid search and write its results to a new directory.

    The directory gets:

    - ``cv_results.csv``: one row per candidate, its parameters (``param_*``),
      the score of every fold, the mean, the rank and the times;
    - ``best_model/``: the best candidate refitted on all the data, saved with
      its ``save`` method (read it with :func:`oasisgen.load`);
    - ``search.json``: the best parameters and score, the backend and the
      search specification.

    The directory is written atomically: on an error nothing is left behind,
    and an existing one is replaced only when everything has succeeded.

    Parameters
    ----------
    spec : SearchSpec or str or path-like
        A search, or the path of a search file (read with
        :func:`read_search_file`).
    out : str or path-like
        The directory to create.
    backend : {"loky", "dask"}, default="loky"
        ``"loky"`` runs the candidates in worker processes on this machine;
        ``"dask"`` on a Dask cluster: the one at ``scheduler``, or a
        ``LocalCluster`` of worker processes started for the search.
    scheduler : str, optional
        Address of a running Dask scheduler (``backend="dask"`` only), such as
        ``"tcp://10.0.0.5:8786"``.
    n_jobs : int, optional
        Fits run at the same time. By default, as many as there are cores (loky
        or a ``LocalCluster``) or worker threads (a running scheduler), but
        never more than there are fits. -1 means all of them.
    overwrite : bool, default=False
        Replace an existing ``out``.
    timeout : float, default=10.0
        Seconds to wait for a Dask scheduler to answer and to have workers.
    verbose : int, default=0
        Passed to :class:`~sklearn.model_selection.GridSearchCV`.

    Returns
    -------
    search : sklearn.model_selection.GridSearchCV
        The fitted search.

    Raises
    ------
    FileExistsError
        If ``out`` exists and ``overwrite`` is False (checked before any work).
    ValueError
        If the backend options are wrong, or the data cannot be loaded.
    ConnectionError
        If the Dask scheduler cannot be reached within ``timeout``.
    TimeoutError
        If the Dask scheduler has no workers within ``timeout``.

    See Also
    --------
    oasisgen.search.worker_environment : How the loky workers share the cores.
    oasisgen.search.connect : How the Dask scheduler is reached.

    Examples
    --------
    >>> import oasisgen
    >>> from oasisgen.search import DataSpec, SearchSpec, run_search
    >>> tiny = {"embedding_dim": 4, "hidden_channels": 8, "n_res_channels": 4,
    ...         "n_res_blocks": 1, "epochs": 1}
    >>> spec = SearchSpec("VQVAE2Estimator", grid=[{"num_embeddings": [8, 16]}],
    ...                   params=tiny, cv=2,
    ...                   data=DataSpec(image_size=16, max_slices=16))
    >>> spec.n_candidates * spec.cv  # fits, and one more for the best model
    4
    >>> search = run_search(spec, "runs/search", n_jobs=2)  # doctest: +SKIP
    >>> oasisgen.load("runs/search/best_model")  # doctest: +SKIP
    VQVAE2Estimator(...)

    On a Dask cluster::

        run_search("search.toml", "runs/search", backend="dask",
                   scheduler="tcp://10.0.0.5:8786")
    """
    from oasisgen.estimators.persistence import jsonable, save_directory

    if not isinstance(spec, SearchSpec):
        spec = read_search_file(spec)
    if backend not in BACKENDS:
        raise ValueError(
            f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}."
        )
    if scheduler is not None and backend != "dask":
        raise ValueError(
            f"A scheduler ({scheduler!r}) is only used with backend='dask'; got "
            f"backend={backend!r}. Pass backend='dask', or leave out the scheduler."
        )
    target = Path(out)
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"Refusing to overwrite {str(target)!r}: it already exists. Pass "
            "overwrite=True to replace it, or choose another directory."
        )
    images, subjects = spec.data.load(return_subjects=True)
    groups = _fold_groups(spec, subjects)
    n_fits = spec.n_candidates * spec.cv
    started = time.perf_counter()
    if backend == "loky":
        search, workers = _fit_with_loky(spec, images, groups, n_jobs, n_fits, verbose)
    else:
        search, workers = _fit_with_dask(
            spec, images, groups, scheduler, n_jobs, n_fits, timeout, verbose
        )
    seconds = time.perf_counter() - started
    summary = {
        "estimator": spec.estimator,
        "best_params": search.best_params_,
        "best_score": float(search.best_score_),
        "best_index": int(search.best_index_),
        "n_candidates": spec.n_candidates,
        "n_samples": len(images),
        "n_subjects": len(np.unique(subjects)),
        "backend": backend,
        "scheduler": scheduler,
        "n_workers": workers,
        "seconds": round(seconds, 2),
        "spec": spec.to_dict(),
    }

    def write(folder: Path) -> None:
        _write_cv_results(search.cv_results_, folder / RESULTS_FILE)
        search.best_estimator_.save(folder / BEST_MODEL_DIR)
        summary["oasisgen_version"] = _version()
        (folder / SUMMARY_FILE).write_text(json.dumps(jsonable(summary), indent=2))

    save_directory(target, write, overwrite=overwrite)
    return search


def _version() -> str:
    import oasisgen

    return oasisgen.__version__


def _fold_groups(spec: SearchSpec, subjects: np.ndarray) -> np.ndarray | None:
    """Return the groups that keep a person's slices in one fold, if asked to."""
    if spec.folds == "slice":
        return None
    n_subjects = len(np.unique(subjects))
    if n_subjects < spec.cv:
        where = "The search" if spec.path is None else str(spec.path)
        raise ValueError(
            f"{where}: cv = {spec.cv} folds by subject need at least {spec.cv} "
            f"people, and the data has {n_subjects}. Lower cv, use data with more "
            'people, or set folds = "slice" to split the slices freely.'
        )
    return subjects


def make_search(spec: SearchSpec, n_jobs: int | None = None, verbose: int = 0) -> Any:
    """Return the unfitted ``GridSearchCV`` that ``spec`` describes.

    Its folds keep each person's slices together (``GroupKFold``; pass the
    subjects as ``groups`` to ``fit``) unless ``spec.folds == "slice"``.

    Parameters
    ----------
    spec : SearchSpec
    n_jobs : int, optional
        Passed to ``GridSearchCV``.
    verbose : int, default=0
        Passed to ``GridSearchCV``.

    Returns
    -------
    search : sklearn.model_selection.GridSearchCV

    Examples
    --------
    >>> from oasisgen.search import SearchSpec, make_search
    >>> spec = SearchSpec("VQVAE2Estimator", grid=[{"num_embeddings": [8, 16]}])
    >>> make_search(spec).cv
    GroupKFold(n_splits=3, random_state=None, shuffle=False)
    """
    from sklearn.model_selection import GridSearchCV, GroupKFold

    return GridSearchCV(
        spec.make_estimator(),
        spec.grid,
        cv=GroupKFold(spec.cv) if spec.folds == "subject" else spec.cv,
        n_jobs=n_jobs,
        error_score=spec.error_score,
        verbose=verbose,
    )


def _n_workers(n_jobs: int | None, n_fits: int) -> int:
    from oasisgen.search._parallel import effective_n_jobs

    return max(1, min(effective_n_jobs(-1 if n_jobs is None else n_jobs), n_fits))


def _fit_with_loky(
    spec: SearchSpec,
    images: np.ndarray,
    groups: np.ndarray | None,
    n_jobs: int | None,
    n_fits: int,
    verbose: int,
) -> tuple[Any, int]:
    from oasisgen.search._parallel import worker_environment

    workers = _n_workers(n_jobs, n_fits)
    search = make_search(spec, workers, verbose)
    _start_tensorflow()  # before the block changes the variables it reads at start
    with worker_environment(workers):
        search.fit(images, groups=groups)
    return search, workers


def _start_tensorflow() -> None:
    """Start TensorFlow here, so the refit in this process keeps its own threads."""
    import tensorflow as tf

    tf.config.list_logical_devices()


def _fit_with_dask(
    spec: SearchSpec,
    images: np.ndarray,
    groups: np.ndarray | None,
    scheduler: str | None,
    n_jobs: int | None,
    n_fits: int,
    timeout: float,
    verbose: int,
) -> tuple[Any, int]:
    import joblib

    with _dask_client(scheduler, n_jobs, n_fits, timeout) as (client, workers):
        search = make_search(spec, -1 if n_jobs is None else n_jobs, verbose)
        with joblib.parallel_config(backend="dask", client=client):
            search.fit(images, groups=groups)
    return search, workers


@contextlib.contextmanager
def _dask_client(
    scheduler: str | None, n_jobs: int | None, n_fits: int, timeout: float
) -> Iterator[tuple[Any, int]]:
    """Yield a client of ``scheduler``, or of a LocalCluster started for it."""
    from oasisgen.search._parallel import (
        TensorFlowWorkerPlugin,
        connect,
        import_distributed,
        threads_per_worker,
        worker_environment,
    )

    distributed = import_distributed()
    cluster, threads = None, None
    if scheduler is None:
        workers = _n_workers(n_jobs, n_fits)
        threads = threads_per_worker(workers)
        with worker_environment(workers, intra_op_threads=threads):
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
        scheduler = cluster.scheduler_address
    try:
        client = connect(scheduler, timeout, configure_workers=cluster is None)
        try:
            if cluster is not None:
                client.register_plugin(TensorFlowWorkerPlugin(threads))
            _wait_for_workers(client, scheduler, timeout)
            workers = len(client.scheduler_info()["workers"])
            yield client, workers
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def _wait_for_workers(client: Any, scheduler: str, timeout: float) -> None:
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise TimeoutError(
            f"The Dask scheduler at {scheduler!r} has no workers after "
            f"{timeout:g} s. Start some with `dask worker {scheduler}` on the "
            "machines that should run the search."
        ) from None


# --------------------------------------------------------------------- writing
def _write_cv_results(results: Mapping[str, Any], path: Path) -> None:
    """Write ``cv_results_`` as CSV: one row per candidate, one column per key."""
    columns = [name for name in results if name != "params"] + ["params"]
    n_rows = len(results["params"])
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for row in range(n_rows):
            writer.writerow([_csv_value(results[name], row) for name in columns])


def _csv_value(column: Any, row: int) -> Any:
    from oasisgen.estimators.persistence import jsonable

    if np.ma.isMaskedArray(column) and np.ma.getmaskarray(column)[row]:
        return ""
    value = column[row]
    if isinstance(value, dict | list | tuple):
        return json.dumps(jsonable(value))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value
