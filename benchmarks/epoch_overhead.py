"""The fixed cost of an epoch: what an epoch spends outside its training steps.

The estimators train one ``model.fit`` per epoch, so that a resumed run shuffles
exactly like an unbroken one; each epoch therefore builds its data pipeline and
its Keras fit afresh. This script measures what that costs in the demo's
configuration: the VQ-VAE-2 on the bundled sample's training slices at 64 px
(batch 8) and both priors on codes of the demo's shapes (the top prior on 8x8
maps of 16 codes with the slice position, the bottom prior on 16x16 maps of 64
codes given the top maps; 4 x 93 maps, batch 16, 8 gated layers x 64 channels,
kernel 3). A callback (the estimators' ``callbacks`` parameter) times every
training step; an epoch's overhead is its wall time, from the end of the epoch
before, minus its steps. ``--checkpoints`` writes a checkpoint after every epoch,
as ``oasisgen train`` does::

    cd benchmarks
    ../.venv/bin/python epoch_overhead.py --json results/epoch_overhead.json
    ../.venv/bin/python epoch_overhead.py --checkpoints \
        --json results/epoch_overhead_checkpoints.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
from _machine import write_record

from oasisgen import PixelCNNPrior, VQVAE2Estimator
from oasisgen.datasets import load_sample


class StepTimer(keras.callbacks.Callback):
    """Record each epoch's wall time (end to end) and the time of its steps."""

    def __init__(self) -> None:
        super().__init__()
        self.epochs: list[tuple[float, float]] = []

    def on_train_begin(self, logs=None) -> None:
        """Start the clock of the first epoch."""
        self._last_end = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None) -> None:
        """Start adding up the steps of an epoch."""
        self._steps = 0.0

    def on_train_batch_begin(self, batch, logs=None) -> None:
        """Start timing a step."""
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None) -> None:
        """Add the step to its epoch."""
        self._steps += time.perf_counter() - self._started

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Record the epoch: its wall time and its steps' time."""
        now = time.perf_counter()
        self.epochs.append((now - self._last_end, self._steps))
        self._last_end = now


def measure(estimator, fit) -> dict[str, float]:
    """Fit, then summarise the epochs after the first (which traces)."""
    estimator.set_params(callbacks=[StepTimer()])
    fit(estimator)
    epochs = np.array(estimator.callbacks_[0].epochs[1:])
    wall, steps = np.median(epochs, axis=0)
    overhead = epochs[:, 0] - epochs[:, 1]
    return {
        "epoch_seconds": float(wall),
        "step_seconds": float(steps),
        "overhead_seconds": float(np.median(overhead)),
        "overhead_fraction": float(np.median(overhead / epochs[:, 0])),
        "epochs_timed": len(epochs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--checkpoints",
        action="store_true",
        help="write a checkpoint after every epoch, as `oasisgen train` does",
    )
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="epoch-overhead-")
    images = load_sample("train", image_size=64)[:93]
    rng = np.random.default_rng(0)
    n_maps = 4 * len(images)
    top = rng.integers(0, 16, size=(n_maps, 8, 8))
    bottom = rng.integers(0, 64, size=(n_maps, 16, 16))
    positions = rng.uniform(size=n_maps)
    prior = dict(
        n_layers=8, hidden_channels=64, kernel_size=3, dropout=0.2, learning_rate=1e-3,
        batch_size=16, epochs=args.epochs, random_state=0,
    )  # fmt: skip
    runs = {
        "VQ-VAE-2": (
            VQVAE2Estimator(
                num_embeddings=(16, 64),
                embedding_dim=32,
                hidden_channels=64,
                n_res_blocks=2,
                n_res_channels=32,
                learning_rate=1e-3,
                batch_size=8,
                epochs=args.epochs,
                random_state=0,
            ),  # fmt: skip
            lambda est: est.fit(images),
        ),
        "top prior": (
            PixelCNNPrior(num_embeddings=16, **prior),
            lambda est: est.fit(top, global_condition=positions),
        ),
        "bottom prior": (
            PixelCNNPrior(num_embeddings=64, condition_num_embeddings=16, **prior),
            lambda est: est.fit(bottom, top),
        ),
    }
    figures = {}
    for name, (estimator, fit) in runs.items():
        if args.checkpoints:
            estimator.set_params(checkpoint_dir=Path(scratch.name) / name)
        figures[name] = measure(estimator, fit)
        f = figures[name]
        print(
            f"{name:12s} epoch {f['epoch_seconds']:6.2f} s, steps "
            f"{f['step_seconds']:6.2f} s, overhead {f['overhead_seconds']:5.3f} s "
            f"({100 * f['overhead_fraction']:.1f} %)",
            flush=True,
        )
    record = {"epochs": args.epochs, "checkpoints": args.checkpoints, **figures}
    write_record(args.json, record)


if __name__ == "__main__":
    main()
