"""Datasets in an encrypted project: imported into the vault, read back in memory, never on disk in clear."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from workbench.core.crypto import kdf
from workbench.core.crypto.primitives import VaultLockedError
from workbench.core.crypto.vault import ProjectVault
from workbench.core.data.dataset import LoadOptions
from workbench.core.errors import DatasetError
from workbench.core.jobs import drive
from workbench.core.project.registration import register_loaded
from workbench.core.project.secure_data import import_into_vault, is_vault_path, load_from_vault
from workbench.core.project.store import Project

CANARY = "Zebulon-Quaxley-7731"


def _scan_for(folder: Path, needle: bytes) -> list[Path]:
    hits = []
    for root, _dirs, files in os.walk(folder):
        for f in files:
            p = Path(root) / f
            try:
                if needle in p.read_bytes():
                    hits.append(p)
            except OSError:
                continue
    return hits


def test_import_then_reload_from_the_vault(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    src = outside / "intake.csv"
    src.write_text(f"name,diagnosis\n{CANARY},J45\nBob,E11\n", encoding="utf-8")
    project = Project.create(tmp_path / "proj")
    vault = ProjectVault.create(project.folder, "correct horse battery", kdf=kdf.minimum_params())
    temp_before = set(os.listdir(tempfile.gettempdir()))
    ds = drive(import_into_vault(vault, src, LoadOptions()))
    assert is_vault_path(ds.path) and ds.num_rows == 2
    record = register_loaded(project, ds)
    assert record.path == ds.path
    again = drive(load_from_vault(vault, record.path, record.name, LoadOptions()))
    assert again.fingerprint == ds.fingerprint and again.table.equals(ds.table)
    # Importing the same bytes twice stores one copy.
    drive(import_into_vault(vault, src, LoadOptions()))
    assert len(vault.names()) == 1
    project.close()
    vault.lock()
    assert _scan_for(tmp_path / "proj", CANARY.encode()) == []
    new_temp = set(os.listdir(tempfile.gettempdir())) - temp_before
    leaked = [n for n in new_temp if _scan_for(Path(tempfile.gettempdir()) / n, CANARY.encode())]
    assert leaked == []
    with pytest.raises(VaultLockedError):
        drive(load_from_vault(vault, record.path, record.name, LoadOptions()))


def test_bad_file_is_not_imported(tmp_path: Path) -> None:
    vault = ProjectVault.create(tmp_path / "proj", "correct horse battery", kdf=kdf.minimum_params())
    bad = tmp_path / "ragged.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(DatasetError, match="line 3"):
        drive(import_into_vault(vault, bad, LoadOptions()))
    assert vault.names() == []
