"""Issue 18: the audit log is a hash chain with a signed head; a change, a deletion, an insertion or a reordering
of rows is detected and the first broken entry named; a recorded head anchors the log against a full rewrite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from workbench.core.project.audit_chain import GENESIS, entry_hash, parse_head
from workbench.core.project.store import DB_FILE_NAME
from workbench.services.audit import verify_audit_log
from workbench.services.opening import open_session


def _project_with_entries(tmp_path: Path, n: int = 5) -> Path:
    from workbench.core.project.store import Project

    folder = tmp_path / "p"
    Project.create(folder).close()
    with open_session(folder) as session:  # opening sets the head signer
        for i in range(n):
            session.project.audit("test.happened", number=i)
    return folder


def _rows(folder: Path) -> list[tuple]:
    with sqlite3.connect(folder / DB_FILE_NAME) as conn:
        return conn.execute(
            "SELECT id, ts, action, detail_json, prev_hash, entry_hash FROM audit_log ORDER BY id"
        ).fetchall()


def _sql(folder: Path, *statements: tuple[str, tuple]) -> None:
    conn = sqlite3.connect(folder / DB_FILE_NAME)
    with conn:
        for sql, params in statements:
            conn.execute(sql, params)
    conn.close()


def _verify(folder: Path, since: tuple[int, str] | None = None):  # noqa: ANN202
    from workbench.core.project.store import Project

    with Project.open(folder) as project:  # without open_session: reading must not re-sign anything
        from workbench.services.session import ProjectSession

        return verify_audit_log(ProjectSession(project), since)


def test_an_untouched_log_verifies_with_a_signed_head(tmp_path: Path) -> None:
    folder = _project_with_entries(tmp_path)
    verdict = _verify(folder)
    assert verdict.ok and verdict.own_key is True
    r = verdict.report
    assert (r.entries, r.head_seq, r.signature, r.broken_at) == (5, 5, "valid", None)
    rows = _rows(folder)
    assert rows[0][4] == GENESIS and all(rows[i][4] == rows[i - 1][5] for i in range(1, 5))


def test_a_changed_entry_is_named(tmp_path: Path) -> None:
    folder = _project_with_entries(tmp_path)
    _sql(folder, ("UPDATE audit_log SET detail_json = ? WHERE id = 3", ('{"number": 99}',)))
    r = _verify(folder).report
    assert r.broken_at == 3 and "changed" in (r.reason or "")


def test_a_deleted_entry_is_named(tmp_path: Path) -> None:
    folder = _project_with_entries(tmp_path)
    _sql(folder, ("DELETE FROM audit_log WHERE id = 3", ()))
    r = _verify(folder).report
    assert r.broken_at == 4 and "entry 3 is missing" in (r.reason or "")


def test_a_deleted_last_entry_breaks_the_signed_head(tmp_path: Path) -> None:
    folder = _project_with_entries(tmp_path)
    _sql(folder, ("DELETE FROM audit_log WHERE id = 5", ()))
    verdict = _verify(folder)
    assert verdict.report.broken_at is None and verdict.report.signature == "invalid" and not verdict.ok


def test_an_inserted_entry_is_named(tmp_path: Path) -> None:
    folder = _project_with_entries(tmp_path)
    rows = _rows(folder)
    # Make room at id 3 (ids 3..5 move up by one) and insert a well-formed entry that follows entry 2.
    statements = [
        ("UPDATE audit_log SET id = id + 100 WHERE id >= 3", ()),
        ("UPDATE audit_log SET id = id - 99 WHERE id >= 100", ()),
    ]
    prev = rows[1][5]
    ts = rows[1][1]
    forged = (
        "INSERT INTO audit_log (id, ts, action, detail_json, prev_hash, entry_hash) VALUES (3, ?, ?, ?, ?, ?)",
        (ts, "test.forged", "{}", prev, entry_hash(3, ts, "test.forged", "{}", prev)),
    )
    _sql(folder, *statements, forged)
    r = _verify(folder).report
    assert r.broken_at == 4 and "does not follow" in (r.reason or "")


def test_reordered_entries_are_named(tmp_path: Path) -> None:
    folder = _project_with_entries(tmp_path)
    rows = _rows(folder)
    _sql(
        folder,
        ("UPDATE audit_log SET detail_json = ? WHERE id = 2", (rows[2][3],)),
        ("UPDATE audit_log SET detail_json = ? WHERE id = 3", (rows[1][3],)),
    )
    assert _verify(folder).report.broken_at == 2


def _rewrite_chain_from(folder: Path, first: int) -> None:
    """What someone who edits the log and recomputes every later hash does (no key needed for hashes)."""
    rows = _rows(folder)
    statements = []
    prev = rows[first - 2][5] if first > 1 else GENESIS
    for rid, ts, action, detail, _p, _h in rows[first - 1 :]:
        detail = '{"number": -1}' if rid == first else detail
        digest = entry_hash(rid, ts, action, detail, prev)
        statements.append(
            (
                "UPDATE audit_log SET detail_json = ?, prev_hash = ?, entry_hash = ? WHERE id = ?",
                (detail, prev, digest, rid),
            )
        )
        prev = digest
    _sql(folder, *statements)


def test_a_recomputed_chain_fails_the_signature_and_the_recorded_head(tmp_path: Path) -> None:
    folder = _project_with_entries(tmp_path)
    recorded = (4, _rows(folder)[3][5])
    assert _verify(folder, recorded).report.anchor == "extends"
    _rewrite_chain_from(folder, 2)
    verdict = _verify(folder, recorded)
    assert verdict.report.broken_at is None, "every hash was recomputed"
    assert verdict.report.signature == "invalid"
    assert verdict.report.anchor and verdict.report.anchor != "extends" and not verdict.ok


def test_entries_of_an_older_version_are_chained_on_open(tmp_path: Path) -> None:
    folder = _project_with_entries(tmp_path, 3)
    _sql(folder, ("UPDATE audit_log SET prev_hash = NULL, entry_hash = NULL", ()), ("DELETE FROM audit_head", ()))
    with open_session(folder) as session:
        session.project.audit("test.after_upgrade")
    verdict = _verify(folder)
    assert verdict.ok and verdict.report.entries == 4


def test_a_recorded_head_is_parsed_strictly() -> None:
    assert parse_head(f"7:{'a' * 64}") == (7, "a" * 64)
    from workbench.core.errors import ProjectError

    with pytest.raises(ProjectError, match="SEQ:HASH"):
        parse_head("7:abc")


def test_an_encrypted_project_signs_with_its_vault_key_only_while_unlocked(tmp_path: Path, fast_kdf: object) -> None:
    from workbench.core.jobs import drive
    from workbench.core.project.store import Project
    from workbench.services.encryption import encrypt_project_job

    folder = _project_with_entries(tmp_path, 2)
    session, _report = drive(encrypt_project_job(Project.open(folder), "pass phrase", kdf=fast_kdf))  # type: ignore[arg-type]
    with session:
        session.project.audit("test.encrypted_change")
        verdict = verify_audit_log(session)
        assert verdict.ok and verdict.own_key is True and verdict.report.signature == "valid"
        assert session.vault is not None
        session.vault.lock()
        session.project.audit("test.while_locked")  # the store stays open; the head cannot be signed now
        verdict = verify_audit_log(session)
        assert verdict.report.signature == "behind" and verdict.own_key is None
        session.vault.unlock("pass phrase")
        session.project.audit("test.unlocked_again")
        assert verify_audit_log(session).report.signature == "valid"
