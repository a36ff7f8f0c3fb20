"""Run Python code in a fresh interpreter, for the tests that need one."""

import json
import subprocess
import sys


def run_python(code, *args, timeout=300, **kwargs):
    """Run ``python -c code args...``; fail the test with its stderr unless it exits 0.

    Returns the ``subprocess.CompletedProcess``, with text ``stdout`` and ``stderr``.
    """
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def last_json_line(stdout):
    """Return the JSON value printed on the last line of ``stdout``."""
    return json.loads(stdout.strip().splitlines()[-1])
