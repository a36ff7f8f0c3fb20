"""The former path of the worker helpers, kept so that old imports work.

The helpers that let the worker processes of a search share the cores now live
in :mod:`oasisgen.search` (with the grid searches they serve). This module
re-exports their public names (the same objects, not copies), so ``from
oasisgen.parallel import worker_environment`` keeps working; like
:mod:`oasisgen.search`, it imports Dask only when
:class:`~oasisgen.search.TensorFlowWorkerPlugin` is asked for. New code should
import from :mod:`oasisgen.search`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oasisgen.search import (
    GPU_GROWTH_VARIABLE,
    INTER_OP_VARIABLE,
    INTRA_OP_VARIABLE,
    available_cores,
    configure_tensorflow,
    connect,
    threads_per_worker,
    worker_environment,
)

if TYPE_CHECKING:  # pragma: no cover
    from oasisgen.search import TensorFlowWorkerPlugin

__all__ = [
    "available_cores",
    "threads_per_worker",
    "configure_tensorflow",
    "worker_environment",
    "TensorFlowWorkerPlugin",
    "connect",
    "GPU_GROWTH_VARIABLE",
    "INTER_OP_VARIABLE",
    "INTRA_OP_VARIABLE",
]


def __getattr__(name: str) -> Any:
    if name == "TensorFlowWorkerPlugin":
        from oasisgen import search

        return search.TensorFlowWorkerPlugin  # imports Dask, or names the extra
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
