"""The job panel: one row per job with a progress bar, an estimate and a Cancel button.

It reads :class:`~workbench.core.jobs.JobSnapshot` objects from the registry on a timer (10 times a second), so a
busy job cannot flood the GUI thread with repaints, whatever its progress rate.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.jobs import JobSnapshot, JobState
from workbench.ui.qt_jobs import BACKGROUND_KINDS, QtJobRunner

_STATE_TEXT = {
    JobState.PENDING: "waiting",
    JobState.RUNNING: "running",
    JobState.SUCCEEDED: "done",
    JobState.FAILED: "failed",
    JobState.CANCELLED: "cancelled",
}


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"about {max(1, round(seconds))} s left"
    return f"about {round(seconds / 60)} min left"


class QtJobRow(QFrame):
    def __init__(self, job_id: int, runner: QtJobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self._runner = runner
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        self.title = QLabel()
        self.title.setMinimumWidth(180)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.detail = QLabel()
        self.detail.setMinimumWidth(260)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._on_cancel)
        layout.addWidget(self.title)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.detail)
        layout.addWidget(self.cancel_button)

    def update_from(self, snap: JobSnapshot) -> None:
        self.title.setText(snap.title)
        progress = snap.progress
        frac = progress.fraction if progress is not None else None
        if snap.state.finished:
            self.bar.setRange(0, 1000)
            self.bar.setValue(1000 if snap.state is JobState.SUCCEEDED else self.bar.value())
            text = _STATE_TEXT[snap.state]
            if snap.error:
                text += ": " + snap.error
            self.detail.setText(text)
            self.detail.setToolTip(snap.error or "")
            self.cancel_button.setEnabled(False)
            return
        if frac is None:
            self.bar.setRange(0, 0)  # busy indicator
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(frac * 1000))
        parts = [progress.phase if progress else _STATE_TEXT[snap.state]]
        if frac is not None:
            parts.append(f"{frac * 100:.0f}%")
        eta = format_eta(snap.eta_seconds)
        if eta:
            parts.append(eta)
        self.detail.setText(" · ".join(parts))

    @Slot()
    def _on_cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")
        self._runner.cancel(self.job_id)


class QtJobPanel(QWidget):
    """Lists running jobs and the last few finished ones."""

    def __init__(self, runner: QtJobRunner, parent: QWidget | None = None, keep_finished: int = 5) -> None:
        super().__init__(parent)
        self._runner = runner
        self._keep_finished = keep_finished
        self._rows: dict[int, QtJobRow] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self._empty = QLabel("No jobs. Long work (loading, anonymizing, training) shows up here.")
        self._empty.setStyleSheet("color:#777; padding:6px;")
        outer.addWidget(self._empty)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        holder = QWidget()
        self._list = QVBoxLayout(holder)
        self._list.setContentsMargins(0, 0, 0, 0)
        self._list.addStretch(1)
        scroll.setWidget(holder)
        outer.addWidget(scroll, 1)
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def row(self, job_id: int) -> QtJobRow | None:
        return self._rows.get(job_id)

    @Slot()
    def refresh(self) -> None:
        snaps = self._runner.registry.snapshots()
        finished = [s for s in snaps if s.state.finished]
        keep = {s.job_id for s in snaps if not s.state.finished}
        keep |= {s.job_id for s in finished[-self._keep_finished :]}
        for snap in snaps:
            if snap.job_id not in keep:
                continue
            row = self._rows.get(snap.job_id)
            if row is None:
                row = QtJobRow(snap.job_id, self._runner)
                self._rows[snap.job_id] = row
                self._list.insertWidget(self._list.count() - 1, row)
            row.update_from(snap)
        for job_id in [j for j in self._rows if j not in keep]:
            self._rows.pop(job_id).deleteLater()
        self._empty.setVisible(not self._rows)


def describe_snapshot(snap: JobSnapshot) -> tuple[str, int | None]:
    """One line for the status bar (title, phase, percentage, estimate) and the progress in thousandths."""
    progress = snap.progress
    frac = progress.fraction if progress is not None else None
    if snap.state.finished:
        text = f"{snap.title}: {_STATE_TEXT[snap.state]}"
        return text, (1000 if snap.state is JobState.SUCCEEDED else None)
    parts = [snap.title, (progress.message or progress.phase) if progress else _STATE_TEXT[snap.state]]
    if frac is not None:
        parts.append(f"{frac * 100:.0f}%")
    eta = format_eta(snap.eta_seconds)
    if eta:
        parts.append(eta)
    return " · ".join(parts), (None if frac is None else int(frac * 1000))


class QtJobStatus(QWidget):
    """The status bar's view of the jobs: the latest running job's progress (always visible, even when the job
    panel is collapsed) and a button that shows or hides the panel."""

    sig_toggle_panel = Signal(bool)
    """The analyst asked to show (True) or hide (False) the job panel."""

    def __init__(self, runner: QtJobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setMaximumWidth(420)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedWidth(90)
        self.bar.setMaximumHeight(12)
        self.toggle = QToolButton()
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toggle.toggled.connect(self._on_toggled)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.toggle)
        self._last: JobSnapshot | None = None
        self._running = 0
        self._timer = QTimer(self)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    @Slot(bool)
    def _on_toggled(self, shown: bool) -> None:
        self._update_toggle_text()
        self.sig_toggle_panel.emit(shown)

    def set_panel_shown(self, shown: bool) -> None:
        """Follow the panel's visibility (without asking to change it)."""
        self.toggle.blockSignals(True)
        self.toggle.setChecked(shown)
        self.toggle.blockSignals(False)
        self._update_toggle_text()

    def _update_toggle_text(self) -> None:
        count = f" ({self._running})" if self._running else ""
        self.toggle.setText(("Hide jobs" if self.toggle.isChecked() else "Jobs") + count)

    @Slot()
    def refresh(self) -> None:
        """Show the newest running job that the analyst started (background previews only when nothing else runs);
        once all have ended, the last one's outcome."""
        snaps = self._runner.registry.snapshots()
        running = [s for s in snaps if not s.state.finished]
        foreground = [s for s in running if s.kind not in BACKGROUND_KINDS]
        snap = (foreground or running or [None])[-1]
        if snap is None and snaps:
            last = [s for s in snaps if s.kind not in BACKGROUND_KINDS] or snaps
            snap = last[-1]
        self._last = snap
        self._running = len(running)
        self._update_toggle_text()
        if snap is None:
            self.label.setText("")
            self.bar.hide()
            return
        text, value = describe_snapshot(snap)
        self.label.setText(text)
        self.label.setToolTip(snap.error or text)
        if snap.state.finished:
            self.bar.hide()
            return
        self.bar.show()
        if value is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(value)

    def text(self) -> str:
        return self.label.text()
