"""Bounded reads of small inputs, checked output paths, escaped names (workbench/core/safe_io.py)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from workbench.core.errors import WorkbenchError
from workbench.core.safe_io import (
    MAX_JSON_DEPTH,
    check_input_file,
    check_output_path,
    escape_for_terminal,
    json_depth,
    load_small_json,
    parse_json,
    read_small_file,
    read_small_text,
)


def _one_line(exc: pytest.ExceptionInfo[WorkbenchError]) -> str:
    text = str(exc.value)
    assert "\n" not in text and "\x1b" not in text
    return text


def test_regular_file_within_and_over_the_limit(tmp_path: Path) -> None:
    f = tmp_path / "k"
    f.write_bytes(b"x" * 10)
    assert read_small_file(f, what="key file", limit=10) == b"x" * 10
    with pytest.raises(WorkbenchError, match="too large to be a key file") as exc:
        read_small_file(f, what="key file", limit=9)
    assert str(f) in _one_line(exc)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_before_reading(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"{device} missing")
    with pytest.raises(WorkbenchError, match="is a device, not a policy"):
        read_small_file(device, what="policy", limit=100)


def test_folder_and_missing(tmp_path: Path) -> None:
    with pytest.raises(WorkbenchError, match="is a folder, not a policy"):
        read_small_file(tmp_path, what="policy", limit=100)
    with pytest.raises(WorkbenchError, match="no such file"):
        read_small_file(tmp_path / "nope", what="policy", limit=100)


def test_fifo_without_writer_times_out(tmp_path: Path) -> None:
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(WorkbenchError, match="within 0.3 s"):
        read_small_file(fifo, what="key file", limit=100, timeout_s=0.3)
    assert time.monotonic() - start < 3


def test_pipe_is_read_and_bounded(tmp_path: Path) -> None:
    # like --key-file <(printf ...): a pipe whose writer finishes
    proc = subprocess.Popen(["printf", "secret"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    path = f"/proc/self/fd/{proc.stdout.fileno()}"
    assert read_small_file(path, what="key file", limit=100, timeout_s=5) == b"secret"
    proc.wait()
    big = subprocess.Popen(["cat", "/dev/zero"], stdout=subprocess.PIPE)
    assert big.stdout is not None
    try:
        with pytest.raises(WorkbenchError, match="too large"):
            read_small_file(f"/proc/self/fd/{big.stdout.fileno()}", what="key file", limit=1000, timeout_s=5)
    finally:
        big.kill()
        big.wait()


def test_text_and_json(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_bytes(b'\xef\xbb\xbf{"a": [1, "[[["]}')
    assert read_small_text(f, what="policy", limit=100).startswith("{")
    assert load_small_json(f, what="policy", limit=100) == {"a": [1, "[[["]}
    f.write_bytes(b"\xff\xfe junk")
    with pytest.raises(WorkbenchError, match="not UTF-8"):
        read_small_text(f, what="policy", limit=100)


def test_deep_and_huge_json() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert json_depth(deep) == 100_000
    with pytest.raises(WorkbenchError, match=f"more than {MAX_JSON_DEPTH} levels"):
        parse_json(deep, source="p.json", what="policy")
    with pytest.raises(WorkbenchError, match="too many digits"):
        parse_json('{"a": ' + "9" * 5001 + "}", source="p.json", what="policy")
    with pytest.raises(WorkbenchError, match="not valid JSON"):
        parse_json("{", source="p.json", what="policy")
    assert json_depth('{"a": "]]]]"}') == 1


def test_output_path_rules(tmp_path: Path) -> None:
    inp = tmp_path / "in.csv"
    inp.write_text("a\n1\n")
    out = tmp_path / "out.csv"
    assert check_output_path(out, force=False) == out
    out.write_text("x")
    with pytest.raises(WorkbenchError, match="already exists"):
        check_output_path(out, force=False)
    assert check_output_path(out, force=True) == out
    with pytest.raises(WorkbenchError, match="also an input"):
        check_output_path(inp, force=True, protected=[inp])
    link = tmp_path / "link.csv"
    link.symlink_to(inp)
    with pytest.raises(WorkbenchError, match="also an input"):
        check_output_path(link, force=True, protected=[inp])
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(WorkbenchError, match="named pipe"):
        check_output_path(fifo, force=True)
    with pytest.raises(WorkbenchError, match="is a folder"):
        check_output_path(tmp_path, force=True)
    with pytest.raises(WorkbenchError, match="is a device"):
        check_output_path("/dev/null", force=True)
    with pytest.raises(WorkbenchError, match="kernel interface"):
        check_output_path("/proc/sys/x.csv", force=True)
    missing = tmp_path / "no" / "such" / "out.csv"
    with pytest.raises(WorkbenchError, match="does not exist"):
        check_output_path(missing, force=False)
    assert check_output_path(missing, force=False, parents=True) == missing
    assert missing.parent.is_dir()


def test_check_input_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(WorkbenchError, match="named pipe"):
        check_input_file(fifo, what="file to encrypt")
    with pytest.raises(WorkbenchError, match="is a folder"):
        check_input_file(tmp_path, what="file to encrypt")
    with pytest.raises(WorkbenchError, match="no such file"):
        check_input_file(tmp_path / "x", what="file to encrypt")


def test_escape_for_terminal() -> None:
    assert escape_for_terminal("plain name") == "plain name"
    assert escape_for_terminal("a\x1b[31mb") == "a\\x1b[31mb"
    assert escape_for_terminal("two\nlines\ttab") == "two\\nlines\\ttab"
    assert escape_for_terminal("名前") == "名前"
