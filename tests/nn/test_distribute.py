"""One model on several devices or hosts: strategies, TF_CONFIG, the chief's files.

The trainings run in fresh processes (``tests/nn/distributed_training.py``): logical
devices and the multi-worker strategy can only be set up before TensorFlow starts.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import oasisgen.cli
from oasisgen import VQVAE2Estimator
from oasisgen.nn.distribute import (
    TFConfigError,
    is_chief,
    make_strategy,
    read_tf_config,
    writes_files,
)

from ..estimators.conftest import TINY_VQVAE, make_slices
from ..fresh_process import last_json_line
from ..network import free_ports

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300


def start(module, *args, tf_config=None):
    """Run ``python -m module args`` with one thread; return it, not waiting."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def output_of(process):
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
    assert process.returncode == 0, stderr[-3000:]
    return stdout


def report_of(process):
    return last_json_line(output_of(process))


def local_cluster(n_workers):
    """Return the TF_CONFIG of each of ``n_workers`` workers on free local ports."""
    addresses = [f"127.0.0.1:{port}" for port in free_ports(n_workers)]
    return [
        {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": i}}
        for i in range(n_workers)
    ]


def test_mirrored_on_two_devices_matches_one_device(tmp_path):
    report = report_of(start("tests.nn.distributed_training", "mirrored", tmp_path))
    assert report["replicas"] == 2
    # Both replicas update their codebooks with the same all-reduced averages.
    assert report["codebook_spread"] == 0.0
    # The same global batches, mean gradients, codebook counts and restart picks as
    # on one device: only the order of floating-point sums differs (measured: 0.13 %
    # after one epoch, 0.006 % after two).
    np.testing.assert_allclose(report["loss"], report["one_device_loss"], rtol=0.01)
    assert report["saved"] == str(tmp_path / "model")
    # An "auto" batch of 5 goes up to 6, and trains: a second mirrored model of
    # other shapes in the same process, which failed while each fit made its own
    # strategy. A batch of 5 the user asked for is refused, by either estimator.
    assert report["auto_batch"] == 6
    assert report["odd_batch_error"] == (
        "VQVAE2Estimator(batch_size=5) does not split evenly over the 2 replicas of "
        "distribute='mirrored': Keras needs the same number of images on each. "
        "Pass a multiple of 2, such as 4 or 6, or 'auto'."
    )
    # Last batches that would split 2 / 1 over the replicas are dropped in
    # training and trimmed to 2 in validation: both models train and validate.
    for history in report["validated_history"], report["prior_history"]:
        assert len(history["loss"]) == len(history["val_loss"]) == 1
        assert np.isfinite(history["loss"] + history["val_loss"]).all()
    assert report["odd_prior_batch_error"] == (
        "PixelCNNPrior(batch_size=5) does not split evenly over the 2 replicas of "
        "distribute='mirrored': Keras needs the same number of code maps on each. "
        "Pass a multiple of 2, such as 4 or 6."
    )
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "epoch-0001",
        "epoch-0002",
    ]
    # With the adversarial loss both replicas keep one discriminator, and the
    # pair of networks learns as on one device.
    assert report["discriminator_copies"] == [2]
    assert report["discriminator_spread"] == 0.0
    mirrored = report["adversarial_history"]
    one_device = report["one_device_adversarial_history"]
    for name in ("loss", "discriminator_loss"):
        np.testing.assert_allclose(mirrored[name], one_device[name], rtol=0.01)


def test_multi_worker_trains_in_step_and_only_the_chief_writes(tmp_path):
    outs = [tmp_path / f"worker{index}" for index in range(2)]
    processes = [
        start("tests.nn.distributed_training", "multi_worker", out, tf_config=config)
        for out, config in zip(outs, local_cluster(2), strict=True)
    ]
    chief, worker = (report_of(process) for process in processes)
    assert chief["replicas"] == worker["replicas"] == 2
    assert chief["weights"] == worker["weights"]
    assert chief["loss"] == worker["loss"]
    assert chief["codes"] == worker["codes"]
    assert (chief["chief"], worker["chief"]) == (True, False)
    assert chief["saved"] == str(outs[0] / "model")
    assert worker["saved"] is None
    assert (outs[0] / "model" / "model.keras").is_file()
    assert len(list((outs[0] / "checkpoints").iterdir())) == 2
    assert not outs[1].exists()  # nothing of the worker's outlived its scratch


