"""``benchmarks/sample_quality.py``: the ``--set NAME=VALUE`` changes of the demo."""

import pytest

from .benchmark_modules import BENCHMARKS, load_benchmark


@pytest.fixture(scope="module")
def sample_quality():
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))  # the scripts import _machine
        yield load_benchmark("sample_quality")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("prior_jit_compile=false", ("prior_jit_compile", False)),
        ("prior_jit_compile=True", ("prior_jit_compile", True)),
        ("prior_hidden_channels=64,32", ("prior_hidden_channels", [64, 32])),
        ("epochs=30", ("epochs", 30)),
        ("prior_attention_layers=1,0", ("prior_attention_layers", [1, 0])),
    ],
)
def test_a_setting_is_read_as_the_type_of_the_demos(sample_quality, text, expected):
    assert sample_quality.setting(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("prior_jit_compile=no", "expects true or false"),
        ("no_such_setting=1", "NAME one of"),
        ("epochs=", "NAME one of"),
    ],
)
def test_a_bad_setting_is_refused_with_what_was_expected(sample_quality, text, message):
    with pytest.raises(SystemExit, match=message):
        sample_quality.setting(text)
