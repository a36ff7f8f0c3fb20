"""``benchmarks/train_budget.py``: ``--seed``, and the former ``--random-state``."""

import pytest

from .benchmark_modules import BENCHMARKS, load_benchmark


@pytest.fixture(scope="module")
def train_budget():
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))  # the scripts import _machine
        yield load_benchmark("train_budget")


def test_the_seed_is_read(train_budget, capsys):
    assert train_budget.parse_args(["--seed", "3"]).seed == 3
    assert capsys.readouterr().err == ""


def test_the_former_random_state_flag_works_with_a_warning(train_budget, capsys):
    assert train_budget.parse_args(["--random-state", "3"]).seed == 3
    assert "--random-state is deprecated" in capsys.readouterr().err
