import numpy as np
import pytest
import tensorflow as tf
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import oasisgen
from oasisgen import VQVAE2Estimator
from oasisgen.datasets import SliceDataset, load_sample

from .conftest import TINY_VQVAE, make_slices


@pytest.fixture(scope="module")
def fitted():
    """One fit shared by the tests that only read from it."""
    return VQVAE2Estimator(**TINY_VQVAE).fit(make_slices())


def test_codes_round_trip_through_transform_and_inverse_transform(fitted, slices):
    codes = fitted.transform(slices)
    assert codes.shape == (len(slices), 2 * 2 + 4 * 4)
    assert codes.dtype == np.int32
    assert codes.min() >= 0 and codes.max() < 16
    images = fitted.inverse_transform(codes)
    assert images.shape == slices.shape and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    np.testing.assert_allclose(images, fitted.reconstruct(slices), atol=1e-5)


def test_encode_gives_the_maps_that_transform_flattens(fitted, slices):
    top, bottom = fitted.encode(slices)
    assert top.shape == (len(slices), 2, 2) and bottom.shape == (len(slices), 4, 4)
    codes = fitted.transform(slices)
    np.testing.assert_array_equal(codes[:, :4], top.reshape(len(top), -1))
    np.testing.assert_array_equal(codes[:, 4:], bottom.reshape(len(top), -1))
    np.testing.assert_allclose(
        fitted.decode(top, bottom), fitted.reconstruct(slices), atol=1e-5
    )


def test_fitted_attributes(fitted):
    assert fitted.image_shape_ == (16, 16)
    assert fitted.top_shape_ == (2, 2) and fitted.bottom_shape_ == (4, 4)
    assert (fitted.n_top_codes_, fitted.n_bottom_codes_) == (16, 16)
    assert set(fitted.codebook_usage_) == {"top", "bottom"}
    expected = {
        "loss",
        "reconstruction_loss",
        "commitment_loss",
        "ssim",
        "top_perplexity",
        "top_usage",
        "bottom_perplexity",
        "bottom_usage",
    }
    assert set(fitted.history_) == expected
    assert all(len(values) == 1 for values in fitted.history_.values())


def test_a_pair_of_codebook_sizes_sets_each_level(slices):
    est = VQVAE2Estimator(**{**TINY_VQVAE, "num_embeddings": (8, 32)}).fit(slices)
    top, bottom = est.encode(slices)
    assert (est.n_top_codes_, est.n_bottom_codes_) == (8, 32)
    assert top.max() < 8 and bottom.max() < 32


def test_a_bottom_stride_of_2_gives_a_bottom_map_twice_as_fine(slices, tmp_path):
    est = VQVAE2Estimator(**TINY_VQVAE, bottom_stride=2).fit(slices)
    top, bottom = est.encode(slices)
    assert est.top_shape_ == top.shape[1:] == (2, 2)
    assert est.bottom_shape_ == bottom.shape[1:] == (8, 8)
    assert est.transform(slices).shape == (len(slices), 4 + 64)
    assert est.decode(top, bottom).shape == slices.shape
    loaded = oasisgen.load(est.save(tmp_path / "model"))
    assert loaded.bottom_stride == 2 and loaded.bottom_shape_ == (8, 8)
    np.testing.assert_array_equal(loaded.encode(slices)[1], bottom)


def test_extra_loss_weights_train_and_survive_save_and_load(tmp_path):
    X = load_sample("train", image_size=16)
    weights = {"top_reconstruction_weight": 1.0, "gradient_loss_weight": 2.0}
    weights["bottom_code_noise"] = 0.05
    weights["adversarial_loss_weight"] = 0.01
    est = VQVAE2Estimator(**{**TINY_VQVAE, "epochs": 3}, **weights).fit(X)
    for name in ("top_reconstruction_loss", "gradient_loss"):
        history = est.history_[name]
        assert len(history) == 3 and history[-1] < history[0], name
    for name in ("adversarial_loss", "discriminator_loss"):
        assert len(est.history_[name]) == 3 and np.isfinite(est.history_[name]).all()
    loaded = oasisgen.load(est.save(tmp_path / "model"))
    for name, weight in weights.items():
        assert getattr(est.model_, name) == getattr(loaded, name) == weight
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_a_bottom_stride_other_than_4_or_2_is_refused_before_fitting(slices):
    est = VQVAE2Estimator(**TINY_VQVAE, bottom_stride=8)
    with pytest.raises(ValueError, match="'bottom_stride' parameter .* must be"):
        est.fit(slices)
    assert not hasattr(est, "model_")


