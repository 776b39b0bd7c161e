#!/bin/sh
# Turn PyInstaller's dist/privacy-workbench/ into the release archive (run by `make package`, after pyinstaller):
#   1. the links: `workbench` and Flower's console scripts -> privacy-workbench (packaging/launcher.py dispatches)
#   2. the installer files: install.sh, uninstall.sh, the .desktop entry, the icon, README-INSTALL.md
#   3. SHA256SUMS (every regular file) and SHA256SUMS.sig, a detached signature made with `workbench sign`,
#      plus the signer's public key (check its fingerprint with the builder over another channel)
#   4. dist/privacy-workbench-VERSION-linux-x86_64.tar.gz
#
# Usage: packaging/assemble.sh VERSION
# Signing: SIGNING_KEY=path/to/NAME.key with its passphrase in WORKBENCH_PASSPHRASE. Without SIGNING_KEY a
# development key is made once under build/signing/ (its passphrase beside it, mode 0600): good for testing the
# chain, not for a release.
set -eu

VERSION=${1:?usage: assemble.sh VERSION}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIST="$ROOT/dist"
APP="$DIST/privacy-workbench"
PACKAGING="$ROOT/packaging"
NAME="privacy-workbench-$VERSION-linux-x86_64"
ARCHIVE="$DIST/$NAME.tar.gz"
FLOWER_TOOLS="flwr flower-superlink flower-supernode flower-superexec flwr-serverapp flwr-clientapp flwr-simulation"

[ -x "$APP/privacy-workbench" ] || { echo "assemble.sh: $APP/privacy-workbench is missing (run pyinstaller first)" >&2; exit 2; }

# 1. links, relative so that the folder can be moved
for tool in workbench $FLOWER_TOOLS; do
    ln -sfn privacy-workbench "$APP/$tool"
done

# 2. installer files
cp "$PACKAGING/install.sh" "$PACKAGING/uninstall.sh" "$APP/"
chmod 0755 "$APP/install.sh" "$APP/uninstall.sh"
cp "$PACKAGING/privacy-workbench.desktop" "$PACKAGING/privacy-workbench.svg" "$APP/"
cp "$PACKAGING/README.md" "$APP/README-INSTALL.md"
printf '%s\n' "$VERSION" > "$APP/VERSION"

# 3. checksums and signature
rm -f "$APP/SHA256SUMS" "$APP/SHA256SUMS.sig" "$APP/signing-key.pub"
(cd "$APP" && find . -type f ! -name SHA256SUMS ! -name SHA256SUMS.sig ! -name signing-key.pub -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum > SHA256SUMS)
if [ -z "${SIGNING_KEY:-}" ]; then
    SIGNING_KEY="$ROOT/build/signing/development.key"
    if [ ! -f "$SIGNING_KEY" ]; then
        mkdir -p "$ROOT/build/signing"
        (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$ROOT/build/signing/development.passphrase")
        WORKBENCH_PASSPHRASE=$(cat "$ROOT/build/signing/development.passphrase") \
            "$APP/workbench" keygen --out "$ROOT/build/signing" --name development
    fi
    WORKBENCH_PASSPHRASE=$(cat "$ROOT/build/signing/development.passphrase")
    export WORKBENCH_PASSPHRASE
    echo "assemble.sh: signed with the DEVELOPMENT key $SIGNING_KEY (set SIGNING_KEY for a release)"
fi
cp "${SIGNING_KEY%.key}.pub" "$APP/signing-key.pub"
"$APP/workbench" sign "$APP/SHA256SUMS" --key "$SIGNING_KEY" --out "$APP/SHA256SUMS.sig"
chmod 0644 "$APP/signing-key.pub" "$APP/SHA256SUMS.sig"  # public: every user of a system install reads them
"$APP/workbench" verify "$APP/SHA256SUMS" --sig "$APP/SHA256SUMS.sig" --pub "$APP/signing-key.pub"

# 4. the archive: one top folder named after the version (links stored as links)
rm -f "$ARCHIVE"
tar -C "$DIST" --owner=0 --group=0 --transform "s,^privacy-workbench,$NAME,S" -czf "$ARCHIVE" privacy-workbench
(cd "$DIST" && sha256sum "$NAME.tar.gz" > "$NAME.tar.gz.sha256" && chmod 0644 "$NAME.tar.gz.sha256")
echo "assemble.sh: $ARCHIVE ($(du -m "$ARCHIVE" | cut -f1) MB; folder $(du -sm "$APP" | cut -f1) MB)"
