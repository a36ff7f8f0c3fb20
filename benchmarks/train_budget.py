r"""Train a VQ-VAE-2 on the bundled sample for a fixed wall-clock budget.

The model is :class:`oasisgen.VQVAE2Estimator`, fitted one epoch at a time with
``warm_start=True`` and ``epochs=1`` (or, with ``--method partial_fit``, by
``partial_fit``, which also trains one epoch per call). Before each epoch the
script checks whether one more epoch, at the duration of the last one, would
overrun ``--budget`` seconds; if so it stops. The budget counts every call to
``fit``, so it includes building the model and tracing the training step in the
first epoch. With ``--clock cpu`` the budget is CPU time rather than elapsed time,
for comparing configurations on a busy machine.

Afterwards the model is evaluated on the test split of the sample (a subject it
never saw): mean SSIM and PSNR of the reconstructions, and the fraction of each
codebook used on the test images (from ``encode``) next to the fraction used in
the last training epoch (from ``history_``).

Run it with the thread settings of the benchmarks::

    TF_NUM_INTRAOP_THREADS=2 TF_NUM_INTEROP_THREADS=1 TF_CPP_MIN_LOG_LEVEL=2 \
        python benchmarks/train_budget.py --budget 600 --json budget.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np
from _machine import write_record

from oasisgen import VQVAE2Estimator
from oasisgen.datasets import load_sample
from oasisgen.metrics import codebook_usage, psnr, ssim


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the budget, the data size and the estimator's hyperparameters."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=600.0, help="seconds")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument(
        "--num-embeddings",
        type=int,
        nargs="+",
        default=[512],
        help="one codebook size, or the top and bottom sizes",
    )
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--hidden-channels", type=int, default=128)
    parser.add_argument("--n-res-blocks", type=int, default=2)
    parser.add_argument("--n-res-channels", type=int, default=32)
    parser.add_argument("--commitment-cost", type=float, default=0.25)
    parser.add_argument("--decay", type=float, default=0.99)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--jit-compile", action="store_true")
    # --seed, as in the oasisgen commands; --random-state still works, with a note
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random-state", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="measure the budget in elapsed time, or in CPU time per TF thread "
        "(steadier on a shared machine)",
    )
    parser.add_argument("--max-epochs", type=int, help="also stop after this many")
    parser.add_argument(
        "--method",
        choices=["fit", "partial_fit"],
        default="fit",
        help="train each epoch with fit (warm_start=True, epochs=1) or partial_fit",
    )
    parser.add_argument(
        "--eval-every",
        type=int,
        default=0,
        help="also score the test split every N epochs (not counted in the budget)",
    )
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    if args.random_state is not None:
        print(
            "train_budget.py: --random-state is deprecated and will be removed in "
            "oasisgen 0.3; use --seed (the same value), as in oasisgen's commands",
            file=sys.stderr,
        )
        args.seed = args.random_state
    if len(args.num_embeddings) not in (1, 2):
        parser.error("--num-embeddings takes one size or two (top bottom)")
    return args


def make_estimator(args: argparse.Namespace) -> VQVAE2Estimator:
    """Return an estimator that trains one epoch per ``fit`` and keeps its weights."""
    sizes = args.num_embeddings
    return VQVAE2Estimator(
        num_embeddings=sizes[0] if len(sizes) == 1 else tuple(sizes),
        embedding_dim=args.embedding_dim,
        hidden_channels=args.hidden_channels,
        n_res_blocks=args.n_res_blocks,
        n_res_channels=args.n_res_channels,
        commitment_cost=args.commitment_cost,
        decay=args.decay,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        epochs=1,
        warm_start=True,
        jit_compile=args.jit_compile,
        random_state=args.seed,
    )


def train_for(
    est: VQVAE2Estimator,
    X_train: np.ndarray,
    budget: float,
    *,
    clock: str = "wall",
    max_epochs: int | None = None,
    method: str = "fit",
    X_test: np.ndarray | None = None,
    eval_every: int = 0,
) -> dict[str, Any]:
    """Fit epochs until the next one would overrun ``budget`` seconds of ``clock``.

    ``clock="wall"`` is elapsed time; ``clock="cpu"`` is the CPU time of this
    process divided by ``TF_NUM_INTRAOP_THREADS``, which other jobs on a shared
    machine disturb far less. Both are recorded either way. ``method`` is the
    estimator method that trains each epoch, ``"fit"`` or ``"partial_fit"``.
    Returns the epoch
    count, the time spent on each clock, each epoch's wall-clock duration and,
    when ``eval_every`` is set, the test SSIM every ``eval_every`` epochs.
    """
    threads = int(os.environ.get("TF_NUM_INTRAOP_THREADS", os.cpu_count() or 1))
    spent = {"wall": 0.0, "cpu": 0.0}
    last = {"wall": 0.0, "cpu": 0.0}
    epoch_seconds: list[float] = []
    curve: list[tuple[int, float, float]] = []
    while (not epoch_seconds or spent[clock] + last[clock] <= budget) and (
        max_epochs is None or len(epoch_seconds) < max_epochs
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        getattr(est, method)(X_train)
        last = {
            "wall": time.perf_counter() - wall,
            "cpu": (time.process_time() - cpu) / threads,
        }
        spent = {name: spent[name] + last[name] for name in spent}
        epoch_seconds.append(last["wall"])
        if eval_every and len(epoch_seconds) % eval_every == 0:
            curve.append(
                (len(epoch_seconds), round(spent[clock], 1), est.score(X_test))
            )
            print(
                f"  epoch {curve[-1][0]:4d}  {curve[-1][1]:7.1f} s  "
                f"test SSIM {curve[-1][2]:.4f}",
                flush=True,
            )
    return {
        "epochs": len(epoch_seconds),
        "train_seconds": spent["wall"],
        "train_cpu_seconds_per_thread": spent["cpu"],
        "epoch_seconds": epoch_seconds,
        "test_ssim_curve": curve,
    }


def evaluate(est: VQVAE2Estimator, X_test: np.ndarray) -> dict[str, float]:
    """Return test SSIM, PSNR and the codebook usage on the test images."""
    reconstructions = est.reconstruct(X_test)
    top, bottom = est.encode(X_test)
    return {
        "test_ssim": float(ssim(X_test, reconstructions)),
        "test_psnr": float(psnr(X_test, reconstructions)),
        "test_top_usage": codebook_usage(top, est.n_top_codes_),
        "test_bottom_usage": codebook_usage(bottom, est.n_bottom_codes_),
        "train_top_usage": est.history_["top_usage"][-1],
        "train_bottom_usage": est.history_["bottom_usage"][-1],
        "train_ssim_last_epoch": est.history_["ssim"][-1],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train for the budget, evaluate, print a summary line and write JSON."""
    args = parse_args(argv)
    X_train = load_sample("train", image_size=args.image_size)
    X_test = load_sample("test", image_size=args.image_size)
    est = make_estimator(args)
    run = train_for(
        est,
        X_train,
        args.budget,
        clock=args.clock,
        max_epochs=args.max_epochs,
        method=args.method,
        X_test=X_test,
        eval_every=args.eval_every,
    )
    results = {
        "config": {k: v for k, v in vars(args).items() if k not in ("json",)},
        **evaluate(est, X_test),
        "epochs": run["epochs"],
        "train_seconds": run["train_seconds"],
        "train_cpu_seconds_per_thread": run["train_cpu_seconds_per_thread"],
        # The first epoch also builds the model and traces the step: leave it out.
        "train_images_per_second": _images_per_second(len(X_train), run),
        "epoch_seconds_median": float(np.median(run["epoch_seconds"])),
        "test_ssim_curve": run["test_ssim_curve"],
        "n_train": len(X_train),
        "n_test": len(X_test),
    }
    print(
        f"budget {args.budget:.0f} s ({args.clock}): {run['epochs']} epochs in "
        f"{run['train_seconds']:.0f} s wall, "
        f"{run['train_cpu_seconds_per_thread']:.0f} s cpu/thread, "
        f"{results['train_images_per_second']:.1f} img/s | test SSIM "
        f"{results['test_ssim']:.4f}, PSNR {results['test_psnr']:.2f} dB | usage "
        f"test top {results['test_top_usage']:.2f} bottom "
        f"{results['test_bottom_usage']:.2f}, last epoch top "
        f"{results['train_top_usage']:.2f} bottom "
        f"{results['train_bottom_usage']:.2f}"
    )
    write_record(args.json, results)
    return results


def _images_per_second(n_train: int, run: dict[str, Any]) -> float:
    """Training images per second over every epoch after the first."""
    later = run["epoch_seconds"][1:] or run["epoch_seconds"]
    return n_train * len(later) / sum(later)


if __name__ == "__main__":
    main()
