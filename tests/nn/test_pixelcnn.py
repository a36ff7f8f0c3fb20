"""GatedPixelCNN: shapes, causality without blind spot, training, persistence."""

import keras
import numpy as np
import pytest

from oasisgen.nn.pixelcnn import GatedLayer, GatedPixelCNN

K = 6
HEIGHT, WIDTH = 6, 7


def _model(conditional=False, **kwargs):
    keras.utils.set_random_seed(0)
    params = dict(num_embeddings=K, n_layers=3, hidden_channels=8, kernel_size=5)
    if conditional:
        params.update(condition_num_embeddings=4, condition_channels=4)
    params.update(kwargs)
    return GatedPixelCNN(**params)


def _codes(n=2, shape=(HEIGHT, WIDTH), seed=0):
    return np.random.default_rng(seed).integers(0, K, size=(n, *shape), dtype="int32")


def _logits_at(model, maps, position, condition=None):
    """Logits at ``position`` of every map in ``maps``, one batch."""
    maps = np.asarray(maps, dtype="int32")
    inputs = maps if condition is None else (maps, np.repeat(condition, len(maps), 0))
    return np.asarray(model(inputs, training=False))[:, position[0], position[1]]


def _one_change_per_map(codes, positions):
    """The map itself, then one copy per position with that code changed."""
    maps = [codes]
    for i, j in positions:
        changed = codes.copy()
        changed[i, j] = (changed[i, j] + 1) % K
        maps.append(changed)
    return np.stack(maps)


ALL_POSITIONS = [(i, j) for i in range(HEIGHT) for j in range(WIDTH)]
TARGETS = {
    "first": (0, 0),
    "end of first row": (0, WIDTH - 1),
    "start of a row": (3, 0),
    "middle": (3, 3),
    "near the right edge": (2, WIDTH - 2),
    "last": (HEIGHT - 1, WIDTH - 1),
}


@pytest.mark.parametrize("conditional", [False, True], ids=["plain", "conditional"])
def test_logits_shape(conditional):
    model = _model(conditional)
    codes = _codes(3, (4, 6))
    inputs = (codes, np.zeros((3, 2, 3), "int32")) if conditional else codes
    assert tuple(model(inputs).shape) == (3, 4, 6, K)


@pytest.mark.parametrize("kernel_size", [3, 5], ids=["k3", "k5"])
@pytest.mark.parametrize("target", list(TARGETS.values()), ids=list(TARGETS))
def test_logits_ignore_the_current_and_later_positions(target, kernel_size):
    model = _model(kernel_size=kernel_size)
    later = [p for p in ALL_POSITIONS if p >= target]
    codes = _codes(1)[0]
    changed_together = codes.copy()
    rows, cols = zip(*later, strict=True)
    changed_together[rows, cols] = (codes[rows, cols] + 1) % K
    maps = np.concatenate([_one_change_per_map(codes, later), changed_together[None]])
    logits = _logits_at(model, maps, target)
    np.testing.assert_allclose(
        logits[1:], np.broadcast_to(logits[0], logits[1:].shape), atol=1e-6
    )


@pytest.mark.parametrize("target", list(TARGETS.values())[1:], ids=list(TARGETS)[1:])
def test_logits_depend_on_every_earlier_position(target):
    model = _model(n_layers=3, kernel_size=5)
    earlier = [p for p in ALL_POSITIONS if p < target]
    logits = _logits_at(model, _one_change_per_map(_codes(1)[0], earlier), target)
    changes = np.abs(logits[1:] - logits[0]).max(axis=1)
    blind = [p for p, change in zip(earlier, changes, strict=True) if change <= 1e-6]
    assert not blind, f"logits at {target} ignore earlier positions {blind}"


BLIND_SPOT = {
    "up-right (i-1, j+2)": (-1, 2),
    "up-right (i-1, j+3)": (-1, 3),
    "far up-right (i-1, j+4)": (-1, 4),
    "two rows up, far right (i-2, j+5)": (-2, 5),
}


@pytest.mark.parametrize("offset", list(BLIND_SPOT.values()), ids=list(BLIND_SPOT))
def test_no_blind_spot_up_and_to_the_right(offset):
    # Stacked masked 5x5 convolutions never see (i-1, j+3) and beyond.
    model = _model(n_layers=2, kernel_size=5)
    target = (3, 1)
    source = (target[0] + offset[0], target[1] + offset[1])
    logits = _logits_at(model, _one_change_per_map(_codes(1)[0], [source]), target)
    assert np.abs(logits[1] - logits[0]).max() > 1e-6


