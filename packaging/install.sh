#!/bin/sh
# Install (or upgrade in place) the frozen Privacy Workbench from this unpacked folder. No network, no build.
#
#   ./install.sh                 per user, no root: ~/.local/lib/privacy-workbench, links in ~/.local/bin
#   sudo ./install.sh --system   for every user: /opt/privacy-workbench, links in /usr/local/bin
#   ./install.sh --prefix DIR    per user under DIR instead of ~/.local (DIR/lib, DIR/bin, DIR/share)
#   --no-verify                  skip the checksum and signature check (not recommended)
#
# Layout: APPROOT/versions/VERSION/ holds each installed version, APPROOT/current links to the active one and the
# commands in the bin folder start it through that link, so an upgrade installs the new version beside the old
# one and switches the link in one rename: a running workbench keeps its files, and the previous version stays for a rollback
# (ln -sfn versions/OLD APPROOT/current). Older versions are removed.
#
# Projects, settings, keys, the privacy-budget ledger and logs are never here: they live in the project folders
# and in the user's data folder (~/.local/share/privacy-workbench, or $WORKBENCH_HOME), which no install, upgrade
# or uninstall touches.
set -eu

SRC=$(cd "$(dirname "$0")" && pwd)
VERSION=$(cat "$SRC/VERSION")
MODE=user
PREFIX="$HOME/.local"
VERIFY=1
while [ $# -gt 0 ]; do
    case "$1" in
        --system) MODE=system ;;
        --prefix) PREFIX=${2:?--prefix needs a folder}; shift ;;
        --no-verify) VERIFY=0 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$MODE" = system ]; then
    APPROOT=/opt/privacy-workbench; BIN=/usr/local/bin; SHARE=/usr/share
    [ "$(id -u)" -eq 0 ] || { echo "install.sh: --system needs root (or install per user without it)" >&2; exit 2; }
else
    APPROOT="$PREFIX/lib/privacy-workbench"; BIN="$PREFIX/bin"; SHARE="$PREFIX/share"
fi

if [ "$VERIFY" -eq 1 ]; then
    echo "checking SHA256SUMS ..."
    (cd "$SRC" && sha256sum --quiet --strict -c SHA256SUMS) || { echo "install.sh: checksum mismatch: the folder is damaged or was changed" >&2; exit 1; }
    "$SRC/workbench" verify "$SRC/SHA256SUMS" --sig "$SRC/SHA256SUMS.sig" --pub "$SRC/signing-key.pub"
    echo "compare the signer's fingerprint above with the one the builder gave you over another channel"
fi

TARGET="$APPROOT/versions/$VERSION"
mkdir -p "$APPROOT/versions" "$BIN" "$SHARE/applications" "$SHARE/icons/hicolor/scalable/apps"
if [ "$SRC" != "$TARGET" ]; then
    STAGE="$APPROOT/versions/.installing-$VERSION-$$"
    rm -rf "$STAGE"
    cp -a "$SRC" "$STAGE"
    rm -rf "$TARGET.old"
    [ -e "$TARGET" ] && mv "$TARGET" "$TARGET.old"  # reinstalling the same version
    mv "$STAGE" "$TARGET"
    rm -rf "$TARGET.old"
fi

PREVIOUS=$(readlink "$APPROOT/current" 2>/dev/null || true)
ln -sfn "versions/$VERSION" "$APPROOT/current.new"
mv -T "$APPROOT/current.new" "$APPROOT/current"   # atomic switch

# Small scripts rather than links: the executable is started by its path inside the folder, so the folder of
# sys.executable holds Flower's tools (the federation puts it first on PATH) and the name says what to run.
for tool in privacy-workbench workbench; do
    rm -f "$BIN/$tool"
    printf '#!/bin/sh\n# privacy-workbench launcher (install.sh)\nexec "%s/current/%s" "$@"\n' "$APPROOT" "$tool" > "$BIN/$tool"
    chmod 0755 "$BIN/$tool"
done
sed "s|^Exec=privacy-workbench|Exec=$BIN/privacy-workbench|" "$TARGET/privacy-workbench.desktop" \
    > "$SHARE/applications/privacy-workbench.desktop"
cp "$TARGET/privacy-workbench.svg" "$SHARE/icons/hicolor/scalable/apps/privacy-workbench.svg"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$SHARE/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$SHARE/icons/hicolor" 2>/dev/null || true

# keep the active and the previous version, remove older ones
for dir in "$APPROOT"/versions/*; do
    name=$(basename "$dir")
    [ "versions/$name" = "versions/$VERSION" ] && continue
    [ "versions/$name" = "$PREVIOUS" ] && continue
    rm -rf "$dir"
done

printf 'mode=%s\napproot=%s\nbin=%s\nshare=%s\n' "$MODE" "$APPROOT" "$BIN" "$SHARE" > "$APPROOT/install.conf"
if [ -n "$PREVIOUS" ] && [ "$PREVIOUS" != "versions/$VERSION" ]; then
    echo "upgraded $PREVIOUS -> $VERSION in $APPROOT (projects, settings and keys untouched)"
else
    echo "installed Privacy Workbench $VERSION in $APPROOT"
fi
echo "commands: $BIN/privacy-workbench, $BIN/workbench; check it with: $BIN/workbench selftest"
case ":$PATH:" in *":$BIN:"*) ;; *) echo "note: $BIN is not on your PATH" ;; esac
