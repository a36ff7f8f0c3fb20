r"""oasisgen's VQ-VAE-2 against a PyTorch model of the reference's architecture.

Trains oasisgen's :class:`~oasisgen.VQVAE2Estimator` and a PyTorch
re-implementation of rosinality/vq-vae-2-pytorch's ``VQVAE``
(``_torch_vqvae2.py``, same layers, same parameter count) side by side, and
prints the ratio of their training and reconstruction throughputs (images per
second) at each image size.

Every measurement is a fresh worker process with 2 threads (TensorFlow:
``TF_NUM_INTRAOP_THREADS=2``, ``TF_NUM_INTEROP_THREADS=1``; PyTorch:
``torch.set_num_threads(2)``, ``torch.set_num_interop_threads(1)``). The driver
runs them one after the other, alternating the frameworks and reversing their
order every round, so that a change of the machine's load touches both; the
figures are medians over the rounds. Each worker builds the model, trains
``--warmup-steps`` steps (for oasisgen: a first ``fit``, which traces the
step), then times one epoch of ``--steps`` steps of ``--batch-size`` slices
(oasisgen: one ``fit`` call, as a user would make it; PyTorch: the reference's
loop over a shuffled epoch) and the median of ``--repeats`` reconstructions of
the same slices (oasisgen: ``reconstruct``; PyTorch: the model in eval mode
under ``torch.inference_mode``, clipped to [0, 1]), after one untimed call.

PyTorch runs twice per round: with OpenMP's defaults, and with
``OMP_WAIT_POLICY=PASSIVE``. On a machine shared with other jobs, the default
(worker threads spin while they wait) makes PyTorch's 2 threads several times
slower; the passive policy lets a waiting thread give up its core.

Before timing, the driver counts both models' parameters and refuses to report
(exit status 2) when the trainable parameters differ, or when their
non-trainable state differs by more than oasisgen's code-restart counters.

PyTorch is never a dependency of oasisgen: it lives in its own environment::

    python3.11 -m venv benchmarks/.venv-torch
    benchmarks/.venv-torch/bin/pip install torch==2.13.0 numpy
    .venv/bin/python benchmarks/vs_pytorch.py --image-sizes 128 256 --rounds 2 \
        --json benchmarks/results/vs_pytorch.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
TORCH_WORKER = BENCHMARKS / "_torch_vqvae2.py"
DEFAULT_TORCH_PYTHON = BENCHMARKS / ".venv-torch" / "bin" / "python"

OASISGEN = "oasisgen"
VARIANTS = {
    OASISGEN: {},
    "pytorch": {},
    "pytorch-passive": {"OMP_WAIT_POLICY": "PASSIVE"},
}
"""Every worker kind and the environment it adds; PyTorch's run _torch_vqvae2."""

MEASURES = {
    "train": "train_images_per_second",
    "train step": "train_step_images_per_second",
    "reconstruct": "reconstruct_images_per_second",
}
"""Table label of each measure and its key in a worker's record."""

