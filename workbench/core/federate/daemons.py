"""Flower's processes on one machine: a SuperLink, one SuperNode per site and ``flwr run``, each in its own
process group, bound to 127.0.0.1 on free ports, torn down however the run ends.

Flower starts its helpers (``flower-superexec``, ``flwr-serverapp``, ``flwr-clientapp``) by executable name, so the
folder of the running interpreter goes first on ``PATH``. Telemetry and the update check are off, ``FLWR_HOME`` is
a folder of this federation's own (it holds the connection file written here, never a user's ``~/.flwr``), and the
SuperLink never installs anything (``--disable-runtime-dependency-installation``).

Teardown sends SIGTERM to every process group, then SIGKILL to what is left after a grace period, then kills any
process that still carries this federation's ``FLWR_HOME`` in its environment (a helper that started a session of
its own): :func:`flower_processes` finds them, and the tests use it to prove nothing is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from workbench.core.federate.plan import FederationError, FederationPlan

CONNECTION = "workbench"
APP_MODULES = {
    "wb_server_app.py": "from workbench.core.federate import server_app\n\napp = server_app.app\n",
    "wb_client_app.py": "from workbench.core.federate import client_app\n\napp = client_app.app\n",
}


@dataclass(frozen=True, slots=True)
class SiteNode:
    """One site's SuperNode: its folder (``rows.parquet`` in, ``privacy.json`` out) and its own epsilon cap."""

    name: str
    site_dir: Path
    max_epsilon: float


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def flower_env(flwr_home: Path) -> dict[str, str]:
    """The environment for every Flower process: no telemetry, no update check, our FLWR_HOME, our venv first."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        FLWR_TELEMETRY_ENABLED="0",
        FLWR_DISABLE_UPDATE_CHECK="1",
        FLWR_HOME=str(flwr_home),
        PATH=bin_dir + os.pathsep + env.get("PATH", ""),
        PYTHONUNBUFFERED="1",
        # The SuperExecs (SuperLink's and each SuperNode's) look for new app processes to start every 1 s by
        # default; every SecAgg+ stage starts one ClientApp process per site, so that wait adds up each round.
        FLWR_SUPEREXEC_TASK_POLL_INTERVAL="0.25",
        OMP_NUM_THREADS="1",
    )
    return env


def write_app(
    app_dir: Path,
    plan: FederationPlan,
    *,
    sites: int,
    events: Path,
    record_updates: bool,
    reply_timeout: float = 0.0,
) -> Path:
    """The Flower app folder, its pyproject.toml written by hand (``flwr new`` would fetch a template)."""
    import tomli_w

    app_dir.mkdir(parents=True, exist_ok=True)
    for name, text in APP_MODULES.items():
        (app_dir / name).write_text(text, encoding="utf-8")
    project = {
        "build-system": {"requires": ["hatchling"], "build-backend": "hatchling.build"},
        "project": {"name": "workbench-federation", "version": "1.0.0", "license": "Proprietary", "dependencies": []},
        "tool": {
            "hatch": {"build": {"targets": {"wheel": {"packages": ["."]}}}},
            "flwr": {
                "app": {
                    "publisher": "privacy-workbench",
                    "components": {"serverapp": "wb_server_app:app", "clientapp": "wb_client_app:app"},
                    "config": {
                        "plan": plan.to_json(),
                        "min-sites": int(sites),
                        "events-file": str(events),
                        "record-updates": bool(record_updates),
                        "reply-timeout": float(reply_timeout),
                    },
                }
            },
        },
    }
    (app_dir / "pyproject.toml").write_text(tomli_w.dumps(project), encoding="utf-8")
    return app_dir


def flower_processes(flwr_home: Path) -> list[Any]:
    """Live processes whose environment carries this ``FLWR_HOME`` (every daemon and helper of one federation)."""
    import psutil

    found = []
    target = str(flwr_home)
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error, OSError):
            if proc.pid != os.getpid() and proc.environ().get("FLWR_HOME") == target:
                found.append(proc)
    return found


class LocalFederation:
    """A SuperLink and the sites' SuperNodes on 127.0.0.1; a context manager that always tears them down."""

    def __init__(self, workdir: Path, sites: list[SiteNode]) -> None:
        self.workdir = workdir
        self.sites = sites
        self.flwr_home = workdir / "flwr-home"
        self.logs = workdir / "logs"
        self.env = flower_env(self.flwr_home)
        self.port = 0
        self._procs: list[subprocess.Popen[bytes]] = []
        self._files: list[IO[bytes]] = []

    def __enter__(self) -> LocalFederation:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self, name: str, cmd: list[str], cwd: Path | None = None) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        self._files.append(log)
        proc = subprocess.Popen(
            cmd,
            env=self.env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group (setsid): killed as one on teardown
        )
        self._procs.append(proc)
        return proc

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.flwr_home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        (self.flwr_home / "config.toml").write_text(
            f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
            f'address = "127.0.0.1:{self.port}"\ninsecure = true\n',
            encoding="utf-8",
        )
        link = self._spawn(
            "superlink",
            [
                "flower-superlink",
                "--insecure",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--disable-runtime-dependency-installation",
            ],
        )
        self._wait_for_port(link, self.port)
        for i, site in enumerate(self.sites):
            config = (
                f'site-dir="{site.site_dir}" site-name="{site.name}" max-epsilon={float(site.max_epsilon)!r} '
                f"partition-id={i} num-partitions={len(self.sites)}"
            )
            self._spawn(
                f"supernode-{i}",
                [
                    "flower-supernode",
                    "--insecure",
                    "--superlink",
                    f"127.0.0.1:{self.port}",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(free_port()),
                    "--node-config",
                    config,
                ],
            )

    def _wait_for_port(self, proc: subprocess.Popen[bytes], port: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise FederationError(f"the SuperLink stopped at start (see {self.logs / 'superlink.log'})")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
            time.sleep(0.2)
        raise FederationError(f"the SuperLink did not open port {port} within {timeout:g} s")

    def run_app(self, app_dir: Path) -> subprocess.Popen[bytes]:
        """``flwr run APP_DIR CONNECTION --stream``: submits the run and streams its log until it ends."""
        return self._spawn("flwr-run", ["flwr", "run", str(app_dir), CONNECTION, "--stream"], cwd=app_dir)

    def close(self, grace: float = 5.0) -> None:
        """Tear every process group down (SIGTERM, then SIGKILL), then any straggler with our FLWR_HOME."""
        for proc in self._procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group may outlive its leader
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for straggler in flower_processes(self.flwr_home):
            with contextlib.suppress(Exception):
                straggler.kill()
        for f in self._files:
            f.close()
        self._procs.clear()
        self._files.clear()

    def read_events(self, events: Path, seen: int) -> Iterator[dict[str, Any]]:
        """Round events the ServerApp appended after the first ``seen`` lines."""
        import json

        if not events.exists():
            return
        text = events.read_text(encoding="utf-8")
        lines = text[: text.rfind("\n") + 1].splitlines()  # complete lines only: the host may be mid-write
        for line in lines[seen:]:
            if line.strip():
                yield json.loads(line)
