"""The demo project: created headless, idempotent, and its roles agree with what detection suggests."""

from __future__ import annotations

from pathlib import Path

from workbench.core.data.load import load_dataset
from workbench.core.demo_project import DEMO_ROLES, create_demo_project


def test_demo_roles_match_suggestions_and_rerun_registers_nothing_new(tmp_path: Path) -> None:
    project, record = create_demo_project(tmp_path / "demo", rows=400)
    try:
        ds = load_dataset(record.path)
        suggested = {c.name: c.suggested_role for c in ds.columns}
        # The label is the analyst's choice (nothing in "follow_up" says "label"); every other role is detected.
        mismatched = {
            k: (v.value, suggested[k].value)
            for k, v in DEMO_ROLES.items()
            if suggested[k] is not v and k != "follow_up"
        }
        assert mismatched == {}, f"detection disagrees with the demo's roles: {mismatched}"
        assert dict(record.roles) == {
            **{c.name: c.suggested_role.value for c in ds.columns},
            **{k: v.value for k, v in DEMO_ROLES.items()},
        }
    finally:
        project.close()
    project2, record2 = create_demo_project(tmp_path / "demo", rows=400)
    try:
        assert record2.id == record.id and len(project2.datasets()) == 1
    finally:
        project2.close()
