r"""How much fine detail the demo's autoencoder reconstructs, in other settings.

No prior over the codes can draw more fine structure than the decoder gives
back. Trains the VQ-VAE-2 of ``oasisgen demo`` (its settings in
``oasisgen.cli.demo.DEMO``, on its split: four fifths of each training person's
slices) once as it is (``demo``) and once per ``--variant
NAME:PARAM=VALUE[,PARAM=VALUE...]`` (the demo's settings with those changed;
``num_embeddings`` as ``TOPxBOTTOM``, such as ``16x128``), and measures its
reconstructions of the held-out fifth against those slices: the share whose
fine-detail energy (:func:`oasisgen.metrics.detail_energy`) lies in the real
slices' interquartile range (the ceiling of any prior on that figure), the
shares below and above it, and the test SSIM of the other person::

    cd benchmarks
    ../.venv/bin/python reconstruction_detail.py \
        --variant codes128:num_embeddings=16x128 --variant wide:hidden_channels=96 \
        --json results/reconstruction_detail.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from _machine import write_record
from refit_prior import variant

from oasisgen import VQVAE2Estimator
from oasisgen.cli._common import load_splits
from oasisgen.cli.demo import DEMO
from oasisgen.metrics import detail_energy

BASELINE = "demo"
MODEL_SETTINGS = (
    "epochs",
    "num_embeddings",
    "embedding_dim",
    "hidden_channels",
    "n_res_blocks",
    "n_res_channels",
    "bottom_stride",
    "top_reconstruction_weight",
    "gradient_loss_weight",
    "bottom_code_noise",
    "adversarial_loss_weight",
    "batch_size",
    "learning_rate",
)


def demo_model_params(**changes: Any) -> dict[str, Any]:
    """Return the demo's VQ-VAE-2 parameters with ``changes`` made.

    A ``num_embeddings`` given as text ``"TOPxBOTTOM"`` is read as two sizes.
    """
    params = {name: DEMO[name] for name in MODEL_SETTINGS}
    params.update(changes)
    sizes = params["num_embeddings"]
    if isinstance(sizes, str):
        top, _, bottom = sizes.partition("x")
        if not (top.isdigit() and bottom.isdigit()):
            raise SystemExit(
                "num_embeddings expects TOPxBOTTOM codebook sizes, such as "
                f"num_embeddings=16x128; got {sizes!r}."
            )
        sizes = [int(top), int(bottom)]
    params["num_embeddings"] = tuple(sizes)
    return params


def measure(params: dict[str, Any], splits: dict, seed: int) -> dict[str, Any]:
    """Train one VQ-VAE-2 with ``params``; return its figures."""
    started = time.perf_counter()
    model = VQVAE2Estimator(**params, random_state=seed).fit(splits["train"])
    seconds = time.perf_counter() - started
    real = detail_energy(splits["heldout"])
    low, high = np.percentile(real, [25, 75])
    energy = detail_energy(model.reconstruct(splits["heldout"]))
    return {
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "test_ssim": float(model.score(splits["test"])),
        "detail_in_real_iqr": float(np.mean((energy >= low) & (energy <= high))),
        "detail_below_real_iqr": float(np.mean(energy < low)),
        "detail_above_real_iqr": float(np.mean(energy > high)),
        "detail_median": float(np.median(energy)),
        "detail_median_real": float(np.median(real)),
    }


def demo_splits() -> dict[str, np.ndarray]:
    """Return the demo's train, held-out and test slices as arrays."""
    loaded = load_splits(
        "sample", DEMO["image_size"], "raise", heldout_fraction=0.2, seed=0
    )
    return {name: loaded[name].to_numpy() for name in ("train", "heldout", "test")}


def describe(name: str, row: dict[str, Any]) -> str:
    """Return one printed line of a variant's figures."""
    return (
        f"{name}: test SSIM {row['test_ssim']:.4f}, detail in the real IQR "
        f"{row['detail_in_real_iqr']:.2f} (below {row['detail_below_real_iqr']:.2f}, "
        f"above {row['detail_above_real_iqr']:.2f}), median "
        f"{row['detail_median']:.5f} (real {row['detail_median_real']:.5f}), "
        f"{row['train_seconds']:.0f} s"
    )


def main(argv: list[str] | None = None) -> None:
    """Train the demo's autoencoder and each variant; print and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variant", type=variant, action="append", default=[], dest="variants"
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help=f"train only the variants, not the demo's own ({BASELINE!r})",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="of the training (the demo's: 0)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    runs = list(args.variants)
    if not args.no_baseline:
        runs.insert(0, (BASELINE, {}))
    if not runs:
        parser.error("--no-baseline needs at least one --variant")
    # a bad setting is refused before the first training
    params = {name: demo_model_params(**changes) for name, changes in runs}
    for settings in params.values():
        VQVAE2Estimator(**settings)._validate_params()
    splits = demo_splits()
    rows = {}
    for name, changes in runs:
        rows[name] = {"changes": changes, **measure(params[name], splits, args.seed)}
        print(describe(name, rows[name]), flush=True)
    write_record(args.json, {"demo_settings": DEMO, "rows": rows})


if __name__ == "__main__":
    main()
