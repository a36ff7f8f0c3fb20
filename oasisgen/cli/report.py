"""``oasisgen report``: write a self-contained ``report.html`` into a run."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "report"


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``report`` command to the subcommands of ``oasisgen``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers`` returned.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser of ``oasisgen report``.
    """
    report = subparsers.add_parser(
        NAME, help="write a self-contained report.html into a run directory"
    )
    report.add_argument("run_dir", type=Path, help="a directory written by train")
    report.add_argument(
        "--data", default=None, help="data to show (default: the run's own data)"
    )
    return report


def run(args: argparse.Namespace) -> Path:
    """Write ``report.html`` (figures, metrics, parameters) into a run directory.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``oasisgen report`` arguments.

    Returns
    -------
    path : Path
        The report.
    """
    from oasisgen.cli._report import write_report

    path = write_report(args.run_dir, data=args.data)
    print(f"oasisgen: wrote {path}")
    return path
