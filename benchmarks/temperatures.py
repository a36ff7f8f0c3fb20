"""Sample quality of a trained run at several bottom-prior temperatures and seeds.

Loads the generator of a run trained with ``--priors --heldout-fraction`` (such as
``runs/demo`` after ``make demo``), draws ``--n-samples`` slices per seed at each
bottom temperature (the top prior at ``--top-temperature``) and compares them with
the run's held-out slices, as ``oasisgen evaluate RUN --samples`` does. One seed
is one draw of the samples and one split of the two-sample folds, so the spread
over seeds is the noise of each figure. Prints the mean over seeds and every
seed's figure, and writes them as JSON::

    cd benchmarks
    ../.venv/bin/python temperatures.py ../runs/demo --json results/temperatures.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _machine import write_record
from _runs import (
    FIGURES,
    evaluate_samples,
    figures_of,
    load_run,
    mean_figures,
    row,
    run_temperature,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; refuse values that cannot be measured."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run trained with --priors")
    parser.add_argument(
        "--bottom-temperatures",
        type=float,
        nargs="+",
        default=[1.0, 0.7, 0.5, 0.35],
    )
    parser.add_argument(
        "--top-temperature",
        type=float,
        default=None,
        help="temperature of the top prior (default: the run's)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--n-samples", type=int, default=64)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.top_temperature is None:
        args.top_temperature = run_temperature(args.run_dir)[0]
    temperatures = [args.top_temperature, *args.bottom_temperatures]
    if min(temperatures) <= 0:
        parser.error(f"temperatures must be > 0; got {temperatures}")
    if args.n_samples < 5:
        parser.error(f"--n-samples must be at least 5; got {args.n_samples}")
    return args


def measure(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Return each figure of each (bottom temperature, seed), keyed "T/seed"."""
    generator, splits = load_run(args.run_dir)
    figures = {}
    for bottom in args.bottom_temperatures:
        for seed in args.seeds:
            quality = evaluate_samples(
                generator,
                splits,
                seed=seed,
                n_samples=args.n_samples,
                temperature=(args.top_temperature, bottom),
            )
            figures[f"{bottom:g}/{seed}"] = figures_of(quality)
            # a quarter of the real slices lie in their own interquartile range
            # on each side of the median: half of them by definition
            real = {name: quality.get(f"{name}_real", 0.5) for name in FIGURES}
            figures.setdefault("real", {k: float(v) for k, v in real.items()})
            print(f"{bottom:g}/{seed}", row(figures[f"{bottom:g}/{seed}"]))
    return figures


def main(argv: list[str] | None = None) -> None:
    """Measure, print the means over seeds and write the JSON."""
    args = parse_args(argv)
    figures = measure(args)
    print(f"means over seeds {args.seeds} (top temperature {args.top_temperature}):")
    means = {}
    for bottom in args.bottom_temperatures:
        runs = [figures[f"{bottom:g}/{seed}"] for seed in args.seeds]
        means[f"{bottom:g}"] = mean_figures(runs)
        print(f"  bottom {bottom:g}: {row(means[f'{bottom:g}'])}")
    print(f"  real held-out slices: {row(figures['real'])}")
    record = {
        "run_dir": str(args.run_dir),
        "top_temperature": args.top_temperature,
        "seeds": args.seeds,
        "n_samples": args.n_samples,
        "means": means,
        "runs": figures,
    }
    write_record(args.json, record)


if __name__ == "__main__":
    main()
