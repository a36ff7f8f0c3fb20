"""Training checkpoints: the whole state of a fit, written atomically after each epoch.

A checkpoint directory holds one folder per checkpoint, named by how far training
had got::

    checkpoint_dir/
      epoch-0007/                 after 7 complete epochs
        model.keras               weights, optimizer state, codebooks and their EMAs
        estimator.json            parameters and fitted attributes (history_), as save()
        random.npz                states of the model's random generators, and the
                                  best weights so far under early stopping
        checkpoint.json           written last: progress, seed, early-stopping state
      epoch-0007-batch-000012/    12 batches into epoch 8 (written on SIGINT/SIGTERM)

Each folder is filled under a hidden temporary name and renamed into place, so a
crash leaves the whole checkpoint or none of it; a folder without
``checkpoint.json``, or one that fails to load, is skipped with a warning naming it.
Every checkpoint is also a saved estimator that :func:`oasisgen.load` reads.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from oasisgen.estimators._persistence import jsonable, save_directory

T = TypeVar("T")

CHECKPOINT_FILE = "checkpoint.json"
RANDOM_FILE = "random.npz"
FORMAT_VERSION = 1
_NAME = re.compile(r"^epoch-(\d+)(?:-batch-(\d+))?$")
_STAGING = re.compile(r"^\.epoch-\d+")


class CheckpointError(ValueError):
    """A checkpoint cannot be read: truncated, corrupted, or not a checkpoint."""


class CheckpointWarning(UserWarning):
    """A checkpoint was skipped because it is incomplete or cannot be read."""


@dataclass(frozen=True, order=True)
class Progress:
    """How far training got: complete epochs, then batches into the next one.

    Examples
    --------
    >>> Progress(7).name, Progress(7, 12).name
    ('epoch-0007', 'epoch-0007-batch-000012')
    >>> Progress.parse("epoch-0007-batch-000012") == Progress(7, 12)
    True
    """

    epochs: int
    batches: int = 0

    @property
    def name(self) -> str:
        """Folder name of a checkpoint at this point."""
        name = f"epoch-{self.epochs:04d}"
        return f"{name}-batch-{self.batches:06d}" if self.batches else name

    @property
    def epoch(self) -> int:
        """The epoch under way (1-based), or the one just finished."""
        return self.epochs + 1 if self.batches else self.epochs

    def describe(self) -> str:
        """Say where training is, for messages."""
        if self.batches:
            plural = "es" if self.batches > 1 else ""
            return f"epoch {self.epoch} (after {self.batches} batch{plural})"
        return f"the end of epoch {self.epochs}"

    @classmethod
    def parse(cls, name: str) -> Progress | None:
        """Return the progress a folder name records, or None for other names."""
        match = _NAME.match(name)
        if match is None:
            return None
        return cls(int(match.group(1)), int(match.group(2) or 0))


@dataclass
class TrainingState:
    """What a checkpoint holds besides the estimator itself."""

    progress: Progress
    seed: int | None
    early_stopping: dict[str, Any] | None = None
    partial_logs: dict[str, float] | None = None
    random_states: list[np.ndarray] = field(default_factory=list)
    best_weights: list[np.ndarray] | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON-ready part (everything but the arrays)."""
        return {
            "format_version": FORMAT_VERSION,
            "epochs": self.progress.epochs,
            "batches": self.progress.batches,
            "seed": self.seed,
            "early_stopping": self.early_stopping,
            "partial_logs": self.partial_logs,
        }


def find_checkpoints(directory: str | os.PathLike) -> list[tuple[Progress, Path]]:
    """List the checkpoint folders of a directory, oldest first.

    Folders without ``checkpoint.json`` are listed too; :func:`latest_checkpoint`
    skips them.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for name in ["epoch-0002", "epoch-0001-batch-000003", "notes"]:
    ...         (Path(folder) / name).mkdir()
    ...     [progress.name for progress, _ in find_checkpoints(folder)]
    ['epoch-0001-batch-000003', 'epoch-0002']
    """
    folder = Path(directory)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        progress = Progress.parse(path.name)
        if progress is not None and path.is_dir():
            found.append((progress, path))
    return sorted(found)


def is_complete(path: Path) -> bool:
    """Whether a checkpoint folder got as far as its last file."""
    return (path / CHECKPOINT_FILE).is_file()


def has_checkpoints(directory: str | os.PathLike) -> bool:
    """Whether a directory holds at least one complete checkpoint."""
    return any(is_complete(path) for _, path in find_checkpoints(directory))