def test_training_on_the_bundled_sample_reaches_a_useful_ssim():
    X = load_sample("train", image_size=32)
    X_test = load_sample("test", image_size=32)
    params = {**TINY_VQVAE, "hidden_channels": 32, "n_res_channels": 16}
    params.update(num_embeddings=64, embedding_dim=16, learning_rate=2e-3)
    params.update(batch_size=16, epochs=1)
    est = VQVAE2Estimator(**params).fit(X)
    before = est.score(X_test)
    est.set_params(warm_start=True, epochs=15).fit(X)
    after = est.score(X_test)
    assert len(est.history_["loss"]) == 16
    assert after > before + 0.2
    assert after > 0.45  # held-out subject, 32x32, ~15 s of CPU training


def test_a_black_background_is_reconstructed_exactly_black():
    # The loss reads the clipped image, so the decoder learns to push the
    # background below 0; trained on its unclipped output it left the background
    # scattered about 0, and only 0.46 of these pixels came out exactly black.
    X = make_slices(n=32)
    X = np.where(X > 0.25, X, 0).astype("float32")
    params = {**TINY_VQVAE, "hidden_channels": 16, "learning_rate": 3e-3}
    est = VQVAE2Estimator(**{**params, "epochs": 40}).fit(X)
    rebuilt = est.reconstruct(X)
    assert rebuilt.min() >= 0 and rebuilt.max() <= 1
    assert np.mean(rebuilt[X == 0] == 0) > 0.7


@pytest.mark.parametrize(
    ("n_slices", "batch_size", "learning_rate"),
    [(40, 4, 1e-3), (320, 10, 1e-3)],
)
def test_auto_sizes_the_batch_and_learning_rate_by_the_data(
    n_slices, batch_size, learning_rate, tmp_path
):
    params = {**TINY_VQVAE, "batch_size": "auto", "learning_rate": "auto"}
    est = VQVAE2Estimator(**params).fit(make_slices(n_slices))
    assert (est.batch_size_, est.learning_rate_) == (batch_size, learning_rate)
    assert est.get_params()["batch_size"] == "auto"  # the parameter stays as given
    optimizer_rate = float(est.model_.optimizer.learning_rate.numpy())
    assert optimizer_rate == pytest.approx(learning_rate)
    # one epoch of ceil(n / batch) steps
    assert int(est.model_.optimizer.iterations.numpy()) == -(-n_slices // batch_size)
    loaded = oasisgen.load(est.save(tmp_path / "est"))
    assert (loaded.batch_size_, loaded.learning_rate_) == (batch_size, learning_rate)


def test_auto_gives_the_large_data_settings_to_a_tf_dataset(slices):
    dataset = tf.data.Dataset.from_tensor_slices(slices).batch(4)
    params = {**TINY_VQVAE, "batch_size": "auto", "learning_rate": "auto"}
    est = VQVAE2Estimator(**params).fit(dataset)
    assert (est.batch_size_, est.learning_rate_) == (32, 3e-4)
    assert int(est.model_.optimizer.iterations.numpy()) == 3  # its own batches


def test_set_values_are_used_as_given(slices):
    est = VQVAE2Estimator(**{**TINY_VQVAE, "learning_rate": 5e-4}).fit(slices)
    assert (est.batch_size_, est.learning_rate_) == (8, 5e-4)
    assert VQVAE2Estimator().get_params()["learning_rate"] == "auto"


def test_uint8_and_3d_input_are_accepted(fitted, slices):
    as_uint8 = np.round(slices[..., 0] * 255).astype(np.uint8)
    np.testing.assert_allclose(
        fitted.reconstruct(as_uint8), fitted.reconstruct(as_uint8[..., None])
    )


def test_partial_fit_trains_one_more_epoch(slices):
    est = VQVAE2Estimator(**TINY_VQVAE)
    est.partial_fit(slices)
    est.partial_fit(slices)
    assert len(est.history_["loss"]) == 2


@pytest.mark.parametrize("warm_start", [False, True], ids=["cold", "warm"])
def test_warm_start_continues_the_history(slices, warm_start):
    est = VQVAE2Estimator(**{**TINY_VQVAE, "warm_start": warm_start}).fit(slices)
    model = est.model_
    est.fit(slices)
    assert len(est.history_["loss"]) == (2 if warm_start else 1)
    assert (est.model_ is model) == warm_start


def test_validation_fraction_adds_validation_figures(slices):
    est = VQVAE2Estimator(**{**TINY_VQVAE, "validation_fraction": 0.25}).fit(slices)
    assert {"val_loss", "val_ssim", "val_top_usage"} <= set(est.history_)


def test_validation_data_and_early_stopping(slices):
    params = {**TINY_VQVAE, "epochs": 3, "early_stopping": True, "n_iter_no_change": 1}
    est = VQVAE2Estimator(**params).fit(slices[:8], validation_data=slices[8:])
    assert 1 <= len(est.history_["val_loss"]) <= 3


def test_a_slice_dataset_is_streamed_and_split_by_subject(slices):
    subjects = np.repeat(["a", "b", "c", "d"], 3)
    dataset = SliceDataset.from_array(slices, subjects=subjects)
    params = {**TINY_VQVAE, "validation_fraction": 0.25}
    est = VQVAE2Estimator(**params).fit(dataset)
    assert "val_loss" in est.history_
    assert est.transform(dataset).shape == (12, 20)
    np.testing.assert_allclose(est.score(dataset), est.score(slices), atol=1e-5)


def test_a_folder_of_pngs_trains_like_its_images_in_memory(slices, tmp_path):
    from PIL import Image

    from oasisgen.datasets import load_images

    for i, image in enumerate(np.rint(slices[..., 0] * 255).astype(np.uint8)):
        Image.fromarray(image).save(tmp_path / f"case_{i // 3}_slice_{i % 3}.png")
    dataset = load_images(tmp_path)
    images = dataset.to_numpy()
    from_disk = VQVAE2Estimator(**TINY_VQVAE).fit(dataset)
    from_memory = VQVAE2Estimator(**TINY_VQVAE).fit(images)
    np.testing.assert_array_equal(
        from_disk.transform(dataset), from_disk.transform(images)
    )
    np.testing.assert_allclose(
        from_disk.history_["loss"], from_memory.history_["loss"], rtol=1e-5
    )


def test_a_tf_dataset_of_batches_is_accepted(slices):
    data = tf.data.Dataset.from_tensor_slices(slices).batch(4)
    est = VQVAE2Estimator(**TINY_VQVAE).fit(data)
    np.testing.assert_array_equal(est.transform(data), est.transform(slices))


def test_the_same_seed_gives_the_same_weights(slices):
    first = VQVAE2Estimator(**TINY_VQVAE).fit(slices)
    second = VQVAE2Estimator(**TINY_VQVAE).fit(slices)
    for a, b in zip(first.model_.weights, second.model_.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "model_")


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.zeros((4, 16)), r"shape \(n_samples, height, width\)"),
        (np.zeros((2, 16, 16, 16, 1)), r"got an array of shape \(2, 16, 16, 16, 1\)"),
        (np.zeros((4, 16, 16, 3)), "grayscale"),
        (np.zeros((4, 20, 20)), "divisible by 8"),
        (np.full((4, 16, 16), np.nan), "NaN or inf"),
        (np.zeros((0, 16, 16)), "at least 1 image"),
        (np.full((4, 16, 16), 2.0), r"values in \[0, 1\]"),
    ],
    ids=["2d", "5d", "rgb", "not-divisible", "nan", "empty", "out-of-range"],
)
def test_bad_images_are_rejected_by_fit(X, match):
    with pytest.raises(ValueError, match=match):
        VQVAE2Estimator(**TINY_VQVAE).fit(X)


