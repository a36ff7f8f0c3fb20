"""What the ``oasisgen`` commands share: options, the run directory and the data.

A run directory, written by ``oasisgen train``, holds the model in `MODEL_DIR`,
the generator in `GENERATOR_DIR`, the training checkpoints in `CHECKPOINT_DIR`
and the options it was started with in `ARGS_FILE`, beside ``metrics.json``,
``history.json`` and figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# What a run directory holds; every command names these files through here.
MODEL_DIR = "model"
GENERATOR_DIR = "generator"
CHECKPOINT_DIR = "checkpoints"
ARGS_FILE = "args.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
RECONSTRUCTIONS_FIGURE = "reconstructions.png"
SAMPLES_FIGURE = "samples.png"
NEAREST_FIGURE = "samples_nearest.png"
LEVELS_FIGURE = "samples_levels.png"
REPORT_FILE = "report.html"
RUN_FILES = (
    ARGS_FILE,
    METRICS_FILE,
    HISTORY_FILE,
    RECONSTRUCTIONS_FIGURE,
    SAMPLES_FIGURE,
    NEAREST_FIGURE,
    LEVELS_FIGURE,
    REPORT_FILE,
)
"""The files of a run directory besides its model folders."""
# oasisgen.nn.vqvae2.BOTTOM_STRIDES, which the commands cannot import without
# starting TensorFlow before a multi-worker strategy (tests/cli/test_cli.py checks them)
BOTTOM_STRIDES = (4, 2)


def parse_as(
    add_parser: Callable[[Any], argparse.ArgumentParser], argv: Sequence[str]
) -> argparse.Namespace:
    """Parse ``oasisgen`` arguments with only the command that ``add_parser`` adds.

    The namespace is the one the whole ``oasisgen`` parser would return.
    """
    parser = argparse.ArgumentParser(prog="oasisgen")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def add_data_arguments(
    parser: argparse.ArgumentParser, image_size_default: int | None = 256
) -> None:
    """Add ``--data``, ``--image-size`` and ``--on-error`` to ``parser``."""
    parser.add_argument(
        "--data",
        default="sample",
        help="'sample' (bundled slices), an OASIS root, a NIfTI file or folder, "
        "or a folder of images (default: sample)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=image_size_default,
        help="resize slices to this many pixels a side (a multiple of 8)",
    )
    parser.add_argument(
        "--on-error",
        choices=["raise", "skip"],
        default="raise",
        help="what to do with an unreadable image or volume: stop before training "
        "and name it (default), or leave it out and list the files left out",
    )


MIRROR_CONTEXT = ("none", "bottom", "both")
"""Choices of ``--prior-mirror-context``: the priors given ``mirror_context``."""


class _TopAndBottom(argparse.Action):
    """Store one value for both priors, or a top and a bottom value; refuse more."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if len(values) > 2:
            parser.error(
                f"{option_string} takes one value for both priors or a top and a "
                f"bottom value; got {len(values)} values {values}."
            )
        if option_string in RENAMED_FLAGS:
            print(
                f"oasisgen: {option_string} is deprecated and will be removed in "
                f"oasisgen 0.3; use {RENAMED_FLAGS[option_string]} (the same values).",
                file=sys.stderr,
            )
        setattr(namespace, self.dest, values)


def add_per_prior_argument(
    parser: Any,
    flag: str,
    kind: type,
    default: list[Any] | None,
    help_text: str,
    *,
    metavar: str | None = None,
) -> None:
    """Add an option of one value for both priors or a top and a bottom value.

    More values are refused when the command line is parsed, before anything
    runs. Read it back with :func:`per_prior` (or :func:`temperature_option`).
    """
    old_flags = [old for old, new in RENAMED_FLAGS.items() if new == flag]
    parser.add_argument(
        flag,
        *old_flags,
        type=kind,
        nargs="+",
        action=_TopAndBottom,
        default=default,
        metavar=metavar or ("N" if kind is int else "X"),
        help=help_text,
    )


RENAMED_FLAGS = {"--prior-channels": "--prior-hidden-channels"}
"""Old flag -> its new name; the old one still works, with a warning."""

