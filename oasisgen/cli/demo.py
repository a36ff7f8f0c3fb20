"""``oasisgen demo``: train the demo configuration on the bundled sample.

The demo is ``oasisgen train --priors`` with the settings in `DEMO` (and
`LARGE_IMAGES` above 64 pixels), holding out a fifth of each training person's
slices to measure the samples against, then ``oasisgen sample`` (eight slices at
levels drawn from the training slices) and ``oasisgen sample --slice-position`` at
a low, a middle and a high level.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from oasisgen.cli import sample, train
from oasisgen.cli._common import (
    BOTTOM_STRIDES,
    LEVELS_FIGURE,
    add_per_prior_argument,
    parse_as,
    temperature_option,
)

NAME = "demo"

# The demo: small enough to train in about 5 minutes on 2 quiet CPU cores. The
# settings of the priors, the small top codebook and the augmentation were chosen
# by measuring the samples (benchmarks/README.md, "Sample quality").
DEMO = {
    "image_size": 64,
    "epochs": 120,
    "num_embeddings": [16, 64],  # small codebooks: priors that learn them from few
    "embedding_dim": 32,
    "hidden_channels": 64,
    "n_res_blocks": 2,
    "n_res_channels": 32,
    # 2: codes of 2x2 pixels that reconstruct the anatomy (test SSIM 0.80 -> 0.95),
    # for priors that train 2.5 times as long: benchmarks/README.md, "Bottom stride"
    "bottom_stride": 2,
    # top codes that hold the layout, so the samples take the level they are
    # drawn at: benchmarks/README.md, "Top codes that matter"
    "top_reconstruction_weight": 1.0,
    # edges as strong as the slices': reconstructions with real fine detail 0.22
    # -> 0.35 of them, test SSIM 0.954 -> 0.955 (benchmarks/README.md, "Sharper
    # reconstructions")
    "gradient_loss_weight": 1.0,
    # 0.1 draws smoother, less speckled interiors but loses fine detail and test
    # SSIM, with mixed figures over three runs; the demo keeps the paper's training
    # (benchmarks/README.md, "Where the speckle comes from")
    "bottom_code_noise": 0.0,
    # a patch discriminator's loss for the decoder gives more samples real fine
    # detail (0.28 -> 0.47 and 0.31 -> 0.41 over two seeds) but no cleaner
    # interiors, and the other figures tie or fall (benchmarks/README.md, "An
    # adversarial decoder")
    "adversarial_loss_weight": 0.0,
    "batch_size": 8,
    "learning_rate": 1e-3,
    "heldout_fraction": 0.2,  # a fifth of each person's slices, to judge samples
    # top prior, bottom prior: the bottom one reads 16 times the codes; with half
    # the channels an epoch takes 0.3 of the arithmetic, and trained twice as long
    # at twice the rate it draws cleaner interiors in less time (priors 486 s ->
    # 406 s): benchmarks/README.md, "Cheaper, longer-trained bottom priors"
    "prior_epochs": [12, 24],
    "prior_layers": 8,
    "prior_hidden_channels": [64, 32],
    "prior_kernel_size": 3,
    "prior_dropout": 0.2,
    "prior_learning_rate": [1e-3, 2e-3],
    "prior_batch_size": 16,
    "prior_augment": 3,  # flipped, gamma-corrected copies against overfitting
    "prior_mirror_context": "both",  # symmetric heads: plausibility 0.58 -> 0.89
    # the bottom prior reads the top codes with 3 convolutions, not 1: each
    # bottom code sees 7x7 of the 8x8 top codes (benchmarks/README.md, "A bottom
    # prior that sees the layout")
    "prior_condition_layers": 3,
    # XLA: the top prior's step 1.8 times as fast on 2 CPU cores, the bottom
    # prior's 1.2 times, less the compiling (benchmarks/README.md, "Priors with XLA")
    "prior_jit_compile": True,
    # top, bottom: a top prior drawn at 0.8, not 0.6, gives the samples the real
    # slices' brightness and draws them further from the training slices, as
    # plausible, over three runs (benchmarks/README.md, "Top temperature")
    "sample_temperature": [0.8, 1.0],
    "eval_samples": 64,
    "checkpoint_every": 10,  # a checkpoint costs a fifth of a short epoch
}

# Above 64 pixels the top grid (a side of image_size / 8 codes) is wider than what
# 8 gated layers of kernel 3 see. At 128 a top prior of kernel 5 with 2 attention
# layers draws the level it is given (level error 0.19 -> 0.07) and heads (shape
# plausibility 0.79 -> 0.89); at 64, where kernel 3 sees the whole 8x8 grid, its
# figures are mixed (benchmarks/README.md, "A top prior that sees its whole
# grid"). Drawn from the back of the head up, the top prior draws the face last,
# seeing the rest: at 128 the low slices keep a closed outline (plausibility
# 0.81 -> 0.87, held-out bits 1.93 -> 1.86; "Which prior falls short"). The
# bottom prior of kernel 5 sees far enough along its 64x64 map to draw the folds
# of the cortex: samples with real fine detail 0.04 -> 0.59, for a fit about 1.3
# times as long ("The bottom prior's detail at 128 pixels").
# Top prior, bottom prior.
LARGE_IMAGES = {
    "prior_kernel_size": [5, 5],
    "prior_attention_layers": [2, 0],
    "prior_scan_order": ["bottom_up", "top_down"],
}


def demo_settings(image_size: int) -> dict[str, Any]:
    """Return the demo's settings at ``image_size``.

    Parameters
    ----------
    image_size : int
        Side of the slices.

    Returns
    -------
    settings : dict
        `DEMO`, with `LARGE_IMAGES` above 64 pixels, and ``image_size``.

    Examples
    --------
    >>> from oasisgen.cli.demo import demo_settings
    >>> demo_settings(64)["prior_kernel_size"], demo_settings(128)["prior_kernel_size"]
    (3, [5, 5])
    >>> demo_settings(128)["prior_scan_order"]
    ['bottom_up', 'top_down']
    """
    large = LARGE_IMAGES if image_size > 64 else {}
    return {**DEMO, **large, "image_size": image_size}


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
        NAME, help="train on the bundled sample (about 5 minutes on 2 cores)"
    )
    demo.add_argument("--out", type=Path, default=Path("runs/demo"))
    demo.add_argument(
        "--image-size",
        type=int,
        default=DEMO["image_size"],
        help="side of the slices (default: 64; 128 takes about an hour on 2 "
        "cores, with priors of kernel 5 and a top prior with attention)",
    )
    demo.add_argument("--epochs", type=int, default=DEMO["epochs"])
    demo.add_argument(
        "--bottom-stride",
        type=int,
        choices=BOTTOM_STRIDES,
        default=DEMO["bottom_stride"],
        help="4: a bottom code map half as fine, blurred slices, priors that "
        "train 2.5 times faster (default: 2)",
    )
    epochs = DEMO["prior_epochs"]
    epochs = epochs if isinstance(epochs, list) else [epochs]
    add_per_prior_argument(
        demo,
        "--prior-epochs",
        int,
        epochs,
        "epochs of both priors, or of the top and the bottom prior (default: "
        f"{' '.join(map(str, epochs))})",
    )
    demo.add_argument(
        "--eval-samples",
        type=int,
        default=DEMO["eval_samples"],
        help="samples drawn to measure sample quality (default: 64)",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    return demo


def _levels_figure(generator: Any, out: Path, temperature: list[float]) -> None:
    """Draw four slices at each of three levels into ``samples_levels.png``."""
    import numpy as np

    from oasisgen.plotting import plot_image_grid

    levels = (0.2, 0.5, 0.8)
    images = np.concatenate(
        [
            generator.sample(
                4,
                slice_position=level,
                random_state=0,
                temperature=temperature_option(temperature),
            )
            for level in levels
        ]
    )
    plot_image_grid(
        images,
        n_cols=4,
        title="rows: slice positions " + ", ".join(map(str, levels)),
        path=out / LEVELS_FIGURE,
    )


def train_argv(args: argparse.Namespace) -> list[str]:
    """Return the ``oasisgen train`` command line the demo runs.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``oasisgen demo`` arguments.

    Returns
    -------
    argv : list of str
        ``train --priors`` on the bundled sample into ``args.out``, with the
        demo's settings at ``args.image_size`` and the epochs and samples asked for.

    Examples
    --------
    >>> from oasisgen.cli import demo
    >>> from oasisgen.cli._common import parse_as
    >>> args = parse_as(demo.add_parser, ["demo", "--out", "runs/demo"])
    >>> argv = demo.train_argv(args)
    >>> argv[:3], "--prior-jit-compile" in argv
    (['train', '--data', 'sample'], True)
    """
    settings = {
        **demo_settings(args.image_size),
        "epochs": args.epochs,
        "bottom_stride": args.bottom_stride,
        "prior_epochs": args.prior_epochs,
        "eval_samples": args.eval_samples,
    }
    argv = ["train", "--data", "sample", "--out", str(args.out), "--overwrite"]
    for name, value in settings.items():
        flag = f"--{name.replace('_', '-')}"
        if isinstance(value, bool):
            argv += [flag] if value else []
            continue
        values = value if isinstance(value, list) else [value]
        argv += [flag, *map(str, values)]
    return argv + ["--priors"] + (["--quiet"] if args.quiet else [])


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
    metrics = train.run(parse_as(train.add_parser, train_argv(args)))
    temperature = list(map(str, DEMO["sample_temperature"]))
    sample_argv = ["sample", str(args.out), "-n", "8", "--temperature", *temperature]
    generator = sample.load_generator(args.out)
    sample.run(parse_as(sample.add_parser, sample_argv), generator)
    _levels_figure(generator, args.out, DEMO["sample_temperature"])
    return metrics
