"""The Federation page's forms for a federation across machines (issue 15): host one, or join one as a site.

Host (:class:`QtHostForm`): the open project's dataset gives the plan's schema (its label's classes and feature
columns, as ``workbench federate host --dataset``); port, bind address, task, label, text, rounds, the sites to wait
for, epsilon per site, SecAgg+ and TLS (certificates in the project's ``federation-tls`` folder, made there when
missing; the CA file and its SHA-256 fingerprint are shown to hand to the sites). Join (:class:`QtJoinForm`): the
host's ``HOST:PORT``, the project's dataset to train on, the host's CA file (optional) and the site's own epsilon cap.

Both run the use cases of ``workbench federate host`` / ``join``
(:func:`~workbench.services.federation_remote.federate_host_job`, :func:`~.federate_join_job`) as jobs of the
window's runner (:func:`host_job`, :func:`join_job`). The join job's ``accept`` is a
:class:`~workbench.services.federation_remote.PlanGate`: the worker waits on it while :class:`QtPlanDecision` shows
the host's plan; Accept or Refuse answers it from the GUI thread (Cancel ends the wait through the job's token).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.ui.qt_federation_form import MIN_SECAGG_SITES, QtFederationForm

if TYPE_CHECKING:
    from workbench.core.federate.plan import FederationPlan
    from workbench.services.federation_remote import HostResult, JoinResult, PlanGate
    from workbench.services.session import ProjectSession

TLS_FOLDER = "federation-tls"
"""The host's certificates, in the project folder (``ca.pem`` goes to the sites; ``server.key`` never leaves)."""
DEFAULT_PORT = 9092
HOST_DELTA = 1e-5  # as `workbench federate host`: each site checks it against its own size
HOST_MAX_ROWS = 100_000.0  # SecAgg+ max_weight, as the CLI's --max-rows default


@dataclass(frozen=True, slots=True)
class HostRequest:
    dataset_id: int
    dataset_label: str
    task: str
    label: str
    text: str | None
    rounds: int
    epsilon: float | None
    secure_aggregation: bool
    bind: str
    port: int
    min_sites: int
    tls: bool


@dataclass(frozen=True, slots=True)
class JoinRequest:
    dataset_id: int
    dataset_label: str
    address: str
    site_name: str
    ca: Path | None
    max_epsilon: float | None


@dataclass(frozen=True, slots=True)
class HostTls:
    """The CA file to hand to the sites and its fingerprint (read out over a channel the analyst trusts)."""

    ca: Path
    fingerprint: str


