"""
Training from OASIS-style PNG folders
=====================================

The OASIS brain MRI slices are distributed as folders of 256 x 256 grayscale PNG
files, one folder per split. The OASIS licence does not allow redistributing them, so
this example first writes a small tree in the same layout from the bundled sample,
then loads it with :func:`~oasisgen.datasets.load_oasis` and trains on slices that are
read from disk batch by batch through ``tf.data``, never held in memory at once.
Point ``root`` at your own copy of OASIS and the rest of the script stays the same.
"""

# %%
# Size of the run
# ---------------
# ``OASISGEN_EXAMPLES_FAST=1`` (set by the documentation build) trains for two
# epochs only.
import os

FAST = os.environ.get("OASISGEN_EXAMPLES_FAST") == "1"
IMAGE_SIZE = 64
EPOCHS = 2 if FAST else 40

# %%
# Write a folder tree in the OASIS layout
# ---------------------------------------
# A root folder holds ``keras_png_slices_train``, ``keras_png_slices_validate`` and
# ``keras_png_slices_test``, with files named like ``case_001_slice_0.nii.png``. The
# loader reads the subject (``case_001``) from the name, so subject-wise splits keep
# every slice of one person together. The three people of the bundled sample become
# one case per split here; real OASIS has hundreds of cases per split.
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from oasisgen.datasets import load_sample

images, subjects = load_sample("all", image_size=256, return_subjects=True)
cases = {
    "colin27": ("train", "case_001"),
    "aomic-piop2-sub-0017": ("validate", "case_002"),
    "aomic-piop2-sub-0042": ("test", "case_003"),
}

workdir = tempfile.TemporaryDirectory(prefix="oasis-layout-")
root = Path(workdir.name)
for subject, (split, case) in cases.items():
    folder = root / f"keras_png_slices_{split}"
    folder.mkdir(exist_ok=True)
    for index, image in enumerate(images[subjects == subject]):
        pixels = np.round(image[..., 0] * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{case}_slice_{index}.nii.png")

for folder in sorted(root.iterdir()):
    print(f"{folder.name}: {len(list(folder.iterdir()))} PNG files")

# %%
# Load the splits
# ---------------
# ``load_oasis`` lists the files and checks their headers; pixels are decoded only
# when a batch is asked for. ``image_size`` resizes every slice as it is read. With
# the real data, ``root`` is the folder that holds the three ``keras_png_slices_*``
# folders (the ``keras_png_slices_seg_*`` label folders beside them are ignored):
#
# .. code-block:: python
#
#     train = load_oasis("/data/OASIS", split="train", image_size=256)
#
# A file that cannot be read stops the loader with its name. Here one broken file
# is planted in the test folder and ``on_error="skip"`` leaves it out with a warning
# instead.
import warnings

from oasisgen.datasets import load_oasis

(root / "keras_png_slices_test" / "case_003_slice_99.nii.png").write_bytes(b"oops")

train = load_oasis(root, split="train", image_size=IMAGE_SIZE)
validate = load_oasis(root, split="validate", image_size=IMAGE_SIZE)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    test = load_oasis(root, split="test", image_size=IMAGE_SIZE, on_error="skip")
print(caught[0].message)
print(train, validate, test, sep="\n")

# %%
# Stream batches with tf.data
# ---------------------------
# :meth:`~oasisgen.datasets.SliceDataset.as_tf_dataset` is the pipeline the
# estimators use: TensorFlow reads and decodes the PNG files in parallel, resizes
# them and batches them, shuffling with a seed when asked.
batches = train.as_tf_dataset(batch_size=16, shuffle=True, seed=0)
first = next(iter(batches))
print(f"one batch: {tuple(first.shape)} {first.dtype.name}")

# %%
# Train on the files
# ------------------
# The estimators take a :class:`~oasisgen.datasets.SliceDataset` directly and stream
# it every epoch; ``validation_data`` adds ``val_*`` curves to ``history_``. For the
# real OASIS training set (about 9,700 slices) on a GPU, use ``image_size=256``,
# ``num_embeddings=512``, ``hidden_channels=128``, ``batch_size=32`` and 100 epochs
# or more; the files still stream from disk.
from oasisgen import VQVAE2Estimator

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
)
est.fit(train, validation_data=validate)
print(f"test SSIM: {est.score(test):.3f}")

# %%
# Training and validation curves
# ------------------------------
# Validation curves are dashed, in the colour of their training curve.
from oasisgen.plotting import plot_history

history_figure = plot_history(est.history_)

# %%
# Reconstructions of the test case
# --------------------------------
# :meth:`~oasisgen.datasets.SliceDataset.to_numpy` decodes a whole split when it is
# small enough to hold in memory. The temporary folder tree is removed at the end.
from oasisgen.metrics import ssim
from oasisgen.plotting import plot_reconstructions

X_test = test.to_numpy()[::9]
reconstructions = est.reconstruct(X_test)
reconstruction_figure = plot_reconstructions(
    X_test, reconstructions, scores=ssim(X_test, reconstructions, reduction="none")
)
workdir.cleanup()
