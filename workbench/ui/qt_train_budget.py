"""The Train page's privacy budget box: where the dataset's budget stands (total, committed, reserved by running
jobs, remaining), live while jobs run.

The figures come from one SQLite read (``summary(with_rdp=False)``, about a millisecond), cheap enough for the page
to call :meth:`QtBudgetBox.refresh` whenever a run reserves or ends and every second while runs are going. The
tighter RDP composition of the committed runs needs Opacus's accountants (seconds to import the first time): it is
computed in a job only when the committed spend changed, and kept for the following refreshes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget

from workbench.core.dp.accountant import format_delta
from workbench.core.errors import WorkbenchError
from workbench.core.jobs import CancelToken, JobGenerator
from workbench.ui.qt_jobs import QtJobRunner
from workbench.ui.qt_latest_job import QtLatestJob


class QtBudgetBox(QGroupBox):
    """The budget of the dataset the page trains on; ``set_budget_button`` is wired by the page (a dialog)."""

    def __init__(self, runner: QtJobRunner, parent: QWidget | None = None) -> None:
        super().__init__("Privacy budget of this dataset", parent)
        layout = QVBoxLayout(self)
        self.budget_label = QLabel("—")
        self.budget_label.setWordWrap(True)
        self.budget_label.setTextFormat(Qt.TextFormat.RichText)
        self.set_budget_button = QPushButton("Set total budget…")
        layout.addWidget(self.budget_label)
        layout.addWidget(self.set_budget_button)
        self._ledger: Any = None
        self._fingerprint: str | None = None
        self._rdp: tuple[str, float, float | None] | None = None  # (fingerprint, committed ε, its RDP composition)
        self._composing: tuple[str, float] | None = None  # what the composition job in flight is for
        self._budget_job = QtLatestJob(runner, "Compose the privacy spend", debounce_ms=0, parent=self)
        self._budget_job.sig_result.connect(self._on_budget)
        self.refresh_count = 0

    def set_context(self, ledger: Any, fingerprint: str | None) -> None:
        if ledger is not self._ledger:  # another project: its compositions are not these
            self._rdp = self._composing = None
        self._ledger, self._fingerprint = ledger, fingerprint
        self.refresh()

    def set_total(self, epsilon: float) -> None:
        """Set the dataset's total ε; raises :class:`WorkbenchError` when the ledger refuses."""
        assert self._ledger is not None and self._fingerprint is not None
        try:
            self._ledger.set_total(self._fingerprint, epsilon)
        finally:
            self.refresh()

    def refresh(self) -> None:
        """Show the budget at once (one SQLite read); compose the committed runs with RDP in a job when that spend
        changed since the last composition."""
        self.refresh_count += 1
        if self._ledger is None or self._fingerprint is None:
            self.budget_label.setText("—")
            self.set_budget_button.setEnabled(False)
            return
        self.set_budget_button.setEnabled(True)
        fingerprint = self._fingerprint
        try:
            s = self._ledger.summary(fingerprint, with_rdp=False)
        except WorkbenchError as exc:
            self.budget_label.setText(str(exc))
            return
        cached = self._rdp
        if cached is not None and cached[:2] == (fingerprint, s.committed_epsilon):
            self._show(replace(s, rdp_epsilon=cached[2]))
            return
        self._show(s)
        if s.committed_epsilon > 0 and self._composing != (fingerprint, s.committed_epsilon):
            # Once per committed spend: a refresh every second must not restart a composition still running.
            self._composing = (fingerprint, s.committed_epsilon)
            ledger = self._ledger

            def job(token: CancelToken) -> JobGenerator[Any]:
                return fingerprint, ledger.summary(fingerprint)
                yield  # a job that reports no progress

            self._budget_job.request(job, immediate=True)

    @Slot(int, object)
    def _on_budget(self, _number: int, result: Any) -> None:
        fingerprint, summary = result
        if fingerprint == self._fingerprint:
            self._rdp = (fingerprint, summary.committed_epsilon, summary.rdp_epsilon)
            self.refresh()  # the reservations may have moved while it composed: read them again

    def _show(self, s: Any) -> None:
        total = "not set (no job may start until it is)" if s.total_epsilon is None else f"{s.total_epsilon:g}"
        remaining = "—" if s.remaining_epsilon is None else f"{s.remaining_epsilon:.3g}"
        rdp = f"; tighter RDP composition of the committed runs: ε ≈ {s.rdp_epsilon:.3g}" if s.rdp_epsilon else ""
        running = f" by {s.active} running job(s)" if s.active else ""
        self.budget_label.setText(
            f"Total ε {total} · committed {s.committed_epsilon:.3g} (δ {format_delta(s.committed_delta)}) · "
            f"reserved {s.reserved_epsilon:.3g}{running} · <b>remaining {remaining}</b> · {s.runs} run(s){rdp}. "
            "Composition shown is the basic sum of epsilons and deltas." + shared_budget_note(s)
        )


def shared_budget_note(s: Any) -> str:
    """Where the budget shown is shared (issue 12): the original of a derived dataset, other projects."""
    note = ""
    if s.charged_to:
        note += (
            "<br>This dataset was derived from another (an anonymized copy, for example): its runs charge the "
            "budget of the original, shown here."
        )
    if s.elsewhere_epsilon > 0:
        note += (
            f"<br>Of the budget, ε {s.elsewhere_epsilon:.3g} is committed or reserved on the same data in "
            f"{s.elsewhere_projects} other project(s) of this computer."
        )
    return note
