"""The main window: page navigation, the job panel, notifications, the status bar, drag and drop."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QUrl, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from workbench import __version__
from workbench.core.data.cache import DatasetCache
from workbench.core.errors import WorkbenchError
from workbench.core.jobs import JobRegistry
from workbench.core.settings import SettingsStore, resolve
from workbench.ui.qt_data_page import QtDataPage
from workbench.ui.qt_empty_state import QtEmptyState, QtPageFrame, QtWelcomePage
from workbench.ui.qt_job_panel import QtJobPanel, QtJobStatus
from workbench.ui.qt_jobs import QtJobRunner
from workbench.ui.qt_lock_banner import QtLockBanner, QtLockStatus
from workbench.ui.qt_message import page_message_shows
from workbench.ui.qt_notifications import QtNotificationArea
from workbench.ui.qt_pii_page import QtPiiPage
from workbench.ui.qt_project_flows import QtProjectFlows
from workbench.ui.qt_train_page import QtTrainPage
from workbench.ui.qt_vault import QtPassphraseDialog, QtVaultController
from workbench.ui.qt_workflow_nav import QtWorkflowNav

if TYPE_CHECKING:
    from workbench.core.crypto.vault import ProjectVault
    from workbench.core.project.store import Project

log = logging.getLogger("workbench.ui")

CLOSE_WAIT_SECONDS = 15.0
NO_DATASET_TEXT = "Load a dataset on the Data page first: this page works on the dataset shown there."
LOCKED_EMPTY_TEXT = "This project is locked. Unlock it to work on its data."
REFRESH_WORKFLOW_KINDS = frozenset({"load", "anonymize", "risk", "train"})
"""Job kinds whose end can change a workflow step's state."""


def _window_settings() -> QSettings:
    """Window geometry only (QSettings' one job here), kept in the workbench's own data folder."""
    from workbench.core.paths import user_data_dir

    return QSettings(str(user_data_dir() / "window.ini"), QSettings.Format.IniFormat)


