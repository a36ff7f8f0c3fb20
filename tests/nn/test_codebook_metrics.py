"""oasisgen/nn/codebook_metrics.py: codebook usage and perplexity over an epoch."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from oasisgen import metrics
from oasisgen.nn import CodebookPerplexity, CodebookUsage

# known histograms: code k is chosen counts[k] times
COUNTS = {
    "uniform-4-of-8": [3, 3, 3, 3, 0, 0, 0, 0],
    "skewed": [10, 0, 5, 0, 2, 1, 0, 0],
    "one-code": [0, 0, 7, 0],
    "every-code": [1, 2, 3, 4, 5, 6],
    "rare-codes": [1000, 1, 1, 0, 1],
}


def codes_with_counts(counts, seed=0):
    """Shuffled codes in which code ``k`` occurs ``counts[k]`` times."""
    codes = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(codes)


def numpy_usage(counts):
    return np.count_nonzero(counts) / len(counts)


def numpy_perplexity(counts):
    p = np.asarray(counts, float) / np.sum(counts)
    p = p[p > 0]
    return np.exp(-np.sum(p * np.log(p)))


def update_in_batches(metric, codes, n_batches):
    for batch in np.array_split(codes, n_batches):
        metric.update_state(batch)
    return float(metric.result())


@pytest.mark.parametrize("counts", COUNTS.values(), ids=COUNTS.keys())
@pytest.mark.parametrize("n_batches", [1, 3])
def test_usage_and_perplexity_match_numpy_on_known_counts(counts, n_batches):
    codes = codes_with_counts(counts)
    usage, perplexity = CodebookUsage(len(counts)), CodebookPerplexity(len(counts))
    assert update_in_batches(usage, codes, n_batches) == pytest.approx(
        numpy_usage(counts)
    )
    assert update_in_batches(perplexity, codes, n_batches) == pytest.approx(
        numpy_perplexity(counts), rel=1e-5
    )
    np.testing.assert_array_equal(usage.counts.numpy(), counts)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_keras_metrics_agree_with_oasisgen_metrics_on_code_maps(seed):
    # a batch of (n, h, w) code maps, as the quantizer gives them, in several batches
    rng = np.random.default_rng(seed)
    k = 16
    probs = rng.dirichlet(np.full(k, 0.3))
    codes = rng.choice(k, size=(6, 4, 4), p=probs)
    usage, perplexity = CodebookUsage(k), CodebookPerplexity(k)
    for batch in (codes[:2], codes[2:]):
        usage.update_state(tf.constant(batch, dtype="int64"))
        perplexity.update_state(tf.constant(batch, dtype="int64"))
    assert float(usage.result()) == pytest.approx(metrics.codebook_usage(codes, k))
    assert float(perplexity.result()) == pytest.approx(
        metrics.perplexity(codes, k), rel=1e-5
    )


@pytest.mark.parametrize("k", [1, 3, 10])
def test_perplexity_of_k_equally_used_codes_is_k(k):
    perplexity = CodebookPerplexity(num_embeddings=12)
    perplexity.update_state(np.tile(np.arange(k), 5))
    assert float(perplexity.result()) == pytest.approx(k, rel=1e-5)


@pytest.mark.parametrize("metric_class", [CodebookUsage, CodebookPerplexity])
def test_a_reset_empties_the_histogram(metric_class):
    metric = metric_class(num_embeddings=4)
    metric.update_state([0, 1, 2, 3, 3])
    metric.reset_state()
    np.testing.assert_array_equal(metric.counts.numpy(), [0, 0, 0, 0])
    empty = float(metric.result())
    assert np.isfinite(empty)  # no division by zero at the start of an epoch
    assert empty == (0.0 if metric_class is CodebookUsage else 1.0)
    metric.update_state([2, 2])  # only what came after the reset counts
    np.testing.assert_array_equal(metric.counts.numpy(), [0, 0, 2, 0])


def test_the_histogram_updates_under_xla():
    usage, perplexity = CodebookUsage(5), CodebookPerplexity(5)

    @tf.function(jit_compile=True)
    def update(codes):
        usage.update_state(codes)
        perplexity.update_state(codes)

    counts = [4, 0, 1, 0, 3]
    for batch in np.array_split(codes_with_counts(counts), 2):
        update(tf.constant(batch, dtype="int32"))
    np.testing.assert_array_equal(usage.counts.numpy(), counts)
    np.testing.assert_array_equal(perplexity.counts.numpy(), counts)
    assert float(perplexity.result()) == pytest.approx(
        numpy_perplexity(counts), rel=1e-5
    )


@pytest.mark.parametrize(
    "metric_class, name",
    [(CodebookUsage, "usage"), (CodebookPerplexity, "perplexity")],
)
def test_names_and_a_serialisation_round_trip(metric_class, name):
    assert metric_class(8).name == name
    metric = metric_class(8, name=f"top_{name}")
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(metric)
    )
    assert type(restored) is metric_class
    assert restored.get_config() == {"num_embeddings": 8, "name": f"top_{name}"}
    restored.update_state([0, 1])
    assert float(restored.result()) > 0
