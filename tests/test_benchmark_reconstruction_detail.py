"""``benchmarks/reconstruction_detail.py``: the demo's settings and their variants."""

import pytest

from oasisgen.cli.demo import DEMO

from .benchmark_modules import BENCHMARKS, load_benchmark


@pytest.fixture(scope="module")
def reconstruction_detail():
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))  # the scripts import _machine
        yield load_benchmark("reconstruction_detail")


def test_the_baseline_is_the_demo_autoencoder(reconstruction_detail):
    params = reconstruction_detail.demo_model_params()
    assert params["num_embeddings"] == tuple(DEMO["num_embeddings"])
    assert params["gradient_loss_weight"] == DEMO["gradient_loss_weight"]


@pytest.mark.parametrize(
    "changes, name, expected",
    [
        ({"num_embeddings": "16x128"}, "num_embeddings", (16, 128)),
        ({"hidden_channels": 96}, "hidden_channels", 96),
        ({"gradient_loss_weight": 0.0}, "gradient_loss_weight", 0.0),
    ],
)
def test_a_variant_changes_only_what_it_names(
    reconstruction_detail, changes, name, expected
):
    params = reconstruction_detail.demo_model_params(**changes)
    baseline = reconstruction_detail.demo_model_params()
    assert params[name] == expected
    assert {key for key in params if params[key] != baseline[key]} == {name}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--no-baseline"], "at least one --variant"),
        (["--variant", "wide:hidden_channels=-4"], "hidden_channels"),
        (["--variant", "wide:hidden_channels"], "NAME:PARAM=VALUE"),
        (["--variant", "codes:num_embeddings=16y128"], "TOPxBOTTOM"),
        (["--variant", "codes:num_embeddings=16x"], "TOPxBOTTOM"),
    ],
)
def test_bad_settings_are_refused_before_any_training(
    reconstruction_detail, monkeypatch, capsys, argv, message
):
    def no_data():
        raise AssertionError("the data were loaded before the settings were checked")

    monkeypatch.setattr(reconstruction_detail, "demo_splits", no_data)
    with pytest.raises((SystemExit, ValueError)) as refused:
        reconstruction_detail.main(argv)
    assert message in str(refused.value) + capsys.readouterr().err
