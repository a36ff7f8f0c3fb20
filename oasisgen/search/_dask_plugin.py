"""The Dask worker plugin of :mod:`oasisgen.search`; imports dask.distributed.

Kept apart so that ``oasisgen.search`` imports without Dask; reach the class as
``oasisgen.search.TensorFlowWorkerPlugin``.
"""

from __future__ import annotations

import os
from typing import Any

from distributed import WorkerPlugin

from oasisgen.search._parallel import (
    INTRA_OP_VARIABLE,
    check_count,
    configure_tensorflow,
    threads_per_worker,
)


class TensorFlowWorkerPlugin(WorkerPlugin):
    """Set TensorFlow's threads (and GPU memory growth) in every Dask worker.

    Register it on a client; Dask runs :func:`~oasisgen.search.configure_tensorflow`
    in each worker process when the plugin is registered and in every worker
    that joins later, before the worker runs any task.

    Parameters
    ----------
    intra_op_threads : int, optional
        Threads inside one operation. By default: the worker's
        ``TF_NUM_INTRAOP_THREADS`` environment variable if set, else the cores of
        the worker's machine split among the worker's task threads
        (``threads_per_worker(nthreads)``). That default suits one worker process
        per machine; with several per machine, pass ``cores // (processes *
        threads)`` here or set the variable when starting the workers.
    inter_op_threads : int, default=1
        Operations run side by side.
    gpu_memory_growth : bool, default=True
        Let each worker take GPU memory as it needs it, so workers can share a GPU.

    See Also
    --------
    oasisgen.search.connect : Connects and registers this plugin.

    Notes
    -----
    A worker whose TensorFlow already started with other thread counts fails the
    registration with a ``RuntimeError``; restart the workers
    (``client.restart()``) to apply new values.

    Examples
    --------
    >>> from oasisgen.search import TensorFlowWorkerPlugin
    >>> plugin = TensorFlowWorkerPlugin(intra_op_threads=2)
    >>> plugin.name, plugin.intra_op_threads, plugin.inter_op_threads
    ('oasisgen-tensorflow', 2, 1)

    On a cluster::

        client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
        client.register_plugin(TensorFlowWorkerPlugin(intra_op_threads=1))
    """

    name = "oasisgen-tensorflow"

    def __init__(
        self,
        intra_op_threads: int | None = None,
        inter_op_threads: int = 1,
        *,
        gpu_memory_growth: bool = True,
    ) -> None:
        self.intra_op_threads = check_count(
            intra_op_threads, "intra_op_threads", optional=True
        )
        self.inter_op_threads = check_count(inter_op_threads, "inter_op_threads")
        self.gpu_memory_growth = bool(gpu_memory_growth)

    def threads_for(self, worker: Any) -> int:
        """Return the intra-op threads for ``worker`` (see ``intra_op_threads``).

        Parameters
        ----------
        worker : distributed.Worker
            The worker being set up.

        Returns
        -------
        n_threads : int
        """
        if self.intra_op_threads is not None:
            return self.intra_op_threads
        try:
            from_environment = int(os.environ.get(INTRA_OP_VARIABLE, ""))
        except ValueError:
            from_environment = 0
        if from_environment > 0:
            return from_environment
        return threads_per_worker(max(1, int(worker.state.nthreads)))

    def setup(self, worker: Any) -> None:
        """Configure TensorFlow in the worker's process.

        Parameters
        ----------
        worker : distributed.Worker
            The worker being set up.
        """
        configure_tensorflow(
            self.threads_for(worker),
            self.inter_op_threads,
            gpu_memory_growth=self.gpu_memory_growth,
        )
