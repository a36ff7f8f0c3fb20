"""The ``oasisgen`` command: train, train-prior, sample, evaluate, report, demo, search.

A thin layer: it parses arguments, calls the public API and writes files. Run
``oasisgen COMMAND --help`` for the options of each command.

Each command is a module of this package with a ``NAME``, an ``add_parser``
that adds its subcommand to the parser, and a ``run`` that carries it out; a new
command is a new module and one more entry in `COMMANDS`. The helpers they share,
with the layout of a run directory, live in ``oasisgen.cli._common``;
:func:`write_report`, the HTML report of a run directory (formerly
``oasisgen.report``, which still re-exports it), in ``oasisgen.cli._report``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import oasisgen
from oasisgen.cli import demo, evaluate, report, sample, search, train, train_prior
from oasisgen.cli._common import MODEL_DIR
from oasisgen.cli._report import REPORT_NAME, write_report

__all__ = [
    "COMMANDS",
    "MODEL_DIR",
    "REPORT_NAME",
    "build_parser",
    "main",
    "write_report",
]

COMMANDS = (train, train_prior, sample, evaluate, report, demo, search)
INTERRUPTED = 130  # the exit status of a process stopped by SIGINT


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``oasisgen`` command.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> args = build_parser().parse_args(["train", "--epochs", "2", "--out", "r"])
    >>> args.command, args.epochs, args.data
    ('train', 2, 'sample')
    """
    parser = argparse.ArgumentParser(
        prog="oasisgen",
        description="Reconstruct and generate brain MRI slices with a VQ-VAE-2.",
    )
    parser.add_argument("--version", action="version", version=oasisgen.__version__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``oasisgen`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    status : int
        0 on success.
    """
    args = build_parser().parse_args(argv)
    commands = {command.NAME: command.run for command in COMMANDS}
    try:
        commands[args.command](args)
    except (FileNotFoundError, FileExistsError, ValueError, TypeError) as error:
        print(f"oasisgen {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (FloatingPointError, ConnectionError, TimeoutError) as error:
        print(f"oasisgen {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupted:
        print(_interrupted_message(args, interrupted), file=sys.stderr)
        return INTERRUPTED
    return 0


def _interrupted_message(args: argparse.Namespace, interrupted: BaseException) -> str:
    epoch = getattr(interrupted, "epoch", None)
    where = "" if epoch is None else f" at epoch {epoch}"
    run = getattr(args, "resume", None) or getattr(args, "out", None)
    if args.command in ("train", "demo") and run is not None:
        return (
            f"oasisgen {args.command}: interrupted{where}; resume with: "
            f"oasisgen train --resume {run}"
        )
    return f"oasisgen {args.command}: interrupted{where}; nothing was saved."
