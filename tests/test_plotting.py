import numpy as np
import pytest
from PIL import Image
from sklearn.exceptions import NotFittedError

from oasisgen import VQVAE2Estimator
from oasisgen.datasets import load_sample
from oasisgen.metrics import codebook_usage, perplexity
from oasisgen.plotting import (
    _interpolated_codes,
    plot_code_maps,
    plot_codebook_usage,
    plot_history,
    plot_image_grid,
    plot_interpolation,
    plot_nearest_training_slices,
    plot_reconstructions,
)

TINY = dict(
    num_embeddings=16,
    embedding_dim=4,
    hidden_channels=8,
    n_res_blocks=1,
    n_res_channels=4,
    epochs=1,
    batch_size=16,
    random_state=0,
)


@pytest.fixture(scope="module")
def fitted():
    return VQVAE2Estimator(**TINY).fit(load_sample("test", image_size=32))


@pytest.fixture
def images():
    return load_sample("test", image_size=32)


@pytest.fixture
def codes(fitted, images):
    return fitted.encode(images[:6])


def assert_saved_png(path, min_std=10.0):
    assert path.is_file()
    with Image.open(path) as image:
        assert image.format == "PNG"
        pixels = np.asarray(image.convert("L"), dtype=float)
    assert pixels.std() > min_std, "the figure is blank"


# ------------------------------------------------------------------ history
def test_plot_history_of_a_fit_has_four_panels(fitted, tmp_path):
    figure = plot_history(fitted.history_, path=tmp_path / "history.png")
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["loss", "SSIM", "codebook perplexity", "codebook usage"]
    assert_saved_png(tmp_path / "history.png")


def test_plot_history_draws_validation_curves_dashed_in_the_same_colour():
    history = {
        "loss": [0.5, 0.3, 0.2],
        "val_loss": [0.6, 0.4, 0.3],
        "top_usage": [0.2, 0.5, 0.9],
        "bottom_usage": [0.1, 0.4, 0.8],
        "val_bottom_usage": [0.1, 0.3, 0.7],
    }
    figure = plot_history(history)
    assert [ax.get_title() for ax in figure.axes] == ["loss", "codebook usage"]
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert lines["loss"].get_linestyle() == "-"
    assert lines["val_loss"].get_linestyle() == "--"
    assert lines["val_loss"].get_color() == lines["loss"].get_color()
    np.testing.assert_allclose(lines["val_loss"].get_ydata(), history["val_loss"])
    usage = {line.get_label() for line in figure.axes[1].get_lines()}
    assert usage == {"top_usage", "bottom_usage", "val_bottom_usage"}


def test_plot_history_ignores_unknown_keys_and_empty_curves():
    figure = plot_history({"ssim": [0.1, 0.2], "loss": [], "learning_rate": [1e-3]})
    assert [ax.get_title() for ax in figure.axes] == ["SSIM"]


@pytest.mark.parametrize(
    "history, error, match",
    [
        ([0.5, 0.4], TypeError, "dict of per-epoch lists"),
        ({}, ValueError, "found no curves"),
        ({"learning_rate": [0.1]}, ValueError, "found no curves"),
        ({"loss": []}, ValueError, "found no curves"),
        ({"loss": [0.5, float("nan")]}, ValueError, "finite numbers"),
        ({"loss": [[0.5, 0.4]]}, ValueError, "flat list"),
        ({"loss": 0.5}, ValueError, "flat list"),
        ({"ssim": ["high"]}, ValueError, "finite numbers"),
        ({"ssim": [0.5, [0.4]]}, ValueError, "finite numbers"),
    ],
    ids=[
        "not-a-dict",
        "empty",
        "unknown-keys",
        "empty-curve",
        "nan",
        "nested",
        "scalar",
        "text",
        "ragged",
    ],  # fmt: skip
)
def test_plot_history_rejects_bad_histories(history, error, match):
    with pytest.raises(error, match=match):
        plot_history(history)


# -------------------------------------------------------------------- codes
def test_plot_code_maps_shows_one_row_per_level(codes, tmp_path):
    top, bottom = codes
    figure = plot_code_maps(top, bottom, n_images=4, path=tmp_path / "codes.png")
    assert len(figure.axes) == 8
    shapes = [ax.images[0].get_array().shape for ax in figure.axes]
    assert shapes == [(4, 4)] * 4 + [(8, 8)] * 4
    assert_saved_png(tmp_path / "codes.png")


def test_plot_code_maps_gives_one_code_one_colour_across_images(codes):
    top, bottom = codes
    figure = plot_code_maps(top, bottom, n_images=3)
    shown = np.stack([ax.images[0].get_array() for ax in figure.axes[3:]])
    # the colours are the codes' ranks: equal codes, equal colours, order kept
    _, ranks = np.unique(bottom[:3], return_inverse=True)
    np.testing.assert_array_equal(shown, ranks.reshape(shown.shape))


