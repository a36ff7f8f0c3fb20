"""``oasisgen evaluate``: SSIM and PSNR of a trained run on the test split."""

from __future__ import annotations

import argparse
from pathlib import Path

import oasisgen
from oasisgen.cli._common import (
    MODEL_DIR,
    add_data_arguments,
    describe,
    load_splits,
    reconstruction_figures,
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
    evaluate = subparsers.add_parser(NAME, help="SSIM and PSNR on the test split")
    evaluate.add_argument("run_dir", type=Path, help="a directory written by train")
    add_data_arguments(evaluate, image_size_default=None)
    return evaluate


def run(args: argparse.Namespace) -> dict[str, float]:
    """Print SSIM and PSNR of a trained run on the test split of ``--data``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``oasisgen evaluate`` arguments.

    Returns
    -------
    figures : dict
        ``test_ssim`` and ``test_psnr``.
    """
    estimator = oasisgen.load(args.run_dir / MODEL_DIR)
    image_size = args.image_size or estimator.image_shape_
    test = load_splits(args.data, image_size, args.on_error)["test"]
    figures = reconstruction_figures(estimator, test, path=None)
    print(
        f"test SSIM {figures['test_ssim']:.4f}  PSNR {figures['test_psnr']:.2f} dB  "
        f"({describe(test)} from {args.data!r})"
    )
    return figures