def test_oasisgen_train_on_two_workers_writes_one_run(tmp_path):
    outs = [tmp_path / f"run{index}" for index in range(2)]
    tiny = "--image-size 16 --epochs 1 --num-embeddings 8 16 --embedding-dim 4 "
    tiny += "--hidden-channels 8 --n-res-blocks 1 --n-res-channels 4 --quiet"
    processes = [
        start(
            "oasisgen.cli",
            *f"train --distribute multi_worker --out {out} {tiny}".split(),
            tf_config=config,
        )
        for out, config in zip(outs, local_cluster(2), strict=True)
    ]
    chief, worker = (output_of(process) for process in processes)
    assert "test SSIM" in chief and "test SSIM" in worker
    assert {p.name for p in outs[0].iterdir()} >= {"model", "metrics.json"}
    assert not outs[1].exists()
    assert oasisgen.cli.main(["train", "--resume", str(outs[0])]) == 2


def test_multi_worker_strategy_must_come_before_tensorflow_starts():
    script = (
        "import tensorflow as tf\n"
        "tf.constant(1.0) + 1\n"
        "from oasisgen.nn.distribute import start_multi_worker\n"
        "start_multi_worker()\n"
    )
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    env = dict(os.environ)
    env["TF_CONFIG"] = json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": 0}}
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 1
    assert "start_multi_worker() at the top of the script" in result.stderr


CLUSTER = {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}


@pytest.mark.parametrize(
    "tf_config, message",
    [
        ("{cluster: ", "is not JSON"),
        ("[1, 2]", "is not a JSON object"),
        ('{"task": {"type": "worker"}}', 'no "cluster"'),
        ('{"cluster": {"worker": []}, "task": {}}', "lists no addresses"),
        ('{"cluster": {"worker": ["10.0.0.1"]}}', "'10.0.0.1'.*not host:port"),
        (json.dumps({"cluster": CLUSTER}), 'no "task"'),
        (json.dumps({"cluster": CLUSTER, "task": {"type": "ps"}}), "'ps'.*\\['worker'"),
        (json.dumps({"cluster": CLUSTER, "task": {"type": "worker"}}), "no task index"),
        (
            json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 2}}),
            "index 2.*indices 0 to 1",
        ),
        (
            json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": "1"}}),
            "index '1', not an integer",
        ),
    ],
    ids=[
        "not-json",
        "not-object",
        "no-cluster",
        "no-addresses",
        "no-port",
        "no-task",
        "unknown-type",
        "no-index",
        "index-too-big",
        "index-string",
    ],
)
def test_malformed_tf_config_is_named(tf_config, message):
    with pytest.raises(TFConfigError, match=message) as caught:
        read_tf_config({"TF_CONFIG": tf_config})
    assert tf_config in str(caught.value)
    assert "Expected e.g." in str(caught.value)


@pytest.mark.parametrize(
    "cluster, task, chief",
    [
        (CLUSTER, {"type": "worker", "index": 0}, True),
        (CLUSTER, {"type": "worker", "index": 1}, False),
        ({"chief": ["h:1"], **CLUSTER}, {"type": "worker", "index": 0}, False),
        ({"chief": ["h:1"], **CLUSTER}, {"type": "chief", "index": 0}, True),
    ],
)
def test_the_chief_is_worker_zero_unless_the_cluster_names_one(cluster, task, chief):
    environ = {"TF_CONFIG": json.dumps({"cluster": cluster, "task": task})}
    assert is_chief(environ) is chief


def test_without_tf_config_every_process_writes(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert is_chief() and writes_files("multi_worker") and writes_files(None)


def test_an_unknown_strategy_is_named():
    with pytest.raises(ValueError, match="got 'ring'"):
        make_strategy("ring")
    with pytest.raises(ValueError, match="'distribute' parameter.*Got 'ring'"):
        VQVAE2Estimator(**TINY_VQVAE, distribute="ring").fit(make_slices(4))
