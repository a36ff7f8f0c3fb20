"""Checks on loader options, and the ``on_error="raise" | "skip"`` policy for files."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

ON_ERROR_OPTIONS = ("raise", "skip")

# at most this many skipped files are named in a warning
_MAX_NAMED = 20


def check_option(
    value: object, *, name: str, allowed: Sequence[str], caller: str
) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise a ValueError.

    Examples
    --------
    >>> check_option("skip", name="on_error", allowed=("raise", "skip"), caller="f")
    'skip'
    """
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(choice) for choice in allowed)
        raise ValueError(
            f"The {name!r} parameter of {caller} must be one of {choices}; "
            f"got {value!r} instead."
        )
    return value


def read_each(
    paths: Iterable[str | os.PathLike],
    read: Callable[[str | os.PathLike], T],
    *,
    on_error: str,
    caller: str,
    threads: int = 1,
) -> tuple[list[tuple[str | os.PathLike, T]], list[tuple[str | os.PathLike, str]]]:
    """Apply ``read`` to every path, raising or skipping on the unreadable ones.

    ``read`` signals an unreadable file with ValueError or OSError. With
    ``on_error="raise"`` the first one propagates; with ``"skip"`` the file is left
    out and reported, and a ValueError is raised when no file at all could be read.
    With ``threads`` > 1, ``read`` runs on that many threads (for reads that
    release the GIL, such as inflating compressed data); the results, and the
    error raised, are those of the first unreadable file in the order of
    ``paths`` whatever the threads' timing.

    Returns
    -------
    results : list of (path, result)
        One pair per file read, in the order of ``paths``.
    skipped : list of (path, reason)
        The files left out, with the error each raised.

    Examples
    --------
    >>> read_each(["1", "x"], int, on_error="skip", caller="demo")[0]
    [('1', 1)]
    """
    check_option(on_error, name="on_error", allowed=ON_ERROR_OPTIONS, caller=caller)
    paths = list(paths)
    results, skipped = [], []
    with ThreadPoolExecutor(max(1, min(threads, len(paths)))) as pool:
        for path, outcome in zip(paths, pool.map(_outcome(read), paths), strict=True):
            if not isinstance(outcome, _Failure):
                results.append((path, outcome))
            elif on_error == "raise":
                pool.shutdown(wait=False, cancel_futures=True)
                raise outcome.error
            else:
                skipped.append((path, str(outcome.error)))
    if paths and not results:
        raise ValueError(
            f"{caller} could not read any of the {len(paths)} file(s) it found; "
            f"the first error was: {skipped[0][1]}"
        )
    return results, skipped


class _Failure:
    """The error ``read`` raised for one file, kept to be raised in order."""

    def __init__(self, error: ValueError | OSError):
        self.error = error


def _outcome(read: Callable[[str | os.PathLike], T]) -> Callable:
    def attempt(path: str | os.PathLike) -> T | _Failure:
        try:
            return read(path)
        except (ValueError, OSError) as exc:
            return _Failure(exc)

    return attempt


def skipped_message(skipped: list, n_files: int, caller: str) -> str:
    """Describe the files left out by ``on_error="skip"``, for a warning.

    Examples
    --------
    >>> print(skipped_message([("a.png", "broken")], 3, "load_images"))
    load_images skipped 1 of 3 file(s) it could not read (on_error='skip'):
    a.png (broken)
    """
    named = [f"{os.fspath(path)} ({reason})" for path, reason in skipped[:_MAX_NAMED]]
    more = len(skipped) - len(named)
    listing = "; ".join(named) + (f"; and {more} more" if more else "")
    return (
        f"{caller} skipped {len(skipped)} of {n_files} file(s) it could not read "
        f"(on_error='skip'): {listing}"
    )
