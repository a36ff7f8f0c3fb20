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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import oasisgen

MODEL_DIR = "model"
GENERATOR_DIR = "generator"

# The demo: small enough to train in about five minutes on 2 CPU cores.
DEMO = {
    "image_size": 64,
    "epochs": 40,
    "num_embeddings": [128, 256],
    "embedding_dim": 32,
    "hidden_channels": 64,
    "n_res_blocks": 2,
    "n_res_channels": 32,
    "batch_size": 16,
    "learning_rate": 1e-3,
    "prior_epochs": 30,
    "prior_layers": 8,
    "prior_channels": 64,
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
        "train", help="train a VQ-VAE-2 and write a run directory"
    )
    _add_data_arguments(train)
    _add_model_arguments(train)
    train.add_argument("--out", required=True, type=Path, help="run directory")
    train.add_argument(
        "--overwrite", action="store_true", help="replace an existing run directory"
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

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``oasisgen train`` arguments.

    Returns
    -------
    metrics : dict
        What was written to ``metrics.json``.
    """
    from oasisgen.datasets import load_splits
    from oasisgen.estimators import VQVAE2Estimator

    out = _prepare_run_dir(args.out, overwrite=args.overwrite)
    splits = load_splits(args.data, image_size=args.image_size)
    estimator = VQVAE2Estimator(**_estimator_params(args))
    print(f"oasisgen: training on {_describe(splits['train'])} from {args.data!r}")
    started = time.perf_counter()
    estimator.fit(splits["train"], validation_data=splits["validate"])
    seconds = time.perf_counter() - started
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
    estimator.save(out / MODEL_DIR, overwrite=args.overwrite)
    (out / "history.json").write_text(json.dumps(estimator.history_, indent=2))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(
        f"oasisgen: test SSIM {metrics['test_ssim']:.4f}, PSNR "
        f"{metrics['test_psnr']:.2f} dB after {metrics['epochs']} epochs "
        f"({seconds:.0f} s); results in {out}"
    )
    if args.priors:
        metrics.update(_train_priors(out, estimator, splits, args))
    return metrics


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
    from oasisgen.datasets import load_splits

    vqvae = oasisgen.load(args.run_dir / MODEL_DIR)
    metrics_path = args.run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    data = args.data or metrics.get("data", "sample")
    splits = load_splits(data, image_size=args.image_size or vqvae.image_shape_)
    figures = _train_priors(args.run_dir, vqvae, splits, args)
    return figures


def _train_priors(
    run_dir: Path, vqvae: Any, splits: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    from oasisgen.estimators import HierarchicalGenerator, PixelCNNPrior

    prior = PixelCNNPrior(
        n_layers=args.prior_layers,
        channels=args.prior_channels,
        kernel_size=args.prior_kernel_size,
        dropout=args.prior_dropout,
        learning_rate=args.prior_learning_rate,
        batch_size=args.prior_batch_size,
        epochs=args.prior_epochs,
        random_state=args.seed,
        verbose=0 if args.quiet else (1 if sys.stdout.isatty() else 2),
    )
    generator = HierarchicalGenerator(
        vqvae=vqvae, top_prior=prior, bottom_prior=prior, refit_vqvae=False
    )
    print(f"oasisgen: training the priors on {_describe(splits['train'])}")
    started = time.perf_counter()
    generator.fit(splits["train"])
    seconds = time.perf_counter() - started
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
    from oasisgen.datasets import load_splits

    estimator = oasisgen.load(args.run_dir / MODEL_DIR)
    image_size = args.image_size or estimator.image_shape_
    test = load_splits(args.data, image_size=image_size)["test"]
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
    sample(build_parser().parse_args(["sample", str(args.out), "-n", "8"]))
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
        raise SystemExit(
            f"oasisgen: {str(out)!r} already holds files; pass --overwrite to replace "
            "the run there, or choose another --out."
        )
    out.mkdir(parents=True, exist_ok=True)
    if overwrite and (out / MODEL_DIR).exists():
        # est.save replaces the model atomically; only stale extras are removed
        stale = ("history.json", "metrics.json", "reconstructions.png", "report.html")
        for name in (*stale, "samples.png"):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / GENERATOR_DIR, ignore_errors=True)
    return out


def _describe(images: Any) -> str:
    shape = images.shape[1:3] if isinstance(images, np.ndarray) else images.image_shape
    return f"{len(images)} slices of {shape[0]}x{shape[1]}"


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
