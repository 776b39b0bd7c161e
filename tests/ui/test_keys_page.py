"""The Keys and sharing page, driven as an analyst would: create a key pair, import a site's public key (its
fingerprint shown first), share a file and a project dataset with it, open the shared file back with the private key
(a wrong passphrase is said on the page, nothing written), sign and verify (a modified file fails, on the page).
The window uses the cheapest KDF (tests/ui/conftest.py), so a new private key is protected with the floor."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from tests.support.planted import canary_csv
from tests.support.qt import wait_for_job
from workbench.core.jobs import drive
from workbench.services.datasets import add_dataset_job
from workbench.services.session import ProjectSession
from workbench.ui.qt_keys_page import PAGE_NAME, QtKeysPage, install

KEY_PW = "a passphrase for my key"


def _run(qtbot, page: QtKeysPage, job_id: int | None) -> str:  # noqa: ANN001
    assert job_id is not None, page.message_text()
    wait_for_job(qtbot, page._window.runner, job_id)
    assert not page.busy
    text = page.message_text()
    assert "Traceback" not in text
    return text


def _select(combo, data: str) -> None:  # noqa: ANN001
    index = combo.findData(data)
    assert index >= 0, (data, [combo.itemData(i) for i in range(combo.count())])
    combo.setCurrentIndex(index)


def _make_key(qtbot, page: QtKeysPage, name: str) -> None:  # noqa: ANN001
    text = _run(qtbot, page, page.create_key_pair(name, KEY_PW))
    assert f"Key pair {name} created" in text and page.message.property("level") == "info"


def test_create_import_share_open_sign_verify(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    page = install(window)
    row = window._page_names.index(PAGE_NAME)  # the window installs it too: installing again replaces it in place
    assert window.nav.item(row).text().startswith(PAGE_NAME)
    window.nav.setCurrentRow(row)
    assert page.isVisible()
    assert page.my_keys_list.item(0).text().startswith("No key pair yet")

    _make_key(qtbot, page, "site-a")
    mine = page.my_keys[0]
    assert mine.fingerprint_text in page.message_text() and str(mine.private_path) in page.message_text()
    assert mine.fingerprint_text in page.my_keys_list.item(0).text()
    assert page.keys_dir.name == "keys" and mine.private_path.parent == page.keys_dir

    # Import a site's public key: the question shows its fingerprint first.
    question = page.import_confirmation(mine.public_path)
    assert mine.fingerprint_text in question and "another channel" in question
    imported = page.import_key(mine.public_path)
    assert imported is not None and imported.fingerprint_text == mine.fingerprint_text
    assert mine.fingerprint_text in page.site_keys_list.item(0).text()
    assert page.import_key(mine.private_path) is None
    assert page.message.property("level") == "error" and "Not imported" in page.message_text()

    # Share a small file with it.
    src = canary_csv(tmp_path / "small.csv", rows=12)
    form = page.share_form
    _select(form.what_combo, "file:-1")
    assert form.file_row.isEnabled()
    form.file_row.setText(str(src))
    _select(form.recipient_combo, str(imported.public_path))
    shared = tmp_path / "small.csv.pwb"
    form.out_row.setText(str(shared))
    qtbot.mouseClick(form.share_button, Qt.MouseButton.LeftButton)
    job_id = next(iter(page._pending))
    text = _run(qtbot, page, job_id)
    assert shared.is_file() and str(shared) in text and mine.fingerprint_text in text

    # Open it back: a wrong passphrase first (said on the page, nothing written), then the right one.
    opened = tmp_path / "opened.csv"
    page.open_form.file_row.setText(str(shared))
    _select(page.open_form.key_combo, str(mine.private_path))
    page.open_form.out_row.setText(str(opened))
    page.open_form.passphrase_edit.setText("not my passphrase")
    text = _run(qtbot, page, page.start_open())
    assert page.message.property("level") == "error"
    assert "not opened" in text and "wrong passphrase" in text and not opened.exists()
    page.open_form.passphrase_edit.setText(KEY_PW)
    text = _run(qtbot, page, page.start_open())
    assert page.message.property("level") == "info", text
    assert opened.read_bytes() == src.read_bytes() and str(opened) in text
    assert page.open_form.passphrase_edit.text() == ""

    # Sign, verify, then tamper with the file.
    page.sign_form.file_row.setText(str(src))
    _select(page.sign_form.key_combo, str(mine.private_path))
    page.sign_form.passphrase_edit.setText(KEY_PW)
    text = _run(qtbot, page, page.start_sign())
    sig = Path(str(src) + ".sig")
    assert sig.is_file() and str(sig) in text
    page.verify_form.file_row.setText(str(src))
    _select(page.verify_form.key_combo, str(imported.public_path))
    text = _run(qtbot, page, page.start_verify())
    assert page.message.property("level") == "info" and f"good signature by site-a ({mine.fingerprint_text})" in text
    with src.open("a") as f:
        f.write("R9999,Someone,30,F,1,late,no\n")
    text = _run(qtbot, page, page.start_verify())
    assert page.message.property("level") == "error"
    assert "Verification FAILED" in text and "modified after signing" in text


def test_share_a_project_dataset_and_refuse_what_is_missing(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    page = install(window)
    page.start_share()
    assert page.message.property("level") == "error" and "import the site's public key" in page.message_text()
    page.sign_form.file_row.setText(str(tmp_path / "x"))
    assert page.start_sign() is None and "Create… one first" in page.message_text()

    _make_key(qtbot, page, "site-b")
    record = drive(add_dataset_job(ProjectSession(window.project), canary_csv(tmp_path / "intake.csv"))).record
    page.refresh()
    _select(page.share_form.what_combo, f"dataset:{record.id}")
    assert not page.share_form.file_row.isEnabled()
    _select(page.share_form.recipient_combo, str(page.my_keys[0].public_path))
    out = tmp_path / "intake.csv.pwb"
    page.share_form.out_row.setText(str(out))
    text = _run(qtbot, page, page.start_share())
    assert out.is_file() and "dataset intake.csv" in text and str(out) in text
    assert window.project.audit_log(limit=1)[0].action == "dataset.shared"
    text = _run(qtbot, page, page.start_share())  # the output exists: refused on the page, not replaced
    assert page.message.property("level") == "error" and "already exists" in text


def test_the_page_is_compact(qtbot, window) -> None:  # noqa: ANN001
    page = install(window)
    _make_key(qtbot, page, "a rather long key name for a site")
    page.show_message("error", "a long message " * 40)
    # Fits beside the navigation in a 1366x768 window, long fingerprints and messages included.
    assert page.minimumSizeHint().height() <= 560 and page.minimumSizeHint().width() <= 700
    assert page.sizeHint().height() <= 640


def test_bad_inputs_are_said_on_the_page(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    page = install(window)
    _make_key(qtbot, page, "site-c")
    key = page.my_keys[0]
    plain = canary_csv(tmp_path / "plain.csv", rows=5)
    page.open_form.file_row.setText(str(plain))
    page.open_form.out_row.setText(str(tmp_path / "out.csv"))
    page.open_form.passphrase_edit.setText(KEY_PW)
    text = _run(qtbot, page, page.start_open())
    assert page.message.property("level") == "error" and "not a Privacy Workbench encrypted file" in text
    page.verify_form.file_row.setText(str(plain))
    _select(page.verify_form.key_combo, str(key.public_path))
    text = _run(qtbot, page, page.start_verify())  # no plain.csv.sig
    assert page.message.property("level") == "error" and "plain.csv.sig" in text
    _select(page.share_form.what_combo, "file:-1")
    page.share_form.file_row.setText(str(tmp_path / "missing.csv"))
    page.share_form.out_row.setText(str(tmp_path / "missing.pwb"))
    text = _run(qtbot, page, page.start_share())
    assert page.message.property("level") == "error" and "missing.csv" in text
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "missing.pwb").exists()


def test_opened_into_an_encrypted_project_it_becomes_a_dataset_in_the_vault(
    qtbot,  # noqa: ANN001
    window,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    from tests.support.planted import PASSPHRASE, files_holding
    from workbench.services import sharing

    page = install(window)
    _make_key(qtbot, page, "site-d")
    mine = page.my_keys[0]
    src = canary_csv(tmp_path / "outside" / "visits.csv", rows=20)
    shared = tmp_path / "visits.csv.pwb"
    sharing.share_file(src, shared, [sharing.read_public_key(mine.public_path)])

    wait_for_job(qtbot, window.runner, window.flows.encrypt_project(PASSPHRASE))
    qtbot.waitUntil(lambda: window.vault_ctl.state == "unlocked", timeout=30_000)
    assert not page.open_form.out_row.isEnabled()
    page.open_form.file_row.setText(str(shared))
    _select(page.open_form.key_combo, str(mine.private_path))
    page.open_form.passphrase_edit.setText(KEY_PW)
    text = _run(qtbot, page, page.start_open())
    assert page.message.property("level") == "info", text
    assert "into the encrypted project as dataset visits.csv" in text
    records = window.project.datasets()
    assert [r.name for r in records] == ["visits.csv"] and records[0].path.startswith("vault:")
    assert files_holding([window.project.folder]) == []
    window.vault_ctl.lock()
    page.open_form.passphrase_edit.setText(KEY_PW)
    assert page.start_open() is None and "locked" in page.message_text()
