"""benchmarks/streaming.py: its options, its folder, and a run at a tiny size."""

import doctest
import json
import os
import subprocess
import sys

import pytest

from .benchmark_modules import BENCHMARKS, load_benchmark

streaming = load_benchmark("streaming")


def test_doctests():
    assert doctest.testmod(streaming).failed == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--image-size", "100"],
        ["--image-size", "0"],
        ["--n-files", "0"],
        ["--rounds", "0"],
        ["--steps", "-1"],
        ["--n-files", "10", "--steps", "1", "--batch-size", "32"],
    ],
    ids=str,
)
def test_bad_options_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        streaming.parse_args(argv)


def test_the_folder_looks_like_oasis_and_loads(tmp_path):
    from oasisgen.datasets import load_oasis

    streaming.build_folder(tmp_path / "oasis", n_files=40, file_size=16)
    dataset = load_oasis(tmp_path / "oasis")
    assert len(dataset) == 40 and dataset.image_shape == (16, 16)
    assert len(set(dataset.subjects)) == 2  # 32 slices a case
    images = dataset.to_numpy()
    assert len({image.tobytes() for image in images}) == 40  # all differ
    assert 0.05 < images.mean() < 0.9


def test_an_existing_folder_is_reused_only_if_the_script_built_it(tmp_path):
    args = streaming.parse_args(["--n-files", "3", "--file-size", "8", "--steps", "0"])
    args.folder = tmp_path / "data"
    root, seconds = streaming.ready_folder(args, tmp_path / "scratch")
    assert root == args.folder and seconds > 0
    assert streaming.ready_folder(args, tmp_path / "scratch") == (root, 0.0)
    args.n_files = 4  # another recipe: refused, nothing written
    before = sorted(p.name for p in (root / "keras_png_slices_train").iterdir())
    with pytest.raises(SystemExit, match="not a folder this script built"):
        streaming.ready_folder(args, tmp_path / "scratch")
    (tmp_path / "mine").mkdir()
    args.folder = tmp_path / "mine"
    with pytest.raises(SystemExit, match="not a folder this script built"):
        streaming.ready_folder(args, tmp_path / "scratch")
    assert list((tmp_path / "mine").iterdir()) == []
    assert sorted(p.name for p in (root / "keras_png_slices_train").iterdir()) == before


def test_a_summary_of_one_mode_has_no_ratio():
    run = {"mode": "disk", "round": 0, "images_per_second": 4.0, "n_images": 8}
    run |= {"load_oasis_seconds": 1.0, "peak_rss_mb": 900.0, "epoch_cpu_seconds": 2}
    summary = streaming.summarise([run])
    assert summary["disk"]["cpu_ms_per_image"] == 250.0
    assert "memory" not in summary and "ratio_disk_to_memory" not in summary
    text = streaming.report(summary, 10)
    assert "from disk: 4.0 images/s, 250.0 CPU ms" in text and "/ disk" not in text
    assert streaming.parse_args(["--modes", "disk"]).modes == ["disk"]


def test_a_tiny_run_gives_sane_figures(tmp_path):
    out = tmp_path / "streaming.json"
    argv = [
        sys.executable, str(BENCHMARKS / "streaming.py"), "--n-files", "40",
        "--file-size", "32", "--image-size", "16", "--steps", "2",
        "--batch-size", "8", "--rounds", "1", "--json", str(out),
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(BENCHMARKS.parent))
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "disk / memory =" in done.stdout and "peak RSS" in done.stdout
    record = json.loads(out.read_text())
    runs = record["runs"]
    assert [run["mode"] for run in runs] == ["disk", "memory"]
    for run in runs:
        assert run["n_files_listed"] == 40 and run["n_images"] == 16
        assert run["images_per_second"] > 0 and run["epoch_cpu_seconds"] > 0
        assert 100 < run["peak_rss_mb"] < 4000
        assert run["rss_after_epoch_mb"] <= run["peak_rss_mb"] + 1
        assert 0 < max(run["rss_during_epoch_mb"]) <= run["peak_rss_mb"] + 1
    summary = record["summary"]
    assert summary["ratio_disk_to_memory"] == pytest.approx(
        runs[0]["images_per_second"] / runs[1]["images_per_second"]
    )
    assert summary["cpu_ratio_memory_to_disk"] > 0
    assert record["config"]["n_files"] == 40 and "machine" in record
