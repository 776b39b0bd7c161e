#!/bin/sh
# Remove an installed Privacy Workbench (every installed version, its commands, menu entry and icon).
#
#   ./uninstall.sh                per-user install (~/.local)
#   sudo ./uninstall.sh --system  system-wide install (/opt/privacy-workbench)
#   ./uninstall.sh --prefix DIR   a per-user install made with --prefix DIR
#
# Projects, settings, keys, the privacy-budget ledger and logs are NOT removed: they are the user's data
# (project folders, ~/.local/share/privacy-workbench or $WORKBENCH_HOME). Delete those yourself if you mean to.
set -eu

MODE=user
PREFIX="$HOME/.local"
while [ $# -gt 0 ]; do
    case "$1" in
        --system) MODE=system ;;
        --prefix) PREFIX=${2:?--prefix needs a folder}; shift ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$MODE" = system ]; then
    APPROOT=/opt/privacy-workbench; BIN=/usr/local/bin; SHARE=/usr/share
else
    APPROOT="$PREFIX/lib/privacy-workbench"; BIN="$PREFIX/bin"; SHARE="$PREFIX/share"
fi
[ -d "$APPROOT" ] || { echo "uninstall.sh: nothing installed in $APPROOT" >&2; exit 1; }

for tool in privacy-workbench workbench; do
    # only our own launchers: a command of the same name that starts something else is left alone
    if [ -f "$BIN/$tool" ] && grep -q "^exec \"$APPROOT/current/$tool\"" "$BIN/$tool"; then
        rm -f "$BIN/$tool"
    fi
done
rm -f "$SHARE/applications/privacy-workbench.desktop" "$SHARE/icons/hicolor/scalable/apps/privacy-workbench.svg"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$SHARE/applications" || true
rm -rf "$APPROOT"
echo "removed Privacy Workbench from $APPROOT; your projects, settings and keys were left in place"
