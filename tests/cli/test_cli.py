import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import oasisgen
from oasisgen.cli import main
from oasisgen.cli.demo import DEMO, demo_settings

from ..network import free_ports

TINY = [
    "--image-size", "32", "--epochs", "1", "--num-embeddings", "8", "16",
    "--embedding-dim", "4", "--hidden-channels", "8", "--n-res-blocks", "1",
    "--n-res-channels", "4", "--batch-size", "16", "--quiet",
]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["train", "--data", "sample", "--out", str(out), *TINY]) == 0
    return out


def test_train_writes_model_history_metrics_and_figure(run_dir):
    names = {path.name for path in run_dir.iterdir()}
    assert names == {
        "model",
        "history.json",
        "metrics.json",
        "reconstructions.png",
        "args.json",
        "checkpoints",
    }
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["image_size"] == [32, 32]
    assert metrics["n_train"] == 178 and metrics["n_test"] == 54
    assert 0 < metrics["test_ssim"] <= 1 and metrics["test_psnr"] > 0
    assert metrics["params"]["num_embeddings"] == [8, 16]
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["loss"]) == 1
    model = oasisgen.load(run_dir / "model")
    assert model.image_shape_ == (32, 32)


def test_the_figure_is_a_real_png(run_dir):
    from PIL import Image

    with Image.open(run_dir / "reconstructions.png") as image:
        pixels = np.asarray(image.convert("L"))
    assert image.format == "PNG" and pixels.std() > 10


def test_evaluate_prints_the_test_figures(run_dir, capsys):
    assert main(["evaluate", str(run_dir)]) == 0
    output = capsys.readouterr().out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert f"test SSIM {metrics['test_ssim']:.4f}" in output
    assert "54 slices of 32x32" in output


def test_evaluate_writes_its_figures_as_json(run_dir, tmp_path, capsys):
    path = tmp_path / "figures.json"
    assert main(["evaluate", str(run_dir), "--json", str(path)]) == 0
    written = json.loads(path.read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(written) == {"test_ssim", "test_psnr"}
    assert written["test_ssim"] == pytest.approx(metrics["test_ssim"])
    assert f"test SSIM {written['test_ssim']:.4f}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name, message",
    [
        ("kept.json", r"'.*kept\.json' already exists; evaluate writes a new file"),
        ("missing/figures.json", r"the folder '.*missing' does not exist"),
    ],
)
def test_evaluate_refuses_a_json_path_it_cannot_write(run_dir, tmp_path, name, message):
    kept = tmp_path / "kept.json"
    kept.write_text('{"mine": 1}')
    with pytest.raises(SystemExit, match=message):
        main(["evaluate", str(run_dir), "--json", str(tmp_path / name)])
    assert kept.read_text() == '{"mine": 1}'
    assert not (tmp_path / "missing").exists()


def test_train_refuses_to_overwrite_a_run(run_dir):
    before = (run_dir / "metrics.json").read_bytes()
    with pytest.raises(SystemExit, match="--overwrite"):
        main(["train", "--out", str(run_dir), *TINY])
    assert (run_dir / "metrics.json").read_bytes() == before


def test_a_missing_json_file_is_an_error_unless_a_stand_in_is_given(tmp_path):
    from oasisgen.cli._common import read_json, write_json

    with pytest.raises(FileNotFoundError):
        read_json(tmp_path / "metrics.json")
    assert read_json(tmp_path / "metrics.json", missing={}) == {}
    write_json(tmp_path / "metrics.json", {"test_ssim": 0.9})
    assert read_json(tmp_path / "metrics.json", missing={}) == {"test_ssim": 0.9}


def test_overwriting_a_run_removes_what_the_old_run_wrote_and_nothing_else(tmp_path):
    from oasisgen.cli._common import prepare_run_dir

    run = tmp_path / "run"
    written = ["args.json", "metrics.json", "history.json", "report.html"]
    written += ["reconstructions.png", "samples.png", "samples_nearest.png"]
    written += ["samples_levels.png", "generator/estimator.json"]
    written += ["checkpoints/vqvae/state.json", "notes.txt"]
    for name in written:
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text("old")
    prepare_run_dir(run, overwrite=True)
    assert sorted(path.name for path in run.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ("auto", "auto")),
        (["--batch-size", "4", "--learning-rate", "1e-3"], (4, 1e-3)),
        (["--batch-size", "auto", "--learning-rate", "2e-4"], ("auto", 2e-4)),
    ],
)
def test_batch_size_and_learning_rate_take_auto_or_a_number(argv, expected):
    from oasisgen.cli import train
    from oasisgen.cli._common import estimator_params, parse_as

    args = parse_as(train.add_parser, ["train", "--out", "run", *argv])
    params = estimator_params(args)
    assert (params["batch_size"], params["learning_rate"]) == expected


