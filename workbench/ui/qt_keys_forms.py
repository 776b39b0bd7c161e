"""The widgets of the Keys and sharing page: the two key lists, and the Share, Open shared, Sign and Verify forms,
one tab each (compact: the page must fit a 1366x768 window). Widgets only; :mod:`workbench.ui.qt_keys_page` reads
them and starts the jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from workbench.services.sharing import KeyInfo

LIST_HEIGHT = 100
"""The key lists stay short (about three keys): the page must fit a 1366x768 window."""


def fill_combo(combo: QComboBox, items: list[tuple[str, str]]) -> None:
    """Replace a chooser's (label, data) items, keeping the current choice when it is still there."""
    previous = combo.currentData()
    combo.clear()
    for label, data in items:
        combo.addItem(label, data)
    index = combo.findData(previous)
    if index >= 0:
        combo.setCurrentIndex(index)


def _fill_list(widget: QListWidget, keys: list[KeyInfo], empty: str) -> None:
    widget.clear()
    for key in keys:
        # Two lines (name and type, then the fingerprint) so that the whole fingerprint shows at 1366 px.
        text = key.label() if key.problem else f"{key.name or '(unnamed)'} · {key.kind}\n{key.fingerprint_text}"
        item = QListWidgetItem(text)
        private = f"\nprivate key: {key.private_path}" if key.private_path else ""
        item.setToolTip(f"public key: {key.public_path}{private}")
        widget.addItem(item)
    if not keys:
        widget.addItem(QListWidgetItem(empty))


def _key_list() -> QListWidget:
    widget = QListWidget()
    widget.setMaximumHeight(LIST_HEIGHT)
    widget.setAlternatingRowColors(True)
    widget.setWordWrap(True)
    return widget


class QtKeyLists(QWidget):
    """My key pairs (with Create…) beside other sites' public keys (with Import…), each with its fingerprint."""

    def __init__(self) -> None:
        super().__init__()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.my_keys_list, self.create_button = _key_list(), QPushButton("Create…")
        self.site_keys_list, self.import_button = _key_list(), QPushButton("Import…")
        for title, widget, button in (
            ("My key pairs", self.my_keys_list, self.create_button),
            ("Other sites' public keys", self.site_keys_list, self.import_button),
        ):
            box = QGroupBox(title)
            box_layout = QVBoxLayout(box)
            box_layout.addWidget(widget)
            box_layout.addWidget(button)
            row.addWidget(box, 1)

    def fill(self, my_keys: list[KeyInfo], site_keys: list[KeyInfo]) -> None:
        _fill_list(self.my_keys_list, my_keys, "No key pair yet: Create… one to receive and sign files.")
        _fill_list(self.site_keys_list, site_keys, "No site key yet: Import… the .pub file a site sent.")


class QtPathRow(QWidget):
    """A path field with a Browse… button (an Open or a Save dialog)."""

    def __init__(self, placeholder: str, title: str, save: bool = False, file_filter: str = "") -> None:
        super().__init__()
        self._title = title
        self._save = save
        self._filter = file_filter
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.browse)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse_button)

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt naming, as QLineEdit
        self.edit.setText(text)

    def browse(self) -> str:
        """Ask for a path with a file dialog; the field keeps what was chosen."""
        start = self.text()
        if self._save:
            path, _ = QFileDialog.getSaveFileName(self, self._title, start, self._filter)
        else:
            path, _ = QFileDialog.getOpenFileName(self, self._title, start, self._filter)
        if path:
            self.edit.setText(path)
        return path


def _combo() -> QComboBox:
    """A chooser whose long labels (fingerprints) do not widen the page: it shrinks and elides instead."""
    combo = QComboBox()
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(24)
    return combo


def _password_edit() -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setPlaceholderText("the private key's passphrase")
    return edit


def _form(widget: QWidget) -> QFormLayout:
    form = QFormLayout(widget)
    form.setContentsMargins(6, 6, 6, 6)
    form.setVerticalSpacing(4)
    return form


class QtShareForm(QWidget):
    """Share: a dataset or model of the project, or a file, encrypted for a recipient's public key."""

    def __init__(self) -> None:
        super().__init__()
        form = _form(self)
        self.what_combo = _combo()
        self.what_combo.setToolTip("A dataset or a model of this project, or any file on disk")
        self.file_row = QtPathRow("the file to share", "Choose the file to share")
        self.recipient_combo = _combo()
        self.recipient_combo.setToolTip("Only the holder of this key's private half can open the shared file")
        self.out_row = QtPathRow("where to write the shared (encrypted) file", "Save the shared file as", save=True)
        self.share_button = QPushButton("Share…")
        form.addRow("What:", self.what_combo)
        form.addRow("File:", self.file_row)
        form.addRow("For:", self.recipient_combo)
        form.addRow("Save as:", self.out_row)
        form.addRow("", self.share_button)


class QtOpenForm(QWidget):
    """Open shared: a file shared with one of my keys, its passphrase, and where the plaintext goes."""

    def __init__(self) -> None:
        super().__init__()
        form = _form(self)
        self.file_row = QtPathRow("a file another site shared with you (.pwb)", "Open a shared file")
        self.key_combo = _combo()
        self.passphrase_edit = _password_edit()
        self.out_row = QtPathRow("where to write the opened file", "Save the opened file as", save=True)
        self.open_button = QPushButton("Open")
        form.addRow("Shared file:", self.file_row)
        form.addRow("My key:", self.key_combo)
        form.addRow("Passphrase:", self.passphrase_edit)
        form.addRow("Open into:", self.out_row)
        form.addRow("", self.open_button)

    def set_into_vault(self, into_vault: bool) -> None:
        """An encrypted, unlocked project keeps what is opened in its vault: no plaintext path to choose."""
        self.out_row.setEnabled(not into_vault)
        self.out_row.edit.setPlaceholderText(
            "the encrypted project (opened into its vault, never in clear on disk)"
            if into_vault
            else "where to write the opened file"
        )


class QtSignForm(QWidget):
    """Sign: a detached signature of a file (an export) with one of my keys, written as FILE.sig."""

    def __init__(self) -> None:
        super().__init__()
        form = _form(self)
        self.file_row = QtPathRow("the file to sign (an export, a report)", "Choose the file to sign")
        self.key_combo = _combo()
        self.passphrase_edit = _password_edit()
        self.sign_button = QPushButton("Sign")
        form.addRow("File:", self.file_row)
        form.addRow("My key:", self.key_combo)
        form.addRow("Passphrase:", self.passphrase_edit)
        form.addRow("", self.sign_button)


class QtVerifyForm(QWidget):
    """Verify: a file, its detached signature and the public key of who should have signed it."""

    def __init__(self) -> None:
        super().__init__()
        form = _form(self)
        self.file_row = QtPathRow("the file to check", "Choose the file to verify")
        self.sig_row = QtPathRow("its signature (default: FILE.sig)", "Choose the signature", file_filter="*.sig")
        self.key_combo = _combo()
        self.verify_button = QPushButton("Verify")
        form.addRow("File:", self.file_row)
        form.addRow("Signature:", self.sig_row)
        form.addRow("Signed by:", self.key_combo)
        form.addRow("", self.verify_button)
