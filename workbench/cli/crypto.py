"""`workbench` commands of the crypto room (added to the parser by :func:`register`).

    workbench encrypt IN OUT                      passphrase-encrypt a file (streaming AES-256-GCM)
    workbench decrypt IN OUT                      decrypt it again (all or nothing)
    workbench keygen --out DIR [--rsa]            make a key pair: DIR/NAME.pub and DIR/NAME.key (encrypted)
    workbench share IN --to PUB [--to PUB2] --out OUT   encrypt a file for other sites' public keys
    workbench open IN --key PRIVKEY --out OUT     open a file shared with you
    workbench sign FILE --key PRIVKEY [--out SIG] detached signature (FILE.sig)
    workbench verify FILE --sig SIG --pub PUBKEY  check it; names the signer's fingerprint
    workbench fingerprint PUBKEY                  show a public key's fingerprint for out-of-band checking

Passphrases come from the environment variable ``WORKBENCH_PASSPHRASE`` or, on a terminal, from a prompt (asked
twice when it protects something new; :func:`workbench.cli._common.read_passphrase`). Without either the command
stops with a one-line error instead of waiting on a pipe.

Every failure is one line on stderr and exit status 2 (via ``workbench.cli.main``); decryption writes its output
under a temporary name and renames it only after the whole file authenticated, so a failed or interrupted run
leaves no partial plaintext. ``cryptography`` is imported inside the commands only: ``workbench --help`` stays
fast.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

from workbench.cli._common import PASSPHRASE_ENV, drive_with_progress, parse_kdf, read_passphrase, say
from workbench.core.errors import WorkbenchError
from workbench.core.safe_io import check_input_file, check_output_path


def _check_output(path: str, force: bool, *protected: str) -> None:
    """Only a regular file is ever replaced, never one of the command's inputs or keys, and the folder must
    exist (:func:`workbench.core.safe_io.check_output_path`)."""
    check_output_path(path, force=force, protected=protected)


def _check_input(path: str, what: str) -> None:
    """A folder, device, FIFO or socket is refused before it is opened (a FIFO would block, a device never end)."""
    check_input_file(path, what=what)


@contextlib.contextmanager
def _user_errors(path: str | None = None) -> Iterator[None]:
    """OS errors the core did not translate become one-line user errors (exit 2), naming the file; a crypto
    error about ``path`` that does not name it gets its name in front."""
    from workbench.core.crypto.primitives import CryptoError
    from workbench.services import sharing

    try:
        yield
    except CryptoError as exc:
        if path is None or path in str(exc):
            raise
        raise sharing.with_path(exc, path) from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise WorkbenchError(f"{where}{exc.strerror or type(exc).__name__}") from None


# --- commands -------------------------------------------------------------------------------------------------
# Each command reads its input, calls a use case of workbench.services.sharing and prints the result.


def cmd_encrypt(args: argparse.Namespace) -> int:
    from workbench.services import sharing

    _check_input(args.input, "file to encrypt")
    _check_output(args.output, args.force, args.input)
    params = parse_kdf(args.kdf)
    passphrase = read_passphrase("passphrase to protect the file", confirm=True)
    with _user_errors():
        summary = drive_with_progress(
            sharing.encrypt_with_passphrase_job(args.input, args.output, passphrase, kdf=params, overwrite=args.force)
        )
    chunks = f"{summary.chunks} chunk" + ("s" if summary.chunks != 1 else "")
    say(f"encrypted {args.input} -> {args.output} ({summary.plaintext_bytes:,} bytes, {chunks})")
    return 0


def cmd_decrypt(args: argparse.Namespace) -> int:
    from workbench.services import sharing

    _check_input(args.input, "file to decrypt")
    _check_output(args.output, args.force, args.input)
    with _user_errors(args.input):
        header = sharing.read_shared_header(args.input)
    if not header.has_passphrase:
        raise WorkbenchError(
            f"{args.input} is not protected by a passphrase (it can be opened by: {header.describe_slots()}); "
            f"open it with: workbench open {args.input} --key PRIVKEY --out {args.output}"
        )
    passphrase = read_passphrase("passphrase of the file", confirm=False)
    with _user_errors():
        summary = drive_with_progress(
            sharing.decrypt_with_passphrase_job(args.input, args.output, passphrase, overwrite=args.force)
        )
    say(f"decrypted {args.input} -> {args.output} ({summary.plaintext_bytes:,} bytes, all chunks authenticated)")
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    from workbench.services import sharing

    sharing.check_key_name(args.name)
    params = parse_kdf(args.kdf)
    passphrase = read_passphrase("passphrase to protect the private key", confirm=True)
    with _user_errors():
        files = drive_with_progress(
            sharing.create_key_pair_job(args.out, args.name, passphrase, rsa=args.rsa, kdf=params), show=False
        )
    say(f"public key:  {files.public_path}  (give this to other sites)")
    say(f"private key: {files.private_path}  (encrypted; keep it, and its passphrase, to yourself)")
    say(f"type:        {files.public_key.kind}")
    say(f"fingerprint: {files.fingerprint_text}")
    return 0


def cmd_share(args: argparse.Namespace) -> int:
    from workbench.services import sharing

    _check_input(args.input, "file to share")
    _check_output(args.output, args.force, args.input, *args.to)
    with _user_errors():
        recipients = [sharing.read_public_key(p) for p in args.to]
        result = drive_with_progress(sharing.share_file_job(args.input, args.output, recipients, overwrite=args.force))
    say(f"shared {args.input} -> {args.output} ({result.plaintext_bytes:,} bytes) with:")
    for r in recipients:
        say(f"  {r.name or '(unnamed)'}  {r.kind}  {r.fingerprint_text}")
    say("check these fingerprints with the recipients over another channel (phone, letter) before sending")
    return 0


def cmd_open(args: argparse.Namespace) -> int:
    from workbench.services import sharing

    _check_input(args.input, "file to open")
    _check_output(args.output, args.force, args.input, args.key)
    with _user_errors(args.input):
        header = sharing.read_shared_header(args.input)
    if not header.recipient_fingerprints():
        raise WorkbenchError(
            f"{args.input} was not shared with public keys (it can be opened by: {header.describe_slots()})"
            + (f"; decrypt it with: workbench decrypt {args.input} {args.output}" if header.has_passphrase else "")
        )
    with _user_errors():
        private_key = sharing.load_private_key(
            args.key, read_passphrase("passphrase of the private key", confirm=False)
        )
        opened = drive_with_progress(
            sharing.open_shared_job(args.input, private_key, out=args.output, overwrite=args.force)
        )
    say(f"opened {args.input} -> {args.output} ({opened.plaintext_bytes:,} bytes, all chunks authenticated)")
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    from workbench.services import sharing

    out = args.out or str(sharing.default_signature_path(args.file))
    _check_input(args.file, "file to sign")
    _check_output(out, args.force, args.file, args.key)
    with _user_errors():
        private_key = sharing.load_private_key(
            args.key, read_passphrase("passphrase of the private key", confirm=False)
        )
        signed = drive_with_progress(sharing.sign_file_job(args.file, private_key, out=out, overwrite=args.force))
    say(f"signed {args.file} -> {out}")
    say(f"signer: {signed.signer_name} {signed.signer_fingerprint_text}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from workbench.core.crypto.primitives import SignatureError
    from workbench.services import sharing

    _check_input(args.file, "file to verify")
    with _user_errors():
        public_key = sharing.read_public_key(args.pub)
        signature = sharing.read_signature(args.sig)
    try:
        with _user_errors():
            verified = drive_with_progress(sharing.verify_file_job(args.file, signature, public_key))
    except SignatureError as exc:  # name the signature file when the message names neither file
        if args.sig in str(exc) or args.file in str(exc):
            raise
        raise sharing.with_path(exc, args.sig) from None
    say(f"{args.file}: {verified.describe()}")
    return 0


def cmd_fingerprint(args: argparse.Namespace) -> int:
    from workbench.services import sharing

    with _user_errors():
        public_key = sharing.read_public_key(args.pubkey)
    say(f"{public_key.name or '(unnamed)'}  {public_key.kind}  {public_key.fingerprint_text}")
    return 0


# --- parser ---------------------------------------------------------------------------------------------------


_PASSPHRASE_NOTE = f"The passphrase comes from ${PASSPHRASE_ENV} or a prompt."
_KDF_HELP = (
    "key-derivation parameters, e.g. argon2id:m=65536,t=3,p=4 (m in KiB) or scrypt:n=17,r=8,p=1 "
    "(default: tuned to about 0.5 s on this machine; never below the built-in minimum)"
)


def register(sub: Any) -> None:
    """Add this room's subcommands to the `workbench` parser's subparsers object."""
    _register_passphrase_commands(sub)  # encrypt, decrypt
    _register_key_commands(sub)  # keygen, share, open, sign, verify, fingerprint


def _register_passphrase_commands(sub: Any) -> None:
    p = sub.add_parser(
        "encrypt",
        help="encrypt a file with a passphrase",
        description="Encrypt IN into OUT (streaming AES-256-GCM, Argon2id). " + _PASSPHRASE_NOTE,
    )
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--kdf", metavar="SPEC", help=_KDF_HELP)
    p.set_defaults(func=cmd_encrypt)

    p = sub.add_parser(
        "decrypt",
        help="decrypt a passphrase-encrypted file",
        description="Decrypt IN into OUT; OUT appears only if every chunk authenticated. " + _PASSPHRASE_NOTE,
    )
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists (only on success)")
    p.set_defaults(func=cmd_decrypt)


def _register_key_commands(sub: Any) -> None:
    p = sub.add_parser(
        "keygen",
        help="make a key pair for sharing and signing",
        description="Write DIR/NAME.pub and DIR/NAME.key (the private key, encrypted). " + _PASSPHRASE_NOTE,
    )
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--name", default="workbench", help="key name, also the file name (default: workbench)")
    p.add_argument("--rsa", action="store_true", help="RSA-3072 (OAEP, PSS) instead of X25519 + Ed25519")
    p.add_argument("--kdf", metavar="SPEC", help=_KDF_HELP)
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser(
        "share",
        help="encrypt a file for other sites' public keys",
        description="Encrypt IN for each --to public key; recipients open it with their private key.",
    )
    p.add_argument("input", metavar="IN")
    p.add_argument("--to", action="append", required=True, metavar="PUBKEY", help="recipient public key (repeat)")
    p.add_argument("--out", dest="output", required=True, metavar="OUT")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=cmd_share)

    p = sub.add_parser(
        "open",
        help="open a file shared with you",
        description="Decrypt IN with your private key into OUT (all or nothing). " + _PASSPHRASE_NOTE,
    )
    p.add_argument("input", metavar="IN")
    p.add_argument("--key", required=True, metavar="PRIVKEY")
    p.add_argument("--out", dest="output", required=True, metavar="OUT")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists (only on success)")
    p.set_defaults(func=cmd_open)

    p = sub.add_parser(
        "sign",
        help="sign a file (detached signature)",
        description="Write a detached signature of FILE (default FILE.sig). " + _PASSPHRASE_NOTE,
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--key", required=True, metavar="PRIVKEY")
    p.add_argument("--out", metavar="SIG")
    p.add_argument("--force", action="store_true", help="replace SIG if it exists")
    p.set_defaults(func=cmd_sign)

    p = sub.add_parser(
        "verify",
        help="verify a detached signature",
        description="Check FILE against SIG and the signer's public key; prints the signer's fingerprint.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--sig", required=True, metavar="SIG")
    p.add_argument("--pub", required=True, metavar="PUBKEY")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("fingerprint", help="show a public key's fingerprint")
    p.add_argument("pubkey", metavar="PUBKEY")
    p.set_defaults(func=cmd_fingerprint)