RENAMED_OPTIONS = {
    old.removeprefix("--").replace("-", "_"): new.removeprefix("--").replace("-", "_")
    for old, new in RENAMED_FLAGS.items()
}
"""The same as ``args.json`` keys, for runs saved before a rename."""

PRIOR_OPTIONS: tuple[tuple[str, type, float], ...] = (
    ("--prior-epochs", int, 20),
    ("--prior-layers", int, 12),
    ("--prior-hidden-channels", int, 128),
    ("--prior-kernel-size", int, 5),
    ("--prior-attention-layers", int, 0),
    ("--prior-dropout", float, 0.0),
    ("--prior-learning-rate", float, 3e-4),
    ("--prior-batch-size", int, 32),
)
"""The per-prior options of `add_prior_arguments`: flag, type and default."""


def add_prior_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``--prior-*`` options, in a group of their own, to ``parser``."""
    group = parser.add_argument_group(
        "priors",
        "Each --prior-* option that takes N or X takes one value for both priors, "
        "or the top prior's and the bottom prior's: the bottom prior reads a code "
        "map 4 to 16 times as large, and may be given fewer layers or channels.",
    )
    for flag, kind, default in PRIOR_OPTIONS:
        add_per_prior_argument(group, flag, kind, [default], f"(default: {default})")
    add_per_prior_argument(
        group,
        "--prior-scan-order",
        scan_order,
        ["top_down"],
        "the order in which each prior draws the rows of its code map, "
        "top_down (from the first row) or bottom_up (PixelCNNPrior(scan_order=...)):"
        " bottom_up draws the back of the head of the bundled slices first "
        "(default: top_down)",
        metavar="ORDER",
    )
    group.add_argument(
        "--prior-mirror-context",
        choices=MIRROR_CONTEXT,
        default="none",
        help="which priors also see the codes at the mirror image of each "
        "position across the vertical midline, which keeps sampled heads "
        "symmetric (default: none)",
    )
    group.add_argument(
        "--prior-condition-layers",
        type=positive_int,
        default=1,
        metavar="N",
        help="3x3 convolutions with which the bottom prior reads the top codes "
        "before upsampling them (PixelCNNPrior(condition_layers=N)): with more, "
        "each bottom code sees more of the layout around it (default: 1)",
    )
    group.add_argument(
        "--prior-augment",
        type=int,
        default=0,
        metavar="N_COPIES",
        help="the priors also learn from N_COPIES copies of every training slice, "
        "each randomly flipped left-right and gamma-corrected (default: 0, none)",
    )
    group.add_argument(
        "--prior-jit-compile",
        action="store_true",
        help="train the priors with XLA (PixelCNNPrior(jit_compile=True)): the "
        "demo's steps 1.2 (bottom) to 1.8 (top prior) times as fast on 2 CPU cores, "
        "after a first epoch that compiles",
    )
    add_temperature_argument(
        group,
        "--sample-temperature",
        default=[1.0],
        purpose="sampling temperature of the samples that evaluate the priors: ",
        default_text="1.0",
    )
    group.add_argument(
        "--eval-samples",
        type=int,
        default=64,
        help="samples drawn to measure sample quality against the held-out "
        "slices of --heldout-fraction (default: 64)",
    )


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the VQ-VAE-2's options (see `estimator_params`) to ``parser``."""
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--num-embeddings",
        type=int,
        nargs="+",
        default=[512],
        help="codebook size, or the top and bottom sizes",
    )
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--hidden-channels", type=int, default=128)
    parser.add_argument("--n-res-blocks", type=int, default=2)
    parser.add_argument("--n-res-channels", type=int, default=32)
    parser.add_argument("--commitment-cost", type=float, default=0.25)
    parser.add_argument("--decay", type=float, default=0.99)
    parser.add_argument(
        "--bottom-stride",
        type=int,
        choices=BOTTOM_STRIDES,
        default=BOTTOM_STRIDES[0],
        help="bottom code map 4 (default) or 2 times coarser than the slices; 2 "
        "reconstructs small slices far more sharply",
    )
    parser.add_argument(
        "--top-reconstruction-weight",
        type=float,
        default=0.0,
        help="weight of the error of a coarse image read from the top codes alone, "
        "so that they hold the slice's layout (default: 0, the paper's loss)",
    )
    parser.add_argument(
        "--gradient-loss-weight",
        type=float,
        default=0.0,
        help="weight of the gradient-difference loss, which asks for edges as "
        "strong as the slices' (default: 0, the paper's loss)",
    )
    parser.add_argument(
        "--bottom-code-noise",
        type=float,
        default=0.0,
        help="share of the bottom codes training decodes as random ones, so that "
        "the decoder draws smooth images around a prior's misfits (default: 0)",
    )
    parser.add_argument(
        "--adversarial-loss-weight",
        type=float,
        default=0.0,
        help="weight of the decoder's loss against a patch discriminator trained "
        "beside it, which asks for texture that looks real (default: 0)",
    )
    parser.add_argument(
        "--learning-rate",
        type=auto_or(float),
        default="auto",
        help="a number, or auto (default): 1e-3 for fewer than 1,024 training "
        "slices, 3e-4 for more",
    )
    parser.add_argument(
        "--batch-size",
        type=auto_or(positive_int),
        default="auto",
        help="a number, or auto (default): a thirty-second of the training slices, "
        "from 4 to 32",
    )
    parser.add_argument("--validation-fraction", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument(
        "--distribute", choices=["mirrored", "multi_worker"], default=None
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def estimator_params(args: argparse.Namespace) -> dict[str, Any]:
    """Return the `VQVAE2Estimator` parameters given by `add_model_arguments`."""
    sizes = args.num_embeddings
    if len(sizes) not in (1, 2):
        raise SystemExit(
            f"oasisgen: --num-embeddings takes one size or a top and a bottom size; "
            f"got {len(sizes)} values {sizes}."
        )
    return {
        "num_embeddings": sizes[0] if len(sizes) == 1 else tuple(sizes),
        "embedding_dim": args.embedding_dim,
        "hidden_channels": args.hidden_channels,
        "n_res_blocks": args.n_res_blocks,
        "n_res_channels": args.n_res_channels,
        "commitment_cost": args.commitment_cost,
        "decay": args.decay,
        "bottom_stride": args.bottom_stride,
        "top_reconstruction_weight": args.top_reconstruction_weight,
        "gradient_loss_weight": args.gradient_loss_weight,
        "bottom_code_noise": args.bottom_code_noise,
        "adversarial_loss_weight": args.adversarial_loss_weight,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "validation_fraction": args.validation_fraction,
        "random_state": args.seed,
        # a live progress bar on a terminal, one summary line per epoch in logs
        "verbose": 0 if args.quiet else (1 if sys.stdout.isatty() else 2),
        "jit_compile": args.jit_compile,
        "distribute": args.distribute,
    }


def add_temperature_argument(
    parser: Any,
    flag: str,
    *,
    default: list[float] | None,
    purpose: str = "",
    default_text: str,
) -> None:
    """Add a temperature option: one value for both priors, or top and bottom.

    Read it back with :func:`temperature_option`.
    """
    add_per_prior_argument(
        parser,
        flag,
        float,
        default,
        f"{purpose}one temperature for both priors, or the top and the bottom one "
        f"(default: {default_text})",
        metavar="T",
    )


def per_prior(values: Any, flag: str) -> tuple[Any, Any]:
    """Return the top prior's and the bottom prior's value of a ``--prior-*`` option.

    ``values`` is one value for both priors or a top and a bottom value; a single
    value that is not a list (as in the ``args.json`` of runs from before the
    option took two) counts as one value.
    """
    values = values if isinstance(values, (list, tuple)) else [values]
    if len(values) not in (1, 2):
        raise SystemExit(
            f"oasisgen: {flag} takes one value for both priors or a top and a "
            f"bottom value; got {len(values)} values {list(values)}."
        )
    return values[0], values[-1]


def temperature_option(values: Sequence[float]) -> float | tuple[float, float]:
    """Return a ``--temperature`` option: one value, or a (top, bottom) pair."""
    if len(values) not in (1, 2):
        raise SystemExit(
            "oasisgen: a temperature is one value for both priors or a top and a "
            f"bottom value; got {len(values)} values {list(values)}."
        )
    return float(values[0]) if len(values) == 1 else (values[0], values[1])


def prepare_run_dir(out: Path, *, overwrite: bool) -> Path:
    """Create the run directory ``out``, or empty it of a previous run's files.

    An ``out`` that already holds files is refused unless ``overwrite``.
    """
    if out.exists() and any(out.iterdir()) and not overwrite:
        resume = (
            f", --resume {out} to continue it" if (out / ARGS_FILE).exists() else ""
        )
        raise SystemExit(
            f"oasisgen: {str(out)!r} already holds files; pass --overwrite to replace "
            f"the run there{resume}, or choose another --out."
        )
    out.mkdir(parents=True, exist_ok=True)
    if overwrite:
        # est.save replaces the model atomically; stale extras and the previous
        # run's checkpoints (which a new run must not resume) are removed
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / GENERATOR_DIR, ignore_errors=True)
        shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)
    return out


