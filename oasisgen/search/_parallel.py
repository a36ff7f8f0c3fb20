"""Many models at once: worker processes that share the cores without fighting.

A grid search fits one model per candidate and fold, each in a worker process
(joblib's loky backend on one machine, a Dask cluster on many). TensorFlow sizes
its thread pools once, when its runtime starts in a process, and by default every
process takes all the cores: ``n_jobs`` workers on ``n`` cores then run
``n_jobs * n`` threads. The helpers here give each worker its share instead.

- :func:`threads_per_worker`: the cores split evenly among the workers.
- :func:`configure_tensorflow`: thread counts (and GPU memory growth) for the
  current process, before TensorFlow starts.
- :func:`worker_environment`: the settings for every worker process started
  inside it, for joblib's loky backend and a Dask ``LocalCluster``.
- :class:`TensorFlowWorkerPlugin`: a Dask worker plugin that calls
  :func:`configure_tensorflow` in every worker of a cluster.
- :func:`connect`: a Dask client, or a clear error within a bounded time.

The Dask parts need the ``distributed`` extra (``pip install
"oasisgen[distributed]"``); they import Dask only when used.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
from collections.abc import Iterator
from numbers import Integral
from typing import TYPE_CHECKING, Any

import joblib

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

    from oasisgen.search._dask_plugin import TensorFlowWorkerPlugin

__all__ = [
    "available_cores",
    "threads_per_worker",
    "configure_tensorflow",
    "worker_environment",
    "TensorFlowWorkerPlugin",
    "connect",
]

INTRA_OP_VARIABLE = "TF_NUM_INTRAOP_THREADS"
INTER_OP_VARIABLE = "TF_NUM_INTEROP_THREADS"
GPU_GROWTH_VARIABLE = "TF_FORCE_GPU_ALLOW_GROWTH"
_INSTALL_HINT = 'pip install "oasisgen[distributed]"'


def check_count(value: Any, name: str, *, optional: bool = False) -> int | None:
    """Return ``value`` as an int >= 1 (or None when ``optional``); else raise."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral):
        allowed = "an int >= 1 or None" if optional else "an int >= 1"
        raise TypeError(f"{name} must be {allowed}; got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be at least 1; got {value!r}.")
    return int(value)


def available_cores() -> int:
    """Return the number of CPUs this process may use.

    Takes CPU affinity (``os.sched_getaffinity``) and container CPU quotas into
    account, through :func:`joblib.cpu_count`.

    Returns
    -------
    n_cores : int
        At least 1.

    Examples
    --------
    >>> from oasisgen.search import available_cores
    >>> available_cores() >= 1
    True
    """
    return max(1, int(joblib.cpu_count()))


