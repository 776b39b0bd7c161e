"""The project store: opening and creating, errors that teach, dataset records, settings, audit log, and the
concurrency and crash-safety promises of its module docstring."""

from __future__ import annotations

import json
import os
import pickle
import random
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workbench.core.data.dataset import ColumnRole
from workbench.core.errors import ProjectError, WorkbenchError
from workbench.core.project import migrations, store
from workbench.core.project.store import (
    DB_FILE_NAME,
    SCHEMA_VERSION,
    AuditEntry,
    DatasetRecord,
    Project,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = [("name", "string"), ("age", "integer"), ("note", "text")]
SUGGESTED = {"name": "direct_identifier", "age": "quasi_identifier", "note": "free_text"}


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))


def register(
    project: Project,
    fingerprint: str,
    *,
    name: str = "intake.csv",
    path: str = "/data/intake.csv",
    schema: list[tuple[str, str]] | None = None,
    roles: dict[str, str] | None = None,
) -> DatasetRecord:
    return project.register_dataset(
        name=name,
        path=path,
        fingerprint=fingerprint,
        format="csv",
        encoding="utf-8",
        delimiter=",",
        rows=120,
        size_bytes=4096,
        schema=SCHEMA if schema is None else schema,
        roles=SUGGESTED if roles is None else roles,
    )


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


# ---- creating and opening ----------------------------------------------------------------------------------


def test_create_makes_a_project_folder_with_a_wal_database(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "clinic study"
    with Project.create(folder) as p:
        assert p.folder == folder.resolve()
        assert p.name == "clinic study"
        assert p.data_dir == folder.resolve() / "data" and p.data_dir.is_dir()
        assert p.schema_version == SCHEMA_VERSION == max(v for v, _ in store.MIGRATIONS)
        assert (folder / DB_FILE_NAME).is_file()
        with p._read("test") as conn:  # the per-connection settings are visible only on its own connection
            assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
            assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw = sqlite3.connect(folder / DB_FILE_NAME)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent in the file
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        assert {"datasets", "settings", "audit_log"} <= tables
    finally:
        raw.close()


def test_create_accepts_an_existing_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    Project.create(folder).close()
    assert (folder / DB_FILE_NAME).is_file()


def test_create_refuses_a_folder_with_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "letter.txt").write_text("hello")
    with pytest.raises(ProjectError, match="not empty and is not a workbench project"):
        Project.create(folder)
    assert not (folder / DB_FILE_NAME).exists()


def test_create_refuses_an_existing_project_and_a_file(tmp_path: Path) -> None:
    Project.create(tmp_path / "p").close()
    with pytest.raises(ProjectError, match="already a workbench project; open it"):
        Project.create(tmp_path / "p")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ProjectError, match="is a file"):
        Project.create(tmp_path / "file")


def test_open_a_folder_that_is_not_a_project(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "a.csv").write_text("a\n1\n")
    with pytest.raises(ProjectError, match=r"not a workbench project \(no workbench.sqlite\)"):
        Project.open(tmp_path / "plain")
    with pytest.raises(ProjectError, match="does not exist"):
        Project.open(tmp_path / "missing")


def test_open_another_programs_sqlite_file(tmp_path: Path) -> None:
    folder = tmp_path / "other"
    folder.mkdir()
    raw = sqlite3.connect(folder / DB_FILE_NAME)
    raw.execute("CREATE TABLE customers (id INTEGER)")
    raw.commit()
    raw.close()
    with pytest.raises(ProjectError, match="SQLite database, but not a workbench project"):
        Project.open(folder)


def test_open_a_project_from_a_newer_version(tmp_path: Path) -> None:
    Project.create(tmp_path / "p").close()
    raw = sqlite3.connect(tmp_path / "p" / DB_FILE_NAME)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(ProjectError, match="written by a newer version") as info:
        Project.open(tmp_path / "p")
    assert "99" in str(info.value)


def test_open_random_bytes_is_a_damaged_database_not_a_crash(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    Project.create(folder).close()
    (folder / DB_FILE_NAME).write_bytes(random.Random(7).randbytes(8192))
    with pytest.raises(ProjectError, match="the project database is damaged"):
        Project.open(folder)
    with pytest.raises(ProjectError, match="damaged"):
        Project.open_or_create(folder)


def test_open_a_database_with_damaged_pages(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    with Project.create(folder) as p:
        for i in range(60):
            register(p, f"fp{i}", path=f"/data/{'long/' * 20}{i}.csv")
    db = folder / DB_FILE_NAME
    assert not (folder / (DB_FILE_NAME + "-wal")).exists() or (folder / (DB_FILE_NAME + "-wal")).stat().st_size == 0
    content = bytearray(db.read_bytes())
    assert len(content) > 4 * 4096
    content[2 * 4096 :] = random.Random(3).randbytes(len(content) - 2 * 4096)
    db.write_bytes(bytes(content))
    with pytest.raises(ProjectError, match="damaged"):
        Project.open(folder)


def test_open_after_a_create_killed_before_its_first_migration(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    (folder / "data").mkdir(parents=True)
    (folder / DB_FILE_NAME).write_bytes(b"")  # SQLite created the file, nothing committed yet
    with Project.open(folder) as p:
        assert p.schema_version == SCHEMA_VERSION
        register(p, "fp")
    # A folder holding only the empty data/ folder that such a create leaves may be created into.
    (tmp_path / "q" / "data").mkdir(parents=True)
    Project.create(tmp_path / "q").close()


def test_open_or_create(tmp_path: Path) -> None:
    with Project.open_or_create(tmp_path / "p") as p:
        register(p, "fp")
    with Project.open_or_create(tmp_path / "p") as p:
        assert [d.fingerprint for d in p.datasets()] == ["fp"]


def test_errors_are_workbench_errors_and_closed_projects_refuse_work(tmp_path: Path) -> None:
    assert issubclass(ProjectError, WorkbenchError)
    p = Project.create(tmp_path / "p")
    p.close()
    p.close()  # idempotent
    assert p.closed
    with pytest.raises(ProjectError, match="is closed"):
        p.datasets()
    with pytest.raises(ProjectError, match="is closed"):
        register(p, "fp")


# ---- migrations --------------------------------------------------------------------------------------------


def test_split_statements_keeps_triggers_and_strings_whole() -> None:
    sql = """
        CREATE TABLE t (a TEXT DEFAULT 'x;y');
        CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 'z;'; SELECT 1; END;
        ;
    """
    statements = store._split_statements(sql)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


def test_a_new_migration_is_applied_when_an_old_project_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Project.create(tmp_path / "p") as p:
        register(p, "fp")
    nxt = SCHEMA_VERSION + 1
    new = (nxt, "CREATE TABLE test_runs (id INTEGER PRIMARY KEY, dataset_id INTEGER REFERENCES datasets(id));")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, new])
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", nxt)
    with Project.open(tmp_path / "p") as p:
        assert p.schema_version == nxt
        with p._read("test") as conn:
            conn.execute("INSERT INTO test_runs (dataset_id) VALUES (1)")
            with pytest.raises(sqlite3.IntegrityError):  # foreign keys are enforced
                conn.execute("INSERT INTO test_runs (dataset_id) VALUES (999)")
        assert len(p.datasets()) == 1


def test_a_failing_migration_leaves_the_previous_version_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Project.create(tmp_path / "p").close()
    nxt = SCHEMA_VERSION + 1
    broken = (nxt, "CREATE TABLE test_runs (id INTEGER PRIMARY KEY); CREATE TABLE test_runs (id INTEGER);")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, broken])
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", nxt)
    with pytest.raises(ProjectError):
        Project.open(tmp_path / "p")
    monkeypatch.undo()
    with Project.open(tmp_path / "p") as p:
        assert p.schema_version == SCHEMA_VERSION
        with p._read("test") as conn:
            assert conn.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'test_runs'").fetchone()[0] == 0


