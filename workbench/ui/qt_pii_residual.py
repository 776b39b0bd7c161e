"""What the Anonymize page says about what an anonymization left in the data: replaced and kept counts, and
(issue 13) the residual check of the preview and of Apply.

Only counts and masked examples are shown; examples appear on hover and are never logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QLabel

from workbench.core.jobs import CancelToken, JobGenerator
from workbench.ui.qt_jobs import QtJobRunner
from workbench.ui.qt_latest_job import QtLatestJob

if TYPE_CHECKING:
    from workbench.core.pii.policy import Policy
    from workbench.core.pii.preview import PreviewResult
    from workbench.core.pii.residual import ResidualReport


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "nothing"


def apply_summary(result: Mapping[str, Any]) -> str:
    """The sentence shown after Apply: where the copy went, what was replaced, what was kept."""
    text = (
        f"Anonymized copy written to {result['location']} and registered in the project (dataset "
        f"{result['dataset_id']}, derived from {result['parent_id']}). Replaced: {_counts(result['entity_counts'])}."
    )
    kept = result.get("kept_counts") or {}
    if kept:
        text += f" Kept as they were (the policy keeps them; they are in the copy): {_counts(kept)}."
    residual = result.get("residual")
    if residual:
        remained = residual.get("residue_counts") or {}
        text += f" Remaining after anonymization: {_counts(remained) if remained else 'none found'} ("
        text += f"{residual['statement']})."
    return text


def residual_tooltip(examples: Sequence[tuple[str, Sequence[str]]]) -> str:
    """Masked examples per entity type, for the hover text (never logged)."""
    return "\n".join(f"{k}: {', '.join(v)}" for k, v in examples) or "Nothing remained."


class QtResidualPanel(QObject):
    """The residual check of the preview: the note beside the slider (what the policy lets through, from the
    preview's own detections) and a line under the preview (the rescan of the anonymized rows, a second job that
    follows each preview so the preview itself is not slowed down; masked examples on hover)."""

    def __init__(self, runner: QtJobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.slider_note = QLabel()
        self.slider_note.setWordWrap(True)
        self.slider_note.setStyleSheet("color:#8a1c00; font-size:small;")
        self.slider_note.hide()
        self.label = QLabel("Residual check: no preview yet.")
        self.label.setWordWrap(True)
        self.last_report: ResidualReport | None = None
        self._job = QtLatestJob(runner, "Residual check of the preview", debounce_ms=0, parent=self)
        self._job.sig_result.connect(self._on_result)
        self._job.sig_failed.connect(self._on_failed)

    @property
    def requests(self) -> QtLatestJob:
        return self._job

    def clear(self) -> None:
        self._job.cancel()
        self.last_report = None
        self.slider_note.hide()
        self.label.setText("Residual check: no preview yet.")
        self.label.setToolTip("")

    def preview_shown(self, result: PreviewResult, policy: Policy) -> None:
        """Say what the policy lets through beside the slider, and rescan the preview's anonymized rows."""
        sentence = result.let_through_sentence()
        self.slider_note.setText(sentence)
        self.slider_note.setToolTip(sentence)
        self.slider_note.setVisible(bool(result.let_through or result.kept))

        def job(token: CancelToken) -> JobGenerator[ResidualReport]:
            from workbench.core.pii.residual import preview_residual_job

            report = yield from preview_residual_job(result, policy, token=token)
            return report

        self.label.setText("Residual check: scanning the anonymized rows…")
        self._job.request(job, immediate=True)

    @Slot(int, object)
    def _on_result(self, _number: int, report: ResidualReport) -> None:
        self.last_report = report
        style = "color:#8a1c00;" if report.total else "color:#1b5e20;"
        self.label.setStyleSheet(style)
        self.label.setText(f"Preview {report.statement()}." + (" Hover for masked examples." if report.total else ""))
        self.label.setToolTip(residual_tooltip(report.examples))

    @Slot(int, str)
    def _on_failed(self, _number: int, message: str) -> None:
        self.label.setText(f"Residual check failed: {message}")
