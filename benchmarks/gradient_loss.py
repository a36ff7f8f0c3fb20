r"""How sharp the demo's autoencoder reconstructs, at several gradient-loss weights.

Trains the VQ-VAE-2 of ``oasisgen demo`` (its settings in
``oasisgen.cli.demo.DEMO``, on its split: four fifths of each training person's
slices) once per ``--weights`` value of ``gradient_loss_weight``, and measures
its reconstructions of the held-out fifth against those slices: the share whose
fine-detail energy (:func:`oasisgen.metrics.detail_energy`) lies in the real
slices' interquartile range (the ceiling of any prior over its codes on that
figure), the shares below and above it, and the test SSIM of the other person
(``reconstruction_detail.py`` measures other settings the same way)::

    cd benchmarks
    ../.venv/bin/python gradient_loss.py --weights 0 1 3 \
        --json results/gradient_loss.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _machine import write_record
from reconstruction_detail import demo_model_params, demo_splits, describe, measure

from oasisgen.cli.demo import DEMO


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 1.0, 3.0])
    parser.add_argument(
        "--seed", type=int, default=0, help="of the training (the demo's: 0)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    splits = demo_splits()
    rows = []
    for weight in args.weights:
        params = demo_model_params(gradient_loss_weight=weight)
        row = {"gradient_loss_weight": weight, **measure(params, splits, args.seed)}
        rows.append(row)
        print(describe(f"weight {weight:4.1f}", row), flush=True)
    write_record(args.json, {"demo_settings": DEMO, "rows": rows})


if __name__ == "__main__":
    main()
