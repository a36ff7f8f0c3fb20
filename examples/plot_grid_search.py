"""
Choosing the codebook size with a grid search
=============================================

:class:`~oasisgen.VQVAE2Estimator` is a scikit-learn transformer whose ``score`` is
the mean SSIM of its reconstructions, so :class:`~sklearn.model_selection.GridSearchCV`
can compare configurations without a custom scorer. Here a pipeline resizes the
slices with :class:`oasisgen.preprocessing.Resize` before the VQ-VAE-2, and a
three-fold search, one person held out per fold, compares two codebook sizes.
"""

# %%
# Size of the run
# ---------------
# Each configuration is fitted once per fold and the best one once more on all the
# data: seven fits. ``OASISGEN_EXAMPLES_FAST=1`` (set by the documentation build)
# makes each fit a single epoch and the folds two (five fits).
import os

FAST = os.environ.get("OASISGEN_EXAMPLES_FAST") == "1"
IMAGE_SIZE = 32
EPOCHS = 1 if FAST else 30
N_SPLITS = 2 if FAST else 3

# %%
# Slices and subjects
# -------------------
# All 232 slices of the four people in the bundled sample, with the subject of each
# slice. The subjects are passed as ``groups`` to
# :class:`~sklearn.model_selection.GroupKFold`, so a fold never scores a model on a
# head it was trained on.
from sklearn.model_selection import GroupKFold

from oasisgen.datasets import load_sample

X, subjects = load_sample("all", image_size=64, return_subjects=True)
if FAST:  # every third slice: the same four people, a third of the work
    X, subjects = X[::3], subjects[::3]
print(X.shape, sorted(set(subjects)))

# %%
# A pipeline and a grid
# ---------------------
# Parameters of a pipeline step are addressed as ``<step name>__<parameter>``: the
# step is named ``vqvae`` here, so the codebook size is ``vqvae__num_embeddings``
# (``make_pipeline`` would name it ``vqvae2estimator``). Sizes may also be
# ``(top, bottom)`` pairs such as ``(64, 256)``. ``n_jobs=2`` would run two fits at
# once in joblib worker processes; on one shared CPU that gains little, so this
# example runs them one after another.
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from oasisgen import VQVAE2Estimator
from oasisgen.preprocessing import Resize

pipeline = Pipeline(
    [
        ("resize", Resize(IMAGE_SIZE)),
        (
            "vqvae",
            VQVAE2Estimator(
                embedding_dim=8,
                hidden_channels=32,
                n_res_blocks=1,
                n_res_channels=16,
                learning_rate=2e-3,
                batch_size=16,
                epochs=EPOCHS,
                random_state=0,
            ),
        ),
    ]
)
search = GridSearchCV(
    pipeline,
    param_grid={"vqvae__num_embeddings": [16, 64]},
    cv=GroupKFold(n_splits=N_SPLITS),
    n_jobs=1,
)
search.fit(X, groups=subjects)
print(f"best: {search.best_params_}, mean SSIM {search.best_score_:.3f}")

# %%
# The results table
# -----------------
# ``cv_results_`` holds, for each configuration, the score on every held-out person,
# their mean and spread, and the fit times.
results = search.cv_results_
for i, params in enumerate(results["params"]):
    folds = [results[f"split{k}_test_score"][i] for k in range(N_SPLITS)]
    print(
        f"{params}: SSIM per fold {[round(v, 3) for v in folds]}, "
        f"mean {results['mean_test_score'][i]:.3f}, "
        f"fit {results['mean_fit_time'][i]:.1f} s"
    )

# %%
# Compare the configurations
# --------------------------
# Mean SSIM over the three held-out people (error bars: one standard deviation) and
# the mean time of one fit. On real OASIS slices on a GPU the same search is worth
# running at 256 x 256 with ``hidden_channels=128``, 100 epochs or more, and sizes
# such as ``[128, 512, (256, 512)]``; :doc:`../user_guide/scaling` shows how to
# run the fits on a Dask cluster.
import numpy as np
from matplotlib.figure import Figure

labels = [str(size) for size in results["param_vqvae__num_embeddings"]]
positions = np.arange(len(labels))

search_figure = Figure(figsize=(7, 3), layout="constrained")
score_ax, time_ax = search_figure.subplots(1, 2)
score_ax.bar(
    positions, results["mean_test_score"], yerr=results["std_test_score"], capsize=4
)
score_ax.set_ylabel("held-out SSIM")
time_ax.bar(positions, results["mean_fit_time"], color="C1")
time_ax.set_ylabel("seconds per fit")
for ax in (score_ax, time_ax):
    ax.set_xticks(positions, labels)
    ax.set_xlabel("num_embeddings")
    ax.grid(axis="y", alpha=0.3)
search_figure.suptitle("GridSearchCV over codebook sizes, GroupKFold(3)")
