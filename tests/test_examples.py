"""Every gallery example runs to the end in its fast mode and draws a figure.

Each example runs in a fresh Python process, as sphinx-gallery and a reader would
run it, with ``OASISGEN_EXAMPLES_FAST=1`` so it trains for an epoch or two only.
The figures of oasisgen.plotting are not registered with pyplot, so a small runner
executes the script with :func:`runpy.run_path` and counts the matplotlib Figures
left in its namespace.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("plot_*.py"))
TIMEOUT_SECONDS = 300

RUNNER = """
import runpy
import sys

from matplotlib.figure import Figure

namespace = runpy.run_path(sys.argv[1], run_name="__main__")
figures = [value for value in namespace.values() if isinstance(value, Figure)]
print(f"oasisgen-example-figures={len(figures)}")
"""


def _environment():
    env = dict(os.environ)
    env.update(OASISGEN_EXAMPLES_FAST="1", MPLBACKEND="Agg")
    env.setdefault("TF_NUM_INTRAOP_THREADS", "2")
    env.setdefault("TF_NUM_INTEROP_THREADS", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def test_the_gallery_has_examples():
    assert len(EXAMPLES) >= 5, [path.name for path in EXAMPLES]


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs_and_draws_a_figure(example, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(example)],
        cwd=tmp_path,  # anything an example writes by mistake lands here
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, (
        f"{example.name} exited with {result.returncode}:\n{result.stderr[-3000:]}"
    )
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line.startswith("oasisgen-example-figures="), result.stdout[-2000:]
    n_figures = int(last_line.split("=")[1])
    assert n_figures >= 1, f"{example.name} made no matplotlib Figure"
    assert list(tmp_path.iterdir()) == [], "the example wrote into its working folder"


def test_every_example_has_a_title_and_a_fast_mode():
    for path in EXAMPLES:
        source = path.read_text()
        assert source.startswith('"""\n'), f"{path.name} has no module docstring"
        title, underline = source.splitlines()[1:3]
        assert underline == "=" * len(title), f"{path.name}: reST title underline"
        assert 'os.environ.get("OASISGEN_EXAMPLES_FAST") == "1"' in source, path.name
        assert "# %%" in source, f"{path.name} has no cells"