def threads_per_worker(n_workers: int, n_cores: int | None = None) -> int:
    """Split the cores evenly among worker processes.

    Parameters
    ----------
    n_workers : int
        Worker processes (or tasks) running at the same time, at least 1.
    n_cores : int, optional
        Cores to share; the CPUs this process may use by default (see
        :func:`available_cores`).

    Returns
    -------
    n_threads : int
        ``n_cores // n_workers``, and at least 1.

    Raises
    ------
    ValueError
        If ``n_workers`` or ``n_cores`` is below 1.

    Examples
    --------
    >>> from oasisgen.search import threads_per_worker
    >>> threads_per_worker(4, n_cores=16)
    4
    >>> threads_per_worker(3, n_cores=8)
    2
    >>> threads_per_worker(8, n_cores=2)
    1
    """
    workers = check_count(n_workers, "n_workers")
    cores = check_count(n_cores, "n_cores", optional=True) or available_cores()
    return max(1, cores // workers)


def configure_tensorflow(
    intra_op_threads: int | None = None,
    inter_op_threads: int | None = None,
    *,
    gpu_memory_growth: bool = True,
) -> None:
    """Set TensorFlow's thread pools and GPU memory growth in this process.

    TensorFlow reads these settings once, when its runtime starts (at the first
    operation), so call this first thing in a worker process. After the start,
    asking again for the values in force does nothing, and asking for others
    raises.

    Parameters
    ----------
    intra_op_threads : int, optional
        Threads inside one operation (a matrix product, a convolution). ``None``
        leaves the setting alone.
    inter_op_threads : int, optional
        Operations run side by side. ``None`` leaves the setting alone.
    gpu_memory_growth : bool, default=True
        Let TensorFlow take GPU memory as it needs it instead of all of it at the
        start, so several worker processes can share a GPU. Applies to every GPU
        the process sees; does nothing without GPUs.

    Raises
    ------
    RuntimeError
        If TensorFlow's runtime has already started with other thread counts, or
        without memory growth on a GPU.
    TypeError, ValueError
        If a thread count is not an int >= 1.

    See Also
    --------
    worker_environment : The same settings for the worker processes of joblib.
    TensorFlowWorkerPlugin : The same settings for every worker of a Dask cluster.

    Notes
    -----
    An explicit setting wins over the ``TF_NUM_INTRAOP_THREADS`` and
    ``TF_NUM_INTEROP_THREADS`` environment variables, which TensorFlow reads at the
    start when nothing is set. ``tf.config.threading.get_*_parallelism_threads``
    report 0 until something is set explicitly, whatever the variables say.

    Examples
    --------
    Run it before anything else uses TensorFlow, in a fresh worker process:

    >>> from oasisgen.search import configure_tensorflow
    >>> configure_tensorflow(intra_op_threads=2, inter_op_threads=1)  # doctest: +SKIP

    Once TensorFlow has started, other values are refused:

    >>> import tensorflow as tf
    >>> _ = tf.constant(1.0) + 1.0  # the runtime is running now
    >>> configure_tensorflow(intra_op_threads=1000)
    Traceback (most recent call last):
    ...
    RuntimeError: configure_tensorflow cannot set intra_op_threads=1000: ...
    """
    intra = check_count(intra_op_threads, "intra_op_threads", optional=True)
    inter = check_count(inter_op_threads, "inter_op_threads", optional=True)
    import tensorflow as tf

    threading = tf.config.threading
    settings = (
        (
            "intra_op_threads",
            intra,
            INTRA_OP_VARIABLE,
            threading.set_intra_op_parallelism_threads,
            threading.get_intra_op_parallelism_threads,
        ),
        (
            "inter_op_threads",
            inter,
            INTER_OP_VARIABLE,
            threading.set_inter_op_parallelism_threads,
            threading.get_inter_op_parallelism_threads,
        ),
    )
    for name, value, variable, set_value, get_value in settings:
        if value is None:
            continue
        try:
            set_value(value)
        except RuntimeError:  # the runtime has started; TF accepts only the same
            current = get_value() or _environment_count(variable)
            if current != value:
                raise RuntimeError(
                    f"configure_tensorflow cannot set {name}={value}: TensorFlow "
                    "has already started in this process with "
                    f"{current if current else 'its default'}. Call it before "
                    "anything runs a TensorFlow operation, or set "
                    f"{variable}={value} in the environment before the process "
                    "starts."
                ) from None
    if gpu_memory_growth:
        _grow_gpu_memory(tf)


def _grow_gpu_memory(tf: Any) -> None:
    """Turn memory growth on for every visible GPU (or check that it is on)."""
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the GPU is initialised; only a check is left
            if not tf.config.experimental.get_memory_growth(gpu):
                raise RuntimeError(
                    f"configure_tensorflow cannot turn memory growth on for "
                    f"{gpu.name}: TensorFlow has already initialised it. Call it "
                    "before anything runs a TensorFlow operation, or set "
                    f"{GPU_GROWTH_VARIABLE}=true in the environment before the "
                    "process starts."
                ) from None


def _environment_count(variable: str) -> int | None:
    """Return the positive int in the environment variable, if there is one."""
    try:
        value = int(os.environ.get(variable, ""))
    except ValueError:
        return None
    return value if value > 0 else None


def effective_n_jobs(n_jobs: int) -> int:
    """Turn joblib's ``n_jobs`` (-1 for all cores) into a number of workers."""
    expected = (
        "n_jobs must be a positive int, or a negative one counting back from all "
        "cores (-1 for all of them), as in joblib"
    )
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral):
        raise TypeError(f"{expected}; got {n_jobs!r}.")
    if n_jobs == 0:
        raise ValueError(f"{expected}; got 0.")
    if n_jobs < 0:
        return max(1, available_cores() + 1 + int(n_jobs))
    return int(n_jobs)


def _configure_worker(
    intra_op_threads: int, inter_op_threads: int, gpu_memory_growth: bool
) -> None:
    """Configure a loky worker; positional arguments compare equal on reuse."""
    configure_tensorflow(
        intra_op_threads, inter_op_threads, gpu_memory_growth=gpu_memory_growth
    )


