"""``oasisgen evaluate``: SSIM and PSNR of a trained run on the test split."""

from __future__ import annotations

import argparse
from pathlib import Path

import oasisgen
from oasisgen.cli._common import (
    GENERATOR_DIR,
    MODEL_DIR,
    add_data_arguments,
    add_temperature_argument,
    describe,
    evaluate_samples,
    load_splits,
    reconstruction_figures,
    run_heldout,
    run_sample_temperature,
    write_json,
)

NAME = "evaluate"


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``evaluate`` command to the subcommands of ``oasisgen``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers`` returned.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser of ``oasisgen evaluate``.
    """
    evaluate = subparsers.add_parser(
        NAME, help="SSIM and PSNR on the test split; sample quality with --samples"
    )
    evaluate.add_argument("run_dir", type=Path, help="a directory written by train")
    add_data_arguments(evaluate, image_size_default=None)
    evaluate.add_argument(
        "--samples",
        action="store_true",
        help="also compare samples of the run's generator with the slices it held "
        "out (a run trained with --priors and --heldout-fraction)",
    )
    evaluate.add_argument("--eval-samples", type=int, default=64)
    evaluate.add_argument(
        "--classifier",
        choices=["cnn", "linear"],
        default="cnn",
        help="the two-sample test's classifier: a small CNN (default) or a logistic "
        "regression on fixed features (16x16 pixels, head shape, detail energy)",
    )
    add_temperature_argument(
        evaluate,
        "--sample-temperature",
        default=None,
        default_text="the run's own --sample-temperature",
    )
    evaluate.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write every figure to PATH as JSON (a new file)",
    )
    return evaluate


def _check_json_path(path: Path | None) -> None:
    """Refuse, before any work, a ``--json`` file that exists or cannot be made."""
    if path is None:
        return
    if path.exists():
        raise SystemExit(
            f"oasisgen: --json {str(path)!r} already exists; evaluate writes a new "
            "file and leaves existing ones alone. Choose another path or remove it."
        )
    if not path.parent.is_dir():
        raise SystemExit(
            f"oasisgen: --json {str(path)!r}: the folder {str(path.parent)!r} does "
            "not exist. Create it first, or choose another path."
        )


def run(args: argparse.Namespace) -> dict[str, float]:
    """Print SSIM and PSNR of a trained run on the test split of ``--data``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``oasisgen evaluate`` arguments.

    Returns
    -------
    figures : dict
        ``test_ssim`` and ``test_psnr``; with ``--samples``, ``sample_quality``
        too (see :meth:`oasisgen.HierarchicalGenerator.evaluate`). With
        ``--json PATH`` they are written there too.
    """
    _check_json_path(args.json)
    estimator = oasisgen.load(args.run_dir / MODEL_DIR)
    image_size = args.image_size or estimator.image_shape_
    heldout = run_heldout(args.run_dir)
    splits = load_splits(args.data, image_size, args.on_error, **heldout)
    test = splits["test"]
    figures = reconstruction_figures(estimator, test, path=None)
    print(
        f"test SSIM {figures['test_ssim']:.4f}  PSNR {figures['test_psnr']:.2f} dB  "
        f"({describe(test)} from {args.data!r})"
    )
    if args.samples:
        if splits.get("heldout") is None or not (args.run_dir / GENERATOR_DIR).is_dir():
            raise ValueError(
                f"oasisgen evaluate --samples needs a run trained with --priors and "
                f"--heldout-fraction, whose generator never saw the held-out slices "
                f"of its training people; {str(args.run_dir)!r} has "
                + (
                    "no generator."
                    if splits.get("heldout") is not None
                    else "no held-out slices."
                )
                + " Samples compared with other people measure the people, not "
                "the model."
            )
        args.seed = heldout["seed"]
        if args.sample_temperature is None:
            args.sample_temperature = run_sample_temperature(args.run_dir)
        generator = oasisgen.load(args.run_dir / GENERATOR_DIR)
        figures["sample_quality"] = evaluate_samples(
            args.run_dir, generator, splits, args
        )
    if args.json is not None:
        write_json(args.json, figures)
    return figures
