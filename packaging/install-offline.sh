#!/bin/sh
# Install the workbench into a new venv from a wheelhouse, with no network and no package index.
#
#   install-offline.sh WHEELHOUSE VENV [PYTHON]      (PYTHON: a CPython 3.11, default python3.11 or python3)
#
# Only the wheels named in WHEELHOUSE/requirements.lock are installed, each checked against its SHA-256
# (--require-hashes); --no-index keeps pip off every index. pip's configuration files and PIP_* variables are
# ignored (PIP_CONFIG_FILE=/dev/null, --isolated) so a site's index or constraint settings cannot change what
# is installed.
set -eu

WHEELHOUSE=${1:?usage: install-offline.sh WHEELHOUSE VENV [PYTHON]}
VENV=${2:?usage: install-offline.sh WHEELHOUSE VENV [PYTHON]}
PYTHON=${3:-$(command -v python3.11 || command -v python3)}
WHEELHOUSE=$(cd "$WHEELHOUSE" && pwd)

[ -f "$WHEELHOUSE/requirements.lock" ] || { echo "install-offline.sh: $WHEELHOUSE/requirements.lock is missing" >&2; exit 2; }
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' \
    || { echo "install-offline.sh: the wheels are for CPython 3.11; $PYTHON is $("$PYTHON" -V 2>&1)" >&2; exit 2; }

"$PYTHON" -m venv "$VENV"
PIP_CONFIG_FILE=/dev/null "$VENV/bin/python" -m pip install --isolated --quiet --no-index \
    --find-links "$WHEELHOUSE" --require-hashes -r "$WHEELHOUSE/requirements.lock"
echo "installed into $VENV; check it with: $VENV/bin/workbench selftest"
