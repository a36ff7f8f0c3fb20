"""Sampling speed of the PixelCNN priors: the 256x256 set-up and fast against naive.

Three measurements, printed as a table and written as JSON:

1. ``gen.sample(8)`` at the 256x256 configuration: a VQ-VAE-2 whose code maps are
   32x32 (top) and 64x64 (bottom), K=512 codes per level, and default-size priors
   (12 gated layers, 128 channels, kernel 5), the bottom one conditioned on the top.
   The weights come from one short epoch on a few bundled slices: sampling time does
   not depend on what the weights are, only on the shapes.
2. The fast sampler (cached activations) against the naive one (the whole network
   once per position) on the same model, grid and seed; both must return identical
   maps. The naive sampler is timed on a 32x32 grid with a mid-size prior so that it
   finishes in minutes.
3. The fast sampler of the 256x256 configuration's top prior (32x32 codes) with 2
   attention layers against the same prior without, as a ratio of two timings in
   one process.

Run::

    export TF_NUM_INTRAOP_THREADS=2 TF_NUM_INTEROP_THREADS=1
    .venv/bin/python benchmarks/sampling.py --json benchmarks/results/sampling.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _machine import write_record

from oasisgen import HierarchicalGenerator, PixelCNNPrior, VQVAE2Estimator
from oasisgen.datasets import load_sample


def timed(function, *args, **kwargs) -> tuple[float, object]:
    """Return the wall-clock seconds of one call and its result."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def generator_256(n_images: int) -> HierarchicalGenerator:
    """Fit the 256x256 configuration for one short epoch on a few slices."""
    images = load_sample("train", image_size=256)[:n_images]
    prior = PixelCNNPrior(epochs=1, batch_size=4, random_state=0)
    return HierarchicalGenerator(
        vqvae=VQVAE2Estimator(
            num_embeddings=512, epochs=1, batch_size=4, random_state=0
        ),
        top_prior=prior,
        bottom_prior=prior,
    ).fit(images)


def sample_256(n_samples: int, n_images: int) -> dict[str, float]:
    """Time ``gen.sample`` at 256x256: the first call (tracing) and a repeat."""
    generator = generator_256(n_images)
    first, images = timed(generator.sample, n_samples, random_state=0)
    again, _ = timed(generator.sample, n_samples, random_state=1)
    assert images.shape == (n_samples, 256, 256, 1)
    return {
        "n_samples": n_samples,
        "first_call_seconds": round(first, 2),
        "seconds": round(again, 2),
    }


def traced_prior(grid: int, n_samples: int, **params: int) -> PixelCNNPrior:
    """Fit a K=512 prior for one epoch on random maps; trace its fast sampler.

    Sampling time depends on the shapes, not on what the weights are.
    """
    codes = np.random.default_rng(0).integers(0, 512, size=(16, grid, grid))
    prior = PixelCNNPrior(
        num_embeddings=512, epochs=1, batch_size=16, random_state=0, **params
    ).fit(codes)
    prior.sample(n_samples, random_state=0)  # trace the fast sampler once
    return prior


def fast_against_naive(
    n_samples: int, grid: int, n_layers: int, channels: int
) -> dict[str, float]:
    """Time both samplers on one prior; check they draw identical maps."""
    prior = traced_prior(grid, n_samples, n_layers=n_layers, hidden_channels=channels)
    fast, fast_codes = timed(prior.sample, n_samples, random_state=1)
    naive, naive_codes = timed(prior.sample, n_samples, random_state=1, method="naive")
    return {
        "grid": f"{grid}x{grid}",
        "n_layers": n_layers,
        "channels": channels,
        "n_samples": n_samples,
        "fast_seconds": round(fast, 3),
        "naive_seconds": round(naive, 2),
        "speedup": round(naive / fast, 1),
        "identical": bool(np.array_equal(fast_codes, naive_codes)),
    }


def attention_cost(n_samples: int, grid: int, attention_layers: int) -> dict:
    """Time the fast sampler of a default-size prior with and without attention."""
    seconds = {}
    for layers in (0, attention_layers):
        prior = traced_prior(grid, n_samples, attention_layers=layers)
        seconds[layers], _ = timed(prior.sample, n_samples, random_state=1)
    return {
        "grid": f"{grid}x{grid}",
        "attention_layers": attention_layers,
        "n_samples": n_samples,
        "seconds_without": round(seconds[0], 3),
        "seconds_with": round(seconds[attention_layers], 3),
        "ratio": round(seconds[attention_layers] / seconds[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=8)
    parser.add_argument("--train-images", type=int, default=8)
    parser.add_argument("--naive-layers", type=int, default=6)
    parser.add_argument("--naive-channels", type=int, default=64)
    parser.add_argument("--naive-grid", type=int, default=32)
    parser.add_argument("--attention-layers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    results = {
        "sample_256": sample_256(args.n_samples, args.train_images),
        "fast_vs_naive": fast_against_naive(
            args.n_samples, args.naive_grid, args.naive_layers, args.naive_channels
        ),
        "attention": attention_cost(args.n_samples, 32, args.attention_layers),
    }
    s256, versus = results["sample_256"], results["fast_vs_naive"]
    attention = results["attention"]
    print(
        f"sample({s256['n_samples']}) at 256x256 (32x32 + 64x64 codes): "
        f"{s256['seconds']} s ({s256['first_call_seconds']} s with tracing)"
    )
    print(
        f"fast vs naive, {versus['grid']}, {versus['n_layers']} layers x "
        f"{versus['channels']} channels: {versus['fast_seconds']} s vs "
        f"{versus['naive_seconds']} s = {versus['speedup']}x, identical: "
        f"{versus['identical']}"
    )
    print(
        f"fast sampler, {attention['grid']} top codes, "
        f"{attention['attention_layers']} attention layers: "
        f"{attention['seconds_with']} s against {attention['seconds_without']} s "
        f"without = {attention['ratio']}x"
    )
    write_record(args.json, results)


if __name__ == "__main__":
    main()