def test_conditional_model_is_causal_and_sees_the_whole_condition():
    model = _model(True, condition_upsample=2)
    codes = _codes(1, (6, 8))[0]
    condition = np.random.default_rng(1).integers(0, 4, size=(1, 3, 4))
    target = (2, 3)
    later = [(i, j) for i in range(6) for j in range(8) if (i, j) >= target]
    logits = _logits_at(model, _one_change_per_map(codes, later), target, condition)
    np.testing.assert_allclose(
        logits[1:], np.broadcast_to(logits[0], logits[1:].shape), atol=1e-6
    )
    # The condition below and to the right of the first position reaches it.
    other = condition.copy()
    other[0, 1, 1] = (other[0, 1, 1] + 1) % 4
    first = [_logits_at(model, codes[None], (0, 0), c) for c in (condition, other)]
    assert np.abs(first[1] - first[0]).max() > 1e-6


@pytest.mark.parametrize(("condition_layers", "reaches"), [(1, False), (3, True)])
def test_condition_layers_widen_what_a_position_sees_of_the_condition(
    condition_layers, reaches
):
    # On the codes' own grid, the condition network sees one condition code
    # further per 3x3 convolution: 1 + condition_layers on every side. Changed
    # below and to the right, the condition reaches (0, 0) through it alone.
    model = _model(True, condition_upsample=1, condition_layers=condition_layers)
    codes = _codes(1)
    condition = np.random.default_rng(1).integers(0, 4, size=(1, HEIGHT, WIDTH))
    other = condition.copy()
    other[0, 3, 3] = (other[0, 3, 3] + 1) % 4
    first = [_logits_at(model, codes, (0, 0), c) for c in (condition, other)]
    assert (np.abs(first[1] - first[0]).max() > 1e-6) == reaches


@pytest.mark.parametrize("target", list(TARGETS.values()), ids=list(TARGETS))
def test_mirror_context_keeps_the_logits_causal(target):
    model = _model(kernel_size=3, mirror_context=True)
    later = [p for p in ALL_POSITIONS if p >= target]
    logits = _logits_at(model, _one_change_per_map(_codes(1)[0], later), target)
    np.testing.assert_allclose(
        logits[1:], np.broadcast_to(logits[0], logits[1:].shape), atol=1e-6
    )


@pytest.mark.parametrize("source", [(3, 0), (2, 0)], ids=["same row", "row above"])
def test_mirror_context_sees_the_mirror_position_beyond_the_receptive_field(source):
    # One layer of kernel 3 sees (3, 5) and the row above from column 5 on; the
    # mirror image of (3, 6) across the midline of 7 columns is column 0.
    target = (3, WIDTH - 1)
    maps = _one_change_per_map(_codes(1)[0], [source])
    changes = [
        np.abs(np.diff(_logits_at(model, maps, target), axis=0)).max()
        for model in (
            _model(n_layers=0, kernel_size=3, mirror_context=mirror)
            for mirror in (False, True)
        )
    ]
    assert changes[0] <= 1e-6 < changes[1]


