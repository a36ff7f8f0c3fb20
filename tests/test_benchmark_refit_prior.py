"""``benchmarks/refit_prior.py``: the ``--prior`` and ``--variant`` settings."""

import numpy as np
import pytest

from .benchmark_modules import BENCHMARKS, load_benchmark


@pytest.fixture(scope="module")
def refit_prior():
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))  # the scripts import _machine
        yield load_benchmark("refit_prior")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("three:condition_layers=3", ("three", {"condition_layers": 3})),
        (
            "both:hidden_channels=48,dropout=0.1",
            ("both", {"hidden_channels": 48, "dropout": 0.1}),
        ),
        ("plain:mirror_context=false", ("plain", {"mirror_context": False})),
    ],
)
def test_a_variant_is_read_with_its_values_types(refit_prior, text, expected):
    assert refit_prior.variant(text) == expected


@pytest.mark.parametrize(
    "text",
    ["condition_layers=3", "name:", "name:layers", "saved:n_layers=2", "a:b=1,c"],
)
def test_a_bad_variant_is_refused_with_what_was_expected(refit_prior, text):
    with pytest.raises(SystemExit, match="NAME:PARAM=VALUE"):
        refit_prior.variant(text)


def test_the_command_line_refuses_too_few_samples(refit_prior, capsys):
    with pytest.raises(SystemExit):
        refit_prior.parse_args(["run", "--n-samples", "2"])
    assert "--n-samples must be at least 5; got 2" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, prior", [(["run"], "bottom"), (["run", "--prior", "top"], "top")]
)
def test_the_prior_to_refit_is_the_bottom_one_unless_told(refit_prior, argv, prior):
    assert refit_prior.parse_args(argv).prior == prior


def test_an_unknown_prior_is_refused(refit_prior, capsys):
    with pytest.raises(SystemExit):
        refit_prior.parse_args(["run", "--prior", "middle"])
    assert "invalid choice: 'middle'" in capsys.readouterr().err


@pytest.mark.parametrize("with_positions", [True, False])
def test_the_codes_refitted_on_are_those_the_run_trained_on(
    refit_prior, with_positions
):
    from oasisgen import HierarchicalGenerator, PixelCNNPrior, VQVAE2Estimator
    from oasisgen.datasets import SliceDataset, load_sample
    from oasisgen.preprocessing import RandomSliceTransform

    from .estimators.conftest import TINY_PRIOR, TINY_VQVAE

    X, positions = load_sample("train", image_size=32, return_positions=True)
    train = SliceDataset.from_array(X[::8], positions=positions[::8])
    generator = HierarchicalGenerator(
        vqvae=VQVAE2Estimator(**TINY_VQVAE),
        top_prior=PixelCNNPrior(**TINY_PRIOR),
        bottom_prior=PixelCNNPrior(**TINY_PRIOR),
        augmentation=RandomSliceTransform(n_copies=2, random_state=0),
    )
    generator.fit(train if with_positions else X[::8])
    top, bottom, tiled = refit_prior.training_codes(generator, train)
    expected = generator._with_augmented_codes(
        generator.vqvae_,
        X[::8],
        *generator.vqvae_.encode(X[::8]),
        positions[::8] if with_positions else None,
    )
    np.testing.assert_array_equal(top, expected[0])
    np.testing.assert_array_equal(bottom, expected[1])
    assert len(top) == 3 * len(train)
    if with_positions:
        np.testing.assert_array_equal(tiled, expected[2])
    else:
        assert tiled is None