RESTART_STATE = "steps_unused"
"""oasisgen's per-code restart counters, which the reference has no use for."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the driver's (or a worker's) options.

    Parameters
    ----------
    argv : list of str, optional
        The command line without the program; ``sys.argv[1:]`` when None.

    Returns
    -------
    args : argparse.Namespace
        With ``steps`` made one value per entry of ``image_sizes``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=[4],
        help="timed training steps per epoch, one value or one per image size; "
        "3 or more, so that the median step leaves out oasisgen's slow first step "
        "of a fit",
    )
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="reconstructions")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--torch-variants",
        nargs="+",
        choices=[name for name in VARIANTS if name != OASISGEN],
        default=[name for name in VARIANTS if name != OASISGEN],
    )
    parser.add_argument("--torch-python", type=Path, default=DEFAULT_TORCH_PYTHON)
    parser.add_argument("--hidden-channels", type=int, default=128)
    parser.add_argument("--n-res-blocks", type=int, default=2)
    parser.add_argument("--n-res-channels", type=int, default=32)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--num-embeddings", type=int, default=512)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--check-params",
        action="store_true",
        help="only count both models' parameters, then stop",
    )
    parser.add_argument("--json", type=Path, help="write every figure here")
    # internal: run as oasisgen's worker process
    parser.add_argument("--worker", choices=["tf"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--params-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if len(args.steps) == 1:
        args.steps = args.steps * len(args.image_sizes)
    if len(args.steps) != len(args.image_sizes):
        parser.error("--steps needs one value, or one per --image-sizes entry")
    if min(args.steps + [args.rounds, args.repeats, args.batch_size]) < 1:
        parser.error("--steps, --rounds, --repeats and --batch-size must be >= 1")
    if any(size % 8 for size in args.image_sizes):
        parser.error("--image-sizes must be multiples of 8")
    return args


# ------------------------------------------------------------------- workers
def model_options(args: argparse.Namespace) -> list[str]:
    """Return the options that every worker shares.

    Parameters
    ----------
    args : argparse.Namespace
        The driver's options.

    Returns
    -------
    options : list of str
    """
    names = (
        "batch_size warmup_steps repeats threads hidden_channels n_res_blocks "
        "n_res_channels embedding_dim num_embeddings learning_rate seed"
    ).split()
    options = []
    for name in names:
        options += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    return options


def worker_command(
    variant: str, args: argparse.Namespace, data: Path | None
) -> tuple[list[str], dict[str, str]]:
    """Return the command line and the environment of one worker process.

    Parameters
    ----------
    variant : str
        A key of :data:`VARIANTS`.
    args : argparse.Namespace
        The driver's options.
    data : path or None
        The ``.npy`` of images to train on; None counts parameters only.

    Returns
    -------
    argv : list of str
    env : dict of str to str
    """
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    env.update(VARIANTS[variant])
    threads = str(args.threads)
    env.update(
        TF_NUM_INTRAOP_THREADS=threads,
        TF_NUM_INTEROP_THREADS="1",
        TF_CPP_MIN_LOG_LEVEL="2",
        OMP_NUM_THREADS=threads,
    )
    if variant == OASISGEN:
        # the checkout's oasisgen, whichever one the environment installed
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        argv = [sys.executable, str(Path(__file__).resolve()), "--worker", "tf"]
    else:
        argv = [str(args.torch_python), str(TORCH_WORKER)]
    argv += model_options(args)
    argv += ["--params-only"] if data is None else ["--data", str(data)]
    return argv, env


def parse_worker_output(stdout: str) -> dict[str, Any]:
    """Return the JSON record that a worker printed on its last JSON line.

    Parameters
    ----------
    stdout : str
        Everything the worker printed.

    Returns
    -------
    record : dict

    Raises
    ------
    ValueError
        If no line is a JSON object.
    """
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError(f"the worker printed no JSON record: {stdout[-500:]!r}")


def _busy_seconds() -> float | None:
    """Return the CPU time the whole machine has spent busy, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    """Return the CPU time of the finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_worker(
    variant: str, args: argparse.Namespace, data: Path | None
) -> dict[str, Any]:
    """Run one worker process and return its record, with what the machine did.

    Besides the worker's own figures, the record holds ``wall_seconds``,
    ``cpu_seconds`` (the worker's CPU time), ``others_cores`` (the CPU time of
    every other process on the machine meanwhile, divided by the wall time) and
    the load averages at its start and end.

    Parameters
    ----------
    variant : str
        A key of :data:`VARIANTS`.
    args : argparse.Namespace
        The driver's options.
    data : path or None
        Images to train on; None counts parameters only.

    Returns
    -------
    record : dict

    Raises
    ------
    RuntimeError
        If the worker fails.
    """
    argv, env = worker_command(variant, args, data)
    load_before = os.getloadavg()
    busy, cpu, started = _busy_seconds(), _children_cpu_seconds(), time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    cpu = _children_cpu_seconds() - cpu
    if done.returncode != 0:
        raise RuntimeError(
            f"{variant} worker failed ({done.returncode}): {shlex.join(argv)}\n"
            f"{done.stderr[-3000:]}"
        )
    record = parse_worker_output(done.stdout)
    after = _busy_seconds()
    others = None if busy is None or after is None else (after - busy - cpu) / wall
    record.update(
        variant=variant,
        wall_seconds=wall,
        cpu_seconds=cpu,
        others_cores=others,
        load_before=load_before,
        load_after=os.getloadavg(),
    )
    return record


# ------------------------------------------------------------ parameter check
def check_parameters(
    oasisgen_counts: dict[str, Any], torch_counts: dict[str, Any]
) -> tuple[bool, list[str]]:
    """Compare the parameter counts of the two models.

    The trainable parameters must be equal in total and tensor by tensor (the
    sorted element counts of every weight). The non-trainable state may differ
    only by oasisgen's code-restart counters (one per code and level), which the
    reference does not have.

    Parameters
    ----------
    oasisgen_counts, torch_counts : dict
        The ``parameters`` records of the two workers: ``trainable``,
        ``trainable_sizes``, ``state`` and ``state_by_name``.

    Returns
    -------
    same : bool
        Whether the architectures match.
    lines : list of str
        Both counts and the explanation of any difference.

    Examples
    --------
    >>> ours = {"trainable": 10, "trainable_sizes": [4, 6], "state": 7,
    ...         "state_by_name": {"q/embeddings": 4, "q/steps_unused": 3}}
    >>> theirs = {"trainable": 10, "trainable_sizes": [4, 6], "state": 4,
    ...           "state_by_name": {"q.codebook": 4}}
    >>> check_parameters(ours, theirs)[0]
    True
    """
    lines = [
        f"trainable parameters: oasisgen {oasisgen_counts['trainable']:,}, "
        f"PyTorch {torch_counts['trainable']:,}",
        f"non-trainable state:  oasisgen {oasisgen_counts['state']:,}, "
        f"PyTorch {torch_counts['state']:,} (buffers)",
    ]
    same = True
    if oasisgen_counts["trainable"] != torch_counts["trainable"]:
        same = False
        lines.append("the trainable parameters differ: the architectures differ")
    elif oasisgen_counts["trainable_sizes"] != torch_counts["trainable_sizes"]:
        same = False
        lines.append("same total, but the weight tensors differ in size")
    restart = sum(
        size
        for name, size in oasisgen_counts["state_by_name"].items()
        if RESTART_STATE in name
    )
    extra = oasisgen_counts["state"] - torch_counts["state"]
    if extra == restart:
        if extra:
            lines.append(
                f"the state differs by design: oasisgen's {restart:,} "
                f"'{RESTART_STATE}' counters (one per code and level) re-seed "
                "codes unused for a while; the reference never re-seeds. Both "
                "keep the codebook, the EMA of the code counts and the EMA of "
                "the code sums."
            )
    else:
        same = False
        lines.append(
            f"the non-trainable state differs by {extra:,}, not by the "
            f"{restart:,} restart counters"
        )
    return same, lines


# ------------------------------------------------------------------- summary
def round_order(variants: list[str], round_index: int) -> list[str]:
    """Return the order of the workers in a round: reversed every other round.

    Parameters
    ----------
    variants : list of str
    round_index : int
        From 0.

    Returns
    -------
    order : list of str

    Examples
    --------
    >>> round_order(["oasisgen", "pytorch"], 0), round_order(["oasisgen", "pytorch"], 1)
    (['oasisgen', 'pytorch'], ['pytorch', 'oasisgen'])
    """
    return list(variants) if round_index % 2 == 0 else list(reversed(variants))


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return one row per image size, measure and PyTorch variant.

    Parameters
    ----------
    runs : list of dict
        Worker records with ``variant``, ``image_size``, ``round`` and the rates
        named in :data:`MEASURES`.

    Returns
    -------
    rows : list of dict
        ``image_size``, ``measure``, ``variant``, ``oasisgen`` and ``pytorch``
        (median images per second over the rounds), ``ratio`` (oasisgen's median
        over PyTorch's: above 1, oasisgen is faster) and ``round_ratios`` (the
        ratio within each round in which both ran).

    Examples
    --------
    >>> runs = [
    ...     {"variant": v, "image_size": 8, "round": r, "train_images_per_second": x,
    ...      "train_step_images_per_second": x, "reconstruct_images_per_second": x}
    ...     for v, r, x in [("oasisgen", 0, 2.0), ("pytorch", 0, 1.0),
    ...                     ("oasisgen", 1, 4.0), ("pytorch", 1, 4.0)]]
    >>> row = summarise(runs)[0]
    >>> row["oasisgen"], row["pytorch"], row["ratio"], row["round_ratios"]
    (3.0, 2.5, 1.2, [2.0, 1.0])
    """
    sizes = sorted({run["image_size"] for run in runs})
    variants = [v for v in VARIANTS if v != OASISGEN]
    variants = [v for v in variants if any(run["variant"] == v for run in runs)]
    rows = []
    for size in sizes:
        at_size = [run for run in runs if run["image_size"] == size]
        for measure, key in MEASURES.items():
            for variant in variants:
                ours = {r["round"]: r[key] for r in at_size if r["variant"] == OASISGEN}
                theirs = {
                    r["round"]: r[key] for r in at_size if r["variant"] == variant
                }
                if not ours or not theirs:
                    continue
                median_ours = statistics.median(ours.values())
                median_theirs = statistics.median(theirs.values())
                rows.append(
                    {
                        "image_size": size,
                        "measure": measure,
                        "variant": variant,
                        "oasisgen": median_ours,
                        "pytorch": median_theirs,
                        "ratio": median_ours / median_theirs,
                        "round_ratios": [
                            ours[r] / theirs[r] for r in sorted(ours) if r in theirs
                        ],
                    }
                )
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """Return the rows as a Markdown table.

    Parameters
    ----------
    rows : list of dict
        As made by :func:`summarise`.

    Returns
    -------
    table : str

    Examples
    --------
    >>> print(format_table([{"image_size": 128, "measure": "train",
    ...     "variant": "pytorch", "oasisgen": 6.0, "pytorch": 3.0, "ratio": 2.0,
    ...     "round_ratios": [1.9, 2.1]}]))
    | size | measure | PyTorch run | oasisgen img/s | PyTorch img/s | ratio | rounds |
    | --- | --- | --- | --- | --- | --- | --- |
    | 128 | train | OpenMP defaults | 6.00 | 3.00 | **2.00** | 1.90, 2.10 |
    """
    labels = {
        "pytorch": "OpenMP defaults",
        "pytorch-passive": "OMP_WAIT_POLICY=PASSIVE",
    }
    header = (
        "size",
        "measure",
        "PyTorch run",
        "oasisgen img/s",
        "PyTorch img/s",
        "ratio",
        "rounds",
    )
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    for row in rows:
        cells = (
            str(row["image_size"]),
            row["measure"],
            labels.get(row["variant"], row["variant"]),
            f"{row['oasisgen']:.2f}",
            f"{row['pytorch']:.2f}",
            f"**{row['ratio']:.2f}**",
            ", ".join(f"{r:.2f}" for r in row["round_ratios"]),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def describe_run(record: dict[str, Any]) -> str:
    """Return one progress line about a finished worker.

    Parameters
    ----------
    record : dict
        As returned by :func:`run_worker` for a timed worker.

    Returns
    -------
    line : str
    """
    others = record.get("others_cores")
    return (
        f"round {record['round'] + 1} {record['image_size']:4d} px "
        f"{record['variant']:16s} train {record['train_images_per_second']:6.2f} "
        f"(step {record['train_step_images_per_second']:6.2f}) reconstruct "
        f"{record['reconstruct_images_per_second']:6.2f} img/s; "
        f"{record['wall_seconds']:5.0f} s, own CPU "
        f"{record['cpu_seconds'] / record['wall_seconds']:.2f} cores, others "
        + ("?" if others is None else f"{others:.2f}")
        + " cores"
    )


# -------------------------------------------------------------------- driver
def write_images(size: int, n_images: int, folder: Path) -> Path:
    """Write ``n_images`` bundled slices of ``size`` px to a ``.npy`` file.

    Parameters
    ----------
    size : int
        Side of the square slices.
    n_images : int
        How many; the 170 bundled slices repeat when more are asked for.
    folder : path
        Where to write.

    Returns
    -------
    path : Path
    """
    import numpy as np

    from oasisgen.datasets import load_sample

    images = load_sample("all", image_size=size)
    images = np.resize(images, (n_images, *images.shape[1:]))  # repeats if short
    path = folder / f"slices_{size}.npy"
    np.save(path, np.ascontiguousarray(images, dtype=np.float32))
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or a worker) and return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The command line without the program.

    Returns
    -------
    status : int
        0, or 2 when the parameter counts differ.
    """
    args = parse_args(argv)
    if args.worker == "tf":
        print(json.dumps(tf_worker(args)), flush=True)
        return 0
    if not args.torch_python.exists():
        sys.exit(
            f"{args.torch_python} does not exist. Make PyTorch's environment first:\n"
            "  python3.11 -m venv benchmarks/.venv-torch\n"
            "  benchmarks/.venv-torch/bin/pip install torch==2.13.0 numpy"
        )
    from _machine import write_record

    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load_before = os.getloadavg()
    print(f"{started}, load average {load_before[0]:.2f} {load_before[1]:.2f}")
    counts = {v: run_worker(v, args, None) for v in (OASISGEN, "pytorch")}
    same, lines = check_parameters(
        counts[OASISGEN]["parameters"], counts["pytorch"]["parameters"]
    )
    print("\n".join(lines), flush=True)
    print(f"oasisgen imported from {counts[OASISGEN]['oasisgen_file']}")
    if not same:
        print("The models differ: no throughput is reported.")
        return 2
    if args.check_params:
        return 0

    variants = [OASISGEN, *args.torch_variants]
    runs = []
    with tempfile.TemporaryDirectory(prefix="vs-pytorch-") as scratch:
        data = {
            size: write_images(size, steps * args.batch_size, Path(scratch))
            for size, steps in zip(args.image_sizes, args.steps, strict=True)
        }
        for round_index in range(args.rounds):
            for size in args.image_sizes:
                for variant in round_order(variants, round_index):
                    record = run_worker(variant, args, data[size])
                    record["round"] = round_index
                    ours = record if variant == OASISGEN else counts[OASISGEN]
                    theirs = counts["pytorch"] if variant == OASISGEN else record
                    same, differences = check_parameters(
                        ours["parameters"], theirs["parameters"]
                    )
                    if not same:
                        print("\n".join(differences))
                        print("The models differ: no throughput is reported.")
                        return 2
                    runs.append(record)
                    print(describe_run(record), flush=True)

    rows = summarise(runs)
    load_after = os.getloadavg()
    finished = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    print()
    print(
        f"images per second, median of {args.rounds} rounds; ratio = oasisgen / "
        "PyTorch (above 1: oasisgen is faster)"
    )
    print(format_table(rows))
    others = [r["others_cores"] for r in runs if r["others_cores"] is not None]
    if others:
        print(
            f"other processes used {min(others):.2f} to {max(others):.2f} cores "
            f"(median {statistics.median(others):.2f}) during the measurements"
        )
    print(f"{finished}, load average {load_after[0]:.2f} {load_after[1]:.2f}")
    record = {
        "started": started,
        "finished": finished,
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "config": {k: str(v) for k, v in vars(args).items()},
        "load_before": load_before,
        "load_after": load_after,
        "parameters": {v: counts[v]["parameters"] for v in counts},
        "parameter_check": lines,
        "versions": {v: counts[v]["versions"] for v in counts},
        "rows": rows,
        "runs": runs,
    }
    write_record(args.json, record)
    return 0


# ------------------------------------------------------------ oasisgen worker
def tf_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Time oasisgen's estimator in this process, as ``_torch_vqvae2`` does PyTorch.

    Parameters
    ----------
    args : argparse.Namespace
        The worker's options (``--data`` or ``--params-only``).

    Returns
    -------
    record : dict
        Versions, threads, parameter counts and, unless ``params_only``, the
        timings and rates.
    """
    # TensorFlow sizes its thread pools when it starts
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(args.threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    import keras
    import numpy as np
    import tensorflow as tf

    import oasisgen
    from oasisgen import VQVAE2Estimator

    class StepTimer(keras.callbacks.Callback):
        """Record the wall time of every training step."""

        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []

        def on_train_batch_begin(self, batch, logs=None) -> None:
            """Start the clock."""
            self._started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None) -> None:
            """Record the step."""
            self.seconds.append(time.perf_counter() - self._started)

    estimator = VQVAE2Estimator(
        num_embeddings=args.num_embeddings,
        embedding_dim=args.embedding_dim,
        hidden_channels=args.hidden_channels,
        n_res_blocks=args.n_res_blocks,
        n_res_channels=args.n_res_channels,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        epochs=1,
        warm_start=True,
        random_state=args.seed,
    )
    batch = args.batch_size
    if args.params_only:
        images = np.zeros((batch, 32, 32, 1), dtype=np.float32)
    else:
        images = np.load(args.data)
    started = time.perf_counter()
    estimator.fit(images[: batch * args.warmup_steps])
    warmup_seconds = time.perf_counter() - started

    model = estimator.model_
    trainable = [int(np.prod(w.shape)) for w in model.trainable_weights]
    state = {w.path: int(np.prod(w.shape)) for w in model.non_trainable_weights}
    record: dict[str, Any] = {
        "framework": "oasisgen",
        "oasisgen_file": oasisgen.__file__,
        "versions": {
            "oasisgen": oasisgen.__version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        # TensorFlow read these when it started; tf.config.threading reports 0
        # for pools sized from the environment
        "threads": {
            "intra_op": int(os.environ["TF_NUM_INTRAOP_THREADS"]),
            "inter_op": int(os.environ["TF_NUM_INTEROP_THREADS"]),
        },
        "parameters": {
            "trainable": sum(trainable),
            "trainable_sizes": sorted(trainable),
            "state": sum(state.values()),
            "state_by_name": state,
        },
    }
    if args.params_only:
        return record

    estimator.set_params(callbacks=[StepTimer()])
    started = time.perf_counter()
    estimator.fit(images)
    epoch_seconds = time.perf_counter() - started
    steps = estimator.callbacks_[0].seconds

    estimator.reconstruct(images)  # warm-up: traces the graph
    recon_seconds = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        estimator.reconstruct(images)
        recon_seconds.append(time.perf_counter() - started)
    record.update(
        image_size=int(images.shape[1]),
        n_images=len(images),
        batch_size=batch,
        warmup_seconds=warmup_seconds,
        train_epoch_seconds=epoch_seconds,
        train_step_seconds=steps,
        reconstruct_seconds=recon_seconds,
        train_images_per_second=len(images) / epoch_seconds,
        train_step_images_per_second=batch / statistics.median(steps),
        reconstruct_images_per_second=len(images) / statistics.median(recon_seconds),
    )
    return record


if __name__ == "__main__":
    sys.exit(main())
