"""The job panel: one row per job with a progress bar, an estimate and a Cancel button.

It reads :class:`~workbench.core.jobs.JobSnapshot` objects from the registry on a timer (10 times a second), so a
busy job cannot flood the GUI thread with repaints, whatever its progress rate.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from workbench.core.jobs import JobSnapshot, JobState
from workbench.ui.qt_jobs import QtJobRunner

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
