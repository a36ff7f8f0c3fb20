"""What the per-step SSIM costs a VQ-VAE-2 training step, before and after.

Every training step of :class:`oasisgen.nn.VQVAE2` reports the SSIM of its batch.
``tf.image.ssim`` filters with a 2D Gaussian window (121 taps); the model now uses
:func:`oasisgen.nn.vqvae2.separable_ssim`, two 1D windows (22 taps), which gives the
same figure. This script times steady-state training steps of the same model with
each, and with the SSIM left out, alternating in one process::

    cd benchmarks
    ../.venv/bin/python ssim_in_training.py --size 128 --json results/ssim_128.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from _machine import describe_machine

from oasisgen.nn import VQVAE2, vqvae2


def two_d_ssim(images, other, *, filter_size=11, filter_sigma=1.5, max_val=1.0):
    """Return ``tf.image.ssim``, with its 2D window (the code before)."""
    return tf.image.ssim(
        images, other, max_val, filter_size=filter_size, filter_sigma=filter_sigma
    )


def no_ssim(images, other, **options):
    """Return zeros: what the step costs without the SSIM."""
    return tf.zeros(tf.shape(images)[:1], images.dtype)


def images_per_second(size: int, batch: int, steps: int, ssim) -> float:
    """Train a fresh default-sized model and return its steady-state speed."""
    vqvae2.separable_ssim = ssim  # the function the training step calls
    model = VQVAE2(num_embeddings=512, embedding_dim=64, hidden_channels=128, seed=0)
    model.compile(optimizer="adam")
    images = np.random.default_rng(0).uniform(size=(batch * steps, size, size, 1))
    data = tf.data.Dataset.from_tensor_slices(images.astype("float32")).batch(batch)
    model.fit(data.take(2), verbose=0)  # trace and warm up
    started = time.perf_counter()
    model.fit(data, verbose=0)
    return batch * steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    variants = {
        "separable": vqvae2.separable_ssim,
        "tf.image.ssim": two_d_ssim,
        "none": no_ssim,
    }
    speeds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):  # alternate, so load changes hit all alike
        for name, ssim in variants.items():
            speeds[name].append(
                images_per_second(args.size, args.batch_size, args.steps, ssim)
            )
    medians = {name: float(np.median(values)) for name, values in speeds.items()}
    for name, value in medians.items():
        ratio = value / medians["tf.image.ssim"]
        print(f"{name:14s} {value:7.2f} images/s  {ratio:5.2f}x of tf.image.ssim")
    if args.json is not None:
        record = {"machine": describe_machine(), "args": vars(args) | {"json": None}}
        record["images_per_second"] = speeds
        args.json.write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
