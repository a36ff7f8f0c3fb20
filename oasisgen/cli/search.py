"""``oasisgen search``: a grid search described by a TOML file, on loky or Dask."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NAME = "search"


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``search`` command to the subcommands of ``oasisgen``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers`` returned.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser of ``oasisgen search``.
    """
    search = subparsers.add_parser(
        NAME,
        help="run a grid search described by a TOML file",
        description="Run the grid search that SEARCH_FILE describes (estimator, "
        "data, fixed parameters, grid, cv) and write cv_results.csv, the best "
        "model (best_model/) and search.json into --out. See the user guide's "
        "'GPUs and clusters' page for the file format.",
    )
    search.add_argument("search_file", type=Path, help="the search, in TOML")
    search.add_argument("--out", type=Path, required=True, help="directory to create")
    search.add_argument(
        "--backend",
        choices=["loky", "dask"],
        default=None,
        help="loky: worker processes on this machine (the default without "
        "--scheduler); dask: a Dask cluster, the one at --scheduler or a local one",
    )
    search.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786",
    )
    search.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        help="fits at the same time (default: one per core or Dask worker thread)",
    )
    search.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the Dask scheduler and its workers (default: 10)",
    )
    search.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out"
    )
    search.add_argument("--quiet", action="store_true", help="print only the result")
    return search


def run(args: argparse.Namespace) -> Any:
    """Run the search of ``args.search_file`` and write its results to ``--out``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``oasisgen search`` arguments.

    Returns
    -------
    search : sklearn.model_selection.GridSearchCV
        The fitted search.
    """
    from oasisgen.search import read_search_file, run_search

    spec = read_search_file(args.search_file)
    backend = args.backend or ("loky" if args.scheduler is None else "dask")
    if not args.quiet:
        print(
            f"oasisgen: {spec.n_candidates} candidates x {spec.cv} folds of "
            f"{spec.estimator} on {backend}"
            + (f" at {args.scheduler}" if args.scheduler else "")
        )
    search = run_search(
        spec,
        args.out,
        backend=backend,
        scheduler=args.scheduler,
        n_jobs=args.n_jobs,
        overwrite=args.overwrite,
        timeout=args.timeout,
        verbose=0 if args.quiet else 1,
    )
    print(
        f"oasisgen: best score {search.best_score_:.4f} with {search.best_params_}; "
        f"results in {args.out}"
    )
    return search
