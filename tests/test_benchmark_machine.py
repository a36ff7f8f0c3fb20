"""benchmarks/_machine.py: every benchmark's JSON record, stamped the same way."""

import json
import sys

from .benchmark_modules import BENCHMARKS, load_benchmark

sys.path.insert(0, str(BENCHMARKS))  # the scripts import _machine by that name
machine = load_benchmark("_machine")


def test_a_record_is_written_with_the_machine_and_the_date(tmp_path):
    path = tmp_path / "results" / "figures.json"  # the folder does not exist yet
    machine.write_record(path, {"seconds": [1.5, 2.0]})
    record = json.loads(path.read_text())
    assert record["seconds"] == [1.5, 2.0]
    assert record["machine"]["cpus"] >= 1 and "git" in record["machine"]
    assert record["date"][:2] == "20"


def test_without_a_path_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    machine.write_record(None, {"seconds": [1.0]})
    assert list(tmp_path.iterdir()) == []
