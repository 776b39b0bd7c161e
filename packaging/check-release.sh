#!/bin/sh
# The release checks of packaging/README.md on a built archive, each in a fresh temporary folder:
#   1. unpack into an empty folder; `privacy-workbench --self-test` with the network off (`unshare -n`, root)
#   2. optional (--with-federation): the loopback federation round from the frozen folder, network off except lo
#   3. per-user install into a throw-away HOME (checksums + signature verified), a demo project and a key pair
#   4. upgrade in place with a copy of the release re-versioned VERSION+upgrade-check (checksums re-made and
#      re-signed with the same key): the project still opens (datasets listed, audit log verified, window opened
#      on it offscreen), the key and the user's settings are untouched, the previous version kept
#   5. uninstall: the install is gone, the project and the key are not
#
#   packaging/check-release.sh dist/privacy-workbench-VERSION-linux-x86_64.tar.gz [--with-federation]
# Signing the upgrade copy needs the key the archive was signed with: SIGNING_KEY (+ WORKBENCH_PASSPHRASE), or the
# development key that `make package` made in build/signing/.
set -eu

ARCHIVE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
FEDERATION=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/workbench-release-check-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
CLEAN_ENV="env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=$WORK/home"
step() { printf '\n== %s\n' "$*"; }
seconds() { date +%s; }
since() { echo "$(( $(seconds) - $1 )) s"; }

step "1. unpack into an empty folder, self-test with the network off"
mkdir "$WORK/unpacked" "$WORK/home"
t=$(seconds); tar -C "$WORK/unpacked" -xzf "$ARCHIVE"; echo "unpacked in $(since "$t")"
REL=$(echo "$WORK"/unpacked/*)
t=$(seconds)
$CLEAN_ENV unshare -n "$REL/privacy-workbench" --self-test
echo "self-test (frozen, offline): $(since "$t") wall"

if [ "$FEDERATION" = "--with-federation" ]; then
    step "2. loopback federation round from the frozen folder (no network but lo)"
    $CLEAN_ENV unshare -n sh -c "ip link set lo up && '$REL/workbench' selftest --only federation --with-federation"
fi

step "3. per-user install, a project and a key"
$CLEAN_ENV "$REL/install.sh"
BIN="$WORK/home/.local/bin"
PROJECT="$WORK/home/projects/study"
$CLEAN_ENV "$BIN/workbench" demo --project "$PROJECT" > /dev/null
KEYS="$WORK/home/.local/share/privacy-workbench/keys"
$CLEAN_ENV WORKBENCH_PASSPHRASE=check-release "$BIN/workbench" keygen --out "$KEYS" --name site-a > /dev/null
KEY_SUM=$(sha256sum "$KEYS/site-a.key" | cut -d' ' -f1)
DATASETS_BEFORE=$($CLEAN_ENV "$BIN/workbench" datasets --project "$PROJECT")

step "4. upgrade in place"
OLD=$(cat "$REL/VERSION")
NEW="$OLD+upgrade-check"
cp -a "$REL" "$WORK/next"
printf '%s\n' "$NEW" > "$WORK/next/VERSION"
(cd "$WORK/next" && find . -type f ! -name SHA256SUMS ! -name SHA256SUMS.sig ! -name signing-key.pub -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum > SHA256SUMS)
if [ -z "${SIGNING_KEY:-}" ]; then
    SIGNING_KEY="$ROOT/build/signing/development.key"
    WORKBENCH_PASSPHRASE=$(cat "$ROOT/build/signing/development.passphrase"); export WORKBENCH_PASSPHRASE
fi
"$WORK/next/workbench" sign "$WORK/next/SHA256SUMS" --key "$SIGNING_KEY" --out "$WORK/next/SHA256SUMS.sig" --force > /dev/null
$CLEAN_ENV "$WORK/next/install.sh"
APPROOT="$WORK/home/.local/lib/privacy-workbench"
[ "$(readlink "$APPROOT/current")" = "versions/$NEW" ] || { echo "current does not point at $NEW" >&2; exit 1; }
[ -d "$APPROOT/versions/$OLD" ] || { echo "the previous version was not kept" >&2; exit 1; }
[ "$($CLEAN_ENV "$BIN/workbench" datasets --project "$PROJECT")" = "$DATASETS_BEFORE" ] || { echo "datasets differ" >&2; exit 1; }
# the chain must verify; a demo project's head was never signed, which the command reports as NOT OK (exit 1)
$CLEAN_ENV "$BIN/workbench" audit-log verify --project "$PROJECT" > "$WORK/audit.txt" || true
grep -q "every entry verifies and follows the one before it" "$WORK/audit.txt" || { cat "$WORK/audit.txt"; exit 1; }
[ "$(sha256sum "$KEYS/site-a.key" | cut -d' ' -f1)" = "$KEY_SUM" ] || { echo "the key changed" >&2; exit 1; }
# the window on the project: it must come up and paint (its log says so), then it is closed
$CLEAN_ENV QT_QPA_PLATFORM=offscreen timeout 60 "$BIN/privacy-workbench" "$PROJECT" > /dev/null 2>&1 &
WINDOW=$!
LOG=""
for _ in $(seq 1 120); do
    LOG=$(find "$WORK/home" -name workbench.log 2>/dev/null | head -1)
    [ -n "$LOG" ] && grep -q "first paint" "$LOG" && break
    sleep 0.5
done
kill "$WINDOW" 2>/dev/null || true
wait "$WINDOW" 2>/dev/null || true
grep "first paint" "$LOG" | tail -1
echo "upgrade $OLD -> $NEW: project opens, key unchanged, previous version kept"
if [ "$FEDERATION" = "--with-federation" ]; then
    # through the installed command (a launcher script in ~/.local/bin), as a user would start it
    $CLEAN_ENV unshare -n sh -c "ip link set lo up && '$BIN/workbench' selftest --only federation --with-federation"
fi

step "5. uninstall"
$CLEAN_ENV "$APPROOT/current/uninstall.sh"
[ ! -e "$APPROOT" ] && [ -f "$KEYS/site-a.key" ] && [ -d "$PROJECT" ] || { echo "uninstall removed too much or too little" >&2; exit 1; }
echo "all release checks passed"
