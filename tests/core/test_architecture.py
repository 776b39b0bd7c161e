"""The core stays Qt-free and the CLI starts light. Checked in fresh interpreters, so nothing imported by other
tests can hide a leak."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN_QT = ("PySide6", "shiboken6", "pyqtgraph")
HEAVY = ("torch", "transformers", "opacus", "presidio_analyzer", "spacy")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def _roots(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


@pytest.mark.parametrize("package", ["workbench.core", "workbench.services"])
def test_core_and_use_cases_import_no_qt(package: str) -> None:
    import importlib
    import pkgutil

    root = importlib.import_module(package)
    names = [m.name for m in pkgutil.walk_packages(root.__path__, f"{package}.")]
    assert names, f"{package} has no modules?"
    code = "\n".join(f"import {n}" for n in names)
    leaked = _roots(_modules_after(code)) & set(FORBIDDEN_QT)
    assert not leaked, f"{package} imported {leaked}"


def test_use_cases_keep_heavy_imports_out_of_their_tops() -> None:
    loaded = _roots(_modules_after("import workbench.services.session, workbench.services.anonymize, "
                                   "workbench.services.training, workbench.services.encryption"))  # fmt: skip
    assert not loaded & set(HEAVY), f"importing the use cases loaded {loaded & set(HEAVY)}"


def test_cli_imports_no_qt_and_help_loads_no_torch() -> None:
    mods = _roots(_modules_after("import workbench.cli"))
    assert not mods & set(FORBIDDEN_QT)
    code = "import sys\nimport workbench.cli as c\ntry:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
    loaded = _roots(_modules_after(code))
    assert not loaded & set(HEAVY), f"workbench --help loaded {loaded & set(HEAVY)}"
    assert not loaded & set(FORBIDDEN_QT)
    assert "pyarrow" not in loaded, "--help should not load pyarrow either"


def test_ui_modules_keep_heavy_imports_out_of_their_tops() -> None:
    pytest.importorskip("PySide6")
    loaded = _roots(_modules_after("import workbench.ui.qt_main_window, workbench.app"))
    assert not loaded & set(HEAVY)


def test_help_runs_as_a_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "info" in proc.stdout and "demo" in proc.stdout