def write_checkpoint(
    directory: str | os.PathLike,
    write_estimator: Callable[[Path], None],
    state: TrainingState,
    *,
    keep: int | None,
) -> Path:
    """Write one checkpoint atomically, then keep only the last ``keep``.

    Parameters
    ----------
    directory : str or path-like
        The checkpoint directory; created if needed.
    write_estimator : callable
        Writes the estimator (``model.keras`` and ``estimator.json``) into the
        folder it is given.
    state : TrainingState
        Progress, seed, early-stopping state and random states.
    keep : int or None
        How many checkpoints to keep; None keeps all.

    Returns
    -------
    path : Path
        The checkpoint folder.
    """
    directory = Path(directory)

    def write(folder: Path) -> None:
        write_estimator(folder)
        arrays = {f"random_{i}": a for i, a in enumerate(state.random_states)}
        for i, weights in enumerate(state.best_weights or []):
            arrays[f"best_{i}"] = weights
        np.savez(folder / RANDOM_FILE, **arrays)
        text = json.dumps(jsonable(state.to_json(), nan_to_none=False), indent=2)
        (folder / CHECKPOINT_FILE).write_text(text)
        _sync(folder)

    path = save_directory(directory / state.progress.name, write, overwrite=True)
    _sync_directory(directory)
    prune(directory, keep)
    return path


def prune(directory: str | os.PathLike, keep: int | None) -> None:
    """Delete the checkpoints older than the ``keep`` newest complete ones."""
    if keep is None:
        return
    found = find_checkpoints(directory)
    complete = [progress for progress, path in found if is_complete(path)]
    if len(complete) <= keep:
        return
    oldest_kept = complete[-keep]
    for progress, path in found:
        if progress < oldest_kept:
            shutil.rmtree(path, ignore_errors=True)


def remove_staging(directory: str | os.PathLike) -> None:
    """Delete the hidden folders left by a checkpoint whose writing was killed."""
    folder = Path(directory)
    if folder.is_dir():
        for path in folder.iterdir():
            if _STAGING.match(path.name) and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)


def read_state(path: Path) -> TrainingState:
    """Read ``checkpoint.json`` and ``random.npz`` of a checkpoint folder.

    Raises
    ------
    CheckpointError
        If a file is missing, truncated or corrupted; naming it.
    """
    state_file = path / CHECKPOINT_FILE
    try:
        data = json.loads(state_file.read_text())
        progress = Progress(int(data["epochs"]), int(data["batches"]))
        seed = None if data["seed"] is None else int(data["seed"])
        early_stopping, partial_logs = data["early_stopping"], data["partial_logs"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(
            f"{str(state_file)!r} is not a valid checkpoint state ({error!r})."
        ) from error
    if progress != Progress.parse(path.name):
        raise CheckpointError(
            f"{str(state_file)!r} records {progress.name}, not the {path.name} of "
            "its folder; the folder was renamed or its files mixed up."
        )
    arrays = _read_arrays(path / RANDOM_FILE)
    random_states = [arrays[f"random_{i}"] for i in range(_count(arrays, "random_"))]
    n_best = _count(arrays, "best_")
    return TrainingState(
        progress=progress,
        seed=seed,
        early_stopping=early_stopping,
        partial_logs=partial_logs,
        random_states=random_states,
        best_weights=[arrays[f"best_{i}"] for i in range(n_best)] if n_best else None,
    )


def latest_checkpoint(
    directory: str | os.PathLike, read: Callable[[Path], T]
) -> tuple[Path, T] | None:
    """Read the newest checkpoint that is complete and loads.

    Parameters
    ----------
    directory : str or path-like
        The checkpoint directory.
    read : callable
        Reads one checkpoint folder; raises :class:`CheckpointError` (or OSError)
        if it cannot.

    Returns
    -------
    found : tuple of (Path, object) or None
        The folder and what ``read`` returned; None without any usable checkpoint.

    Warns
    -----
    CheckpointWarning
        For every newer folder skipped, naming it and saying why.
    """
    for _, path in reversed(find_checkpoints(directory)):
        if not is_complete(path):
            _skip(path, f"it has no {CHECKPOINT_FILE}, so its writing never finished.")
            continue
        try:
            return path, read(path)
        except (CheckpointError, OSError) as error:
            _skip(path, f"it cannot be loaded. {error}")
    return None


def _skip(path: Path, why: str) -> None:
    warnings.warn(
        f"Skipping the checkpoint {str(path)!r}: {why} Resuming from an earlier "
        "checkpoint instead.",
        CheckpointWarning,
        stacklevel=5,  # the line that called fit
    )


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointError(
            f"{str(path)!r} is not a valid checkpoint array file ({error!r}); it may "
            "be truncated or corrupted."
        ) from error


def _count(arrays: dict[str, np.ndarray], prefix: str) -> int:
    count = sum(name.startswith(prefix) for name in arrays)
    if any(f"{prefix}{i}" not in arrays for i in range(count)):
        raise CheckpointError(f"The arrays {prefix}* of a checkpoint are not numbered.")
    return count


def finite_or_none(value: float) -> float | None:
    """Return ``value``, or None for inf and NaN (which JSON cannot hold).

    Examples
    --------
    >>> finite_or_none(1.5), finite_or_none(float("inf"))
    (1.5, None)
    """
    return float(value) if math.isfinite(value) else None


def _sync(folder: Path) -> None:
    """Flush a folder's files to disk, so that a power cut cannot tear them."""
    for path in folder.iterdir():
        if path.is_file():
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
    _sync_directory(folder)


def _sync_directory(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # directories cannot be opened on every platform
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
