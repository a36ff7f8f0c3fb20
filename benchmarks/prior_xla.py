"""A PixelCNN prior's training step with and without XLA, in one process.

The demo's two priors (`oasisgen.cli.demo.DEMO`), each built twice from the same
seed, once compiled by TensorFlow's graph executor and once by XLA
(``jit_compile=True``), and timed step by step in turns, so that the load of a
shared machine falls on both alike; the first step of each, which traces or
compiles it, is timed apart::

    cd benchmarks
    ../.venv/bin/python prior_xla.py --json results/prior_xla.json

Also ``--bfloat16``: the same two ways again under Keras' ``mixed_bfloat16``
policy, for CPUs with bfloat16 arithmetic (AVX512_BF16 or AMX); oasisgen has no
option for it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _machine import write_record

# the demo's priors at 64 px: side of the code maps, codes per map, channels, the
# codebook of the condition map (a grid 4 times coarser), the level of the slice
PRIORS = {
    "top": dict(grid=8, codes=16, channels=64, condition=None, level=True),
    "bottom": dict(grid=32, codes=64, channels=32, condition=16, level=False),
}


def build(prior: dict, jit: bool, policy: str):
    """Return a compiled GatedPixelCNN like the demo's prior, and one batch."""
    import keras
    import tensorflow as tf

    from oasisgen.nn import FusedAdam, GatedPixelCNN

    keras.config.set_dtype_policy(policy)
    rng = np.random.default_rng(0)
    n, grid = 16, prior["grid"]
    inputs = [rng.integers(0, prior["codes"], size=(n, grid, grid))]
    if prior["condition"]:
        coarse = grid // 4
        inputs.append(rng.integers(0, prior["condition"], size=(n, coarse, coarse)))
    if prior["level"]:
        inputs.append(rng.uniform(size=(n, 1)).astype("float32"))
    model = GatedPixelCNN(
        prior["codes"],
        n_layers=8,
        hidden_channels=prior["channels"],
        kernel_size=3,
        dropout=0.2,
        condition_num_embeddings=prior["condition"],
        condition_upsample=4,
        global_condition_dim=1 if prior["level"] else None,
        mirror_context=True,
        seed=0,
    )
    model.build(None)
    model.compile(
        optimizer=FusedAdam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    model.optimizer.build(model.trainable_variables)
    keras.config.set_dtype_policy("float32")
    x = tuple(tf.constant(a) for a in inputs)
    return model, (x if len(x) > 1 else x[0], tf.constant(inputs[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per way")
    parser.add_argument("--bfloat16", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    policies = ["float32"] + (["mixed_bfloat16"] if args.bfloat16 else [])
    record = {}
    for name, prior in PRIORS.items():
        ways = {
            f"{policy}{', XLA' if jit else ''}": build(prior, jit, policy)
            for policy in policies
            for jit in (False, True)
        }
        first = {}
        for way, (model, (x, y)) in ways.items():
            started = time.perf_counter()
            model.train_on_batch(x, y)  # traced, or compiled by XLA
            first[way] = time.perf_counter() - started
            for _ in range(2):
                model.train_on_batch(x, y)
        seconds = {way: [] for way in ways}
        for _ in range(args.steps):
            for way, (model, (x, y)) in ways.items():
                started = time.perf_counter()
                model.train_on_batch(x, y)
                seconds[way].append(time.perf_counter() - started)
        base = np.median(seconds["float32"])
        for way, times in seconds.items():
            print(
                f"{name:6s} prior, {way:21s} first step {first[way]:5.1f} s, then "
                f"{1000 * np.median(times):4.0f} ms (min {1000 * min(times):4.0f}), "
                f"speed-up {base / np.median(times):.2f}"
            )
        record[name] = {"prior": prior, "first_step": first, "seconds": seconds}
    write_record(args.json, {"batch_size": 16, "priors": record})


if __name__ == "__main__":
    main()
