"""Loading a dataset file: the public pipeline behind the GUI's import page and ``workbench load``.

:func:`load_dataset_job` is a job generator (see :mod:`workbench.core.jobs`). Its phases, in order:

``fingerprint``
    SHA-256 of the file's bytes (progress in bytes).
``parse``
    Format, encoding and delimiter detection, then the loader for the format (progress in bytes, or rows for
    Parquet). Early in this phase one progress snapshot carries a small ``pa.Table`` of the first
    ``options.preview_rows`` rows as its ``payload``, so a GUI can show rows long before the load ends. The
    preview holds the values as read, before type conversion (CSV columns are all strings there).
``summary``
    Header clean-up, then one :class:`~workbench.core.data.dataset.ColumnSummary` per column (progress in
    columns).

At the end the file is looked at again: if its size or modification time changed during the load, or it is
gone, the load fails rather than return a table that matches neither the old nor the new file.

Every failure a user can cause is a :class:`~workbench.core.errors.DatasetError` whose message names the file
and the problem and never contains dataset values. Logs (``workbench.data``) hold file names, sizes, formats,
encodings and durations only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.data.dataset import ColumnSummary, Dataset, LoadOptions
from workbench.core.data.detect import HEAD_BYTES
from workbench.core.data.fingerprint import sha256_file_job
from workbench.core.data.loaders import LoadSource, loader_for
from workbench.core.data.schema import summarize_column
from workbench.core.errors import DatasetError
from workbench.core.jobs import CancelToken, JobGenerator, Progress, Throttle, drive

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("workbench.data")

DEFAULT_OPTIONS = LoadOptions()

SUMMARY_WORKERS = 2
"""Threads that compute column summaries; the machines this runs on have two or more cores."""

CHANGED_PROBLEM = "the file changed (or vanished) while it was being loaded; load it again"


@dataclass(frozen=True, slots=True)
class _FileState:
    size: int
    mtime_ns: int
    inode: int


def _state(st: os.stat_result) -> _FileState:
    return _FileState(st.st_size, st.st_mtime_ns, st.st_ino)


def _validate(path: Path) -> _FileState:
    """Check that ``path`` is a readable, non-empty regular file; return its size and modification time."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DatasetError(path, "the file does not exist; check the path") from None
    except PermissionError:
        raise DatasetError(path, "permission denied: you are not allowed to read this file") from None
    except OSError as exc:
        raise DatasetError(path, f"the file cannot be opened ({exc.strerror or type(exc).__name__})") from None
    if stat.S_ISDIR(st.st_mode):
        raise DatasetError(path, "this is a folder, not a file; choose a data file inside it")
    if not stat.S_ISREG(st.st_mode):  # refused before any read: a FIFO would block, a device never end
        kind = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(st.st_mode)
            else "a device"
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "not a regular file"
        )
        raise DatasetError(path, f"this is {kind}, not a regular file; choose a data file")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise DatasetError(path, "permission denied: you are not allowed to read this file") from None
    except OSError as exc:
        raise DatasetError(path, f"the file cannot be opened ({exc.strerror or type(exc).__name__})") from None
    if st.st_size == 0:
        raise DatasetError(path, "the file is empty (0 bytes)")
    return _state(st)


def _changed(path: Path, before: _FileState) -> bool:
    try:
        return _state(path.stat()) != before
    except OSError:
        return True


def clean_column_names(names: list[str]) -> tuple[list[str], list[str]]:
    """Give blank header names a name and make repeated names unique.

    A blank (empty or white-space) name at 1-based position ``N`` becomes ``column_N``; the second ``age``
    becomes ``age_2`` (or ``age_3`` if ``age_2`` is taken, and so on). Each fix adds one warning.

    Returns
    -------
    tuple of (list of str, list of str)
        The new names and the warnings, in column order.
    """
    taken = {name for name in names if name.strip()}
    seen: set[str] = set()
    result: list[str] = []
    warnings: list[str] = []
    for position, name in enumerate(names, start=1):
        if not name.strip():
            new = f"column_{position}"
            suffix = 2
            while new in taken or new in seen:
                new = f"column_{position}_{suffix}"
                suffix += 1
            warnings.append(f"column {position} has no name; it was named '{new}'")
        elif name in seen:
            suffix = 2
            while f"{name}_{suffix}" in taken or f"{name}_{suffix}" in seen:
                suffix += 1
            new = f"{name}_{suffix}"
            warnings.append(f"column {position} repeats the name '{name}'; it was renamed '{new}'")
        else:
            new = name
        seen.add(new)
        result.append(new)
    return result, warnings


def _read_head(path: Path, size: int) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(min(size, HEAD_BYTES))


def _renamed(table: pa.Table) -> pa.Table:
    names, _ = clean_column_names(list(table.column_names))
    return table.rename_columns(names) if names != table.column_names else table


def _summarize(table: pa.Table, token: CancelToken) -> JobGenerator[list[ColumnSummary]]:
    """Summaries of all columns, computed on :data:`SUMMARY_WORKERS` threads (Arrow kernels release the GIL).

    Progress is yielded from the calling thread; on cancellation the columns not yet started are dropped and
    the ones running finish (each takes well under a second) before :class:`JobCancelled` propagates.
    """
    count = table.num_columns
    throttle = Throttle()
    yield Progress("summary", 0, count, "columns", "summarising columns")
    results: list[ColumnSummary | None] = [None] * count
    with ThreadPoolExecutor(max_workers=SUMMARY_WORKERS, thread_name_prefix="wb-summary") as pool:
        try:
            futures = {
                pool.submit(summarize_column, name, table.column(index)): index
                for index, name in enumerate(table.column_names)
            }
            pending = set(futures)
            while pending:
                token.raise_if_cancelled()
                finished, pending = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
                for future in finished:
                    results[futures[future]] = future.result()
                if finished and throttle.ready():
                    yield Progress("summary", count - len(pending), count, "columns", "summarising columns")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    yield Progress("summary", count, count, "columns", "summarising columns")
    return [summary for summary in results if summary is not None]


