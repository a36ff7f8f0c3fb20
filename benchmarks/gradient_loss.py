r"""How sharp the demo's autoencoder reconstructs, at several gradient-loss weights.

Trains the VQ-VAE-2 of ``oasisgen demo`` (its settings in
``oasisgen.cli.demo.DEMO``, on its split: four fifths of each training person's
slices) once per ``--weights`` value of ``gradient_loss_weight``, and measures
its reconstructions of the held-out fifth against those slices: the share whose
fine-detail energy (:func:`oasisgen.metrics.detail_energy`) lies in the real
slices' interquartile range (the ceiling of any prior over its codes on that
figure), the shares below and above it, and the test SSIM of the other person::

    cd benchmarks
    ../.venv/bin/python gradient_loss.py --weights 0 1 3 \
        --json results/gradient_loss.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _machine import write_record

from oasisgen import VQVAE2Estimator
from oasisgen.cli._common import load_splits
from oasisgen.cli.demo import DEMO
from oasisgen.metrics import detail_energy

MODEL_SETTINGS = (
    "epochs",
    "num_embeddings",
    "embedding_dim",
    "hidden_channels",
    "n_res_blocks",
    "n_res_channels",
    "bottom_stride",
    "top_reconstruction_weight",
    "batch_size",
    "learning_rate",
)


def measure(weight: float, splits: dict, seed: int) -> dict:
    """Train at one weight; return its figures."""
    params = {name: DEMO[name] for name in MODEL_SETTINGS}
    params["num_embeddings"] = tuple(params["num_embeddings"])
    started = time.perf_counter()
    model = VQVAE2Estimator(**params, gradient_loss_weight=weight, random_state=seed)
    model.fit(splits["train"])
    seconds = time.perf_counter() - started
    real = detail_energy(splits["heldout"])
    low, high = np.percentile(real, [25, 75])
    energy = detail_energy(model.reconstruct(splits["heldout"]))
    return {
        "gradient_loss_weight": weight,
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "test_ssim": float(model.score(splits["test"])),
        "detail_in_real_iqr": float(np.mean((energy >= low) & (energy <= high))),
        "detail_below_real_iqr": float(np.mean(energy < low)),
        "detail_above_real_iqr": float(np.mean(energy > high)),
        "detail_median": float(np.median(energy)),
        "detail_median_real": float(np.median(real)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 1.0, 3.0])
    parser.add_argument(
        "--seed", type=int, default=0, help="of the training (the demo's: 0)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    loaded = load_splits(
        "sample", DEMO["image_size"], "raise", heldout_fraction=0.2, seed=0
    )
    splits = {name: loaded[name].to_numpy() for name in ("train", "heldout", "test")}
    rows = []
    for weight in args.weights:
        row = measure(weight, splits, args.seed)
        rows.append(row)
        print(
            f"weight {weight:4.1f}: test SSIM {row['test_ssim']:.4f}, detail in the "
            f"real IQR {row['detail_in_real_iqr']:.2f} (below "
            f"{row['detail_below_real_iqr']:.2f}, above "
            f"{row['detail_above_real_iqr']:.2f}), median {row['detail_median']:.5f} "
            f"(real {row['detail_median_real']:.5f}), {row['train_seconds']:.0f} s",
            flush=True,
        )
    write_record(args.json, {"demo_settings": DEMO, "rows": rows})


if __name__ == "__main__":
    main()
