"""oasisgen/nn/blocks.py: the residual stack, the encoders and the decoders."""

import keras
import numpy as np
import pytest

from oasisgen.nn import ResidualStack, decoder, encoder


def make_inputs(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# ------------------------------------------------------------------ ResidualStack
@pytest.mark.parametrize(
    "shape, n_res_blocks, n_res_channels",
    [((2, 5, 5, 8), 1, 4), ((1, 4, 6, 3), 2, 7), ((3, 1, 1, 2), 3, 1)],
    ids=["square", "wide-inner", "one-pixel"],
)
def test_the_stack_keeps_shape_and_channels(shape, n_res_blocks, n_res_channels):
    stack = ResidualStack(shape[-1], n_res_blocks, n_res_channels, seed=0)
    outputs = keras.ops.convert_to_numpy(stack(make_inputs(shape)))
    assert outputs.shape == shape
    assert stack.compute_output_shape(shape) == shape
    assert np.all(outputs >= 0)  # the stack ends in a ReLU
    assert np.any(outputs > 0)


@pytest.mark.parametrize("n_res_blocks", [0, 1, 3])
def test_each_block_adds_its_1x1_convolution_to_the_input(n_res_blocks):
    # With zero kernels every block adds the bias of its 1x1 convolution:
    # relu(x + n_res_blocks * bias).
    shape = (2, 4, 4, 3)
    stack = ResidualStack(3, n_res_blocks, 2, seed=0)
    stack.build(shape)
    bias = np.array([0.5, -1.0, 2.0], dtype="float32")
    for conv3, conv1 in stack.blocks:
        conv3.set_weights([np.zeros_like(w) for w in conv3.get_weights()])
        conv1.set_weights([np.zeros((1, 1, 2, 3), "float32"), bias])
    x = make_inputs(shape)
    expected = np.maximum(x + n_res_blocks * bias, 0)
    np.testing.assert_allclose(stack(x), expected, atol=1e-6)


def test_a_block_is_relu_3x3_relu_1x1_on_the_input():
    # One block whose 3x3 convolution is the identity (centre tap) and whose 1x1
    # convolution doubles: relu(x + 2 * relu(relu(x))) = relu(x + 2 relu(x)).
    stack = ResidualStack(2, 1, 2, seed=0)
    stack.build((1, 3, 3, 2))
    (conv3, conv1) = stack.blocks[0]
    kernel3 = np.zeros((3, 3, 2, 2), "float32")
    kernel3[1, 1] = np.eye(2)
    conv3.set_weights([kernel3, np.zeros(2, "float32")])
    conv1.set_weights(
        [2 * np.eye(2, dtype="float32")[None, None], np.zeros(2, "float32")]
    )
    x = make_inputs((1, 3, 3, 2), seed=1)
    np.testing.assert_allclose(stack(x), np.maximum(x + 2 * np.maximum(x, 0), 0))


def test_the_seed_fixes_the_initial_weights():
    def initial(seed):
        stack = ResidualStack(4, 2, 3, seed=seed)
        stack.build((1, 4, 4, 4))
        return np.concatenate([w.ravel() for w in stack.get_weights()])

    np.testing.assert_array_equal(initial(7), initial(7))
    assert not np.allclose(initial(7), initial(8))


def test_the_config_holds_the_constructor_arguments():
    stack = ResidualStack(channels=6, n_res_blocks=2, n_res_channels=3, seed=4)
    config = stack.get_config()
    assert {k: config[k] for k in ("channels", "n_res_blocks", "n_res_channels")} == {
        "channels": 6,
        "n_res_blocks": 2,
        "n_res_channels": 3,
    }
    assert config["seed"] == 4
    assert ResidualStack.from_config(config).get_config() == config


# ------------------------------------------------------------------------ encoder
@pytest.mark.parametrize("downsample", [2, 4])
@pytest.mark.parametrize("size", [(8, 8), (16, 8)], ids=["8x8", "16x8"])
def test_the_encoder_divides_height_and_width(downsample, size):
    enc = encoder(8, downsample, 1, 4, name="enc", seed=0)
    outputs = enc(make_inputs((2, *size, 1)))
    h, w = size
    assert tuple(outputs.shape) == (2, h // downsample, w // downsample, 8)
    assert np.all(keras.ops.convert_to_numpy(outputs) >= 0)  # a ResidualStack ends it
    assert enc.name == "enc"


@pytest.mark.parametrize(
    "downsample, filters", [(2, [8]), (4, [8, 16])], ids=["by-2", "by-4"]
)
def test_the_encoder_halves_with_strided_4x4_convolutions(downsample, filters):
    enc = encoder(16, downsample, 1, 4, name="enc")
    strided = [layer for layer in enc.layers if getattr(layer, "strides", None)]
    strided = [layer for layer in strided if layer.strides == (2, 2)]
    assert [layer.filters for layer in strided] == filters
    assert all(layer.kernel_size == (4, 4) for layer in strided)
    # half the channels first; a 3x3 convolution to all of them, then the stack
    last_conv = enc.layers[len(strided)]
    assert (last_conv.filters, last_conv.kernel_size, last_conv.strides) == (
        16,
        (3, 3),
        (1, 1),
    )
    assert isinstance(enc.layers[-1], ResidualStack)


@pytest.mark.parametrize("downsample", [1, 3, 8, "4"])
def test_the_encoder_refuses_other_strides(downsample):
    with pytest.raises(
        ValueError, match=f"downsample must be 2 or 4; got {downsample!r}"
    ):
        encoder(8, downsample, 1, 4, name="enc")


# ------------------------------------------------------------------------ decoder
@pytest.mark.parametrize("upsample", [2, 4])
@pytest.mark.parametrize("out_channels", [1, 3])
def test_the_decoder_multiplies_height_and_width(upsample, out_channels):
    dec = decoder(8, out_channels, upsample, 1, 4, name="dec", seed=0)
    outputs = dec(make_inputs((2, 3, 5, 4)))
    assert tuple(outputs.shape) == (2, 3 * upsample, 5 * upsample, out_channels)
    assert dec.name == "dec"


@pytest.mark.parametrize(
    "upsample, filters", [(2, [1]), (4, [8, 1])], ids=["by-2", "by-4"]
)
def test_the_decoder_doubles_with_strided_4x4_transposed_convolutions(
    upsample, filters
):
    dec = decoder(16, 1, upsample, 1, 4, name="dec")
    transposed = [
        layer for layer in dec.layers if isinstance(layer, keras.layers.Conv2DTranspose)
    ]
    assert [layer.filters for layer in transposed] == filters
    assert all(layer.strides == (2, 2) for layer in transposed)
    assert all(layer.kernel_size == (4, 4) for layer in transposed)
    # the output is linear: a reconstruction or code vectors, not a ReLU's
    assert transposed[-1].activation is keras.activations.linear
    assert isinstance(dec.layers[1], ResidualStack)


@pytest.mark.parametrize("upsample", [0, 3, 8])
def test_the_decoder_refuses_other_factors(upsample):
    with pytest.raises(ValueError, match=f"upsample must be 2 or 4; got {upsample!r}"):
        decoder(8, 1, upsample, 1, 4, name="dec")


@pytest.mark.parametrize("factor", [2, 4])
def test_a_decoder_undoes_the_shape_of_an_encoder(factor):
    x = make_inputs((1, 16, 8, 1))
    codes = encoder(8, factor, 1, 4, name="enc", seed=0)(x)
    assert tuple(decoder(8, 1, factor, 1, 4, name="dec", seed=0)(codes).shape) == (
        x.shape
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda seed: encoder(8, 2, 1, 4, name="net", seed=seed),
        lambda seed: decoder(8, 2, 2, 1, 4, name="net", seed=seed),
    ],
    ids=["encoder", "decoder"],
)
def test_the_seed_fixes_the_weights_of_the_whole_model(build):
    def weights(seed):
        net = build(seed)
        net.build((None, 8, 8, 2))
        return np.concatenate([w.ravel() for w in net.get_weights()])

    np.testing.assert_array_equal(weights(3), weights(3))
    assert not np.allclose(weights(3), weights(4))
