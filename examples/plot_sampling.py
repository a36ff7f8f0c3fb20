"""
Generating new slices with PixelCNN priors
==========================================

A VQ-VAE-2 turns each slice into a small map of top codes and a larger map of bottom
codes. :class:`~oasisgen.HierarchicalGenerator` learns how likely each code map is
with two gated PixelCNN priors, one over the top codes and one over the bottom codes
given the top ones, then draws new maps code by code and decodes them into new
slices. This example trains the three models small, at 64 x 64 pixels, on the
bundled sample.
"""

# %%
# Size of the run
# ---------------
# ``OASISGEN_EXAMPLES_FAST=1`` (set by the documentation build) trains each model
# for an epoch only, on 32 x 32 slices; the samples are then noise, but every step
# runs.
import os

FAST = os.environ.get("OASISGEN_EXAMPLES_FAST") == "1"
IMAGE_SIZE = 32 if FAST else 64
VQVAE_EPOCHS = 1 if FAST else 40
PRIOR_EPOCHS = 1 if FAST else 30

# %%
# Three models in one estimator
# -----------------------------
# ``fit`` trains the VQ-VAE-2 first, encodes the slices, fits the top prior on the
# 8 x 8 top maps, then the bottom prior on the 16 x 16 bottom maps (of 64 x 64
# slices; ``bottom_stride=2`` would make them 32 x 32) conditioned on
# the top maps. The bottom prior's codebook sizes and conditioning are set from the
# VQ-VAE-2, so one :class:`~oasisgen.PixelCNNPrior` can serve as the template of
# both.
from oasisgen import HierarchicalGenerator, PixelCNNPrior, VQVAE2Estimator
from oasisgen.datasets import load_sample

X = load_sample("all", image_size=IMAGE_SIZE)

vqvae = VQVAE2Estimator(
    num_embeddings=(32, 64),
    embedding_dim=16,
    hidden_channels=32,
    n_res_blocks=1,
    n_res_channels=16,
    learning_rate=2e-3,
    batch_size=16,
    epochs=VQVAE_EPOCHS,
    random_state=0,
)
prior = PixelCNNPrior(
    n_layers=4,
    hidden_channels=32,
    kernel_size=3,
    learning_rate=2e-3,
    batch_size=16,
    epochs=PRIOR_EPOCHS,
    random_state=0,
)
gen = HierarchicalGenerator(vqvae=vqvae, top_prior=prior, bottom_prior=prior)
gen.fit(X)
print(f"VQ-VAE-2 SSIM on the training slices: {gen.vqvae_.score(X):.3f}")

# %%
# How well the priors fit
# -----------------------
# ``score`` is the mean log-likelihood per code in nats under both priors (higher is
# better); divided by ``-log(2)`` it is the number of bits a code costs.
import numpy as np

print(f"{-gen.score(X) / np.log(2):.2f} bits per code")

# %%
# Draw new slices
# ---------------
# ``sample`` draws the top maps position by position, then the bottom maps given
# them, and decodes both. The same ``random_state`` gives the same slices. The
# default ``"fast"`` sampler caches the activations of every layer and computes each
# position once; the priors' ``sample(..., method="naive")`` reruns the whole
# network per position and draws the same maps, only much more slowly.
from oasisgen.plotting import plot_image_grid

samples = gen.sample(8, random_state=0)
samples_figure = plot_image_grid(samples, n_cols=4, title="temperature 1.0")

# %%
# Lower temperature
# -----------------
# ``temperature`` divides the priors' logits: below 1 the draws keep to the most
# likely codes, giving smoother, more typical slices with less variety; above 1 they
# grow noisier. ``top_k`` restricts every draw to the ``k`` most likely codes. On
# real OASIS slices on a GPU, train at 256 x 256 (32 x 32 top and 64 x 64 bottom
# maps) with ``num_embeddings=512``, ``hidden_channels=128`` and 100 epochs or more,
# and priors of ``n_layers=12`` to 20 with ``hidden_channels=128`` or more.
cool = gen.sample(8, random_state=0, temperature=0.7)
cool_figure = plot_image_grid(cool, n_cols=4, title="temperature 0.7")
