"""``oasisgen sample``: generate new slices with a run's priors."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import oasisgen
from oasisgen.cli._common import (
    GENERATOR_DIR,
    SAMPLES_FIGURE,
    add_temperature_argument,
    temperature_option,
)

NAME = "sample"


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``sample`` command to the subcommands of ``oasisgen``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers`` returned.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser of ``oasisgen sample``.
    """
    sample = subparsers.add_parser(NAME, help="generate new slices with a run's priors")
    sample.add_argument("run_dir", type=Path, help="a run with trained priors")
    sample.add_argument("-n", "--n-samples", type=int, default=8)
    sample.add_argument("--seed", type=int, default=0)
    add_temperature_argument(sample, "--temperature", default=[1.0], default_text="1.0")
    sample.add_argument("--top-k", type=int, default=None)
    sample.add_argument(
        "--slice-position",
        type=float,
        default=None,
        help="draw slices at this level, in [0, 1] (0 the lowest slice of a volume, "
        "1 the highest); for a run trained on slices with known positions",
    )
    sample.add_argument(
        "--out", type=Path, default=None, help="PNG grid (default RUN_DIR/samples.png)"
    )
    sample.add_argument("--npy", type=Path, default=None, help="also save the array")
    return sample


def load_generator(run_dir: Path) -> Any:
    """Return the generator of a run, or say how to train one.

    Parameters
    ----------
    run_dir : Path
        A run directory of ``oasisgen train``.

    Returns
    -------
    generator : HierarchicalGenerator

    Raises
    ------
    FileNotFoundError
        If the run has no trained priors.
    """
    folder = run_dir / GENERATOR_DIR
    if not folder.exists():
        raise FileNotFoundError(
            f"{str(run_dir)!r} has no trained priors ({GENERATOR_DIR}/); run "
            f"oasisgen train-prior {run_dir} first."
        )
    return oasisgen.load(folder)


def run(args: argparse.Namespace, generator: Any = None) -> np.ndarray:
    """Generate slices with a run's generator; write a PNG grid (and a .npy).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``oasisgen sample`` arguments.
    generator : HierarchicalGenerator, optional
        The run's generator, if it is loaded already; read from the run otherwise.

    Returns
    -------
    images : ndarray of shape (n_samples, height, width, 1)
        The generated slices.
    """
    from oasisgen.plotting import plot_image_grid

    if generator is None:
        generator = load_generator(args.run_dir)
    started = time.perf_counter()
    images = generator.sample(
        args.n_samples,
        slice_position=args.slice_position,
        random_state=args.seed,
        temperature=temperature_option(args.temperature),
        top_k=args.top_k,
        progress=sys.stdout.isatty(),
    )
    seconds = time.perf_counter() - started
    out = args.out or args.run_dir / SAMPLES_FIGURE
    level = "" if args.slice_position is None else f" at {args.slice_position:g}"
    plot_image_grid(
        images,
        n_cols=min(4, len(images)),
        title=f"{len(images)} samples{level}, seed {args.seed}",
        path=out,
    )
    if args.npy is not None:
        np.save(args.npy, images)
    print(f"oasisgen: sampled {len(images)} slices in {seconds:.1f} s; wrote {out}")
    return images