def test_log_likelihood_sums_the_log_probabilities_of_the_codes():
    model = _model()
    codes = _codes(3)
    logits = np.asarray(model(codes), dtype="float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = np.take_along_axis(log_probs, codes[..., None], -1).sum(axis=(1, 2, 3))
    got = np.asarray(model.log_likelihood(codes))
    assert got.shape == (3,)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_dropout_only_in_training():
    model = _model(dropout=0.5)
    codes = _codes(2)
    np.testing.assert_array_equal(model(codes), model(codes))
    assert not np.allclose(model(codes, training=True), model(codes, training=False))


def _fit(model, x, y, epochs):
    model.compile(
        keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model.fit(x, y, epochs=epochs, batch_size=16, verbose=0).history["loss"]


def test_training_learns_rows_of_constant_codes():
    rng = np.random.default_rng(0)
    codes = np.repeat(rng.integers(0, K, size=(128, 8, 1)), 8, axis=2).astype("int32")
    losses = _fit(_model(n_layers=2), codes, codes, epochs=8)
    # Only the first pixel of each row is random: ideal loss log(K) / 8 = 0.22.
    assert losses[0] > 1.0
    assert losses[-1] < 0.4


def test_conditional_model_uses_its_condition():
    rng = np.random.default_rng(0)
    condition = rng.integers(0, 4, size=(128, 4, 4)).astype("int32")
    codes = condition.repeat(2, axis=1).repeat(2, axis=2)
    plain, conditional = _model(n_layers=2), _model(True, n_layers=2)
    _fit(plain, codes, codes, epochs=8)
    _fit(conditional, (codes, condition), codes, epochs=8)
    test_condition = rng.integers(0, 4, size=(16, 4, 4)).astype("int32")
    test_codes = test_condition.repeat(2, axis=1).repeat(2, axis=2)
    nll_plain = -np.mean(plain.log_likelihood(test_codes))
    nll_conditional = -np.mean(conditional.log_likelihood(test_codes, test_condition))
    # Plain: the first code of each 2x2 block is random, 16 log(4) = 22 nats.
    assert nll_plain > 15.0
    assert nll_conditional < 0.1 * nll_plain


ROUND_TRIPS = pytest.mark.parametrize(
    "conditional, mirror",
    [(False, False), (True, False), (True, True)],
    ids=["plain", "conditional", "conditional with mirror context"],
)


@ROUND_TRIPS
def test_config_round_trip(conditional, mirror):
    model = _model(
        conditional,
        dropout=0.1,
        condition_upsample=4,
        condition_layers=2,
        mirror_context=mirror,
    )
    config = model.get_config()
    assert GatedPixelCNN.from_config(config).get_config() == config


@ROUND_TRIPS
def test_keras_file_round_trip_in_safe_mode(conditional, mirror, tmp_path):
    model = _model(conditional, mirror_context=mirror)
    codes = _codes(2, (4, 6))
    inputs = (codes, _codes(2, (2, 3)) % 4) if conditional else codes
    expected = np.asarray(model(inputs))
    model.save(tmp_path / "prior.keras")
    loaded = keras.saving.load_model(tmp_path / "prior.keras", safe_mode=True)
    assert isinstance(loaded, GatedPixelCNN)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded(inputs), expected, atol=1e-6)


def test_hidden_channels_are_saved_under_their_name():
    config = _model(False).get_config()
    assert config["hidden_channels"] == 8
    assert "channels" not in config


def test_channels_still_works_with_a_future_warning():
    with pytest.warns(FutureWarning, match=r"channels=\.\.\.\) is deprecated.*hidden"):
        model = GatedPixelCNN(num_embeddings=K, n_layers=1, channels=6)
    assert model.hidden_channels == 6
    assert model.embedding.output_dim == 6


def test_a_config_saved_with_channels_loads_without_a_warning(recwarn):
    # what get_config wrote before hidden_channels: saved .keras models hold it
    config = _model(False).get_config()
    config["channels"] = config.pop("hidden_channels")
    model = GatedPixelCNN.from_config(config)
    assert model.hidden_channels == 8
    assert model.get_config() == {**_model(False).get_config(), "name": config["name"]}
    assert not [w for w in recwarn if issubclass(w.category, FutureWarning)]


def test_gated_layer_config_round_trip():
    layer = GatedLayer(4, kernel_size=3, mask_type="A", condition_channels=2)
    config = layer.get_config()
    assert GatedLayer.from_config(config).get_config() == config


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kernel_size": 4}, "kernel_size must be an odd int >= 3.*got 4"),
        ({"kernel_size": 1}, "kernel_size must be an odd int >= 3.*got 1"),
        ({"n_layers": -1}, "n_layers must be an int >= 0; got -1"),
        ({"condition_upsample": 0}, "condition_upsample must be an int >= 1; got 0"),
        ({"condition_layers": 0}, "condition_layers must be an int >= 1; got 0"),
    ],
    ids=[
        "even kernel",
        "kernel 1",
        "negative layers",
        "zero upsample",
        "no condition layer",
    ],
)
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GatedPixelCNN(num_embeddings=K, **kwargs)


def test_bad_mask_type_raises():
    with pytest.raises(ValueError, match="mask_type must be 'A' or 'B'; got 'C'"):
        GatedLayer(4, mask_type="C")


@pytest.mark.parametrize(
    ("conditional", "make_inputs", "match"),
    [
        (False, lambda c: (c, c[:, :3, :3]), "unconditional.*without a condition"),
        (True, lambda c: c, r"conditional \(condition_num_embeddings=4\)"),
        (
            True,
            lambda c: (c, c),
            r"GatedPixelCNN expected a condition of shape \(2, 3, 3\) .*for codes of "
            r"shape \(2, 6, 6\); got a condition of shape \(2, 6, 6\)",
        ),
        (False, lambda c: (c, c, c), "got 3 inputs"),
    ],
    ids=["condition to a plain model", "missing condition", "wrong grid", "triple"],
)
def test_bad_inputs_raise(conditional, make_inputs, match):
    model = _model(conditional)
    with pytest.raises(ValueError, match=match):
        model(make_inputs(_codes(2, (6, 6))))


