"""Causal self-attention in a GatedPixelCNN: causality, reach, sampling, saving."""

import keras
import numpy as np
import pytest

from oasisgen.nn.attention import CausalSelfAttention
from oasisgen.nn.pixelcnn import GatedPixelCNN
from oasisgen.nn.sampling import sample_codes

from .test_pixelcnn import (
    ALL_POSITIONS,
    HEIGHT,
    WIDTH,
    K,
    _codes,
    _logits_at,
    _one_change_per_map,
)


def _model(attention_layers=1, n_layers=2, kernel_size=3, **kwargs):
    """A tiny prior whose attention layers are not the identity they start as."""
    keras.utils.set_random_seed(0)
    model = GatedPixelCNN(
        K,
        n_layers=n_layers,
        hidden_channels=8,
        kernel_size=kernel_size,
        attention_layers=attention_layers,
        seed=0,
        **kwargs,
    )
    model.build(None)
    rng = np.random.default_rng(1)
    for block in model.attention_blocks:
        kernel = block.projection.kernel
        kernel.assign(0.3 * rng.normal(size=kernel.shape).astype("float32"))
    return model


@pytest.mark.parametrize("target", [(0, 0), (0, 6), (2, 0), (3, 4), (5, 6)])
def test_attention_keeps_the_logits_causal(target):
    model = _model(attention_layers=2)
    codes = _codes()[0]
    later = [p for p in ALL_POSITIONS if p >= target]
    logits = _logits_at(model, _one_change_per_map(codes, later), target)
    np.testing.assert_allclose(
        logits[1:], np.broadcast_to(logits[0], logits[1:].shape), atol=1e-5
    )


@pytest.mark.parametrize(("attention_layers", "reaches"), [(0, False), (1, True)])
def test_attention_reaches_codes_the_convolutions_do_not(attention_layers, reaches):
    # Two gated layers of kernel 3 see three rows up at most; the first code is
    # five rows above the last one, and only attention carries it there.
    model = _model(attention_layers=attention_layers)
    target = (HEIGHT - 1, WIDTH - 1)
    logits = _logits_at(model, _one_change_per_map(_codes()[0], [(0, 0)]), target)
    assert (np.abs(logits[1] - logits[0]).max() > 1e-5) == reaches


def test_a_new_attention_layer_is_the_identity_and_keeps_the_other_weights():
    codes = _codes(2)
    plain = GatedPixelCNN(K, n_layers=2, hidden_channels=8, seed=0)
    seeing = GatedPixelCNN(K, n_layers=2, hidden_channels=8, seed=0, attention_layers=2)
    np.testing.assert_allclose(seeing(codes), plain(codes), atol=1e-6)


@pytest.mark.parametrize(
    ("n_layers", "count", "after"),
    [(8, 0, ()), (8, 1, (4,)), (8, 2, (2, 5)), (3, 3, (0, 1, 2)), (12, 3, (3, 6, 9))],
)
def test_attention_layers_are_spread_evenly_among_the_gated_layers(
    n_layers, count, after
):
    model = GatedPixelCNN(K, n_layers=n_layers, attention_layers=count)
    assert model.attention_after == after
    assert len(model.attention_blocks) == count


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"mirror_context": True},
        {"global_condition_dim": 1, "condition_channels": 4},
        {"condition_num_embeddings": 4, "condition_upsample": 2},
    ],
    ids=["plain", "mirror context", "global condition", "condition map"],
)
def test_fast_and_naive_draw_identical_samples_with_attention(kwargs):
    model = _model(attention_layers=2, n_layers=3, **kwargs)
    # logits sharp enough to decide most codes, not all
    model.head_logits.kernel.assign(model.head_logits.kernel * 30.0)
    model.head_logits.bias.assign(np.random.default_rng(0).normal(size=K))
    draw = {"seed": 7, "temperature": 2.0}
    if "global_condition_dim" in kwargs:
        draw["global_condition"] = np.array([[0.1], [0.5], [0.9]], "float32")
    if "condition_num_embeddings" in kwargs:
        draw["condition"] = np.random.default_rng(2).integers(0, 4, size=(3, 3, 4))
    fast = sample_codes(model, 3, (6, 8), **draw)
    naive = sample_codes(model, 3, (6, 8), method="naive", **draw)
    np.testing.assert_array_equal(fast, naive)
    assert len(np.unique(fast)) >= 3, "too few codes for the comparison to tell"


def test_step_gives_what_call_gives_at_each_position():
    layer = CausalSelfAttention(channels=8, heads=2, seed=0)
    layer.build(None)
    kernel = layer.projection.kernel
    kernel.assign(np.random.default_rng(1).normal(size=kernel.shape))
    h = np.random.default_rng(0).normal(size=(2, 3, 4, 8)).astype("float32")
    whole = np.asarray(layer(h))
    keys = values = np.zeros((2, 2, 12, 4), "float32")
    for index in range(12):
        i, j = divmod(index, 4)
        out, keys, values = layer.step(
            h[:, i : i + 1, j : j + 1], keys, values, index, 4
        )
        np.testing.assert_allclose(out[:, 0, 0], whole[:, i, j], atol=1e-5)


def test_config_and_keras_file_round_trip(tmp_path):
    model = _model(attention_layers=2, n_layers=3, attention_heads=2)
    config = model.get_config()
    assert (config["attention_layers"], config["attention_heads"]) == (2, 2)
    assert GatedPixelCNN.from_config(config).get_config() == config
    codes = _codes(2)
    model.save(tmp_path / "prior.keras")
    loaded = keras.saving.load_model(tmp_path / "prior.keras", safe_mode=True)
    np.testing.assert_allclose(loaded(codes), model(codes), atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"n_layers": 2, "attention_layers": 3},
            "attention_layers must be an int from 0 to n_layers.*got 3 with n_layers=2",
        ),
        ({"attention_layers": -1}, "attention_layers must be an int from 0"),
        ({"attention_heads": 0}, "attention_heads must be an int >= 1; got 0"),
    ],
    ids=["more than the gated layers", "negative", "no head"],
)
def test_bad_attention_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GatedPixelCNN(K, **kwargs)


def test_an_attention_layer_without_heads_is_refused():
    with pytest.raises(ValueError, match="heads must be an int >= 1; got 0"):
        CausalSelfAttention(channels=8, heads=0)
