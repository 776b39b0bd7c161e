from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from workbench.core.errors import WorkbenchError
from workbench.core.pii.analyzer import DEFAULT_SPACY_MODEL, SPACY_MODEL_SETTING
from workbench.core.project.store import Project
from workbench.core.settings import SETTINGS, AppSettings, SettingsStore, resolve


def test_defaults_round_trip_and_unknown_keys_kept(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "s.json")
    assert store.load() == AppSettings()
    store.path.write_text(json.dumps({"auto_lock_minutes": 5, "from_the_future": [1, 2], "schema_version": 9}))
    s = store.load()
    assert s.auto_lock_minutes == 5 and s.extra == {"from_the_future": [1, 2]}
    store.update(device="cpu")
    raw = json.loads(store.path.read_text())
    assert raw["device"] == "cpu" and raw["from_the_future"] == [1, 2] and raw["auto_lock_minutes"] == 5


def test_damaged_file_gives_defaults_and_a_problem(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "s.json")
    store.path.write_text("{not json")
    assert store.load() == AppSettings()
    assert store.problem and "cannot be read" in store.problem
    assert store.path.read_text() == "{not json", "a damaged file is never overwritten silently"
    store.path.write_text(json.dumps({"auto_lock_minutes": -3}))
    assert store.load().auto_lock_minutes == 15 and "auto_lock_minutes" in (store.problem or "")


def test_invalid_values_are_refused(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "s.json")
    with pytest.raises(WorkbenchError, match="device"):
        store.update(device="tpu")
    assert not store.path.exists()


# ---- the resolver: environment > project > application > default ---------------------------------------------

ENV_VARS = ("WORKBENCH_SPACY_MODEL", "WORKBENCH_DEVICE", "WORKBENCH_AUTO_LOCK_MINUTES")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private WORKBENCH_HOME (so the default SettingsStore is empty) and none of the resolver's variables."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def test_the_table_names_every_resolved_setting() -> None:
    assert set(SETTINGS) == {f.name for f in fields(AppSettings)} - {"extra"}
    assert {spec.env_var for spec in SETTINGS.values()} == set(ENV_VARS)
    assert SETTINGS["spacy_model"].project_key == SPACY_MODEL_SETTING
    assert AppSettings().spacy_model == DEFAULT_SPACY_MODEL
    with pytest.raises(KeyError):
        resolve("no_such_setting")


@pytest.mark.parametrize(
    ("key", "env_text", "env_value", "project_value", "app_value"),
    [
        ("spacy_model", " /opt/env/pipeline ", "/opt/env/pipeline", "/opt/project/pipeline", "app_pipeline"),
        ("device", "CUDA", "cuda", "cpu", "cuda"),
        ("auto_lock_minutes", "7", 7, 30, 60),
    ],
)
def test_precedence_environment_project_application_default(
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    env_text: str,
    env_value: object,
    project_value: object,
    app_value: object,
) -> None:
    store = SettingsStore()
    assert store.path == home / "settings.json"
    with Project.create(tmp_path / "p") as project:
        # Nothing set anywhere: the built-in default (and no settings file is created by reading).
        got = resolve(key, project)
        assert (got.value, got.source) == (getattr(AppSettings(), key), "default")
        assert not store.path.exists()
        # The application settings file.
        store.update(**{key: app_value})
        got = resolve(key, project)
        assert (got.value, got.source, got.origin) == (app_value, "application", str(store.path))
        assert resolve(key).source == "application"
        # The project's setting wins over it.
        project.set_setting(SETTINGS[key].project_key, project_value)
        got = resolve(key, project)
        assert (got.value, got.source) == (project_value, "project")
        assert resolve(key).value == app_value, "without the project, the application value"
        # The environment wins over everything; an empty variable counts as unset.
        monkeypatch.setenv(SETTINGS[key].env_var, "  ")
        assert resolve(key, project).source == "project"
        monkeypatch.setenv(SETTINGS[key].env_var, env_text)
        got = resolve(key, project)
        assert (got.value, got.source, got.origin) == (env_value, "environment", SETTINGS[key].env_var)


