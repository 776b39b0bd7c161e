"""Create the demo project: a project folder with the synthetic clinic intake dataset registered in it."""

from __future__ import annotations

from pathlib import Path

from workbench.core.data.dataset import ColumnRole
from workbench.core.project.store import DatasetRecord, Project

DEMO_FILE = "clinic_intake.csv"

# The roles an analyst would give the demo's columns. Detection suggests the same for all but the label, which is
# the analyst's choice (tests/data/test_demo_project.py); they are set explicitly so the demo stays right even if
# a site tunes the suggestion rules.
DEMO_ROLES: dict[str, ColumnRole] = {
    "record_id": ColumnRole.DIRECT_IDENTIFIER,
    "name": ColumnRole.DIRECT_IDENTIFIER,
    "date_of_birth": ColumnRole.QUASI_IDENTIFIER,
    "sex": ColumnRole.QUASI_IDENTIFIER,
    "zip": ColumnRole.QUASI_IDENTIFIER,
    "phone": ColumnRole.DIRECT_IDENTIFIER,
    "email": ColumnRole.DIRECT_IDENTIFIER,
    "national_id": ColumnRole.DIRECT_IDENTIFIER,
    "diagnosis": ColumnRole.SENSITIVE,
    "note": ColumnRole.FREE_TEXT,
    "follow_up": ColumnRole.LABEL,
}


def create_demo_project(folder: str | Path, rows: int = 5000) -> tuple[Project, DatasetRecord]:
    """Create (or reuse) the demo project in ``folder``; returns the open project and the demo dataset record.

    Deterministic: the same ``rows`` always gives the same bytes, so the same fingerprint, so running it again
    registers nothing new.
    """
    from workbench.core.data.load import load_dataset
    from workbench.core.demo import write_clinic_intake_csv
    from workbench.core.project.registration import register_loaded

    project = Project.open_or_create(folder)
    try:
        csv_path = project.data_dir / DEMO_FILE
        if not csv_path.exists():
            write_clinic_intake_csv(csv_path, rows=rows)
        ds = load_dataset(csv_path)
        roles = {k: v.value for k, v in DEMO_ROLES.items() if k in ds.column_names}
        existed = project.dataset_by_fingerprint(ds.fingerprint) is not None
        # A fresh demo gets the demo's roles; a re-run keeps whatever the analyst changed since.
        record = register_loaded(project, ds, path=csv_path, roles=None if existed else roles)
        return project, record
    except BaseException:
        project.close()
        raise
