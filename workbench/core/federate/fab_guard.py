"""A site runs only the workbench's own ClientApp, whatever app the host sends.

In Flower's Deployment Engine the SuperNode runs the app the SuperLink hands it: ``flwr-clientapp`` unpacks the run's
FAB (a zip with the app's Python files and its ``pyproject.toml``) into ``FLWR_HOME/apps`` and imports the ClientApp
the FAB names. A host (or anyone who can submit a run to the host's SuperLink: flwr 1.42 serves the Control API on
the same port as the Fleet API) could therefore run any code at a site. Flower's own answer, ``--trusted-entities``,
needs FABs verified by the Flower platform, which an offline federation does not have.

A joining site therefore starts its SuperNode with a folder first on ``PATH`` that holds this module as
``flwr-clientapp`` (Flower starts it by name): before Flower installs a FAB it is checked here and refused unless it
is exactly the workbench's app: no file but ``pyproject.toml``, the two one-line shims of
:data:`workbench.core.federate.daemons.APP_MODULES` (byte for byte) and Flower's ``.info`` metadata; a ClientApp
component ``wb_client_app:app``; no dependencies to install. The code that then runs is the site's own installed
``workbench.core.federate.client_app``; the plan in the FAB's config is data, shown to the site and checked
against its dataset before it trains (:mod:`.client_app`'s plan gate).
"""

from __future__ import annotations

import io
import os
import stat
import sys
import zipfile
from pathlib import Path
from typing import Any

from workbench.core.federate.plan import FederationError

CLIENT_COMPONENT = "wb_client_app:app"
MAX_FAB_BYTES = 1_000_000  # the workbench's FAB is a few kB: anything large is not it


def check_fab(content: bytes) -> None:
    """Refuse (FederationError) a FAB that is not exactly the workbench's app; the message says what differs."""
    import tomllib

    from workbench.core.federate.daemons import APP_MODULES

    if len(content) > MAX_FAB_BYTES:
        raise FederationError(f"the host's app is {len(content)} bytes, not the workbench's app: refused")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise FederationError("the host's app is not a Flower app archive: refused") from None
    with archive:
        names = set(archive.namelist())
        extra = sorted(n for n in names - set(APP_MODULES) - {"pyproject.toml"} if not n.startswith(".info/"))
        if extra:
            raise FederationError(f"the host's app carries files the workbench's app has not: {', '.join(extra)}")
        for name, text in APP_MODULES.items():
            if name in names and archive.read(name) != text.encode("utf-8"):
                raise FederationError(f"the host's app has a changed {name}: refused")
        if "wb_client_app.py" not in names or "pyproject.toml" not in names:
            raise FederationError("the host's app lacks the workbench's ClientApp: refused")
        try:
            project = tomllib.loads(archive.read("pyproject.toml").decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            raise FederationError("the host's app has an unreadable pyproject.toml: refused") from None
    app: Any = project.get("tool", {}).get("flwr", {}).get("app", {})
    if app.get("components", {}).get("clientapp") != CLIENT_COMPONENT:
        raise FederationError("the host's app names another ClientApp than the workbench's: refused")
    if project.get("project", {}).get("dependencies"):
        raise FederationError("the host's app asks for dependencies to install: refused")


def write_guard_bin(folder: Path) -> Path:
    """A folder holding ``flwr-clientapp`` that runs :func:`main` with this interpreter; put it first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "flwr-clientapp"
    script.write_text(
        f"#!{sys.executable}\nimport sys\nfrom workbench.core.federate.fab_guard import main\nsys.exit(main())\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP)
    return folder


def main() -> int:
    """Flower's ``flwr-clientapp`` with :func:`check_fab` in front of its FAB installation."""
    from flwr.supernode.cli import flwr_clientapp
    from flwr.supernode.runtime import run_clientapp as runtime

    install = runtime.install_from_fab

    def checked_install(fab_file: Any, *args: Any, **kwargs: Any) -> Any:
        content = fab_file if isinstance(fab_file, bytes) else Path(fab_file).read_bytes()
        check_fab(content)  # raises: Flower turns it into the ClientApp's error reply, nothing is imported
        return install(fab_file, *args, **kwargs)

    runtime.install_from_fab = checked_install
    sys.argv[0] = "flwr-clientapp"
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    flwr_clientapp()
    return 0
