"""Subclasses that override one step of training: the base's override points."""

import re
from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.base import clone

import oasisgen
from oasisgen import PixelCNNPrior, VQVAE2Estimator

from .conftest import TINY_PRIOR, TINY_VQVAE, make_row_codes, make_slices

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_subclass():
    """Run the README's subclass example; return what it defines."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    (example,) = [block for block in blocks if "def make_optimizer" in block]
    namespace = {}
    exec(example, namespace)  # the README's own code, as a reader runs it
    return namespace


def test_the_readme_subclass_trains_with_its_optimizer_and_resumes(tmp_path):
    example = readme_subclass()
    Clipped = example["ClippedVQVAE2"]
    assert isinstance(example["est"], Clipped) and example["est"].epochs == 30
    X = make_slices(12)  # 16 x 16
    run = tmp_path / "run"
    est = Clipped(**TINY_VQVAE, checkpoint_dir=run).fit(X)
    optimizer = est.model_.optimizer
    assert type(optimizer) is keras.optimizers.AdamW
    assert optimizer.clipnorm == 1.0
    assert float(optimizer.learning_rate) == pytest.approx(est.learning_rate_)
    assert len(est.history_["loss"]) == 1
    assert est.transform(X).shape[0] == len(X)
    copied = clone(est)  # a scikit-learn estimator of the subclass
    assert type(copied) is Clipped
    resumed = copied.set_params(epochs=2, warm_start=True).fit(X)
    assert len(resumed.history_["loss"]) == 2
    assert resumed.model_.optimizer.clipnorm == 1.0  # saved in the checkpoint
    est.save(tmp_path / "saved")
    with pytest.raises(ValueError, match="'ClippedVQVAE2', which is not an oasisgen"):
        oasisgen.load(tmp_path / "saved")  # as the user guide says


class RecordingPrior(PixelCNNPrior):
    """A prior that records what the base asks of its override points."""

    def build_model(self, seed):
        self.built_with_ = seed
        return super().build_model(seed)

    def training_data(self, data, *, shuffle, seed):
        self.batches_asked_.append((len(data[0]), shuffle, seed))
        return super().training_data(data, shuffle=shuffle, seed=seed)

    def fit_epoch(self, data, validation, epoch, last_epoch, callbacks):
        logs = super().fit_epoch(data, validation, epoch, last_epoch, callbacks)
        self.epochs_seen_.append((epoch, last_epoch))
        return {**logs, "twice_loss": 2 * logs["loss"]}

    def fit(self, X, *args, **kwargs):
        self.batches_asked_, self.epochs_seen_ = [], []
        return super().fit(X, *args, **kwargs)


def test_the_base_calls_each_override_point_as_documented():
    codes = make_row_codes(32)
    params = {**TINY_PRIOR, "epochs": 3, "random_state": 5}
    prior = RecordingPrior(**params, validation_fraction=0.25).fit(codes)
    assert prior.built_with_ == 5
    # the validation maps once, in order; then each epoch's, shuffled by its seed
    asked = [(8, False, None), (24, True, 5), (24, True, 6), (24, True, 7)]
    assert prior.batches_asked_ == asked
    assert prior.epochs_seen_ == [(0, 3), (1, 3), (2, 3)]
    assert prior.history_["twice_loss"] == pytest.approx(
        [2 * loss for loss in prior.history_["loss"]]
    )
    plain = PixelCNNPrior(**params, validation_fraction=0.25).fit(codes)
    assert prior.history_["loss"] == pytest.approx(plain.history_["loss"])
    assert prior.history_["val_loss"] == pytest.approx(plain.history_["val_loss"])


def test_the_hold_out_is_the_same_for_images_and_code_maps():
    images, codes = make_slices(12), make_row_codes(12)
    vqvae = VQVAE2Estimator(**TINY_VQVAE, validation_fraction=0.25)
    prior = PixelCNNPrior(**TINY_PRIOR, validation_fraction=0.25)
    (train_images,), (held_images,) = vqvae._hold_out((images,), 3, unit="image")
    (train_codes, none), (held_codes, _) = prior._hold_out((codes, None), 3, unit="map")
    order = np.random.RandomState(3).permutation(12)
    np.testing.assert_array_equal(held_images, images[order[:3]])
    np.testing.assert_array_equal(train_codes, codes[order[3:]])
    assert len(train_images) == 9 and len(held_codes) == 3 and none is None
    with pytest.raises(ValueError, match="of 2 maps leaves 0 for validation.*one map"):
        prior.set_params(validation_fraction=0.1)._hold_out((codes[:2],), 0, unit="map")
