"""Suite-wide set-up (no screen needed, nothing written to the real home folder) and the fixtures several folders use.

Each folder of tests/ is one subsystem with a conftest of its own; helpers that are not fixtures live in
``tests/support``."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Logs, recent projects and settings of the whole test session go to a throw-away folder.
if "WORKBENCH_HOME" not in os.environ:
    os.environ["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="workbench-tests-")


from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _own_user_data_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own user data folder: the machine-wide ledger index (issue 12) lives there, and the same
    demo file added to projects of different tests must not share one privacy budget."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Any]:
    """A new, empty, unencrypted project in ``tmp_path/proj``; closed after the test."""
    from workbench.core.project.store import Project

    with Project.create(tmp_path / "proj") as p:
        yield p


@pytest.fixture
def fast_kdf() -> Any:
    """The cheapest key-derivation parameters the workbench accepts (its floor): tests only, never a default."""
    from workbench.core.crypto import kdf

    return kdf.minimum_params()
