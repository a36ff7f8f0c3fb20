"""
Saving and loading a fitted model
=================================

A fitted estimator is saved to a directory with ``save`` and read back with
:func:`oasisgen.load`. The directory holds JSON and a Keras ``.keras`` archive, and
loading it never runs code from the files, so a model saved this way can be shared
and opened safely. The loaded model gives exactly the same codes as the original.
"""

# %%
# Size of the run
# ---------------
# ``OASISGEN_EXAMPLES_FAST=1`` (set by the documentation build) trains for two
# epochs only.
import os

FAST = os.environ.get("OASISGEN_EXAMPLES_FAST") == "1"
IMAGE_SIZE = 64
EPOCHS = 2 if FAST else 30

# %%
# Fit a small model
# -----------------
from oasisgen import VQVAE2Estimator
from oasisgen.datasets import load_sample

X = load_sample("train", image_size=IMAGE_SIZE)
X_test = load_sample("test", image_size=IMAGE_SIZE)
est = VQVAE2Estimator(
    num_embeddings=(32, 64),
    embedding_dim=16,
    hidden_channels=32,
    n_res_blocks=1,
    n_res_channels=16,
    learning_rate=2e-3,
    batch_size=16,
    epochs=EPOCHS,
    random_state=0,
).fit(X)

# %%
# Save it
# -------
# ``save`` writes the directory atomically: it is filled beside the target and
# renamed into place, so a failed save never leaves half a model behind. It refuses
# to replace an existing directory unless given ``overwrite=True``.
import json
import tempfile
from pathlib import Path

workdir = tempfile.TemporaryDirectory()
path = est.save(Path(workdir.name) / "my-model")
for file in sorted(path.iterdir()):
    print(f"{file.name:16} {file.stat().st_size:>9,} bytes")

manifest = json.loads((path / "estimator.json").read_text())
print(manifest["class"], manifest["params"]["num_embeddings"], manifest["versions"])

# %%
# Load it back
# ------------
# :func:`oasisgen.load` reads the parameters from JSON and the network with Keras'
# ``safe_mode``; the loaded estimator is fitted and keeps its ``history_``.
import numpy as np

import oasisgen

loaded = oasisgen.load(path)
same_codes = np.array_equal(loaded.transform(X_test), est.transform(X_test))
print(f"{type(loaded).__name__} with {len(loaded.history_['loss'])} epochs of history")
print(f"identical codes on the test slices: {same_codes}")
print(f"test SSIM: original {est.score(X_test):.4f}, loaded {loaded.score(X_test):.4f}")

# %%
# Keep training
# -------------
# A loaded model can be trained further: ``partial_fit`` runs one more epoch (and
# ``warm_start=True`` makes ``fit`` continue instead of starting again). A second
# copy is loaded for this, so ``loaded`` stays as it was saved.
more = oasisgen.load(path).partial_fit(X)
print(f"{len(more.history_['loss'])} epochs of history after partial_fit")

# %%
# Pickles are code
# ----------------
# ``joblib.dump`` and ``joblib.load`` also work, and are how scikit-learn hands
# estimators to parallel workers. But loading a pickle can execute any code the
# file contains: only load pickles from sources you trust, and share models as
# directories written by ``save``. :class:`~oasisgen.HierarchicalGenerator` and
# :class:`~oasisgen.PixelCNNPrior` save and load the same way; a generator's
# directory holds one saved estimator per part. A model trained on real OASIS on a
# GPU (256 x 256, ``num_embeddings=512``, ``hidden_channels=128``, 100 epochs or
# more) is saved and loaded the same way, and can be loaded on a machine without a
# GPU.
#
# The figure shows four test slices and their top and bottom codes under the loaded
# model, the same codes as the original's.
from oasisgen.plotting import plot_code_maps

top, bottom = loaded.encode(X_test[::14])
codes_figure = plot_code_maps(top, bottom, images=X_test[::14])
workdir.cleanup()
