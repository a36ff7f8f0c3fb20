"""Checkpoints after every (n-th) epoch, resuming from them, and stopping on signals."""

import itertools
import json
import signal

import keras
import numpy as np
import pytest
from sklearn.base import clone

import oasisgen
from oasisgen import PixelCNNPrior, VQVAE2Estimator
from oasisgen.estimators import CheckpointWarning, TrainingInterrupted
from oasisgen.nn.callbacks import StopOnRequest

from .conftest import TINY_PRIOR, TINY_VQVAE, make_row_codes, make_slices

PARAMS = {**TINY_VQVAE, "epochs": 3}  # 16 slices: 2 batches of 8 per epoch
CHECKPOINT_FILES = {"model.keras", "estimator.json", "random.npz", "checkpoint.json"}


def images():
    return make_slices(16)


@pytest.fixture(scope="module")
def uninterrupted():
    est = VQVAE2Estimator(**PARAMS).fit(images())
    return dict(est.history_), est.model_.get_weights()


def assert_same_fit(est, reference):
    history, weights = reference
    assert est.history_["loss"] == pytest.approx(history["loss"], rel=1e-5)
    for mine, theirs in zip(est.model_.get_weights(), weights, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def send_signal_after(monkeypatch, n_batches, signum):
    """Raise ``signum`` in this process when the n-th training batch ends."""
    original = StopOnRequest.on_train_batch_end
    counter = itertools.count(1)

    def on_train_batch_end(self, batch, logs=None):
        if next(counter) == n_batches:
            signal.raise_signal(signum)
        original(self, batch, logs)

    monkeypatch.setattr(StopOnRequest, "on_train_batch_end", on_train_batch_end)


def test_every_epoch_writes_a_checkpoint_and_the_newest_are_kept(
    tmp_path, uninterrupted
):
    params = {**PARAMS, "checkpoint_dir": tmp_path, "keep_checkpoints": 2}
    est = VQVAE2Estimator(**params).fit(images())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0002", "epoch-0003"]
    assert {p.name for p in (tmp_path / "epoch-0003").iterdir()} == CHECKPOINT_FILES
    assert_same_fit(est, uninterrupted)  # checkpointing changes nothing
    state = json.loads((tmp_path / "epoch-0002" / "checkpoint.json").read_text())
    assert (state["epochs"], state["batches"], state["seed"]) == (2, 0, 0)
    earlier = oasisgen.load(tmp_path / "epoch-0002")  # a checkpoint is a saved model
    assert earlier.history_["loss"] == est.history_["loss"][:2]


def test_checkpoint_every_writes_every_nth_epoch_and_the_last(tmp_path, uninterrupted):
    params = {**PARAMS, "checkpoint_dir": tmp_path, "keep_checkpoints": None}
    params.update(checkpoint_every=2, warm_start=True)
    est = VQVAE2Estimator(**params).fit(images())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0002", "epoch-0003"]
    assert_same_fit(est, uninterrupted)
    VQVAE2Estimator(**{**params, "epochs": 6}).fit(images())  # resumes after 3
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["epoch-0002", "epoch-0003", "epoch-0004", "epoch-0006"]


class StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


@pytest.mark.parametrize("how", ["callback", "sigterm"])
def test_a_run_that_ends_early_still_checkpoints_its_last_epoch(
    tmp_path, monkeypatch, how
):
    params = {**PARAMS, "checkpoint_dir": tmp_path, "checkpoint_every": 5}
    if how == "callback":
        VQVAE2Estimator(**params, callbacks=[StopAfterFirstEpoch()]).fit(images())
    else:
        send_signal_after(monkeypatch, 2, signal.SIGTERM)  # the end of epoch 1
        with pytest.raises(TrainingInterrupted) as interrupted:
            VQVAE2Estimator(**params).fit(images())
        assert interrupted.value.checkpoint == tmp_path / "epoch-0001"
    assert [p.name for p in tmp_path.iterdir()] == ["epoch-0001"]


def test_resuming_skips_a_torn_checkpoint_and_gives_the_uninterrupted_fit(
    tmp_path, uninterrupted
):
    params = {**PARAMS, "checkpoint_dir": tmp_path, "warm_start": True}
    VQVAE2Estimator(**{**params, "epochs": 2}).fit(images())  # stopped after 2
    model = tmp_path / "epoch-0002" / "model.keras"
    model.write_bytes(model.read_bytes()[:1000])  # cut short by a crash
    (tmp_path / "epoch-0003").mkdir()  # its writing never finished
    (tmp_path / "epoch-0003" / "model.keras").write_bytes(b"half")
    staging = tmp_path / ".epoch-0003.k1ll3d"  # left by a killed write
    staging.mkdir()
    with pytest.warns(CheckpointWarning) as record:
        resumed = VQVAE2Estimator(**params).fit(images())
    messages = [str(w.message) for w in record if w.category is CheckpointWarning]
    assert len(messages) == 2
    assert "epoch-0003" in messages[0] and "never finished" in messages[0]
    assert "epoch-0002" in messages[1] and "model.keras" in messages[1]
    assert len(resumed.history_["loss"]) == 3
    assert_same_fit(resumed, uninterrupted)  # from epoch 1, the last good one
    assert not staging.exists()
    assert (tmp_path / "epoch-0003" / "checkpoint.json").is_file()
    finished = VQVAE2Estimator(**params).fit(images())  # nothing left to train
    assert finished.history_ == resumed.history_


def test_a_damaged_checkpoint_is_skipped_for_the_newest_good_one(tmp_path):
    codes = make_row_codes(32)
    params = {**TINY_PRIOR, "epochs": 4, "checkpoint_dir": tmp_path}
    reference = PixelCNNPrior(**{**params, "keep_checkpoints": None}).fit(codes)
    (tmp_path / "epoch-0004" / "checkpoint.json").write_text('{"epochs": 4')
    (tmp_path / "epoch-0003" / "random.npz").write_bytes(b"PK\x03\x04broken")
    manifest = '{"class": "PixelCNNPrior", "params": 3, "fitted": {}}'
    (tmp_path / "epoch-0002" / "estimator.json").write_text(manifest)
    with pytest.warns(CheckpointWarning) as record:
        resumed = PixelCNNPrior(**{**params, "epochs": 1, "warm_start": True})
        resumed.fit(codes)  # epoch 1 is complete: nothing left to train
    skipped = [str(w.message) for w in record if w.category is CheckpointWarning]
    for name, file in [(4, "checkpoint.json"), (3, "random.npz"), (2, "estimator")]:
        assert any(f"epoch-000{name}" in m and file in m for m in skipped), skipped
    assert resumed.history_["loss"] == reference.history_["loss"][:1]


def test_a_checkpoint_dir_is_resumed_only_by_the_same_fit(tmp_path):
    params = {**TINY_VQVAE, "checkpoint_dir": tmp_path}
    est = VQVAE2Estimator(**params).fit(images())
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(FileExistsError, match="warm_start=True to resume"):
        clone(est).fit(images())
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    params["warm_start"] = True
    with pytest.raises(ValueError, match=r"hidden_channels=8 \(now 16\)"):
        VQVAE2Estimator(**{**params, "hidden_channels": 16}).fit(images())
    with pytest.raises(ValueError, match="trained on images of 16x16 pixels"):
        VQVAE2Estimator(**params).fit(make_slices(8, size=32))


def test_a_checkpoint_older_than_a_parameter_resumes_only_at_its_default(tmp_path):
    params = {**TINY_VQVAE, "checkpoint_dir": tmp_path, "warm_start": True}
    VQVAE2Estimator(**params).fit(images())
    manifest = tmp_path / "epoch-0001" / "estimator.json"
    saved = json.loads(manifest.read_text())
    del saved["params"]["bottom_stride"]  # written before bottom_stride existed
    manifest.write_text(json.dumps(saved))
    with pytest.raises(ValueError, match=r"bottom_stride=4 \(now 2\)"):
        VQVAE2Estimator(**{**params, "bottom_stride": 2, "epochs": 2}).fit(images())
    resumed = VQVAE2Estimator(**{**params, "epochs": 2}).fit(images())
    assert len(resumed.history_["loss"]) == 2 and resumed.bottom_shape_ == (4, 4)


def test_sigterm_stops_after_the_batch_and_saves_a_resumable_checkpoint(
    tmp_path, monkeypatch, uninterrupted
):
    before = signal.getsignal(signal.SIGTERM)
    send_signal_after(monkeypatch, 3, signal.SIGTERM)  # epoch 2, batch 1 of 2
    params = {**PARAMS, "checkpoint_dir": tmp_path, "warm_start": True}
    est = VQVAE2Estimator(**params)
    message = r"SIGTERM at epoch 2 \(after 1 batch\).*warm_start=True"
    with pytest.raises(TrainingInterrupted, match=message) as interrupted:
        est.fit(images())
    assert interrupted.value.checkpoint == tmp_path / "epoch-0001-batch-000001"
    assert interrupted.value.epoch == 2
    assert len(est.history_["loss"]) == 1
    assert signal.getsignal(signal.SIGTERM) is before
    monkeypatch.undo()
    resumed = VQVAE2Estimator(**params).fit(images())
    assert len(resumed.history_["loss"]) == 3
    assert_same_fit(resumed, uninterrupted)  # no batch skipped, none repeated


def test_sigint_without_checkpoint_dir_keeps_the_complete_epochs(
    monkeypatch, uninterrupted
):
    before = signal.getsignal(signal.SIGINT)
    send_signal_after(monkeypatch, 3, signal.SIGINT)
    est = VQVAE2Estimator(**PARAMS)
    with pytest.raises(KeyboardInterrupt, match="Set checkpoint_dir"):
        est.fit(images())
    assert len(est.history_["loss"]) == 1
    assert signal.getsignal(signal.SIGINT) is before
    monkeypatch.undo()
    est.set_params(warm_start=True, epochs=2).fit(images())  # the rest of 2, and 3
    assert_same_fit(est, uninterrupted)


def test_early_stopping_state_survives_an_interruption(tmp_path, monkeypatch):
    codes = make_row_codes(48)  # 3 batches of 16
    params = {**TINY_PRIOR, "epochs": 4, "early_stopping": True, "n_iter_no_change": 1}
    reference = PixelCNNPrior(**params).fit(codes)
    params.update(checkpoint_dir=tmp_path, warm_start=True)
    send_signal_after(monkeypatch, 7, signal.SIGTERM)  # epoch 3, after 1 batch
    with pytest.raises(TrainingInterrupted):
        PixelCNNPrior(**params).fit(codes)
    monkeypatch.undo()
    resumed = PixelCNNPrior(**params).fit(codes)
    assert resumed.history_["loss"] == pytest.approx(reference.history_["loss"])
    for mine, theirs in zip(
        resumed.model_.get_weights(), reference.model_.get_weights(), strict=True
    ):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def test_partial_fit_checkpoints_and_the_estimator_still_saves(tmp_path):
    params = {**TINY_VQVAE, "checkpoint_dir": tmp_path / "ckpt"}
    params.update(random_state=np.random.RandomState(0), keep_checkpoints=None)
    est = VQVAE2Estimator(**params).partial_fit(images()).partial_fit(images())
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "epoch-0001",
        "epoch-0002",
    ]
    path = est.save(tmp_path / "model")
    loaded = oasisgen.load(path)
    assert loaded.checkpoint_dir == str(tmp_path / "ckpt")
    assert loaded.history_ == est.history_
    (path / "estimator.json").write_text('{"class": "VQVAE2Estimator"}')
    with pytest.raises(ValueError, match="estimator.json"):
        oasisgen.load(path)


@pytest.mark.parametrize("name", ["keep_checkpoints", "checkpoint_every"])
@pytest.mark.parametrize("value", [0, 1.5, "3"], ids=["zero", "float", "str"])
def test_invalid_checkpoint_settings_are_named(name, value):
    est = VQVAE2Estimator(**TINY_VQVAE, **{name: value})
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        est.fit(images())
    assert not hasattr(est, "model_")