def test_string_images_are_a_type_error():
    with pytest.raises(TypeError, match="numeric dtype"):
        VQVAE2Estimator(**TINY_VQVAE).fit(np.full((2, 16, 16), "a"))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"num_embeddings": 1}, "'num_embeddings' parameter .* Got 1"),
        ({"num_embeddings": (8,)}, r"\(top, bottom\) pair"),
        ({"num_embeddings": (8, 1)}, r"\(top, bottom\) pair"),
        ({"embedding_dim": 0}, "'embedding_dim' parameter"),
        ({"learning_rate": 0.0}, "'learning_rate' parameter"),
        ({"learning_rate": -1.0}, "'learning_rate' parameter"),
        ({"distribute": "gpu"}, "'distribute' parameter .*mirrored"),
        ({"validation_fraction": 1.0}, "'validation_fraction' parameter"),
        ({"top_reconstruction_weight": -1.0}, "'top_reconstruction_weight' param"),
        ({"gradient_loss_weight": -1.0}, "'gradient_loss_weight' param"),
        ({"bottom_code_noise": 1.0}, r"'bottom_code_noise' parameter .*\[0.0, 1.0\)"),
        ({"adversarial_loss_weight": -0.1}, "'adversarial_loss_weight' param"),
        ({"learning_rate": "fast"}, "'learning_rate' parameter .*'auto'.* Got 'fast'"),
        ({"batch_size": "big"}, "'batch_size' parameter .*'auto'.* Got 'big'"),
        ({"batch_size": 0}, "'batch_size' parameter"),
    ],
    ids=[
        "one-code",
        "short-pair",
        "pair-with-one",
        "no-dim",
        "zero-lr",
        "negative-lr",
        "unknown-distribute",
        "all-validation",
        "negative-top-weight",
        "negative-gradient-weight",
        "all-code-noise",
        "negative-adversarial-weight",
        "word-lr",
        "word-batch",
        "zero-batch",
    ],
)
def test_invalid_parameters_are_named_in_the_error(slices, params, match):
    with pytest.raises(ValueError, match=match):
        VQVAE2Estimator(**{**TINY_VQVAE, **params}).fit(slices)


