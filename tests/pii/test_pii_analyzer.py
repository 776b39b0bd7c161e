"""The offline analyzer: model errors that say what to install, tldextract offline, one engine per configuration."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from workbench.core.pii.analyzer import (
    DEFAULT_SPACY_MODEL,
    SPACY_MODEL_SETTING,
    AnalyzerConfigError,
    AnalyzerSettings,
    configure_offline,
    get_analyzer,
    load_spacy_pipeline,
    settings_for_project,
)
from workbench.core.project.store import Project


def test_a_missing_model_names_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(AnalyzerConfigError, match=r"'no_such_model_xyz' is not installed.*pip install en-core-web-sm"):
        load_spacy_pipeline("no_such_model_xyz")
    with pytest.raises(AnalyzerConfigError, match="folder .* does not exist"):
        load_spacy_pipeline(str(tmp_path / "missing" / "pipeline"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AnalyzerConfigError, match="could not be loaded"):
        load_spacy_pipeline(str(empty))
    with pytest.raises(AnalyzerConfigError, match="is not installed"):
        get_analyzer(AnalyzerSettings(spacy_model="no_such_model_xyz"))


def test_a_local_pipeline_folder_works(tmp_path: Path) -> None:
    nlp = load_spacy_pipeline(DEFAULT_SPACY_MODEL)
    nlp.to_disk(tmp_path / "site_model")
    local = load_spacy_pipeline(str(tmp_path / "site_model"), ("parser",))
    assert (
        "ner" in local.pipe_names
        and "parser" not in local.pipe_names
        or not local.has_pipe("parser")
        or ("parser" in local.disabled)
    )


def test_tldextract_is_offline() -> None:
    configure_offline()
    import tldextract.tldextract as tld

    assert tld.TLD_EXTRACTOR.suffix_list_urls == ()
    assert tld.extract("mail.example.co.uk").suffix == "co.uk"  # from the bundled snapshot


def test_one_engine_per_configuration_even_under_concurrency() -> None:
    settings = AnalyzerSettings(workbench_recognizers=False)
    handles: list[object] = []
    threads = [threading.Thread(target=lambda: handles.append(get_analyzer(settings))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(handles) == 3 and all(h is handles[0] for h in handles)
    assert get_analyzer() is get_analyzer(AnalyzerSettings())
    assert get_analyzer() is not handles[0]
    assert "CN_RESIDENT_ID" in get_analyzer().supported_entities
    assert "CN_RESIDENT_ID" not in handles[0].supported_entities  # type: ignore[attr-defined]


def test_the_model_is_a_project_setting(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p") as project:
        assert settings_for_project(project).spacy_model == DEFAULT_SPACY_MODEL
        project.set_setting(SPACY_MODEL_SETTING, "/opt/site/pipeline")
        assert settings_for_project(project).spacy_model == "/opt/site/pipeline"