def test_plot_code_maps_spreads_the_codes_over_any_colormap(codes):
    top, bottom = codes
    figure = plot_code_maps(top, bottom, n_images=2, cmap="gray")
    for ax, level in zip(figure.axes[::2], (top[:2], bottom[:2]), strict=True):
        assert ax.images[0].get_clim() == (0, max(len(np.unique(level)) - 1, 1))


def test_plot_code_maps_can_show_the_images_above(codes, images):
    top, bottom = codes
    figure = plot_code_maps(top, bottom, images=images[:6], n_images=2)
    assert len(figure.axes) == 6
    np.testing.assert_allclose(figure.axes[0].images[0].get_array(), images[0, ..., 0])


def test_plot_code_maps_shows_at_most_the_maps_given(codes):
    top, bottom = codes
    assert len(plot_code_maps(top[:2], bottom[:2], n_images=4).axes) == 4


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda t, b: (t + 0.5, b), TypeError, "integer top codes; got dtype float"),
        (
            lambda t, b: (t, b[0]),
            ValueError,
            r"bottom codes as integer maps .*\(8, 8\)",
        ),
        (lambda t, b: (t - 100, b), ValueError, r"top codes in \[0, 2\*\*31\)"),
        (lambda t, b: (t, b[:2]), ValueError, "same number"),
        (lambda t, b: (t[:1], b[:0]), ValueError, "bottom codes as integer maps"),
    ],
    ids=["fractional-codes", "2d-map", "negative", "different-lengths", "empty"],
)
def test_plot_code_maps_rejects_bad_codes(codes, change, error, match):
    with pytest.raises(error, match=match):
        plot_code_maps(*change(*codes))


def test_plot_code_maps_takes_whole_float_codes_like_integers(codes):
    top, bottom = codes
    as_floats = plot_code_maps(top.astype(float), bottom.astype(float), n_images=1)
    as_ints = plot_code_maps(top, bottom, n_images=1)
    np.testing.assert_array_equal(
        as_floats.axes[0].images[0].get_array(), as_ints.axes[0].images[0].get_array()
    )


@pytest.mark.parametrize("n_images", [0, -1, 2.5, True], ids=str)
def test_plot_code_maps_rejects_a_bad_n_images(codes, n_images):
    with pytest.raises(ValueError, match="n_images to be an int >= 1"):
        plot_code_maps(*codes, n_images=n_images)


def test_plot_codebook_usage_counts_every_code(fitted, codes, tmp_path):
    top, bottom = codes
    path = tmp_path / "usage.png"
    figure = plot_codebook_usage(
        top, bottom, fitted.n_top_codes_, fitted.n_bottom_codes_, path=path
    )
    assert len(figure.axes) == 2
    for ax, level in zip(figure.axes, (top, bottom), strict=True):
        heights = [bar.get_height() for bar in ax.patches]
        assert len(heights) == 16 and sum(heights) == level.size
        used = codebook_usage(level, 16)
        assert f"{round(used * 16)}/16 codes used ({used:.0%})" in ax.get_title()
        assert f"perplexity {perplexity(level, 16):.2f}" in ax.get_title()
    assert_saved_png(path)


@pytest.mark.parametrize(
    "sizes, match",
    [
        ((4, 16), r"top codes in \[0, 4\) for n_top_codes=4"),
        ((16, 0), "n_bottom_codes to be an int >= 1"),
        ((16.0, 16), "n_top_codes to be an int >= 1"),
    ],
    ids=["code-too-large", "zero-size", "float-size"],
)
def test_plot_codebook_usage_rejects_bad_sizes(sizes, match):
    top = np.full((1, 4, 4), 10)
    bottom = np.full((1, 8, 8), 3)
    with pytest.raises(ValueError, match=match):
        plot_codebook_usage(top, bottom, *sizes)


# ------------------------------------------------------------ interpolation
def test_plot_interpolation_runs_from_one_reconstruction_to_the_other(
    fitted, images, tmp_path
):
    a, b = images[5], images[45]
    path = tmp_path / "interpolation.png"
    figure = plot_interpolation(fitted, a, b, n_steps=5, path=path)
    assert len(figure.axes) == 7
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["a", "t=0.00", "t=0.25", "t=0.50", "t=0.75", "t=1.00", "b"]
    frames = [ax.images[0].get_array() for ax in figure.axes]
    ends = fitted.reconstruct(np.stack([a, b]))[..., 0]
    np.testing.assert_allclose(frames[1], ends[0], atol=1e-5)
    np.testing.assert_allclose(frames[5], ends[1], atol=1e-5)
    np.testing.assert_allclose(frames[0], a[..., 0])
    assert_saved_png(path, min_std=5.0)


def test_interpolated_codes_start_and_end_at_the_images_codes(fitted, images):
    pair = images[[5, 45]]
    weights = np.linspace(0, 1, 6)
    top, bottom = _interpolated_codes(fitted, pair, weights)
    assert top.shape == (6, 4, 4) and bottom.shape == (6, 8, 8)
    assert top.dtype == np.int32 and 0 <= top.min() and top.max() < 16
    expected_top, expected_bottom = fitted.encode(pair)
    np.testing.assert_array_equal(top[[0, -1]], expected_top)
    np.testing.assert_array_equal(bottom[[0, -1]], expected_bottom)


