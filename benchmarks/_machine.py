"""Where a benchmark's figures were taken: CPU, threads, versions, commit."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import oasisgen


def describe_machine() -> dict[str, Any]:
    """Describe the machine, the thread settings and the checkout."""
    model = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            names = [
                line.split(":", 1)[1].strip() for line in f if "model name" in line
            ]
        model = names[0] if names else ""
    threads = {
        k: os.environ.get(k)
        for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
    }
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "oasisgen": oasisgen.__version__,
        "git": _git_describe(),
        **threads,
    }


def write_record(path: Path | str | None, record: dict[str, Any]) -> None:
    """Write a benchmark's figures as indented JSON, with the machine and the date.

    Nothing is written when ``path`` is None (no ``--json`` given).
    """
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamped = {
        **record,
        "machine": describe_machine(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    path.write_text(json.dumps(stamped, indent=2) + "\n")


def _git_describe() -> str:
    """Return the commit of the checkout, marked ``-dirty`` if it has edits."""
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=os.path.dirname(os.path.abspath(__file__)),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
