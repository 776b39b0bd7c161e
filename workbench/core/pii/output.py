"""Writing an anonymized table: CSV, Parquet or JSON Lines, atomically, never over its source; and registering
the written copy in a project with its lineage."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from workbench.core.atomic import atomic_write
from workbench.core.errors import WorkbenchError

if TYPE_CHECKING:
    import pyarrow as pa

    from workbench.core.pii.engine import AnonymizeResult
    from workbench.core.pii.keys import AnonymizationKeys
    from workbench.core.pii.policy import Policy
    from workbench.core.project.store import DatasetRecord, Project

OUTPUT_FORMATS = ("csv", "parquet", "jsonl")
_SUFFIX_FORMAT = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class OutputError(WorkbenchError):
    """The anonymized copy cannot be written where asked (the source itself, an unknown format...)."""


def output_format(path: str | Path, format: str | None = None) -> str:
    """The output format: ``format`` if given, else from the file suffix (csv, parquet, jsonl)."""
    if format is not None:
        fmt = format.lower().lstrip(".")
        fmt = {"pq": "parquet", "ndjson": "jsonl", "json": "jsonl"}.get(fmt, fmt)
        if fmt not in OUTPUT_FORMATS:
            raise OutputError(f"unknown output format {format!r}; choose one of: {', '.join(OUTPUT_FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_FORMAT:
        raise OutputError(
            f"{Path(path).name}: cannot tell the output format from the suffix {suffix or '(none)'!r}; use .csv, "
            ".parquet or .jsonl, or name the format"
        )
    return _SUFFIX_FORMAT[suffix]


def default_output_path(source: str | Path, format: str = "csv") -> Path:
    """A new file next to ``source``: ``<stem>.anonymized.<ext>``, then ``...anonymized-2.<ext>`` and so on."""
    src = Path(source)
    ext = {"csv": ".csv", "parquet": ".parquet", "jsonl": ".jsonl"}[output_format(src, format)]
    candidate = src.with_name(f"{src.stem}.anonymized{ext}")
    n = 2
    while candidate.exists():
        candidate = src.with_name(f"{src.stem}.anonymized-{n}{ext}")
        n += 1
    return candidate


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def write_output(
    table: pa.Table,
    path: str | Path,
    format: str | None = None,
    *,
    source: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Write an anonymized table as CSV, Parquet or JSON Lines, atomically.

    Parameters
    ----------
    table:
        The anonymized table.
    path:
        The output file.
    format:
        ``csv``, ``parquet`` or ``jsonl``; default: from the suffix of ``path``.
    source:
        The original file; writing over it is refused whatever ``overwrite`` says.
    overwrite:
        Replace an existing output file (never the source).

    Raises
    ------
    OutputError
        For the source file itself, an existing file without ``overwrite``, an unknown format, or an I/O error.
    """
    target = Path(path).expanduser()
    fmt = output_format(target, format)
    if source is not None and (_same_file(target, Path(source)) or target.resolve() == Path(source).resolve()):
        raise OutputError(
            f"{target}: this is the original dataset; the anonymized copy is written next to it, never over it "
            f"(for example {default_output_path(source, fmt).name})"
        )
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: the file exists; choose another name or allow overwriting it")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # sensitive: the copy may still hold personal data; on Linux a kill leaves no partial file (issue 11)
        with atomic_write(target, overwrite=overwrite, sensitive=True) as handle:
            _write(table, handle, fmt)
    except FileExistsError:  # it appeared while the copy was written: still never replaced
        raise OutputError(f"{target}: the file exists; choose another name or allow overwriting it") from None
    except OSError as exc:
        raise OutputError(f"{target}: could not write the anonymized copy ({exc.strerror or exc})") from None
    return target


def _write(table: pa.Table, handle: BinaryIO, fmt: str) -> None:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, handle)
    elif fmt == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, handle)
    else:
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="\n")
        try:
            for batch in table.to_batches(max_chunksize=10_000):
                for row in batch.to_pylist():
                    text.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            text.flush()
        finally:
            text.detach()  # the binary handle stays open for atomic_write to sync and publish


def register_output(
    project: Project,
    output: str | Path,
    *,
    parent: DatasetRecord | None,
    result: AnonymizeResult,
    policy: Policy,
    policy_id: int | None = None,
    keys: AnonymizationKeys | None = None,
) -> DatasetRecord:
    """Register the written anonymized file as a new dataset of ``project`` with its lineage.

    The lineage detail holds the policy id and name, the key id (not the keys), row and entity counts and the
    column treatments: enough to say how the copy was made, with no dataset values.
    """
    from workbench.core.data.load import load_dataset
    from workbench.core.project.registration import register_loaded

    ds = load_dataset(output)
    record = register_loaded(project, ds, path=output)
    detail = {
        "policy_id": policy_id,
        "policy_name": policy.name,
        "key_id": keys.key_id if keys is not None else None,
        "parent_fingerprint": parent.fingerprint if parent is not None else None,
        "treatments": {c: p.treatment.value for c, p in policy.columns},
        **result.summary(),
    }
    project.add_lineage(record.id, parent.id if parent is not None else None, "anonymize", detail)
    return record