@pytest.mark.parametrize(
    ("name", "flag", "value"),
    [
        ("bottom_code_noise", "--bottom-code-noise", 0.1),
        ("adversarial_loss_weight", "--adversarial-loss-weight", 0.01),
    ],
)
def test_the_decoders_training_options_reach_the_estimator(name, flag, value):
    from oasisgen.cli import train
    from oasisgen.cli._common import estimator_params, parse_as

    for argv, expected in [([], 0.0), ([flag, str(value)], value)]:
        args = parse_as(train.add_parser, ["train", "--out", "run", *argv])
        assert estimator_params(args)[name] == expected


@pytest.mark.parametrize(
    ("name", "flag", "value"),
    [
        ("bottom_code_noise", "--bottom-code-noise", "1"),
        ("adversarial_loss_weight", "--adversarial-loss-weight", "-1"),
    ],
)
def test_a_bad_decoder_training_option_is_refused_before_training(
    tmp_path, capsys, name, flag, value
):
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), "--image-size", "16", "--epochs", "1"]
    assert main([*argv, flag, value]) == 2
    assert f"'{name}' parameter" in capsys.readouterr().err
    assert not (out / "model").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--batch-size", "big"], "expected a whole number of at least 1; got 'big'"),
        (["--batch-size", "0"], "expected a whole number of at least 1; got '0'"),
        (["--learning-rate", "fast"], "expected auto or a float; got 'fast'"),
    ],
)
def test_a_bad_batch_size_or_learning_rate_is_refused_when_parsed(
    argv, message, tmp_path, capsys
):
    with pytest.raises(SystemExit):
        main(["train", "--out", str(tmp_path / "run"), *argv])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_missing_data_path_is_a_clear_error(tmp_path, capsys):
    status = main(["train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert status == 2
    assert "No data at" in capsys.readouterr().err


def test_three_codebook_sizes_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="one size or a top and a bottom size"):
        main(["train", "--out", str(tmp_path / "r"), "--num-embeddings", "1", "2", "3"])


@pytest.mark.parametrize(
    "values, expected",
    [([64], (64, 64)), ([64, 32], (64, 32)), (64, (64, 64))],  # 64: an old args.json
)
def test_a_prior_option_gives_the_top_and_the_bottom_value(values, expected):
    from oasisgen.cli._common import per_prior

    assert per_prior(values, "--prior-hidden-channels") == expected


def test_the_former_prior_channels_flag_works_with_a_warning(capsys):
    from oasisgen.cli import train_prior
    from oasisgen.cli._common import parse_as

    argv = ["train-prior", "run", "--prior-channels", "8", "4"]
    args = parse_as(train_prior.add_parser, argv)
    assert args.prior_hidden_channels == [8, 4]
    assert "--prior-channels is deprecated" in capsys.readouterr().err


def test_a_run_saved_before_the_rename_resumes_with_its_prior_channels(tmp_path):
    from oasisgen.cli.train import _saved_namespace

    args = _saved_namespace({"out": str(tmp_path), "prior_channels": [8, 4]})
    assert args.prior_hidden_channels == [8, 4]


@pytest.mark.parametrize(
    "option",
    ["--prior-hidden-channels", "--prior-learning-rate", "--sample-temperature"],
)
def test_three_values_of_a_prior_option_are_refused_before_training(
    tmp_path, capsys, option
):
    argv = ["train", "--out", str(tmp_path / "r"), *TINY, "--priors"]
    with pytest.raises(SystemExit):
        main([*argv, option, "1", "2", "3"])
    assert f"{option} takes one value for both priors or a top and a bottom" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--checkpoint-every", "0", "at least 1; got '0'"),
        ("--keep-checkpoints", "two", "at least 1; got 'two'"),
        ("--bottom-stride", "8", "invalid choice: 8 (choose from 4, 2)"),
        ("--prior-condition-layers", "0", "at least 1; got '0'"),
    ],
)
def test_a_bad_option_value_is_refused_before_anything_runs(
    tmp_path, capsys, option, value, expected
):
    with pytest.raises(SystemExit):
        main(["train", "--out", str(tmp_path / "r"), *TINY, option, value])
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_the_commands_offer_the_models_bottom_strides():
    from oasisgen.cli._common import BOTTOM_STRIDES
    from oasisgen.nn.vqvae2 import BOTTOM_STRIDES as MODEL_STRIDES

    assert BOTTOM_STRIDES == MODEL_STRIDES


