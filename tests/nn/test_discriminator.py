import numpy as np
import pytest

from oasisgen.nn import patch_discriminator


@pytest.mark.parametrize(("height", "width"), [(16, 16), (64, 64), (32, 48)])
def test_there_is_one_logit_per_4x4_block(height, width):
    critic = patch_discriminator(4, seed=0)
    logits = critic(np.zeros((3, height, width, 1), dtype="float32"))
    assert tuple(logits.shape) == (3, height // 4, width // 4, 1)


def test_a_seed_gives_the_same_weights():
    first, again, other = (patch_discriminator(4, seed=s) for s in (0, 0, 1))
    for model in (first, again, other):
        model.build((None, 16, 16, 1))
    for a, b in zip(first.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first.get_weights()[0], other.get_weights()[0])


def test_each_logit_sees_a_patch_not_the_whole_slice():
    critic = patch_discriminator(4, seed=0)
    images = np.zeros((1, 64, 64, 1), dtype="float32")
    changed = images.copy()
    changed[0, 60:, 60:] = 1.0  # a corner only
    difference = np.abs(np.asarray(critic(changed)) - np.asarray(critic(images)))
    assert difference[0, -1, -1, 0] > 0
    assert np.all(difference[0, :8, :8] == 0)  # 18 px of view: far logits unmoved
