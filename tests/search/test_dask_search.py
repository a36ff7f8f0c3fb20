"""Grid searches on a real dask.distributed cluster of worker processes."""

import json

import joblib
import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV

import oasisgen
from oasisgen import HierarchicalGenerator, PixelCNNPrior, VQVAE2Estimator
from oasisgen.search import (
    DataSpec,
    SearchSpec,
    connect,
    run_search,
    threads_per_worker,
    worker_environment,
)

from ..estimators.conftest import TINY_PRIOR, TINY_VQVAE, make_slices

distributed = pytest.importorskip("distributed")


def threads():
    import tensorflow as tf

    return (
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each on loopback, TensorFlow configured."""
    with worker_environment(2):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    with cluster, connect(cluster.scheduler_address, timeout=30.0) as client:
        yield client


def test_the_plugin_set_the_threads_of_every_worker(client):
    expected = (threads_per_worker(2), 1)
    assert client.run(threads) == dict.fromkeys(
        client.scheduler_info()["workers"], expected
    )


def test_a_grid_search_runs_on_dask_and_writes_the_best_model(client, tmp_path):
    # run_search fits GridSearchCV under joblib.parallel_config(backend="dask")
    spec = SearchSpec(
        "VQVAE2Estimator",
        grid=[{"num_embeddings": [8, 16]}],
        params={k: v for k, v in TINY_VQVAE.items() if k != "num_embeddings"},
        cv=2,
        data=DataSpec(image_size=16, max_slices=12),
    )
    address = client.scheduler.address
    with distributed.get_task_stream(client) as tasks:
        search = run_search(spec, tmp_path / "out", backend="dask", scheduler=address)
    assert len(tasks.data) >= 1  # the fits ran on the cluster
    summary = json.loads((tmp_path / "out" / "search.json").read_text())
    assert summary["backend"] == "dask" and summary["scheduler"] == address
    assert summary["n_workers"] == 2
    images = spec.data.load()
    best = oasisgen.load(tmp_path / "out" / "best_model")
    assert best.score(images) == pytest.approx(search.best_estimator_.score(images))
    # The same scores as on loky workers: tests/search/test_search_file.py; as
    # serially: tests/estimators/test_search.py.
    scores = search.cv_results_["mean_test_score"]
    assert scores.shape == (2,)
    assert np.all(np.isfinite(scores) & (scores > -1) & (scores <= 1))


@pytest.mark.slow
def test_a_generator_search_over_a_part_runs_on_dask(client):
    # A parameter of a part (top_prior__n_layers) and a frozen VQ-VAE-2, pickled to
    # the workers, fitted once and never refitted. That a search on workers scores
    # like a serial one is shown for the VQ-VAE-2 above and in
    # tests/estimators/test_search.py.
    X = make_slices(12)
    vqvae = FrozenEstimator(VQVAE2Estimator(**TINY_VQVAE).fit(X))
    generator = HierarchicalGenerator(
        vqvae=vqvae,
        top_prior=PixelCNNPrior(**TINY_PRIOR),
        bottom_prior=PixelCNNPrior(**TINY_PRIOR),
    )
    search = GridSearchCV(generator, {"top_prior__n_layers": [2]}, cv=2)
    with distributed.get_task_stream(client) as tasks:
        with joblib.parallel_config(backend="dask"):
            search.fit(X)
    assert len(tasks.data) >= 2  # the folds' fits ran on the cluster
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    best = search.best_estimator_
    assert best.top_prior_.n_layers == 2 and best.vqvae_ is vqvae.estimator
    assert best.sample(1, random_state=0).shape == (1, 16, 16, 1)


def test_a_scheduler_without_workers_is_an_error_not_a_wait(tmp_path):
    spec = SearchSpec(
        "VQVAE2Estimator",
        grid=[{"num_embeddings": [8]}],
        cv=2,
        data=DataSpec(image_size=16, max_slices=4),
    )
    with distributed.LocalCluster(
        n_workers=0,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=":0",
    ) as empty:
        address = empty.scheduler_address
        with pytest.raises(TimeoutError, match=f"{address}' has no workers after 1 s"):
            run_search(
                spec, tmp_path / "out", backend="dask", scheduler=address, timeout=1
            )
    assert not (tmp_path / "out").exists()


def test_a_worker_address_is_not_taken_for_a_scheduler(client):
    worker = next(iter(client.scheduler_info()["workers"]))
    with pytest.raises(ConnectionError, match="is a Dask Worker, not a scheduler"):
        connect(worker, timeout=5.0, configure_workers=False)


def test_new_thread_counts_are_refused_once_tensorflow_runs(client):
    client.run(lambda: float(__import__("tensorflow").constant(1.0) + 1.0))
    with pytest.raises(RuntimeError, match="TF_NUM_INTRAOP_THREADS=7"):
        client.register_plugin(
            oasisgen.search.TensorFlowWorkerPlugin(intra_op_threads=7)
        )
    # the values in force again
    client.register_plugin(oasisgen.search.TensorFlowWorkerPlugin())
