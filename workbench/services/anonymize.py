"""Anonymizing a dataset: to a file, or into the project (registered with its policy and lineage).

One job for the window's Apply and for ``workbench anonymize``. Into an encrypted project the anonymized copy goes
from memory into the vault; writing it in clear (next to the source, or to a path the analyst names) is then an
export, which needs ``in_clear=True`` and is recorded in the audit log.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.data.dataset import Dataset, LoadOptions
from workbench.core.errors import ProjectError
from workbench.core.jobs import CancelToken, JobGenerator, Progress, drive
from workbench.core.project.registration import register_loaded
from workbench.core.project.store import DatasetRecord
from workbench.services.datasets import IN_CLEAR_REFUSAL, register_shown_dataset
from workbench.services.session import ProjectSession

if TYPE_CHECKING:
    import pyarrow as pa

    from workbench.core.pii.engine import AnonymizeResult
    from workbench.core.pii.keys import AnonymizationKeys
    from workbench.core.pii.policy import Policy
    from workbench.core.pii.residual import ResidualReport


@dataclass(frozen=True, slots=True)
class AnonymizeOutcome:
    """Where the anonymized copy went and what the project recorded about it."""

    location: str
    """A file path, or ``vault:NAME`` inside an encrypted project."""
    format: str
    rows: int
    entity_counts: dict[str, int]
    summary: dict[str, Any]
    dataset_id: int | None = None
    parent_id: int | None = None
    policy_id: int | None = None
    residual: ResidualReport | None = None
    """What the residual scan of the copy found (issue 13); its examples are for the window only."""

    def as_dict(self) -> dict[str, Any]:
        """Counts, places and ids; no values (the residual check's examples are left out)."""
        out = {
            "location": self.location,
            "format": self.format,
            "dataset_id": self.dataset_id,
            "parent_id": self.parent_id,
            "policy_id": self.policy_id,
            **self.summary,
        }
        out["entity_counts"] = dict(self.entity_counts)
        if self.residual is not None:
            out["residual"] = self.residual.to_json()
        return out


def serialize_table(table: pa.Table, fmt: str) -> bytes:
    """The table as the bytes of a CSV, Parquet or JSON Lines file, in memory only."""
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        return bytes(sink.getvalue().to_pybytes())
    if fmt == "csv":
        import pyarrow.csv as pacsv

        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer)
        return buffer.getvalue()
    lines = []
    for batch in table.to_batches(max_chunksize=10_000):
        for row in batch.to_pylist():
            lines.append(json.dumps(row, ensure_ascii=False, default=str))
    return ("\n".join(lines) + "\n").encode("utf-8")


def save_policy_version(session: ProjectSession, policy: Policy, dataset_id: int) -> int:
    """Store ``policy`` for the dataset unless the newest saved version is the same; returns that version's id."""
    from workbench.core.pii.policy import save_policy_to_project

    latest = session.project.latest_policy(dataset_id)
    if latest is not None and json.loads(latest.policy_json) == json.loads(policy.to_json(indent=None)):
        return int(latest.id)
    return save_policy_to_project(session.project, policy, dataset_id)


def note_derived(child_fingerprint: str, parent_fingerprint: str) -> None:
    """Tell the machine-wide ledger index that ``child`` was derived from ``parent`` (issue 12): a DP run on the
    copy, in this project or any other of this machine, charges the original's budget."""
    from workbench.core.dp.machine_index import MachineIndex

    MachineIndex().note_derived(child_fingerprint, parent_fingerprint)


def _lineage_detail(
    policy: Policy,
    policy_id: int | None,
    keys: AnonymizationKeys | None,
    parent: DatasetRecord,
    result: Any,
    residual: ResidualReport,
) -> dict[str, Any]:
    return {
        "policy_id": policy_id,
        "policy_name": policy.name,
        "key_id": keys.key_id if keys is not None else None,
        "parent_fingerprint": parent.fingerprint,
        "treatments": {c: p.treatment.value for c, p in policy.columns},
        **result.summary(),
        "residual": residual.to_json(),  # counts only
    }