def positive_int(text: str) -> int:
    """Return ``text`` as an integer of at least 1, for an ``argparse`` type.

    Parameters
    ----------
    text : str
        The option's value as typed.

    Returns
    -------
    value : int

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not a whole number of at least 1.

    Examples
    --------
    >>> positive_int("5")
    5
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of at least 1; got {text!r}"
        )
    return value


# PixelCNNPrior's, which the commands cannot import without starting TensorFlow
# (tests/cli/test_cli.py checks them)
SCAN_ORDERS = ("top_down", "bottom_up")
"""Choices of ``--prior-scan-order``, as ``PixelCNNPrior(scan_order=...)``."""


def scan_order(text: str) -> str:
    """Return ``text`` if it is one of `SCAN_ORDERS`, for an ``argparse`` type.

    Parameters
    ----------
    text : str
        The option's value as typed.

    Returns
    -------
    order : str

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not a scan order.

    Examples
    --------
    >>> scan_order("bottom_up")
    'bottom_up'
    """
    if text not in SCAN_ORDERS:
        raise argparse.ArgumentTypeError(
            f"expected one of {', '.join(SCAN_ORDERS)}; got {text!r}"
        )
    return text


def auto_or(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """Return an ``argparse`` type that takes ``"auto"`` or what ``kind`` parses.

    Parameters
    ----------
    kind : callable
        The type of the value otherwise, such as ``float``.

    Returns
    -------
    parse : callable

    Examples
    --------
    >>> parse = auto_or(float)
    >>> parse("auto"), parse("1e-3")
    ('auto', 0.001)
    """

    def parse(text: str) -> Any:
        if text == "auto":
            return text
        try:
            return kind(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(
                f"expected auto or a {kind.__name__}; got {text!r}"
            ) from error

    parse.__name__ = f"auto or {kind.__name__}"
    return parse


def without_checkpoints(estimator: Any) -> None:
    """Drop the checkpoint settings of a finished model before it is saved.

    A later fit of the saved model then neither resumes nor writes into this run.
    """
    estimator.set_params(
        warm_start=False, checkpoint_dir=None, keep_checkpoints=3, checkpoint_every=1
    )


def load_splits(
    data: str,
    image_size: Any,
    on_error: str,
    *,
    heldout_fraction: float = 0.0,
    seed: int = 0,
) -> dict[str, Any]:
    """Load the splits, printing the files left out under ``--on-error skip``.

    With a ``heldout_fraction``, that share of every training subject's slices,
    drawn at random with ``seed``, moves from ``"train"`` to ``"heldout"``: real
    slices of the training people that no model learns from, which generated
    slices are compared with.
    """
    from oasisgen import datasets

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            splits = datasets.load_splits(
                data, image_size=image_size, on_error=on_error
            )
        except ValueError as error:
            if on_error != "raise" or "could not read" not in str(error).lower():
                raise
            raise ValueError(
                f"{error} Pass --on-error skip to go on without the files that "
                "cannot be read."
            ) from error
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            print(f"oasisgen: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    if heldout_fraction:
        splits["train"], splits["heldout"] = splits["train"].split_within_subjects(
            heldout_fraction, random_state=seed
        )
    return splits


def reconstruction_figures(
    estimator: Any, test: Any, path: Path | None
) -> dict[str, float]:
    """Return the test SSIM and PSNR; with a ``path``, also plot reconstructions."""
    from oasisgen.metrics import psnr, ssim
    from oasisgen.plotting import plot_reconstructions

    images = test if isinstance(test, np.ndarray) else test.to_numpy()
    reconstructions = estimator.reconstruct(images)
    scores = ssim(images, reconstructions, reduction="none")
    if path is not None:  # eight slices spread from the lowest to the highest
        shown = np.linspace(0, len(images) - 1, min(8, len(images))).astype(int)
        plot_reconstructions(
            images[shown], reconstructions[shown], scores=scores[shown], path=path
        )
    return {
        "test_ssim": float(np.mean(scores)),
        "test_psnr": float(psnr(images, reconstructions)),
    }


def describe(images: Any) -> str:
    """Return how many slices of what size ``images`` holds, for messages."""
    shape = images.shape[1:3] if isinstance(images, np.ndarray) else images.image_shape
    return f"{len(images)} slices of {shape[0]}x{shape[1]}"


_REQUIRED = object()


def read_json(path: Path, missing: Any = _REQUIRED) -> Any:
    """Return what the JSON file ``path`` holds, or ``missing`` if there is none.

    Without ``missing``, a file that does not exist raises ``FileNotFoundError``.
    """
    path = Path(path)
    if missing is not _REQUIRED and not path.is_file():
        return missing
    return json.loads(path.read_text())


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` to ``path`` as indented JSON, replacing what was there."""
    Path(path).write_text(json.dumps(value, indent=2))


