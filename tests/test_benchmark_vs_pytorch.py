"""The driver of benchmarks/vs_pytorch.py: options, workers' commands, summary.

The driver itself needs neither TensorFlow nor PyTorch; only the last tests touch
the PyTorch model, and they skip where PyTorch is not installed (it never is in
oasisgen's own environment).
"""

import ast
import doctest
import sys

import pytest

from .benchmark_modules import BENCHMARKS, load_benchmark

vs = load_benchmark("vs_pytorch")


def _counts(trainable_sizes, state_by_name):
    return {
        "trainable": sum(trainable_sizes),
        "trainable_sizes": sorted(trainable_sizes),
        "state": sum(state_by_name.values()),
        "state_by_name": state_by_name,
    }


def _run(variant, round_index, rate, size=128):
    return {
        "variant": variant,
        "round": round_index,
        "image_size": size,
        **{key: rate for key in vs.MEASURES.values()},
    }


def test_doctests():
    assert doctest.testmod(vs).failed == 0


def test_defaults_give_one_steps_value_per_size():
    args = vs.parse_args([])
    assert args.image_sizes == [128, 256]
    assert args.steps == [4, 4]
    assert args.rounds == 2 and args.batch_size == 16 and args.threads == 2
    assert args.torch_variants == ["pytorch", "pytorch-passive"]
    assert vs.parse_args(["--steps", "8", "3"]).steps == [8, 3]


@pytest.mark.parametrize(
    "argv",
    [
        ["--steps", "1", "2", "3"],
        ["--image-sizes", "100"],
        ["--rounds", "0"],
        ["--torch-variants", "jax"],
    ],
)
def test_bad_options_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        vs.parse_args(argv)


def test_worker_commands(monkeypatch, tmp_path):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    args = vs.parse_args(["--torch-python", str(tmp_path / "python")])
    data = tmp_path / "slices.npy"

    argv, env = vs.worker_command("oasisgen", args, data)
    assert argv[:4] == [
        sys.executable,
        str(BENCHMARKS / "vs_pytorch.py"),
        "--worker",
        "tf",
    ]
    assert argv[-2:] == ["--data", str(data)]
    assert env["PYTHONPATH"].split(":")[0] == str(BENCHMARKS.parent)
    assert env["TF_NUM_INTRAOP_THREADS"] == "2"
    assert env["TF_NUM_INTEROP_THREADS"] == "1"
    assert "OMP_WAIT_POLICY" not in env

    argv, env = vs.worker_command("pytorch", args, None)
    assert argv[:2] == [str(tmp_path / "python"), str(BENCHMARKS / "_torch_vqvae2.py")]
    assert argv[-1] == "--params-only"
    assert "OMP_WAIT_POLICY" not in env  # PyTorch's defaults
    assert argv[argv.index("--threads") + 1] == "2"

    _, env = vs.worker_command("pytorch-passive", args, data)
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"


def test_worker_options_are_those_of_the_torch_worker():
    # Read the PyTorch worker's options from its source: importing it needs torch.
    tree = ast.parse((BENCHMARKS / "_torch_vqvae2.py").read_text())
    torch_options = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", "") == "add_argument"
    }
    shared = vs.model_options(vs.parse_args([]))[::2]
    assert set(shared) <= torch_options


def test_parse_worker_output_takes_the_last_json_line():
    stdout = 'loading\n{"a": 1}\nnoise\n{"b": 2}\n'
    assert vs.parse_worker_output(stdout) == {"b": 2}
    with pytest.raises(ValueError, match="no JSON"):
        vs.parse_worker_output("Traceback ...\n")


def test_parameter_check_accepts_only_the_restart_counters():
    ours = _counts([10, 20], {"q/embeddings": 8, "q/steps_unused": 2})
    theirs = _counts([20, 10], {"q.codebook": 8})
    same, lines = vs.check_parameters(ours, theirs)
    assert same
    assert "oasisgen 30, PyTorch 30" in lines[0]
    assert "by design" in lines[-1]

    same, lines = vs.check_parameters(ours, _counts([10, 21], {"q.codebook": 8}))
    assert not same and "architectures differ" in " ".join(lines)

    same, lines = vs.check_parameters(ours, _counts([5, 25], {"q.codebook": 8}))
    assert not same and "tensors differ" in " ".join(lines)

    same, lines = vs.check_parameters(ours, _counts([10, 20], {"q.codebook": 7}))
    assert not same and "differs by 3" in " ".join(lines)


def test_summary_medians_and_paired_ratios():
    runs = [
        _run("oasisgen", 0, 3.0),
        _run("pytorch", 0, 1.0),
        _run("pytorch-passive", 0, 6.0),
        _run("oasisgen", 1, 5.0),
        _run("pytorch", 1, 2.0),
        _run("pytorch-passive", 1, 10.0),
        _run("oasisgen", 2, 4.0),
        _run("pytorch", 2, 4.0),
        _run("pytorch-passive", 2, 8.0),
    ]
    rows = vs.summarise(runs)
    assert [(r["measure"], r["variant"]) for r in rows] == [
        (measure, variant)
        for measure in vs.MEASURES
        for variant in ("pytorch", "pytorch-passive")
    ]
    default, passive = rows[:2]
    assert (default["oasisgen"], default["pytorch"]) == (4.0, 2.0)
    assert default["ratio"] == 2.0
    assert default["round_ratios"] == [3.0, 2.5, 1.0]
    assert passive["ratio"] == 0.5
    table = vs.format_table(rows)
    assert table.count("\n") == len(rows) + 1
    assert "| 128 | train | OMP_WAIT_POLICY=PASSIVE | 4.00 | 8.00 | **0.50** |" in table


def test_summary_leaves_out_what_did_not_run():
    runs = [_run("oasisgen", 0, 2.0, size=64), _run("pytorch", 1, 1.0, size=64)]
    rows = vs.summarise(runs)
    assert {r["variant"] for r in rows} == {"pytorch"}
    assert rows[0]["round_ratios"] == []  # never in the same round
    assert vs.summarise([_run("oasisgen", 0, 2.0)]) == []


def test_rounds_alternate_the_order():
    variants = ["oasisgen", "pytorch", "pytorch-passive"]
    assert vs.round_order(variants, 0) == variants
    assert vs.round_order(variants, 1) == variants[::-1]
    assert vs.round_order(variants, 2) == variants


def test_missing_torch_environment_says_how_to_make_it(tmp_path):
    with pytest.raises(SystemExit, match="pip install torch==2.13.0"):
        vs.main(["--torch-python", str(tmp_path / "none")])


def test_torch_model_matches_the_shapes_and_trains():
    pytest.importorskip("torch")
    import numpy as np

    torch_model = load_benchmark("_torch_vqvae2")
    model = torch_model.VQVAE2(
        hidden=8, n_res_blocks=1, res_channels=4, embedding_dim=4, n_codes=16
    )
    counts = torch_model.count_parameters(model)
    assert counts["state"] == 2 * (16 * 4 + 16 + 16 * 4)
    images = torch_model.torch.from_numpy(
        np.random.default_rng(0).random((4, 1, 16, 16), dtype=np.float32)
    )
    optimizer = torch_model.torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch_model.torch.Generator().manual_seed(0)
    steps = torch_model.train_epoch(model, optimizer, images, 2, generator)
    assert len(steps) == 2
    assert torch_model.reconstruct(model, images, 2).shape == (4, 1, 16, 16)