def test_the_commands_offer_the_priors_scan_orders():
    from oasisgen import PixelCNNPrior
    from oasisgen.cli._common import SCAN_ORDERS

    (options,) = PixelCNNPrior._parameter_constraints["scan_order"]
    assert set(SCAN_ORDERS) == options.options
    assert SCAN_ORDERS[0] == PixelCNNPrior().scan_order  # the default first


def test_an_invalid_parameter_is_reported(tmp_path, capsys):
    argv = ["train", "--out", str(tmp_path / "r"), *TINY, "--learning-rate", "-1"]
    assert main(argv) == 2
    assert "'learning_rate' parameter" in capsys.readouterr().err


PRIORS = [
    "--prior-epochs", "1", "--prior-layers", "1", "--prior-hidden-channels", "8",
    "--prior-kernel-size", "3", "--prior-batch-size", "32",
]  # fmt: skip


def test_an_unknown_scan_order_is_refused_before_training(run_dir, capsys):
    argv = ["train-prior", str(run_dir), *PRIORS, "--prior-scan-order", "sideways"]
    with pytest.raises(SystemExit):
        main(argv)
    assert "expected one of top_down, bottom_up; got 'sideways'" in (
        capsys.readouterr().err
    )
    assert not (run_dir / "generator").exists()


def test_sample_without_priors_says_how_to_train_them(run_dir, capsys):
    assert main(["sample", str(run_dir)]) == 2
    assert "oasisgen train-prior" in capsys.readouterr().err


def test_train_prior_then_sample(run_dir, tmp_path):
    out = shutil.copytree(run_dir, tmp_path / "run")  # train-prior writes into it
    mirror = ["--prior-mirror-context", "bottom", "--prior-condition-layers", "2"]
    per_level = ["--prior-hidden-channels", "8", "4", "--prior-layers", "1", "2"]
    per_level += ["--prior-attention-layers", "1", "0"]
    per_level += ["--prior-scan-order", "bottom_up", "top_down"]
    argv = ["train-prior", str(out), *PRIORS, *per_level, *mirror, "--quiet"]
    assert main(argv) == 0
    generator = oasisgen.load(out / "generator")
    assert not generator.top_prior_.mirror_context
    assert generator.bottom_prior_.mirror_context
    top, bottom = generator.top_prior_, generator.bottom_prior_
    assert (top.hidden_channels, top.n_layers) == (8, 1)
    assert (bottom.hidden_channels, bottom.n_layers) == (4, 2)
    assert (top.condition_layers, bottom.condition_layers) == (1, 2)
    assert (top.attention_layers, bottom.attention_layers) == (1, 0)
    assert (top.scan_order, bottom.scan_order) == ("bottom_up", "top_down")
    assert top.epochs == bottom.epochs == 1  # one value: both priors
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["top_prior_test_bits_per_code"] > 0
    assert metrics["bottom_prior_test_bits_per_code"] > 0
    assert "test_ssim" in metrics  # merged, not replaced
    npy = tmp_path / "samples.npy"
    png = tmp_path / "samples.png"
    argv = ["sample", str(out), "-n", "3", "--seed", "1", "--out", str(png)]
    assert main([*argv, "--npy", str(npy)]) == 0
    images = np.load(npy)
    assert images.shape == (3, 32, 32, 1) and png.stat().st_size > 1000
    again = tmp_path / "again.npy"
    assert main([*argv, "--npy", str(again)]) == 0
    np.testing.assert_array_equal(np.load(again), images)


