"""Grid-search wall time: serial, two loky workers, and two workers sharing the cores.

One grid search over ``num_embeddings`` (4 candidates x 2 folds = 8 fits, then no
refit) on bundled slices, run three ways in one process:

1. ``n_jobs=1``: the fits one after the other, each with this process's threads;
2. ``n_jobs=2`` as is: two loky workers, each inheriting this process's
   ``TF_NUM_INTRAOP_THREADS`` (all the cores each: oversubscribed);
3. ``n_jobs=2`` inside :func:`oasisgen.search.worker_environment`: each worker
   gets its share of the cores.

The three searches must give the same scores; the table gives their wall times as
ratios to the serial one. Run::

    export TF_NUM_INTRAOP_THREADS=2 TF_NUM_INTEROP_THREADS=1
    .venv/bin/python benchmarks/parallel_search.py --json FILE.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _machine import write_record
from sklearn.model_selection import GridSearchCV

from oasisgen import VQVAE2Estimator
from oasisgen.datasets import load_sample
from oasisgen.search import available_cores, worker_environment

GRID = {"num_embeddings": [16, 32, 64, 128]}


def search(images: np.ndarray, n_jobs: int, epochs: int) -> tuple[float, np.ndarray]:
    """Return the wall-clock seconds of one grid search and its mean scores."""
    estimator = VQVAE2Estimator(
        embedding_dim=16,
        hidden_channels=32,
        n_res_blocks=1,
        n_res_channels=16,
        batch_size=8,
        learning_rate=1e-3,
        epochs=epochs,
        random_state=0,
    )
    grid = GridSearchCV(estimator, GRID, cv=2, n_jobs=n_jobs, refit=False)
    started = time.perf_counter()
    grid.fit(images)
    return time.perf_counter() - started, grid.cv_results_["mean_test_score"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--n-images", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    images = load_sample("train", image_size=args.image_size)[: args.n_images]
    runs = {}
    runs["serial"] = search(images, 1, args.epochs)
    runs["loky, inherited threads"] = search(images, 2, args.epochs)
    with worker_environment(2):
        runs["loky, worker_environment"] = search(images, 2, args.epochs)

    serial_seconds, serial_scores = runs["serial"]
    results = {}
    print(f"{'run':<28}{'seconds':>9}{'vs serial':>11}")
    for name, (seconds, scores) in runs.items():
        np.testing.assert_allclose(scores, serial_scores, atol=1e-5)
        results[name] = {
            "seconds": round(seconds, 2),
            "ratio_to_serial": round(seconds / serial_seconds, 3),
        }
        print(f"{name:<28}{seconds:>9.1f}{seconds / serial_seconds:>11.2f}")
    report = {
        "benchmark": "parallel_search",
        "settings": {**vars(args), "json": None, "grid": GRID, "cv": 2},
        "cores": available_cores(),
        "results": results,
    }
    write_record(args.json, report)


if __name__ == "__main__":
    main()
