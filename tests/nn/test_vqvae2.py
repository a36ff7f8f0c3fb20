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
