"""``oasisgen demo``: train the demo configuration on the bundled sample.

The demo is ``oasisgen train --priors`` with the settings in `DEMO`, then
``oasisgen sample``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from oasisgen.cli import sample, train
from oasisgen.cli._common import parse_as

NAME = "demo"

# The demo: small enough to train in about five minutes on 2 CPU cores.
DEMO = {
    "image_size": 64,
    "epochs": 120,
    "num_embeddings": [128, 256],
    "embedding_dim": 32,
    "hidden_channels": 64,
    "n_res_blocks": 2,
    "n_res_channels": 32,
    "batch_size": 8,
    "learning_rate": 1e-3,
    "prior_epochs": 40,
    "prior_layers": 8,
    "prior_channels": 64,
    "prior_dropout": 0.3,  # 116 training slices: the priors overfit without it
    "prior_learning_rate": 1e-3,
    "prior_batch_size": 16,
}


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``demo`` command to the subcommands of ``oasisgen``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers`` returned.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser of ``oasisgen demo``.
    """
    demo = subparsers.add_parser(
        NAME, help="train on the bundled sample (about five minutes on 2 cores)"
    )
    demo.add_argument("--out", type=Path, default=Path("runs/demo"))
    demo.add_argument("--epochs", type=int, default=DEMO["epochs"])
    demo.add_argument("--prior-epochs", type=int, default=DEMO["prior_epochs"])
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    return demo


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train the demo configuration on the bundled sample into ``--out``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``oasisgen demo`` arguments.

    Returns
    -------
    metrics : dict
        What was written to ``metrics.json``.
    """
    settings = {**DEMO, "epochs": args.epochs, "prior_epochs": args.prior_epochs}
    argv = ["train", "--data", "sample", "--out", str(args.out), "--overwrite"]
    for name, value in settings.items():
        values = value if isinstance(value, list) else [value]
        argv += [f"--{name.replace('_', '-')}", *map(str, values)]
    argv += ["--priors"] + (["--quiet"] if args.quiet else [])
    metrics = train.run(parse_as(train.add_parser, argv))
    sample_argv = ["sample", str(args.out), "-n", "8"]
    sample.run(parse_as(sample.add_parser, [*sample_argv, "--temperature", "0.8"]))
    return metrics
