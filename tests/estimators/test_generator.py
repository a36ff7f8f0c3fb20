import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator

import oasisgen
from oasisgen import HierarchicalGenerator, PixelCNNPrior, VQVAE2Estimator
from oasisgen.datasets import load_sample

from .conftest import TINY_PRIOR, TINY_VQVAE, make_slices


def make_generator(**vqvae_params):
    return HierarchicalGenerator(
        vqvae=VQVAE2Estimator(**{**TINY_VQVAE, **vqvae_params}),
        top_prior=PixelCNNPrior(**TINY_PRIOR),
        bottom_prior=PixelCNNPrior(**TINY_PRIOR),
    )


@pytest.fixture(scope="module")
def images():
    return load_sample("train", image_size=32)[::2]


@pytest.fixture(scope="module")
def fitted(images):
    return make_generator().fit(images)


def test_samples_are_images_of_the_training_size(fitted):
    samples = fitted.sample(4, random_state=0)
    assert samples.shape == (4, 32, 32, 1) and samples.dtype == np.float32
    assert samples.min() >= 0 and samples.max() <= 1


def test_the_parts_are_fitted_and_wired_together(fitted):
    vqvae, top, bottom = fitted.vqvae_, fitted.top_prior_, fitted.bottom_prior_
    assert top.grid_shape_ == vqvae.top_shape_ == (4, 4)
    assert bottom.grid_shape_ == vqvae.bottom_shape_ == (8, 8)
    assert top.num_embeddings_ == vqvae.n_top_codes_
    assert bottom.num_embeddings_ == vqvae.n_bottom_codes_
    assert bottom.condition_num_embeddings_ == vqvae.n_top_codes_
    assert top.condition_num_embeddings_ is None


def test_a_vqvae_with_a_finer_bottom_map_conditions_on_4x4_top_codes(images):
    generator = make_generator(bottom_stride=2).fit(images[:8])
    bottom = generator.bottom_prior_
    assert bottom.grid_shape_ == generator.vqvae_.bottom_shape_ == (16, 16)
    assert bottom.condition_upsample == 4
    assert generator.sample(2, random_state=0).shape == (2, 32, 32, 1)
    assert np.isfinite(generator.score(images[:2]))


def test_sampling_is_repeatable_by_seed(fitted):
    first = fitted.sample(3, random_state=5)
    np.testing.assert_array_equal(first, fitted.sample(3, random_state=5))
    assert not np.array_equal(first, fitted.sample(3, random_state=6))


def test_score_is_the_log_likelihood_per_code_of_both_levels(fitted, images):
    per_image = fitted.score_samples(images[:4])
    top, bottom = fitted.vqvae_.encode(images[:4])
    expected = fitted.top_prior_.score_samples(
        top
    ) + fitted.bottom_prior_.score_samples(bottom, top)
    np.testing.assert_allclose(per_image, expected, rtol=1e-6)
    assert fitted.score(images[:4]) == pytest.approx(per_image.mean() / (16 + 64))


def test_bits_per_code_also_scores_the_bottom_codes_under_other_top_codes(
    fitted, images
):
    bits = fitted.bits_per_code(images[:6])
    top, bottom = fitted.vqvae_.encode(images[:6])
    other = top[[3, 4, 5, 0, 1, 2]]  # each slice's top codes: three slices away
    expected = -fitted.bottom_prior_.score(bottom, other) / np.log(2)
    assert bits["bottom_other_top"] == pytest.approx(expected, rel=1e-5)
    assert bits["bottom"] == pytest.approx(
        -fitted.bottom_prior_.score(bottom, top) / np.log(2), rel=1e-5
    )
    assert np.isnan(fitted.bits_per_code(images[:1])["bottom_other_top"])


def test_an_already_fitted_vqvae_is_used_without_refitting(images):
    images = images[:16]
    vqvae = VQVAE2Estimator(**TINY_VQVAE).fit(images)
    weights = [w.numpy().copy() for w in vqvae.model_.weights]
    generator = HierarchicalGenerator(
        vqvae=vqvae,
        top_prior=PixelCNNPrior(**TINY_PRIOR),
        bottom_prior=PixelCNNPrior(**TINY_PRIOR),
    ).fit(images)
    assert generator.vqvae_ is vqvae
    for before, after in zip(weights, vqvae.model_.weights, strict=True):
        np.testing.assert_array_equal(before, after.numpy())
    refitted = clone(generator).set_params(refit_vqvae=True)
    refitted.set_params(vqvae=vqvae).fit(images)
    assert refitted.vqvae_ is not vqvae