@pytest.mark.parametrize("image_size", [64, 128, 256])
def test_the_demos_top_prior_sees_its_whole_grid(image_size):
    # a top grid of image_size / 8 codes a side; 8 gated layers see
    # 9 * (kernel_size // 2) rows above a code, and attention all of them
    settings = demo_settings(image_size)
    per_prior = [
        value if isinstance(value, list) else [value]
        for value in (settings["prior_kernel_size"], settings["prior_layers"])
    ]
    (kernel, *_), (layers, *_) = per_prior
    attention = settings.get("prior_attention_layers", [0])[0]
    assert attention > 0 or (layers + 1) * (kernel // 2) >= image_size // 8
    assert settings["image_size"] == image_size


@pytest.mark.parametrize("image_size", [64, 128])
def test_the_demo_trains_with_its_settings(image_size):
    from oasisgen.cli import demo, train
    from oasisgen.cli._common import parse_as

    demo_args = parse_as(demo.add_parser, ["demo", "--image-size", str(image_size)])
    args = parse_as(train.add_parser, demo.train_argv(demo_args))
    assert args.priors and args.data == "sample" and args.overwrite
    for name, value in demo_settings(image_size).items():
        expected = value if isinstance(value, list | bool) else [value]
        got = getattr(args, name)
        assert (got if isinstance(got, list | bool) else [got]) == expected, name


@pytest.mark.slow
def test_demo_trains_the_model_and_priors_and_samples(tmp_path, monkeypatch):
    # XLA is the demo's, tested above and in test_prior; compiling the two
    # priors would take most of this test's time on 2 cores
    monkeypatch.setitem(DEMO, "prior_jit_compile", False)
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--epochs", "1", "--prior-epochs", "1"]
    argv += ["--image-size", "16"]  # the demo's steps on the smallest slices
    assert main([*argv, "--eval-samples", "16", "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and metrics["data"] == "sample"
    for name in (
        "bottom_stride",
        "top_reconstruction_weight",
        "gradient_loss_weight",
        "bottom_code_noise",
        "adversarial_loss_weight",
    ):
        assert metrics["params"][name] == DEMO[name]
    generator = oasisgen.load(out / "generator")
    assert generator.bottom_prior_.condition_layers == DEMO["prior_condition_layers"]
    written = {p.name for p in out.iterdir()}
    assert {"model", "generator", "samples.png", "samples_levels.png"} <= written
    assert "samples_nearest.png" in written
    quality = metrics["sample_quality"]
    assert quality["n_samples"] == 16 and quality["sampled_at_real_positions"]
    assert 0 <= quality["two_sample_accuracy_real"] <= 1


@pytest.fixture(scope="module")
def run_with_heldout(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "heldout"
    argv = ["train", "--out", str(out), *TINY, "--priors", *PRIORS]
    extra = ["--heldout-fraction", "0.25", "--prior-augment", "1", "--eval-samples"]
    assert main([*argv, *extra, "12", "--sample-temperature", "0.7", "0.9"]) == 0
    return out


def test_a_heldout_run_measures_its_samples(run_with_heldout):
    metrics = json.loads((run_with_heldout / "metrics.json").read_text())
    quality = metrics["sample_quality"]
    assert quality["n_samples"] == 12
    assert quality["n_real"] == 16 + 16 + 14  # a quarter of each person's slices
    assert metrics["n_train"] == 178 - 46
    assert (run_with_heldout / "samples_nearest.png").stat().st_size > 1000
    assert "nearest_index" not in quality


def test_evaluate_samples_again_gives_the_same_figures(run_with_heldout, capsys):
    from oasisgen.cli import evaluate
    from oasisgen.cli._common import parse_as

    argv = ["evaluate", str(run_with_heldout), "--samples", "--eval-samples", "12"]
    figures = evaluate.run(parse_as(evaluate.add_parser, argv))
    assert "two-sample accuracy" in capsys.readouterr().out
    saved = json.loads((run_with_heldout / "metrics.json").read_text())
    again, before = figures["sample_quality"], saved["sample_quality"]
    assert again["temperature"] == [0.7, 0.9]  # the run's own, unless told
    assert again.keys() == before.keys()
    for name, value in again.items():
        if isinstance(value, float):
            assert value == pytest.approx(before[name]), name
        else:
            assert value == before[name], name


def test_evaluate_samples_with_the_linear_two_sample_test(run_with_heldout, tmp_path):
    from oasisgen.cli import evaluate
    from oasisgen.cli._common import parse_as

    run = shutil.copytree(run_with_heldout, tmp_path / "run")
    before = json.loads((run / "metrics.json").read_text())["sample_quality"]
    argv = ["evaluate", str(run), "--samples", "--eval-samples", "12"]
    linear = evaluate.run(
        parse_as(evaluate.add_parser, [*argv, "--classifier", "linear"])
    )["sample_quality"]
    # the same samples, another classifier: the other figures do not move
    assert linear["shape_plausibility"] == before["shape_plausibility"]
    assert linear["pairwise_ssim"] == pytest.approx(before["pairwise_ssim"])
    for name in ("two_sample_accuracy", "two_sample_accuracy_reconstructed"):
        assert 0 <= linear[name] <= 1
    assert linear["two_sample_accuracy"] != before["two_sample_accuracy"]


def test_evaluate_refuses_an_unknown_classifier(run_with_heldout, capsys):
    argv = ["evaluate", str(run_with_heldout), "--samples", "--classifier", "svm"]
    with pytest.raises(SystemExit):
        main(argv)
    assert "invalid choice: 'svm'" in capsys.readouterr().err


def test_evaluate_samples_at_the_temperature_it_is_told(run_with_heldout, tmp_path):
    from oasisgen.cli import evaluate
    from oasisgen.cli._common import parse_as

    run = shutil.copytree(run_with_heldout, tmp_path / "run")
    argv = ["evaluate", str(run), "--samples", "--eval-samples", "12"]
    told = evaluate.run(
        parse_as(evaluate.add_parser, [*argv, "--sample-temperature", "0.5"])
    )
    assert told["sample_quality"]["temperature"] == [0.5, 0.5]


def test_evaluate_samples_needs_heldout_slices(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--samples"]) != 0
    assert "--heldout-fraction" in capsys.readouterr().err


def test_sample_at_a_slice_position(run_with_heldout, tmp_path):
    npy = tmp_path / "low.npy"
    argv = ["sample", str(run_with_heldout), "-n", "2", "--slice-position", "0.2"]
    assert main([*argv, "--npy", str(npy), "--out", str(tmp_path / "low.png")]) == 0
    assert np.load(npy).shape == (2, 32, 32, 1)
    assert main([*argv[:-1], "1.5", "--out", str(tmp_path / "bad.png")]) != 0


def test_report_writes_an_html_page(run_dir):
    assert main(["report", str(run_dir)]) == 0
    page = (run_dir / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page


SEARCH = """
estimator = "VQVAE2Estimator"
cv = 2
[data]
source = "sample"
image_size = 16
max_slices = 8
[params]
embedding_dim = 4
hidden_channels = 8
n_res_blocks = 1
n_res_channels = 4
epochs = 1
[grid]
num_embeddings = [[8, 16]]
"""


def test_search_writes_the_results_and_the_best_model(tmp_path, capsys):
    (tmp_path / "search.toml").write_text(SEARCH)
    out = tmp_path / "search"
    argv = ["search", str(tmp_path / "search.toml"), "--out", str(out)]
    assert main([*argv, "--n-jobs", "1", "--quiet"]) == 0
    assert "oasisgen: best score" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {
        "cv_results.csv",
        "best_model",
        "search.json",
    }
    assert oasisgen.load(out / "best_model").n_top_codes_ == 8


@pytest.mark.parametrize(
    "text, argv, status, message",
    [
        (
            SEARCH.replace("epochs = 1", "epoks = 1"),
            [],
            2,
            "'epoks'",
        ),
        (
            SEARCH,
            ["--scheduler", "tcp://127.0.0.1:{port}", "--timeout", "1"],
            1,
            "127.0.0.1:{port}",
        ),
    ],
    ids=["unknown-parameter", "unreachable-scheduler"],
)
def test_search_errors_name_the_problem_and_write_nothing(
    tmp_path, capsys, text, argv, status, message
):
    (port,) = free_ports()
    (tmp_path / "search.toml").write_text(text)
    out = tmp_path / "search"
    argv = [arg.format(port=port) for arg in argv]
    argv = ["search", str(tmp_path / "search.toml"), "--out", str(out), *argv]
    assert main(argv) == status
    error = capsys.readouterr().err
    assert error.startswith("oasisgen search: error:")
    assert message.format(port=port) in error
    assert not out.exists()


def test_python_dash_m_oasisgen_runs_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "oasisgen", "train", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--bottom-code-noise" in result.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "oasisgen", "nonsense"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "invalid choice: 'nonsense'" in bad.stderr
