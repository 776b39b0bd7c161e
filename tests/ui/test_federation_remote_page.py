"""The Federation page across machines (issue 15): the mode choice shows its form; bad input is refused on the page
before any job; a real join job through the page shows the host's plan and waits for Accept/Refuse (here the host's
offer is written where the ClientApp's plan gate writes it, a second or two per test); a real host job shows its CA
file and fingerprint; Cancel of either leaves no Flower process; and one whole federation on 127.0.0.1 (a page
hosting, a second window's page joining and accepting, a `workbench federate join --accept` process; ~40 s here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.qt import wait_for_job
from tests.ui.test_federation_page import _csv, _flower_processes_under
from workbench.core.jobs import drive
from workbench.services.datasets import add_dataset_job
from workbench.services.session import ProjectSession
from workbench.ui.qt_federation_page import PAGE_NAME, QtFederationPage, install


def _page(window, tmp_path: Path) -> QtFederationPage:  # noqa: ANN001
    session = ProjectSession(window.project)
    drive(add_dataset_job(session, _csv(tmp_path / "sites.csv")))
    page = install(window)
    window.show_page(PAGE_NAME)
    return page


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch) -> Path:  # noqa: ANN001
    import tempfile

    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))  # the jobs' temporary folders (and FLWR_HOME) land here
    return folder


def test_the_mode_choice_shows_its_form(window, tmp_path: Path) -> None:  # noqa: ANN001
    page = _page(window, tmp_path)
    assert page.mode == "demo" and page.form.isVisibleTo(page)
    assert not page.host_form.isVisibleTo(page) and not page.join_form.isVisibleTo(page)
    page.set_mode("host")
    assert page.host_form.isVisibleTo(page) and not page.form.isVisibleTo(page)
    assert page.host_form.port_spin.isVisibleTo(page) and not page.host_form.sites_spin.isVisibleTo(page)
    assert page.host_form.dataset_combo.count() == 1 and page.host_form.label_combo.count() == 5
    assert "Host:" in page.intro.text() and page.start_button.text() == "Start federation"
    page.set_mode("join")
    assert page.join_form.isVisibleTo(page) and not page.host_form.isVisibleTo(page)
    assert page.start_button.text() == "Join" and "Join:" in page.intro.text()
    assert page.join_form.site_edit.text() == window.project.folder.resolve().name
    assert page.join_form.dataset_combo.count() == 1
    window.resize(1366, 768)
    for mode in ("host", "join", "demo"):  # every form fits the smallest supported screen (the form scrolls)
        page.set_mode(mode)
        assert page.minimumSizeHint().height() <= page.height() and page.minimumSizeHint().width() <= page.width()


def test_bad_input_is_refused_on_the_page_before_any_job(window, tmp_path: Path) -> None:  # noqa: ANN001
    page = _page(window, tmp_path)
    page.set_mode("join")
    join = page.join_form
    for address in ("", "hostonly", "10.0.0.1:http", "10.0.0.1:70000"):
        join.address_edit.setText(address)
        assert page.start() is None and not page.busy
        assert page.message.property("level") == "error" and "is not the host's address" in page.message_text()
    join.address_edit.setText("127.0.0.1:9092")
    join.ca_edit.setText(str(tmp_path / "missing-ca.pem"))
    assert page.start() is None and "missing-ca.pem does not exist" in page.message_text()
    join.ca_edit.setText("")
    join.site_edit.setText(" ")
    assert page.start() is None and "Give this site a name" in page.message_text()
    page.set_mode("host")
    host = page.host_form
    host.label_combo.setCurrentText("outcome")
    host.min_sites_spin.setValue(2)
    assert page.start() is None and "SecAgg+ needs at least 3 sites" in page.message_text()
    host.min_sites_spin.setValue(3)
    host.bind_edit.setText("10.0.0.1/24")
    assert page.start() is None and "is not an address to listen on" in page.message_text()
    assert window.runner.registry.snapshots() == []  # no job was ever started
    assert not page.busy and page.mode_combo.isEnabled()


def _offer(scratch: Path, plan, run_id: int = 11) -> Path:  # noqa: ANN001
    """Write the host's plan where the site's ClientApp writes it when the run's first message arrives."""
    sites = list(scratch.glob("workbench-federation-site-*/site"))
    assert len(sites) == 1
    (sites[0] / "plan-offered.json").write_text(json.dumps({"run_id": run_id, "plan": plan.to_json()}))
    return sites[0]


def _host_plan():
    """The plan exactly as the host use case makes it from the same schema (the page's host job's make_plan call)."""
    from tests.federate.conftest import tiny_table
    from workbench.services.federation import make_plan

    return make_plan(tiny_table(), task="tabular", label="outcome", rounds=2, epsilon=2.0, delta=1e-3)


