"""``VQVAE2Estimator(epochs=30).fit(X)`` on the bundled sample: "auto" against fixed.

A user who calls the estimator with its defaults on small data should get a good
model. This script fits ``VQVAE2Estimator(epochs=EPOCHS, random_state=0)`` on the
bundled training slices (178 of three people; 116 of two when the figures in
benchmarks/README.md were measured) at 128x128, once with every other parameter
at its default (``batch_size="auto"``, ``learning_rate="auto"``)
and once with the large-data settings that were the defaults before (batches of 32
at 3e-4), each in a fresh process, and scores both on the bundled test person (54
slices of another person and scanner)::

    cd benchmarks
    ../.venv/bin/python defaults.py --json results/defaults.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _machine import write_record

SETTINGS = {
    "defaults (auto)": {},
    "the defaults before": {"batch_size": 32, "learning_rate": 3e-4},
}

ONE_FIT = """
import json, sys, time
from oasisgen import VQVAE2Estimator
from oasisgen.datasets import load_sample
size, epochs, params = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
X = load_sample("train", image_size=size)
X_test = load_sample("test", image_size=size)
started = time.perf_counter()
est = VQVAE2Estimator(epochs=epochs, random_state=0, **params).fit(X)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "test_ssim": est.score(X_test),
                  "batch_size_": est.batch_size_,
                  "learning_rate_": est.learning_rate_}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results = {}
    for name, params in SETTINGS.items():
        argv = [sys.executable, "-c", ONE_FIT, str(args.image_size), str(args.epochs)]
        done = subprocess.run(
            [*argv, json.dumps(params)], capture_output=True, text=True
        )
        if done.returncode != 0:
            sys.exit(f"defaults.py: the fit of {name!r} failed:\n{done.stderr[-3000:]}")
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        figures = results[name]
        print(
            f"{name:20s} batch {figures['batch_size_']:2d}, lr "
            f"{figures['learning_rate_']:.0e}: test SSIM {figures['test_ssim']:.3f} "
            f"after {args.epochs} epochs in {figures['seconds']:.0f} s",
            flush=True,
        )
    record = {"image_size": args.image_size, "epochs": args.epochs, "results": results}
    write_record(args.json, record)


if __name__ == "__main__":
    main()
