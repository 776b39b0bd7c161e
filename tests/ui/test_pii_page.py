"""The Anonymize page: live preview with highlights and legend, operator changes, newest-wins previews, apply
with lineage, refusal of keyed operators without a vault, policy export/import."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("presidio_analyzer", reason="the PII page needs presidio")

from workbench.core.demo import clinic_intake_csv_text  # noqa: E402
from workbench.ui.qt_jobs import QtJobRunner  # noqa: E402
from workbench.ui.qt_pii_page import TEMP_KEY_NOTE, QtPiiPage  # noqa: E402


@pytest.fixture
def setup(qtbot, project, tmp_path):  # noqa: ANN001, ANN201
    from workbench.core.data.load import load_dataset

    source = tmp_path / "clinic.csv"
    source.write_text(clinic_intake_csv_text(rows=30), encoding="utf-8")
    ds = load_dataset(source)
    runner = QtJobRunner()
    page = QtPiiPage(runner)
    qtbot.addWidget(page)
    page.show()
    page.set_project(project)
    page.set_vault(None)
    # Detection-driven treatments: with the suggested roles the safe defaults drop the direct identifiers (name,
    # phone...) of a plain project, and these tests are about the entity operators on those columns.
    from workbench.core.data.dataset import ColumnRole

    roles = {c: ColumnRole.OTHER for c in ds.column_names} | {"note": ColumnRole.FREE_TEXT}
    page.set_dataset(ds, roles)
    qtbot.waitUntil(lambda: page.detections() is not None, timeout=30_000)
    qtbot.waitUntil(lambda: page.last_preview() is not None and "name" in page.preview_columns(), timeout=30_000)
    qtbot.waitUntil(lambda: not page.preview_requests._timer.isActive(), timeout=5_000)
    yield page, runner, ds, source
    runner.begin_shutdown()
    runner.cancel_all()
    runner.wait_all(30)


def _wait_preview(qtbot, page, check) -> None:  # noqa: ANN001
    qtbot.waitUntil(lambda: page.last_preview() is not None and bool(check()), timeout=20_000)


def test_preview_highlights_and_operator_change(qtbot, setup) -> None:  # noqa: ANN001
    page, runner, ds, _ = setup
    legend = " ".join(page.legend.texts())
    assert "PERSON" in legend
    assert page.key_note.isVisible() and page.key_note.text() == TEMP_KEY_NOTE
    # Original and anonymized side by side, spans highlighted with the entity's colour.
    headers = [page.preview_table.horizontalHeaderItem(i).text() for i in range(page.preview_table.columnCount())]
    assert "note" in headers and "note → anonymized" in headers
    from workbench.ui.qt_highlight import HTML_ROLE, entity_color

    col = headers.index("note")
    html = page.preview_table.item(0, col).data(HTML_ROLE)
    assert entity_color("PERSON") in html
    assert "ms" in page.preview_status.text()
    assert any("<PERSON>" in (t or "") for t in page.anonymized_texts("note"))

    # The GUI path: pick "redact" in PERSON's combo; the anonymized note loses the <PERSON> markers.
    combo = page.entity_combo("PERSON")
    assert combo is not None
    before = page.preview_requests.request_number
    combo.setCurrentIndex(combo.findData("redact"))
    assert page.policy().operator_for("PERSON").operator == "redact"
    assert page.preview_requests.request_number > before
    _wait_preview(qtbot, page, lambda: all("<PERSON>" not in (t or "") for t in page.anonymized_texts("note")))
    notes = page.anonymized_texts("note")
    assert any("<LOCATION>" in (n or "") for n in notes), "other entity types keep their operator"
    cell = next(c for c in page.last_preview().rows[0].cells if c.column == "note")
    person = [cell.original[s.start : s.end] for s in cell.spans if s.entity_type == "PERSON"]
    assert person and all(p not in cell.anonymized for p in person)
    assert [r.operator for r in cell.replacements if r.entity_type == "PERSON"] == ["redact"] * len(person)
    # The entity column "name" now comes out empty (redacted).
    _wait_preview(qtbot, page, lambda: all(t == "" for t in page.anonymized_texts("name")))

    # Mask with a preset from the parameter combo.
    combo.setCurrentIndex(combo.findData("mask"))
    params = page.entity_param_combo("PERSON")
    assert params.isEnabled() and params.count() >= 2
    params.setCurrentIndex(params.findText("last 4 characters"))
    assert page.policy().operator_for("PERSON").param_dict["chars_to_mask"] == 4
    _wait_preview(qtbot, page, lambda: all((t or "").endswith("****") for t in page.anonymized_texts("name")))

    # Threshold slider moves the policy's threshold.
    page.threshold_slider.setValue(90)
    assert page.policy().threshold == pytest.approx(0.9)
    assert page.threshold_value.text() == "0.90"

    # Column treatment combo: drop the email column.
    treat, _op = page.column_combos("email")
    treat.setCurrentIndex(treat.findData("drop"))
    assert page.policy().column("email").treatment.value == "drop"
    _wait_preview(
        qtbot, page, lambda: page.anonymized_texts("email") and all(t is None for t in page.anonymized_texts("email"))
    )
    # Column operator override for an entity column.
    treat, op = page.column_combos("phone")
    assert op.isEnabled()
    op.setCurrentIndex(op.findData("redact"))
    assert page.policy().column("phone").operator.operator == "redact"
    _wait_preview(qtbot, page, lambda: all(t == "" for t in page.anonymized_texts("phone")))


def test_stale_previews_are_dropped(qtbot, setup) -> None:  # noqa: ANN001
    page, runner, _, _ = setup
    latest = page.preview_requests
    started = latest.started_count
    # A burst of changes inside the debounce: one job at most.
    for value in (10, 20, 30, 40, 50):
        page.threshold_slider.setValue(value)
    qtbot.waitUntil(lambda: latest.started_count == started + 1, timeout=5_000)
    qtbot.wait(300)
    assert latest.started_count == started + 1
    # Immediate requests back to back: every older job's result is dropped, only the newest is shown.
    dropped = latest.dropped_count
    shown: list[int] = []
    latest.sig_result.connect(lambda n, _r: shown.append(n))
    numbers = [page.request_preview(immediate=True) for _ in range(4)]
    qtbot.waitUntil(lambda: numbers[-1] in shown, timeout=20_000)
    runner.wait_all(10)
    assert shown == [numbers[-1]]
    assert latest.dropped_count >= dropped  # older jobs either cancelled or finished and were dropped
    assert latest.started_count == started + 5


def test_apply_writes_registers_and_records_lineage(qtbot, setup, project) -> None:  # noqa: ANN001
    page, runner, ds, source = setup
    assert not page.policy().needs_keys(ds.column_names)
    page.format_box.setCurrentIndex(page.format_box.findData("parquet"))
    with qtbot.waitSignal(
        runner.sig_job_succeeded, timeout=60_000, check_params_cb=lambda _j, r: isinstance(r, dict) and "location" in r
    ):
        job = page.apply()
    assert job is not None
    qtbot.waitUntil(lambda: page.last_output is not None, timeout=5_000)
    out = page.last_output
    written = source.with_name("clinic.anonymized.parquet")
    assert out["location"] == str(written) and written.exists()
    assert source.read_text(encoding="utf-8") == clinic_intake_csv_text(rows=30), "the original is untouched"
    import pyarrow.parquet as pq

    table = pq.read_table(written)
    assert table.num_rows == 30
    names = set(ds.table.column("name").to_pylist())
    assert not names & set(table.column("name").to_pylist())
    child = project.get_dataset(out["dataset_id"])
    assert child.path == str(written.resolve())
    lineage = project.lineage(child.id)
    assert lineage and lineage[0].operation == "anonymize" and lineage[0].parent_dataset_id == out["parent_id"]
    parent = project.dataset_by_fingerprint(ds.fingerprint)
    assert parent is not None and parent.id == out["parent_id"]
    # The applied policy is saved in the project.
    assert project.latest_policy(parent.id) is not None
    assert "registered" in page.message.text()

    # A second apply writes a new file, never over the first.
    with qtbot.waitSignal(
        runner.sig_job_succeeded, timeout=60_000, check_params_cb=lambda _j, r: isinstance(r, dict) and "location" in r
    ):
        page.apply("csv")
    qtbot.waitUntil(lambda: page.last_output["format"] == "csv", timeout=5_000)
    assert source.with_name("clinic.anonymized.csv").exists()


def test_keyed_operator_without_vault_is_refused(qtbot, setup) -> None:  # noqa: ANN001
    page, runner, _, source = setup
    combo = page.entity_combo("PERSON")
    combo.setCurrentIndex(combo.findData("pseudonym"))
    # The preview still works, with the temporary key.
    _wait_preview(qtbot, page, lambda: all("<PERSON>" not in (t or "") for t in page.anonymized_texts("name")))
    assert page.key_note.isVisible()
    assert page.apply() is None
    assert page.message.isVisible() and "pseudonym" in page.message.text() and "key" in page.message.text()
    assert not list(source.parent.glob("clinic.anonymized*"))


def test_policy_export_import_round_trip_and_bad_file(qtbot, setup, project, tmp_path) -> None:  # noqa: ANN001
    page, runner, _, _ = setup
    page.set_entity_operator("PERSON", "mask", chars_to_mask=4, from_end=True)
    exported = page.export_policy(tmp_path / "policy.json")
    assert exported is not None and json.loads(exported.read_text())["entities"]["PERSON"]["chars_to_mask"] == 4
    original = page.policy()
    page.set_entity_operator("PERSON", "redact")
    assert page.policy() != original
    assert page.import_policy(exported)
    assert page.policy() == original
    assert page.entity_combo("PERSON").currentData() == "mask"
    assert page.entity_param_combo("PERSON").currentText() == "last 4 characters"
    assert project.latest_policy(project.dataset_by_fingerprint(page._dataset.fingerprint).id) is not None

    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "entities": {"PERSON": {"operator": "shred"}}}', encoding="utf-8")
    assert not page.import_policy(bad)
    assert page.policy() == original, "a bad file changes nothing"
    assert "Policy not imported" in page.message.text() and "shred" in page.message.text()
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert not page.import_policy(broken)
    assert "not valid JSON" in page.message.text()


def test_encrypted_project_keys_and_output_in_the_vault(qtbot, project, tmp_path) -> None:  # noqa: ANN001
    from workbench.core.crypto import kdf
    from workbench.core.crypto.vault import ProjectVault
    from workbench.core.data.dataset import LoadOptions
    from workbench.core.jobs import CancelToken, drive
    from workbench.core.project.secure_data import VAULT_PREFIX
    from workbench.services.datasets import import_into_vault_job
    from workbench.services.session import ProjectSession

    source = tmp_path / "clinic.csv"
    source.write_text(clinic_intake_csv_text(rows=30), encoding="utf-8")
    vault = ProjectVault.create(project.folder, "correct horse battery", kdf=kdf.minimum_params())
    if not vault.is_unlocked:
        vault.unlock("correct horse battery")
    ds = drive(import_into_vault_job(ProjectSession(project, vault), source, LoadOptions(), CancelToken()))
    runner = QtJobRunner()
    page = QtPiiPage(runner)
    qtbot.addWidget(page)
    page.show()
    try:
        page.set_project(project)
        page.set_vault(vault)
        page.set_dataset(ds, ds.suggested_roles())
        qtbot.waitUntil(lambda: page.detections() is not None, timeout=30_000)
        assert not page.key_note.isVisible(), "keys come from the vault: no temporary-key note"
        page.set_entity_operator("PERSON", "pseudonym")
        before = {p.name for p in tmp_path.iterdir()}
        with qtbot.waitSignal(
            runner.sig_job_succeeded,
            timeout=60_000,
            check_params_cb=lambda _j, r: isinstance(r, dict) and "location" in r,
        ):
            assert page.apply("csv") is not None
        out = page.last_output
        assert out["location"].startswith(VAULT_PREFIX)
        assert {p.name for p in tmp_path.iterdir()} == before, "nothing written in clear next to the source"
        data = vault.open_bytes(out["location"][len(VAULT_PREFIX) :]).decode("utf-8")
        assert "record_id" in data and ds.table.column("name")[0].as_py() not in data
        child = project.get_dataset(out["dataset_id"])
        assert child.path == out["location"]
        lineage = project.lineage(child.id)
        assert lineage[0].operation == "anonymize" and lineage[0].detail["key_id"]
    finally:
        runner.begin_shutdown()
        runner.cancel_all()
        runner.wait_all(30)
