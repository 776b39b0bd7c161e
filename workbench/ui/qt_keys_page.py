"""The Keys and sharing page: my key pairs, other sites' public keys, and sharing, opening, signing and verifying.

Every action is a use case of :mod:`workbench.services.sharing` run as a job of the window's runner (key
derivation is deliberately slow, and files can be large); the outcome comes back on ``@Slot`` methods and is shown
on the page, naming where the output is. Dialogs are only for decisions (a name and a passphrase for a new key, the
fingerprint to confirm before importing a key); the methods they call (:meth:`QtKeysPage.create_key_pair`,
:meth:`QtKeysPage.import_key`...) are what the tests drive.

A passphrase typed here lives in the field until the job starts, then only in that job.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QInputDialog,
    QLabel,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
)

from workbench.core.errors import WorkbenchError
from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.services import sharing
from workbench.ui.qt_keys_forms import QtKeyLists, QtOpenForm, QtShareForm, QtSignForm, QtVerifyForm, fill_combo
from workbench.ui.qt_progress_row import progress_row, show_progress
from workbench.ui.qt_project_page import QtProjectPage
from workbench.ui.qt_vault import QtPassphraseDialog

if TYPE_CHECKING:
    from workbench.ui.qt_main_window import QtMainWindow

PAGE_NAME = "Keys and sharing"


class QtKeysPage(QtProjectPage):
    """See the module docstring. ``keys_dir``: the folder of my key pairs (default the user's keys folder)."""

    def __init__(self, window: QtMainWindow, keys_dir: Path | None = None) -> None:
        super().__init__()
        self._window = window
        self._runner = window.runner
        self._keys_dir = keys_dir
        self._pending: dict[int, str] = {}
        self._shareables: list[sharing.Shareable] = []
        self.my_keys: list[sharing.KeyInfo] = []
        self.site_keys: list[sharing.KeyInfo] = []
        self._build()
        self._runner.sig_job_progress.connect(self._on_job_progress)
        self._runner.sig_job_succeeded.connect(self._on_job_succeeded)
        self._runner.sig_job_failed.connect(self._on_job_failed)
        self._runner.sig_job_cancelled.connect(self._on_job_cancelled)
        window.vault_ctl.sig_state_changed.connect(self._on_vault_state)
        self.refresh()

    # --- layout ---------------------------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Your key pair lets other sites share files with you and check what you signed. Before trusting a public "
            "key, compare its fingerprint with its owner over another channel (a phone call, a letter)."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.key_lists = QtKeyLists()
        self.my_keys_list, self.site_keys_list = self.key_lists.my_keys_list, self.key_lists.site_keys_list
        self.create_button, self.import_button = self.key_lists.create_button, self.key_lists.import_button
        self.create_button.clicked.connect(self.create_dialog)
        self.import_button.clicked.connect(self.import_dialog)
        layout.addWidget(self.key_lists)

        self.tabs = QTabWidget()
        self.share_form = QtShareForm()
        self.open_form = QtOpenForm()
        self.sign_form = QtSignForm()
        self.verify_form = QtVerifyForm()
        self.tabs.addTab(self.share_form, "Share")
        self.tabs.addTab(self.open_form, "Open shared")
        self.tabs.addTab(self.sign_form, "Sign")
        self.tabs.addTab(self.verify_form, "Verify")
        layout.addWidget(self.tabs)
        self.share_form.what_combo.currentIndexChanged.connect(self._on_what_changed)
        self.share_form.share_button.clicked.connect(self._on_share_clicked)
        self.open_form.open_button.clicked.connect(self._on_open_clicked)
        self.sign_form.sign_button.clicked.connect(self.start_sign)
        self.verify_form.verify_button.clicked.connect(self.start_verify)

        self.progress_box, self.progress, self.cancel_button = progress_row(self._cancel)
        layout.addWidget(self.progress_box)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        layout.addWidget(self.message)
        layout.addStretch(1)

    # --- state ----------------------------------------------------------------------------------------------

    @property
    def keys_dir(self) -> Path:
        return self._keys_dir if self._keys_dir is not None else sharing.keys_folder()

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def refresh(self) -> None:
        """Read the key folders and the project again into the lists and choosers."""
        try:
            self.my_keys = sharing.list_key_pairs(self.keys_dir)
            self.site_keys = sharing.list_site_keys(sharing.sites_folder(self.keys_dir))
        except WorkbenchError as exc:
            self.show_message("error", f"The keys folder cannot be read: {exc}")
            self.my_keys, self.site_keys = [], []
        self.key_lists.fill(self.my_keys, self.site_keys)
        usable_mine = [k for k in self.my_keys if k.usable]
        public = [k for k in self.site_keys if k.usable] + usable_mine
        for combo in (self.open_form.key_combo, self.sign_form.key_combo):
            fill_combo(combo, [(k.label(), str(k.private_path)) for k in usable_mine])
        choices = [(k.label() + (" (mine)" if k.private_path else ""), str(k.public_path)) for k in public]
        for combo in (self.share_form.recipient_combo, self.verify_form.key_combo):
            fill_combo(combo, choices)
        self._refresh_shareables()
        self.open_form.set_into_vault(self._window.vault_ctl.state == "unlocked")

    def _refresh_shareables(self) -> None:
        project = self._window.project
        self._shareables = []
        if project is not None and self._window.vault_ctl.state != "locked":
            try:
                self._shareables = sharing.shareable_items(project)
            except WorkbenchError as exc:
                self.show_message("error", f"The project's datasets cannot be listed: {exc}")
        combo = self.share_form.what_combo
        combo.blockSignals(True)
        fill_combo(combo, [(s.label, f"{s.kind}:{s.ref}") for s in self._shareables])
        combo.addItem("A file on disk…", "file:-1")
        combo.blockSignals(False)
        self._on_what_changed()

    def chosen_item(self) -> sharing.Shareable | None:
        """The dataset or model chosen to share; ``None`` for a file on disk."""
        data = self.share_form.what_combo.currentData()
        return next((s for s in self._shareables if f"{s.kind}:{s.ref}" == data), None)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if not self.busy:
            self.refresh()

    @Slot(str)
    def _on_vault_state(self, _state: str) -> None:
        self.refresh()

    @Slot()
    def _on_what_changed(self) -> None:
        self.share_form.file_row.setEnabled(self.chosen_item() is None)

    # --- key pairs and site keys ------------------------------------------------------------------------------

    @Slot()
    def create_dialog(self) -> None:
        name, ok = QInputDialog.getText(self, "Create a key pair", "Name of the key (for example your site):")
        if not ok or not name.strip():
            return
        try:
            sharing.check_key_name(name.strip())
        except WorkbenchError as exc:
            self.show_message("error", str(exc))
            return
        dialog = QtPassphraseDialog(
            self,
            "Passphrase of the private key",
            "The private key is kept encrypted under this passphrase. Without it the key cannot be used, and a lost "
            "key cannot be recovered.",
            new=True,
        )
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.create_key_pair(name.strip(), dialog.passphrase())

    def create_key_pair(self, name: str, passphrase: str) -> int:
        """Make a key pair in the keys folder as a job (its KDF: the window's, cheap in tests)."""
        folder, params = self.keys_dir, self._window.vault_ctl.kdf_params

        def job(token: CancelToken) -> JobGenerator[Any]:
            return (yield from sharing.create_key_pair_job(folder, name, passphrase, kdf=params, token=token))

        return self._submit(f"Create key pair {name}", job, "keygen")

    def import_confirmation(self, path: str | Path) -> str:
        """What the import dialog asks: the key's name, type and fingerprint, to compare before trusting it."""
        key = sharing.read_public_key(path)
        return (
            f"Public key {key.name or '(unnamed)'} ({key.kind})\n\nFingerprint:\n{key.fingerprint_text}\n\n"
            "Compare this fingerprint with the key's owner over another channel (phone, letter) before importing. "
            "Import it?"
        )

    @Slot()
    def import_dialog(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Import a site's public key", "", "Public keys (*.pub);;All (*)")
        if not path:
            return
        try:
            question = self.import_confirmation(path)
        except WorkbenchError as exc:
            self.show_message("error", f"Not imported. {exc}")
            return
        answer = QMessageBox.question(self, "Import this public key?", question)
        if answer == QMessageBox.StandardButton.Yes:
            self.import_key(path)

    def import_key(self, path: str | Path) -> sharing.KeyInfo | None:
        """Import a public key file into the sites folder (small file: no job needed)."""
        try:
            info = sharing.import_public_key(path, sharing.sites_folder(self.keys_dir))
        except WorkbenchError as exc:
            self.show_message("error", f"Not imported. {exc}")
            return None
        self.refresh()
        self.show_message(
            "info", f"Imported {info.name or '(unnamed)'} ({info.fingerprint_text}) as {info.public_path}"
        )
        return info

    # --- share, open, sign, verify ------------------------------------------------------------------------------

    @Slot()
    def _on_share_clicked(self) -> None:
        if not self.share_form.out_row.text():
            item = self.chosen_item()
            source = self.share_form.file_row.text()
            suggested = item.suggested_name if item else (Path(source).name + sharing.SHARED_SUFFIX if source else "")
            self.share_form.out_row.setText(str(Path.home() / suggested) if suggested else "")
            if not self.share_form.out_row.browse():
                return
        self.start_share()

    def start_share(self) -> int | None:
        """Share the chosen dataset, model or file with the chosen recipient into the Save as path."""
        form, item = self.share_form, self.chosen_item()
        out, source, recipient_path = form.out_row.text(), form.file_row.text(), form.recipient_combo.currentData()
        problem = (
            "Choose a recipient: import the site's public key first."
            if not recipient_path
            else "Choose the file to share."
            if item is None and not source
            else "Choose where to write the shared file."
            if not out
            else ""
        )
        if problem:
            self.show_message("error", problem)
            return None
        session = self._session() if item is not None else None
        if item is not None and session is None:
            return None

        def job(token: CancelToken) -> JobGenerator[Any]:
            recipients = [sharing.read_public_key(recipient_path)]
            if item is None:
                return (yield from sharing.share_file_job(source, out, recipients, token=token))
            return (yield from sharing.share_item_job(session, item, out, recipients, token=token))

        return self._submit("Share " + (item.label if item else Path(source).name), job, "share")

    @Slot()
    def _on_open_clicked(self) -> None:
        into_vault = self._window.vault_ctl.state == "unlocked"
        if not into_vault and not self.open_form.out_row.text() and self.open_form.file_row.text():
            name = Path(self.open_form.file_row.text()).name.removesuffix(sharing.SHARED_SUFFIX)
            self.open_form.out_row.setText(str(Path.home() / name))
            if not self.open_form.out_row.browse():
                return
        self.start_open()

    def start_open(self) -> int | None:
        """Open the shared file with my chosen key: into the vault of an encrypted project, else to Open into."""
        form = self.open_form
        source, key_path, passphrase = form.file_row.text(), form.key_combo.currentData(), form.passphrase_edit.text()
        state = self._window.vault_ctl.state
        into_vault = state == "unlocked"
        out = None if into_vault else form.out_row.text()
        problem = (
            "The project is locked: unlock it first (what is opened goes into its vault, never in clear)."
            if state == "locked"
            else self._key_problem(source, key_path, passphrase, "the shared file")
            or ("Choose where to write the opened file." if out == "" else "")
        )
        if problem:
            self.show_message("error", problem)
            return None
        session = self._session() if into_vault else None
        if into_vault and session is None:
            return None
        form.passphrase_edit.clear()

        def job(token: CancelToken) -> JobGenerator[Any]:
            sharing.check_shared_with_keys(source, sharing.read_shared_header(source))
            yield Progress("key", 0, None, "", "unlocking your private key")
            key = sharing.load_private_key(key_path, passphrase)
            return (yield from sharing.open_shared_job(source, key, out=out, session=session, token=token))

        return self._submit(f"Open {Path(source).name}", job, "open")

    @Slot()
    def start_sign(self) -> int | None:
        """Sign the chosen file with my chosen key; the signature goes next to it as FILE.sig (replaced)."""
        form = self.sign_form
        source, key_path, passphrase = form.file_row.text(), form.key_combo.currentData(), form.passphrase_edit.text()
        problem = self._key_problem(source, key_path, passphrase, "the file to sign")
        if problem:
            self.show_message("error", problem)
            return None
        form.passphrase_edit.clear()

        def job(token: CancelToken) -> JobGenerator[Any]:
            yield Progress("key", 0, None, "", "unlocking your private key")
            key = sharing.load_private_key(key_path, passphrase)
            return (yield from sharing.sign_file_job(source, key, overwrite=True, token=token))

        return self._submit(f"Sign {Path(source).name}", job, "sign")

    @Slot()
    def start_verify(self) -> int | None:
        """Check the chosen file against its signature and the chosen public key."""
        form = self.verify_form
        source, key_path = form.file_row.text(), form.key_combo.currentData()
        sig = form.sig_row.text() or (str(sharing.default_signature_path(source)) if source else "")
        if not source or not key_path:
            self.show_message("error", "Choose the file to verify and the public key of who signed it.")
            return None

        def job(token: CancelToken) -> JobGenerator[Any]:
            public_key, signature = sharing.read_public_key(key_path), sharing.read_signature(sig)
            verified = yield from sharing.verify_file_job(source, signature, public_key, token=token)
            return Path(source).name, verified

        return self._submit(f"Verify {Path(source).name}", job, "verify")

    @staticmethod
    def _key_problem(source: str, key_path: str | None, passphrase: str, what: str) -> str:
        if not key_path:
            return "Choose one of your key pairs: Create… one first if you have none."
        if not source:
            return f"Choose {what}."
        return "" if passphrase else "Type the passphrase of your private key."

    # --- jobs -------------------------------------------------------------------------------------------------

    def _submit(self, title: str, factory: Any, action: str) -> int:
        job_id = self._runner.submit(title, factory, kind="keys")
        self._pending[job_id] = action
        self.progress.setRange(0, 0)
        self.progress_box.show()
        self.show_message("info", f"{title}…")
        return job_id

    @Slot()
    def _cancel(self) -> None:
        for job_id in list(self._pending):
            self._runner.cancel(job_id)

    def _finish(self, job_id: int) -> str | None:
        action = self._pending.pop(job_id, None)
        if not self._pending:
            self.progress_box.hide()
        return action

    @Slot(int, object)
    def _on_job_progress(self, job_id: int, progress: Progress) -> None:
        if job_id not in self._pending:
            return
        show_progress(self.progress, progress)

    @Slot(int, object)
    def _on_job_succeeded(self, job_id: int, result: Any) -> None:
        action = self._finish(job_id)
        if action is None:
            return
        if action == "keygen":
            self.show_message(
                "info",
                f"Key pair {result.public_key.name} created. Public key: {result.public_path} (give this to other "
                f"sites). Private key: {result.private_path} (encrypted; keep it and its passphrase to yourself). "
                f"Fingerprint: {result.fingerprint_text}",
            )
        elif action == "verify":
            name, verified = result
            self.show_message("info", f"{name}: {verified.describe()}")
        else:
            text = result.describe()
            self.show_message("info", text[:1].upper() + text[1:])
        if action == "open" and getattr(result, "dataset", None) is not None:
            self._window.data_page.refresh_dataset_list()
        self.refresh()

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        action = self._finish(job_id)
        if action is None:
            return
        prefix = {
            "keygen": "The key pair was not created.",
            "share": "Nothing was shared.",
            "open": "The file was not opened.",
            "sign": "The file was not signed.",
            "verify": "Verification FAILED.",
        }[action]
        self.show_message("error", f"{prefix} {message}")

    @Slot(int)
    def _on_job_cancelled(self, job_id: int) -> None:
        if self._finish(job_id) is not None:
            self.show_message("info", "Cancelled; nothing was written.")


def install(window: QtMainWindow) -> QtKeysPage:
    """Create the page and add it to the window's navigation as "Keys and sharing"."""
    page = QtKeysPage(window)
    window.add_page(PAGE_NAME, page)
    return page
