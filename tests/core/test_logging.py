"""Logging set-up: a rotating file in WORKBENCH_HOME, installed once, and exceptions logged without values."""

from __future__ import annotations

import logging
import logging.handlers
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.core import logging_setup
from workbench.core.errors import ProjectError
from workbench.core.logging_setup import (
    configure_logging,
    format_exception_safely,
    log_exception,
    shutdown_logging,
)
from workbench.core.paths import user_data_dir, user_log_dir


@pytest.fixture(autouse=True)
def _isolated_logging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    root = logging.getLogger()
    workbench_logger = logging.getLogger("workbench")
    saved = (root.level, workbench_logger.level)
    yield
    shutdown_logging()
    root.setLevel(saved[0])
    workbench_logger.setLevel(saved[1])


def our_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "_workbench_handler", None)]


def flush() -> None:
    for handler in our_handlers():
        handler.flush()


def test_paths_follow_workbench_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = (tmp_path / "home").resolve()
    assert user_data_dir() == home and home.is_dir()
    assert user_log_dir() == home / "logs" and (home / "logs").is_dir()
    monkeypatch.setenv("WORKBENCH_HOME", "")  # empty means unset: the platform folders
    assert user_data_dir().name == "privacy-workbench"


def test_rotating_file_handler_in_workbench_home(tmp_path: Path) -> None:
    path = configure_logging()
    assert path == (tmp_path / "home").resolve() / "logs" / "workbench.log"
    (handler,) = our_handlers()
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert handler.maxBytes == 2 * 1024 * 1024 and handler.backupCount == 5

    def work() -> None:
        logging.getLogger("workbench.core.test").info("loaded %s rows", 12)

    thread = threading.Thread(target=work, name="loader-thread")
    thread.start()
    thread.join()
    flush()
    line = path.read_text(encoding="utf-8").strip().splitlines()[-1]
    assert line.endswith("INFO     [loader-thread] workbench.core.test: loaded 12 rows")
    assert line[:4].isdigit()  # starts with the time


def test_configure_is_idempotent(tmp_path: Path) -> None:
    first = configure_logging()
    second = configure_logging("DEBUG")
    assert first == second
    assert len(our_handlers()) == 1
    assert logging.getLogger("workbench").level == logging.DEBUG
    configure_logging(console=True)
    configure_logging(console=True)
    assert sorted(h._workbench_handler for h in our_handlers()) == ["console", "file"]
    configure_logging(console=False)
    assert [h._workbench_handler for h in our_handlers()] == ["file"]
    logging.getLogger("workbench").warning("once")
    flush()
    assert first.read_text(encoding="utf-8").count("once") == 1


def test_a_new_home_replaces_the_file_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = configure_logging()
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "other"))
    new = configure_logging()
    assert new != old and new.parent == (tmp_path / "other").resolve() / "logs"
    assert len(our_handlers()) == 1


def test_third_party_chatter_stays_out_and_levels_are_checked(tmp_path: Path) -> None:
    path = configure_logging("DEBUG")
    logging.getLogger("some_nlp_library").info("analyzing text: John Smith 555-0100")
    logging.getLogger("some_nlp_library").warning("model cache missing")
    logging.getLogger("workbench.core.x").debug("debug from us")
    flush()
    text = path.read_text(encoding="utf-8")
    assert "John Smith" not in text
    assert "model cache missing" in text and "debug from us" in text
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("LOUD")


SSN = "-".join(["123", "45", "6789"])  # built, so that the source lines in the traceback do not hold it


def raise_chain(cell: str) -> None:
    try:
        int(cell)  # ValueError's message quotes the cell
    except ValueError as exc:
        raise ProjectError("could not save the column roles") from exc


def test_log_exception_keeps_frames_and_drops_messages_that_may_hold_values(tmp_path: Path) -> None:
    path = configure_logging()
    try:
        raise_chain(SSN)
    except ProjectError as exc:
        log_exception(exc, message="saving roles failed")
    flush()
    text = path.read_text(encoding="utf-8")
    assert "ERROR" in text and "saving roles failed" in text
    assert SSN not in text
    assert "ValueError (message not logged" in text
    assert "workbench.core.errors.ProjectError: could not save the column roles" in text
    assert "direct cause" in text
    assert "in raise_chain" in text and "test_logging.py" in text
    # Oldest first, as Python prints it.
    assert text.index("ValueError") < text.index("ProjectError")


def test_format_exception_safely_can_include_messages_on_request() -> None:
    key = "patient" + "_42"
    try:
        {}[key]
    except KeyError as exc:
        assert key not in format_exception_safely(exc)
        assert "KeyError: 'patient_42'" in format_exception_safely(exc, include_message=True)


def test_the_rule_is_written_down() -> None:
    assert "never log dataset values" in (logging_setup.__doc__ or "").lower()


def test_an_unwritable_log_folder_falls_back_and_says_so_once(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    import logging

    from workbench.core.logging_setup import log_fallback_note, shutdown_logging

    home = tmp_path / "home"
    (home / "logs" / "workbench.log").mkdir(parents=True)  # the log file's name is taken by a folder
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    try:
        used = configure_logging()
        note = log_fallback_note()
        assert note is not None and "cannot be written" in note and str(used.parent) in note
        assert used.parent.parent == tmp_path / "tmp"
        logging.getLogger("workbench.test").warning("a record")
        assert "Logging error" not in capsys.readouterr().err
        assert "a record" in used.read_text(encoding="utf-8")
    finally:
        shutdown_logging()