def _join(page: QtFederationPage, window, qtbot):  # noqa: ANN001
    from workbench.core.federate.daemons import free_port

    page.set_mode("join")
    page.join_form.address_edit.setText(f"127.0.0.1:{free_port()}")  # nobody answers: the SuperNode keeps dialling
    page.join_form.cap_check.setChecked(True)
    page.join_form.max_epsilon_spin.setValue(1.5)
    job = page.start()
    assert job is not None and page.busy and not page.mode_combo.isEnabled()
    return job


@pytest.mark.slow
def test_a_real_join_job_shows_the_plan_and_goes_on_only_when_accepted(qtbot, window, tmp_path, scratch) -> None:  # noqa: ANN001
    from workbench.core.dp.ledger import PrivacyLedger

    page = _page(window, tmp_path)
    fingerprint = window.project.datasets()[0].fingerprint
    PrivacyLedger(window.project).set_total(fingerprint, 5.0)  # the site's budget: the plan's ε must fit in it
    job = _join(page, window, qtbot)
    qtbot.waitUntil(lambda: len(list(scratch.glob("workbench-federation-site-*/site"))) == 1, timeout=30_000)
    qtbot.waitUntil(lambda: len(_flower_processes_under(scratch)) >= 1, timeout=30_000)
    assert not page.decision.isVisible()
    site_dir = _offer(scratch, _host_plan())
    qtbot.waitUntil(page.decision.isVisible, timeout=15_000)
    assert "outcome" in page.decision.text.text() and "caps its ε at 1.5" in page.decision.text.text()
    assert "reserving ε 2 (δ 0.001)" in page.decision.text.text()
    assert "columns x1, x2, colour" in page.plan_label.text() and page.plan_label.isVisible()  # the whole plan
    assert page.message.property("level") == "warning" and "plan arrived" in page.message_text()
    assert not (site_dir / "decision.json").exists()  # the job waits for the analyst
    assert PrivacyLedger(window.project).summary(fingerprint, with_rdp=False).reserved_epsilon == 0.0
    page.decision.accept_button.click()
    qtbot.waitUntil(lambda: (site_dir / "decision.json").exists(), timeout=15_000)
    decision = json.loads((site_dir / "decision.json").read_text())
    assert decision["accepted"] is True, (decision, page.message_text())
    assert not page.decision.isVisible() and "Plan accepted" in page.message_text()
    assert PrivacyLedger(window.project).summary(fingerprint, with_rdp=False).reserved_epsilon == 1.5
    page.cancel_button.click()
    wait_for_job(qtbot, window.runner, job, timeout=60_000)
    assert not page.busy and "Cancelled" in page.message_text() and page.mode_combo.isEnabled()
    assert _flower_processes_under(scratch) == [] and list(scratch.iterdir()) == []
    assert PrivacyLedger(window.project).summary(fingerprint, with_rdp=False).reserved_epsilon == 0.0


@pytest.mark.slow
def test_refusing_the_plan_ends_the_join_with_the_reason_on_the_page(qtbot, window, tmp_path, scratch) -> None:  # noqa: ANN001
    page = _page(window, tmp_path)
    job = _join(page, window, qtbot)
    qtbot.waitUntil(lambda: len(list(scratch.glob("workbench-federation-site-*/site"))) == 1, timeout=30_000)
    site_dir = _offer(scratch, _host_plan())
    qtbot.waitUntil(page.decision.isVisible, timeout=15_000)
    page.decision.refuse_button.click()
    wait_for_job(qtbot, window.runner, job, timeout=60_000)
    assert page.message.property("level") == "error" and "did not accept the host's plan" in page.message_text()
    assert not site_dir.exists() and _flower_processes_under(scratch) == []


@pytest.mark.slow
def test_cancel_while_the_plan_is_shown_ends_the_wait(qtbot, window, tmp_path, scratch) -> None:  # noqa: ANN001
    page = _page(window, tmp_path)
    job = _join(page, window, qtbot)
    qtbot.waitUntil(lambda: len(list(scratch.glob("workbench-federation-site-*/site"))) == 1, timeout=30_000)
    _offer(scratch, _host_plan())
    qtbot.waitUntil(page.decision.isVisible, timeout=15_000)
    page.cancel_button.click()
    wait_for_job(qtbot, window.runner, job, timeout=60_000)
    assert "Cancelled" in page.message_text() and not page.decision.isVisible()
    assert _flower_processes_under(scratch) == []


