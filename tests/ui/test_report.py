"""The signed compliance report (issue 18): built from the project, rendered with Qt's PDF writer, signed; a
report whose one byte changed is refused; no dataset value appears in it."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.core.jobs import drive
from workbench.services.opening import open_session
from workbench.services.report_signing import manifest_path, signature_path, verify_report
from workbench.ui.qt_report_pdf import make_report_job, render_pages

CANARY = "Zebulon Quixworth"


def _project(tmp_path: Path) -> Path:
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.project.store import Project
    from workbench.services.datasets import add_dataset_job

    folder = tmp_path / "p"
    Project.create(folder).close()
    data = tmp_path / "people.csv"
    data.write_text("name,age,label\n" + "".join(f"{CANARY} {i},{30 + i},{'ab'[i % 2]}\n" for i in range(20)))
    with open_session(folder) as session:
        drive(add_dataset_job(session, data, roles={"name": "direct_identifier", "age": "quasi_identifier"}))
        record = session.project.datasets()[0]
        PrivacyLedger(session.project).set_total(record.fingerprint, 3.0)
    return folder


def test_a_report_is_signed_verified_and_refused_after_one_byte(qapp, tmp_path: Path) -> None:  # noqa: ANN001
    folder = _project(tmp_path)
    pdf = tmp_path / "out" / "report.pdf"
    pdf.parent.mkdir()
    with open_session(folder) as session:
        files = drive(make_report_job(session, 1, pdf))
        assert verify_report(pdf, session=session).ok
    assert pdf.read_bytes().startswith(b"%PDF") and files.seconds < 30
    for path in (pdf, files.html, manifest_path(pdf)):
        assert CANARY.encode() not in path.read_bytes(), f"a dataset value in {path.name}"
    manifest = json.loads(manifest_path(pdf).read_text())
    assert manifest["facts"]["privacy_budget"]["total"] == 3.0
    risk = manifest["facts"]["risk"]  # age is a quasi-identifier: 20 distinct ages, every record unique
    assert risk["before"]["quasi_identifiers"] == ["age"] and risk["before"]["k"] == 1 and risk["after"] is None
    assert risk["before"]["sample_uniqueness"] == 1.0
    assert manifest["audit_log_head"] == files.audit_head
    seq, digest = files.audit_head.split(":")
    assert verify_report(pdf, head=(int(seq), digest)).ok

    original = pdf.read_bytes()
    changed = bytearray(original)
    changed[len(changed) // 2] ^= 1
    pdf.write_bytes(bytes(changed))
    verdict = verify_report(pdf)
    assert not verdict.ok and any("PDF's signature does NOT verify" in line for line in verdict.lines)
    pdf.write_bytes(original)

    manifest["facts"]["privacy_budget"]["total"] = 300.0
    manifest_path(pdf).write_text(json.dumps(manifest))
    assert not verify_report(pdf).ok, "an edited manifest is refused"
    signature_path(pdf).write_text("00" * 64)
    assert not verify_report(pdf).ok


def test_the_report_pages_render(qapp, tmp_path: Path) -> None:  # noqa: ANN001
    folder = _project(tmp_path)
    with open_session(folder) as session:
        files = drive(make_report_job(session, 1, tmp_path / "r.pdf"))
    pages = render_pages(files.html.read_text(encoding="utf-8"), tmp_path)
    assert pages and all(p.stat().st_size > 1000 for p in pages)
