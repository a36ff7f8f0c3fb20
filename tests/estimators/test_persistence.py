import json

import numpy as np
import pytest

import oasisgen
from oasisgen import VQVAE2Estimator

from .conftest import TINY_VQVAE, make_slices


@pytest.fixture(scope="module")
def fitted():
    """One fit shared by the tests; saving does not change it."""
    return VQVAE2Estimator(**TINY_VQVAE).fit(make_slices(8))


def test_save_and_load_give_the_same_codes_and_history(fitted, tmp_path):
    X = make_slices(4, seed=1)
    path = fitted.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["estimator.json", "model.keras"]
    loaded = oasisgen.load(path)
    assert isinstance(loaded, VQVAE2Estimator)
    assert loaded.get_params() == fitted.get_params()
    assert loaded.history_ == fitted.history_
    assert loaded.image_shape_ == fitted.image_shape_
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    manifest = json.loads((path / "estimator.json").read_text())
    assert manifest["class"] == "VQVAE2Estimator"
    assert manifest["versions"]["oasisgen"] == oasisgen.__version__


def test_saving_a_pair_of_codebook_sizes_round_trips(tmp_path):
    params = {**TINY_VQVAE, "num_embeddings": (8, 16)}
    est = VQVAE2Estimator(**params).fit(make_slices(8))
    loaded = oasisgen.load(est.save(tmp_path / "model"))
    assert loaded.num_embeddings == (8, 16)


def test_save_refuses_to_overwrite_unless_asked(fitted, tmp_path):
    target = tmp_path / "model"
    fitted.save(target)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fitted.save(target)
    fitted.save(target, overwrite=True)
    assert oasisgen.load(target).image_shape_ == (16, 16)


def test_a_failed_save_leaves_the_existing_model_untouched(
    fitted, tmp_path, monkeypatch
):
    target = tmp_path / "model"
    fitted.save(target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(fitted.model_, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        fitted.save(target, overwrite=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no leftovers


def test_saving_an_unfitted_estimator_is_an_error(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        VQVAE2Estimator().save(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_loading_a_missing_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="No saved oasisgen estimator"):
        oasisgen.load(tmp_path / "nothing")


def test_loading_a_corrupted_model_file_names_it(fitted, tmp_path):
    path = fitted.save(tmp_path / "model")
    keras_file = path / "model.keras"
    keras_file.write_bytes(keras_file.read_bytes()[:200])
    with pytest.raises(ValueError, match="model.keras"):
        oasisgen.load(path)


def test_loading_a_corrupted_manifest_names_it(fitted, tmp_path):
    path = fitted.save(tmp_path / "model")
    (path / "estimator.json").write_text("{not json")
    with pytest.raises(ValueError, match="estimator.json"):
        oasisgen.load(path)
