"""Issue 12: a privacy budget nobody can reset or sidestep.

Emptying, deleting, replacing or rolling back ``workbench.sqlite`` is refused; the record outside SQLite catches a
database behind it; a crash between the database commit and the record write loses no spend; derived datasets and
copies in other projects of the machine charge the same budget.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.core.dp.ledger import BudgetExceeded, PrivacyLedger
from workbench.core.dp.ledger_record import PLAIN_RECORD, LedgerRecordError
from workbench.core.dp.machine_index import MachineIndex
from workbench.core.errors import ProjectError
from workbench.core.faults import KILL_AT_ENV
from workbench.core.project.identity import MARKER_NAME
from workbench.core.project.store import DB_FILE_NAME, Project

ROOT = "a" * 64
CHILD = "b" * 64


def _spend(folder: Path, epsilon: float, fingerprint: str = ROOT) -> None:
    with Project.open(folder) as p:
        ledger = PrivacyLedger(p)
        r = ledger.reserve(fingerprint, epsilon, 1e-6)
        ledger.commit(r, epsilon, 1e-6)


def _new_project(folder: Path, total: float = 5.0) -> Path:
    with Project.create(folder) as p:
        PrivacyLedger(p).set_total(ROOT, total)
    return folder


def _remaining(folder: Path, fingerprint: str = ROOT) -> float | None:
    with Project.open(folder) as p:
        return PrivacyLedger(p).summary(fingerprint, with_rdp=False).remaining_epsilon


# ---- the store cannot be reset in place -------------------------------------------------------------------------


def test_an_emptied_store_is_refused_not_reinitialised(tmp_path: Path) -> None:
    folder = _new_project(tmp_path / "p")
    _spend(folder, 2.0)
    (folder / DB_FILE_NAME).write_bytes(b"")
    with pytest.raises(ProjectError, match=r"is empty although the project existed .*Restore workbench.sqlite"):
        Project.open(folder)
    with pytest.raises(ProjectError, match=r"is empty although"):  # and again: the refusal created nothing
        Project.open(folder)


def test_a_deleted_store_is_refused_and_init_does_not_recreate_it(tmp_path: Path) -> None:
    folder = _new_project(tmp_path / "p")
    _spend(folder, 2.0)
    for name in (DB_FILE_NAME, f"{DB_FILE_NAME}-wal", f"{DB_FILE_NAME}-shm"):
        (folder / name).unlink(missing_ok=True)
    with pytest.raises(ProjectError, match=r"store workbench.sqlite is missing"):
        Project.open(folder)
    with pytest.raises(ProjectError, match=r"is missing"):
        Project.create(folder)
    with pytest.raises(ProjectError, match=r"is missing"):
        Project.open_or_create(folder)


def test_a_store_from_another_project_is_refused(tmp_path: Path) -> None:
    a = _new_project(tmp_path / "a")
    _spend(a, 4.0)
    b = _new_project(tmp_path / "b")
    shutil.copyfile(b / DB_FILE_NAME, a / DB_FILE_NAME)
    with pytest.raises(ProjectError, match="belongs to another project"):
        Project.open(a)


def test_an_older_copy_of_the_store_is_refused(tmp_path: Path) -> None:
    folder = _new_project(tmp_path / "p")
    _spend(folder, 1.0)
    old = (folder / DB_FILE_NAME).read_bytes()  # closed: the WAL is folded in
    _spend(folder, 3.0)
    (folder / DB_FILE_NAME).write_bytes(old)
    with Project.open(folder) as p, pytest.raises(LedgerRecordError, match=r"behind its privacy-ledger record"):
        PrivacyLedger(p)
    assert (folder / DB_FILE_NAME).read_bytes() == old, "nothing is repaired or rewritten from the old copy"


def test_an_altered_or_deleted_record_is_refused(tmp_path: Path) -> None:
    folder = _new_project(tmp_path / "p")
    _spend(folder, 1.0)
    _spend(folder, 1.0)  # the second open marks the record as expected from now on
    record = folder / PLAIN_RECORD
    doc = json.loads(record.read_text())
    first = next(iter(doc["body"]["entries"]))
    doc["body"]["entries"][first][2] = 0.0
    record.write_text(json.dumps(doc))
    with Project.open(folder) as p, pytest.raises(LedgerRecordError, match="was altered"):
        PrivacyLedger(p)
    record.unlink()
    with Project.open(folder) as p, pytest.raises(LedgerRecordError, match="record is missing"):
        PrivacyLedger(p)


def test_a_total_raised_behind_the_ledgers_back_is_restored(tmp_path: Path) -> None:
    import sqlite3

    folder = _new_project(tmp_path / "p", total=3.0)
    _spend(folder, 1.0)
    with sqlite3.connect(folder / DB_FILE_NAME) as conn:
        conn.execute("UPDATE privacy_budgets SET total_epsilon = 1000")
    with Project.open(folder) as p:
        ledger = PrivacyLedger(p)
        assert ledger.reconciled is not None and ledger.reconciled.lower_totals == {ROOT: 3.0}
        assert ledger.summary(ROOT, with_rdp=False).total_epsilon == 3.0
        assert [e for e in p.audit_log() if e.action == "privacy_budget.total_restored"]


def test_the_marker_holds_the_id_and_nothing_else(tmp_path: Path) -> None:
    folder = _new_project(tmp_path / "p")
    marker = json.loads((folder / MARKER_NAME).read_text())
    assert set(marker) == {"format", "project_id", "written_at"}
    with Project.open(folder) as p:
        assert p.identity.project_id == marker["project_id"]


# ---- a crash between the database commit and the record write ---------------------------------------------------

CRASHING = textwrap.dedent(
    """
    import sys
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.project.store import Project
    project = Project.open(sys.argv[1])
    ledger = PrivacyLedger(project)
    r = ledger.reserve("a" * 64, 2.0, 1e-6)
    ledger.commit(r, 0.5, 1e-6)  # killed after the database commit, before the record is written
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
@pytest.mark.parametrize("point", ["ledger.finish.committed", "ledger.reserve.committed"])
def test_a_crash_between_database_and_record_loses_no_spend(tmp_path: Path, point: str) -> None:
    folder = _new_project(tmp_path / "p")
    script = tmp_path / "crash.py"
    script.write_text(CRASHING, encoding="utf-8")
    env = {**os.environ, KILL_AT_ENV: point}
    proc = subprocess.run([sys.executable, str(script), str(folder)], capture_output=True, env=env, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with Project.open(folder) as p:
        s = PrivacyLedger(p).summary(ROOT, with_rdp=False)
    # The run committed 0.5 of its 2.0 (or never got to commit): either way the full 2.0 counts as spent.
    assert (s.committed_epsilon, s.reserved_epsilon, s.remaining_epsilon) == (2.0, 0.0, 3.0)


# ---- the budget follows the data --------------------------------------------------------------------------------


def _register(p: Project, name: str, fingerprint: str) -> int:
    return p.register_dataset(name, f"/{name}", fingerprint, "csv", None, None, 1, 1, [("a", "string")], {}).id


def test_a_derived_dataset_charges_the_budget_it_came_from(tmp_path: Path) -> None:
    folder = _new_project(tmp_path / "p", total=3.0)
    with Project.open(folder) as p:
        parent = _register(p, "raw", ROOT)
        child = _register(p, "raw.anonymized", CHILD)
        p.add_lineage(child, parent, "anonymize", {"parent_fingerprint": ROOT})
        ledger = PrivacyLedger(p)
        ledger.reserve(CHILD, 2.0, 1e-6)
        s = ledger.summary(CHILD, with_rdp=False)
        assert s.charged_to == ROOT and s.reserved_epsilon == 2.0 and s.remaining_epsilon == 1.0
        with pytest.raises(BudgetExceeded):
            ledger.reserve(CHILD, 1.5, 1e-6)
        with pytest.raises(BudgetExceeded):
            ledger.reserve(ROOT, 1.5, 1e-6)
        ledger.set_total(CHILD, 4.0)  # setting the copy's budget sets the original's
        assert ledger.summary(ROOT, with_rdp=False).total_epsilon == 4.0


def test_the_same_data_in_a_second_project_shares_one_budget(tmp_path: Path) -> None:
    a = _new_project(tmp_path / "a", total=3.0)
    b = _new_project(tmp_path / "b", total=3.0)
    _spend(a, 2.0)
    with Project.open(b) as p:
        ledger = PrivacyLedger(p)
        s = ledger.summary(ROOT, with_rdp=False)
        assert (s.elsewhere_epsilon, s.elsewhere_projects, s.remaining_epsilon) == (2.0, 1, 1.0)
        with pytest.raises(BudgetExceeded, match="in other projects of this machine"):
            ledger.reserve(ROOT, 1.5, 1e-6)
        ledger.reserve(ROOT, 1.0, 1e-6)
    with Project.open(a) as p, pytest.raises(BudgetExceeded):
        PrivacyLedger(p).reserve(ROOT, 0.5, 1e-6)


def test_a_derived_copy_added_to_another_project_charges_the_original(tmp_path: Path) -> None:
    a = _new_project(tmp_path / "a", total=3.0)
    with Project.open(a) as p:
        child = _register(p, "copy", CHILD)
        p.add_lineage(child, _register(p, "raw", ROOT), "anonymize", {"parent_fingerprint": ROOT})
        PrivacyLedger(p).reserve(CHILD, 2.5, 1e-6)
    with Project.create(tmp_path / "b") as p:  # only the copy is here, without its lineage
        _register(p, "copy", CHILD)
        s = PrivacyLedger(p).summary(CHILD, with_rdp=False)
        assert s.charged_to == ROOT and s.elsewhere_epsilon == 2.5


def test_index_names_no_fingerprint_in_clear(tmp_path: Path) -> None:
    a = _new_project(tmp_path / "a")
    _spend(a, 1.0)
    index = MachineIndex()
    index.note_derived(CHILD, ROOT)
    raw = index.path.read_bytes()
    assert ROOT.encode() not in raw and CHILD.encode() not in raw
    assert index.parent_of(CHILD) == ROOT


def test_an_encrypted_project_keeps_its_record_sealed(tmp_path: Path, fast_kdf: object) -> None:
    from workbench.core.dp.ledger_record import SEALED_RECORD
    from workbench.core.jobs import drive
    from workbench.services.encryption import encrypt_project_job
    from workbench.services.opening import open_session

    folder = _new_project(tmp_path / "p")
    _spend(folder, 1.5)
    assert ROOT in (folder / PLAIN_RECORD).read_text()
    session, _report = drive(encrypt_project_job(Project.open(folder), "a passphrase", kdf=fast_kdf))  # type: ignore[arg-type]
    session.close()
    assert not (folder / PLAIN_RECORD).exists()
    sealed = (folder / SEALED_RECORD).read_bytes()
    assert ROOT.encode() not in sealed and b"1.5" not in sealed
    with open_session(folder, "a passphrase") as session:
        assert PrivacyLedger(session.project).summary(ROOT, with_rdp=False).committed_epsilon == 1.5
    (folder / SEALED_RECORD).write_bytes(sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(LedgerRecordError, match="does not verify"):
        open_session(folder, "a passphrase")