class QtHostForm(QtFederationForm):
    """The demonstration's dataset, task, label, text, rounds, DP and SecAgg+ rows, without the split into sites,
    plus where to listen, how many sites to wait for and TLS."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Host a federation")
        for row in (self.sites_spin, self.split_combo, self.seed_spin):
            self._form.setRowVisible(row, False)
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1024, 65535)
        self.port_spin.setValue(DEFAULT_PORT)
        self.port_spin.setToolTip("The port the sites dial (Flower also takes run submission on it: firewall it).")
        self._form.insertRow(1, "Port", self.port_spin)
        self.bind_edit = QLineEdit("127.0.0.1")
        self.bind_edit.setToolTip("Address to listen on (0.0.0.0: every interface).")
        self._form.insertRow(2, "Listen on", self.bind_edit)
        self.min_sites_spin = QSpinBox()
        self.min_sites_spin.setRange(2, 50)
        self.min_sites_spin.setValue(3)
        self.min_sites_spin.setToolTip("The run starts when this many sites have joined.")
        self._form.insertRow(3, "Sites to wait for", self.min_sites_spin)
        self.tls_check = QCheckBox("TLS (certificates in the project folder)")
        self.tls_check.setChecked(True)
        self.tls_check.setToolTip(f"Made in the project's {TLS_FOLDER} folder when missing; give the sites ca.pem.")
        self._form.addRow(self.tls_check)

    def request(self) -> HostRequest | str:  # type: ignore[override]
        dataset_id = self.dataset_combo.currentData()
        if dataset_id is None:
            return "Add a dataset on the Data page first: its columns and label values define the plan."
        label = self.label_combo.currentText()
        if not label:
            return "Choose the label column (what the sites' model predicts)."
        bind = self.bind_edit.text().strip()
        if not bind or any(c.isspace() or c in "/," for c in bind):
            return f"{bind!r} is not an address to listen on: give an IP address such as 0.0.0.0 or 127.0.0.1."
        secagg = self.secagg_check.isChecked()
        sites = self.min_sites_spin.value()
        if secagg and sites < MIN_SECAGG_SITES:
            return f"SecAgg+ needs at least {MIN_SECAGG_SITES} sites: wait for more sites or turn it off."
        task = str(self.task_combo.currentData())
        text = self.text_combo.currentText() if task == "text" else None
        if task == "text" and (not text or text == label):
            return "Choose the text column (not the label): each site embeds it with the frozen encoder."
        return HostRequest(
            dataset_id=int(dataset_id),
            dataset_label=self.dataset_combo.currentText(),
            task=task,
            label=label,
            text=text,
            rounds=self.rounds_spin.value(),
            epsilon=self.epsilon_spin.value() if self.dp_check.isChecked() else None,
            secure_aggregation=secagg,
            bind=bind,
            port=self.port_spin.value(),
            min_sites=sites,
            tls=self.tls_check.isChecked(),
        )


class QtJoinForm(QGroupBox):
    """The host's address, this project's dataset, the host's CA file and this site's own epsilon cap."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Join a federation", parent)
        form = QFormLayout(self)
        self.address_edit = QLineEdit()
        self.address_edit.setPlaceholderText("HOST:PORT, e.g. 192.168.1.20:9092")
        form.addRow("Host", self.address_edit)
        self.dataset_combo = QComboBox()
        self.dataset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.dataset_combo.setMinimumContentsLength(12)
        form.addRow("Dataset", self.dataset_combo)
        self.site_edit = QLineEdit()
        self.site_edit.setToolTip("The name the host sees (default: the project folder's name).")
        form.addRow("Site name", self.site_edit)
        ca_row = QHBoxLayout()
        self.ca_edit = QLineEdit()
        self.ca_edit.setPlaceholderText("the host's ca.pem (empty: plain connection)")
        ca_row.addWidget(self.ca_edit, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_ca)
        ca_row.addWidget(browse)
        form.addRow("CA file", ca_row)
        self.cap_check = QCheckBox("Cap this site's ε")
        self.cap_check.toggled.connect(self._on_cap_toggled)
        form.addRow(self.cap_check)
        self.max_epsilon_spin = QDoubleSpinBox()
        self.max_epsilon_spin.setRange(0.1, 50.0)
        self.max_epsilon_spin.setSingleStep(0.5)
        self.max_epsilon_spin.setValue(3.0)
        self.max_epsilon_spin.setEnabled(False)
        self.max_epsilon_spin.setToolTip("Lower than the plan's ε: this site adds more noise and spends less.")
        form.addRow("Max ε", self.max_epsilon_spin)

    @Slot(bool)
    def _on_cap_toggled(self, on: bool) -> None:
        self.max_epsilon_spin.setEnabled(on)

    @Slot()
    def _browse_ca(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "The host's CA file", "", "PEM (*.pem);;All files (*)")
        if path:
            self.ca_edit.setText(path)

    def set_datasets(self, items: list[tuple[int, str]], current: int | None) -> None:
        self.dataset_combo.clear()
        for dataset_id, text in items:
            self.dataset_combo.addItem(text, dataset_id)
        self.dataset_combo.setCurrentIndex(max(self.dataset_combo.findData(current), 0))

    def request(self) -> JoinRequest | str:
        from workbench.core.federate.plan import FederationError
        from workbench.core.federate.remote_daemons import split_address

        address = self.address_edit.text().strip()
        try:
            split_address(address)
        except FederationError:
            return f"{address!r} is not the host's address: give HOST:PORT, e.g. 192.168.1.20:9092."
        dataset_id = self.dataset_combo.currentData()
        if dataset_id is None:
            return "Add a dataset on the Data page first: the site trains on one of the project's datasets."
        site = self.site_edit.text().strip()
        if not site:
            return "Give this site a name (the host sees it)."
        ca_text = self.ca_edit.text().strip()
        ca = Path(ca_text).expanduser() if ca_text else None
        if ca is not None and not ca.is_file():
            return f"The CA file {ca_text} does not exist: choose the host's ca.pem, or leave it empty."
        return JoinRequest(
            dataset_id=int(dataset_id),
            dataset_label=self.dataset_combo.currentText(),
            address=address,
            site_name=site,
            ca=ca,
            max_epsilon=self.max_epsilon_spin.value() if self.cap_check.isChecked() else None,
        )


