"""The ``oasisgen`` command: train, train-prior, sample, evaluate, report and demo.

A thin layer: it parses arguments, calls the public API and writes files. Run
``oasisgen COMMAND --help`` for the options of each command.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import oasisgen

MODEL_DIR = "model"
GENERATOR_DIR = "generator"
CHECKPOINT_DIR = "checkpoints"
ARGS_FILE = "args.json"
INTERRUPTED = 130  # the exit status of a process stopped by SIGINT

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
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train a VQ-VAE-2 and write a run directory",
        description="Train a VQ-VAE-2 (and, with --priors, its PixelCNN priors) and "
        "write a run directory. The training state is checkpointed to "
        "RUN_DIR/checkpoints/ after every epoch; Ctrl-C (SIGINT) or SIGTERM stops "
        "at the end of the current batch, and --resume RUN_DIR continues.",
    )
    _add_data_arguments(train)
    _add_model_arguments(train)
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
        type=int,
        default=3,
        help="checkpoints kept per model (default: 3)",
    )
    train.add_argument(
        "--priors",
        action="store_true",
        help="also train the two PixelCNN priors (as train-prior does)",
    )
    _add_prior_arguments(train)

    train_prior = commands.add_parser(
        "train-prior",
        help="train the top and bottom PixelCNN priors of a trained run",
    )
    train_prior.add_argument("run_dir", type=Path, help="a directory written by train")
    _add_data_arguments(train_prior, image_size_default=None)
    train_prior.set_defaults(data=None)  # the data the run was trained on
    _add_prior_arguments(train_prior)
    train_prior.add_argument("--seed", type=int, default=0)
    train_prior.add_argument("--quiet", action="store_true", help="no progress bars")

    sample = commands.add_parser(
        "sample", help="generate new slices with a run's priors"
    )
    sample.add_argument("run_dir", type=Path, help="a run with trained priors")
    sample.add_argument("-n", "--n-samples", type=int, default=8)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--top-k", type=int, default=None)
    sample.add_argument(
        "--out", type=Path, default=None, help="PNG grid (default RUN_DIR/samples.png)"
    )
    sample.add_argument("--npy", type=Path, default=None, help="also save the array")

    evaluate = commands.add_parser("evaluate", help="SSIM and PSNR on the test split")
    evaluate.add_argument("run_dir", type=Path, help="a directory written by train")
    _add_data_arguments(evaluate, image_size_default=None)

    report = commands.add_parser(
        "report", help="write a self-contained report.html into a run directory"
    )
    report.add_argument("run_dir", type=Path, help="a directory written by train")
    report.add_argument(
        "--data", default=None, help="data to show (default: the run's own data)"
    )

    demo = commands.add_parser(
        "demo", help="train on the bundled sample (about five minutes on 2 cores)"
    )
    demo.add_argument("--out", type=Path, default=Path("runs/demo"))
    demo.add_argument("--epochs", type=int, default=DEMO["epochs"])
    demo.add_argument("--prior-epochs", type=int, default=DEMO["prior_epochs"])
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _add_data_arguments(
    parser: argparse.ArgumentParser, image_size_default: int | None = 256
) -> None:
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


def _add_prior_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("priors")
    group.add_argument("--prior-epochs", type=int, default=20)
    group.add_argument("--prior-layers", type=int, default=12)
    group.add_argument("--prior-channels", type=int, default=128)
    group.add_argument("--prior-kernel-size", type=int, default=5)
    group.add_argument("--prior-dropout", type=float, default=0.0)
    group.add_argument("--prior-learning-rate", type=float, default=3e-4)
    group.add_argument("--prior-batch-size", type=int, default=32)


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
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
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--validation-fraction", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument(
        "--distribute", choices=["mirrored", "multi_worker"], default=None
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _estimator_params(args: argparse.Namespace) -> dict[str, Any]:
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


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train a VQ-VAE-2 and write model, history, metrics and a figure to ``--out``.

    The arguments go to ``RUN_DIR/args.json`` first, and every epoch to a
    checkpoint in ``RUN_DIR/checkpoints/``, so that ``--resume RUN_DIR`` can go on
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
    out = _prepare_run_dir(args.out, overwrite=args.overwrite)
    _write_args(out, args)
    return _run(out, args)


def _run(out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Train what the run still lacks: the VQ-VAE-2, then the priors if asked."""
    splits = _load_splits(args.data, args.image_size, args.on_error)
    if _finished(out, priors=False):
        estimator = oasisgen.load(out / MODEL_DIR)
        metrics = json.loads((out / "metrics.json").read_text())
    else:
        estimator, metrics = _train_vqvae(out, args, splits)
    if args.priors:
        metrics.update(
            _train_priors(
                out, estimator, splits, args, checkpoints=out / CHECKPOINT_DIR
            )
        )
    return metrics