class QtMainWindow(QMainWindow):
    def __init__(self, project: Project | None = None, registry: JobRegistry | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Privacy Workbench")
        self.setAcceptDrops(True)
        self.resize(1280, 820)
        self.project: Project | None = None
        self.cache = DatasetCache()
        self.runner = QtJobRunner(registry, self)
        self._failures_shown_elsewhere: set[int] = set()
        self.settings_store = SettingsStore()
        self.settings = self.settings_store.load()
        self.vault_ctl = QtVaultController(self.runner, self)
        self.flows = QtProjectFlows(self)
        self.vault_ctl.sig_message.connect(self.notify)
        self.vault_ctl.sig_state_changed.connect(self._on_vault_state)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self.vault_ctl)
        self.lock_label = QtLockStatus()
        self.lock_banner = QtLockBanner()
        self.lock_banner.sig_unlock_requested.connect(self.unlock_dialog)

        self.nav = QtWorkflowNav()
        self.nav.currentRowChanged.connect(self._on_nav_changed)
        self.pages = QStackedWidget()
        self._frames: list[QtPageFrame] = []
        self.welcome_page = QtWelcomePage(self)
        self.data_page = QtDataPage(self.runner, self.cache, None)
        self.data_page.sig_status.connect(self._on_status)
        self.pii_page = QtPiiPage(self.runner)
        self.train_page = QtTrainPage(self.runner)
        self.train_page.device = str(resolve("device", store=self.settings_store).value)
        self.data_page.sig_dataset_shown.connect(self._on_dataset_shown)
        self.data_page.summary_model.sig_roles_changed.connect(self._on_roles_changed)
        self._page_names: list[str] = []
        self.pages.addWidget(self.welcome_page)
        self.add_page("Data", self.data_page, step="data")
        self.add_page("Anonymize", self.pii_page, step="anonymize", needs_dataset=True)
        self._install_pages("qt_risk_page")  # the step between Anonymize and Train
        self.add_page("Train", self.train_page, step="train", needs_dataset=True)
        self._install_pages("qt_federation_page", "qt_keys_page", "qt_report_page", "qt_audit_page")
        # After the pages: a page shows a failed job's message first, so the window can leave out a duplicate.
        self.runner.sig_job_failed.connect(self._on_job_failed)
        self.runner.sig_job_ended.connect(self._on_job_ended)

        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(self.lock_banner)
        layout = QHBoxLayout()
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.nav)
        layout.addWidget(self.pages, 1)
        outer.addLayout(layout, 1)
        self.setCentralWidget(central)

        self.notifications = QtNotificationArea(central)
        central.installEventFilter(self)

        self._build_job_panel()
        self._build_menus()
        self.statusBar().addPermanentWidget(self.job_status)  # (permanent: a passing status message never hides it)
        self.statusBar().addPermanentWidget(self.lock_label)
        self.statusBar().showMessage("Ready", 3000)
        self.set_project(project)
        if self.settings_store.problem:
            self.notify("warning", self.settings_store.problem)
        geometry = _window_settings().value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

    def _build_job_panel(self) -> None:
        """The job panel in a dock, collapsed by default (a 1366x768 screen has no room for it); the status bar
        always shows the latest job's progress and a button that opens the panel."""
        self.job_panel = QtJobPanel(self.runner)
        dock = QDockWidget("Jobs", self)
        dock.setObjectName("jobs_dock")
        dock.setWidget(self.job_panel)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        self.job_dock = dock
        self.job_status = QtJobStatus(self.runner)
        self.job_status.sig_toggle_panel.connect(self.show_job_panel)
        dock.visibilityChanged.connect(self._on_job_panel_visibility)
        dock.hide()

    # --- pages ----------------------------------------------------------------------------------------------

    def _install_pages(self, *modules: str) -> None:
        """Pages that add themselves with ``install(window)`` (modules of ``workbench.ui``), in the order given."""
        import importlib

        _ = [importlib.import_module(f"workbench.ui.{name}").install(self) for name in modules]

    def add_page(self, name: str, widget: QWidget, *, step: str | None = None, needs_dataset: bool = False) -> None:
        """Add a page to the navigation, in a scroll area (every page fits a small screen). ``step``: the workflow
        step whose state the navigation shows beside it; ``needs_dataset``: without a dataset shown on the Data page
        the page is replaced by an empty state that says so and goes there. A page of the same name is replaced
        (and deleted)."""
        if name in self._page_names:
            frame = self._frames[self._page_names.index(name)]
            frame.page.deleteLater()
            frame.set_page(widget)
            return
        empty = None
        if needs_dataset:
            empty = QtEmptyState(NO_DATASET_TEXT, "Go to the Data page")
            empty.sig_action.connect(self._on_empty_state_action)
        frame = QtPageFrame(widget, empty)
        self._frames.append(frame)
        self._page_names.append(name)
        self.nav.add_step(name, step)
        self.pages.insertWidget(len(self._page_names) - 1, frame)
        self._refresh_empty_states()

    def page_frame(self, name: str) -> QtPageFrame:
        return self._frames[self._page_names.index(name)]

    def page(self, name: str) -> QWidget:
        """The page called ``name`` in the navigation."""
        return self.page_frame(name).page

    def show_page(self, name: str) -> None:
        self.nav.setCurrentRow(self._page_names.index(name))

    def current_page(self) -> QWidget:
        """The page shown (not its frame), or the welcome page."""
        frame = self.pages.currentWidget()
        return frame.page if isinstance(frame, QtPageFrame) else frame

    @Slot(int)
    def _on_nav_changed(self, row: int) -> None:
        if row >= 0 and self.project is not None:
            self.pages.setCurrentWidget(self._frames[row])

    @Slot()
    def _on_empty_state_action(self) -> None:
        if self.vault_ctl.state == "locked":
            self.unlock_dialog()
        else:
            self.show_page("Data")

    def _refresh_empty_states(self) -> None:
        locked = self.vault_ctl.state == "locked"
        no_dataset = self.data_page.dataset is None
        for frame in self._frames:
            if frame.empty is not None:
                frame.empty.label.setText(LOCKED_EMPTY_TEXT if locked else NO_DATASET_TEXT)
                frame.empty.button.setText("Unlock…" if locked else "Go to the Data page")
            frame.set_empty(no_dataset)

    def refresh_workflow(self) -> None:
        """Show each workflow step's state for the dataset on the Data page in the navigation."""
        from workbench.services.workflow import workflow_state

        dataset = self.data_page.dataset
        readable = self.project is not None and self.vault_ctl.state != "locked"
        try:
            states = workflow_state(self.project if readable else None, dataset.fingerprint if dataset else None)
        except (WorkbenchError, OSError) as exc:  # a closed or damaged store: the navigation just shows no state
            log.warning("workflow state unavailable: %s", type(exc).__name__)
            return
        self.nav.set_states(states)

    @Slot(int)
    def _on_job_ended(self, job_id: int) -> None:
        snap = self.runner.registry.snapshot(job_id)
        if snap is not None and snap.kind in REFRESH_WORKFLOW_KINDS and self.project is not None:
            self.refresh_workflow()

    @Slot(bool)
    def show_job_panel(self, shown: bool = True) -> None:
        self.job_dock.setVisible(shown)

    @Slot(bool)
    def _on_job_panel_visibility(self, shown: bool) -> None:
        self.job_status.set_panel_shown(shown)

    # --- project --------------------------------------------------------------------------------------------

    def set_project(self, project: Project | None, vault: ProjectVault | None = None) -> None:
        """Show ``project`` (with its unlocked vault when it is encrypted), or the welcome page for ``None``."""
        if project is not None and not self.flows.check_opened(project, vault):  # refused: said, welcome page
            project = vault = None
        self.project = project
        self.data_page.set_project(project)
        self.pii_page.set_project(project)
        self.train_page.set_project(project)
        self.vault_ctl.set_session(project, vault)  # after the pages: the vault state reaches them with the project
        if project is None:
            self.setWindowTitle("Privacy Workbench")
            self.pages.setCurrentWidget(self.welcome_page)
            self.nav.setEnabled(False)
        else:
            self.setWindowTitle(f"{project.name} — Privacy Workbench")
            self.nav.setEnabled(True)
            self.nav.setCurrentRow(0)
            self.pages.setCurrentWidget(self._frames[0])
            self._remember_recent(project.folder)
            self._open_first_dataset()
        self._refresh_empty_states()
        self.refresh_workflow()
        self._rebuild_recent_menu()

    def _open_first_dataset(self) -> None:
        if self.project is None or self.data_page.dataset is not None or self.data_page.loading:
            return  # (loading: the vault state and the project both ask for it when an encrypted project opens)
        if self.vault_ctl.state == "locked":
            return
        records = self.project.datasets()
        if records:
            self.data_page.open_record(records[0])

    def open_project(self, folder: str | Path, create: bool = False, passphrase: str | None = None) -> bool:
        """Open (or create) a project. An encrypted one is unlocked first: with ``passphrase``, or by asking for
        it (again after a wrong one) and unlocking in a job; the project appears when the job is done."""
        from workbench.core.crypto.vault import ProjectVault
        from workbench.core.project.store import Project

        if not create and ProjectVault.exists(folder):
            return self.flows.open_encrypted(Path(folder).resolve(), passphrase)
        try:
            project = Project.create(folder) if create else Project.open(folder)
        except WorkbenchError as exc:
            self.notify("error", str(exc))
            return False
        self.replace_project(project, None)
        return True

    def replace_project(self, project: Project, vault: ProjectVault | None) -> None:
        """Show ``project`` instead of the open one (which is closed)."""
        if self.project is not None and self.project is not project:
            self.project.close()
        self.set_project(project, vault)
        self.statusBar().showMessage(f"Opened project {project.name}", 4000)

    @Slot()
    def new_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose an empty folder for the new project")
        if folder:
            self.open_project(folder, create=True)

    @Slot()
    def open_project_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a project folder")
        if folder:
            self.open_project(folder)

    def _remember_recent(self, folder: Path) -> None:
        from workbench.core.project.recent import RecentProjects

        try:
            RecentProjects().add(folder)
        except OSError as exc:  # a read-only home must not stop the work
            log.warning("could not update the recent projects list: %s", type(exc).__name__)

    def _rebuild_recent_menu(self) -> None:
        from workbench.core.project.recent import RecentProjects

        self.recent_menu.clear()
        folders = RecentProjects().list()
        for folder in folders:
            action = self.recent_menu.addAction(str(folder))
            action.setData(str(folder))
            action.triggered.connect(self._on_recent_triggered)
        self.recent_menu.setEnabled(bool(folders))

    @Slot()
    def _on_recent_triggered(self) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            self.open_project(action.data())

    # --- menus ----------------------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        new_action = file_menu.addAction("&New project…")
        new_action.triggered.connect(self.new_project)
        open_action = file_menu.addAction("&Open project…")
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self.open_project_dialog)
        self.recent_menu = QMenu("Recent projects", self)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        load_action = file_menu.addAction("&Load dataset…")
        load_action.setShortcut(QKeySequence("Ctrl+L"))
        load_action.triggered.connect(self._on_load_dataset)
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit")
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        project_menu = self.menuBar().addMenu("&Project")
        self.encrypt_action = project_menu.addAction("Encrypt this project…")
        self.encrypt_action.triggered.connect(self.flows.encrypt_project_dialog)
        self.unlock_action = project_menu.addAction("&Unlock…")
        self.unlock_action.setShortcut(QKeySequence("Ctrl+U"))
        self.unlock_action.triggered.connect(self.unlock_dialog)
        self.lock_action = project_menu.addAction("&Lock")
        self.lock_action.setShortcut(QKeySequence("Ctrl+Shift+L"))
        self.lock_action.triggered.connect(self.vault_ctl.lock)
        project_menu.addSeparator()
        self.export_dataset_action = project_menu.addAction("Export the dataset shown…")
        self.export_dataset_action.triggered.connect(self.flows.export_dataset_dialog)
        self.export_model_action = project_menu.addAction("Export a trained model…")
        self.export_model_action.triggered.connect(self.flows.export_model_dialog)
        project_menu.addSeparator()
        self.passphrase_action = project_menu.addAction("Change passphrase…")
        self.passphrase_action.triggered.connect(self.change_passphrase_dialog)
        self.auto_lock_menu = project_menu.addMenu("Auto-lock when idle")
        for minutes in (5, 15, 30, 60, 0):
            action = self.auto_lock_menu.addAction("Never" if minutes == 0 else f"After {minutes} minutes")
            action.setCheckable(True)
            action.setData(minutes)
            action.triggered.connect(self._on_auto_lock_chosen)
        self._apply_auto_lock(int(resolve("auto_lock_minutes", store=self.settings_store).value))
        help_menu = self.menuBar().addMenu("&Help")
        logs_action = help_menu.addAction("Open the log folder")
        logs_action.triggered.connect(self._open_log_folder)
        about_action = help_menu.addAction("About")
        about_action.triggered.connect(self._about)

    @Slot()
    def _on_load_dataset(self) -> None:
        if self.project is None:
            self.notify("warning", "Open or create a project first: datasets and their roles are kept in it.")
            return
        self.nav.setCurrentRow(0)
        self.data_page.load_button.click()

    @Slot()
    def _open_log_folder(self) -> None:
        from workbench.core.paths import user_log_dir

        QDesktopServices.openUrl(QUrl.fromLocalFile(str(user_log_dir())))

    @Slot()
    def _about(self) -> None:
        QMessageBox.about(self, "Privacy Workbench", f"Privacy Workbench {__version__}")

    # --- encryption ---------------------------------------------------------------------------------------

    @Slot()
    def unlock_dialog(self) -> bool:
        """Ask for the passphrase and unlock; the dialog stays open after a wrong one (its error shown in it) until
        the vault opens or the analyst cancels. True when it was unlocked."""
        if self.vault_ctl.state != "locked":
            return False
        dialog = QtPassphraseDialog(self, "Unlock project", "This project is encrypted. Enter its passphrase.")
        dialog.check_with(self.runner, self._attempt_unlock)
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        dialog.deleteLater()
        return accepted

    def _attempt_unlock(self, passphrase: str) -> int | None:
        job = self.vault_ctl.unlock(passphrase)
        if job is not None:
            self.failure_shown_elsewhere(job)
        return job

    def failure_shown_elsewhere(self, job_id: int) -> None:
        """``job_id``'s failure is shown where the analyst looks (a dialog): no notification for it."""
        self._failures_shown_elsewhere.add(job_id)

    @Slot()
    def change_passphrase_dialog(self) -> None:
        if self.vault_ctl.state == "none":
            return
        dialog = QtPassphraseDialog(
            self,
            "Change passphrase",
            "The data is not re-encrypted: only the project key is wrapped again under the new passphrase.",
            new=True,
            old=True,
        )
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.vault_ctl.change_passphrase(dialog.old_passphrase(), dialog.passphrase())

    @Slot()
    def _on_auto_lock_chosen(self) -> None:
        action = self.sender()
        if not isinstance(action, QAction):
            return
        minutes = int(action.data())
        try:
            self.settings = self.settings_store.update(auto_lock_minutes=minutes)
        except (OSError, WorkbenchError) as exc:
            self.notify("error", f"The setting could not be saved: {exc}")
        self._apply_auto_lock(minutes)

    def _apply_auto_lock(self, minutes: int) -> None:
        self.vault_ctl.auto_lock_seconds = minutes * 60.0
        for action in self.auto_lock_menu.actions():
            action.setChecked(action.data() == minutes)

    @Slot(str)
    def _on_vault_state(self, state: str) -> None:
        self.data_page.set_vault(self.vault_ctl.vault)
        self.train_page.set_vault(self.vault_ctl.vault)
        self.pii_page.set_vault(self.vault_ctl.vault)
        if state == "locked" and self.data_page.dataset is None:
            self.train_page.set_dataset(None)
            self.pii_page.set_dataset(None, {})
        has_project = self.project is not None
        self.encrypt_action.setEnabled(has_project and state == "none")
        self.export_dataset_action.setEnabled(has_project and state != "locked")
        self.export_model_action.setEnabled(has_project and state != "locked")
        self.unlock_action.setEnabled(state == "locked")
        self.lock_action.setEnabled(state == "unlocked")
        self.passphrase_action.setEnabled(state != "none")
        self.lock_label.set_state(state)
        self.lock_banner.setVisible(state == "locked")
        self._place_notifications()
        if state == "unlocked":
            self._open_first_dataset()
        self._refresh_empty_states()
        self.refresh_workflow()

    # --- notifications and status ---------------------------------------------------------------------------

    @Slot(str, str)
    def notify(self, level: str, text: str) -> None:
        """A notification, unless the page shown already says the same (the page is where the analyst looks)."""
        if page_message_shows(self.current_page(), text):
            return
        self.notifications.notify(level, text)
        self._place_notifications()

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        if job_id in self._failures_shown_elsewhere:
            self._failures_shown_elsewhere.discard(job_id)
            return
        if page_message_shows(self.current_page(), message):
            return
        snap = self.runner.registry.snapshot(job_id)
        title = snap.title if snap else "A job"
        self.notify("error", f"{title} failed: {message}")

    @Slot(object)
    def _on_dataset_shown(self, ds: object) -> None:
        roles = self.data_page.summary_model.roles()
        self.train_page.set_dataset(ds, roles)  # type: ignore[arg-type]
        self.pii_page.set_dataset(ds, roles)  # type: ignore[arg-type]
        self._refresh_empty_states()
        self.refresh_workflow()

    @Slot(object)
    def _on_roles_changed(self, roles: object) -> None:
        if self.data_page.dataset is not None:
            self.train_page.set_dataset(self.data_page.dataset, roles)  # type: ignore[arg-type]
            self.pii_page.set_dataset(self.data_page.dataset, roles)  # type: ignore[arg-type]
            self.refresh_workflow()

    @Slot(str)
    def _on_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 5000)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Resize:
            self._place_notifications()
        return super().eventFilter(watched, event)

    def _place_notifications(self) -> None:
        area, parent, banner = self.notifications, self.centralWidget(), self.lock_banner
        parent.layout().activate()  # (the banner may have just appeared: its place is known once laid out)
        width = min(440, max(260, parent.width() // 3))
        area.setFixedWidth(width)
        area.adjustSize()
        area.move(parent.width() - width - 12, banner.geometry().bottom() + 8 if banner.isVisible() else 12)
        area.raise_()

    # --- drag and drop --------------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        self.load_dropped(paths)

    def load_dropped(self, paths: list[str]) -> None:
        if self.project is None:
            self.notify("warning", "Open or create a project first, then drop the file again.")
            return
        if len(paths) > 1:
            self.notify("info", f"{len(paths)} files dropped: loading the first one.")
        self.nav.setCurrentRow(0)
        self.data_page.load_file(paths[0])

    # --- closing --------------------------------------------------------------------------------------------

    def confirm_close_with_jobs(self, count: int) -> bool:
        """Ask whether to cancel running jobs and quit (a decision, so a modal question)."""
        answer = QMessageBox.question(
            self,
            "Jobs are running",
            f"{count} job{'s are' if count != 1 else ' is'} still running. Cancel and quit?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        running = self.runner.running_count(include_background=False)
        if running and not self.confirm_close_with_jobs(running):
            event.ignore()
            return
        if self.runner.running_count():
            self.runner.begin_shutdown()
            self.runner.cancel_all()
            self.statusBar().showMessage("Cancelling running jobs…")
            if not self.runner.wait_all(CLOSE_WAIT_SECONDS):
                # Never destroy a running QThread: stay open and say why.
                self.notify(
                    "error",
                    "Some jobs did not stop in time; the window stays open until they do. "
                    "Try closing again in a moment.",
                )
                self.runner.resume_accepting()
                event.ignore()
                return
        self.runner.begin_shutdown()
        _window_settings().setValue("window/geometry", self.saveGeometry())
        self.vault_ctl.lock()
        if self.project is not None:
            self.project.close()
        log.info("main window closed")
        event.accept()