@pytest.mark.parametrize("method", ["transform", "encode", "reconstruct", "score"])
def test_methods_before_fit_raise_not_fitted(slices, method):
    with pytest.raises(NotFittedError):
        getattr(VQVAE2Estimator(), method)(slices)


def test_inverse_transform_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError):
        VQVAE2Estimator().inverse_transform(np.zeros((1, 20), dtype=int))


def test_images_of_another_size_than_fitted_are_rejected(fitted):
    with pytest.raises(ValueError, match="expected images of 16x16 pixels.*got 32x32"):
        fitted.transform(make_slices(2, size=32))


@pytest.mark.parametrize(
    ("codes", "error", "match"),
    [
        (np.zeros((2, 19), dtype=int), ValueError, r"shape \(n_samples, 20\)"),
        (np.zeros(20, dtype=int), ValueError, r"shape \(n_samples, 20\)"),
        (np.full((2, 20), 16), ValueError, r"codes in \[0, 16\)"),
        (np.full((2, 20), -1), ValueError, r"codes in \[0, 16\)"),
        (np.full((2, 20), 0.5), TypeError, "integer"),
    ],
    ids=["short-row", "1d", "too-large", "negative", "fractional"],
)
def test_bad_codes_are_rejected_by_inverse_transform(fitted, codes, error, match):
    with pytest.raises(error, match=match):
        fitted.inverse_transform(codes)


def test_decode_rejects_maps_of_the_wrong_grid(fitted):
    top, bottom = np.zeros((2, 2, 2), int), np.zeros((2, 4, 4), int)
    with pytest.raises(
        ValueError, match=r"bottom codes as integer maps of shape \(n_samples, 4, 4\)"
    ):
        fitted.decode(top, bottom[:, :2])
    with pytest.raises(ValueError, match="one of each per image"):
        fitted.decode(top, bottom[:1])


def test_a_tf_dataset_without_static_image_size_is_rejected():
    data = tf.data.Dataset.from_generator(
        lambda: iter([np.zeros((2, 16, 16, 1), "float32")]),
        output_signature=tf.TensorSpec((None, None, None, 1), tf.float32),
    )
    with pytest.raises(ValueError, match="tf.data.Dataset of image batches"):
        VQVAE2Estimator(**TINY_VQVAE).fit(data)


def test_a_tf_dataset_of_unbatched_images_is_rejected():
    data = tf.data.Dataset.from_tensor_slices(np.zeros((4, 16, 16, 1), "float32"))
    with pytest.raises(ValueError, match="got a tf.data.Dataset of 16x1 images"):
        VQVAE2Estimator(**TINY_VQVAE).fit(data)


def test_a_diverging_fit_stops_and_keeps_finite_weights(slices):
    params = {**TINY_VQVAE, "learning_rate": 1e12, "epochs": 3}
    est = VQVAE2Estimator(**params)
    with pytest.raises(FloatingPointError, match="NaN or inf at epoch 1, batch"):
        est.fit(slices)
    assert all(np.isfinite(w).all() for w in est.model_.get_weights())
    assert all(np.isfinite(v).all() for v in est.history_.values())


def test_training_compiles_with_xla(slices):
    est = VQVAE2Estimator(**{**TINY_VQVAE, "jit_compile": True}).fit(slices)
    assert len(est.history_["loss"]) == 1 and np.isfinite(est.history_["loss"][0])
    assert est.transform(slices).shape == (len(slices), 20)


def test_the_global_seed_is_set_for_new_and_resumed_models_not_warm_starts(
    slices, tmp_path, monkeypatch
):
    # setting it clears TensorFlow's caches: a warm start would trace again
    calls = []
    monkeypatch.setattr("keras.utils.set_random_seed", calls.append)
    params = {**TINY_VQVAE, "checkpoint_dir": tmp_path, "warm_start": True}
    est = VQVAE2Estimator(**params).fit(slices)
    est.set_params(epochs=2).fit(slices)
    VQVAE2Estimator(**{**params, "epochs": 3}).fit(slices)  # from the checkpoint
    assert calls == [0, 0]


def test_partial_fit_seeds_new_and_resumed_models_not_the_next_epochs(
    slices, tmp_path, monkeypatch
):
    calls = []
    monkeypatch.setattr("keras.utils.set_random_seed", calls.append)
    params = {**TINY_VQVAE, "checkpoint_dir": tmp_path, "warm_start": True}
    est = VQVAE2Estimator(**params).partial_fit(slices)  # a new model: seeded
    est.partial_fit(slices)  # the model in memory: not seeded
    resumed = VQVAE2Estimator(**params).partial_fit(slices)  # from the checkpoint
    assert calls == [0, 0]
    assert len(resumed.history_["loss"]) == 3
