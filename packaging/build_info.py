"""Write the build record (version, commit, uncommitted changes, build time) that ``workbench --version`` of a
frozen or wheel-installed workbench reports (``workbench/_build_info.py`` reads it).

    python packaging/build_info.py [--committed] OUT.json

``--committed``: the build is made from ``git archive HEAD`` (the wheelhouse), so uncommitted edits in the working
tree are not in it and it is not marked dirty.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def record(committed: bool = False) -> dict[str, object]:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    commit = _git("rev-parse", "HEAD") or "unknown"
    dirty = not committed and bool(_git("status", "--porcelain", "--untracked-files=no"))
    built = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"version": version, "commit": commit, "dirty": dirty, "built": built}


def main(argv: list[str]) -> int:
    committed = "--committed" in argv
    args = [a for a in argv if a != "--committed"]
    if len(args) != 1:
        print("usage: python packaging/build_info.py [--committed] OUT.json", file=sys.stderr)
        return 2
    out = Path(args[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    data = record(committed)
    out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"build record: version {data['version']}, commit {data['commit']}" + (" (dirty)" if data["dirty"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
