"""The `workbench` command is a package without import cycles: each command module imports only
``workbench.cli._common`` from its package, never the package itself or a sibling, and ``_common`` imports nothing
from it. The use-case layer, the core and the window never import the command."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

import pytest

import workbench

PACKAGE = "workbench.cli"
CLI_DIR = Path(workbench.__file__).parent / "cli"
COMMON = f"{PACKAGE}._common"
# The two assembly points: __init__ puts the command modules together, __main__ runs __init__'s main().
ASSEMBLY = {PACKAGE, f"{PACKAGE}.__main__"}


def _module_name(path: Path) -> str:
    return PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"


def _cli_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(CLI_DIR.glob("*.py"))}


def _imports(path: Path, module: str) -> set[str]:
    """Every module ``path`` imports (at any depth in the file), relative imports resolved; for ``from X import
    Y`` both ``X`` and ``X.Y`` (``Y`` may be a submodule)."""
    package = module if path.stem == "__init__" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return found


def _cli_imports(imports: set[str]) -> set[str]:
    return {m for m in imports if m == PACKAGE or m.startswith(PACKAGE + ".")}


def test_the_command_is_a_package_with_its_modules() -> None:
    modules = _cli_modules()
    assert {PACKAGE, f"{PACKAGE}.__main__", COMMON} <= set(modules)
    assert len(modules) > 3, "no command modules?"
    assert not (CLI_DIR.parent / "cli.py").exists(), "workbench/cli.py would be shadowed by the package"


@pytest.mark.parametrize("module", sorted(_cli_modules()))
def test_each_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    """Imported before anything else of the package (a cycle would show up here), and without Qt or torch."""
    code = (
        f"import {module}\nimport sys\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'PySide6', 'pyarrow', 'cryptography'})\n"
        "print(heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]", f"importing {module} loaded {proc.stdout.strip()}"


@pytest.mark.parametrize("module", sorted(set(_cli_modules()) - ASSEMBLY))
def test_command_modules_import_only_common(module: str) -> None:
    path = _cli_modules()[module]
    allowed = set() if module == COMMON else {COMMON}
    # ``from workbench.cli._common import X`` also yields ``workbench.cli._common.X``: names, not modules.
    imported = {m for m in _cli_imports(_imports(path, module)) if not m.startswith(COMMON + ".")}
    assert imported <= allowed, f"{module} imports {sorted(imported - allowed)}; only {sorted(allowed) or 'none'}"


def test_main_module_imports_only_the_package() -> None:
    path = _cli_modules()[f"{PACKAGE}.__main__"]
    imported = _cli_imports(_imports(path, f"{PACKAGE}.__main__"))
    assert imported <= {PACKAGE, f"{PACKAGE}.main"}, sorted(imported)


@pytest.mark.parametrize("layer", ["core", "services", "ui"])
def test_lower_layers_never_import_the_command(layer: str) -> None:
    """``import workbench.cli``, ``from workbench.cli... import``, ``from workbench import cli`` (caught as
    ``workbench.cli``), at any depth of a file."""
    offenders = []
    for path in sorted((CLI_DIR.parent / layer).rglob("*.py")):
        parts = list(path.relative_to(CLI_DIR.parent.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if _cli_imports(_imports(path, ".".join(parts))):
            offenders.append("/".join(path.relative_to(CLI_DIR.parent.parent).parts))
    assert not offenders, f"these modules of workbench/{layer} import the command: {offenders}"


def _subparser(name: str) -> argparse.ArgumentParser:
    from workbench.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = sub.choices[name]
    assert isinstance(parser, argparse.ArgumentParser)
    return parser


def _choices(parser: argparse.ArgumentParser, option: str) -> list[str]:
    action = next(a for a in parser._actions if option in a.option_strings)
    return list(action.choices or [])


@pytest.mark.parametrize("command", ["info", "add", "train"])
def test_format_choices_come_from_the_loader_registry(command: str) -> None:
    from workbench.core.data.loaders import available_formats

    assert _choices(_subparser(command), "--format") == list(available_formats())


def test_recipe_choices_are_the_text_recipes() -> None:
    """Written out in the parser so that ``--help`` does not load the training package; kept equal here."""
    from workbench.core.train.text_model import RECIPES

    assert _choices(_subparser("train"), "--recipe") == list(RECIPES)