def test_an_explicit_store_is_used(home: Path, tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "elsewhere.json")
    store.update(device="cpu")
    assert resolve("device", store=store).value == "cpu"
    assert resolve("device").source == "default"
    # A damaged file gives the default (and the store's problem says why), as load() does.
    store.path.write_text("{not json")
    assert resolve("device", store=store).source == "default" and store.problem


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("WORKBENCH_DEVICE", "tpu", "device must be auto, cpu or cuda"),
        ("WORKBENCH_AUTO_LOCK_MINUTES", "ten", "whole number"),
        ("WORKBENCH_AUTO_LOCK_MINUTES", "-1", "between 0"),
        ("WORKBENCH_AUTO_LOCK_MINUTES", "100000", "between 0"),
    ],
)
def test_a_bad_environment_value_names_the_variable(
    home: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    key = next(k for k, spec in SETTINGS.items() if spec.env_var == variable)
    with pytest.raises(WorkbenchError, match=f"{variable}.*{message}"):
        resolve(key)


def test_a_bad_project_value_names_the_project_setting(home: Path, tmp_path: Path) -> None:
    with Project.create(tmp_path / "p") as project:
        project.set_setting("train.device", "tpu")
        with pytest.raises(WorkbenchError, match="'train.device'.*device must be auto, cpu or cuda"):
            resolve("device", project)
        project.set_setting("vault.auto_lock_minutes", "5")
        with pytest.raises(WorkbenchError, match="'vault.auto_lock_minutes'.*whole number"):
            resolve("auto_lock_minutes", project)
        project.set_setting("pii.spacy_model", "   ")
        with pytest.raises(WorkbenchError, match="'pii.spacy_model'.*spacy_model must name"):
            resolve("spacy_model", project)


def test_the_analyzer_model_follows_the_settings(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.core.pii import analyzer

    assert analyzer.default_spacy_model() == DEFAULT_SPACY_MODEL
    assert analyzer.AnalyzerSettings().spacy_model == DEFAULT_SPACY_MODEL
    SettingsStore().update(spacy_model="app_pipeline")
    assert analyzer.AnalyzerSettings().spacy_model == "app_pipeline"
    with Project.create(tmp_path / "p") as project:
        project.set_setting(SPACY_MODEL_SETTING, "/opt/project/pipeline")
        assert analyzer.settings_for_project(project).spacy_model == "/opt/project/pipeline"
        monkeypatch.setenv("WORKBENCH_SPACY_MODEL", "/opt/env/pipeline")
        assert analyzer.settings_for_project(project).spacy_model == "/opt/env/pipeline"
    assert analyzer.AnalyzerSettings(spacy_model="explicit").spacy_model == "explicit", "an explicit model wins"

    # get_analyzer() builds the environment's model; _build is replaced so no spaCy pipeline is loaded.
    built: list[analyzer.AnalyzerSettings] = []

    def fake_build(settings: analyzer.AnalyzerSettings) -> analyzer.AnalyzerHandle:
        built.append(settings)
        return object()  # type: ignore[return-value]

    monkeypatch.setattr(analyzer, "_build", fake_build)
    try:
        analyzer.get_analyzer()
    finally:
        with analyzer._handles_lock:
            for settings in built:
                analyzer._handles.pop(settings, None)
    assert [s.spacy_model for s in built] == ["/opt/env/pipeline"]


def test_a_policy_without_a_model_follows_the_site_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.core.pii.policy import Policy

    monkeypatch.setenv("WORKBENCH_SPACY_MODEL", "/opt/site/pipeline")
    assert Policy(name="p").analyzer_settings().spacy_model == "/opt/site/pipeline"
    assert Policy(name="p").with_spacy_model("vetted_model").analyzer_settings().spacy_model == "vetted_model"
    assert Policy.from_json(Policy(name="p").to_json()).spacy_model is None, "null in JSON: the site's setting"