def evaluate_samples(
    run_dir: Path, generator: Any, splits: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    """Compare samples with the held-out slices; plot them beside their nearest.

    Parameters
    ----------
    run_dir : Path
        Where ``samples_nearest.png`` goes.
    generator : HierarchicalGenerator
        The fitted generator.
    splits : dict
        With ``"heldout"`` (real slices of the training people that nothing was
        trained on) and ``"train"``.
    args : argparse.Namespace
        With ``--eval-samples``, ``--sample-temperature`` and ``--seed`` (and
        ``--classifier``, if any: the two-sample test's, a CNN without it).

    Returns
    -------
    quality : dict
        What :meth:`HierarchicalGenerator.evaluate` returns, without the indices
        of the nearest training slices.
    """
    from oasisgen.plotting import plot_nearest_training_slices

    started = time.perf_counter()
    quality, samples = generator.evaluate(
        splits["heldout"],
        splits["train"],
        n_samples=args.eval_samples,
        random_state=args.seed,
        temperature=temperature_option(args.sample_temperature),
        classifier=getattr(args, "classifier", "cnn"),
        return_samples=True,
    )
    train = splits["train"].to_numpy()
    nearest = quality.pop("nearest_index")
    plot_nearest_training_slices(
        samples[:8], train[nearest[:8]], path=run_dir / NEAREST_FIGURE
    )
    q = quality
    print(
        f"oasisgen: {len(samples)} samples against {q['n_real']} held-out slices "
        f"({time.perf_counter() - started:.0f} s), real slices' figure in brackets: "
        f"two-sample accuracy {q['two_sample_accuracy']:.2f} "
        f"({q['two_sample_accuracy_real']:.2f}; reconstructions "
        f"{q['two_sample_accuracy_reconstructed']:.2f}), shape plausibility "
        f"{q['shape_plausibility']:.2f} ({q['shape_plausibility_real']:.2f}; "
        "the bottom prior over real top codes "
        f"{q['shape_plausibility_given_real_top']:.2f}), "
        f"copy rate {q['copy_rate']:.2f} ({q['copy_rate_real']:.2f})"
    )
    return quality


def _saved_args(run_dir: Path) -> dict[str, Any]:
    """Return a run's ``args.json``, or nothing for a run without one."""
    return read_json(run_dir / ARGS_FILE, missing={})


def run_heldout(run_dir: Path) -> dict[str, Any]:
    """Return the held-out split a run was trained with, from its ``args.json``."""
    saved = _saved_args(run_dir)
    return {
        "heldout_fraction": float(saved.get("heldout_fraction", 0.0)),
        "seed": int(saved.get("seed", 0)),
    }


def run_sample_temperature(run_dir: Path) -> list[float]:
    """Return the sampling temperature a run measured its samples at (1.0 if none)."""
    saved = _saved_args(run_dir)
    return [float(t) for t in saved.get("sample_temperature") or [1.0]]
