r"""Training from a folder of PNG slices against the same images in memory.

The script writes an OASIS-like folder, ``keras_png_slices_train`` with
``--n-files`` 8-bit grayscale PNGs named ``case_XXX_slice_N.nii.png`` (32 slices
a case), made from the bundled sample's real slices, each shifted and scaled at
random; nothing is downloaded. It then times, in worker processes that take
turns (disk, memory, memory, disk, ...):

- ``load_oasis`` on the whole folder: listing and checking every file;
- one training epoch of :class:`oasisgen.VQVAE2Estimator` (hidden_channels=32,
  n_res_blocks=1, batch_size=32) from the files, streamed by ``load_oasis``'s
  ``SliceDataset``, and one from the same images decoded beforehand into a NumPy
  array. With ``--steps`` the epoch covers ``steps x batch`` files drawn at
  random from the folder (the same for both); ``--steps 0`` trains on all of
  them. Each worker first trains one warm-up epoch of two batches, which builds
  the model and traces its step;
- the peak resident memory of each worker (``ru_maxrss``) and its resident
  memory before and after the timed epoch.

The figure that matters is the ratio of the two rates (disk / memory), measured
in the same run, round after round. On a shared machine, wall-clock rates follow
the other jobs; the CPU time of each epoch per image (and its ratio, memory /
disk) shows what a quiet machine would give. Run it with the benchmarks' thread
settings::

    TF_NUM_INTRAOP_THREADS=2 TF_NUM_INTEROP_THREADS=1 TF_CPP_MIN_LOG_LEVEL=2 \
        python benchmarks/streaming.py --json streaming.json
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

import numpy as np

MODES = ("disk", "memory")
FILES_PER_CASE = 32
_MARKER = "streaming-benchmark.json"  # written beside the folder this script builds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the options; refuse sizes the model cannot take.

    Examples
    --------
    >>> args = parse_args([])
    >>> args.n_files, args.image_size, args.steps, args.rounds
    (10000, 128, 20, 2)
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-files", type=int, default=10000, help="PNGs to write")
    parser.add_argument(
        "--file-size", type=int, default=256, help="side of the PNGs written"
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=128,
        help="side the slices are loaded at (load_oasis's image_size); a multiple "
        "of 8. Equal to --file-size: no resizing",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=20,
        help="batches of the timed epoch (0: every file of the folder)",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="disk/memory pairs")
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=MODES,
        default=list(MODES),
        help="time only these (the ratios need both)",
    )
    parser.add_argument(
        "--folder",
        type=Path,
        default=None,
        help="build the folder here (it must not exist), or reuse one this script "
        "built there before; by default a temporary folder, deleted at the end",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures")
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.n_files < 1 or args.rounds < 1 or args.steps < 0 or args.batch_size < 1:
        parser.error("--n-files, --rounds and --batch-size must be >= 1, --steps >= 0")
    if args.image_size < 8 or args.image_size % 8:
        parser.error("--image-size must be a multiple of 8")
    if args.file_size < 8:
        parser.error("--file-size must be at least 8")
    if args.steps * args.batch_size > args.n_files:
        parser.error("--steps x --batch-size is more than --n-files")
    return args


# ------------------------------------------------------------------ the folder
def file_name(index: int) -> str:
    """Name of the ``index``-th file: 32 slices per case, OASIS style.

    Examples
    --------
    >>> file_name(0), file_name(33)
    ('case_000_slice_0.nii.png', 'case_001_slice_1.nii.png')
    """
    case, number = divmod(index, FILES_PER_CASE)
    return f"case_{case:03d}_slice_{number}.nii.png"


def build_folder(root: Path, n_files: int, file_size: int) -> float:
    """Write the OASIS-like folder under ``root``; return the seconds it took.

    Every file is a real slice of the bundled sample, resized to ``file_size``,
    shifted by up to 6 pixels and scaled in brightness by 0.85 to 1.15, so the
    files differ and compress like MRI slices.
    """
    from PIL import Image

    from oasisgen.datasets import load_sample

    start = time.perf_counter()
    slices = load_sample("all", image_size=file_size)[..., 0]
    rng = np.random.default_rng(0)
    folder = root / "keras_png_slices_train"
    folder.mkdir(parents=True)
    shift = max(1, file_size * 6 // 256)
    for index in range(n_files):
        pixels = slices[(7 * index) % len(slices)] * 255 * rng.uniform(0.85, 1.15)
        pixels = np.roll(pixels, tuple(rng.integers(-shift, shift + 1, 2)), (0, 1))
        image = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
        image.save(folder / file_name(index), compress_level=1)
    return time.perf_counter() - start


def ready_folder(args: argparse.Namespace, scratch: Path) -> tuple[Path, float]:
    """Return the root to load and the seconds spent writing it (0 if reused).

    A ``--folder`` that exists is reused only if this script built it with the
    same ``--n-files`` and ``--file-size``; nothing else is ever written into.
    """
    recipe = {"n_files": args.n_files, "file_size": args.file_size}
    if args.folder is None:
        root = scratch / "oasis"
    else:
        root = args.folder
        marker = root / _MARKER
        if root.exists():
            if marker.is_file() and json.loads(marker.read_text()) == recipe:
                return root, 0.0
            sys.exit(
                f"streaming.py: {root} exists and is not a folder this script built "
                f"with --n-files {args.n_files} --file-size {args.file_size}; give "
                "a new path."
            )
    seconds = build_folder(root, args.n_files, args.file_size)
    (root / _MARKER).write_text(json.dumps(recipe))
    return root, seconds


# ----------------------------------------------------------------- the worker
def rss_mb() -> float:
    """Resident memory of this process now, in MiB (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except OSError:
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def cpu_seconds() -> float:
    """User and system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def chosen_files(n_files: int, steps: int, batch_size: int) -> np.ndarray:
    """Return the sorted indices of the timed epoch's files, the same in every worker.

    Examples
    --------
    >>> chosen_files(100, 2, 4)
    array([ 1,  4,  7, 25, 29, 48, 59, 79])
    >>> len(chosen_files(10, 0, 4))
    10
    """
    if steps == 0:
        return np.arange(n_files)
    rng = np.random.default_rng(0)
    return np.sort(rng.choice(n_files, steps * batch_size, replace=False))


def _rss_trace_class():
    import keras

    class RSSTrace(keras.callbacks.Callback):
        """Record the resident memory every ``every`` batches of an epoch."""

        def __init__(self, every: int = 25) -> None:
            super().__init__()
            self.every = every
            self.trace: list[float] = []

        def on_train_batch_end(self, batch, logs=None) -> None:
            """Sample the resident memory now and then."""
            if batch % self.every == 0:
                self.trace.append(round(rss_mb(), 1))

    return RSSTrace


def run_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Load, warm up, and time one epoch from ``args.worker``'s source."""
    from oasisgen import VQVAE2Estimator
    from oasisgen.datasets import load_oasis

    RSSTrace = _rss_trace_class()  # noqa: N806 - a class

    start = time.perf_counter()
    dataset = load_oasis(args.root, image_size=args.image_size)
    load_seconds = time.perf_counter() - start
    rows = chosen_files(len(dataset), args.steps, args.batch_size)
    timed = dataset.subset(rows)
    warm_up = dataset.subset(rows[: 2 * args.batch_size])
    decode_seconds = 0.0
    if args.worker == "memory":
        start = time.perf_counter()
        timed = timed.to_numpy()
        decode_seconds = time.perf_counter() - start
        warm_up = warm_up.to_numpy()
    estimator = VQVAE2Estimator(
        hidden_channels=32,
        n_res_blocks=1,
        batch_size=args.batch_size,
        epochs=1,
        warm_start=True,
        random_state=0,
    )
    estimator.fit(warm_up)  # builds the model, traces the step
    estimator.set_params(callbacks=[RSSTrace()])
    rss_before, cpu_before = rss_mb(), cpu_seconds()
    start = time.perf_counter()
    estimator.fit(timed)
    seconds = time.perf_counter() - start
    trace = estimator.callbacks_[0].trace
    return {
        "mode": args.worker,
        "n_files_listed": len(dataset),
        "n_images": len(rows),
        "load_oasis_seconds": load_seconds,
        "decode_to_array_seconds": decode_seconds,
        "epoch_seconds": seconds,
        "images_per_second": len(rows) / seconds,
        "epoch_cpu_seconds": cpu_seconds() - cpu_before,
        "rss_before_epoch_mb": rss_before,
        "rss_during_epoch_mb": trace,
        "rss_after_epoch_mb": rss_mb(),
        "peak_rss_mb": peak_rss_mb(),
    }


def worker_command(args: argparse.Namespace, mode: str, root: Path) -> list[str]:
    """Return the command line of one worker process."""
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        mode,
        "--root",
        str(root),
        "--n-files",
        str(args.n_files),
        "--file-size",
        str(args.file_size),
        "--image-size",
        str(args.image_size),
        "--steps",
        str(args.steps),
        "--batch-size",
        str(args.batch_size),
    ]


