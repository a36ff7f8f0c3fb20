import keras
import numpy as np
import pytest
import tensorflow as tf

from oasisgen.nn import CodebookPerplexity, CodebookUsage, VectorQuantizer


def make_inputs(shape=(2, 4, 4, 3), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("shape", [(2, 4, 4, 3), (1, 8, 2, 3)], ids=["4x4", "8x2"])
def test_codes_are_in_range_and_shaped_like_the_grid(training, shape):
    vq = VectorQuantizer(num_embeddings=5, embedding_dim=3, seed=0)
    quantized, codes = vq(make_inputs(shape), training=training)
    assert quantized.shape == shape
    assert codes.shape == shape[:-1]
    assert codes.dtype == tf.int32
    assert 0 <= int(tf.reduce_min(codes)) and int(tf.reduce_max(codes)) < 5


def test_quantized_output_is_the_codebook_lookup_of_its_codes():
    vq = VectorQuantizer(num_embeddings=7, embedding_dim=3, seed=0)
    inputs = make_inputs()
    quantized, codes = vq(inputs, training=False)
    np.testing.assert_allclose(quantized, vq.lookup(codes), atol=1e-6)
    np.testing.assert_array_equal(codes, vq.encode(inputs))


def test_each_code_is_the_nearest_codebook_vector():
    vq = VectorQuantizer(num_embeddings=6, embedding_dim=3, seed=0)
    inputs = make_inputs()
    _, codes = vq(inputs)
    embeddings = vq.embeddings.numpy()
    distances = ((inputs[..., None, :] - embeddings) ** 2).sum(-1)
    np.testing.assert_array_equal(codes, distances.argmin(-1))


def test_gradients_pass_straight_through():
    vq = VectorQuantizer(num_embeddings=4, embedding_dim=3, seed=0)
    inputs = tf.constant(make_inputs())
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        quantized, _ = vq(inputs)
        total = tf.reduce_sum(quantized)
    np.testing.assert_allclose(tape.gradient(total, inputs), np.ones(inputs.shape))


def test_commitment_loss_is_beta_times_the_mean_squared_distance():
    vq = VectorQuantizer(num_embeddings=4, embedding_dim=3, commitment_cost=0.3)
    inputs = make_inputs()
    quantized, _ = vq(inputs)
    expected = 0.3 * np.mean((inputs - quantized.numpy()) ** 2)
    np.testing.assert_allclose(float(vq.losses[0]), expected, rtol=1e-5)


def test_one_ema_step_matches_a_hand_computation():
    vq = VectorQuantizer(num_embeddings=3, embedding_dim=2, decay=0.5, epsilon=1e-5)
    vq.build((None, 2))
    codebook = np.array([[0, 0], [1, 1], [4, 4]], dtype="float32")
    vq.embeddings.assign(codebook)
    vq.ema_embedding_sum.assign(codebook)
    vq.steps_unused.assign(np.zeros(3, "float32"))  # no restarts in this step
    inputs = np.array([[0.1, 0], [0.9, 1.1], [1.2, 0.8], [3, 4]], dtype="float32")

    _, codes = vq(inputs, training=True)

    np.testing.assert_array_equal(codes, [0, 1, 1, 2])
    # cluster sizes: 0.5 * 1 + 0.5 * [1, 2, 1]
    np.testing.assert_allclose(vq.ema_cluster_size, [1.0, 1.5, 1.0])
    # sums: 0.5 * codebook + 0.5 * [[.1, 0], [2.1, 1.9], [3, 4]]
    sums = np.array([[0.05, 0.0], [1.55, 1.45], [3.5, 4.0]])
    np.testing.assert_allclose(vq.ema_embedding_sum, sums, rtol=1e-6)
    # Laplace smoothing: (n_k + eps) / (n + K eps) * n with n = 3.5
    smoothed = (np.array([1.0, 1.5, 1.0]) + 1e-5) / (3.5 + 3e-5) * 3.5
    np.testing.assert_allclose(vq.embeddings, sums / smoothed[:, None], rtol=1e-5)
    np.testing.assert_array_equal(vq.steps_unused, [0, 0, 0])


def test_first_training_step_seeds_the_codebook_from_encoder_outputs():
    vq = VectorQuantizer(num_embeddings=8, embedding_dim=3, seed=0)
    inputs = make_inputs((4, 4, 4, 3)) + 10.0  # far from the initial codebook
    vq(inputs, training=True)
    flat = inputs.reshape(-1, 3)
    embeddings = vq.embeddings.numpy()
    used = np.asarray(vq.steps_unused) == 0
    # every code reseeded at step one is an encoder output
    nearest = ((embeddings[:, None] - flat[None]) ** 2).sum(-1).min(1)
    assert used.all()
    np.testing.assert_allclose(
        nearest[vq.ema_cluster_size.numpy() == 1.0], 0, atol=1e-5
    )
    _, codes = vq(inputs, training=False)
    assert len(np.unique(codes)) > 1


def test_a_code_unused_for_restart_after_steps_is_reseeded():
    vq = VectorQuantizer(num_embeddings=3, embedding_dim=2, restart_after=2, seed=1)
    vq.build((None, 2))
    codebook = np.array([[0, 0], [1, 1], [100, 100]], "float32")
    vq.embeddings.assign(codebook)
    vq.ema_embedding_sum.assign(codebook)
    vq.steps_unused.assign(np.zeros(3, "float32"))
    inputs = np.array([[0, 0.1], [1, 0.9], [0.1, 0], [0.9, 1]], "float32")

    vq(inputs, training=True)
    assert vq.steps_unused.numpy().tolist() == [0, 0, 1]
    np.testing.assert_allclose(vq.embeddings[2], [100, 100], rtol=1e-5)
    vq(inputs, training=True)

    reseeded = vq.embeddings.numpy()[2]
    assert np.min(np.abs(inputs - reseeded).sum(1)) < 1e-6
    assert vq.steps_unused.numpy()[2] == 0


def test_inputs_with_the_wrong_last_axis_are_rejected():
    vq = VectorQuantizer(num_embeddings=4, embedding_dim=3)
    with pytest.raises(ValueError, match="last axis is embedding_dim=3"):
        vq(make_inputs((2, 4, 4, 5)))


def test_codebook_state_is_mirrored_with_mean_aggregation():
    vq = VectorQuantizer(num_embeddings=4, embedding_dim=3)
    vq.build((None, 3))
    for variable in vq.non_trainable_variables:
        if variable.path.endswith("seed_generator_state"):
            continue
        assert variable.aggregation == "mean", variable.path
    assert vq.trainable_variables == []


@pytest.mark.parametrize(
    ("codes", "usage", "perplexity"),
    [
        ([0, 1, 2, 3], 0.5, 4.0),
        ([2, 2, 2, 2], 0.125, 1.0),
        ([0, 0, 1, 1], 0.25, 2.0),
    ],
    ids=["uniform-4", "single", "uniform-2"],
)
def test_codebook_metrics_by_hand(codes, usage, perplexity):
    usage_metric, perplexity_metric = CodebookUsage(8), CodebookPerplexity(8)
    for metric in (usage_metric, perplexity_metric):
        metric.update_state(np.array(codes[:2]))
        metric.update_state(np.array(codes[2:]))
    assert float(usage_metric.result()) == pytest.approx(usage)
    assert float(perplexity_metric.result()) == pytest.approx(perplexity, rel=1e-5)
    usage_metric.reset_state()
    assert float(usage_metric.result()) == 0.0


def test_keras_seed_makes_restarts_repeatable():
    results = []
    for _ in range(2):
        keras.utils.set_random_seed(3)
        vq = VectorQuantizer(num_embeddings=16, embedding_dim=3, seed=5)
        vq(make_inputs((2, 4, 4, 3)), training=True)
        results.append(vq.embeddings.numpy())
    np.testing.assert_array_equal(results[0], results[1])