def _into_vault(session: ProjectSession, ds: Dataset, result: AnonymizeResult, fmt: str) -> tuple[str, Dataset]:
    from workbench.core.data.load import load_dataset_bytes_job

    data = serialize_table(result.table, fmt)
    location = session.store_bytes("dataset", hashlib.sha256(data).hexdigest(), data)
    # We wrote its header row: its names are never taken for data (they may look like data when the analyst kept
    # data-like names with --header).
    out_ds = drive(load_dataset_bytes_job(data, f"{Path(ds.name).stem}.anonymized.{fmt}", LoadOptions(header=True)))
    return location, replace(out_ds, path=location)


def _to_file(ds: Dataset, result: AnonymizeResult, out: Path | None, fmt: str, overwrite: bool) -> tuple[str, Any]:
    from workbench.core.data.load import load_dataset
    from workbench.core.pii.engine import default_output_path, write_output

    if out is None:
        if not Path(ds.path).is_file():
            raise ProjectError("the dataset has no file to write next to: name an output file")
        out = default_output_path(ds.path, fmt)
    source = ds.path if Path(ds.path).is_file() else None
    written = write_output(result.table, out, fmt, source=source, overwrite=overwrite)
    return str(written), load_dataset(written, LoadOptions(header=True))  # we wrote its header row


def anonymize_job(
    ds: Dataset,
    policy: Policy,
    *,
    session: ProjectSession | None = None,
    keys: AnonymizationKeys | None = None,
    out: str | Path | None = None,
    fmt: str = "csv",
    in_clear: bool = False,
    overwrite: bool = False,
    workers: int | None = None,
    token: CancelToken | None = None,
) -> JobGenerator[AnonymizeOutcome]:
    """Anonymize ``ds`` with ``policy``; with a ``session`` the copy is registered in its project.

    Where the copy goes: into the vault for an encrypted project (unless ``out`` is given with ``in_clear``);
    otherwise to ``out``, or next to the source as ``<stem>.anonymized.<fmt>``. The policy is saved with the
    source dataset (a new version only when it changed) and the copy's lineage names the policy, the key id (never
    the key) and the counts. The copy's free text is scanned again for residual personal data
    (:mod:`workbench.core.pii.residual`: every text cell, or a stated sample above 20,000) before it is written;
    the outcome says what remained.
    """
    from workbench.core.pii.engine import anonymize_table_job, check_policy_against
    from workbench.core.pii.residual import residual_check_table_job

    token = token if token is not None else CancelToken()
    into_vault = session is not None and session.encrypted and out is None
    if session is not None and session.encrypted and out is not None and not in_clear:
        raise ProjectError(IN_CLEAR_REFUSAL.format(what="the anonymized copy"))
    check_policy_against(policy, ds.column_names, keys)
    parent = policy_id = None
    if session is not None:
        parent = register_shown_dataset(session, ds)
        policy_id = save_policy_version(session, policy, parent.id)
    result = yield from anonymize_table_job(ds.table, policy, keys, token, workers=workers)
    residual = yield from residual_check_table_job(result, policy, token=token, workers=workers)
    token.raise_if_cancelled()
    yield Progress("writing the anonymized copy", 0, None, "")
    if into_vault:
        assert session is not None
        location, out_ds = _into_vault(session, ds, result, fmt)
    else:
        location, out_ds = _to_file(ds, result, Path(out) if out is not None else None, fmt, overwrite)
    outcome = AnonymizeOutcome(
        location, fmt, result.rows, dict(result.entity_counts), dict(result.summary()), residual=residual
    )
    note_derived(out_ds.fingerprint, ds.fingerprint)  # the copy charges the original's privacy budget, anywhere
    if session is None:
        return outcome
    assert parent is not None
    record = register_loaded(session.project, out_ds)
    session.project.add_lineage(
        record.id, parent.id, "anonymize", _lineage_detail(policy, policy_id, keys, parent, result, residual)
    )
    session.project.audit(  # the anonymization and the key it used (its id, never the key); counts, no values
        "dataset.anonymized",
        dataset_id=record.id,
        parent_dataset_id=parent.id,
        policy_id=policy_id,
        key_id=keys.key_id if keys is not None else None,
        rows=result.rows,
        entity_counts=dict(result.entity_counts),
        in_vault=into_vault,
    )
    if session.encrypted and not into_vault:
        session.project.audit("dataset.exported", dataset_id=record.id, path=location, in_clear=True, from_vault=False)
    return replace(outcome, dataset_id=record.id, parent_id=parent.id, policy_id=policy_id)
