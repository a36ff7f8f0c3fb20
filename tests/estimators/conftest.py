import numpy as np
import pytest

TINY_VQVAE = dict(
    num_embeddings=16,
    embedding_dim=4,
    hidden_channels=8,
    n_res_blocks=1,
    n_res_channels=4,
    batch_size=8,
    epochs=1,
    random_state=0,
)


def make_slices(n=12, size=16, seed=0):
    """Brain-like toy slices: a bright ellipse with a darker core, on black."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / (size - 1) - 0.5
    images = []
    for _ in range(n):
        a, b = rng.uniform(0.3, 0.45, size=2)
        head = (xx / a) ** 2 + (yy / b) ** 2 < 1
        core = (xx / (a / 2)) ** 2 + (yy / (b / 2)) ** 2 < 1
        image = 0.8 * head - 0.3 * core + rng.normal(0, 0.02, (size, size))
        images.append(np.clip(image, 0, 1))
    return np.stack(images)[..., None].astype("float32")


@pytest.fixture
def slices():
    return make_slices()


TINY_PRIOR = dict(
    n_layers=2,
    hidden_channels=16,
    kernel_size=3,
    batch_size=16,
    epochs=1,
    random_state=0,
)


def make_row_codes(n=48, size=6, n_codes=4, seed=0):
    """Code maps whose rows are constant: easy structure for a prior to learn."""
    rng = np.random.default_rng(seed)
    return np.repeat(rng.integers(0, n_codes, size=(n, size, 1)), size, axis=2)


def upsample_codes(codes, factor=2):
    return np.repeat(np.repeat(codes, factor, axis=1), factor, axis=2)
