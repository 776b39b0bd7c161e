"""The Federation page (issue 15): the demonstration of federated DP training with secure aggregation on one desk.

The analyst chooses a dataset of the open project, how many sites and how to split it, the task and label, the
rounds, epsilon per site and whether SecAgg+ is on; Start runs
:func:`workbench.services.federation.federate_simulate_job` (the same use case as ``workbench federate simulate``)
as a job of the window's runner: the dataset is split into temporary site projects, a SuperLink and one SuperNode
per site run as processes on 127.0.0.1, and each round's snapshot (a
:class:`~workbench.services.federation.FederationRound`) arrives on the GUI thread through ``@Slot`` methods: the
plots, the round log and the progress bar follow it. Cancel tears every Flower process down (the job's token).
Errors are said on the page; the result card names each site's epsilon with its accountant and delta.

``install(window)`` adds the page (the window's optional pages call it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.ui.qt_federation_form import FederationRequest, QtFederationForm
from workbench.ui.qt_federation_remote import (
    HostRequest,
    HostTls,
    JoinRequest,
    QtHostForm,
    QtJoinForm,
    QtPlanDecision,
    host_job,
    host_result_text,
    join_job,
    join_result_text,
)
from workbench.ui.qt_federation_view import QtFederationPlots, QtFederationResult, QtRoundLog, round_line
from workbench.ui.qt_progress_row import progress_row, show_progress
from workbench.ui.qt_project_page import QtProjectPage

if TYPE_CHECKING:
    from workbench.core.federate.plan import FederationPlan
    from workbench.services.federation import FederationResult, FederationRound
    from workbench.services.federation_remote import PlanGate
    from workbench.services.session import ProjectSession
    from workbench.ui.qt_main_window import QtMainWindow

PAGE_NAME = "Federation"
MODES = (
    ("demo", "Demonstration on this machine"),
    ("host", "Host a federation"),
    ("join", "Join a federation"),
)
INTROS = {
    "demo": "This demonstration splits a dataset into sites, each a temporary project with its own privacy ledger, "
    "and runs the whole protocol as separate processes on this machine.",
    "host": "Host: this machine runs the SuperLink and the server; sites on other machines dial it with their own "
    "datasets. The chosen dataset's columns and label values are the plan every site is shown.",
    "join": "Join: this project's dataset trains at a host's federation. You see the host's plan before anything "
    "is trained; this project's ledger reserves and is charged the site's ε.",
}
FORM_WIDTH = 380


class QtFederationPage(QtProjectPage):
    """See the module docstring."""

    def __init__(self, window: QtMainWindow) -> None:
        super().__init__()
        self._window = window
        self._runner = window.runner
        self._job: int | None = None
        self._rounds = 0
        self._mode = "demo"
        self._gate: PlanGate | None = None
        self._max_epsilon: float | None = None
        self._site = ""
        self.result: FederationResult | None = None
        self.remote_result: Any = None
        self._build()
        self._runner.sig_job_progress.connect(self._on_job_progress)
        self._runner.sig_job_succeeded.connect(self._on_job_succeeded)
        self._runner.sig_job_failed.connect(self._on_job_failed)
        self._runner.sig_job_cancelled.connect(self._on_job_cancelled)
        window.vault_ctl.sig_state_changed.connect(self._on_vault_state)

    def _build(self) -> None:
        outer = QHBoxLayout(self)
        left = QVBoxLayout()
        self.mode_combo = QComboBox()
        for key, text in MODES:
            self.mode_combo.addItem(text, key)
        self.mode_combo.currentIndexChanged.connect(self._on_mode_changed)
        left.addWidget(self.mode_combo)
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        left.addWidget(self.intro)
        self.form = QtFederationForm()
        self.form.sig_dataset_changed.connect(self._on_dataset_changed)
        self.host_form = QtHostForm()
        self.host_form.sig_dataset_changed.connect(self._on_host_dataset_changed)
        self.join_form = QtJoinForm()
        self.forms = QStackedWidget()
        for form in (self.form, self.host_form, self.join_form):
            self.forms.addWidget(form)
        left.addWidget(self.forms)
        self.start_button = QPushButton("Start federation")
        self.start_button.clicked.connect(self.start)
        left.addWidget(self.start_button)
        left.addStretch(1)
        form_box = QWidget()
        form_box.setLayout(left)
        scroll = QScrollArea()  # the form scrolls on a short screen instead of squeezing the plots
        scroll.setWidget(form_box)
        scroll.setWidgetResizable(True)
        scroll.setFixedWidth(FORM_WIDTH)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer.addWidget(scroll)
        right = QVBoxLayout()
        self.progress_box, self.progress, self.cancel_button = progress_row(self._cancel)
        right.addWidget(self.progress_box)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        right.addWidget(self.message)
        self.plan_label = QLabel()
        self.plan_label.setWordWrap(True)
        self.plan_label.hide()
        right.addWidget(self.plan_label)
        self.decision = QtPlanDecision()
        self.decision.sig_answered.connect(self._on_plan_answered)
        right.addWidget(self.decision)
        self.tls_label = QLabel()
        self.tls_label.setWordWrap(True)
        self.tls_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tls_label.hide()
        right.addWidget(self.tls_label)
        self.plots = QtFederationPlots()
        right.addWidget(self.plots)
        right.addWidget(self.plots.legend)
        self.round_log = QtRoundLog()
        right.addWidget(self.round_log)
        self.result_card = QtFederationResult()
        right.addWidget(self.result_card)
        right.addStretch(1)
        outer.addLayout(right, 1)
        self._on_mode_changed(0)

    # --- state ----------------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._job is not None

    def refresh(self) -> None:
        """List the open project's datasets again (the one on the Data page chosen the first time)."""
        project = self._window.project
        records, current = self._datasets_and_choice(self.form.dataset_combo.currentData())
        from workbench.services.dataset_labels import dataset_labels

        labels = dataset_labels(records, project) if records else {}  # as the Data page lists them
        items = [(r.id, labels[r.id]) for r in records]
        self.form.set_datasets(items, current)
        self.host_form.set_datasets(items, self.host_form.dataset_combo.currentData() or current)
        self.join_form.set_datasets(items, self.join_form.dataset_combo.currentData() or current)
        if project is not None and not self.join_form.site_edit.text():
            self.join_form.site_edit.setText(project.folder.resolve().name)
        self.start_button.setEnabled(bool(records) and not self.busy)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if not self.busy:
            self.refresh()

    @Slot(str)
    def _on_vault_state(self, _state: str) -> None:
        if not self.busy:
            self.refresh()

    @Slot(int)
    def _on_mode_changed(self, index: int) -> None:
        self._mode = str(self.mode_combo.itemData(index))
        self.forms.setCurrentIndex(index)
        self.intro.setText(
            "Sites train one model together without their rows leaving them (Flower, SecAgg+, DP-SGD at each "
            f"site). {INTROS[self._mode]}"
        )
        self.start_button.setText("Join" if self._mode == "join" else "Start federation")

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        self.mode_combo.setCurrentIndex([key for key, _ in MODES].index(mode))

    @Slot(int)
    def _on_host_dataset_changed(self, dataset_id: int) -> None:
        self._fill_columns(self.host_form, dataset_id)

    @Slot(int)
    def _on_dataset_changed(self, dataset_id: int) -> None:
        self._fill_columns(self.form, dataset_id)

    def _fill_columns(self, form: QtFederationForm, dataset_id: int) -> None:
        project = self._window.project
        if project is None:
            return
        record = next((r for r in project.datasets() if r.id == dataset_id), None)
        if record is None:
            return
        labels = [name for name, role in record.roles.items() if role == "label"]
        texts = [name for name, role in record.roles.items() if role == "free_text"]
        form.set_columns(record.columns, labels[0] if labels else None, texts[0] if texts else None)

    # --- running --------------------------------------------------------------------------------------------

    @Slot()
    def start(self) -> int | None:
        """Check the form, then run the demonstration as a job of the window's runner (None when refused)."""
        if self.busy:
            return None
        forms: dict[str, Any] = {"demo": self.form, "host": self.host_form, "join": self.join_form}
        request = forms[self._mode].request()
        if isinstance(request, str):
            self.show_message("error", request)
            return None
        if self._window.vault_ctl.state == "locked":
            self.show_message("error", "The project is locked: unlock it first (the dataset is in its vault).")
            return None
        session = self._session()
        if session is None:
            return None
        self._reset_view(request)
        if isinstance(request, HostRequest):
            title, factory = f"Hosting a federation on port {request.port}", host_job(session, request)
            said = f"Starting the host on {request.bind}:{request.port} ({request.min_sites} sites to wait for)…"
        elif isinstance(request, JoinRequest):
            from workbench.services.federation_remote import PlanGate

            self._gate, self._max_epsilon, self._site = PlanGate(), request.max_epsilon, request.site_name
            title, factory = f"Joining {request.address}", join_job(session, request, self._gate)
            said = f"Connecting to {request.address}; waiting for the host's plan…"
        else:
            title, factory = f"Federation on {request.dataset_label}", _federation_job(session, request)
            said = f"Starting a federation of {request.sites} sites ({request.rounds} rounds)…"
        self._job = self._runner.submit(title, factory, kind="federation", interval=0)
        self.start_button.setEnabled(False)
        self.mode_combo.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress_box.show()
        self.show_message("info", said)
        return self._job

    def _reset_view(self, request: FederationRequest | HostRequest | JoinRequest) -> None:
        self._rounds = getattr(request, "rounds", 0)
        self.result = None
        self.remote_result = None
        self._gate = None
        self.result_card.hide()
        self.plan_label.hide()
        self.decision.hide()
        self.tls_label.hide()
        self.plots.clear()
        self.round_log.clear()

    def _finish(self, job_id: int) -> bool:
        if job_id != self._job:
            return False
        self._job = None
        self._gate = None
        self.progress_box.hide()
        self.decision.hide()
        self.mode_combo.setEnabled(True)
        self.start_button.setEnabled(self.form.dataset_combo.count() > 0)
        return True

    @Slot()
    def _cancel(self) -> None:
        if self._job is not None:
            self._runner.cancel(self._job)
            self.show_message("info", "Cancelling: stopping every Flower process…")

    @Slot(int, object)
    def _on_job_progress(self, job_id: int, progress: Progress) -> None:
        if job_id == self._job:
            self.show_snapshot(progress)

    def show_snapshot(self, progress: Progress) -> None:
        """One snapshot of the job: the bar always; a finished round (its payload) on the plots and in the log."""
        from workbench.core.federate.plan import FederationPlan
        from workbench.services.federation import FederationRound
        from workbench.services.federation_remote import SiteRound

        show_progress(self.progress, progress)
        payload = progress.payload
        if isinstance(payload, FederationRound):
            self.show_round(payload)
        elif isinstance(payload, SiteRound):
            self.show_site_round(payload)
        elif isinstance(payload, FederationPlan):
            self._rounds = payload.rounds
            self.show_plan(payload)
            if self._gate is not None and not self._gate.answered:
                self.decision.ask(payload, self._max_epsilon)
                self.show_message("warning", "The host's plan arrived: read it, then accept or refuse it.")
        elif isinstance(payload, HostTls):
            self.show_tls(payload)
        elif progress.phase == "waiting" and self._mode == "host":
            self.show_message("info", f"{progress.message[:1].upper()}{progress.message[1:]}.")

    def show_tls(self, tls: HostTls) -> None:
        from html import escape

        self.tls_label.setText(
            f"<b>Give the sites this CA file</b> over a channel you trust: {escape(str(tls.ca))}<br>"
            f"SHA-256 fingerprint (read it out to compare): {escape(tls.fingerprint)}"
        )
        self.tls_label.show()

    def show_site_round(self, rnd: Any) -> None:
        """A joining site's round: its own validation figures and its ε so far, drawn as one site's round."""
        from workbench.services.federation import FederationRound

        as_round = FederationRound(rnd.round, rnd.val_loss, rnd.val_accuracy, 1, 0.0, ((self._site, rnd.epsilon),), 1)
        self.plots.add_round(as_round)
        acc = "n/a" if rnd.val_accuracy is None else f"{rnd.val_accuracy:.3f}"
        eps = "" if rnd.epsilon is None else f", ε spent {rnd.epsilon:.3g}"
        self.round_log.appendPlainText(f"Round {rnd.round}/{self._rounds}: this site's accuracy {acc}{eps}")
        self.show_message("info", f"Round {rnd.round} of {self._rounds} finished; the federation goes on…")

    @Slot(bool)
    def _on_plan_answered(self, accepted: bool) -> None:
        if self._gate is None or not self._gate.answer(accepted):
            return
        self.decision.hide()
        if accepted:
            self.show_message("info", "Plan accepted: reserving this site's ε and training with the host…")
        else:
            self.show_message("info", "Plan refused: leaving the federation…")

    def show_plan(self, plan: FederationPlan) -> None:
        """The plan every site is told before it trains, and the accountant and delta of the ε plot."""
        from html import escape

        self.plan_label.setText(f"<b>What the host will learn.</b> {escape(plan.describe())}")
        self.plan_label.show()
        self.plots.set_privacy(plan.accountant if plan.private else None, plan.delta if plan.private else None)

    def show_round(self, rnd: FederationRound) -> None:
        self.plots.add_round(rnd)
        self.round_log.appendPlainText(round_line(rnd, self._rounds))
        if rnd.dropped:
            self.show_message("warning", f"Round {rnd.round}: {', '.join(rnd.dropped)} dropped out; the round went on.")
        elif self.message.property("level") != "warning":
            self.show_message("info", f"Round {rnd.round} of {self._rounds} finished; the federation goes on…")

    @Slot(int, object)
    def _on_job_succeeded(self, job_id: int, result: Any) -> None:
        if not self._finish(job_id):
            return
        from workbench.services.federation_remote import HostResult, JoinResult

        if isinstance(result, HostResult | JoinResult):
            self.show_remote_result(result)
        else:
            self.show_result(result)

    def show_remote_result(self, result: Any) -> None:
        from workbench.services.federation_remote import HostResult

        self.remote_result = result
        for rnd in result.history:
            if isinstance(result, HostResult):
                if all(r.round != rnd.round for r in self.plots.rounds):
                    self.show_round(rnd)
            elif all(r.round != rnd.round for r in self.plots.rounds):
                self.show_site_round(rnd)
        text = host_result_text(result) if isinstance(result, HostResult) else join_result_text(result)
        self.show_message("info", text)

    def show_result(self, result: FederationResult) -> None:
        self.result = result
        if result.plan is not None:
            self.show_plan(result.plan)
        for rnd in result.history:  # a round whose snapshot was not drawn yet is drawn now
            if all(r.round != rnd.round for r in self.plots.rounds):
                self.show_round(rnd)
        self.result_card.show_result(result)
        acc = "n/a" if result.val_accuracy is None else f"{result.val_accuracy:.3f}"
        self.show_message("info", f"Federation finished: {result.rounds} rounds, validation accuracy {acc}.")

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        if self._finish(job_id):
            self.show_message("error", f"The federation did not complete. {message}")

    @Slot(int)
    def _on_job_cancelled(self, job_id: int) -> None:
        if self._finish(job_id):
            self.show_message(
                "info", "Cancelled: every Flower process was stopped; unspent reservations were released."
            )


def _federation_job(session: ProjectSession, request: FederationRequest) -> Any:
    """The job factory: load the dataset, then the use case (every Flower process is torn down however it ends)."""

    def job(token: CancelToken) -> JobGenerator[FederationResult]:
        from workbench.services.federation import federate_simulate_job

        # the session is the window's open project: the page never closes it
        record = session.resolve_dataset(request.dataset_id)
        dataset = yield from session.load_dataset_job(record, token)
        return (
            yield from federate_simulate_job(
                dataset,
                request.sites,
                request.task,
                request.label,
                rounds=request.rounds,
                epsilon=request.epsilon,
                secagg=request.secure_aggregation,
                token=token,
                by=request.by,
                seed=request.seed,
                text=request.text,
            )
        )

    return job


def install(window: QtMainWindow) -> QtFederationPage:
    """Create the page and add it to the window's navigation as "Federation"."""
    page = QtFederationPage(window)
    window.add_page(PAGE_NAME, page)
    return page
