"""``oasisgen train-prior``: train the PixelCNN priors of a trained run.

`fit_priors` also serves ``oasisgen train --priors``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import oasisgen
from oasisgen.cli._common import (
    GENERATOR_DIR,
    METRICS_FILE,
    MODEL_DIR,
    add_data_arguments,
    add_prior_arguments,
    describe,
    evaluate_samples,
    load_splits,
    per_prior,
    read_json,
    run_heldout,
    without_checkpoints,
    write_json,
)

NAME = "train-prior"


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``train-prior`` command to the subcommands of ``oasisgen``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers`` returned.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser of ``oasisgen train-prior``.
    """
    train_prior = subparsers.add_parser(
        NAME,
        help="train the top and bottom PixelCNN priors of a trained run",
    )
    train_prior.add_argument("run_dir", type=Path, help="a directory written by train")
    add_data_arguments(train_prior, image_size_default=None)
    train_prior.set_defaults(data=None)  # the data the run was trained on
    add_prior_arguments(train_prior)
    train_prior.add_argument("--seed", type=int, default=0)
    train_prior.add_argument("--quiet", action="store_true", help="no progress bars")
    return train_prior


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train the PixelCNN priors of a trained run and save the generator.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``oasisgen train-prior`` arguments.

    Returns
    -------
    figures : dict
        Held-out bits per code of both priors and the training time, also merged
        into ``metrics.json``.
    """
    vqvae = oasisgen.load(args.run_dir / MODEL_DIR)
    metrics = read_json(args.run_dir / METRICS_FILE, missing={})
    data = args.data or metrics.get("data", "sample")
    image_size = args.image_size or vqvae.image_shape_
    splits = load_splits(data, image_size, args.on_error, **run_heldout(args.run_dir))
    figures = fit_priors(args.run_dir, vqvae, splits, args)
    return figures


def fit_priors(
    run_dir: Path,
    vqvae: Any,
    splits: dict[str, Any],
    args: argparse.Namespace,
    *,
    checkpoints: Path | None = None,
) -> dict[str, Any]:
    """Train both priors on the codes of ``vqvae`` and save the generator.

    Parameters
    ----------
    run_dir : Path
        The run directory; the generator goes to ``run_dir / "generator"`` and
        the figures are merged into its ``metrics.json``.
    vqvae : VQVAE2Estimator
        The run's fitted model.
    splits : dict
        The data, as `oasisgen.cli._common.load_splits` returns it: the priors
        train on ``"train"`` and are scored on ``"test"``; with a ``"heldout"``
        split, ``--eval-samples`` samples are compared with it
        (:meth:`HierarchicalGenerator.evaluate`) and drawn beside their nearest
        training slices into ``samples_nearest.png``.
    args : argparse.Namespace
        Parsed arguments with the ``--prior-*`` options, ``--sample-temperature``,
        ``--eval-samples``, ``--seed`` and ``--quiet`` (and
        ``--keep-checkpoints`` and ``--checkpoint-every``, if any).
    checkpoints : Path, optional
        Checkpoint the priors into ``top_prior/`` and ``bottom_prior/`` here, and
        resume from what is there; no checkpoints if None.

    Returns
    -------
    figures : dict
        Held-out bits per code of both priors, the training time and, with a
        ``"heldout"`` split, the sample quality.
    """
    from oasisgen.estimators import HierarchicalGenerator, PixelCNNPrior

    mirrored = {
        "none": (),
        "bottom": ("bottom_prior",),
        "both": ("top_prior", "bottom_prior"),
    }[getattr(args, "prior_mirror_context", "none")]

    def option(name: str, level: str) -> Any:
        top, bottom = per_prior(getattr(args, name), "--" + name.replace("_", "-"))
        return top if level == "top_prior" else bottom

    def prior(level: str) -> Any:
        return PixelCNNPrior(
            mirror_context=level in mirrored,
            n_layers=option("prior_layers", level),
            hidden_channels=option("prior_hidden_channels", level),
            kernel_size=option("prior_kernel_size", level),
            attention_layers=option("prior_attention_layers", level),
            scan_order=option("prior_scan_order", level),
            # the top prior reads no condition map
            condition_layers=getattr(args, "prior_condition_layers", 1)
            if level == "bottom_prior"
            else 1,
            dropout=option("prior_dropout", level),
            learning_rate=option("prior_learning_rate", level),
            batch_size=option("prior_batch_size", level),
            epochs=option("prior_epochs", level),
            jit_compile=getattr(args, "prior_jit_compile", False),
            random_state=args.seed,
            verbose=0 if args.quiet else (1 if sys.stdout.isatty() else 2),
            warm_start=checkpoints is not None,
            checkpoint_dir=None if checkpoints is None else checkpoints / level,
            keep_checkpoints=getattr(args, "keep_checkpoints", 3),
            checkpoint_every=getattr(args, "checkpoint_every", 1),
        )

    n_copies = getattr(args, "prior_augment", 0)
    generator = HierarchicalGenerator(
        vqvae=vqvae,
        top_prior=prior("top_prior"),
        bottom_prior=prior("bottom_prior"),
        refit_vqvae=False,
        augmentation=_flips_and_gamma(n_copies, args.seed) if n_copies else None,
    )
    print(f"oasisgen: training the priors on {describe(splits['train'])}")
    started = time.perf_counter()
    generator.fit(splits["train"])
    seconds = time.perf_counter() - started
    for prior in (generator.top_prior, generator.bottom_prior):
        without_checkpoints(prior)
    for prior in (generator.top_prior_, generator.bottom_prior_):
        without_checkpoints(prior)
    bits = generator.bits_per_code(splits["test"])
    figures = {
        "prior_train_seconds": round(seconds, 2),
        "top_prior_test_bits_per_code": bits["top"],
        "bottom_prior_test_bits_per_code": bits["bottom"],
        "bottom_prior_test_bits_per_code_other_top": bits["bottom_other_top"],
        "top_prior_uniform_bits_per_code": bits["top_uniform"],
        "bottom_prior_uniform_bits_per_code": bits["bottom_uniform"],
    }
    generator.save(run_dir / GENERATOR_DIR, overwrite=True)
    print(
        f"oasisgen: priors trained in {seconds:.0f} s; held-out bits per code: top "
        f"{bits['top']:.3f} (uniform {bits['top_uniform']:.3f}), bottom "
        f"{bits['bottom']:.3f} (uniform {bits['bottom_uniform']:.3f}; "
        f"{bits['bottom_other_top']:.3f} given other slices' top codes)"
    )
    if splits.get("heldout") is not None:
        figures["sample_quality"] = evaluate_samples(run_dir, generator, splits, args)
    _merge_metrics(run_dir, figures)
    return figures


def _flips_and_gamma(n_copies: int, seed: int) -> Any:
    """Return the augmentation of ``--prior-augment``: flips and gamma only.

    Rotations, scalings and shifts move the head across the code grid and made
    the demo's samples less plausible in measurement (benchmarks/README.md).
    """
    from oasisgen.preprocessing import RandomSliceTransform

    return RandomSliceTransform(
        rotation=0.0, scale=0.0, shift=0.0, n_copies=n_copies, random_state=seed
    )


def _merge_metrics(run_dir: Path, figures: dict[str, Any]) -> None:
    path = run_dir / METRICS_FILE
    write_json(path, {**read_json(path, missing={}), **figures})