# ------------------------------------------------------- global condition
GLOBAL_KINDS = {"global": False, "condition map and global": True}


def _global_model(with_map=False, dim=1, **kwargs):
    return _model(with_map, global_condition_dim=dim, **kwargs)


def _global_inputs(maps, vectors, condition=None):
    """``(maps, vectors)`` or ``(maps, condition, vectors)``, one row per map."""
    maps = np.asarray(maps, dtype="int32")
    vectors = np.asarray(vectors, dtype="float32").reshape(len(maps), -1)
    if condition is None:
        return maps, vectors
    return maps, np.asarray(condition, dtype="int32"), vectors


def _map_condition(n, shape=(HEIGHT, WIDTH), seed=1):
    """A condition map per code map, for condition_upsample=1."""
    return np.random.default_rng(seed).integers(0, 4, size=(n, *shape))


@pytest.mark.parametrize(
    ("with_map", "dim"),
    [(False, 1), (False, 3), (True, 1), (True, 2)],
    ids=["global 1", "global 3", "map and global 1", "map and global 2"],
)
def test_global_condition_logits_shape(with_map, dim):
    model = _global_model(with_map, dim, condition_upsample=2)
    codes = _codes(3, (4, 6))
    vectors = np.random.default_rng(0).random((3, dim))
    condition = np.zeros((3, 2, 3)) if with_map else None
    logits = model(_global_inputs(codes, vectors, condition))
    assert tuple(logits.shape) == (3, 4, 6, K)
    assert model.global_conditional and model.global_condition_dim == dim
    assert model.conditional == with_map


def test_global_conditional_property_is_false_by_default():
    assert not _model().global_conditional
    assert _model().global_condition_dim is None


@pytest.mark.parametrize("with_map", list(GLOBAL_KINDS.values()), ids=GLOBAL_KINDS)
def test_logits_change_with_the_global_condition_at_every_position(with_map):
    model = _global_model(with_map, condition_upsample=1)
    codes = np.repeat(_codes(1), 2, axis=0)
    condition = np.repeat(_map_condition(1), 2, axis=0) if with_map else None
    logits = np.asarray(model(_global_inputs(codes, [0.2, 0.9], condition)))
    change = np.abs(logits[0] - logits[1]).max(axis=-1)
    # including the first position, which sees no code at all
    assert change.min() > 1e-4, f"unchanged at {np.argwhere(change <= 1e-4)}"


@pytest.mark.parametrize("with_map", list(GLOBAL_KINDS.values()), ids=GLOBAL_KINDS)
def test_each_map_reads_only_its_own_global_condition(with_map):
    model = _global_model(with_map, dim=2, condition_upsample=1)
    codes = _codes(3)
    condition = _map_condition(3) if with_map else None
    vectors = np.array([[0.1, 0.5], [0.7, 0.2], [0.4, 0.9]])
    changed = vectors.copy()
    changed[1] = [0.9, 0.0]
    before = np.asarray(model(_global_inputs(codes, vectors, condition)))
    after = np.asarray(model(_global_inputs(codes, changed, condition)))
    np.testing.assert_array_equal(after[[0, 2]], before[[0, 2]])
    assert np.abs(after[1] - before[1]).max() > 1e-4


@pytest.mark.parametrize("with_map", list(GLOBAL_KINDS.values()), ids=GLOBAL_KINDS)
@pytest.mark.parametrize("target", list(TARGETS.values()), ids=list(TARGETS))
def test_global_conditional_logits_are_causal(target, with_map):
    model = _global_model(with_map, condition_upsample=1)
    codes = _codes(1)[0]
    later = [p for p in ALL_POSITIONS if p >= target]
    earlier = [p for p in ALL_POSITIONS if p < target]
    maps = _one_change_per_map(codes, later + earlier)
    condition = np.repeat(_map_condition(1), len(maps), 0) if with_map else None
    vectors = np.full(len(maps), 0.7)
    logits = np.asarray(model(_global_inputs(maps, vectors, condition)))
    logits = logits[:, target[0], target[1]]
    # a change at the target or after it never reaches the target ...
    after = logits[1 : 1 + len(later)]
    np.testing.assert_allclose(
        after, np.broadcast_to(logits[0], after.shape), atol=1e-6
    )
    # ... and every change before it does
    changes = np.abs(logits[1 + len(later) :] - logits[0]).max(axis=1)
    blind = [p for p, c in zip(earlier, changes, strict=True) if c <= 1e-6]
    assert not blind, f"logits at {target} ignore earlier positions {blind}"


