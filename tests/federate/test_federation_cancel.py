"""Cancel right after the daemons start: every Flower process is torn down and no site is charged."""

from __future__ import annotations

import pytest

from tests.federate.conftest import tiny_dataset

pytestmark = pytest.mark.slow


def test_cancel_tears_every_process_down_and_releases_the_reservations(tmp_path):
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.federate.daemons import flower_processes
    from workbench.core.jobs import CancelToken, JobCancelled
    from workbench.core.project.store import Project
    from workbench.services.federation import federate_simulate_job

    token = CancelToken()
    work = tmp_path / "run"
    gen = federate_simulate_job(
        tiny_dataset(tmp_path / "in"),
        3,
        "tabular",
        "outcome",
        rounds=2,
        epsilon=2.0,
        token=token,
        workdir=work,
        hidden=(8,),
        batch_size=32,
    )
    phases = []
    with pytest.raises(JobCancelled):
        for progress in gen:
            phases.append(progress.phase)
            if progress.phase == "starting":
                token.cancel()  # the daemons start next, then the first poll sees the cancel
    assert phases[-1] == "starting"
    assert (work / "federation" / "logs" / "superlink.log").exists()  # they did start
    assert flower_processes(work / "federation" / "flwr-home") == []
    for i in range(3):
        with Project.open(work / f"site-{i + 1}-project") as project:
            fingerprint = project.datasets()[0].fingerprint
            summary = PrivacyLedger(project).summary(fingerprint, with_rdp=False)
        assert summary.reserved_epsilon == 0.0 and summary.committed_epsilon == 0.0
        assert [e.state for e in summary.entries] == ["released"]  # reserved before the start, given back
