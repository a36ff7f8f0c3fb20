"""``oasisgen train`` on a folder with corrupt images: stop first, or skip and say."""

import numpy as np
from PIL import Image

from oasisgen.cli import main

TINY = [
    "--image-size", "16", "--epochs", "1", "--num-embeddings", "8",
    "--embedding-dim", "4", "--hidden-channels", "8", "--n-res-blocks", "1",
    "--n-res-channels", "4", "--batch-size", "8", "--quiet",
]  # fmt: skip


def folder_with_two_corrupt_pngs(folder):
    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(12):
        pixels = rng.integers(0, 255, size=(16, 16), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"sub-{i:02d}_slice_0.png")
    good = (folder / "sub-03_slice_0.png").read_bytes()
    (folder / "sub-03_slice_0.png").write_bytes(good[: len(good) // 2])
    (folder / "sub-07_slice_0.png").write_bytes(b"\x89PNG garbage")
    return folder


def test_corrupt_images_stop_training_before_it_starts(tmp_path, capsys):
    data = folder_with_two_corrupt_pngs(tmp_path / "scans")
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert "sub-03_slice_0.png" in err and "Pass --on-error skip" in err
    assert not (out / "checkpoints").exists()  # no epoch was trained


def test_corrupt_images_are_skipped_and_listed(tmp_path, capsys):
    data = folder_with_two_corrupt_pngs(tmp_path / "scans")
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(out), "--on-error", "skip"]
    assert main([*argv, *TINY]) == 0
    err = capsys.readouterr().err
    assert "oasisgen: warning: load_images skipped 2 of 12" in err
    assert "sub-03_slice_0.png" in err and "sub-07_slice_0.png" in err
    assert (out / "model").is_dir()
