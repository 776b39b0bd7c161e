"""Where the workbench keeps its own files: per-user data (recent projects, settings) and logs.

The locations come from :mod:`platformdirs` for the app name ``privacy-workbench`` (for example
``~/.local/share/privacy-workbench`` on Linux, ``%LOCALAPPDATA%\\privacy-workbench`` on Windows). The
environment variable ``WORKBENCH_HOME`` overrides both: data goes to ``$WORKBENCH_HOME`` and logs to
``$WORKBENCH_HOME/logs``. Tests set it to a temporary folder so that they never touch the real home directory;
offline sites may set it to keep everything on a managed drive.

Folders are created on demand, when a function is called, never at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "privacy-workbench"
"""The folder name used under the platform's per-user data and log locations."""

HOME_ENV_VAR = "WORKBENCH_HOME"
"""Environment variable that, when set and not empty, replaces the platform locations."""


def _home_override() -> Path | None:
    """Return ``$WORKBENCH_HOME`` as an absolute path, or ``None`` when it is unset or empty."""
    value = os.environ.get(HOME_ENV_VAR, "").strip()
    if not value:
        return None
    # Absolute, so that a later change of the working directory cannot move the data.
    return Path(value).expanduser().resolve()


def user_data_dir(create: bool = True) -> Path:
    """Return the per-user data folder, creating it if needed.

    Parameters
    ----------
    create:
        Create the folder (raises OSError where that is impossible, e.g. a read-only home). ``False`` only
        computes the path, for callers that create it later and handle the failure themselves.

    Returns
    -------
    Path
        ``$WORKBENCH_HOME`` when set, otherwise the platform's user data folder for ``privacy-workbench``.
    """
    home = _home_override()
    folder = home if home is not None else platformdirs.user_data_path(APP_NAME, appauthor=False)
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def user_log_dir(create: bool = True) -> Path:
    """Return the per-user log folder, creating it if needed.

    Parameters
    ----------
    create:
        As for :func:`user_data_dir`.

    Returns
    -------
    Path
        ``$WORKBENCH_HOME/logs`` when ``WORKBENCH_HOME`` is set, otherwise the platform's user log folder for
        ``privacy-workbench``.
    """
    home = _home_override()
    folder = home / "logs" if home is not None else platformdirs.user_log_path(APP_NAME, appauthor=False)
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder
