"""The estimator in scikit-learn's machinery: grid searches, pipelines, joblib."""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from oasisgen import VQVAE2Estimator
from oasisgen.preprocessing import IntensityScaler, Resize

from ..fresh_process import run_python
from .conftest import TINY_VQVAE, make_slices


@pytest.mark.slow
def test_a_grid_search_on_two_workers_scores_like_a_fit_in_this_process():
    X = make_slices(12)
    search = GridSearchCV(
        VQVAE2Estimator(**TINY_VQVAE), {"num_embeddings": [8, 16]}, cv=2, n_jobs=2
    ).fit(X)
    scores = search.cv_results_["split0_test_score"]
    assert np.all((scores > -1) & (scores <= 1))
    # The first fold of the second candidate, fitted here rather than in a worker.
    train, test = next(iter(KFold(n_splits=2).split(X)))
    here = VQVAE2Estimator(**{**TINY_VQVAE, "num_embeddings": 16}).fit(X[train])
    np.testing.assert_allclose(scores[1], here.score(X[test]), atol=1e-5)
    assert search.best_params_["num_embeddings"] in (8, 16)
    assert search.best_estimator_.transform(X).shape == (12, 20)


def test_grid_search_in_a_pipeline_after_our_preprocessing():
    X = make_slices(12, size=32) * 400.0  # raw scanner-like intensities
    pipeline = make_pipeline(
        IntensityScaler(), Resize(16), VQVAE2Estimator(**TINY_VQVAE)
    )
    search = GridSearchCV(
        pipeline,
        {"vqvae2estimator__num_embeddings": [8], "resize__image_size": [16]},
        cv=2,
    )
    search.fit(X)
    assert search.best_estimator_[-1].n_top_codes_ == 8  # routed through the pipeline
    assert search.best_estimator_.transform(X).shape == (12, 20)


def test_joblib_round_trip_in_a_fresh_process(tmp_path):
    X = make_slices(6)
    est = VQVAE2Estimator(**TINY_VQVAE).fit(X)
    joblib.dump(est, tmp_path / "est.joblib")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "codes.npy", est.transform(X))
    script = (
        "import joblib, numpy as np, sys\n"
        "est = joblib.load(sys.argv[1] + '/est.joblib')\n"
        "X = np.load(sys.argv[1] + '/X.npy')\n"
        "assert (est.transform(X) == np.load(sys.argv[1] + '/codes.npy')).all()\n"
        "print(type(est).__name__, len(est.history_['loss']))\n"
    )
    result = run_python(script, tmp_path)
    assert result.stdout.strip() == "VQVAE2Estimator 1"
