"""Flower's processes for a federation across machines: the host's SuperLink (and ``flwr run``), and one site's
SuperNode, each a context manager that tears its process groups down however it ends (as
:class:`~workbench.core.federate.daemons.LocalFederation` does on one machine).

The host's SuperLink binds to the address given (``0.0.0.0`` for every interface); flwr 1.42 serves the Fleet API
(the sites), the Control API (run submission) and the Runtime API (its own ServerApp) on that one port, so whoever
reaches the port can submit runs: bind it to the interface the sites use, and firewall it to their addresses.
With ``tls`` the SuperLink serves TLS with the host's certificate (:mod:`.tls`), else plain HTTP (``--insecure``).

A site's SuperNode dials the host, and serves its own ClientApp API on 127.0.0.1 only. Its ``PATH`` starts with a
folder holding the guarded ``flwr-clientapp`` (:mod:`.fab_guard`), so the site runs the workbench's own ClientApp
only, whatever app the host sends; the node config turns on the plan gate (:func:`.client_app.plan_gate`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

from workbench.core.federate.daemons import CONNECTION, LocalFederation, SiteNode, free_port
from workbench.core.federate.fab_guard import write_guard_bin
from workbench.core.federate.plan import FederationError
from workbench.core.federate.tls import TlsFiles


def split_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as (host, port); a clear error otherwise."""
    host, sep, port_text = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise FederationError(f"{address!r} is not an address: give HOST:PORT, e.g. 192.168.1.20:9092")
    return host, int(port_text)


def wait_for_port(host: str, port: int, alive: object, timeout: float, what: str) -> None:
    """Wait until ``host:port`` accepts a connection, while ``alive()`` (a process's poll() is None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():  # type: ignore[operator]
            raise FederationError(f"{what} stopped at start")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.2)
    raise FederationError(f"{what} did not open port {port} within {timeout:g} s")


class HostLink(LocalFederation):
    """The host's SuperLink on ``bind:port`` (TLS when ``tls`` is given), and ``flwr run`` against it."""

    def __init__(self, workdir: Path, *, bind: str, port: int, tls: TlsFiles | None) -> None:
        super().__init__(workdir, [])
        self.bind = bind
        self.port = port
        self.tls = tls

    def _local_address(self) -> str:
        """Where this machine reaches its own SuperLink (the loopback when bound to every interface)."""
        return "127.0.0.1" if self.bind in ("0.0.0.0", "::", "") else self.bind

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.flwr_home.mkdir(parents=True, exist_ok=True)
        security = f'root-certificates = "{self.tls.ca}"\n' if self.tls else "insecure = true\n"
        (self.flwr_home / "config.toml").write_text(
            f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
            f'address = "{self._local_address()}:{self.port}"\n{security}',
            encoding="utf-8",
        )
        tls_args = (
            [
                "--ssl-ca-certfile",
                str(self.tls.ca),
                "--ssl-certfile",
                str(self.tls.cert),
                "--ssl-keyfile",
                str(self.tls.key),
            ]
            if self.tls
            else ["--insecure"]
        )
        cmd = ["flower-superlink", *tls_args, "--host", self.bind, "--port", str(self.port)]
        link = self._spawn("superlink", [*cmd, "--disable-runtime-dependency-installation"])
        wait_for_port(self._local_address(), self.port, lambda: link.poll() is None, 60.0, "the SuperLink")


class SiteSupernode(LocalFederation):
    """One site's SuperNode dialling ``address`` (the host's SuperLink), its ClientApp guarded and gated."""

    def __init__(
        self, workdir: Path, site: SiteNode, address: str, *, ca: Path | None, gate_timeout: float = 300.0
    ) -> None:
        super().__init__(workdir, [site])
        self.address = address
        self.ca = ca
        self.gate_timeout = gate_timeout
        guard = write_guard_bin(workdir / "guard-bin")
        self.env["PATH"] = str(guard) + os.pathsep + self.env["PATH"]

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.flwr_home.mkdir(parents=True, exist_ok=True)
        site = self.sites[0]
        config = (
            f'site-dir="{site.site_dir}" site-name="{site.name}" max-epsilon={float(site.max_epsilon)!r} '
            f"gate=true gate-timeout={float(self.gate_timeout)!r}"
        )
        security = ["--root-certificates", str(self.ca)] if self.ca else ["--insecure"]
        self._spawn(
            "supernode",
            [
                "flower-supernode",
                *security,
                "--superlink",
                self.address,
                "--host",
                "127.0.0.1",
                "--port",
                str(free_port()),
                "--node-config",
                config,
            ],
        )
