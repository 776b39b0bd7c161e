#!/bin/sh
# `make wheelhouse`: every wheel of the pinned set in one folder, with a hash lock, for an offline venv install.
#
#   packaging/make-wheelhouse.sh PYTHON OUT_DIR
#
# 1. the workbench's own wheel, built from this checkout with its build record (BUILD_INFO.json: version, commit)
# 2. `pip wheel` of that wheel with constraints.txt: the same one resolve as `make install` (runtime part), so the
#    CPU torch build comes from this machine's configured local wheels, never a CUDA build; any sdist is built
#    into a wheel here so the offline machine builds nothing
# 3. requirements.lock: NAME==VERSION --hash=sha256:... for every wheel (packaging/lock_wheelhouse.py), for
#    `pip install --no-index --find-links OUT_DIR --require-hashes -r OUT_DIR/requirements.lock`
set -eu

PY=${1:?usage: make-wheelhouse.sh PYTHON OUT_DIR}
OUT=${2:?usage: make-wheelhouse.sh PYTHON OUT_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/workbench-wheel-XXXXXX")
trap 'rm -rf "$STAGE"' EXIT INT TERM

rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# 1. the project's wheel, from the committed tree (git archive HEAD): the commit in its build record is exactly
#    what it contains, and the build never writes into the working tree
git -C "$ROOT" archive --format=tar HEAD | tar -C "$STAGE" -xf -
"$PY" "$ROOT/packaging/build_info.py" --committed "$STAGE/workbench/BUILD_INFO.json"
"$PY" -m pip wheel --quiet --no-deps --no-build-isolation -w "$OUT" "$STAGE"

# 2. everything it needs, in one resolve with the torch pin
"$PY" -m pip wheel --quiet -c "$ROOT/constraints.txt" -w "$OUT" "$OUT"/privacy_workbench-*.whl

# 3. the lock
"$PY" "$ROOT/packaging/lock_wheelhouse.py" "$OUT"
cp "$ROOT/packaging/install-offline.sh" "$OUT/"
echo "wheelhouse: $OUT ($(ls "$OUT"/*.whl | wc -l) wheels, $(du -sm "$OUT" | cut -f1) MB)"
