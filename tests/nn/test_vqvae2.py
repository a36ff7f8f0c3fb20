import keras
import numpy as np
import pytest
import tensorflow as tf

from oasisgen.nn import VQVAE2

TINY = dict(embedding_dim=4, hidden_channels=8, n_res_blocks=1, n_res_channels=4)


def make_images(n=4, height=32, width=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, height, width, 1)).astype("float32")


@pytest.mark.parametrize(
    ("height", "width"), [(16, 16), (32, 32), (32, 48)], ids=["16", "32", "32x48"]
)
@pytest.mark.parametrize("bottom_stride", [4, 2])
def test_code_maps_are_one_eighth_and_a_bottom_stride_of_the_image(
    height, width, bottom_stride
):
    model = VQVAE2(num_embeddings=(8, 16), bottom_stride=bottom_stride, seed=0, **TINY)
    top, bottom = model.encode(make_images(2, height, width))
    assert top.shape == (2, height // 8, width // 8)
    assert bottom.shape == (2, height // bottom_stride, width // bottom_stride)
    assert int(tf.reduce_max(top)) < 8 and int(tf.reduce_max(bottom)) < 16
    assert model.decode(top, bottom).shape == (2, height, width, 1)


def test_decoding_the_codes_gives_the_clipped_reconstruction():
    model = VQVAE2(num_embeddings=16, seed=0, **TINY)
    images = make_images()
    reconstruction = np.clip(model(images, training=False), 0, 1)
    decoded = model.decode(*model.encode(images))
    np.testing.assert_allclose(decoded, reconstruction, atol=1e-5)


def test_the_loss_adds_both_commitment_losses():
    model = VQVAE2(num_embeddings=16, commitment_cost=0.5, seed=0, **TINY)
    model(make_images(), training=False)
    assert len(model.losses) == 2
    assert all(float(loss) >= 0 for loss in model.losses)


def test_training_steps_reduce_the_loss_and_track_every_figure():
    keras.utils.set_random_seed(0)
    model = VQVAE2(num_embeddings=16, seed=0, **TINY)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    # smooth structured images: a bright disc of varying size on black
    yy, xx = np.mgrid[:32, :32]
    radii = np.linspace(5, 14, 16)
    images = np.stack([((yy - 16) ** 2 + (xx - 16) ** 2 < r**2) for r in radii])
    images = images[..., None].astype("float32")
    history = model.fit(
        images, batch_size=8, epochs=8, verbose=0, validation_data=(images[:4],)
    ).history
    assert history["loss"][-1] < 0.75 * history["loss"][0]
    for level in ("top", "bottom"):
        assert 0 < history[f"{level}_usage"][-1] <= 1
        assert history[f"{level}_perplexity"][-1] >= 1
        assert f"val_{level}_perplexity" in history
    assert set(history) >= {
        "reconstruction_loss",
        "commitment_loss",
        "ssim",
        "val_ssim",
    }


@pytest.mark.parametrize("bottom_stride", [3, 8, 1])
def test_a_bottom_stride_other_than_4_or_2_is_refused(bottom_stride):
    with pytest.raises(ValueError, match=f"one of \\(4, 2\\); got {bottom_stride}"):
        VQVAE2(bottom_stride=bottom_stride, **TINY)


def test_get_config_holds_the_constructor_arguments():
    model = VQVAE2(num_embeddings=(8, 16), bottom_stride=2, seed=3, **TINY)
    config = model.get_config()
    again = VQVAE2.from_config(config)
    assert again.num_embeddings == (8, 16) and again.bottom_stride == 2
    for name, value in TINY.items():
        assert config[name] == value
    assert config["seed"] == 3


@pytest.mark.parametrize(
    "name",
    ["top_reconstruction_weight", "gradient_loss_weight", "adversarial_loss_weight"],
)
@pytest.mark.parametrize("weight", [-0.5, float("nan"), "heavy"])
def test_a_negative_or_unreadable_loss_weight_is_refused(name, weight):
    with pytest.raises((ValueError, TypeError), match=name):
        VQVAE2(**{name: weight}, **TINY)


def test_the_loss_adds_the_weighted_gradient_difference():
    weight = 3.0
    model = VQVAE2(num_embeddings=16, gradient_loss_weight=weight, seed=0, **TINY)
    model.compile(optimizer="adam")
    images = make_images(4)
    reconstruction = np.asarray(model._forward(images, training=False).reconstruction)
    expected = sum(
        np.mean(
            (
                np.abs(np.diff(images, axis=axis))
                - np.abs(np.diff(reconstruction, axis=axis))
            )
            ** 2
        )
        for axis in (1, 2)
    )
    logs = model.evaluate(images, batch_size=4, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["gradient_loss"], expected, rtol=1e-4)
    np.testing.assert_allclose(
        logs["loss"],
        logs["reconstruction_loss"] + logs["commitment_loss"] + weight * expected,
        rtol=1e-4,
    )
    assert VQVAE2.from_config(model.get_config()).gradient_loss_weight == weight


def test_without_a_gradient_loss_weight_it_is_not_computed():
    model = VQVAE2(num_embeddings=16, seed=0, **TINY)
    model.build((None, 32, 32, 1))
    assert "gradient_loss" not in [m.name for m in model.metrics]


def test_without_a_top_reconstruction_weight_there_is_no_coarse_image():
    model = VQVAE2(num_embeddings=16, seed=0, **TINY)
    model.build((None, 32, 32, 1))
    assert model._forward(make_images(), training=False).coarse_reconstruction is None
    assert not any("top_reconstruction" in w.path for w in model.weights)
    assert "top_reconstruction_loss" not in [m.name for m in model.metrics]


@pytest.mark.parametrize("bottom_stride", [4, 2])
def test_the_loss_adds_the_weighted_error_of_the_coarse_image(bottom_stride):
    weight = 2.5
    model = VQVAE2(
        num_embeddings=16,
        bottom_stride=bottom_stride,
        top_reconstruction_weight=weight,
        seed=0,
        **TINY,
    )
    model.compile(optimizer="adam")
    images = make_images(4)
    forward = model._forward(images, training=False)
    side = 32 // bottom_stride
    assert forward.coarse_reconstruction.shape == (4, side, side, 1)
    # the coarse target: the image averaged over bottom_stride x bottom_stride blocks
    blocks = images.reshape(4, side, bottom_stride, side, bottom_stride, 1)
    expected = np.mean((blocks.mean(axis=(2, 4)) - forward.coarse_reconstruction) ** 2)
    logs = model.evaluate(images, batch_size=4, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["top_reconstruction_loss"], expected, rtol=1e-4)
    np.testing.assert_allclose(
        logs["loss"],
        logs["reconstruction_loss"] + logs["commitment_loss"] + weight * expected,
        rtol=1e-4,
    )


def test_training_with_a_top_reconstruction_weight_teaches_the_top_codes_the_layout():
    keras.utils.set_random_seed(0)
    model = VQVAE2(num_embeddings=16, top_reconstruction_weight=1.0, seed=0, **TINY)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    yy, xx = np.mgrid[:32, :32]
    radii = np.linspace(5, 14, 16)
    images = np.stack([((yy - 16) ** 2 + (xx - 16) ** 2 < r**2) for r in radii])
    images = images[..., None].astype("float32")
    history = model.fit(images, batch_size=8, epochs=8, verbose=0).history
    coarse = history["top_reconstruction_loss"]
    assert coarse[-1] < 0.5 * coarse[0]


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_code_noise_swaps_about_its_share_of_the_bottom_codes(rate):
    model = VQVAE2(num_embeddings=(8, 64), bottom_code_noise=rate, seed=0, **TINY)
    model.build((None, 64, 64, 1))
    codes = tf.zeros((16, 16, 16), dtype="int32")  # 4096 codes, all code 0
    quantized = model.bottom_quantizer.lookup(codes)
    noisy = np.asarray(model._with_code_noise(quantized, codes))
    changed = np.any(noisy != np.asarray(quantized), axis=-1)
    # a swap to code 0 itself (1 in 64) leaves the vector as it was
    assert abs(changed.mean() - rate * 63 / 64) < 0.03
    vectors = np.asarray(model.bottom_quantizer.lookup(tf.range(64)))
    swapped = noisy[changed]
    assert np.all(np.isclose(swapped[:, None], vectors[None]).all(-1).any(-1))


def test_code_noise_acts_in_training_only():
    images = make_images()
    plain = VQVAE2(num_embeddings=16, seed=0, **TINY)
    noisy = VQVAE2(num_embeddings=16, bottom_code_noise=0.5, seed=0, **TINY)
    for model in (plain, noisy):
        model.build(images.shape)
    noisy.set_weights(plain.get_weights())
    np.testing.assert_array_equal(noisy(images), plain(images))
    trained = noisy._forward(images, training=True).reconstruction
    assert not np.allclose(
        trained, plain._forward(images, training=True).reconstruction
    )
    assert VQVAE2.from_config(noisy.get_config()).bottom_code_noise == 0.5


@pytest.mark.parametrize(
    ("rate", "error"),
    [(-0.1, ValueError), (1.0, ValueError), (float("nan"), ValueError)]
    + [("some", TypeError), (True, TypeError)],
)
def test_a_code_noise_outside_0_1_is_refused(rate, error):
    with pytest.raises(error, match=r"bottom_code_noise must be a number in \[0, 1\)"):
        VQVAE2(bottom_code_noise=rate, **TINY)


def test_the_adversarial_losses_are_the_hinge_losses_of_the_discriminator():
    weight = 0.5
    model = VQVAE2(num_embeddings=16, adversarial_loss_weight=weight, seed=0, **TINY)
    model.compile(optimizer="adam")
    images = make_images(4)
    reconstruction = model._forward(images, training=False).reconstruction
    real = np.asarray(model.discriminator(images))
    fake = np.asarray(model.discriminator(reconstruction))
    logs = model.evaluate(images, batch_size=4, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["adversarial_loss"], -fake.mean(), rtol=1e-4)
    hinge = np.maximum(0, 1 - real).mean() + np.maximum(0, 1 + fake).mean()
    np.testing.assert_allclose(logs["discriminator_loss"], hinge, rtol=1e-4)
    np.testing.assert_allclose(
        logs["loss"],
        logs["reconstruction_loss"] + logs["commitment_loss"] - weight * fake.mean(),
        rtol=1e-4,
        atol=1e-7,
    )
    again = VQVAE2.from_config(model.get_config())
    assert again.adversarial_loss_weight == weight


def test_the_adversarial_loss_moves_the_decoder():
    images = make_images(4, 16, 16)
    models = [
        VQVAE2(num_embeddings=16, adversarial_loss_weight=w, seed=0, **TINY)
        for w in (0.0, 1.0)
    ]
    for model in models:
        # eager: two steps of a tiny model, not worth tracing
        model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
        model.fit(images, batch_size=2, epochs=1, verbose=0, shuffle=False)
    # the same start and batches: only the adversarial term tells them apart
    plain, pushed = (np.asarray(m(images, training=False)) for m in models)
    assert not np.allclose(plain, pushed, atol=1e-3)
    # and the discriminator learnt beside the model
    untrained = VQVAE2(num_embeddings=16, adversarial_loss_weight=1.0, seed=0, **TINY)
    untrained.build(images.shape)
    before = untrained.discriminator.get_weights()[0]
    assert not np.allclose(before, models[1].discriminator.get_weights()[0])


def test_without_an_adversarial_loss_weight_there_is_no_discriminator():
    model = VQVAE2(num_embeddings=16, seed=0, **TINY)
    model.build((None, 32, 32, 1))
    assert model.discriminator is None
    assert not any("discriminator" in w.path for w in model.weights)
    names = [m.name for m in model.metrics]
    assert "adversarial_loss" not in names and "discriminator_loss" not in names
