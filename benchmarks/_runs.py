"""A trained run's generator and data, and the sample-quality figures read from it.

Shared by the benchmarks that re-measure the samples of a run trained with
``--priors --heldout-fraction`` (``temperatures.py``, ``refit_prior.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# the figures of HierarchicalGenerator.evaluate these benchmarks print and compare
FIGURES = (
    "two_sample_accuracy",
    "shape_plausibility",
    "detail_energy_in_real_iqr",
    "detail_energy_median",
    # the bottom prior's own share: its codes drawn over real top codes
    "detail_energy_in_real_iqr_given_real_top",
    "head_intensity_median",
    "head_intensity_in_real_iqr",
    "pairwise_ssim",
    "nearest_ssim_median",
    "copy_rate",
    "level_error",
)


def load_run(run_dir: Path) -> tuple[Any, dict[str, Any]]:
    """Return a run's saved generator and its data splits.

    The splits are those the run was trained on: ``"train"`` (the slices the
    generator learnt from), ``"heldout"`` (the held-out slices of the same
    people) and ``"test"`` (the other person), at the run's image size.
    """
    import oasisgen
    from oasisgen.cli._common import GENERATOR_DIR, load_splits, run_heldout

    generator = oasisgen.load(Path(run_dir) / GENERATOR_DIR)
    heldout = run_heldout(run_dir)
    splits = load_splits("sample", generator.vqvae_.image_shape_, "raise", **heldout)
    return generator, splits


def evaluate_samples(
    generator: Any,
    splits: dict[str, Any],
    *,
    seed: int,
    n_samples: int,
    temperature: tuple[float, float],
) -> dict[str, Any]:
    """Compare ``n_samples`` samples with the run's held-out slices.

    What ``oasisgen evaluate RUN --samples`` measures: ``generator.evaluate`` on
    the held-out split, with the training split as the reference.
    """
    return generator.evaluate(
        splits["heldout"],
        splits["train"],
        n_samples=n_samples,
        random_state=seed,
        temperature=tuple(temperature),
    )


def run_temperature(run_dir: Path) -> tuple[float, float]:
    """Return the (top, bottom) temperature the run measured its samples at."""
    from oasisgen.cli._common import run_sample_temperature

    temperature = run_sample_temperature(Path(run_dir))
    return temperature[0], temperature[-1]


def figures_of(quality: dict[str, Any]) -> dict[str, float]:
    """Return the :data:`FIGURES` of one ``evaluate`` result as floats."""
    return {name: float(quality[name]) for name in FIGURES}


def mean_figures(results: list[dict[str, float]]) -> dict[str, float]:
    """Return the mean of each of the :data:`FIGURES` over several results."""
    return {
        name: float(np.mean([result[name] for result in results])) for name in FIGURES
    }


def row(values: dict[str, float]) -> str:
    """Format the :data:`FIGURES` of one result as one line of text."""
    return "  ".join(f"{name} {values[name]:.3g}" for name in FIGURES)
