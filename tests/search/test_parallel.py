"""Worker processes that share the cores: thread counts, environments, Dask clients."""

import os
import socket
import sys
import threading
import time

import joblib
import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV

from oasisgen import search
from oasisgen.search import (
    available_cores,
    configure_tensorflow,
    connect,
    threads_per_worker,
    worker_environment,
)

from ..fresh_process import last_json_line, run_python
from ..network import free_ports


# ------------------------------------------------------------ threads_per_worker
@pytest.mark.parametrize(
    "n_workers, n_cores, expected",
    [(1, 8, 8), (2, 8, 4), (3, 8, 2), (8, 8, 1), (16, 8, 1), (2, 1, 1)],
    ids=["one", "even", "uneven", "as-many", "more-workers-than-cores", "one-core"],
)
def test_threads_per_worker_splits_the_cores_evenly(n_workers, n_cores, expected):
    assert threads_per_worker(n_workers, n_cores=n_cores) == expected


def test_threads_per_worker_defaults_to_the_cores_this_process_may_use():
    assert threads_per_worker(1) == available_cores() >= 1
    if hasattr(os, "sched_getaffinity"):
        assert available_cores() <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_workers": 0}, ValueError, "n_workers must be at least 1; got 0"),
        ({"n_workers": 2, "n_cores": 0}, ValueError, "n_cores must be at least 1"),
        ({"n_workers": 2.5}, TypeError, "n_workers must be an int >= 1; got 2.5"),
        ({"n_workers": True}, TypeError, "n_workers must be an int"),
    ],
    ids=["no-workers", "no-cores", "float", "bool"],
)
def test_threads_per_worker_rejects_bad_counts(kwargs, error, match):
    with pytest.raises(error, match=match):
        threads_per_worker(**kwargs)


# ----------------------------------------------------------- configure_tensorflow
FRESH_PROCESS = """
import json, os
for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    os.environ.pop(name, None)
import tensorflow as tf
from oasisgen.search import configure_tensorflow

threading = tf.config.threading
report = {"unset": [threading.get_intra_op_parallelism_threads(),
                    threading.get_inter_op_parallelism_threads()]}
configure_tensorflow(3, 2)
report["set"] = [threading.get_intra_op_parallelism_threads(),
                 threading.get_inter_op_parallelism_threads()]
tf.constant(1.0) + 1.0  # the runtime starts here
configure_tensorflow(3, 2)  # the same values: nothing to do
report["errors"] = []
for kwargs in ({"intra_op_threads": 4}, {"inter_op_threads": 5}):
    try:
        configure_tensorflow(**kwargs)
    except RuntimeError as error:
        report["errors"].append(str(error))
report["after"] = [threading.get_intra_op_parallelism_threads(),
                   threading.get_inter_op_parallelism_threads()]
print(json.dumps(report))
"""


def test_configure_tensorflow_in_a_fresh_process():
    report = last_json_line(run_python(FRESH_PROCESS, timeout=120).stdout)
    assert report["unset"] == [0, 0]  # TensorFlow reports 0 until set explicitly
    assert report["set"] == [3, 2] == report["after"]
    intra, inter = report["errors"]
    assert "cannot set intra_op_threads=4" in intra
    assert "already started in this process with 3" in intra
    assert "TF_NUM_INTRAOP_THREADS=4" in intra
    assert (
        "cannot set inter_op_threads=5" in inter and "TF_NUM_INTEROP_THREADS=5" in inter
    )


@pytest.fixture
def started_tensorflow():
    """TensorFlow's runtime running in this process, as the other tests leave it."""
    import tensorflow as tf

    tf.constant(1.0) + 1.0
    return tf


def _in_force(variable, tf_getter):
    return tf_getter() or int(os.environ.get(variable, "0")) or None


