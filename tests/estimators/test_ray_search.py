"""Grid searches on Ray, through joblib's Ray backend (the ``ray`` extra).

Skipped where Ray is not installed, as in CI. Ray runs locally on 2 CPUs, with every
service on 127.0.0.1 and no dashboard.
"""

import os

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from oasisgen import VQVAE2Estimator

from .conftest import TINY_VQVAE, make_slices

# Ray decides when it is imported whether its services listen on the machine's
# address (the default on Linux) or on 127.0.0.1 only: set this before importing it.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray")

# TensorFlow reads these when it starts: one thread each for the 2 workers on 2 CPUs.
WORKER_THREADS = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


@pytest.fixture(scope="module")
def ray_backend():
    from ray.util.joblib import register_ray

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RAY_ADDRESS", raising=False)
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {**WORKER_THREADS, "TF_CPP_MIN_LOG_LEVEL": "2"}},
        )
        try:
            register_ray()
            yield
        finally:
            ray.shutdown()


def test_ray_grid_search_matches_the_serial_one(ray_backend):
    def pid(estimator, X, y=None):
        return os.getpid()

    X = make_slices(12)
    grid = {"num_embeddings": [8, 16]}
    scoring = {"score": lambda estimator, X, y=None: estimator.score(X), "pid": pid}
    serial = GridSearchCV(
        VQVAE2Estimator(**TINY_VQVAE), grid, cv=2, scoring=scoring, refit="score"
    ).fit(X)
    # Without n_jobs (here or in GridSearchCV) joblib runs the fits in this process.
    with joblib.parallel_config(backend="ray", n_jobs=2):
        on_ray = GridSearchCV(
            VQVAE2Estimator(**TINY_VQVAE), grid, cv=2, scoring=scoring, refit="score"
        ).fit(X)
    np.testing.assert_allclose(
        on_ray.cv_results_["mean_test_score"],
        serial.cv_results_["mean_test_score"],
        atol=1e-5,
    )
    pids = {on_ray.cv_results_[f"split{i}_test_pid"][j] for i in (0, 1) for j in (0, 1)}
    assert os.getpid() not in pids
    assert set(serial.cv_results_["split0_test_pid"]) == {os.getpid()}
    assert on_ray.best_estimator_.transform(X).shape == (12, 20)


def test_the_thread_settings_reach_the_ray_workers(ray_backend):
    def environment():
        return os.getpid(), {name: os.environ.get(name) for name in WORKER_THREADS}

    with joblib.parallel_config(backend="ray", n_jobs=2):
        seen = joblib.Parallel()(joblib.delayed(environment)() for _ in range(4))
    assert os.getpid() not in {pid for pid, _ in seen}
    assert all(env == WORKER_THREADS for _, env in seen)
