r"""Training and inference throughput of the VQ-VAE-2 at several image sizes.

For each image size and batch size, and with ``jit_compile`` off and on, the
script builds one :class:`oasisgen.VQVAE2Estimator` with ``warm_start=True``,
fits one warm-up epoch (which builds the model and traces the training step),
then times ``--repeats`` epochs, one ``fit`` call each (column ``train``), and
one ``fit`` of ``--repeats`` epochs (column ``train 1 fit``). It then times
``--repeats`` calls of ``reconstruct`` after a warm-up call. Every figure is the
median images per second. A setting whose ``fit`` raises is reported as
``failed``, with the error, and the run goes on.

``jit_compile`` only reaches the training step: ``reconstruct`` runs the
estimator's own (non-XLA) graph whatever it is set to, so it is timed once. To
show what XLA would give at inference, the script also times the model's forward
pass wrapped in ``tf.function(jit_compile=True)`` (column ``xla forward``).

The images are slices of the bundled sample (train and test splits together),
so the codebooks see real data.

Run it with the thread settings of the benchmarks::

    TF_NUM_INTRAOP_THREADS=2 TF_NUM_INTEROP_THREADS=1 TF_CPP_MIN_LOG_LEVEL=2 \
        python benchmarks/throughput.py --json throughput.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from _machine import write_record

from oasisgen import VQVAE2Estimator
from oasisgen.datasets import load_sample

# Images per size: fewer at 256 px, where an epoch on 2 cores takes seconds.
DEFAULT_N_IMAGES = {64: 128, 128: 128, 256: 32}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the sizes, the repeats and the model configuration."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument(
        "--n-images",
        type=int,
        nargs="+",
        help="images per size, one per --sizes entry (default 128, 128, 32)",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[16], help="one row each"
    )
    parser.add_argument("--num-embeddings", type=int, default=512)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--hidden-channels", type=int, default=128)
    parser.add_argument("--n-res-blocks", type=int, default=2)
    parser.add_argument("--n-res-channels", type=int, default=32)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    if args.n_images is None:
        args.n_images = [DEFAULT_N_IMAGES.get(size, 32) for size in args.sizes]
    if len(args.n_images) != len(args.sizes):
        parser.error("--n-images needs one value per --sizes entry")
    return args


def median_rate(n_images: int, call: Callable[[], Any], repeats: int) -> float:
    """Return the median images per second of ``repeats`` timed calls."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return n_images / statistics.median(seconds)


def make_estimator(
    args: argparse.Namespace, batch_size: int, jit_compile: bool
) -> VQVAE2Estimator:
    """Return the benchmarked configuration, training one epoch per ``fit``."""
    return VQVAE2Estimator(
        num_embeddings=args.num_embeddings,
        embedding_dim=args.embedding_dim,
        hidden_channels=args.hidden_channels,
        n_res_blocks=args.n_res_blocks,
        n_res_channels=args.n_res_channels,
        batch_size=batch_size,
        epochs=1,
        warm_start=True,
        jit_compile=jit_compile,
        random_state=0,
    )


def time_training(
    est: VQVAE2Estimator, images: np.ndarray, repeats: int
) -> dict[str, Any]:
    """Time training after a warm-up epoch; record the error if ``fit`` fails.

    Training is timed twice: ``repeats`` calls of ``fit`` of one epoch each (as a
    warm-start loop does), and one call of ``fit`` running ``repeats`` epochs,
    which shows the overhead of each call to ``fit``.
    """
    start = time.perf_counter()
    try:
        est.fit(images)  # warm-up: builds the model and traces the step
    except Exception as error:  # noqa: BLE001 - report it and go on
        return {"error": f"{type(error).__name__}: {str(error).splitlines()[0]}"}
    first_epoch = time.perf_counter() - start
    per_fit = median_rate(len(images), lambda: est.fit(images), repeats)
    est.set_params(epochs=repeats)
    one_fit = median_rate(len(images) * repeats, lambda: est.fit(images), 1)
    est.set_params(epochs=1)
    return {
        "first_epoch_seconds": first_epoch,
        "images_per_second": per_fit,
        "images_per_second_one_fit": one_fit,
    }


def time_inference(
    est: VQVAE2Estimator, images: np.ndarray, batch_size: int, repeats: int
) -> dict[str, float]:
    """Time ``reconstruct`` and the same forward pass compiled with XLA."""
    est.reconstruct(images)  # warm-up: traces the graph
    reconstruct = median_rate(len(images), lambda: est.reconstruct(images), repeats)

    forward = tf.function(
        lambda x: est.model_(x, training=False), jit_compile=True, reduce_retracing=True
    )
    batches = [
        tf.constant(images[i : i + batch_size])
        for i in range(0, len(images), batch_size)
    ]

    def run_forward() -> None:
        for batch in batches:
            forward(batch).numpy()

    run_forward()  # warm-up: compiles every batch shape
    return {
        "reconstruct_images_per_second": reconstruct,
        "xla_forward_images_per_second": median_rate(len(images), run_forward, repeats),
    }


def measure(
    args: argparse.Namespace, images: np.ndarray, batch_size: int
) -> dict[str, Any]:
    """Return the figures of one image size and batch size."""
    row: dict[str, Any] = {}
    for jit_compile in (False, True):
        est = make_estimator(args, batch_size, jit_compile)
        key = "train_jit" if jit_compile else "train"
        row[key] = time_training(est, images, args.repeats)
        if not jit_compile and "error" not in row[key]:
            row.update(time_inference(est, images, batch_size, args.repeats))
    return row


def _rate(figures: dict[str, Any], key: str) -> str:
    """Format one training rate, or ``failed`` when training raised."""
    return "failed" if "error" in figures else f"{figures[key]:.1f}"


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Measure every size and batch size, print a table and write JSON."""
    args = parse_args(argv)
    rows = []
    columns = (
        "size",
        "n",
        "batch",
        "1st epoch s",
        "train",
        "train 1 fit",
        "train jit",
        "jit 1 fit",
        "reconstruct",
        "xla forward",
    )
    print("images per second, median of", args.repeats, "repeats")
    print(" | ".join(columns))
    for size, n_images in zip(args.sizes, args.n_images, strict=True):
        images = load_sample("all", image_size=size)[:n_images]
        for batch_size in args.batch_sizes:
            row = {"image_size": size, "n_images": n_images, "batch_size": batch_size}
            row.update(measure(args, images, batch_size))
            rows.append(row)
            train, jit = row["train"], row["train_jit"]
            cells = (
                size,
                n_images,
                batch_size,
                f"{train.get('first_epoch_seconds', float('nan')):.1f}",
                _rate(train, "images_per_second"),
                _rate(train, "images_per_second_one_fit"),
                _rate(jit, "images_per_second"),
                _rate(jit, "images_per_second_one_fit"),
                f"{row.get('reconstruct_images_per_second', float('nan')):.1f}",
                f"{row.get('xla_forward_images_per_second', float('nan')):.1f}",
            )
            print(" | ".join(str(cell) for cell in cells), flush=True)
            for figures in (train, jit):
                if "error" in figures:
                    print("   ", figures["error"][:200], flush=True)
    config = {k: v for k, v in vars(args).items() if k != "json"}
    write_record(args.json, {"config": config, "rows": rows})
    return rows


if __name__ == "__main__":
    main()