def test_after_the_start_the_values_from_the_environment_are_accepted(
    started_tensorflow,
):
    threading = started_tensorflow.config.threading
    intra = _in_force(
        "TF_NUM_INTRAOP_THREADS", threading.get_intra_op_parallelism_threads
    )
    inter = _in_force(
        "TF_NUM_INTEROP_THREADS", threading.get_inter_op_parallelism_threads
    )
    if intra is None or inter is None:
        pytest.skip("this process runs TensorFlow's default thread counts")
    configure_tensorflow(intra, inter)  # what is in force: no error
    with pytest.raises(RuntimeError, match=f"started in this process with {intra}"):
        configure_tensorflow(intra + 100)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"intra_op_threads": 0}, ValueError, "intra_op_threads must be at least 1"),
        ({"inter_op_threads": "2"}, TypeError, "inter_op_threads must be an int"),
    ],
    ids=["zero", "string"],
)
def test_configure_tensorflow_rejects_bad_counts(kwargs, error, match):
    with pytest.raises(error, match=match):
        configure_tensorflow(**kwargs)


class _FakeGPU:
    name = "/physical_device:GPU:0"


@pytest.fixture
def one_gpu(started_tensorflow, monkeypatch):
    """Pretend TensorFlow sees one GPU; record memory-growth calls."""
    tf = started_tensorflow
    calls = {"set": [], "growth": False, "initialised": False}

    def set_memory_growth(device, enable):
        if calls["initialised"]:
            raise RuntimeError("Physical devices cannot be modified after init")
        calls["set"].append((device.name, enable))

    monkeypatch.setattr(
        tf.config,
        "list_physical_devices",
        lambda kind=None: [_FakeGPU()] if kind == "GPU" else [],
    )
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", set_memory_growth)
    monkeypatch.setattr(
        tf.config.experimental, "get_memory_growth", lambda device: calls["growth"]
    )
    return calls


def test_memory_growth_is_turned_on_for_every_gpu(one_gpu):
    configure_tensorflow(gpu_memory_growth=False)
    assert one_gpu["set"] == []
    configure_tensorflow()
    assert one_gpu["set"] == [("/physical_device:GPU:0", True)]


def test_memory_growth_on_an_initialised_gpu_is_checked(one_gpu):
    one_gpu["initialised"] = True
    with pytest.raises(RuntimeError, match="TF_FORCE_GPU_ALLOW_GROWTH=true"):
        configure_tensorflow()
    one_gpu["growth"] = True  # already on: nothing to do
    configure_tensorflow()


# ------------------------------------------------------------ worker_environment
VARIABLES = (
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "OMP_NUM_THREADS",
    "TF_FORCE_GPU_ALLOW_GROWTH",
)


