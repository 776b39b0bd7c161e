"""Version and provenance: the workbench's version, the commit it was built from, and the privacy libraries.

The commit comes from ``BUILD_INFO.json`` next to this module when a build wrote one (``make package`` puts it
into the frozen folder, ``make wheelhouse`` into the wheel; ``packaging/build_info.py``), else from ``git`` when
the package lives in a git checkout (a development install), else it is reported as unknown. A checkout takes
precedence over a leftover ``BUILD_INFO.json``, so a developer never sees a stale commit.

Nothing here imports torch, presidio or flwr: the library versions are read from the installed distributions'
metadata, so ``workbench --version`` stays fast.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BUILD_INFO_FILE = "BUILD_INFO.json"
DISTRIBUTION = "privacy-workbench"
PRIVACY_LIBRARIES = (
    "opacus",
    "presidio-analyzer",
    "presidio-anonymizer",
    "cryptography",
    "flwr",
    "torch",
    "spacy",
)
"""Distributions whose versions ``--version`` names (the privacy-relevant stack, then what it runs on)."""


def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def _distribution_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=_package_dir().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _from_checkout() -> dict[str, Any] | None:
    """The commit of a development checkout, with ``dirty`` when tracked files differ from it."""
    if getattr(sys, "frozen", False) or not (_package_dir().parent / ".git").exists():
        return None
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status), "source": "git checkout"}


def _from_file() -> dict[str, Any] | None:
    path = _package_dir() / BUILD_INFO_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("commit"), str):
        return None
    return {**data, "source": "frozen build" if getattr(sys, "frozen", False) else "build"}


def build_info() -> dict[str, Any]:
    """Version, commit, whether the build had uncommitted changes, where that came from, and library versions."""
    checkout = _from_checkout()
    info = checkout or _from_file() or {"commit": "unknown", "dirty": False, "source": "no build record"}
    from workbench import __version__

    version = _distribution_version(DISTRIBUTION) or __version__
    if checkout is None and isinstance(info.get("version"), str):
        version = info["version"]  # a frozen app has no distribution metadata of its own unless copied
    libraries = {name: _distribution_version(name) for name in PRIVACY_LIBRARIES}
    return {
        "version": version,
        "commit": info["commit"],
        "dirty": bool(info.get("dirty")),
        "built": info.get("built"),
        "source": info["source"],
        "python": sys.version.split()[0],
        "libraries": libraries,
    }


def version_text(prog: str) -> str:
    """What ``--version`` prints: one line for the program, one per library."""
    info = build_info()
    commit = info["commit"] + (" (with uncommitted changes)" if info["dirty"] else "")
    built = f", built {info['built']}" if info.get("built") else ""
    lines = [
        f"{prog} {info['version']}",
        f"commit {commit} ({info['source']}{built})",
        f"python {info['python']}",
    ]
    lines += [f"{name} {version or 'not installed'}" for name, version in info["libraries"].items()]
    return "\n".join(lines)
