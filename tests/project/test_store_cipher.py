"""The encrypted project store (SQLCipher): nothing readable on disk, the right error for a missing or wrong key,
in-place conversion of a plaintext store that keeps every record, and conversion that survives SIGKILL."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sqlcipher3.dbapi2", reason="the encrypted project store needs sqlcipher3-binary")

from workbench.core.crypto import kdf  # noqa: E402
from workbench.core.crypto.vault import ProjectVault  # noqa: E402
from workbench.core.dp.ledger import PrivacyLedger  # noqa: E402
from workbench.core.errors import ProjectError  # noqa: E402
from workbench.core.project import connection, store  # noqa: E402
from workbench.core.project.identity import MARKER_NAME  # noqa: E402
from workbench.core.project.store import DB_FILE_NAME, SCHEMA_VERSION, Project  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
CANARY = "CANARY-Zorblat-7731"
FP = "f" * 64
PASSPHRASE = "correct horse battery staple"
FAST = kdf.minimum_params()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def vault_key(folder: Path) -> bytes:
    """What the caller does: a vault in the project folder, and a 32-byte vault secret as the store key."""
    vault = ProjectVault.create(folder, PASSPHRASE, kdf=FAST)
    try:
        return vault.secret("project-store")
    finally:
        vault.lock()


def fill(p: Project, n: int = 3, columns: int = 3) -> None:
    """Datasets named after the canary, policies, lineage, settings, audit entries and ledger rows."""
    schema = [(f"{CANARY}-col{c}", "string") for c in range(columns)]
    ids = [
        p.register_dataset(
            name=f"{CANARY}-{i}.csv",
            path=f"/data/{CANARY}/{i}.csv",
            fingerprint=f"{CANARY}-fp{i}",
            format="csv",
            encoding="utf-8",
            delimiter=",",
            rows=10 + i,
            size_bytes=100 + i,
            schema=schema,
            roles={schema[0][0]: "direct_identifier"},
        ).id
        for i in range(n)
    ]
    p.set_setting("site", {"name": CANARY})
    p.save_policy({"entities": [CANARY]}, name=f"{CANARY} policy", dataset_id=ids[0])
    p.add_lineage(ids[-1], ids[0], "anonymize", {"note": CANARY})
    for i in range(5):
        p.audit("dataset.exported", target=f"/exports/{CANARY}-{i}.csv")
    ledger = PrivacyLedger(p, recover=False)
    ledger.set_total(FP, 10.0, 1e-4)
    r = ledger.reserve(FP, 2.0, 1e-5, note=CANARY)
    ledger.commit(r, 1.5, 1e-5, accountant="rdp", noise_multiplier=1.1, sample_rate=0.01, steps=100)
    ledger.reserve(FP, 1.0, 1e-6)  # left reserved


def dump(p: Project) -> dict[str, Any]:
    """Every row of every table (sqlite_sequence included), plus what the API reads back."""
    with p.read_connection("test") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")]
        rows = {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}
        pragmas = {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("user_version", "application_id")}
    return {
        "rows": rows,
        "pragmas": pragmas,
        "datasets": p.datasets(),
        "audit": p.audit_log(limit=1_000_000),
        "setting": p.get_setting("site"),
        "policies": p.policy_history(1),
        "lineage": p.lineage(1),
        "ledger": PrivacyLedger(p, recover=False).entries(FP),
    }


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}


def assert_no_canary(folder: Path) -> None:
    files = folder_bytes(folder)
    assert DB_FILE_NAME in files
    for needle in (CANARY.encode(), CANARY.encode("utf-16-le"), b"Zorblat", b"datasets", b"SQLite format 3"):
        leaks = [name for name, data in files.items() if needle in data]
        assert not leaks, f"{needle!r} readable in {leaks}"


def make_plain_project(folder: Path, **fill_args: Any) -> dict[str, Any]:
    with Project.create(folder) as p:
        fill(p, **fill_args)
        # A removed last dataset: AUTOINCREMENT must not hand its id out again after the conversion.
        last = p.datasets()[-1].id
        p.remove_dataset(last)
        return dump(p)


# ---- an encrypted store from the start ---------------------------------------------------------------------


def test_nothing_readable_on_disk_while_open_and_after_closing(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    key = vault_key(folder)  # the vault comes first: create accepts a folder that holds only the vault
    p = Project.create(folder, key=key)
    try:
        assert p.encrypted and p.schema_version == SCHEMA_VERSION
        fill(p)
        with p.read_connection("test") as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA cipher_version").fetchone()[0].startswith("4.")
        assert (folder / f"{DB_FILE_NAME}-wal").stat().st_size > 0  # the new rows are in the WAL: encrypted too
        assert_no_canary(folder)
        expected = dump(p)
    finally:
        p.close()
    assert_no_canary(folder)
    assert Project.store_is_encrypted(folder)
    with Project.open(folder, key=key) as p:
        assert dump(p) == expected
        assert [d.name for d in p.datasets()] == [f"{CANARY}-{i}.csv" for i in range(3)]
        assert p.datasets()[0].columns[0] == f"{CANARY}-col0"


def test_missing_wrong_and_misshapen_keys(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    key = vault_key(folder)
    with Project.create(folder, key=key) as p:
        fill(p, n=1)
    with pytest.raises(ProjectError, match=r"is an encrypted project: unlock it with its passphrase") as info:
        Project.open(folder)
    assert "WORKBENCH_PASSPHRASE" in str(info.value)
    with pytest.raises(ProjectError, match="encrypted project"):
        Project.open_or_create(folder)
    with pytest.raises(ProjectError, match="the key does not open this project's store") as info:
        Project.open(folder, key=bytes(32))
    assert "damaged" not in str(info.value)
    for bad in (key[:16], key + b"\x00", key.hex()):
        with pytest.raises(ProjectError, match="must be 32 bytes"):
            Project.open(folder, key=bad)  # type: ignore[arg-type]
    with Project.open_or_create(folder, key=bytearray(key)) as p:  # a bytearray (how vaults keep keys) works too
        assert len(p.datasets()) == 1


def test_an_encrypted_store_without_its_vault_is_reported_as_damaged_not_as_locked(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    Project.create(folder, key=os.urandom(32)).close()
    with pytest.raises(ProjectError, match="the project database is damaged.*no vault.json"):
        Project.open(folder)


def test_a_plaintext_store_with_a_key_is_not_encrypted_yet(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    Project.create(folder).close()
    assert not Project.store_is_encrypted(folder)
    with pytest.raises(ProjectError, match="not encrypted yet"):
        Project.open(folder, key=os.urandom(32))
    assert not Project.store_is_encrypted(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / DB_FILE_NAME).write_bytes(b"")
    assert not Project.store_is_encrypted(tmp_path / "empty")
    # An empty file (a create killed before its first write) becomes an encrypted store when opened with a key.
    key = os.urandom(32)
    with Project.open(tmp_path / "empty", key=key) as p:
        assert p.schema_version == SCHEMA_VERSION
    assert Project.store_is_encrypted(tmp_path / "empty")


def test_the_key_is_never_logged_nor_in_an_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = os.urandom(32)
    texts: list[str] = []
    with Project.create(tmp_path / "a", key=key) as p:
        fill(p, n=1)
    with Project.create(tmp_path / "b") as p:
        fill(p, n=1)
    assert Project.encrypt_store(tmp_path / "b", key)
    for attempt in (lambda: Project.open(tmp_path / "a", key=key[::-1]), lambda: Project.open(tmp_path / "a")):
        with pytest.raises(ProjectError) as info:
            attempt()
        texts.append(str(info.value))
    texts += [r.getMessage() for r in caplog.records]
    for form in (key.hex(), key.hex().upper(), key[::-1].hex(), repr(key)):
        assert not [t for t in texts if form in t]


def test_errors_inside_transactions_are_translated_for_sqlcipher_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "proj"
    key = os.urandom(32)
    with Project.create(folder, key=key) as p:
        with (
            pytest.raises(ProjectError, match=r"could not store junk: CHECK constraint failed"),
            p.write_transaction("store junk") as conn,
        ):
            conn.execute("INSERT INTO settings (key, value_json) VALUES ('a', '1')")
            conn.execute("INSERT INTO settings (key, value_json) VALUES ('b', 'not json')")
        assert p.get_setting("a") is None  # rolled back together
        with (
            pytest.raises(ProjectError, match="could not read junk: no such table"),
            p.read_connection("read junk") as conn,
        ):
            conn.execute("SELECT * FROM junk")
        monkeypatch.setattr(connection, "BUSY_TIMEOUT_S", 0.2)
        with (
            Project.open(folder, key=key) as other,
            p.write_transaction("hold the write lock"),
            pytest.raises(ProjectError, match="another program has been writing to this project"),
        ):
            PrivacyLedger(other, recover=False).set_total(FP, 1.0)


def test_a_damaged_encrypted_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "proj"
    key = os.urandom(32)
    with Project.create(folder, key=key) as p:
        fill(p, n=60, columns=20)
    db = folder / DB_FILE_NAME
    content = bytearray(db.read_bytes())
    assert len(content) > 8 * 4096
    one_page = bytearray(content)
    one_page[5 * 4096 + 100] ^= 0x01  # one bit: the page's HMAC fails
    db.write_bytes(bytes(one_page))
    with pytest.raises(ProjectError, match="the project database is damaged"):
        Project.open(folder, key=key)
    # Past the integrity check, SQLCipher reports such pages as malformed, as out of memory (MemoryError) or as a
    # bare "SQL logic error", depending on the page: every one is "damaged".
    db.write_bytes(bytes(content))
    monkeypatch.setattr(Project, "_check_integrity", staticmethod(lambda *args: None))
    with Project.open(folder, key=key) as p:  # reads the schema only
        for page in range(1, len(content) // 4096):
            content[page * 4096 + 100] ^= 0x01
        db.write_bytes(bytes(content))
        ledger = PrivacyLedger(p, recover=False)
        messages = []
        for call in (p.datasets, p.audit_log, lambda: ledger.entries(FP), lambda: p.audit("dataset.exported", n=1)):
            with pytest.raises(ProjectError, match="damaged") as info:
                call()
            messages.append(str(info.value))
        # After the first failure SQLCipher refuses every statement (SQLITE_NOMEM) until the store is reopened.
        assert "failed authentication" in messages[-1]


def test_plain_projects_do_not_load_sqlcipher(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        from workbench.core.project.store import Project
        with Project.create(sys.argv[1]) as p:
            p.set_setting("a", 1)
        Project.open(sys.argv[1]).close()
        print("sqlcipher3" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "p")], capture_output=True, text=True, env=child_env(), timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# ---- converting a plaintext store ----------------------------------------------------------------------------


def test_encrypt_store_keeps_every_record_and_leaves_nothing_readable(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    expected = make_plain_project(folder)
    key = vault_key(folder)
    plain_files = folder_bytes(folder)
    assert any(CANARY.encode() in data for data in plain_files.values())
    assert Project.encrypt_store(folder, key) is True
    assert Project.store_is_encrypted(folder)
    # The ledger's signed record and lock are left to the services layer, which seals the record at the next open.
    left = {"data", "encrypted", "vault.json", DB_FILE_NAME, MARKER_NAME, "ledger-record.json", ".ledger.lock"}
    assert {f.name for f in folder.iterdir()} <= left
    assert_no_canary(folder)
    with Project.open(folder, key=key) as p:
        assert dump(p) == expected
        new = p.register_dataset("x", "/x", "new-fp", "csv", None, None, 1, 1, [("a", "string")], {})
        assert new.id == max(d.id for d in expected["datasets"]) + 2  # the removed dataset's id stays used
    assert Project.encrypt_store(folder, key) is False  # idempotent
    assert Project.encrypt_store(folder, os.urandom(32)) is False  # and it does not touch an encrypted store
    with Project.open(folder, key=key) as p:
        assert len(p.datasets()) == len(expected["datasets"]) + 1


def test_encrypt_store_refuses_a_project_open_elsewhere_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "proj"
    expected = make_plain_project(folder, n=2)
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_S", 0.2)
    with Project.open(folder) as p:
        with pytest.raises(ProjectError, match="open in another window or program"):
            Project.encrypt_store(folder, os.urandom(32))
        assert dump(p) == expected
    assert not Project.store_is_encrypted(folder)
    assert not (folder / (DB_FILE_NAME + store.ENCRYPTING_SUFFIX)).exists()
    with pytest.raises(ProjectError, match="is not a workbench project"):
        Project.encrypt_store(tmp_path / "nothing", os.urandom(32))
    with pytest.raises(ProjectError, match="must be 32 bytes"):
        Project.encrypt_store(folder, b"short")


def test_two_conversions_at_once_convert_once(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    expected = make_plain_project(folder, n=40, columns=30)
    key = os.urandom(32)
    results: list[bool | BaseException] = []

    def convert() -> None:
        try:
            results.append(Project.encrypt_store(folder, key))
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            results.append(exc)

    threads = [threading.Thread(target=convert) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results, key=str) == [False, False, True], results
    with Project.open(folder, key=key) as p:
        assert dump(p) == expected


KILLED_CONVERTER = textwrap.dedent(
    """
    import os, sys
    from workbench.core.project import store
    folder, key, kill_at = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3]
    os.environ["WORKBENCH_FAULT_KILL_AT"] = "store." + kill_at  # workbench.core.faults: SIGKILL at that step
    import sqlcipher3.dbapi2  # imported before "ready": the timed kills land in the conversion itself
    print("ready", flush=True)
    store.Project.encrypt_store(folder, key)
    """
)


def check_after_kill(folder: Path, key: bytes, expected: dict[str, Any], context: str) -> bool:
    """The store is either the intact plaintext one (then it converts now) or the complete encrypted one."""
    was_encrypted = Project.store_is_encrypted(folder)
    if not was_encrypted:
        with Project.open(folder) as p:
            assert dump(p) == expected, context
        assert Project.encrypt_store(folder, key), context
    with Project.open(folder, key=key) as p:
        assert dump(p) == expected, context
    assert_no_canary(folder)
    assert not (folder / (DB_FILE_NAME + store.ENCRYPTING_SUFFIX)).exists(), context
    return was_encrypted


def run_killed(folder: Path, key: bytes, kill_at: str, delay: float | None) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_CONVERTER, str(folder), key.hex(), kill_at],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.communicate(timeout=30)[1]
    if delay is not None:
        time.sleep(delay)
        proc.kill()  # SIGKILL: no cleanup, no atexit, no rollback
    _, err = proc.communicate(timeout=30)
    if delay is None:
        assert proc.returncode == -signal.SIGKILL, err  # killed itself at the step


def test_killing_the_conversion_at_any_moment_leaves_one_whole_store(tmp_path: Path) -> None:
    template = tmp_path / "template"
    expected = make_plain_project(template, n=150, columns=40)
    key = os.urandom(32)
    # Every step boundary, deterministically.
    outcomes = {}
    for step in ("folded", "exported", "synced", "replaced"):
        folder = tmp_path / f"step-{step}"
        shutil.copytree(template, folder)
        run_killed(folder, key, step, None)
        if step == "exported":  # the half-finished copy is left for the next call to remove
            assert (folder / (DB_FILE_NAME + store.ENCRYPTING_SUFFIX)).exists()
        outcomes[step] = check_after_kill(folder, key, expected, f"killed at step {step}")
    assert outcomes == {"folded": False, "exported": False, "synced": False, "replaced": True}
    # And at fixed delays, most of them inside the export (about 20-60 ms here).
    reference = tmp_path / "timed-reference"
    shutil.copytree(template, reference)
    start = time.perf_counter()
    assert Project.encrypt_store(reference, key)
    took = time.perf_counter() - start
    timed = []
    for i, fraction in enumerate((0.0, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0, 1.5)):
        folder = tmp_path / f"timed-{i}"
        shutil.copytree(template, folder)
        run_killed(folder, key, "never", fraction * took)
        context = f"killed after {fraction * took * 1000:.1f} ms of ~{took * 1000:.0f}"
        timed.append(check_after_kill(folder, key, expected, context))
    print(f"conversion took {took * 1000:.0f} ms; encrypted when killed: {timed}")