def test_worker_environment_sets_and_restores_the_variables(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("TF_FORCE_GPU_ALLOW_GROWTH", raising=False)
    before = {name: os.environ.get(name) for name in VARIABLES}
    with worker_environment(2, intra_op_threads=3) as env:
        assert env == {
            "TF_NUM_INTRAOP_THREADS": "3",
            "TF_NUM_INTEROP_THREADS": "1",
            "OMP_NUM_THREADS": "3",
            "TF_FORCE_GPU_ALLOW_GROWTH": "true",
        }
        assert {name: os.environ[name] for name in VARIABLES} == env
    assert {name: os.environ.get(name) for name in VARIABLES} == before
    with pytest.raises(KeyError), worker_environment(-1, gpu_memory_growth=False):
        assert "TF_FORCE_GPU_ALLOW_GROWTH" not in os.environ
        assert os.environ["TF_NUM_INTRAOP_THREADS"] == "1"  # all cores: 1 each
        raise KeyError("an error inside the block")
    assert {name: os.environ.get(name) for name in VARIABLES} == before


@pytest.mark.parametrize(
    "n_jobs, error",
    [(0, ValueError), (1.5, TypeError), (None, TypeError)],
    ids=["zero", "float", "none"],
)
def test_worker_environment_rejects_bad_n_jobs(n_jobs, error):
    with pytest.raises(error, match=f"n_jobs must be a positive int.*got {n_jobs}"):
        with worker_environment(n_jobs):
            pass


class ThreadProbe(BaseEstimator):
    """Scores what a worker process sees: 100 * intra + 10 * inter + env agrees."""

    def __init__(self, parent_pid=0, c=0):
        self.parent_pid = parent_pid
        self.c = c

    def fit(self, X, y=None):
        return self

    def score(self, X, y=None):
        import tensorflow as tf

        if os.getpid() == self.parent_pid:
            return -1.0
        intra = tf.config.threading.get_intra_op_parallelism_threads()
        inter = tf.config.threading.get_inter_op_parallelism_threads()
        agrees = os.environ.get("TF_NUM_INTRAOP_THREADS") == str(intra)
        return float(100 * intra + 10 * inter + agrees)


def test_loky_workers_of_a_grid_search_get_the_settings():
    X = np.zeros((4, 1))
    # Leave loky workers from an earlier call, started without the settings:
    # joblib would reuse them if nothing else changed.
    joblib.Parallel(n_jobs=2)(joblib.delayed(os.getpid)() for _ in range(2))
    search = GridSearchCV(ThreadProbe(parent_pid=os.getpid()), {"c": [0, 1]}, cv=2)
    with worker_environment(2, intra_op_threads=3):
        search.set_params(n_jobs=2).fit(X)
    scores = [search.cv_results_[f"split{i}_test_score"] for i in range(2)]
    np.testing.assert_array_equal(np.concatenate(scores), 100 * 3 + 10 * 1 + 1)


# ----------------------------------------------------------------------- connect
# Generous slack for a loaded machine (the suite runs tests side by side); a hang
# would take far longer.
SLACK = 10.0


def test_connect_to_a_port_nobody_listens_on_fails_within_the_timeout():
    pytest.importorskip("distributed")  # imported before the clock starts
    address = f"tcp://127.0.0.1:{free_ports()[0]}"
    started = time.perf_counter()
    with pytest.raises(ConnectionError, match=f"{address}.*within 1 s.*dask scheduler"):
        connect(address, timeout=1.0)
    assert time.perf_counter() - started < 1.0 + SLACK


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def accept():
        with server:
            while True:
                try:
                    accepted.append(server.accept()[0])
                except OSError:
                    return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for sock in accepted:
        sock.close()


def test_connect_to_a_server_that_never_answers_does_not_hang(silent_server):
    pytest.importorskip("distributed")
    started = time.perf_counter()
    with pytest.raises(ConnectionError, match="Could not reach a Dask scheduler"):
        connect(silent_server, timeout=1.0)
    assert time.perf_counter() - started < 1.0 + SLACK


@pytest.mark.parametrize(
    "address, match",
    [
        ("10.0.0.5", "missing port"),
        ("http://10.0.0.5:8786", "unknown address scheme 'http'"),
        ("tcp://127.0.0.1:99999", "port 99999 is not in 1..65535"),
    ],
    ids=["no-port", "http", "port-out-of-range"],
)
def test_connect_rejects_malformed_addresses_at_once(address, match):
    started = time.perf_counter()
    with pytest.raises(ValueError, match=f"is not a Dask scheduler address.*{match}"):
        connect(address, timeout=30.0)
    assert time.perf_counter() - started < SLACK  # not the 30 s of the timeout


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"scheduler": 8786}, TypeError, "scheduler must be the address"),
        ({"scheduler": "tcp://a:1", "timeout": 0}, ValueError, "timeout must be a"),
        ({"scheduler": "tcp://a:1", "timeout": "5"}, TypeError, "timeout must be a"),
    ],
    ids=["int-address", "zero-timeout", "string-timeout"],
)
def test_connect_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        connect(**kwargs)


def test_the_dask_parts_name_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    match = r'pip install "oasisgen\[distributed\]"'
    with pytest.raises(ImportError, match=match):
        connect("tcp://127.0.0.1:8786")
    with pytest.raises(ImportError, match=match):
        search.__getattr__("TensorFlowWorkerPlugin")