def test_a_frozen_vqvae_is_kept_through_clone_and_saving(tmp_path):
    # GridSearchCV clones the generator per candidate and fold; with a frozen
    # VQ-VAE-2 every clone keeps it (a search on workers:
    # tests/search/test_dask_search.py).
    X = make_slices(12)
    vqvae = VQVAE2Estimator(**TINY_VQVAE).fit(X)
    codes = vqvae.transform(X)
    generator = HierarchicalGenerator(
        vqvae=FrozenEstimator(vqvae),
        top_prior=PixelCNNPrior(**TINY_PRIOR),
        bottom_prior=PixelCNNPrior(**TINY_PRIOR),
    )
    fitted = clone(generator).fit(X)
    assert fitted.vqvae_ is vqvae  # never cloned, never refitted
    assert len(vqvae.history_["loss"]) == 1
    np.testing.assert_array_equal(vqvae.transform(X), codes)
    loaded = oasisgen.load(fitted.save(tmp_path / "generator"))
    assert isinstance(loaded.vqvae, FrozenEstimator)
    np.testing.assert_array_equal(loaded.vqvae_.transform(X), codes)


@pytest.mark.parametrize(
    "vqvae, refit, error, match",
    [
        (FrozenEstimator(VQVAE2Estimator()), "auto", ValueError, "unfitted"),
        (FrozenEstimator(PixelCNNPrior()), "auto", TypeError, "FrozenEstimator of"),
        (None, True, ValueError, "refit_vqvae=True and a FrozenEstimator"),
    ],
    ids=["unfitted", "not a vqvae", "refit"],
)
def test_a_frozen_vqvae_that_cannot_serve_is_refused(vqvae, refit, error, match):
    X = make_slices(12)
    if vqvae is None:
        vqvae = FrozenEstimator(VQVAE2Estimator(**TINY_VQVAE).fit(X))
    generator = HierarchicalGenerator(vqvae=vqvae, refit_vqvae=refit)
    with pytest.raises(error, match=match):
        generator.fit(X)
    assert not hasattr(generator, "top_prior_")


@pytest.mark.parametrize(
    "part, params, match",
    [
        ("top_prior", {"num_embeddings": 7}, "top_prior has num_embeddings=7.*=16"),
        (
            "bottom_prior",
            {"condition_num_embeddings": 9},
            "bottom_prior has condition_num_embeddings=9",
        ),
        ("bottom_prior", {"condition_upsample": 4}, "condition_upsample=2"),
    ],
    ids=["top size", "bottom condition size", "upsampling"],
)
def test_prior_sizes_that_disagree_with_the_vqvae_are_an_error(
    part, params, match, fitted, images
):
    generator = clone(fitted).set_params(
        vqvae=fitted.vqvae_, **{part: PixelCNNPrior(**TINY_PRIOR, **params)}
    )
    with pytest.raises(ValueError, match=match):
        generator.fit(images)
    assert not hasattr(generator, "top_prior_")
    assert getattr(generator, part).get_params()[next(iter(params))] == next(
        iter(params.values())
    )  # the user's prior is left as given


def test_refit_false_needs_a_fitted_vqvae(images):
    generator = make_generator().set_params(refit_vqvae=False)
    with pytest.raises(ValueError, match="refit_vqvae=False but an unfitted vqvae"):
        generator.fit(images)


def test_save_and_load_give_the_same_samples(fitted, tmp_path):
    path = fitted.save(tmp_path / "generator")
    assert sorted(p.name for p in path.iterdir()) == [
        "bottom_prior",
        "estimator.json",
        "top_prior",
        "vqvae",
    ]
    loaded = oasisgen.load(path)
    np.testing.assert_array_equal(
        loaded.sample(2, random_state=3), fitted.sample(2, random_state=3)
    )
    assert loaded.get_params()["top_prior"].get_params() == (
        fitted.top_prior.get_params() | {"num_embeddings": 16}
    )


# Grid searches over nested parameters (top_prior__n_layers), serially and on a
# Dask cluster: tests/search/test_dask_search.py.


@pytest.mark.parametrize(
    "method", ["sample", "score", "score_samples", "bits_per_code"]
)
def test_an_unfitted_generator_raises_not_fitted(method, images):
    call = getattr(HierarchicalGenerator(), method)
    with pytest.raises(NotFittedError):
        call(1) if method == "sample" else call(images[:2])


@pytest.mark.parametrize(
    ("options", "match"),
    [({"n_samples": 0}, "n_samples"), ({"temperature": 0.0}, "temperature")],
    ids=["no-samples", "zero-temperature"],
)
def test_bad_sampling_options_are_rejected(fitted, options, match):
    with pytest.raises(ValueError, match=match):
        fitted.sample(**{"n_samples": 2, **options})


def test_a_part_of_the_wrong_kind_is_rejected(images):
    with pytest.raises(ValueError, match="'top_prior' parameter"):
        HierarchicalGenerator(top_prior=VQVAE2Estimator()).fit(images)