def test_plot_interpolation_accepts_2d_and_uint8_slices(fitted, images):
    a = (images[5, ..., 0] * 255).round().astype(np.uint8)
    figure = plot_interpolation(fitted, a, images[45], n_steps=2)
    assert len(figure.axes) == 4
    np.testing.assert_allclose(
        figure.axes[0].images[0].get_array(), images[5, ..., 0], atol=1 / 255
    )


@pytest.mark.parametrize(
    "pair, n_steps, match",
    [
        (lambda x: (x[0], x[1]), 1, "n_steps >= 2"),
        (lambda x: (x[0], x[1]), 0, "n_steps to be an int >= 1"),
        (lambda x: (x[:2], x[1]), 4, r"image_a to be one slice .* \(2, 32, 32, 1\)"),
        (lambda x: (x[0], x[1, :16]), 4, "two slices of one size"),
    ],
    ids=["one-step", "zero-steps", "a-batch", "different-sizes"],
)
def test_plot_interpolation_rejects_bad_input(fitted, images, pair, n_steps, match):
    with pytest.raises(ValueError, match=match):
        plot_interpolation(fitted, *pair(images), n_steps=n_steps)


def test_plot_interpolation_needs_slices_of_the_fitted_size(fitted, images):
    small = images[:2, :16, :16]
    with pytest.raises(ValueError, match="expected images of 32x32 pixels"):
        plot_interpolation(fitted, small[0], small[1])


def test_plot_interpolation_needs_a_fitted_estimator(images):
    with pytest.raises(NotFittedError):
        plot_interpolation(VQVAE2Estimator(**TINY), images[0], images[1])


# ----------------------------------------------------------- image figures
def test_plot_reconstructions_and_image_grid_save_real_pngs(images, tmp_path):
    figure = plot_reconstructions(
        images[:5], images[:5], scores=np.ones(5), path=tmp_path / "r.png"
    )
    assert len(figure.axes) == 10
    assert_saved_png(tmp_path / "r.png")
    figure = plot_image_grid(images[:6], n_cols=4, path=tmp_path / "g.png")
    assert len(figure.axes) == 8  # two rows of four; the last two stay empty
    assert_saved_png(tmp_path / "g.png")


def test_plot_reconstructions_rejects_mismatched_shapes(images):
    with pytest.raises(ValueError, match="of the same shape"):
        plot_reconstructions(images[:3], images[:2])


# ------------------------------------------------------- nearest training slices
def _pairs(n, shape=(8, 8), seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, *shape)), rng.random((n, *shape))


@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("channel", [False, True], ids=["2d", "with-channel"])
def test_plot_nearest_training_slices_puts_each_sample_above_its_match(n, channel):
    samples, nearest = _pairs(n)
    if channel:
        samples = samples[..., None]
    figure = plot_nearest_training_slices(samples, nearest)
    assert len(figure.axes) == 2 * n
    # row by row: the samples, then the nearest training slices
    shown = [np.asarray(ax.get_images()[0].get_array()) for ax in figure.axes]
    for column in range(n):
        np.testing.assert_allclose(shown[column], np.squeeze(samples[column]))
        np.testing.assert_allclose(shown[n + column], nearest[column])
    assert all(ax.get_images()[0].get_clim() == (0, 1) for ax in figure.axes)
    assert figure.axes[0].get_title(loc="left") == "sample"
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert texts == ["nearest training slice"]


def test_plot_nearest_training_slices_writes_scores_and_a_png(tmp_path):
    samples, nearest = _pairs(3, (16, 16))
    figure = plot_nearest_training_slices(
        samples, nearest, scores=[0.912, 0.5, 0.127], path=tmp_path / "nearest.png"
    )
    titles = [ax.get_title() for ax in figure.axes[3:]]
    assert titles == ["SSIM 0.91", "SSIM 0.50", "SSIM 0.13"]
    assert [ax.get_title() for ax in figure.axes[:3]] == ["", "", ""]
    assert_saved_png(tmp_path / "nearest.png")


def test_plot_nearest_training_slices_without_a_path_writes_nothing(tmp_path):
    plot_nearest_training_slices(*_pairs(2))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("nearest_shape", "match"),
    [
        ((2, 8, 8), r"samples of shape \(3, 8, 8\) and nearest slices of shape "),
        ((4, 8, 8), r"one nearest training slice of the same size per sample"),
        ((3, 8, 9), r"nearest slices of shape \(3, 8, 9\)"),
        ((3, 9, 8, 1), r"nearest slices of shape \(3, 9, 8, 1\)"),
    ],
    ids=["fewer", "more", "narrower", "taller-with-channel"],
)
def test_plot_nearest_training_slices_rejects_mismatches(nearest_shape, match):
    with pytest.raises(ValueError, match=match):
        plot_nearest_training_slices(np.zeros((3, 8, 8)), np.zeros(nearest_shape))
