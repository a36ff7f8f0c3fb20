"""Grid searches described in a small TOML file, run locally or on a Dask cluster.

A search file names the estimator, its fixed parameters, the grid to search, the
cross-validation and the data::

    estimator = "VQVAE2Estimator"   # or "HierarchicalGenerator"
    cv = 2                          # folds (the sample's train split: 3 people)
    folds = "subject"               # a person's slices stay in one fold (or "slice")
    random_state = 0                # seeds every random_state not set below

    [data]
    source = "sample"               # or an OASIS root, NIfTI files, a folder of images
    split = "train"
    image_size = 32

    [params]                        # the same for every candidate
    epochs = 2

    [grid]                          # a list of values for each parameter searched
    num_embeddings = [[16, 32], [32, 64]]
    learning_rate = [3e-4, 1e-3]

Nested parameters of :class:`~oasisgen.HierarchicalGenerator` are written as in
scikit-learn (``top_prior__n_layers = [4, 8]``) or as tables
(``[params.vqvae]``). Several grids are written as an array of tables
(``[[grid]]``). Candidates are scored with the estimator's own ``score`` (mean
SSIM for :class:`~oasisgen.VQVAE2Estimator`, log-likelihood per code for
:class:`~oasisgen.HierarchicalGenerator`).

:func:`read_search_file` reads and checks the file; :func:`run_search` runs it
with joblib's loky backend or on Dask, and writes the results.

The worker processes of any search (this one, or a ``GridSearchCV`` of your own)
share the cores without fighting: TensorFlow sizes its thread pools once per
process and by default takes all the cores, so ``n_jobs`` workers on ``n`` cores
would run ``n_jobs * n`` threads. :func:`threads_per_worker`,
:func:`configure_tensorflow` and :func:`worker_environment` give each loky worker
its share; :func:`connect` and :class:`TensorFlowWorkerPlugin` do the same on a
Dask cluster (they need the ``distributed`` extra and import Dask only when
used). These helpers were ``oasisgen.parallel``, which still re-exports them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oasisgen.search._parallel import (
    GPU_GROWTH_VARIABLE,
    INTER_OP_VARIABLE,
    INTRA_OP_VARIABLE,
    available_cores,
    configure_tensorflow,
    connect,
    threads_per_worker,
    worker_environment,
)
from oasisgen.search._run import (
    BACKENDS,
    BEST_MODEL_DIR,
    RESULTS_FILE,
    SUMMARY_FILE,
    make_search,
    run_search,
)
from oasisgen.search._spec import (
    ESTIMATORS,
    FOLDS,
    DataSpec,
    SearchSpec,
    read_search_file,
)

if TYPE_CHECKING:  # pragma: no cover
    from oasisgen.search._dask_plugin import TensorFlowWorkerPlugin

__all__ = [
    "BACKENDS",
    "BEST_MODEL_DIR",
    "ESTIMATORS",
    "FOLDS",
    "GPU_GROWTH_VARIABLE",
    "INTER_OP_VARIABLE",
    "INTRA_OP_VARIABLE",
    "RESULTS_FILE",
    "SUMMARY_FILE",
    "DataSpec",
    "SearchSpec",
    "TensorFlowWorkerPlugin",
    "available_cores",
    "configure_tensorflow",
    "connect",
    "make_search",
    "read_search_file",
    "run_search",
    "threads_per_worker",
    "worker_environment",
]


def __getattr__(name: str) -> Any:
    # the Dask worker plugin imports dask.distributed: only when asked for
    if name == "TensorFlowWorkerPlugin":
        from oasisgen.search._parallel import import_distributed

        import_distributed()  # or an ImportError that names the extra to install
        from oasisgen.search._dask_plugin import TensorFlowWorkerPlugin

        globals()[name] = TensorFlowWorkerPlugin
        return TensorFlowWorkerPlugin
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