def _train_vqvae(
    out: Path, args: argparse.Namespace, splits: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    from oasisgen.estimators import VQVAE2Estimator

    estimator = VQVAE2Estimator(
        **_estimator_params(args),
        warm_start=True,  # resume from the checkpoints, if there are any
        checkpoint_dir=out / CHECKPOINT_DIR / "vqvae",
        keep_checkpoints=args.keep_checkpoints,
    )
    print(f"oasisgen: training on {_describe(splits['train'])} from {args.data!r}")
    started = time.perf_counter()
    estimator.fit(splits["train"], validation_data=splits["validate"])
    seconds = time.perf_counter() - started
    _without_checkpoints(estimator)
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
        **_test_figures(estimator, splits["test"], out / "reconstructions.png"),
        "params": _jsonable(estimator.get_params()),
        "oasisgen_version": oasisgen.__version__,
    }
    estimator.save(out / MODEL_DIR, overwrite=True)
    (out / "history.json").write_text(json.dumps(estimator.history_, indent=2))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
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
        saved = json.loads(path.read_text())
        params = _saved_namespace(saved)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"{str(path)!r} is not a valid record of a run's arguments ({error!r}); "
            "was it truncated or edited by hand?"
        ) from error
    params.quiet = params.quiet or args.quiet
    if _finished(run, priors=params.priors):
        metrics = json.loads((run / "metrics.json").read_text())
        print(
            f"oasisgen: the run in {run} already finished ({metrics['epochs']} "
            "epochs); nothing to resume."
        )
        return metrics
    print(f"oasisgen: resuming the run in {run}")
    return _run(run, params)


def _check_resume_alone(args: argparse.Namespace) -> None:
    defaults = build_parser().parse_args(["train", "--resume", str(args.resume)])
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
    (out / ARGS_FILE).write_text(json.dumps(saved, indent=2))


def _saved_namespace(saved: dict[str, Any]) -> argparse.Namespace:
    args = build_parser().parse_args(["train", "--out", str(saved["out"])])
    for name, value in saved.items():
        if not hasattr(args, name):
            raise KeyError(f"unknown option {name!r}")
        setattr(args, name, value)
    args.out, args.resume = Path(saved["out"]), None
    return args


def _without_checkpoints(estimator: Any) -> None:
    """Drop the checkpoint settings of a finished model before it is saved.

    A later fit of the saved model then neither resumes nor writes into this run.
    """
    estimator.set_params(warm_start=False, checkpoint_dir=None, keep_checkpoints=3)


def _finished(run: Path, *, priors: bool) -> bool:
    done = (run / MODEL_DIR).is_dir() and (run / "metrics.json").is_file()
    return done and (not priors or (run / GENERATOR_DIR).is_dir())


def _load_splits(data: str, image_size: Any, on_error: str) -> dict[str, Any]:
    """Load the splits, printing the files left out under ``--on-error skip``."""
    from oasisgen.datasets import load_splits

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            splits = load_splits(data, image_size=image_size, on_error=on_error)
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
    return splits


def train_prior(args: argparse.Namespace) -> dict[str, Any]:
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
    metrics_path = args.run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    data = args.data or metrics.get("data", "sample")
    image_size = args.image_size or vqvae.image_shape_
    splits = _load_splits(data, image_size, args.on_error)
    figures = _train_priors(args.run_dir, vqvae, splits, args)
    return figures


def _train_priors(
    run_dir: Path,
    vqvae: Any,
    splits: dict[str, Any],
    args: argparse.Namespace,
    *,
    checkpoints: Path | None = None,
) -> dict[str, Any]:
    from oasisgen.estimators import HierarchicalGenerator, PixelCNNPrior

    def prior(level: str) -> Any:
        return PixelCNNPrior(
            n_layers=args.prior_layers,
            channels=args.prior_channels,
            kernel_size=args.prior_kernel_size,
            dropout=args.prior_dropout,
            learning_rate=args.prior_learning_rate,
            batch_size=args.prior_batch_size,
            epochs=args.prior_epochs,
            random_state=args.seed,
            verbose=0 if args.quiet else (1 if sys.stdout.isatty() else 2),
            warm_start=checkpoints is not None,
            checkpoint_dir=None if checkpoints is None else checkpoints / level,
            keep_checkpoints=getattr(args, "keep_checkpoints", 3),
        )

    generator = HierarchicalGenerator(
        vqvae=vqvae,
        top_prior=prior("top_prior"),
        bottom_prior=prior("bottom_prior"),
        refit_vqvae=False,
    )
    print(f"oasisgen: training the priors on {_describe(splits['train'])}")
    started = time.perf_counter()
    generator.fit(splits["train"])
    seconds = time.perf_counter() - started
    for prior in (generator.top_prior, generator.bottom_prior):
        _without_checkpoints(prior)
    for prior in (generator.top_prior_, generator.bottom_prior_):
        _without_checkpoints(prior)
    test_top, test_bottom = vqvae.encode(splits["test"])
    ln2 = float(np.log(2))
    figures = {
        "prior_train_seconds": round(seconds, 2),
        "top_prior_test_bits_per_code": -generator.top_prior_.score(test_top) / ln2,
        "bottom_prior_test_bits_per_code": -generator.bottom_prior_.score(
            test_bottom, test_top
        )
        / ln2,
    }
    generator.save(run_dir / GENERATOR_DIR, overwrite=True)
    _merge_metrics(run_dir, figures)
    print(
        f"oasisgen: priors trained in {seconds:.0f} s; held-out bits per code: top "
        f"{figures['top_prior_test_bits_per_code']:.3f}, bottom "
        f"{figures['bottom_prior_test_bits_per_code']:.3f}"
    )
    return figures


