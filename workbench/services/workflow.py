"""Where the analyst stands in the workflow (Data, Anonymize, Risk, Train) for one dataset of a project.

The window shows these states in its navigation; the command line or a report may use them too. Read-only: it only
reads the project's datasets, lineage and training runs (and never recovers stale runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.core.project.datasets import DatasetRecord
    from workbench.core.project.store import Project

DONE = "done"
ATTENTION = "attention"
NOT_STARTED = "not_started"

STEPS = ("data", "anonymize", "risk", "train")
"""The steps in workflow order (the navigation's page names, lower case)."""

_IDENTIFYING_ROLES = {"direct_identifier", "free_text"}
MIN_K = 5
"""Below this k (measured on the Risk page) the Risk step asks for attention: a common minimum for a release."""
_AUDIT_LOOKBACK = 1000
"""How many of the newest audit entries are searched for the dataset's last risk measurement."""


@dataclass(frozen=True, slots=True)
class StepState:
    """One step's state (``done``, ``attention`` or ``not_started``) and a sentence saying why."""

    state: str
    reason: str


def workflow_state(project: Project | None, dataset_fingerprint: str | None) -> dict[str, StepState]:
    """The state of every step in :data:`STEPS` for the dataset with ``dataset_fingerprint`` in ``project``.

    Data is done when the dataset is in the project with a role for every column; Anonymize is done when the
    project's lineage holds an anonymized child of it (or it is itself an anonymized output); Train is done when
    a run on it succeeded; Risk is done when it was generalized to a target (or is such an output) or its last
    measured k is at least :data:`MIN_K`. "attention" marks what needs the analyst (columns without a role,
    identifying columns not yet anonymized, a measured k below :data:`MIN_K`, runs that all failed or were
    cancelled).
    """
    if project is None or dataset_fingerprint is None:
        none = StepState(NOT_STARTED, "Load a dataset on the Data page first.")
        return dict.fromkeys(STEPS, none)
    record = project.dataset_by_fingerprint(dataset_fingerprint)
    if record is None:
        unsaved = StepState(ATTENTION, "The dataset shown is not saved in the project.")
        later = StepState(NOT_STARTED, "Save the dataset in the project first.")
        return {"data": unsaved, "anonymize": later, "risk": later, "train": later}
    return {
        "data": _data_state(record),
        "anonymize": _anonymize_state(project, record),
        "risk": _risk_state(project, record),
        "train": _train_state(project, dataset_fingerprint),
    }


def _data_state(record: DatasetRecord) -> StepState:
    missing = [c for c in record.columns if c not in record.roles]
    if missing:
        return StepState(ATTENTION, f"{len(missing)} column(s) have no role yet.")
    return StepState(DONE, f"{record.name} is loaded with a role for every column.")


def _anonymize_state(project: Project, record: DatasetRecord) -> StepState:
    entries = [e for e in project.lineage(record.id) if e.operation == "anonymize"]
    if any(e.child_dataset_id == record.id for e in entries):
        return StepState(DONE, "This dataset is an anonymized output.")
    children = [e for e in entries if e.parent_dataset_id == record.id]
    if children:
        return StepState(DONE, f"Anonymized {len(children)} time(s); the outputs are in the project.")
    identifying = sorted(c for c, role in record.roles.items() if role in _IDENTIFYING_ROLES)
    if identifying:
        return StepState(ATTENTION, f"{len(identifying)} identifying or free-text column(s) are not anonymized yet.")
    return StepState(NOT_STARTED, "No anonymized version of this dataset yet.")


def _risk_state(project: Project, record: DatasetRecord) -> StepState:
    entries = [e for e in project.lineage(record.id) if e.operation == "generalize"]
    if any(e.child_dataset_id == record.id for e in entries):
        return StepState(DONE, "This dataset is a generalized output.")
    children = [e for e in entries if e.parent_dataset_id == record.id]
    if children:
        return StepState(DONE, f"Generalized {len(children)} time(s) to a target; the outputs are in the project.")
    measured = next(
        (
            e.detail
            for e in project.audit_log(_AUDIT_LOOKBACK)
            if e.action == "risk.computed" and e.detail.get("fingerprint") == record.fingerprint
        ),
        None,
    )
    if measured is not None and isinstance(measured.get("k"), int):
        k, qis = int(measured["k"]), len(measured.get("quasi_identifiers") or ())
        if k < MIN_K:
            return StepState(ATTENTION, f"Measured k = {k} on {qis} quasi-identifier(s): below {MIN_K}.")
        return StepState(DONE, f"Measured k = {k} on {qis} quasi-identifier(s).")
    if not any(role == "quasi_identifier" for role in record.roles.values()):
        return StepState(NOT_STARTED, "Mark quasi-identifiers on the Data page to measure the risk.")
    return StepState(NOT_STARTED, "Re-identification risk not measured yet.")


def _train_state(project: Project, fingerprint: str) -> StepState:
    from workbench.core.dp.runs import RunStore

    runs = RunStore(project, recover=False).runs(fingerprint)
    if any(r.status == "succeeded" for r in runs):
        return StepState(DONE, f"{sum(r.status == 'succeeded' for r in runs)} run(s) on this dataset succeeded.")
    if any(r.status == "running" for r in runs):
        return StepState(NOT_STARTED, "A run on this dataset is under way.")
    if runs:
        return StepState(ATTENTION, "Every run on this dataset failed or was cancelled.")
    return StepState(NOT_STARTED, "No model trained on this dataset yet.")
