"""Planted values: a small dataset holding values no real file would, and scans of folders for them (to show that
nothing sensitive was written in clear)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

PASSPHRASE = "a passphrase for the service tests"
FAST_KDF_SPEC = "argon2id:m=19456,t=2,p=1"
CANARY_NAME = "Quillon Vantablack"
CANARY_NOTE = "seen by Dr Xerxes Pemberly-Zot"
CANARY_COLUMN = "zorblat_code"


def canary_csv(path: Path, rows: int = 120) -> Path:
    """A small dataset whose names, notes and one column name are planted values no real file would hold."""
    lines = [f"record_id,name,age,sex,{CANARY_COLUMN},note,follow_up"]
    for i in range(rows):
        name = CANARY_NAME if i % 3 == 0 else f"Person {i}"
        note = CANARY_NOTE if i % 4 == 0 else "routine visit"
        lines.append(f"R{i:04d},{name},{20 + i % 50},{'F' if i % 2 else 'M'},{i % 7},{note},{'yes' if i % 3 else 'no'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


CANARIES = (CANARY_NAME.encode(), b"Xerxes", CANARY_COLUMN.encode())


def files_holding(folders: Iterable[Path], needles: Iterable[bytes] = CANARIES) -> list[str]:
    """Every file under ``folders`` whose bytes hold one of ``needles``, as 'path: needle'."""
    hits = []
    needles = tuple(needles)
    for folder in folders:
        if not folder.exists():
            continue
        for root, _dirs, names in os.walk(folder):
            for name in names:
                path = Path(root) / name
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                hits += [f"{path}: {n.decode()}" for n in needles if n in data]
    return hits


def plaintext_outside_vault(project: Path) -> list[str]:
    """Model or dataset files in the project folder but outside ``encrypted/`` (there must be none)."""
    # The marker holds the project's id only; the ledger's lock file is empty. The ledger record must be sealed.
    allowed_top = {"workbench.sqlite", "workbench.sqlite-wal", "workbench.sqlite-shm", "vault.json"}
    allowed_top |= {"workbench-project.json"}
    found = []
    for path in project.rglob("*"):
        if not path.is_file() or "encrypted" in path.relative_to(project).parts:
            continue
        if path.name == ".ledger.lock" and path.stat().st_size == 0:
            continue
        if path.name not in allowed_top:
            found.append(str(path))
    return found