# ---- datasets ----------------------------------------------------------------------------------------------


def test_register_and_read_back(project: Project) -> None:
    record = register(project, "abc", roles={"name": "direct", "age": ColumnRole.QUASI_IDENTIFIER})
    assert record.id >= 1
    assert record.schema == (("name", "string"), ("age", "integer"), ("note", "text"))
    assert record.columns == ("name", "age", "note")
    assert dict(record.roles) == {"name": "direct_identifier", "age": "quasi_identifier"}
    assert record.column_roles()["age"] is ColumnRole.QUASI_IDENTIFIER
    assert (record.rows, record.size_bytes, record.format, record.encoding, record.delimiter) == (
        120,
        4096,
        "csv",
        "utf-8",
        ",",
    )
    assert record.added_at.endswith("+00:00") and record.added_at == record.updated_at
    assert project.get_dataset(record.id) == record
    assert project.dataset_by_fingerprint("abc") == record
    assert project.dataset_by_fingerprint("nope") is None
    assert project.datasets() == [record]


def test_records_are_immutable_hashable_and_picklable(project: Project) -> None:
    record = register(project, "abc")
    with pytest.raises(AttributeError):
        record.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        record.roles["name"] = "other"  # type: ignore[index]
    assert hash(record) == hash(project.get_dataset(record.id))
    assert pickle.loads(pickle.dumps(record)) == record


def test_the_same_data_is_the_same_dataset_and_keeps_the_saved_roles(project: Project) -> None:
    first = register(project, "same-bytes", name="intake.csv", path="/old/intake.csv")
    project.set_roles(first.id, {"age": "sensitive", "note": "other"})
    time.sleep(0.002)
    again = register(
        project,
        "same-bytes",
        name="intake (copy).csv",
        path="/new/intake (copy).csv",
        schema=[("name", "string"), ("age", "integer"), ("note", "text"), ("zip", "string")],
        roles={"name": "other", "age": "quasi_identifier", "note": "free_text", "zip": "quasi_identifier"},
    )
    assert again.id == first.id
    assert (again.name, again.path) == ("intake (copy).csv", "/new/intake (copy).csv")
    assert again.added_at == first.added_at and again.updated_at > first.updated_at
    # Saved roles win over the new suggestions; the new column gets its suggestion.
    assert dict(again.roles) == {
        "name": "direct_identifier",
        "age": "sensitive",
        "note": "other",
        "zip": "quasi_identifier",
    }
    assert len(project.datasets()) == 1
    # A column that vanished from the schema loses its role.
    third = register(project, "same-bytes", schema=[("name", "string")], roles={})
    assert dict(third.roles) == {"name": "direct_identifier"}


def test_set_roles_validates_and_saves_nothing_on_error(project: Project) -> None:
    record = register(project, "fp", roles={})
    updated = project.set_roles(record.id, {"name": "Direct identifier", "age": "quasi-identifier"})
    assert dict(updated.roles) == {"name": "direct_identifier", "age": "quasi_identifier"}
    with pytest.raises(ProjectError, match="no column named 'diagnosis'"):
        project.set_roles(record.id, {"note": "free_text", "diagnosis": "sensitive"})
    with pytest.raises(ProjectError, match=r"column 'note': unknown column role 'secret'"):
        project.set_roles(record.id, {"age": "other", "note": "secret"})
    assert dict(project.get_dataset(record.id).roles) == dict(updated.roles)  # nothing half-saved
    with pytest.raises(ProjectError, match="no dataset with id 999"):
        project.set_roles(999, {"name": "other"})
    with pytest.raises(ProjectError, match="no column named 'ghost'"):
        register(project, "fp2", roles={"ghost": "other"})


def test_register_validates_its_input(project: Project) -> None:
    with pytest.raises(ProjectError, match="two columns named 'a'"):
        register(project, "fp", schema=[("a", "string"), ("a", "integer")], roles={})
    with pytest.raises(ProjectError, match="without a fingerprint"):
        register(project, "")
    assert project.datasets() == []