@contextlib.contextmanager
def worker_environment(
    n_jobs: int,
    *,
    intra_op_threads: int | None = None,
    inter_op_threads: int = 1,
    gpu_memory_growth: bool = True,
) -> Iterator[dict[str, str]]:
    """Give the worker processes started inside the block their share of cores.

    Inside the block:

    - ``os.environ`` holds ``TF_NUM_INTRAOP_THREADS``, ``TF_NUM_INTEROP_THREADS``,
      ``OMP_NUM_THREADS`` (and ``TF_FORCE_GPU_ALLOW_GROWTH=true``), which any
      process started there inherits: a Dask ``LocalCluster``, ``subprocess``;
    - joblib uses its loky backend with ``n_jobs`` workers (for calls that leave
      ``n_jobs=None``), and each loky worker runs :func:`configure_tensorflow`
      when it starts.

    The environment is restored when the block ends, also on errors.

    Parameters
    ----------
    n_jobs : int
        Worker processes that will run at the same time; negative values count
        back from all cores, as in joblib (-1 for all of them).
    intra_op_threads : int, optional
        Threads inside one operation in each worker;
        ``threads_per_worker(n_jobs)`` by default.
    inter_op_threads : int, default=1
        Operations run side by side in each worker.
    gpu_memory_growth : bool, default=True
        Let each worker take GPU memory as it needs it.

    Yields
    ------
    environment : dict of str to str
        The variables set in ``os.environ``.

    See Also
    --------
    TensorFlowWorkerPlugin : The same settings for the workers of a running Dask
        cluster.

    Notes
    -----
    joblib keeps its loky workers between calls while their settings stay the
    same, and a worker reads ``os.environ`` only when it starts. Workers left
    over from an earlier call outside the block would miss the variables; the
    worker initializer set here changes the settings, so joblib starts new
    workers. Each worker therefore imports TensorFlow when it starts.

    ``os.environ`` belongs to the whole process: other threads see the change,
    and a TensorFlow that first starts in this process inside the block (for the
    refit of a grid search, say) takes a worker's share of the cores too. Run a
    TensorFlow operation before the block to keep this process's own settings.

    Examples
    --------
    >>> import os
    >>> from oasisgen.search import worker_environment
    >>> with worker_environment(2, intra_op_threads=3) as env:
    ...     print(env["TF_NUM_INTRAOP_THREADS"], os.environ["TF_NUM_INTEROP_THREADS"])
    3 1

    A grid search inside the block runs on two loky workers::

        with worker_environment(2):
            GridSearchCV(VQVAE2Estimator(), grid).fit(X)
    """
    n_workers = effective_n_jobs(n_jobs)
    intra = check_count(intra_op_threads, "intra_op_threads", optional=True)
    intra = intra or threads_per_worker(n_workers)
    inter = check_count(inter_op_threads, "inter_op_threads")
    environment = {
        INTRA_OP_VARIABLE: str(intra),
        INTER_OP_VARIABLE: str(inter),
        "OMP_NUM_THREADS": str(intra),
    }
    if gpu_memory_growth:
        environment[GPU_GROWTH_VARIABLE] = "true"
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        with joblib.parallel_config(
            backend="loky",
            n_jobs=n_jobs,
            inner_max_num_threads=intra,
            initializer=_configure_worker,
            initargs=(intra, inter, bool(gpu_memory_growth)),
        ):
            yield dict(environment)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ------------------------------------------------------------------------- Dask
def import_distributed() -> Any:
    try:
        import distributed
    except ImportError as error:
        raise ImportError(
            "Running on a Dask cluster needs dask.distributed, which is not "
            f"installed. Install it with: {_INSTALL_HINT}"
        ) from error
    return distributed


def __getattr__(name: str) -> Any:
    if name == "TensorFlowWorkerPlugin":
        import_distributed()
        from oasisgen.search._dask_plugin import TensorFlowWorkerPlugin

        globals()[name] = TensorFlowWorkerPlugin
        return TensorFlowWorkerPlugin
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _check_address(scheduler: Any) -> str:
    """Return the scheduler address with a scheme, or raise a ValueError."""
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise TypeError(
            "scheduler must be the address of a Dask scheduler as a string, such "
            f"as 'tcp://10.0.0.5:8786'; got {scheduler!r}."
        )
    from distributed.comm import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    address = scheduler.strip()
    example = "Expected an address such as 'tcp://10.0.0.5:8786'"
    try:
        scheme, location = parse_address(address)
        get_backend(scheme)  # an unknown scheme ("http") raises here
        if scheme in ("tcp", "tls", "ws", "wss"):
            _, port = parse_host_port(location)
            if not 0 < int(port) < 65536:
                raise ValueError(f"port {port} is not in 1..65535")
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{scheduler!r} is not a Dask scheduler address ({error}). {example}, "
            "as printed by `dask scheduler`."
        ) from None
    return address if "://" in address else f"{scheme}://{address}"