@pytest.mark.slow
def test_a_real_host_job_shows_its_ca_and_cancel_stops_the_superlink(qtbot, window, tmp_path, scratch) -> None:  # noqa: ANN001
    from workbench.core.federate.daemons import free_port
    from workbench.core.federate.tls import ca_fingerprint

    page = _page(window, tmp_path)
    page.set_mode("host")
    page.host_form.label_combo.setCurrentText("outcome")
    page.host_form.port_spin.setValue(free_port())
    job = page.start()
    assert job is not None
    qtbot.waitUntil(lambda: "waiting for 3 sites" in page.message_text(), timeout=60_000)
    ca = window.project.folder / "federation-tls" / "ca.pem"
    assert page.tls_label.isVisible() and str(ca) in page.tls_label.text()
    assert ca_fingerprint(ca) in page.tls_label.text()
    assert "outcome" in page.plan_label.text()  # the plan every site will be shown
    assert len(_flower_processes_under(scratch)) >= 1
    page.cancel_button.click()
    wait_for_job(qtbot, window.runner, job, timeout=60_000)
    assert "Cancelled" in page.message_text() and not page.busy
    assert _flower_processes_under(scratch) == []


@pytest.mark.slow
def test_a_real_federation_hosted_and_joined_through_the_page(qtbot, window, tmp_path, scratch) -> None:  # noqa: ANN001
    """The whole thing on 127.0.0.1: one page hosts (TLS, 1 round, 2 sites, no SecAgg+), a second window's page joins
    with its CA file and accepts the plan on the page, and `workbench federate join --accept` is the other site."""
    import os

    from tests.federate.conftest import tiny_dataset, tiny_table
    from tests.federate.test_federation_remote import _workbench
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.federate.daemons import free_port
    from workbench.core.project.store import Project
    from workbench.ui.qt_main_window import QtMainWindow

    tiny_dataset(tmp_path / "schema")
    drive(add_dataset_job(ProjectSession(window.project), tmp_path / "schema" / "tiny.csv"))
    host_page = install(window)
    window.show_page(PAGE_NAME)
    host_page.set_mode("host")
    form = host_page.host_form
    form.label_combo.setCurrentText("outcome")
    port = free_port()
    form.port_spin.setValue(port)
    form.min_sites_spin.setValue(2)
    form.secagg_check.setChecked(False)
    form.rounds_spin.setValue(1)
    form.epsilon_spin.setValue(2.0)
    host = host_page.start()
    assert host is not None
    qtbot.waitUntil(lambda: "waiting for 2 sites" in host_page.message_text(), timeout=60_000)
    ca = window.project.folder / "federation-tls" / "ca.pem"

    sites = []
    for i in range(2):
        with ProjectSession(Project.create(tmp_path / f"hospital-{i + 1}")) as session:
            tiny_dataset(tmp_path / f"data-{i}", tiny_table(160, seed=20 + i))
            added = drive(add_dataset_job(session, tmp_path / f"data-{i}" / "tiny.csv"))
            PrivacyLedger(session.project).set_total(added.dataset.fingerprint, 5.0)
        sites.append(tmp_path / f"hospital-{i + 1}")
    env = dict(os.environ, TMPDIR=str(scratch))
    join = ["federate", "join", f"127.0.0.1:{port}", "--dataset", "tiny.csv", "--accept", "--ca", str(ca), "--json"]
    cli = _workbench([*join, "--project", str(sites[1])], env, tmp_path / "cli-site.json")
    site_window = QtMainWindow(Project.open(sites[0]))
    qtbot.addWidget(site_window)
    try:
        site_window.show()
        site_page = install(site_window)
        site_window.show_page(PAGE_NAME)
        site_page.set_mode("join")
        site_page.join_form.address_edit.setText(f"127.0.0.1:{port}")
        site_page.join_form.ca_edit.setText(str(ca))
        joined = site_page.start()
        assert joined is not None
        qtbot.waitUntil(site_page.decision.isVisible, timeout=90_000)
        assert "outcome" in site_page.decision.text.text()
        site_page.decision.accept_button.click()
        wait_for_job(qtbot, site_window.runner, joined, timeout=180_000)
        wait_for_job(qtbot, window.runner, host, timeout=60_000)
        assert cli.wait(timeout=60) == 0, (tmp_path / "cli-site.err").read_text()[-2000:]
    finally:
        site_window.runner.begin_shutdown()
        site_window.runner.cancel_all()
        site_window.runner.wait_all(30)
        if cli.poll() is None:
            os.killpg(cli.pid, 9)
    assert "Joined the federation: 1 rounds" in site_page.message_text(), site_page.message_text()
    assert "ledger was charged ε" in site_page.message_text()
    assert "Hosted federation finished" in host_page.message_text(), host_page.message_text()
    assert len(host_page.plots.rounds) == 1 and len(site_page.plots.rounds) == 1
    ledger = PrivacyLedger(site_window.project)
    summary = ledger.summary(site_window.project.datasets()[0].fingerprint, with_rdp=False)
    assert summary.reserved_epsilon == 0.0 and 0.0 < summary.committed_epsilon <= 2.0 + 1e-9
    assert _flower_processes_under(scratch) == []
