"""The registry helper: lazy import, unique names, clear errors, one import under many threads; and the built-in
registries (formats, operators, tasks, recognizers) list their names without importing their modules."""

from __future__ import annotations

import importlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from workbench.core.errors import WorkbenchError
from workbench.core.registry import DuplicateNameError, Registry, UnknownNameError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def probe_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A throw-away package ``wb_registry_probe`` whose modules record each time they are executed."""
    pkg = tmp_path / "wb_registry_probe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("RUNS: list[str] = []\n", encoding="utf-8")
    for name in ("alpha", "beta"):
        (pkg / f"{name}.py").write_text(
            "import time\n"
            "import wb_registry_probe\n"
            f"wb_registry_probe.RUNS.append({name!r})\n"
            "time.sleep(0.05)  # widen the window in which several threads ask at once\n"
            f"class Thing:\n    label = {name!r}\n",
            encoding="utf-8",
        )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "wb_registry_probe"
    for mod in [m for m in sys.modules if m == "wb_registry_probe" or m.startswith("wb_registry_probe.")]:
        del sys.modules[mod]


def test_registering_and_listing_import_nothing(probe_package: str) -> None:
    reg: Registry[type[Any]] = Registry("widget")
    reg.register("alpha", f"{probe_package}.alpha:Thing", aliases=("a",), metadata={"extensions": (".al",)})
    reg.register("beta", f"{probe_package}.beta:Thing")
    assert reg.names() == ("alpha", "beta") and len(reg) == 2
    assert "a" in reg and "alpha" in reg and "gamma" not in reg
    entry = reg.find("a")
    assert entry is not None and entry.name == "alpha" and entry.module == f"{probe_package}.alpha"
    assert entry.attribute == "Thing" and entry.metadata["extensions"] == (".al",)
    assert reg.find("gamma") is None
    assert f"{probe_package}.alpha" not in sys.modules and f"{probe_package}.beta" not in sys.modules
    assert not reg.is_loaded("alpha")

    thing = reg.get("a")  # an alias reaches the same entry
    assert thing.label == "alpha" and reg.get("alpha") is thing and reg.is_loaded("alpha")
    assert f"{probe_package}.alpha" in sys.modules and f"{probe_package}.beta" not in sys.modules


def test_duplicate_names_and_aliases_are_refused() -> None:
    reg: Registry[object] = Registry("operator")
    reg.register("mask", "json:dumps", aliases=("hide",))
    with pytest.raises(DuplicateNameError, match=r"^an operator named 'mask' is already registered$"):
        reg.register("mask", "json:loads")
    with pytest.raises(DuplicateNameError, match=r"'hide' is already registered \(an alias of 'mask'\)"):
        reg.register("hide", "json:loads")
    with pytest.raises(DuplicateNameError, match=r"'mask' is already registered"):
        reg.register("cover", "json:loads", aliases=("mask",))
    with pytest.raises(DuplicateNameError, match="given twice"):
        reg.register("veil", "json:loads", aliases=("veil",))
    with pytest.raises(DuplicateNameError, match="a task named 'x'"):
        tasks: Registry[object] = Registry("task")
        tasks.add("x", object())
        tasks.add("x", object())
    assert isinstance(DuplicateNameError("x"), ValueError)
    # nothing was replaced and nothing half-registered
    assert reg.names() == ("mask",) and reg.find("cover") is None and reg.find("veil") is None
    assert reg.entry("hide").target == "json:dumps"


def test_unknown_names_and_bad_targets_explain_themselves() -> None:
    reg: Registry[object] = Registry("format")
    with pytest.raises(UnknownNameError, match=r"^unknown format 'csv'; choose one of: no format is registered$"):
        reg.get("csv")
    reg.register("csv", "json:dumps")
    reg.register("text", "json:loads", aliases=("txt",))
    with pytest.raises(UnknownNameError, match=r"^unknown format 'xlsx'; choose one of: csv, text$") as info:
        reg.get("xlsx")
    assert isinstance(info.value, LookupError) and isinstance(info.value, WorkbenchError)
    with pytest.raises(UnknownNameError, match="unknown format 'TXT'"):  # names are matched exactly
        reg.entry("TXT")
    for bad in ("json", "json:", ":dumps", "json.dumps", "json:dumps:x", "1json:dumps"):
        with pytest.raises(ValueError, match="module.path:AttributeName"):
            reg.register("bad", bad)
    with pytest.raises(ValueError, match="non-empty string"):
        reg.register("", "json:dumps")
    assert reg.names() == ("csv", "text")


def test_factory_runs_once_and_added_objects_are_kept_as_they_are() -> None:
    made: list[object] = []

    def build(cls: Any) -> Any:
        made.append(cls)
        return cls()

    reg: Registry[Any] = Registry("thing", factory=build)
    reg.register("ordered", "collections:OrderedDict")
    first = reg.get("ordered")
    assert reg.get("ordered") is first and made == [importlib.import_module("collections").OrderedDict]
    given = object()
    reg.add("given", given)
    assert reg.get("given") is given and reg.is_loaded("given") and reg.entry("given").target == ""
    assert len(made) == 1


def test_first_use_from_many_threads_imports_once(probe_package: str, monkeypatch: pytest.MonkeyPatch) -> None:
    imports: list[str] = []
    real_import = importlib.import_module

    def counting_import(name: str, package: str | None = None) -> Any:
        if name.startswith(probe_package):
            imports.append(name)
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", counting_import)
    built: list[object] = []
    build_lock = threading.Lock()

    def build(cls: Any) -> Any:
        with build_lock:
            built.append(cls)
        return cls()

    reg: Registry[Any] = Registry("widget", factory=build)
    reg.register("alpha", f"{probe_package}.alpha:Thing")
    reg.register("beta", f"{probe_package}.beta:Thing")
    n = 16
    barrier = threading.Barrier(n)
    results: list[object] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results.append(reg.get("alpha" if i % 2 else "beta"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(imports) == [f"{probe_package}.alpha", f"{probe_package}.beta"]
    assert len(built) == 2 and len({id(r) for r in results}) == 2 and len(results) == n
    assert sorted(importlib.import_module(probe_package).RUNS) == ["alpha", "beta"]


# ---- the built-in registries ------------------------------------------------------------------------------------


def test_builtin_registries_list_names_without_importing_their_modules() -> None:
    code = (
        "import sys\n"
        "from workbench.core.data.loaders import available_formats, format_names\n"
        "from workbench.core.pii.operators import operator_names\n"
        "from workbench.core.pii.recognizers import RECOGNIZERS\n"
        "from workbench.core.train.tasks import task_names\n"
        "assert format_names() == available_formats() == ('csv', 'jsonl', 'parquet', 'text'), format_names()\n"
        "assert format_names(include_aliases=True) == ('csv', 'tsv', 'jsonl', 'json', 'parquet', 'text', 'txt')\n"
        "assert operator_names() == ('keep', 'redact', 'replace', 'mask', 'keyed_hash', 'encrypt', 'pseudonym',\n"
        "                            'generalize'), operator_names()\n"
        "assert task_names() == ('tabular', 'text'), task_names()\n"
        "assert len(RECOGNIZERS) == 10\n"
        "mods = set(sys.modules)\n"
        "assert not {'pyarrow', 'presidio_analyzer', 'torch', 'faker'} & {m.split('.')[0] for m in mods}\n"
        "ops = sorted(m for m in mods if m.startswith('workbench.core.pii.operators.'))\n"
        "assert ops == ['workbench.core.pii.operators.' + m for m in ('base', 'dates', 'tokens')], ops\n"
        "assert not [m for m in mods if m.startswith('workbench.core.pii.recognizers.')]\n"
        "assert not [m for m in mods if m.startswith('workbench.core.data.loaders.') and not m.endswith('.base')]\n"
        "assert 'workbench.core.train.text_model' not in mods and 'workbench.core.train.tabular_model' not in mods\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_task_modules_import_tasks_not_the_other_way() -> None:
    code = (
        "import workbench.core.train.tabular_model as t\n"  # imported first: there is no cycle to trip over
        "from workbench.core.train.tasks import get_task\n"
        "assert type(get_task('tabular')) is t.TabularClassificationTask\n"
        "assert get_task('text').name == 'text'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_builtin_entries_resolve_to_what_they_are_named() -> None:
    from workbench.core.data.loaders import FORMATS, register_loader
    from workbench.core.pii.operators import OPERATORS, get_operator
    from workbench.core.train.tasks import TASKS, TrainConfigError, get_task, register_task

    for name in FORMATS.names():
        assert FORMATS.get(name).format_name == name
    for name in OPERATORS.names():
        assert get_operator(name).name == name
    for name in TASKS.names():
        assert get_task(name).name == name
    with pytest.raises(DuplicateNameError, match="a format named 'csv' is already registered"):
        register_loader("csv", "workbench.core.data.loaders.text", "TextLoader")
    with pytest.raises(DuplicateNameError, match="a format named 'tsv' is already registered"):
        register_loader("TSV", "workbench.core.data.loaders.text", "TextLoader")
    with pytest.raises(ValueError, match="a task named 'text' is already registered"):
        register_task(get_task("text"))
    with pytest.raises(TrainConfigError, match=r"^unknown task 'image'; choose one of: tabular, text$"):
        get_task("image")


def test_recognizers_are_built_from_the_registry() -> None:
    pytest.importorskip("presidio_analyzer")
    from workbench.core.pii import recognizers

    built = recognizers.workbench_recognizers("en")
    assert [type(r).__name__ for r in built] == list(recognizers.RECOGNIZERS.names())
    assert all(r.supported_language == "en" for r in built)
    assert tuple(type(r) for r in built) == recognizers.RECOGNIZER_CLASSES
    assert recognizers.BankCardRecognizer is type(built[2]) and recognizers.BANK_CARD == "BANK_CARD"
    with pytest.raises(AttributeError):
        _ = recognizers.NoSuchRecognizer
