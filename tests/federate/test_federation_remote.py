"""A federation across "machines": `workbench federate host` and three `workbench federate join` as separate
processes on 127.0.0.1, each site with its own project, over TLS with certificates made here (slow, ~1 minute);
and the FAB guard that keeps a site to the workbench's own ClientApp, the certificates and the site's checks of a
plan (fast). The remote run uses two sites without SecAgg+ to stay cheap: SecAgg+ itself is the shared run's
subject (test_federation_run.py); host and join go through the same ServerApp and ClientApp."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.federate.conftest import tiny_dataset, tiny_table


def _workbench_fab(tmp_path: Path) -> bytes:
    from flwr.cli.build import build_fab_from_disk

    from workbench.core.federate.daemons import write_app
    from workbench.services.federation import make_plan

    plan = make_plan(tiny_table(), task="tabular", label="outcome", rounds=1, epsilon=1.0)
    app = write_app(tmp_path / "app", plan, sites=3, events=tmp_path / "e.jsonl", record_updates=False)
    return build_fab_from_disk(app)


def _rezip(content: bytes, change: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if name not in change:
                dst.writestr(name, src.read(name))
        for name, data in change.items():
            dst.writestr(name, data)
    return out.getvalue()


def test_the_guard_takes_the_workbench_app_and_refuses_any_other_code(tmp_path):
    from workbench.core.federate.fab_guard import check_fab
    from workbench.core.federate.plan import FederationError

    fab = _workbench_fab(tmp_path)
    check_fab(fab)  # the workbench's own app, whatever its plan
    evil = b"import os\nos.system('echo owned')\n"
    with pytest.raises(FederationError, match="changed wb_client_app.py"):
        check_fab(_rezip(fab, {"wb_client_app.py": evil}))
    with pytest.raises(FederationError, match="carries files the workbench's app has not: helper.py"):
        check_fab(_rezip(fab, {"helper.py": evil}))
    with zipfile.ZipFile(io.BytesIO(fab)) as z:
        project = z.read("pyproject.toml").decode()
    other = project.replace("wb_client_app:app", "wb_server_app:app")
    with pytest.raises(FederationError, match="names another ClientApp"):
        check_fab(_rezip(fab, {"pyproject.toml": other.encode()}))
    deps = project.replace("dependencies = []", 'dependencies = ["requests"]')
    with pytest.raises(FederationError, match="dependencies to install"):
        check_fab(_rezip(fab, {"pyproject.toml": deps.encode()}))
    with pytest.raises(FederationError, match="not a Flower app archive"):
        check_fab(b"not a zip")


def test_certificates_are_made_offline_for_the_addresses_the_sites_dial(tmp_path):
    from cryptography import x509

    from workbench.core.federate.tls import ca_fingerprint, make_certificates

    files = make_certificates(tmp_path / "tls", ["127.0.0.1", "host.example"])
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["host.example"]
    assert oct(files.key.stat().st_mode & 0o777) == "0o600"
    assert len(ca_fingerprint(files.ca).split(":")) == 32


def _workbench(args: list[str], env: dict[str, str], out: Path) -> subprocess.Popen[bytes]:
    """The command as its own process (its own session: a "machine"); stdout (the JSON) and stderr to files."""
    with out.open("wb") as stdout, out.with_suffix(".err").open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-c", "import sys; from workbench.cli import main; sys.exit(main(sys.argv[1:]))", *args],
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )


def _site_projects(tmp_path: Path) -> list[Path]:
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.jobs import drive
    from workbench.core.project.store import Project
    from workbench.services.datasets import add_dataset_job
    from workbench.services.session import ProjectSession

    folders = []
    for i in range(2):
        folder = tmp_path / f"hospital-{i + 1}"
        with ProjectSession(Project.create(folder)) as session:
            tiny_dataset(tmp_path / f"data-{i}", tiny_table(160, seed=20 + i))
            added = drive(add_dataset_job(session, tmp_path / f"data-{i}" / "tiny.csv"))
            PrivacyLedger(session.project).set_total(added.dataset.fingerprint, 5.0)
        folders.append(folder)
    return folders


@pytest.mark.slow
def test_host_and_two_sites_as_separate_processes_over_tls(tmp_path):
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.federate.daemons import free_port
    from workbench.core.project.store import Project

    env = dict(os.environ, WORKBENCH_HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    sites = _site_projects(tmp_path)
    tiny_dataset(tmp_path / "schema")
    port = free_port()
    host_args = ["federate", "host", str(tmp_path / "schema" / "tiny.csv"), "--project", str(tmp_path / "host")]
    host_args += ["--port", str(port), "--task", "tabular", "--label", "outcome", "--rounds", "1", "--min-sites", "2"]
    host_args += ["--epsilon", "2", "--delta", "1e-3", "--no-secagg", "--hidden", "8", "--batch-size", "32"]
    host_args += ["--tls-dir", str(tmp_path / "tls"), "--json"]
    procs = [_workbench(host_args, env, tmp_path / "host.json")]
    ca = tmp_path / "tls" / "ca.pem"
    join = ["federate", "join", f"127.0.0.1:{port}", "--dataset", "tiny.csv", "--accept", "--ca", str(ca), "--json"]
    caps = [None, 1.0]  # hospital-2 caps its own epsilon below the plan's
    for folder, cap in zip(sites, caps, strict=True):
        extra = ["--max-epsilon", str(cap)] if cap is not None else []
        procs.append(_workbench([*join, "--project", str(folder), *extra], env, tmp_path / f"{folder.name}.json"))
    try:
        codes = [p.wait(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, 9)
    names = ["host"] + [f.name for f in sites]
    outputs = {name: (tmp_path / f"{name}.json").read_text() for name in names}
    assert codes == [0, 0, 0], {name: (tmp_path / f"{name}.err").read_text()[-2000:] for name in names}
    host = json.loads(outputs["host"])
    assert host["rounds"] == 1 and not host["secure_aggregation"] and host["sites_per_round"] == [2]
    assert host["dropped_per_round"] == [[]]  # both sites' replies arrived: none left the host waiting
    assert 0.0 <= host["val_accuracy"] <= 1.0
    for folder, cap in zip(sites, caps, strict=True):
        site = json.loads(outputs[folder.name])
        assert site["role"] == "site" and site["rounds"] == 1 and site["accountant"] == "rdp"
        assert site["seconds"] < 120  # it left after its last reply was sent, not after a host timeout
        assert 0.0 < site["epsilon"] <= (cap or 2.0) + 1e-9
        with Project.open(folder) as project:
            fingerprint = project.datasets()[0].fingerprint
            summary = PrivacyLedger(project).summary(fingerprint, with_rdp=False)
            trained = [e for e in project.audit_log(50) if e.action == "federation.trained"]
        assert summary.reserved_epsilon == 0.0
        assert summary.committed_epsilon == pytest.approx(site["epsilon"], rel=1e-12)  # what its accountant said
        assert len(trained) == 1 and trained[0].detail["epsilon_charged"] == site["epsilon"]
    with Project.open(tmp_path / "host") as project:
        hosted = [e for e in project.audit_log(50) if e.action == "federation.hosted"]
    assert len(hosted) == 1 and hosted[0].detail["outcome"] == "completed" and hosted[0].detail["tls"] is True
    assert hosted[0].detail["sites_per_round"] == [2] and hosted[0].detail["label"] == "outcome"
    assert _flower_left(tmp_path) == []
    left = [p.name for p in (tmp_path / "scratch").iterdir() if p.name.startswith("workbench-")]
    assert left == []  # the sites' rows in clear were only in temporary folders, removed


def _flower_left(root: Path) -> list[str]:
    import contextlib

    import psutil

    left = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error, OSError):
            if proc.environ().get("FLWR_HOME", "").startswith(str(root)) or str(root) in " ".join(
                proc.info["cmdline"] or ()
            ):
                left.append(" ".join(proc.info["cmdline"] or ()))
    return left


def test_a_site_checks_the_host_plan_before_it_accepts(tmp_path):
    from dataclasses import replace

    from workbench.core.federate.plan import FederationError
    from workbench.services.federation import make_plan
    from workbench.services.federation_remote import check_offered_plan

    plan = make_plan(tiny_table(), task="tabular", label="outcome", rounds=1, epsilon=2.0, delta=1e-3)
    ds = tiny_dataset(tmp_path / "ok", tiny_table(160))
    assert check_offered_plan(plan, ds, "hospital", None) == 128  # 80 % of the rows train
    no_label = tiny_dataset(tmp_path / "nolabel", tiny_table(160).drop_columns(["outcome"]))
    with pytest.raises(FederationError, match="hospital: the dataset has no column 'outcome'"):
        check_offered_plan(plan, no_label, "hospital", None)
    with pytest.raises(FederationError, match="delta"):
        check_offered_plan(replace(plan, delta=0.1), ds, "hospital", None)
    with pytest.raises(FederationError, match="more than the plan's SecAgg\\+ max_weight 100"):
        check_offered_plan(replace(plan, max_weight=100.0), ds, "hospital", None)
    with pytest.raises(FederationError, match="WITHOUT differential privacy"):
        check_offered_plan(replace(plan, private=False), ds, "hospital", 1.0)