async def _identify(address: str, timeout: float) -> dict[str, Any]:
    """Ask the server at ``address`` who it is; bounded by ``timeout`` overall."""
    from distributed.comm import connect as open_comm
    from distributed.core import send_recv

    async def ask() -> dict[str, Any]:
        comm = await open_comm(address, timeout=timeout)
        try:
            return await send_recv(comm, op="identity")
        finally:
            comm.abort()

    return await asyncio.wait_for(ask(), timeout)


def _probe(address: str, timeout: float) -> dict[str, Any]:
    """Return the identity of the scheduler at ``address``, or raise clearly.

    Runs in a thread of its own, so it works with or without a running event loop
    in this thread; TensorFlow, joblib and Dask's own client are not involved.
    """
    advice = (
        "Check the address (`dask scheduler` prints it as 'Scheduler at: ...'), "
        "that the scheduler is running, and that no firewall blocks the port; or "
        "pass a longer timeout."
    )
    pool = concurrent.futures.ThreadPoolExecutor(1, "oasisgen-dask-probe")
    try:
        future = pool.submit(asyncio.run, _identify(address, timeout))
        identity = future.result(timeout=timeout + 5.0)
    except (TimeoutError, OSError) as error:
        reason = str(error) or "no answer"
        raise ConnectionError(
            f"Could not reach a Dask scheduler at {address!r} within "
            f"{timeout:g} s ({reason}). {advice}"
        ) from None
    except Exception as error:  # it answered, but not as Dask does
        raise ConnectionError(
            f"The server at {address!r} did not answer as a Dask scheduler "
            f"({type(error).__name__}: {error}). {advice}"
        ) from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # never wait for a hang
    kind = identity.get("type") if isinstance(identity, dict) else None
    if kind != "Scheduler":
        raise ConnectionError(
            f"{address!r} is a Dask {kind or 'server'}, not a scheduler. Pass the "
            "address of the scheduler that its workers connect to."
        )
    return identity


def connect(
    scheduler: str, timeout: float = 10.0, *, configure_workers: bool = True
) -> Client:
    """Connect to a running Dask scheduler, or fail clearly within ``timeout``.

    The scheduler is asked who it is first, with a deadline, so a wrong address,
    a stopped scheduler or a server that never answers gives an error instead of
    a hang. The client becomes Dask's default, so joblib's ``"dask"`` backend
    uses it.

    Parameters
    ----------
    scheduler : str
        Address of the scheduler, such as ``"tcp://10.0.0.5:8786"`` (the scheme
        defaults to ``tcp://``).
    timeout : float, default=10.0
        Seconds to wait for the scheduler to answer.
    configure_workers : bool, default=True
        Register :class:`TensorFlowWorkerPlugin` with its defaults, so every
        worker (also those that join later) sets its TensorFlow threads. Pass
        False and register your own plugin to choose the values.

    Returns
    -------
    client : distributed.Client
        Close it (``client.close()``, or use it in a ``with`` block) when done.

    Raises
    ------
    ValueError
        If ``scheduler`` is not an address.
    ConnectionError
        If no Dask scheduler answers at ``scheduler`` within ``timeout``.
    ImportError
        If dask.distributed is not installed.

    Examples
    --------
    >>> import joblib
    >>> from oasisgen.search import connect
    >>> client = connect("tcp://10.0.0.5:8786")  # doctest: +SKIP
    >>> with joblib.parallel_config(backend="dask"):  # doctest: +SKIP
    ...     search.fit(X)

    A wrong address fails at once:

    >>> connect("10.0.0.5")
    Traceback (most recent call last):
    ...
    ValueError: '10.0.0.5' is not a Dask scheduler address (...
    """
    distributed = import_distributed()
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be a number of seconds; got {timeout!r}.")
    if not timeout > 0:
        raise ValueError(
            f"timeout must be a positive number of seconds; got {timeout}."
        )
    address = _check_address(scheduler)
    _probe(address, float(timeout))
    client = distributed.Client(address, timeout=timeout)
    if configure_workers:
        from oasisgen.search._dask_plugin import TensorFlowWorkerPlugin

        try:
            client.register_plugin(TensorFlowWorkerPlugin())
        except BaseException:
            client.close()
            raise
    return client
