"""``oasisgen train``: train a VQ-VAE-2 into a run directory, or resume one.

The options go to ``RUN_DIR/args.json`` before training starts, and the training
state to ``RUN_DIR/checkpoints/`` after every epoch (every ``--checkpoint-every``
epochs), so that ``--resume RUN_DIR``
can finish an interrupted run with the options it was started with.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import oasisgen
from oasisgen.cli._common import (
    ARGS_FILE,
    CHECKPOINT_DIR,
    GENERATOR_DIR,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_DIR,
    RECONSTRUCTIONS_FIGURE,
    RENAMED_OPTIONS,
    add_data_arguments,
    add_model_arguments,
    add_prior_arguments,
    describe,
    estimator_params,
    load_splits,
    parse_as,
    positive_int,
    prepare_run_dir,
    read_json,
    reconstruction_figures,
    without_checkpoints,
    write_json,
)
from oasisgen.cli.train_prior import fit_priors

NAME = "train"


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``train`` command to the subcommands of ``oasisgen``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers`` returned.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser of ``oasisgen train``.
    """
    train = subparsers.add_parser(
        NAME,
        help="train a VQ-VAE-2 and write a run directory",
        description="Train a VQ-VAE-2 (and, with --priors, its PixelCNN priors) and "
        "write a run directory. The training state is checkpointed to "
        "RUN_DIR/checkpoints/ after every epoch; Ctrl-C (SIGINT) or SIGTERM stops "
        "at the end of the current batch, and --resume RUN_DIR continues.",
    )
    add_data_arguments(train)
    add_model_arguments(train)
    where = train.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="run directory")
    where.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue an interrupted run from its last checkpoint, with the "
        "options it was started with",
    )
    train.add_argument(
        "--overwrite", action="store_true", help="replace an existing run directory"
    )
    train.add_argument(
        "--keep-checkpoints",
        type=positive_int,
        default=3,
        help="checkpoints kept per model (default: 3)",
    )
    train.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=1,
        metavar="N",
        help="write a checkpoint after every N epochs and after the last "
        "(default: 1); a hard kill loses up to N - 1 epochs",
    )
    train.add_argument(
        "--priors",
        action="store_true",
        help="also train the two PixelCNN priors (as train-prior does)",
    )
    train.add_argument(
        "--heldout-fraction",
        type=float,
        default=0.0,
        help="hold out this share of every training subject's slices, drawn at "
        "random, from all training; with --priors, samples are compared with them "
        "(default: 0)",
    )
    add_prior_arguments(train)
    return train


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train a VQ-VAE-2 and write model, history, metrics and a figure to ``--out``.

    The arguments go to ``RUN_DIR/args.json`` first, and every epoch (every
    ``--checkpoint-every`` epochs) to a checkpoint in ``RUN_DIR/checkpoints/``,
    so that ``--resume RUN_DIR`` can go on
    after an interruption with the same arguments.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``oasisgen train`` arguments.

    Returns
    -------
    metrics : dict
        What was written to ``metrics.json``.
    """
    if args.resume is not None:
        return _resume(args)
    if args.distribute == "multi_worker":
        from oasisgen.nn.distribute import is_chief, start_multi_worker

        # The strategy starts before anything else runs TensorFlow. Every worker
        # runs the same steps; those other than the chief in a scratch run
        # directory that is removed at the end.
        start_multi_worker()
        if not is_chief():
            with tempfile.TemporaryDirectory(prefix="oasisgen-worker-") as scratch:
                return _run(Path(scratch), args)
    out = prepare_run_dir(args.out, overwrite=args.overwrite)
    _write_args(out, args)
    return _run(out, args)


def _run(out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Train what the run still lacks: the VQ-VAE-2, then the priors if asked."""
    splits = load_splits(
        args.data,
        args.image_size,
        args.on_error,
        heldout_fraction=args.heldout_fraction,
        seed=args.seed,
    )
    if _finished(out, priors=False):
        estimator = oasisgen.load(out / MODEL_DIR)
        metrics = read_json(out / METRICS_FILE)
    else:
        estimator, metrics = _train_vqvae(out, args, splits)
    if args.priors:
        metrics.update(
            fit_priors(out, estimator, splits, args, checkpoints=out / CHECKPOINT_DIR)
        )
    return metrics