class QtPlanDecision(QGroupBox):
    """The host's plan as it arrived, with Accept and Refuse (each answers the join job's gate once)."""

    sig_answered = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("The host's plan", parent)
        layout = QVBoxLayout(self)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.text)
        buttons = QHBoxLayout()
        self.accept_button = QPushButton("Accept and train")
        self.accept_button.clicked.connect(self._accept)
        self.refuse_button = QPushButton("Refuse")
        self.refuse_button.clicked.connect(self._refuse)
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.refuse_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.hide()

    def ask(self, plan: FederationPlan, max_epsilon: float | None) -> None:
        cap = "" if max_epsilon is None else f" This site caps its ε at {max_epsilon:g} (more noise, less spent)."
        spend = f"ε {plan.epsilon:g} (δ {plan.delta:g})" if plan.private else "no ε (the plan has no DP)"
        self.text.setText(
            f"{plan.rounds} rounds on the label {plan.label!r}, reserving {spend} in this project's ledger.{cap} "
            "Accept to train (only masked updates and validation figures leave this site); Refuse to leave."
        )
        self.accept_button.setEnabled(True)
        self.refuse_button.setEnabled(True)
        self.show()

    @Slot()
    def _accept(self) -> None:
        self._answer(True)

    @Slot()
    def _refuse(self) -> None:
        self._answer(False)

    def _answer(self, accepted: bool) -> None:
        self.accept_button.setEnabled(False)
        self.refuse_button.setEnabled(False)
        self.sig_answered.emit(accepted)


# ---- the jobs ---------------------------------------------------------------------------------------------------


def host_job(session: ProjectSession, request: HostRequest) -> Any:
    """The job factory: the plan from the dataset's schema, TLS files, then the host use case."""

    def job(token: CancelToken) -> JobGenerator[HostResult]:
        from workbench.services.federation import make_plan
        from workbench.services.federation_remote import federate_host_job
        from workbench.services.training import excluded_columns

        record = session.resolve_dataset(request.dataset_id)
        dataset = yield from session.load_dataset_job(record, token)
        plan = make_plan(
            dataset.table,
            task=request.task,
            label=request.label,
            rounds=request.rounds,
            epsilon=request.epsilon,
            secure_aggregation=request.secure_aggregation,
            excluded=excluded_columns(dataset.suggested_roles(), label=request.label),
            text=request.text,
            delta=HOST_DELTA,
            max_weight=HOST_MAX_ROWS,
        )
        yield Progress("plan", 0, plan.rounds, "rounds", f"plan: {plan.describe()}", payload=plan)
        tls = None
        if request.tls:
            tls, shown = _host_tls(session.project.folder / TLS_FOLDER, request.bind)
            yield Progress("tls", 0, plan.rounds, "rounds", f"TLS: give the sites {shown.ca}", payload=shown)
        return (
            yield from federate_host_job(
                plan,
                min_sites=request.min_sites,
                bind=request.bind,
                port=request.port,
                session=session,
                tls=tls,
                token=token,
            )
        )

    return job


def _host_tls(folder: Path, bind: str) -> tuple[Any, HostTls]:
    """The folder's certificates (made for ``bind``, 127.0.0.1 and localhost when missing), as the CLI's --tls-dir."""
    from workbench.services.federation_remote import host_certificates

    files, fingerprint = host_certificates(folder, bind)
    return files, HostTls(files.ca, fingerprint)


def join_job(session: ProjectSession, request: JoinRequest, gate: PlanGate) -> Any:
    """The job factory: the dataset, then the join use case with ``gate`` deciding on the host's plan."""

    def job(token: CancelToken) -> JobGenerator[JoinResult]:
        from workbench.services.federation_remote import federate_join_job

        gate.token = token  # a cancel ends the wait for the analyst's answer
        record = session.resolve_dataset(request.dataset_id)
        dataset = yield from session.load_dataset_job(record, token)
        return (
            yield from federate_join_job(
                session,
                dataset,
                request.address,
                site_name=request.site_name,
                max_epsilon=request.max_epsilon,
                accept=gate.decide,
                ca=request.ca,
                token=token,
            )
        )

    return job


def host_result_text(result: HostResult) -> str:
    acc = "n/a" if result.val_accuracy is None else f"{result.val_accuracy:.3f}"
    secagg = "SecAgg+" if result.secure_aggregation else "no secure aggregation"
    return (
        f"Hosted federation finished on {result.address}: {result.rounds} rounds, {secagg}, "
        f"validation accuracy {acc}, {result.seconds:.0f} s."
    )


def join_result_text(result: JoinResult) -> str:
    acc = "n/a" if result.val_accuracy is None else f"{result.val_accuracy:.3f}"
    if result.epsilon is None:
        privacy = "trained without differential privacy (no guarantee)"
    else:
        privacy = (
            f"this project's ledger was charged ε {result.epsilon:.3g} "
            f"(δ {result.delta:g}, {str(result.accountant).upper()} accountant)"
        )
    return f"Joined the federation: {result.rounds} rounds, this site's validation accuracy {acc}; {privacy}."
