"""Dataset names as the analyst reads them in lists: unique, and saying what each dataset is (issue 14).

"clinic_intake.csv (original)", "clinic_intake.anonymized.csv (anonymized with policy P v3, 2026-12-02 12:41)";
two datasets that would read the same get their project id ("#7") appended. A location inside the project's
vault (``vault:1dbb...``) is never shown: such a dataset is "in the encrypted project as NAME". Read-only, no Qt.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from workbench.core.project.datasets import DatasetRecord
    from workbench.core.project.lineage import LineageRecord
    from workbench.core.project.store import Project

_OPERATION_WORDS = {"anonymize": "anonymized"}


def dataset_location(record: DatasetRecord) -> str:
    """Where the analyst finds the dataset: its file path, or "in the encrypted project as NAME"."""
    from workbench.core.project.secure_data import is_vault_path

    if is_vault_path(record.path):
        return f"in the encrypted project as {record.name}"
    return str(record.path)


def dataset_label(record: DatasetRecord, project: Project | None) -> str:
    """``record``'s name and what it is: "NAME (original)" or "NAME (anonymized with policy P v3, TIME)".

    One label alone is not made unique: :func:`dataset_labels` does that for a list.
    """
    return f"{record.name} ({_what(record, project)})"


def dataset_labels(records: Sequence[DatasetRecord], project: Project | None) -> dict[int, str]:
    """A label per dataset id for a list: :func:`dataset_label`, with " #ID" appended where two would read the
    same."""
    plain = {r.id: dataset_label(r, project) for r in records}
    counts = Counter(plain.values())
    return {rid: (f"{label} #{rid}" if counts[label] > 1 else label) for rid, label in plain.items()}


def _what(record: DatasetRecord, project: Project | None) -> str:
    if project is None:
        return "original"
    try:
        entries = [e for e in project.lineage(record.id) if e.child_dataset_id == record.id]
    except Exception:  # noqa: BLE001 - a label must never stop a list from showing
        entries = []
    if not entries:
        return "original"
    return _derivation(entries[-1], project)


def _derivation(entry: LineageRecord, project: Project) -> str:
    words = [_OPERATION_WORDS.get(entry.operation, f"derived by {entry.operation}")]
    policy = _policy_words(entry, project)
    if policy:
        words.append(f"with {policy}")
    text = " ".join(words)
    when = _short_time(entry.created_at)
    return f"{text}, {when}" if when else text


def _policy_words(entry: LineageRecord, project: Project) -> str:
    name = entry.detail.get("policy_name")
    policy_id = entry.detail.get("policy_id")
    if not name and policy_id is None:
        return ""
    text = f"policy {name}" if name else f"policy #{policy_id}"
    version = _policy_version(project, entry.parent_dataset_id, policy_id)
    return f"{text} v{version}" if version else text


def _policy_version(project: Project, parent_id: int | None, policy_id: object) -> int | None:
    """The version number (1 = the first saved) of ``policy_id`` among the parent dataset's saved policies."""
    if parent_id is None or not isinstance(policy_id, int):
        return None
    try:
        ids = sorted(p.id for p in project.policy_history(parent_id))
    except Exception:  # noqa: BLE001 - a label must never stop a list from showing
        return None
    return ids.index(policy_id) + 1 if policy_id in ids else None


def _short_time(stamp: str) -> str:
    """An ISO-8601 UTC time as the analyst's local "YYYY-MM-DD HH:MM" (the stamp as is when it is not ISO)."""
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return str(stamp or "")
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%Y-%m-%d %H:%M")
