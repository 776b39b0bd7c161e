"""Signing and verifying a compliance report (issue 18; see :mod:`workbench.services.report` for its files).

``verify_report`` checks, without trusting anything in the report's folder but the signatures:

1. the detached signature ``REPORT.pdf.sig`` over the PDF bytes, with the public key the manifest names;
2. the manifest's own signature, and that its ``pdf_sha256`` is the PDF's;
3. with a project: that the key is this project's audit key and the project's audit log still extends the head
   the report carries; with a recorded head instead: that the report carries that head.

Without either, a valid signature only says the files were not changed since someone holding that key signed
them: compare the key fingerprint with the one recorded for the project.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.services.session import ProjectSession

MANIFEST_FORMAT = "privacy-workbench report manifest v1"
_MANIFEST_DOMAIN = b"workbench-report-manifest-v1\x00"
_MAX_MANIFEST = 16 << 20
_MAX_PDF = 512 << 20


class ReportError(WorkbenchError):
    """A report's files are missing, unreadable or not a report's."""


def manifest_path(pdf: Path) -> Path:
    return pdf.with_name(pdf.stem + ".manifest.json")


def signature_path(pdf: Path) -> Path:
    return pdf.with_name(pdf.name + ".sig")


def _canonical(body: dict[str, Any]) -> bytes:
    return _MANIFEST_DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_report(session: ProjectSession, pdf: Path, html_text: str, facts: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``REPORT.pdf.sig`` and ``REPORT.manifest.json`` beside ``pdf``; returns their paths."""
    from workbench.core.atomic import atomic_write_text
    from workbench.services.audit import _private_key, key_fingerprint, public_key_hex

    key = _private_key(session)
    pdf_bytes = pdf.read_bytes()
    public = public_key_hex(key)
    body = {
        "format": MANIFEST_FORMAT,
        "facts": facts,
        "pdf_sha256": hashlib.sha256(pdf_bytes).hexdigest(),
        "html_sha256": hashlib.sha256(html_text.encode("utf-8")).hexdigest(),
        "audit_log_head": facts["audit_log_head"]["head"],
        "public_key": public,
        "key_fingerprint": key_fingerprint(public),
    }
    manifest = {**body, "signature": key.sign(_canonical(body)).hex()}
    sig, man = signature_path(pdf), manifest_path(pdf)
    atomic_write_text(sig, key.sign(pdf_bytes).hex() + "\n", mode=0o644)
    atomic_write_text(man, json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n", mode=0o644)
    return sig, man


@dataclass
class ReportVerdict:
    ok: bool = True
    lines: list[str] = field(default_factory=list)

    def fail(self, text: str) -> None:
        self.ok = False
        self.lines.append(text)


def _read(path: Path, limit: int, what: str) -> bytes:
    from workbench.core.safe_io import read_small_file

    if not path.exists():
        raise ReportError(f"{path}: no such file (the report's {what})")
    return read_small_file(path, what=f"the report's {what}", limit=limit)


def _verify(public_key: str, message: bytes, signature_hex: str) -> bool:
    from workbench.services.audit import _verify_signature

    try:
        return _verify_signature(public_key, message, bytes.fromhex(signature_hex.strip()))
    except ValueError:
        return False


def _load_manifest(pdf: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(_read(manifest_path(pdf), _MAX_MANIFEST, "manifest"))
    except (ValueError, RecursionError):
        raise ReportError(f"{manifest_path(pdf)} is not a report manifest (not JSON)") from None
    keys = ("format", "facts", "pdf_sha256", "public_key", "signature", "audit_log_head")
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != MANIFEST_FORMAT
        or not all(k in manifest for k in keys)
    ):
        raise ReportError(f"{manifest_path(pdf)} is not a report manifest of this version")
    return manifest


def verify_report(
    pdf: Path, *, session: ProjectSession | None = None, head: tuple[int, str] | None = None
) -> ReportVerdict:
    """Check a report's signatures and manifest, and its audit-log head against a project or a recorded head."""
    from workbench.services.audit import key_fingerprint

    manifest = _load_manifest(pdf)
    pdf_bytes = _read(pdf, _MAX_PDF, "PDF")
    sig_hex = _read(signature_path(pdf), 4096, "signature").decode("ascii", "replace")
    verdict = ReportVerdict()
    public = str(manifest["public_key"])
    body = {k: v for k, v in manifest.items() if k != "signature"}
    verdict.lines.append(f"signed by key {key_fingerprint(public)}; audit-log head {manifest['audit_log_head']}")
    if not _verify(public, pdf_bytes, sig_hex):
        verdict.fail("the PDF's signature does NOT verify: the PDF was changed after it was signed")
    if hashlib.sha256(pdf_bytes).hexdigest() != manifest["pdf_sha256"]:
        verdict.fail("the PDF is not the one the manifest describes (its SHA-256 differs)")
    if not _verify(public, _canonical(body), str(manifest["signature"])):
        verdict.fail("the manifest's signature does NOT verify: the manifest was changed after it was signed")
    if verdict.ok:
        verdict.lines.append("the PDF and the manifest are as they were signed")
    if session is not None:
        _against_project(verdict, session, public, str(manifest["audit_log_head"]))
    elif head is not None:
        if manifest["audit_log_head"] != f"{head[0]}:{head[1]}":
            verdict.fail("the report does NOT carry the recorded audit-log head")
        else:
            verdict.lines.append("the report carries the recorded audit-log head")
    else:
        verdict.lines.append(
            "no project and no recorded head given: compare the key fingerprint with the one recorded for the project"
        )
    return verdict


def _against_project(verdict: ReportVerdict, session: ProjectSession, public: str, head_text: str) -> None:
    from workbench.core.project.audit_chain import parse_head
    from workbench.services.audit import _private_key, public_key_hex, verify_audit_log

    if session.vault is None or session.vault.is_unlocked:
        if public_key_hex(_private_key(session)) != public:
            verdict.fail("the report was NOT signed with this project's key")
        else:
            verdict.lines.append("signed with this project's key")
    audit = verify_audit_log(session, parse_head(head_text)).report
    if audit.broken_at is not None:
        verdict.fail(f"this project's audit log is broken at entry {audit.broken_at}: {audit.reason}")
    elif audit.anchor != "extends":
        verdict.fail(f"this project's audit log does NOT extend the report's head ({audit.anchor})")
    else:
        verdict.lines.append("this project's audit log extends the report's head")