@pytest.mark.parametrize("with_map", list(GLOBAL_KINDS.values()), ids=GLOBAL_KINDS)
def test_log_likelihood_with_a_global_condition(with_map):
    model = _global_model(with_map, dim=2, condition_upsample=2)
    codes = _codes(3, (4, 6))
    condition = _codes(3, (2, 3)) % 4 if with_map else None
    vectors = np.random.default_rng(2).random((3, 2)).astype("float32")
    logits = np.asarray(
        model(_global_inputs(codes, vectors, condition)), dtype="float64"
    )
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = np.take_along_axis(log_probs, codes[..., None], -1).sum(axis=(1, 2, 3))
    got = np.asarray(model.log_likelihood(codes, condition, vectors))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    other = np.asarray(model.log_likelihood(codes, condition, 1.0 - vectors))
    assert np.abs(other - got).min() > 1e-5


def test_training_learns_a_first_code_set_by_the_global_condition():
    # the first code of a map is all a plain model cannot know: it is the vector
    rng = np.random.default_rng(0)
    levels = rng.random(128).astype("float32")
    codes = np.broadcast_to((levels >= 0.5)[:, None, None], (128, 4, 4))
    codes = codes.astype("int32")
    model = _global_model(n_layers=2)
    losses = _fit(model, (codes, levels[:, None]), codes, epochs=10)
    assert losses[-1] < 0.5 * losses[0]
    first = np.asarray(model((codes[:16], levels[:16, None])))[:, 0, 0]
    assert (first.argmax(-1) == codes[:16, 0, 0]).mean() >= 0.9


@pytest.mark.parametrize("with_map", list(GLOBAL_KINDS.values()), ids=GLOBAL_KINDS)
def test_global_conditional_config_round_trip(with_map):
    model = _global_model(with_map, dim=3, dropout=0.1)
    config = model.get_config()
    assert config["global_condition_dim"] == 3
    rebuilt = GatedPixelCNN.from_config(config)
    assert rebuilt.get_config() == config
    assert rebuilt.global_condition_dim == 3 and rebuilt.global_conditional


@pytest.mark.parametrize("with_map", list(GLOBAL_KINDS.values()), ids=GLOBAL_KINDS)
def test_global_conditional_keras_file_round_trip(with_map, tmp_path):
    model = _global_model(with_map, dim=2)
    codes = _codes(2, (4, 6))
    condition = _codes(2, (2, 3)) % 4 if with_map else None
    inputs = _global_inputs(codes, [[0.1, 0.3], [0.8, 0.6]], condition)
    expected = np.asarray(model(inputs))
    model.save(tmp_path / "prior.keras")
    loaded = keras.saving.load_model(tmp_path / "prior.keras", safe_mode=True)
    assert isinstance(loaded, GatedPixelCNN)
    assert loaded.global_condition_dim == 2
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded(inputs), expected, atol=1e-6)


def test_bad_global_condition_dim_raises():
    with pytest.raises(ValueError, match=r"global_condition_dim must be None or an "):
        GatedPixelCNN(num_embeddings=K, global_condition_dim=0)


GLOBAL_CODES = _codes(2, (6, 6))
VECTORS = np.array([[0.2], [0.9]], dtype="float32")
MAP = np.zeros((2, 3, 3), dtype="int32")


@pytest.mark.parametrize(
    ("with_map", "inputs", "match"),
    [
        (False, GLOBAL_CODES, r"expected \(codes, global_condition\); got codes alone"),
        (
            False,
            (GLOBAL_CODES, VECTORS, VECTORS),
            r"expected \(codes, global_condition\); got 3 inputs",
        ),
        (True, (GLOBAL_CODES, MAP), r"\(codes, condition, global_condition\); got 2"),
        (
            True,
            (GLOBAL_CODES, MAP, VECTORS, VECTORS),
            r"expected \(codes, condition, global_condition\); got 4 inputs",
        ),
        (True, GLOBAL_CODES, r"global_condition\); got codes alone"),
    ],
    ids=[
        "codes alone",
        "global given twice",
        "map without the vector",
        "four inputs",
        "codes alone to a map model",
    ],
)
def test_bad_global_condition_inputs_raise(with_map, inputs, match):
    model = _global_model(with_map, condition_upsample=2)
    with pytest.raises(ValueError, match=match):
        model(inputs)


def test_a_model_without_global_condition_refuses_a_third_input():
    model = _model(True, condition_upsample=2)
    with pytest.raises(
        ValueError, match=r"expected \(codes, condition\); got 3 inputs"
    ):
        model((GLOBAL_CODES, MAP, VECTORS))