def run_in_process(args: argparse.Namespace, mode: str, root: Path) -> dict:
    """Run one worker in its own process and return its figures."""
    done = subprocess.run(
        worker_command(args, mode, root), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"streaming.py: the {mode} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ the driver
def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per mode, and the ratio of the rates (disk / memory) per round.

    Examples
    --------
    >>> runs = [
    ...     {"mode": "disk", "round": 0, "images_per_second": 9.0,
    ...      "load_oasis_seconds": 2.0, "peak_rss_mb": 900.0},
    ...     {"mode": "memory", "round": 0, "images_per_second": 10.0,
    ...      "load_oasis_seconds": 2.0, "peak_rss_mb": 800.0},
    ... ]
    >>> summarise(runs)["ratio_disk_to_memory"]
    0.9
    >>> "ratio_disk_to_memory" in summarise(runs[:1])
    False
    """
    summary: dict[str, Any] = {}
    for mode in MODES:
        mine = [run for run in runs if run["mode"] == mode]
        if not mine:
            continue
        summary[mode] = {
            key: statistics.median(run[key] for run in mine)
            for key in ("images_per_second", "load_oasis_seconds")
        }
        summary[mode]["peak_rss_mb"] = max(run["peak_rss_mb"] for run in mine)
        if all("epoch_cpu_seconds" in run for run in mine):
            summary[mode]["cpu_ms_per_image"] = statistics.median(
                1000 * run["epoch_cpu_seconds"] / run["n_images"] for run in mine
            )
    if not all(mode in summary for mode in MODES):
        return summary
    ratios = []
    for round_index in sorted({run["round"] for run in runs}):
        rate = {
            run["mode"]: run["images_per_second"]
            for run in runs
            if run["round"] == round_index
        }
        ratios.append(rate["disk"] / rate["memory"])
    summary["ratios_per_round"] = ratios
    summary["ratio_disk_to_memory"] = statistics.median(ratios)
    if all("cpu_ms_per_image" in summary[mode] for mode in MODES):
        # what the ratio would be on a quiet machine, where the process has its
        # cores to itself and wall-clock time follows CPU time
        summary["cpu_ratio_memory_to_disk"] = (
            summary["memory"]["cpu_ms_per_image"] / summary["disk"]["cpu_ms_per_image"]
        )
    return summary


def report(summary: dict[str, Any], n_files: int) -> str:
    """Return the summary as the lines the script prints."""
    lines = []
    for mode in MODES:
        if mode in summary:
            figures = summary[mode]
            lines.append(
                f"from {mode}: {figures['images_per_second']:.1f} images/s, "
                f"{figures.get('cpu_ms_per_image', float('nan')):.1f} CPU ms per "
                f"image, peak RSS {figures['peak_rss_mb']:.0f} MiB; load_oasis of "
                f"{n_files} files {figures['load_oasis_seconds']:.2f} s (medians)"
            )
    if "ratio_disk_to_memory" in summary:
        per_round = ", ".join(f"{r:.3f}" for r in summary["ratios_per_round"])
        lines.append(
            f"images/s, disk / memory = {summary['ratio_disk_to_memory']:.3f} "
            f"(per round: {per_round})"
        )
    if "cpu_ratio_memory_to_disk" in summary:
        lines.append(
            "CPU time per image, memory / disk = "
            f"{summary['cpu_ratio_memory_to_disk']:.3f}"
        )
    if hasattr(os, "getloadavg"):
        lines.append(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Build the folder, alternate the workers, print and write the figures."""
    args = parse_args(argv)
    if args.worker is not None:
        print(json.dumps(run_worker(args)), flush=True)
        return {}
    from _machine import write_record

    with tempfile.TemporaryDirectory(prefix="streaming-") as scratch:
        root, build_seconds = ready_folder(args, Path(scratch))
        print(
            f"folder: {args.n_files} PNGs of {args.file_size}x{args.file_size} "
            f"written in {build_seconds:.1f} s; training at {args.image_size} px, "
            f"{args.steps or 'all'} steps of {args.batch_size}",
            flush=True,
        )
        runs = []
        for round_index in range(args.rounds):
            modes = [mode for mode in MODES if mode in args.modes]
            order = modes if round_index % 2 == 0 else modes[::-1]
            for mode in order:
                run = run_in_process(args, mode, root) | {"round": round_index}
                runs.append(run)
                print(
                    f"round {round_index} {mode:6s}: load_oasis "
                    f"{run['load_oasis_seconds']:6.2f} s, epoch of "
                    f"{run['n_images']} images {run['epoch_seconds']:7.2f} s = "
                    f"{run['images_per_second']:6.1f} images/s "
                    f"({run['epoch_cpu_seconds']:.1f} CPU s), RSS "
                    f"{run['rss_before_epoch_mb']:.0f} MiB before, at most "
                    f"{max(run['rss_during_epoch_mb'], default=0):.0f} during, "
                    f"{run['rss_after_epoch_mb']:.0f} after, peak "
                    f"{run['peak_rss_mb']:.0f} MiB",
                    flush=True,
                )
    summary = summarise(runs)
    print(report(summary, args.n_files), flush=True)
    record = {
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "config": {
            k: str(v) if isinstance(v, Path) else v
            for k, v in vars(args).items()
            if k not in ("json", "worker", "root")
        },
        "folder_build_seconds": build_seconds,
        "runs": runs,
        "summary": summary,
    }
    write_record(args.json, record)
    return record


if __name__ == "__main__":
    main()
