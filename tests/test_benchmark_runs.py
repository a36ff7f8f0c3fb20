"""``benchmarks/_runs.py``: the figures the sample-quality benchmarks share."""

import json

import pytest

from .benchmark_modules import BENCHMARKS, load_benchmark


@pytest.fixture(scope="module")
def runs():
    return load_benchmark("_runs")


@pytest.fixture(scope="module")
def scripts():
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))  # the scripts import _machine, _runs
        yield [load_benchmark(name) for name in ("temperatures", "refit_prior")]


def evaluation(runs, offset):
    """An ``evaluate`` result: every figure, a real one and a count beside."""
    quality = {name: i + offset for i, name in enumerate(runs.FIGURES)}
    return {**quality, "two_sample_accuracy_real": 0.46, "n_samples": 64}


def test_figures_of_keeps_the_figures_only_as_floats(runs):
    figures = runs.figures_of(evaluation(runs, 1))
    assert list(figures) == list(runs.FIGURES)
    assert all(type(value) is float for value in figures.values())
    assert figures["two_sample_accuracy"] == 1.0


def test_mean_figures_averages_each_figure(runs):
    results = [runs.figures_of(evaluation(runs, offset)) for offset in (0, 1, 5)]
    means = runs.mean_figures(results)
    assert means["two_sample_accuracy"] == pytest.approx(2.0)
    assert means["level_error"] == pytest.approx(len(runs.FIGURES) - 1 + 2.0)


def test_row_names_every_figure_with_three_significant_digits(runs):
    line = runs.row(runs.figures_of(evaluation(runs, 0.25)))
    assert line.startswith("two_sample_accuracy 0.25  shape_plausibility 1.25")
    assert line.count(".") == len(runs.FIGURES)
    # detail energies are thousandths: three decimals would round them away
    assert runs.row(dict.fromkeys(runs.FIGURES, 0.0022168)).endswith("0.00222")


def test_a_missing_figure_is_a_key_error_naming_it(runs):
    with pytest.raises(KeyError, match="level_error"):
        runs.figures_of({name: 0.5 for name in runs.FIGURES[:-1]})


def test_the_scripts_take_their_figures_from_the_shared_module(scripts):
    for script in scripts:
        assert script.row.__module__ == script.load_run.__module__ == "_runs"
        assert script.evaluate_samples.__module__ == "_runs"


def test_evaluate_samples_compares_with_the_held_out_split(runs):
    calls = []

    class Generator:
        def evaluate(self, X, X_train, **options):
            calls.append((X, X_train, options))
            return {"two_sample_accuracy": 0.5}

    splits = {"heldout": "heldout", "train": "train", "test": "test"}
    quality = runs.evaluate_samples(
        Generator(), splits, seed=3, n_samples=16, temperature=[0.8, 1.0]
    )
    assert quality == {"two_sample_accuracy": 0.5}
    assert calls == [
        (
            "heldout",
            "train",
            {"n_samples": 16, "random_state": 3, "temperature": (0.8, 1.0)},
        )
    ]


@pytest.mark.parametrize(
    ("saved", "expected"),
    [([0.8, 1.0], (0.8, 1.0)), ([0.7], (0.7, 0.7)), (None, (1.0, 1.0))],
    ids=["top and bottom", "one for both", "none saved"],
)
def test_the_temperature_of_a_run_is_the_one_it_measured_at(
    runs, tmp_path, saved, expected
):
    if saved is not None:
        (tmp_path / "args.json").write_text(json.dumps({"sample_temperature": saved}))
    assert runs.run_temperature(tmp_path) == expected


def test_the_scripts_sample_at_the_runs_temperature_unless_told(scripts, tmp_path):
    (tmp_path / "args.json").write_text(json.dumps({"sample_temperature": [0.8, 1.0]}))
    temperatures, refit_prior = scripts
    assert temperatures.parse_args([str(tmp_path)]).top_temperature == 0.8
    told = temperatures.parse_args([str(tmp_path), "--top-temperature", "0.5"])
    assert told.top_temperature == 0.5
    assert refit_prior.parse_args([str(tmp_path)]).temperature is None  # read at run
    told = refit_prior.parse_args([str(tmp_path), "--temperature", "0.5", "1"])
    assert told.temperature == [0.5, 1.0]
