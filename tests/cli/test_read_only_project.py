"""A project that this user cannot write (its folder and store belong to someone else) is opened read-only:
listing and reading commands work, a change is refused with one line, exit 2 (issue 11).

The commands run as the user ``nobody`` (through ``setpriv``) on a project that root created: as root,
permissions would not stop a write. Skipped where that is not possible."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import run_workbench
from tests.support.planted import FAST_KDF_SPEC, PASSPHRASE

NOBODY = 65534
SETPRIV = shutil.which("setpriv")

pytestmark = pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0 or SETPRIV is None,
    reason="needs root and setpriv to run a command as another user",
)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the user nobody can enter (pytest's tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="workbench-ro-"))
    d.chmod(0o755)
    (d / "home").mkdir(mode=0o777)
    (d / "home").chmod(0o777)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _as_nobody(d: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, WORKBENCH_HOME=str(d / "home"), WORKBENCH_PASSPHRASE=PASSPHRASE)
    argv = [str(SETPRIV), f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable]
    return subprocess.run(
        [*argv, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_a_project_nobody_can_write_is_listed_read_only(shared_dir: Path, encrypted: bool) -> None:
    env = dict(os.environ, WORKBENCH_PASSPHRASE=PASSPHRASE)
    data = shared_dir / "visits.csv"
    data.write_text("id,age\n1,30\n2,41\n", encoding="utf-8")
    folder = shared_dir / "proj"
    steps = [("project", "init", str(folder)), ("add", str(data), "--project", str(folder))]
    if encrypted:
        steps.append(("project", "encrypt", str(folder), "--kdf", FAST_KDF_SPEC))
    for argv in steps:
        proc = run_workbench(*argv, env=env)
        assert proc.returncode == 0, proc.stderr
    for root, dirs, files in os.walk(folder):  # readable by all, writable by root only
        for name in dirs + files:
            os.chmod(os.path.join(root, name), 0o755 if name in dirs else 0o644)
    before = sorted(p.name for p in folder.iterdir())

    listing = _as_nobody(shared_dir, "datasets", "--project", str(folder))
    assert listing.returncode == 0, listing.stderr
    assert "visits.csv" in listing.stdout and "opened read-only" in listing.stderr
    info = _as_nobody(shared_dir, "info", "--dataset", "visits.csv", "--project", str(folder))
    assert info.returncode == 0, info.stderr
    assert "2 rows" in info.stdout
    if not encrypted:  # the budget of a file named by its path
        budget = _as_nobody(shared_dir, "budget", str(data), "--project", str(folder))
        assert budget.returncode == 0, budget.stderr

    refused = _as_nobody(shared_dir, "roles", "visits.csv", "--project", str(folder), "--role", "age=sensitive")
    assert refused.returncode == 2, refused.stderr
    errors = [line for line in refused.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert sorted(p.name for p in folder.iterdir()) == before
