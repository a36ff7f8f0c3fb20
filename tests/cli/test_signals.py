"""``oasisgen train`` killed, interrupted and resumed ends where an unbroken run does.

The run is trained in a child process, killed with SIGKILL in the middle of an
epoch, its newest checkpoint torn on purpose, resumed in a second child that gets
SIGINT, and finished in this process. The history and weights must be those of a
run that was never stopped: no epoch missing, none repeated.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import oasisgen
from oasisgen.cli import main

TINY = [
    "--data", "sample", "--image-size", "16", "--epochs", "6",
    "--num-embeddings", "8", "16", "--embedding-dim", "4", "--hidden-channels", "8",
    "--n-res-blocks", "1", "--n-res-channels", "4", "--batch-size", "4", "--quiet",
]  # fmt: skip
ENV = {
    **os.environ,
    "TF_NUM_INTRAOP_THREADS": "2",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONUNBUFFERED": "1",
}


def start(*argv):
    command = [sys.executable, "-m", "oasisgen.cli", *argv]
    return subprocess.Popen(
        command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def checkpoints(run):
    folder = run / "checkpoints" / "vqvae"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "checkpoint.json").exists())


def wait_for(condition, process, timeout=180.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"training ended early ({process.returncode}): {err}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("training made no progress in time")
        time.sleep(0.02)
    return time.monotonic()


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "unbroken"
    assert main(["train", "--out", str(out), *TINY]) == 0
    return json.loads((out / "history.json").read_text()), oasisgen.load(out / "model")


def kill_in_the_third_epoch(run, attempts=3):
    """Start a run and SIGKILL it halfway through its third epoch.

    Half an epoch after the second checkpoint the run should be inside the third
    epoch; it was if no third checkpoint exists after the kill. A run that the
    machine's load carried past the epoch is started again, up to ``attempts``
    times.
    """
    for _ in range(attempts):
        child = start("train", "--out", str(run), *TINY)
        first = wait_for(lambda: len(checkpoints(run)) >= 1, child)
        second = wait_for(lambda: len(checkpoints(run)) >= 2, child)
        time.sleep((second - first) / 2)  # into the middle of the next epoch
        child.kill()
        child.communicate()
        assert child.returncode == -signal.SIGKILL
        if len(checkpoints(run)) == 2:
            return
        shutil.rmtree(run)
    pytest.fail(f"no kill landed inside the third epoch in {attempts} attempts")


@pytest.mark.slow
def test_killed_interrupted_and_resumed_run_equals_an_unbroken_one(tmp_path, unbroken):
    run = tmp_path / "run"
    kill_in_the_third_epoch(run)

    # tear the newest checkpoint as a crash while writing it could
    names = checkpoints(run)
    torn = run / "checkpoints" / "vqvae" / names[-1]
    model = torn / "model.keras"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])

    child = start("train", "--resume", str(run))
    wait_for(lambda: set(checkpoints(run)) - set(names), child)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert f"resume with: oasisgen train --resume {run}" in err
    assert "interrupted at epoch" in err
    assert f"Skipping the checkpoint '{torn}'" in err  # never loaded

    assert main(["train", "--resume", str(run)]) == 0
    history, model = unbroken
    resumed = json.loads((run / "history.json").read_text())
    assert len(resumed["loss"]) == 6
    assert resumed["loss"] == pytest.approx(history["loss"], rel=1e-5)
    for mine, theirs in zip(
        oasisgen.load(run / "model").model_.get_weights(),
        model.model_.get_weights(),
        strict=True,
    ):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def test_resuming_a_finished_run_says_so(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--out", str(run), *TINY[:4], "--epochs", "1", *TINY[6:]]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 0
    assert "already finished (1 epochs); nothing to resume" in capsys.readouterr().out


def test_resume_takes_no_other_options(tmp_path):
    with pytest.raises(SystemExit, match="do not pass --epochs"):
        main(["train", "--resume", str(tmp_path), "--epochs", "3"])


def test_resuming_a_directory_that_is_not_a_run_is_an_error(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "has no args.json" in capsys.readouterr().err