def sample(args: argparse.Namespace) -> np.ndarray:
    """Generate slices with a run's generator; write a PNG grid (and a .npy).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``oasisgen sample`` arguments.

    Returns
    -------
    images : ndarray of shape (n_samples, height, width, 1)
        The generated slices.
    """
    from oasisgen.plotting import plot_image_grid

    folder = args.run_dir / GENERATOR_DIR
    if not folder.exists():
        raise FileNotFoundError(
            f"{str(args.run_dir)!r} has no trained priors ({GENERATOR_DIR}/); run "
            f"oasisgen train-prior {args.run_dir} first."
        )
    generator = oasisgen.load(folder)
    started = time.perf_counter()
    images = generator.sample(
        args.n_samples,
        random_state=args.seed,
        temperature=args.temperature,
        top_k=args.top_k,
        progress=sys.stdout.isatty(),
    )
    seconds = time.perf_counter() - started
    out = args.out or args.run_dir / "samples.png"
    plot_image_grid(
        images,
        n_cols=min(4, len(images)),
        title=f"{len(images)} samples, seed {args.seed}",
        path=out,
    )
    if args.npy is not None:
        np.save(args.npy, images)
    print(f"oasisgen: sampled {len(images)} slices in {seconds:.1f} s; wrote {out}")
    return images


def _merge_metrics(run_dir: Path, figures: dict[str, Any]) -> None:
    path = run_dir / "metrics.json"
    metrics = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**metrics, **figures}, indent=2))


def evaluate(args: argparse.Namespace) -> dict[str, float]:
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
    test = _load_splits(args.data, image_size, args.on_error)["test"]
    figures = _test_figures(estimator, test, path=None)
    print(
        f"test SSIM {figures['test_ssim']:.4f}  PSNR {figures['test_psnr']:.2f} dB  "
        f"({_describe(test)} from {args.data!r})"
    )
    return figures


def report(args: argparse.Namespace) -> Path:
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
    from oasisgen.report import write_report

    path = write_report(args.run_dir, data=args.data)
    print(f"oasisgen: wrote {path}")
    return path


def demo(args: argparse.Namespace) -> dict[str, Any]:
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
    metrics = train(build_parser().parse_args(argv))
    sample_argv = ["sample", str(args.out), "-n", "8"]
    sample(build_parser().parse_args([*sample_argv, "--temperature", "0.8"]))
    return metrics


def _test_figures(estimator: Any, test: Any, path: Path | None) -> dict[str, float]:
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


def _prepare_run_dir(out: Path, *, overwrite: bool) -> Path:
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
        stale = ("history.json", "metrics.json", "reconstructions.png", "report.html")
        for name in (*stale, "samples.png", ARGS_FILE):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / GENERATOR_DIR, ignore_errors=True)
        shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)
    return out


def _describe(images: Any) -> str:
    shape = images.shape[1:3] if isinstance(images, np.ndarray) else images.image_shape
    return f"{len(images)} slices of {shape[0]}x{shape[1]}"


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return list(value)
        return str(value) if isinstance(value, Path) else value

    return {name: plain(value) for name, value in params.items()}


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
    commands = {
        "train": train,
        "train-prior": train_prior,
        "sample": sample,
        "evaluate": evaluate,
        "report": report,
        "demo": demo,
    }
    try:
        commands[args.command](args)
    except (FileNotFoundError, FileExistsError, ValueError, TypeError) as error:
        print(f"oasisgen {args.command}: error: {error}", file=sys.stderr)
        return 2
    except FloatingPointError as error:
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


if __name__ == "__main__":
    sys.exit(main())
