"""Qt test fixtures. Any test that leaves a job thread running fails, naming the job."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workbench.ui.qt_jobs import QtJobRunner


@pytest.fixture(autouse=True)
def no_thread_left_running(qapp: object) -> Iterator[None]:
    yield
    running = QtJobRunner.live_threads()
    if running:
        names = ", ".join(f"job {t.job_id}" for t in running)
        for t in running:
            t.token.cancel()
        for t in running:
            t.wait(10_000)
        pytest.fail(f"test left QThreads running: {names}")


@pytest.fixture(autouse=True)
def never_block_on_the_quit_question(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-qt closes leftover windows after a test; a modal "jobs are running, quit?" box would block there.
    Tests that check the question patch the instance, which takes precedence over this class default."""
    from workbench.ui.qt_main_window import QtMainWindow

    monkeypatch.setattr(QtMainWindow, "confirm_close_with_jobs", lambda self, count: True)


@pytest.fixture
def window(qtbot, project):  # noqa: ANN001, ANN201
    """The main window on the empty ``project``, with the cheapest KDF for any vault it creates; its jobs are
    cancelled and waited for afterwards."""
    from workbench.core.crypto import kdf
    from workbench.ui.qt_main_window import QtMainWindow

    w = QtMainWindow(project)
    w.vault_ctl.kdf_params = kdf.minimum_params()
    qtbot.addWidget(w)
    w.show()
    yield w
    w.runner.begin_shutdown()
    w.runner.cancel_all()
    w.runner.wait_all(30)
