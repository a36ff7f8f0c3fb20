"""One model on several devices or hosts: the strategies behind ``distribute``.

The Keras-backed estimators take ``distribute=None | "mirrored" | "multi_worker"``
and build, compile and train their model inside the ``tf.distribute`` strategy it
names:

- ``"mirrored"``: :class:`tf.distribute.MirroredStrategy`, one replica per local
  GPU (or logical device), for several GPUs on one host;
- ``"multi_worker"``: :class:`tf.distribute.MultiWorkerMirroredStrategy`, across
  the hosts that the ``TF_CONFIG`` environment variable describes.

TensorFlow allows one multi-worker strategy per process, created before the
process runs its first TensorFlow operation. :func:`start_multi_worker` creates it
(once; later calls return the same strategy): call it at the top of a script that
loads data with TensorFlow before fitting. Every worker runs the same script; the
*chief* (:func:`is_chief`) is the one that writes the checkpoints and saved
models, while the others write theirs into scratch folders that are removed at
once, as TensorFlow recommends, so that every worker runs the same operations.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

import tensorflow as tf

__all__ = [
    "DISTRIBUTE_OPTIONS",
    "TFConfigError",
    "is_chief",
    "make_strategy",
    "read_tf_config",
    "start_multi_worker",
    "writes_files",
]

DISTRIBUTE_OPTIONS = ("mirrored", "multi_worker")
"""The values ``distribute`` may take besides ``None``."""

_ADDRESS = re.compile(r"^\[?[\w.:-]+\]?:\d{1,5}$")
_multi_worker: tf.distribute.MultiWorkerMirroredStrategy | None = None
# One mirrored strategy per process: each new one numbers its collective
# operations from the same start, and TensorFlow keeps the shapes it first saw
# under each number, so a second strategy's model of other shapes would fail.
_mirrored: tf.distribute.MirroredStrategy | None = None


class TFConfigError(ValueError):
    """``TF_CONFIG`` does not describe a cluster and this process's task in it.

    Examples
    --------
    >>> from oasisgen.nn.distribute import TFConfigError
    >>> issubclass(TFConfigError, ValueError)
    True
    """


def read_tf_config(environ: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """Read and check the ``TF_CONFIG`` that a multi-worker run is started with.

    Parameters
    ----------
    environ : mapping, optional
        Where to look for ``TF_CONFIG``; ``os.environ`` by default.

    Returns
    -------
    config : dict or None
        ``{"cluster": {task_type: [address, ...]}, "task": {"type": ...,
        "index": ...}}``; None when ``TF_CONFIG`` is not set or empty, which
        TensorFlow takes as a cluster of one worker.

    Raises
    ------
    TFConfigError
        If ``TF_CONFIG`` is not JSON, lacks ``cluster`` or ``task``, names a task
        the cluster does not have, or gives an address that is not ``host:port``.

    Examples
    --------
    >>> config = read_tf_config({"TF_CONFIG": '''{
    ...     "cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
    ...     "task": {"type": "worker", "index": 1}}'''})
    >>> config["task"]
    {'type': 'worker', 'index': 1}
    >>> read_tf_config({}) is None
    True
    """
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "")
    if not text.strip():
        return None
    example = (
        'Expected e.g. {"cluster": {"worker": ["host0:2222", "host1:2222"]}, '
        '"task": {"type": "worker", "index": 0}}, with this process\'s own index.'
    )

    def fail(problem: str) -> TFConfigError:
        return TFConfigError(f"TF_CONFIG={text!r} {problem}. {example}")

    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise fail(f"is not JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(config, dict):
        raise fail("is not a JSON object")
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise fail('has no "cluster" object mapping task types to address lists')
    for task_type, addresses in cluster.items():
        if not isinstance(addresses, list) or not addresses:
            raise fail(f'lists no addresses for task type "{task_type}"')
        for address in addresses:
            if not isinstance(address, str) or not _ADDRESS.match(address):
                raise fail(
                    f'gives the address {address!r} for "{task_type}", not host:port'
                )
    if not isinstance(task, dict):
        raise fail('has no "task" object saying which task this process is')
    task_type, index = task.get("type"), task.get("index")
    if task_type not in cluster:
        raise fail(
            f"names the task type {task_type!r}, which its cluster does not have "
            f"(it has {sorted(cluster)})"
        )
    if index is None:
        raise fail("gives no task index")
    if isinstance(index, bool) or not isinstance(index, int):
        raise fail(f"gives the task index {index!r}, not an integer")
    if not 0 <= index < len(cluster[task_type]):
        raise fail(
            f'gives the task index {index}, but "{task_type}" has '
            f"{len(cluster[task_type])} address(es): indices 0 to "
            f"{len(cluster[task_type]) - 1}"
        )
    return {"cluster": cluster, "task": {"type": task_type, "index": index}}


def is_chief(environ: Mapping[str, str] | None = None) -> bool:
    """Say whether this process is the chief of its multi-worker cluster.

    The chief is the task of type ``"chief"``, or worker 0 when the cluster has no
    chief; a process without ``TF_CONFIG`` is a cluster of one, and its chief.

    Parameters
    ----------
    environ : mapping, optional
        Where to look for ``TF_CONFIG``; ``os.environ`` by default.

    Returns
    -------
    chief : bool

    Examples
    --------
    >>> def tf_config(index):
    ...     cluster = {"worker": ["localhost:2222", "localhost:2223"]}
    ...     task = {"type": "worker", "index": index}
    ...     return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": task})}
    >>> is_chief(tf_config(0)), is_chief(tf_config(1)), is_chief({})
    (True, False, True)
    """
    config = read_tf_config(environ)
    if config is None:
        return True
    task = config["task"]
    if "chief" in config["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and task["index"] == 0


def start_multi_worker() -> tf.distribute.MultiWorkerMirroredStrategy:
    """Create this process's multi-worker strategy, or return the one it has.

    Call it at the top of a script that runs on every worker, before anything
    runs a TensorFlow operation (loading data with :mod:`oasisgen.datasets` may);
    estimators with ``distribute="multi_worker"`` then train in it. ``TF_CONFIG``
    is checked first.

    Returns
    -------
    strategy : tf.distribute.MultiWorkerMirroredStrategy

    Raises
    ------
    TFConfigError
        If ``TF_CONFIG`` is malformed.
    RuntimeError
        If TensorFlow has already started in this process without the strategy.

    Examples
    --------
    A process without ``TF_CONFIG`` is a cluster of one worker:

    >>> import subprocess, sys
    >>> script = (
    ...     "from oasisgen.nn.distribute import start_multi_worker;"
    ...     "print(start_multi_worker().num_replicas_in_sync)"
    ... )
    >>> env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    >>> run = subprocess.run([sys.executable, "-c", script], env=env,
    ...                      capture_output=True, text=True)
    >>> run.stdout.strip()
    '1'
    """
    global _multi_worker
    if _multi_worker is None:
        read_tf_config()
        try:
            _multi_worker = tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as error:
            raise RuntimeError(
                "TensorFlow started in this process before its multi-worker "
                f"strategy could be created ({error}). Call "
                "oasisgen.nn.distribute.start_multi_worker() at the top of the script, "
                "before loading data or running anything else with TensorFlow."
            ) from error
    return _multi_worker


def make_strategy(distribute: str | None) -> tf.distribute.Strategy:
    """Return the ``tf.distribute`` strategy named by an estimator's ``distribute``.

    Parameters
    ----------
    distribute : {None, "mirrored", "multi_worker"}
        ``None`` uses the current (default) strategy; ``"mirrored"`` replicates the
        model on every local GPU (or logical device), with one strategy shared
        by every estimator of the process; ``"multi_worker"`` returns
        :func:`start_multi_worker`'s strategy, across the hosts of ``TF_CONFIG``.

    Returns
    -------
    strategy : tf.distribute.Strategy

    Raises
    ------
    ValueError
        If ``distribute`` is none of these.

    Examples
    --------
    >>> make_strategy(None).num_replicas_in_sync
    1
    >>> make_strategy("ring")
    Traceback (most recent call last):
    ...
    ValueError: distribute must be None, 'mirrored' or 'multi_worker'; got 'ring'.
    """
    if distribute is None:
        return tf.distribute.get_strategy()
    if distribute == "mirrored":
        global _mirrored
        if _mirrored is None:
            _mirrored = tf.distribute.MirroredStrategy()
        return _mirrored
    if distribute == "multi_worker":
        return start_multi_worker()
    raise ValueError(
        f"distribute must be None, 'mirrored' or 'multi_worker'; got {distribute!r}."
    )


def writes_files(distribute: str | None) -> bool:
    """Say whether an estimator trained with ``distribute`` writes files here.

    Only the chief of a multi-worker run writes checkpoints and saved models;
    everything else always does.

    Parameters
    ----------
    distribute : {None, "mirrored", "multi_worker"}

    Returns
    -------
    writes : bool

    Examples
    --------
    >>> writes_files(None), writes_files("mirrored")
    (True, True)
    """
    return distribute != "multi_worker" or is_chief()
