"""Datasets of a project through the use cases: added to an encrypted project they are imported into the vault
under an opaque name and read back in memory only; named on a command line by id or name; exported only on an
explicit request, which the audit log records."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.support.planted import CANARY_NAME, PASSPHRASE, canary_csv, files_holding
from workbench.core.crypto.primitives import VaultLockedError
from workbench.core.data.dataset import LoadOptions
from workbench.core.errors import DatasetError, ProjectError
from workbench.core.jobs import drive
from workbench.core.project.secure_data import is_vault_path
from workbench.core.project.store import Project
from workbench.services.datasets import add_dataset_job, export_dataset_job
from workbench.services.encryption import encrypt_project_job


@pytest.fixture
def session(tmp_path: Path, fast_kdf):  # noqa: ANN001, ANN201
    project = Project.create(tmp_path / "proj")
    s, _report = drive(encrypt_project_job(project, PASSPHRASE, kdf=fast_kdf))
    yield s
    s.close()


def test_import_then_reload_from_the_vault(tmp_path: Path, session) -> None:  # noqa: ANN001
    src = canary_csv(tmp_path / "outside" / "intake.csv", rows=30)
    temp_before = set(os.listdir(tempfile.gettempdir()))
    added = drive(add_dataset_job(session, src, LoadOptions(), {"name": "direct_identifier"}))
    assert added.encrypted and is_vault_path(added.record.path) and added.record.rows == 30
    assert added.record.roles["name"] == "direct_identifier"
    again = session.load_dataset(added.record)
    assert again.fingerprint == added.dataset.fingerprint and again.table.equals(added.dataset.table)
    # The same bytes added twice: one dataset, one encrypted copy, named opaquely (not after the file).
    drive(add_dataset_job(session, src))
    assert len(session.vault.names()) == 1 and "intake" not in session.vault.names()[0]
    assert len(session.project.datasets()) == 1
    assert files_holding([session.folder]) == []
    new_temp = set(os.listdir(tempfile.gettempdir())) - temp_before
    assert files_holding([Path(tempfile.gettempdir()) / n for n in new_temp]) == []
    session.vault.lock()
    with pytest.raises(VaultLockedError):
        session.load_dataset(added.record)


def test_bad_file_is_not_imported(tmp_path: Path, session) -> None:  # noqa: ANN001
    bad = tmp_path / "ragged.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(DatasetError, match="line 3"):
        drive(add_dataset_job(session, bad))
    assert session.vault.names() == [] and session.project.datasets() == []


def test_unknown_role_column_is_refused_before_anything_is_registered(tmp_path: Path, session) -> None:  # noqa: ANN001
    src = canary_csv(tmp_path / "a.csv", rows=20)
    with pytest.raises(ProjectError, match="nosuch"):
        drive(add_dataset_job(session, src, roles={"nosuch": "sensitive"}))
    assert session.project.datasets() == []


def test_datasets_are_named_by_id_or_name_and_ambiguity_is_refused(tmp_path: Path) -> None:
    from workbench.services.opening import open_session

    with Project.create(tmp_path / "plain"):
        pass
    a = canary_csv(tmp_path / "one" / "same.csv", rows=20)
    b = canary_csv(tmp_path / "two" / "same.csv", rows=25)
    with open_session(tmp_path / "plain") as s:
        first = drive(add_dataset_job(s, a)).record
        second = drive(add_dataset_job(s, b)).record
        assert s.resolve_dataset(str(second.id)) == second
        assert s.resolve_dataset(first.fingerprint[:12]) == first
        with pytest.raises(ProjectError, match=rf"2 datasets are named 'same.csv'.*{first.id}.*{second.id}"):
            s.resolve_dataset("same.csv")
        with pytest.raises(ProjectError, match="no dataset 'other.csv'"):
            s.resolve_dataset("other.csv")


def test_export_needs_an_explicit_in_clear_and_is_audited(tmp_path: Path, session) -> None:  # noqa: ANN001
    src = canary_csv(tmp_path / "in" / "intake.csv", rows=20)
    record = drive(add_dataset_job(session, src)).record
    out = tmp_path / "out" / "intake.csv"
    out.parent.mkdir()
    with pytest.raises(ProjectError, match="--plaintext"):
        drive(export_dataset_job(session, record, out))
    assert not out.exists()
    drive(export_dataset_job(session, record, out, in_clear=True))
    assert out.read_bytes() == src.read_bytes() and CANARY_NAME.encode() in out.read_bytes()
    entry = next(e for e in session.project.audit_log() if e.action == "dataset.exported")
    assert entry.detail["in_clear"] is True and entry.detail["dataset_id"] == record.id
    with pytest.raises(ProjectError, match="already exists"):
        drive(export_dataset_job(session, record, out, in_clear=True))