def test_remove_dataset_and_ids_are_never_reused(project: Project) -> None:
    a = register(project, "a")
    b = register(project, "b")
    project.remove_dataset(b.id)
    assert [d.id for d in project.datasets()] == [a.id]
    c = register(project, "c")
    assert c.id > b.id
    with pytest.raises(ProjectError, match="no dataset with id"):
        project.remove_dataset(b.id)
    with pytest.raises(ProjectError, match="no dataset with id"):
        project.get_dataset(b.id)


# ---- settings and audit ------------------------------------------------------------------------------------


def test_settings_round_trip_and_survive_reopening(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p") as p:
        assert p.get_setting("epsilon", default=3.0) == 3.0
        p.set_setting("epsilon", 1.5)
        p.set_setting("policy", {"name": "mask", "columns": ["a", "b"], "strict": True, "note": None})
        p.set_setting("epsilon", 2.0)
        with pytest.raises(ProjectError, match="not JSON-serialisable"):
            p.set_setting("bad", object())
        with pytest.raises(ProjectError, match="not JSON-serialisable"):
            p.set_setting("bad", float("nan"))
    with Project.open(tmp_path / "p") as p:
        assert p.get_setting("epsilon") == 2.0
        assert p.get_setting("policy") == {
            "name": "mask",
            "columns": ["a", "b"],
            "strict": True,
            "note": None,
        }
        assert p.get_setting("bad") is None


def test_every_change_is_audited_without_values(project: Project) -> None:
    record = register(project, "fp", roles={"name": "direct_identifier"})
    project.set_roles(record.id, {"age": "sensitive"})
    project.set_roles(record.id, {"age": "sensitive"})  # no change: no entry
    register(project, "fp")
    project.set_setting("k", "a secret value")
    project.audit("dataset.exported", dataset_id=record.id, columns=["name"], rows=120)
    project.remove_dataset(record.id)
    entries = project.audit_log()
    assert all(isinstance(e, AuditEntry) for e in entries)
    assert [e.action for e in entries] == [
        "dataset.removed",
        "dataset.exported",
        "setting.changed",
        "dataset.reregistered",
        "dataset.roles_changed",
        "dataset.registered",
    ]
    by_action = {e.action: e for e in entries}
    assert by_action["dataset.registered"].detail["dataset_id"] == record.id
    assert by_action["dataset.roles_changed"].detail["changes"] == {"age": [None, "sensitive"]}
    assert dict(by_action["setting.changed"].detail) == {"key": "k"}
    assert "a secret value" not in json.dumps([dict(e.detail) for e in entries])
    assert [e.id for e in project.audit_log(limit=2)] == [entries[0].id, entries[1].id]
    assert entries[0].ts.endswith("+00:00") and entries[0].ts >= entries[-1].ts
    with pytest.raises(ProjectError, match="not JSON-serialisable"):
        project.audit("x.y", thing=object())


# ---- concurrency -------------------------------------------------------------------------------------------


def test_eight_threads_writing_while_another_reads_lose_nothing(project: Project) -> None:
    per_thread = 25
    barrier = threading.Barrier(9)
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                record = register(project, f"t{t}-{i}", roles={})
                project.set_roles(record.id, {"age": "sensitive" if i % 2 else "quasi_identifier"})
                project.set_setting(f"thread-{t}", i)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    def reader() -> None:
        try:
            barrier.wait()
            while not stop.is_set():
                for record in project.datasets():
                    assert record.schema == tuple(SCHEMA)
                project.audit_log(limit=10)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    read_thread = threading.Thread(target=reader)
    for thread in [*threads, read_thread]:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stop.set()
    read_thread.join(timeout=60)
    assert errors == []
    records = project.datasets()
    assert len(records) == 8 * per_thread
    assert len({r.id for r in records}) == 8 * per_thread
    assert all("age" in r.roles for r in records)
    assert all(project.get_setting(f"thread-{t}") == per_thread - 1 for t in range(8))
    actions = [e.action for e in project.audit_log(limit=10_000)]
    assert actions.count("dataset.registered") == 8 * per_thread
    assert actions.count("dataset.roles_changed") == 8 * per_thread


WRITER = """
import sys
from workbench.core.project.store import Project
folder, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Project.open(folder) as p:
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    for i in range(count):
        r = p.register_dataset(f"{tag}-{i}.csv", f"/data/{tag}-{i}.csv", f"{tag}-{i}", "csv", "utf-8", ",",
                               i, i * 10, [["name", "string"], ["age", "integer"]], {"name": "direct"})
        p.set_roles(r.id, {"age": "quasi"})
"""


def test_two_processes_writing_at_once_lose_nothing(project: Project) -> None:
    count = 400
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(project.folder), tag, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for tag in ("a", "b")
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    # This process writes too, while the children do.
    for i in range(40):
        register(project, f"parent-{i}")
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    records = project.datasets()
    assert len(records) == 2 * count + 40
    children = [r for r in records if r.fingerprint[:2] in ("a-", "b-")]
    assert len(children) == 2 * count
    assert all(dict(r.roles) == {"name": "direct_identifier", "age": "quasi_identifier"} for r in children)
    assert len([e for e in project.audit_log(limit=10_000) if e.action == "dataset.registered"]) == 2 * count + 40


KILLED_WRITER = """
import itertools, sys
from workbench.core.project.store import Project
folder, tag = sys.argv[1], sys.argv[2]
p = Project.open(folder)
print("ready", flush=True)
for i in itertools.count():
    r = p.register_dataset(f"{tag}-{i}.csv", f"/data/{tag}/{i}.csv", f"{tag}-{i}", "csv", "utf-8", ",",
                           i, i * 10, [["name", "string"], ["age", "integer"], ["note", "text"]],
                           {"name": "direct_identifier", "age": "quasi_identifier"})
    p.set_roles(r.id, {"note": "free_text", "age": "sensitive" if i % 2 else "quasi_identifier"})
    if i % 3 == 0:  # the same data again: an update of the existing row
        p.register_dataset(f"{tag}-{i}-again.csv", f"/data/{tag}/{i}-again.csv", f"{tag}-{i}", "csv", "utf-8",
                           ",", i, i * 10, [["name", "string"], ["age", "integer"], ["note", "text"]], {})
    p.set_setting("last", i)
"""


def test_killing_a_writer_at_any_moment_leaves_a_project_that_opens(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    Project.create(folder).close()
    rng = random.Random()
    totals: list[int] = []
    for iteration in range(5):
        delay = rng.uniform(0.05, 0.4)
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(folder), f"run{iteration}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == "ready", proc.communicate(timeout=30)[1]
        time.sleep(delay)
        proc.kill()  # SIGKILL: no cleanup, no atexit, no rollback
        proc.communicate(timeout=30)
        context = f"iteration {iteration}, killed after {delay:.3f} s"

        raw = sqlite3.connect(folder / DB_FILE_NAME)
        try:
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)], context
            assert raw.execute("PRAGMA foreign_key_check").fetchall() == [], context
        finally:
            raw.close()
        with Project.open(folder) as p:
            records = p.datasets()
            for record in records:
                assert record.name and record.path and record.fingerprint and record.format == "csv", context
                assert record.columns == ("name", "age", "note"), context
                assert set(record.roles) <= set(record.columns), context
                assert record.roles["name"] == "direct_identifier", context
                assert record.rows * 10 == record.size_bytes, context
            registered = [e for e in p.audit_log(limit=100_000) if e.action == "dataset.registered"]
            # A dataset row and its audit entry are one transaction: both or neither.
            assert sorted(e.detail["dataset_id"] for e in registered) == sorted(r.id for r in records), context
            totals.append(len(records))
    assert totals[-1] > 0, "the writers never got to write anything; the test proves nothing"
    assert totals == sorted(totals)