def _train_vqvae(
    out: Path, args: argparse.Namespace, splits: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    from oasisgen.estimators import VQVAE2Estimator
    from oasisgen.estimators.persistence import jsonable

    estimator = VQVAE2Estimator(
        **estimator_params(args),
        warm_start=True,  # resume from the checkpoints, if there are any
        checkpoint_dir=out / CHECKPOINT_DIR / "vqvae",
        keep_checkpoints=args.keep_checkpoints,
        checkpoint_every=args.checkpoint_every,
    )
    print(f"oasisgen: training on {describe(splits['train'])} from {args.data!r}")
    started = time.perf_counter()
    estimator.fit(splits["train"], validation_data=splits["validate"])
    seconds = time.perf_counter() - started
    without_checkpoints(estimator)
    n_train = len(splits["train"])
    metrics = {
        "data": str(args.data),
        "image_size": list(estimator.image_shape_),
        "n_train": n_train,
        "n_test": len(splits["test"]),
        "epochs": len(estimator.history_["loss"]),
        "train_seconds": round(seconds, 2),
        "train_images_per_second": round(n_train * args.epochs / seconds, 2),
        "codebook_usage": estimator.codebook_usage_,
        **reconstruction_figures(
            estimator, splits["test"], out / RECONSTRUCTIONS_FIGURE
        ),
        "params": jsonable(estimator.get_params()),
        "oasisgen_version": oasisgen.__version__,
    }
    estimator.save(out / MODEL_DIR, overwrite=True)
    write_json(out / HISTORY_FILE, estimator.history_)
    write_json(out / METRICS_FILE, metrics)
    print(
        f"oasisgen: test SSIM {metrics['test_ssim']:.4f}, PSNR "
        f"{metrics['test_psnr']:.2f} dB after {metrics['epochs']} epochs "
        f"({seconds:.0f} s); results in {out}"
    )
    return estimator, metrics


def _resume(args: argparse.Namespace) -> dict[str, Any]:
    """Continue the run in ``--resume RUN_DIR`` with the arguments it started with."""
    run = args.resume
    _check_resume_alone(args)
    path = run / ARGS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{str(run)!r} is not a run directory that can be resumed: it has no "
            f"{ARGS_FILE}. Start a run with oasisgen train --out {run}."
        )
    try:
        saved = read_json(path)
        params = _saved_namespace(saved)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"{str(path)!r} is not a valid record of a run's arguments ({error!r}); "
            "was it truncated or edited by hand?"
        ) from error
    params.quiet = params.quiet or args.quiet
    if params.distribute == "multi_worker":
        raise ValueError(
            f"The run in {str(run)!r} was trained with --distribute multi_worker, "
            "which oasisgen train cannot resume: every worker would have to load "
            "the chief's checkpoints. Start it again with --overwrite."
        )
    if _finished(run, priors=params.priors):
        metrics = read_json(run / METRICS_FILE)
        print(
            f"oasisgen: the run in {run} already finished ({metrics['epochs']} "
            "epochs); nothing to resume."
        )
        return metrics
    print(f"oasisgen: resuming the run in {run}")
    return _run(run, params)


def _check_resume_alone(args: argparse.Namespace) -> None:
    defaults = parse_as(add_parser, [NAME, "--resume", str(args.resume)])
    given = [
        f"--{name.replace('_', '-')}"
        for name, value in vars(args).items()
        if name != "quiet" and getattr(defaults, name) != value
    ]
    if given:
        raise SystemExit(
            "oasisgen: --resume continues a run with the options it was started "
            f"with (in its {ARGS_FILE}); do not pass {', '.join(given)}."
        )


def _write_args(out: Path, args: argparse.Namespace) -> None:
    saved = {
        name: str(value) if isinstance(value, Path) else value
        for name, value in vars(args).items()
    }
    if saved["data"] != "sample":  # the run may be resumed from another folder
        saved["data"] = str(Path(saved["data"]).resolve())
    write_json(out / ARGS_FILE, saved)


def _saved_namespace(saved: dict[str, Any]) -> argparse.Namespace:
    args = parse_as(add_parser, [NAME, "--out", str(saved["out"])])
    for name, value in saved.items():
        name = RENAMED_OPTIONS.get(name, name)
        if not hasattr(args, name):
            raise KeyError(f"unknown option {name!r}")
        setattr(args, name, value)
    args.out, args.resume = Path(saved["out"]), None
    return args


def _finished(run: Path, *, priors: bool) -> bool:
    done = (run / MODEL_DIR).is_dir() and (run / METRICS_FILE).is_file()
    return done and (not priors or (run / GENERATOR_DIR).is_dir())
