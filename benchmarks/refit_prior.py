"""Sample quality of a trained run with one of its priors refitted other ways.

Loads the generator of a run trained with ``--priors --heldout-fraction`` (such as
``runs/demo`` after ``make demo``), refits its ``--prior`` (``bottom``, the
default, or ``top``) once per ``--variant NAME:PARAM=VALUE[,PARAM=VALUE...]``
(the saved prior's parameters with those changed, on the same codes: the run's
training slices and the flipped, gamma-corrected copies of its augmentation, with
their slice positions for the top prior), and compares 64 samples per seed with
the run's held-out slices, as ``oasisgen evaluate RUN --samples`` does; the other
prior and the VQ-VAE-2 stay the run's. The run's own prior is measured first, as
``saved``. One seed is one draw of the samples and one split of the two-sample
folds, so the spread over seeds is the noise of each figure. Prints the mean over
seeds, writes every figure as JSON, and with ``--save-dir`` saves each refitted
generator::

    cd benchmarks
    ../.venv/bin/python refit_prior.py ../runs/demo --variant one:condition_layers=1 \
        --variant wider:hidden_channels=48 --json results/bottom_prior.json
    ../.venv/bin/python refit_prior.py ../runs/demo --prior top \
        --variant wide:kernel_size=5
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from _machine import write_record
from _runs import (
    evaluate_samples,
    figures_of,
    load_run,
    mean_figures,
    row,
    run_temperature,
)

SAVED = "saved"
PRIORS = ("bottom", "top")


def variant(text: str) -> tuple[str, dict[str, Any]]:
    """Parse ``NAME:PARAM=VALUE[,PARAM=VALUE...]`` into a name and parameters.

    Values are read as int, then float, then true/false, else kept as text.
    """
    name, _, settings = text.partition(":")
    items = [item.partition("=") for item in settings.split(",")]
    params = {param: _value(value) for param, _, value in items if param and value}
    if not name or name == SAVED or not settings or len(params) != len(items):
        raise SystemExit(
            "--variant expects NAME:PARAM=VALUE[,PARAM=VALUE...] with a NAME other "
            f"than {SAVED!r}, such as wider:hidden_channels=48; got {text!r}."
        )
    return name, params


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; refuse values that cannot be measured."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run trained with --priors")
    parser.add_argument("--prior", choices=PRIORS, default="bottom")
    parser.add_argument(
        "--variant", type=variant, action="append", default=[], dest="variants"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-samples", type=int, default=64)
    parser.add_argument(
        "--temperature",
        type=float,
        nargs=2,
        default=None,
        metavar="T",
        help="top and bottom sampling temperature (default: the run's)",
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--save-dir",
        type=Path,
        default=None,
        help="save the generator of each variant to SAVE_DIR/NAME, to draw from",
    )
    args = parser.parse_args(argv)
    if args.n_samples < 5:
        parser.error(f"--n-samples must be at least 5; got {args.n_samples}")
    if args.temperature is not None and min(args.temperature) <= 0:
        parser.error(f"temperatures must be > 0; got {args.temperature}")
    return args


def training_codes(generator: Any, train: Any) -> tuple[np.ndarray, ...]:
    """Return the (top, bottom) codes and positions the run's priors learnt from.

    The codes of the augmentation's copies are added as ``fit`` adds them. The
    positions are None for a run whose top prior reads none.
    """
    images = train.to_numpy()
    positions = None if generator.slice_positions_ is None else train.positions
    top, bottom = generator.vqvae_.encode(images)
    if generator.augmentation is None:
        return top, bottom, positions
    return generator._with_augmented_codes(
        generator.vqvae_, images, top, bottom, positions
    )


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Return the bits, fit seconds and figures of each refitted prior and seed."""
    from sklearn.base import clone

    generator, splits = load_run(args.run_dir)
    if args.temperature is None:
        args.temperature = list(run_temperature(args.run_dir))
    top, bottom, positions = training_codes(generator, splits["train"])
    attribute = f"{args.prior}_prior_"
    saved = getattr(generator, attribute)
    results = {}
    for name, params in [(SAVED, None), *args.variants]:
        seconds = None
        prior = saved
        if params is not None:
            prior = clone(saved).set_params(verbose=0, **params)
            started = time.perf_counter()
            if args.prior == "top":
                prior.fit(top, global_condition=positions)
            else:
                prior.fit(bottom, top)
            seconds = time.perf_counter() - started
        setattr(generator, attribute, prior)
        if args.save_dir is not None and params is not None:
            generator.save(args.save_dir / name)
        result = {
            "params": params,
            "fit_seconds": seconds,
            "bits": generator.bits_per_code(splits["heldout"]),
        }
        for seed in args.seeds:
            quality = evaluate_samples(
                generator,
                splits,
                seed=seed,
                n_samples=args.n_samples,
                temperature=args.temperature,
            )
            result[str(seed)] = figures_of(quality)
        result["mean"] = mean_figures([result[str(seed)] for seed in args.seeds])
        results[name] = result
        print(f"{name} {params or ''}: bits {result['bits'][args.prior]:.3f}  "
              f"{row(result['mean'])}", flush=True)  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> None:
    """Measure, print the means over seeds and write the JSON."""
    args = parse_args(argv)
    results = measure(args)
    record = {
        "run_dir": str(args.run_dir),
        "prior": args.prior,
        "seeds": args.seeds,
        "n_samples": args.n_samples,
        "temperature": args.temperature,
        "results": results,
    }
    write_record(args.json, record)


if __name__ == "__main__":
    main()
