"""packaging/install.sh, uninstall.sh and lock_wheelhouse.py on small stand-ins (no frozen build needed): a
per-user install, an upgrade that keeps the user's data and the previous version, a damaged folder refused, an
uninstall that leaves the data; and the wheelhouse lock (issue 16). The real frozen folder is checked by hand with
the commands in packaging/README.md."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"

pytestmark = pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils (sha256sum)")


def _fake_release(folder: Path, version: str) -> Path:
    """A folder shaped like the unpacked archive: an executable that prints its version, the links, the
    installer files and SHA256SUMS."""
    folder.mkdir(parents=True)
    exe = folder / "privacy-workbench"
    exe.write_text(f'#!/bin/sh\necho "$(basename "$0") {version} $*"\n')
    exe.chmod(0o755)
    (folder / "workbench").symlink_to("privacy-workbench")
    (folder / "VERSION").write_text(version + "\n")
    for name in ("install.sh", "uninstall.sh", "privacy-workbench.desktop", "privacy-workbench.svg"):
        shutil.copy2(PACKAGING / name, folder / name)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    sums = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  ./{p.relative_to(folder)}\n" for p in files)
    (folder / "SHA256SUMS").write_text(sums)
    return folder


def _run(script: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=env, timeout=120)


def test_install_upgrade_and_uninstall_per_user(tmp_path: Path) -> None:
    home = tmp_path / "home"
    local = home / ".local"
    data = local / "share" / "privacy-workbench"  # the user's data folder (settings, keys, ledger)
    data.mkdir(parents=True)
    (data / "settings.json").write_text('{"kept": true}')
    project = home / "projects" / "study"
    project.mkdir(parents=True)
    (project / "workbench.sqlite").write_bytes(b"project")

    v1 = _fake_release(tmp_path / "unpacked-1", "1.0.0")
    done = _run(v1 / "install.sh", "--no-verify", home=home)
    assert done.returncode == 0, done.stderr
    assert "installed Privacy Workbench 1.0.0" in done.stdout
    bin_dir = local / "bin"
    out = subprocess.run([str(bin_dir / "workbench"), "selftest"], capture_output=True, text=True).stdout
    assert out.strip() == "workbench 1.0.0 selftest"  # dispatch name survives the link chain
    desktop = (local / "share" / "applications" / "privacy-workbench.desktop").read_text()
    assert f"Exec={bin_dir}/privacy-workbench %f" in desktop
    assert (local / "share" / "icons" / "hicolor" / "scalable" / "apps" / "privacy-workbench.svg").is_file()

    for version in ("1.1.0", "1.2.0"):
        release = _fake_release(tmp_path / f"unpacked-{version}", version)
        done = _run(release / "install.sh", "--no-verify", home=home)
        assert done.returncode == 0, done.stderr
        assert "upgraded" in done.stdout and "-> " + version in done.stdout
    approot = local / "lib" / "privacy-workbench"
    assert sorted(p.name for p in (approot / "versions").iterdir()) == ["1.1.0", "1.2.0"]  # current + previous
    assert os.readlink(approot / "current") == "versions/1.2.0"
    out = subprocess.run([str(bin_dir / "privacy-workbench")], capture_output=True, text=True).stdout
    assert out.strip() == "privacy-workbench 1.2.0"
    assert (data / "settings.json").read_text() == '{"kept": true}'
    assert (project / "workbench.sqlite").read_bytes() == b"project"

    done = _run(approot / "current" / "uninstall.sh", home=home)
    assert done.returncode == 0, done.stderr
    assert not approot.exists() and not (bin_dir / "workbench").exists()
    assert not (local / "share" / "applications" / "privacy-workbench.desktop").exists()
    assert (data / "settings.json").is_file() and (project / "workbench.sqlite").is_file()


def test_a_damaged_folder_is_not_installed(tmp_path: Path) -> None:
    release = _fake_release(tmp_path / "unpacked", "1.0.0")
    with (release / "privacy-workbench.svg").open("a") as fh:
        fh.write("<!-- changed -->")
    done = _run(release / "install.sh", home=tmp_path / "home")
    assert done.returncode == 1
    assert "checksum mismatch" in done.stderr
    assert not (tmp_path / "home" / ".local" / "lib").exists()


def _lock_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_packaging_lock_wheelhouse", PACKAGING / "lock_wheelhouse.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _wheel(folder: Path, filename: str, name: str, version: str) -> Path:
    path = folder / filename
    with zipfile.ZipFile(path, "w") as zf:
        metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        zf.writestr(f"{name}-{version}.dist-info/METADATA", metadata)
    return path


def test_wheelhouse_lock_pins_every_wheel_by_hash(tmp_path: Path) -> None:
    lock = _lock_module()
    workbench = _wheel(tmp_path, "privacy_workbench-0.1.0-py3-none-any.whl", "privacy-workbench", "0.1.0")
    torch = _wheel(tmp_path, "torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl", "torch", "2.13.0+cpu")
    assert lock.main([str(tmp_path)]) == 0
    text = (tmp_path / "requirements.lock").read_text()
    digest = hashlib.sha256(torch.read_bytes()).hexdigest()
    assert f"torch==2.13.0+cpu --hash=sha256:{digest}\n" in text
    assert f"# torch: {torch.name} sha256 {digest}" in text
    assert f"privacy-workbench==0.1.0 --hash=sha256:{hashlib.sha256(workbench.read_bytes()).hexdigest()}" in text
    _wheel(tmp_path, "torch-2.13.0-cp311-cp311-linux_x86_64.whl", "torch", "2.13.0")
    with pytest.raises(SystemExit, match="two wheels of torch"):
        lock.lock_lines(tmp_path)
