"""The fixed cost of a fit: the first epoch's tracing, three ways of running Adam.

A Keras optimizer creates its slots (Adam's moments) on the first training step.
Inside the traced step each slot is created under a ``tf.cond``; building the
optimizer eagerly first, as the estimators do, leaves them out of the trace.
Keras' Adam then still traces about fifteen operations per variable;
:class:`oasisgen.nn.FusedAdam`, the estimators' ``"adam"``, traces one. This
script times the first and the second epoch of the demo's bottom prior (8 gated
layers x 64 channels, kernel 3, 16x16 maps of 64 codes given 8x8 maps of 16), in
fresh processes, alternating the three ways::

    cd benchmarks
    ../.venv/bin/python fit_fixed_cost.py --json results/fit_fixed_cost.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from _machine import write_record

ONE_RUN = """
import json, sys, time
import keras, numpy as np, tensorflow as tf
from oasisgen.nn import FusedAdam, GatedPixelCNN
rng = np.random.default_rng(0)
codes = rng.integers(0, 64, size=(64, 16, 16)).astype("int32")
condition = rng.integers(0, 16, size=(64, 8, 8)).astype("int32")
model = GatedPixelCNN(64, n_layers=8, hidden_channels=64, kernel_size=3, dropout=0.2,
                      condition_num_embeddings=16, seed=0)
model.build(None)
adam = FusedAdam if sys.argv[1] == "fused" else keras.optimizers.Adam
model.compile(optimizer=adam(1e-3),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
if sys.argv[1] != "in the trace":
    model.optimizer.build(model.trainable_variables)
data = tf.data.Dataset.from_tensor_slices(((codes, condition), codes)).batch(16)
times = []
for _ in range(2):
    started = time.perf_counter()
    model.fit(data, epochs=1, verbose=0)
    times.append(time.perf_counter() - started)
print(json.dumps(times))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    runs: dict[str, list[list[float]]] = {"in the trace": [], "eager": [], "fused": []}
    for _ in range(args.rounds):
        for way in runs:
            argv = [sys.executable, "-c", ONE_RUN, way]
            output = subprocess.run(argv, capture_output=True, text=True, check=True)
            runs[way].append(json.loads(output.stdout.strip().splitlines()[-1]))
    for way, times in runs.items():
        first, second = np.median(times, axis=0)
        print(f"{way:13s} first epoch {first:5.1f} s, second {second:4.2f} s")
    write_record(args.json, {"seconds": runs})


if __name__ == "__main__":
    main()
