"""``benchmarks/bottom_prior.py``: the ``--variant`` settings of the bottom prior."""

import pytest

from .benchmark_modules import BENCHMARKS, load_benchmark


@pytest.fixture(scope="module")
def bottom_prior():
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))  # the scripts import _machine
        yield load_benchmark("bottom_prior")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("three:condition_layers=3", ("three", {"condition_layers": 3})),
        (
            "both:hidden_channels=48,dropout=0.1",
            ("both", {"hidden_channels": 48, "dropout": 0.1}),
        ),
        ("plain:mirror_context=false", ("plain", {"mirror_context": False})),
    ],
)
def test_a_variant_is_read_with_its_values_types(bottom_prior, text, expected):
    assert bottom_prior.variant(text) == expected


@pytest.mark.parametrize(
    "text",
    ["condition_layers=3", "name:", "name:layers", "saved:n_layers=2", "a:b=1,c"],
)
def test_a_bad_variant_is_refused_with_what_was_expected(bottom_prior, text):
    with pytest.raises(SystemExit, match="NAME:PARAM=VALUE"):
        bottom_prior.variant(text)


def test_the_command_line_refuses_too_few_samples(bottom_prior, capsys):
    with pytest.raises(SystemExit):
        bottom_prior.parse_args(["run", "--n-samples", "2"])
    assert "--n-samples must be at least 5; got 2" in capsys.readouterr().err