def load_dataset_job(
    path: str | Path, options: LoadOptions = DEFAULT_OPTIONS, token: CancelToken | None = None
) -> JobGenerator[Dataset]:
    """Load a data file as a :class:`~workbench.core.data.dataset.Dataset`, as a job generator.

    Parameters
    ----------
    path:
        The file: CSV/TSV, JSON Lines, Parquet or plain text (see
        :func:`~workbench.core.data.loaders.available_formats`).
    options:
        What to force instead of detecting (format, encoding, delimiter) and how many preview rows to send.
    token:
        Cancel token, polled between chunks and batches; cancelling raises
        :class:`~workbench.core.errors.JobCancelled` and leaves no open file behind.

    Yields
    ------
    Progress
        Phases ``fingerprint``, ``parse`` and ``summary``; one early ``parse`` snapshot has the preview table
        as ``payload``.

    Returns
    -------
    Dataset
        The loaded dataset.

    Raises
    ------
    DatasetError
        For a missing, unreadable, empty, binary, malformed or changing file.
    """
    token = token if token is not None else CancelToken()
    path = Path(os.path.abspath(os.fspath(path)))
    started = time.perf_counter()
    before = _validate(path)

    try:
        fingerprint = yield from sha256_file_job(path, token)
    except FileNotFoundError:
        raise DatasetError(path, CHANGED_PROBLEM) from None
    token.raise_if_cancelled()

    head = _read_head(path, before.size)
    source = LoadSource(path=path, size=before.size, head=head)
    dataset = yield from _parse(source, options, token, fingerprint, lambda: _changed(path, before), started)
    return dataset


def load_dataset_bytes_job(
    data: bytes, name: str, options: LoadOptions = DEFAULT_OPTIONS, token: CancelToken | None = None
) -> JobGenerator[Dataset]:
    """Load a dataset from the bytes of a file held in memory, as a job generator.

    For datasets stored encrypted in a project: they are decrypted into memory and never written to disk in
    clear. ``name`` (the original file name) names the dataset in messages and picks the format by extension;
    the fingerprint is the SHA-256 of ``data``, so it equals the fingerprint of the original plaintext file.
    """
    token = token if token is not None else CancelToken()
    started = time.perf_counter()
    label = Path(name)
    if not data:
        raise DatasetError(label, "the file is empty (0 bytes)")
    yield Progress("fingerprint", 0, len(data), "bytes", "computing the fingerprint")
    fingerprint = hashlib.sha256(data).hexdigest()
    token.raise_if_cancelled()
    source = LoadSource(path=label, size=len(data), head=data[:HEAD_BYTES], data=data)
    dataset = yield from _parse(source, options, token, fingerprint, lambda: False, started)
    return dataset


def _parse(
    source: LoadSource,
    options: LoadOptions,
    token: CancelToken,
    fingerprint: str,
    changed: Callable[[], bool],
    started: float,
) -> JobGenerator[Dataset]:
    """Parse, clean the header and summarise: the part of a load shared by files and in-memory bytes."""
    path = source.path
    hashed = time.perf_counter()
    try:
        loader = loader_for(path, source.head, options)
        parse = loader.load(source, options, token)
        try:
            while True:
                try:
                    progress = next(parse)
                except StopIteration as stop:
                    parsed = stop.value
                    break
                if progress.payload is not None:
                    progress = replace(progress, payload=_renamed(progress.payload))
                yield progress
        finally:
            parse.close()  # on cancellation or an abandoned job: the loader closes its files now, not at GC
    except DatasetError:
        if changed():
            raise DatasetError(path, CHANGED_PROBLEM) from None
        raise
    except FileNotFoundError:
        raise DatasetError(path, CHANGED_PROBLEM) from None
    parsed_at = time.perf_counter()

    table = parsed.table
    names, header_warnings = clean_column_names(list(table.column_names))
    if names != table.column_names:
        table = table.rename_columns(names)

    summaries = yield from _summarize(table, token)

    if changed():
        raise DatasetError(path, CHANGED_PROBLEM)

    done = time.perf_counter()
    log.info(
        "loaded %s: %d bytes, format=%s, encoding=%s, %d rows x %d columns in %.2f s "
        "(fingerprint %.2f s, parse %.2f s, summary %.2f s)",
        path.name,
        source.size,
        loader.format_name,
        parsed.encoding,
        table.num_rows,
        table.num_columns,
        done - started,
        hashed - started,
        parsed_at - hashed,
        done - parsed_at,
    )
    return Dataset(
        path=str(path),
        name=path.name,
        format=loader.format_name,
        fingerprint=fingerprint,
        size_bytes=source.size,
        table=table,
        columns=tuple(summaries),
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
        warnings=(*header_warnings, *parsed.warnings),
    )


def load_dataset(path: str | Path, options: LoadOptions = DEFAULT_OPTIONS) -> Dataset:
    """Load a dataset in the calling thread (CLI, scripts, tests); see :func:`load_dataset_job`."""
    return drive(load_dataset_job(path, options))
