"""Loading files end to end: formats, encodings, types, preview, progress, errors, cancellation, hashes."""

from __future__ import annotations

import builtins
import codecs
import datetime as dt
import hashlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.core.data import load as load_module
from workbench.core.data.dataset import Dataset, LoadOptions
from workbench.core.data.fingerprint import sha256_file_job
from workbench.core.data.load import CHANGED_PROBLEM, clean_column_names, load_dataset, load_dataset_job
from workbench.core.data.loaders import available_formats, format_for, loader_for
from workbench.core.data.loaders import csv_loader as csv_module
from workbench.core.errors import DatasetError, JobCancelled
from workbench.core.jobs import CancelToken, Progress, drive

CANARY = "CANARY-9f2c"


def write(path: Path, data: bytes | str, encoding: str = "utf-8") -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def run(gen: Any) -> tuple[list[Progress], Any]:
    """Drive a job generator, returning its progress snapshots and its result."""
    seen: list[Progress] = []
    result = drive(gen, seen.append)
    return seen, result


def load_error(path: Path, options: LoadOptions | None = None) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        load_dataset(path, options or LoadOptions())
    return info.value


def open_paths() -> set[str]:
    return {f.path for f in psutil.Process().open_files()}


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make Arrow read CSV in 4 KiB blocks so small test files have many batches."""
    monkeypatch.setattr(csv_module, "BLOCK_SIZE", 4096)


# ------------------------------------------------------------------------------------------------------------
# CSV: structure and types


def test_csv_types_and_summaries(tmp_path: Path) -> None:
    text = (
        "id,name,zip,age,score,active,visit,seen_at,comment\n"
        "P001,Ann,02134,34,1.5,true,2024-01-02,2024-01-02T10:11:12,first visit went well\n"
        "P002,Bob,10115,NA,2,false,2024-02-03,2024-02-03 08:00:00,\n"
        "P003,Cé,75001,51,,TRUE,2024-03-04,2024-03-04T09:30,needs a follow up\n"
    )
    ds = load_dataset(write(tmp_path / "people.csv", text))
    assert ds.format == "csv" and ds.encoding == "utf-8" and ds.delimiter == ","
    assert ds.num_rows == 3 and ds.name == "people.csv" and ds.size_bytes == len(text.encode())
    schema = ds.table.schema
    assert schema.field("id").type == pa.string()
    assert schema.field("zip").type == pa.string()  # leading zero kept
    assert schema.field("age").type == pa.int64()  # "NA" is missing in a numeric column
    assert schema.field("score").type == pa.float64()
    assert schema.field("active").type == pa.bool_()
    assert schema.field("visit").type == pa.date32()
    assert schema.field("seen_at").type == pa.timestamp("us")
    assert ds.table.column("zip").to_pylist() == ["02134", "10115", "75001"]
    assert ds.table.column("age").to_pylist() == [34, None, 51]
    assert ds.table.column("active").to_pylist() == [True, False, True]
    assert ds.table.column("visit").to_pylist()[0] == dt.date(2024, 1, 2)
    assert ds.table.column("comment").to_pylist()[1] is None  # empty field -> missing
    by_name = {c.name: c for c in ds.columns}
    assert by_name["age"].dtype == "integer" and by_name["age"].missing == 1 and by_name["age"].distinct == 2
    assert by_name["score"].missing == 1
    assert by_name["visit"].dtype == "date" and by_name["seen_at"].dtype == "datetime"
    assert by_name["active"].dtype == "boolean"
    assert by_name["name"].examples == ("Ann", "Bob", "Cé")
    assert ds.warnings == ()


def test_column_that_turns_to_text_after_first_block_stays_string(tmp_path: Path, small_blocks: None) -> None:
    rows = [f"{i},{i * 2}" for i in range(3000)]  # ~30 KB, many 4 KiB blocks
    rows.append("unknown,7")
    path = write(tmp_path / "late.csv", "n,m\n" + "\n".join(rows) + "\n")
    ds = load_dataset(path)
    assert ds.num_rows == 3001
    assert ds.table.schema.field("n").type == pa.string()
    assert ds.table.schema.field("m").type == pa.int64()
    assert ds.table.column("n")[3000].as_py() == "unknown"
    assert ds.table.column("n")[5].as_py() == "5"


def test_record_longer_than_a_block(tmp_path: Path, small_blocks: None) -> None:
    long_value = "word " * 30_000  # 150 KB in one quoted field, blocks are 4 KiB
    path = write(tmp_path / "long.csv", f'id,note\n1,"{long_value}"\n2,short\n')
    ds = load_dataset(path)
    assert ds.table.column("note").to_pylist() == [long_value, "short"]


def test_numbers_that_would_change_stay_strings(tmp_path: Path) -> None:
    text = "big,code\n99999999999999999999,007\n1,123\n"
    ds = load_dataset(write(tmp_path / "n.csv", text))
    assert ds.table.column("big").to_pylist() == ["99999999999999999999", "1"]
    assert ds.table.column("code").to_pylist() == ["007", "123"]


def test_null_tokens_kept_in_string_columns(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path / "s.csv", "country\nNA\nFR\nnull\n"))
    assert ds.table.column("country").to_pylist() == ["NA", "FR", "null"]


def test_quoted_fields_with_delimiters_and_newlines(tmp_path: Path) -> None:
    text = 'id,note\n1,"line one\nline two, with comma"\n2,"say ""hi"""\n'
    ds = load_dataset(write(tmp_path / "q.csv", text))
    assert ds.table.column("note").to_pylist() == ["line one\nline two, with comma", 'say "hi"']


@pytest.mark.parametrize(
    ("name", "text", "delimiter"),
    [
        ("t.tsv", "a\tb\n1\t2\n", "\t"),
        ("t.csv", "a;b;c\n1;2,5;3\n4;5,5;6\n", ";"),
        ("t.csv", "a|b\n1|2\n", "|"),
        ("t.dat", "a\tb\n1\t2\n3\t4\n", "\t"),
    ],
)
def test_delimiters(tmp_path: Path, name: str, text: str, delimiter: str) -> None:
    ds = load_dataset(write(tmp_path / name, text))
    assert ds.format == "csv" and ds.delimiter == delimiter
    assert ds.table.num_columns == text.splitlines()[0].count(delimiter) + 1


def test_forced_delimiter_and_format(tmp_path: Path) -> None:
    path = write(tmp_path / "x.txt", "a:b\n1:2\n")
    ds = load_dataset(path, LoadOptions(format="csv", delimiter=":"))
    assert ds.column_names == ["a", "b"] and ds.delimiter == ":"
    ds = load_dataset(write(tmp_path / "y.txt", "a\tb\n1\t2\n"), LoadOptions(format="tsv"))
    assert ds.column_names == ["a", "b"]


def test_single_column_with_commas_in_values(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path / "one.csv", "full_name\nSmith, John\nDoe, Jane\n"))
    assert ds.column_names == ["full_name"]
    assert ds.table.column("full_name").to_pylist() == ["Smith, John", "Doe, Jane"]


def test_header_clean_up_warnings(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "age,,age,name,age_2, \n1,2,3,4,5,6\n")
    ds = load_dataset(path)
    assert ds.column_names == ["age", "column_2", "age_3", "name", "age_2", "column_6"]
    assert ds.warnings == (
        "column 2 has no name; it was named 'column_2'",
        "column 3 repeats the name 'age'; it was renamed 'age_3'",
        "column 6 has no name; it was named 'column_6'",
    )
    assert [c.name for c in ds.columns] == ds.column_names


def test_clean_column_names() -> None:
    assert clean_column_names(["a", "a", "a"]) == (
        ["a", "a_2", "a_3"],
        [
            "column 2 repeats the name 'a'; it was renamed 'a_2'",
            "column 3 repeats the name 'a'; it was renamed 'a_3'",
        ],
    )
    assert clean_column_names(["x", "y"]) == (["x", "y"], [])


def test_header_only_file_is_empty_table_with_warning(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path / "h.csv", "id,name\n"))
    assert ds.num_rows == 0 and ds.column_names == ["id", "name"]
    assert ds.warnings == ("the file has a header but no data rows",)


# ------------------------------------------------------------------------------------------------------------
# Encodings

PEOPLE = "name,city\nJürgen Müller,Köln\nFrançoise Lefèvre,Besançon\nÉlodie Hélène,Orléans\n"
CHINESE = "姓名,城市\n张伟,北京\n王芳,上海\n李娜,广州\n"


@pytest.mark.parametrize(
    ("data", "expected_encoding", "text"),
    [
        (PEOPLE.encode("utf-8"), "utf-8", PEOPLE),
        (codecs.BOM_UTF8 + PEOPLE.encode("utf-8"), "utf-8-sig", PEOPLE),
        (PEOPLE.encode("utf-16"), "utf-16", PEOPLE),
        (codecs.BOM_UTF16_BE + PEOPLE.encode("utf-16-be"), "utf-16", PEOPLE),
        (PEOPLE.encode("utf-16-be"), "utf-16-be", PEOPLE),
        (PEOPLE.encode("utf-16-le"), "utf-16-le", PEOPLE),
        (CHINESE.encode("gb18030"), "gb18030", CHINESE),
        (CHINESE.encode("gbk"), "gb18030", CHINESE),
        (PEOPLE.encode("latin-1"), "latin-1", PEOPLE),
    ],
)
def test_csv_encodings(tmp_path: Path, data: bytes, expected_encoding: str, text: str) -> None:
    ds = load_dataset(write(tmp_path / "enc.csv", data))
    assert ds.encoding == expected_encoding
    lines = [line.split(",") for line in text.strip().split("\n")]
    assert ds.column_names == lines[0]  # no BOM left in the first name
    assert ds.table.to_pylist() == [dict(zip(lines[0], row, strict=True)) for row in lines[1:]]
    assert ds.fingerprint == hashlib.sha256(data).hexdigest()


def test_forced_encoding_wins(tmp_path: Path) -> None:
    data = "name\nŁukasz\n".encode("cp1250")
    ds = load_dataset(write(tmp_path / "pl.csv", data), LoadOptions(encoding="cp1250"))
    assert ds.encoding == "cp1250" and ds.table.column("name").to_pylist() == ["Łukasz"]


# ------------------------------------------------------------------------------------------------------------
# Progress, preview, fingerprint, cancellation


def test_preview_arrives_before_the_end(tmp_path: Path, small_blocks: None) -> None:
    text = "id,value\n" + "".join(f"{i},v{i}\n" for i in range(5000))
    path = write(tmp_path / "p.csv", text)
    seen, ds = run(load_dataset_job(path, LoadOptions(preview_rows=50)))
    phases = [p.phase for p in seen]
    assert phases.index("fingerprint") < phases.index("parse") < phases.index("summary")
    previews = [i for i, p in enumerate(seen) if p.payload is not None]
    assert len(previews) == 1
    first = seen[previews[0]]
    assert first.phase == "parse" and first.unit == "bytes" and first.total == path.stat().st_size
    assert first.done < first.total  # sent while most of the file is still unread
    assert isinstance(first.payload, pa.Table) and first.payload.num_rows == 50
    assert first.payload.column_names == ["id", "value"]
    assert first.payload.column("value").to_pylist()[:2] == ["v0", "v1"]
    later_parse = [p for p in seen[previews[0] + 1 :] if p.phase == "parse"]
    assert later_parse, "the preview must come before the parse phase ends"
    assert ds.num_rows == 5000


def test_preview_of_small_file_is_whole_table_with_clean_names(tmp_path: Path) -> None:
    seen, ds = run(load_dataset_job(write(tmp_path / "s.csv", "a,a\n1,2\n")))
    payloads = [p.payload for p in seen if p.payload is not None]
    assert len(payloads) == 1 and payloads[0].column_names == ["a", "a_2"] and payloads[0].num_rows == 1


def test_fingerprint_is_sha256_of_bytes_and_content_based(tmp_path: Path) -> None:
    data = b"id,name\n1,Ann\n2,Bob\n"
    one = load_dataset(write(tmp_path / "one.csv", data))
    two = load_dataset(write(tmp_path / "sub_two.csv", data))
    other = load_dataset(write(tmp_path / "three.csv", data.replace(b"Bob", b"Bub")))
    assert one.fingerprint == two.fingerprint == hashlib.sha256(data).hexdigest()
    assert other.fingerprint != one.fingerprint


def test_sha256_file_progress_and_chunks(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    path = write(tmp_path / "blob.bin", data)
    seen, digest = run(sha256_file_job(path, chunk=4096))
    assert digest == hashlib.sha256(data).hexdigest()
    assert all(p.phase == "fingerprint" and p.unit == "bytes" for p in seen)
    assert seen[-1].done == seen[-1].total == len(data)


def test_sha256_file_cancel(tmp_path: Path) -> None:
    path = write(tmp_path / "blob.bin", b"x" * 100_000)
    token = CancelToken()
    gen = sha256_file_job(path, token, chunk=1024)
    next(gen)
    token.cancel()
    with pytest.raises(JobCancelled):
        drive(gen)
    assert str(path) not in open_paths()


@pytest.mark.parametrize("cancel_in", ["fingerprint", "parse", "summary"])
def test_cancellation_raises_and_leaves_no_open_file(tmp_path: Path, small_blocks: None, cancel_in: str) -> None:
    path = write(tmp_path / "c.csv", "id,value\n" + "".join(f"{i},v{i}\n" for i in range(3000)))
    token = CancelToken()
    gen = load_dataset_job(path, LoadOptions(), token)
    with pytest.raises(JobCancelled):
        for progress in gen:
            if progress.phase == cancel_in:
                token.cancel()
    assert str(path) not in open_paths()
    assert gen.gi_frame is None  # the generator is finished, nothing half-done is kept


def test_abandoned_load_closes_its_file(tmp_path: Path, small_blocks: None) -> None:
    path = write(tmp_path / "c.csv", "id,value\n" + "".join(f"{i},v{i}\n" for i in range(3000)))
    gen = load_dataset_job(path)
    for progress in gen:
        if progress.payload is not None:
            break
    assert str(path) in open_paths()
    gen.close()
    assert str(path) not in open_paths()


# ------------------------------------------------------------------------------------------------------------
# Bad input: clear errors without values


def test_missing_file(tmp_path: Path) -> None:
    err = load_error(tmp_path / "nope.csv")
    assert err.problem == "the file does not exist; check the path"
    assert err.path == str(tmp_path / "nope.csv")


def test_directory(tmp_path: Path) -> None:
    assert "this is a folder, not a file" in load_error(tmp_path).problem


def test_empty_file(tmp_path: Path) -> None:
    assert load_error(write(tmp_path / "e.csv", b"")).problem == "the file is empty (0 bytes)"


def test_blank_lines_only(tmp_path: Path) -> None:
    assert "no header row" in load_error(write(tmp_path / "b.csv", b"\n\n  \n")).problem


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "secret.csv", "a\n1\n")
    real_open = builtins.open

    def guarded_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fspath(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    err = load_error(path)
    assert err.problem == "permission denied: you are not allowed to read this file"


def test_ragged_row_names_line_and_counts(tmp_path: Path) -> None:
    rows = [f"{i},a,b,c" for i in range(55)]  # lines 2..56
    rows.append(f"99,{CANARY},x,y,z")  # line 57: 5 fields
    rows += [f"{i},a,b,c" for i in range(10)]
    err = load_error(write(tmp_path / "r.csv", "h1,h2,h3,h4\n" + "\n".join(rows) + "\n"))
    assert "line 57 has 5 fields but the header has 4" in err.problem
    assert CANARY not in str(err)


def test_ragged_row_line_counts_blank_lines_and_multiline_values(tmp_path: Path) -> None:
    text = 'a,b\n\n1,"two\nlines"\n\n\n3,4,' + CANARY + "\n"  # the bad row is on line 7
    err = load_error(write(tmp_path / "r.csv", text))
    assert "line 7 has 3 fields but the header has 2" in err.problem


def test_ragged_row_late_in_file(tmp_path: Path, small_blocks: None) -> None:
    rows = [f"{i},a" for i in range(2000)] + [f"{CANARY}"]
    err = load_error(write(tmp_path / "r.csv", "x,y\n" + "\n".join(rows) + "\n"))
    assert "line 2002 has 1 fields but the header has 2" in err.problem


def test_undecodable_utf8_names_offset(tmp_path: Path) -> None:
    good = "id,name\n" + "".join(f"{i},name{i}\n" for i in range(20000))  # longer than the sniffed head
    data = good.encode() + b"20000," + CANARY.encode() + b"\xff\xfe\n"
    offset = len(good.encode()) + len(b"20000,") + len(CANARY)
    err = load_error(write(tmp_path / "u.csv", data))
    assert err.problem == f"bytes at offset {offset} cannot be decoded as UTF-8; pass --encoding / choose the encoding"


def test_forced_wrong_encoding_names_offset(tmp_path: Path) -> None:
    data = "id,name\n1,Zoë\n".encode()
    err = load_error(write(tmp_path / "a.csv", data), LoadOptions(encoding="ascii"))
    assert err.problem == "bytes at offset 12 cannot be decoded as ascii; pass --encoding / choose the encoding"
    err = load_error(write(tmp_path / "l.csv", PEOPLE.encode("latin-1")), LoadOptions(encoding="utf-8"))
    assert err.problem.startswith("bytes at offset 11 cannot be decoded as UTF-8")


def test_unknown_encoding_and_format(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "a\n1\n")
    assert load_error(path, LoadOptions(encoding="klingon")).problem == "unknown encoding 'klingon'"
    assert "unknown format 'xls'" in load_error(path, LoadOptions(format="xls")).problem


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        (
            "book.csv",
            b"PK\x03\x04\x14\x00\x06\x00" + CANARY.encode() + b"\x00" * 40,
            "ZIP archive or an Excel workbook",
        ),
        ("doc.csv", b"%PDF-1.4\n" + CANARY.encode(), "PDF document"),
        ("img.txt", b"\x89PNG\r\n\x1a\n" + CANARY.encode(), "PNG image"),
        ("data.csv", b"\x1f\x8b\x08\x00" + CANARY.encode(), "gzip-compressed"),
        ("blob.csv", b"id,x\n1," + CANARY.encode() + b"\x00\x01\x00\x02\x00\x03" * 50, "binary file"),
        ("blob.bin", b"\x00\x01\x02\x03\x04\x05\x06\x07" * 100 + CANARY.encode(), "binary file"),
    ],
)
def test_binary_files(tmp_path: Path, name: str, data: bytes, needle: str) -> None:
    err = load_error(write(tmp_path / name, data))
    assert needle in err.problem
    assert CANARY not in str(err)


def test_invalid_json_line(tmp_path: Path) -> None:
    lines = [json.dumps({"id": i, "name": f"n{i}"}) for i in range(10)]
    lines.insert(4, "")  # a blank line still counts as a line
    lines.append('{"id": 11, "name": "' + CANARY + '"')  # line 12: unterminated
    err = load_error(write(tmp_path / "bad.jsonl", "\n".join(lines) + "\n"))
    assert err.problem == "line 12 is not valid JSON"


def test_json_line_that_is_not_an_object(tmp_path: Path) -> None:
    err = load_error(write(tmp_path / "bad.jsonl", '{"a": 1}\n["' + CANARY + '"]\n'))
    assert err.problem.startswith("line 2 is valid JSON but not an object")


def test_corrupt_parquet(tmp_path: Path) -> None:
    err = load_error(write(tmp_path / "bad.parquet", b"PAR1" + CANARY.encode() * 10 + b"PAR1"))
    assert "not a valid Parquet file" in err.problem
    table = pa.table({"name": [CANARY] * 1000, "n": list(range(1000))})
    good = tmp_path / "good.parquet"
    pq.write_table(table, good)
    truncated = write(tmp_path / "cut.parquet", good.read_bytes()[: good.stat().st_size // 2])
    assert "not a valid Parquet file" in load_error(truncated).problem
    assert "not a valid Parquet file" in load_error(write(tmp_path / "x.parquet", "a,b\n1,2\n")).problem


def _drive_and_mutate(path: Path, mutate: Callable[[Path], None], when: str) -> DatasetError:
    gen = load_dataset_job(path, LoadOptions(preview_rows=10))
    mutated = False
    with pytest.raises(DatasetError) as info:
        for progress in gen:
            if not mutated and progress.phase == when:
                mutate(path)
                mutated = True
    assert mutated
    return info.value


def _big_csv(tmp_path: Path) -> Path:
    return write(tmp_path / "m.csv", "id,name\n" + "".join(f"{i},{CANARY}{i}\n" for i in range(3000)))


def test_file_truncated_after_fingerprint(tmp_path: Path, small_blocks: None) -> None:
    def truncate(p: Path) -> None:
        with open(p, "r+b") as fh:
            fh.truncate(100)

    err = _drive_and_mutate(_big_csv(tmp_path), truncate, "parse")
    assert err.problem == CHANGED_PROBLEM


def test_file_emptied_after_fingerprint(tmp_path: Path) -> None:
    err = _drive_and_mutate(_big_csv(tmp_path), lambda p: p.write_bytes(b""), "parse")
    assert err.problem == CHANGED_PROBLEM


def test_file_deleted_during_load(tmp_path: Path, small_blocks: None) -> None:
    err = _drive_and_mutate(_big_csv(tmp_path), lambda p: p.unlink(), "parse")
    assert err.problem == CHANGED_PROBLEM


def test_file_appended_during_summary(tmp_path: Path) -> None:
    def append(p: Path) -> None:
        with open(p, "ab") as fh:
            fh.write(b"9999,late\n")

    err = _drive_and_mutate(_big_csv(tmp_path), append, "summary")
    assert err.problem == CHANGED_PROBLEM


def test_no_error_message_or_log_contains_values(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Every bad-input case plants the canary; it must not reach messages, chained exceptions or logs."""
    caplog.set_level(logging.DEBUG)
    many = "".join(f"{i},a,{CANARY}\n" for i in range(20000))
    cases: list[tuple[str, bytes, LoadOptions]] = [
        ("ragged.csv", f"a,b,c\n1,2,3\n{CANARY},2\n".encode(), LoadOptions()),
        ("ragged_more.csv", f"a,b\n1,{CANARY},3\n".encode(), LoadOptions()),
        ("utf8.csv", ("a,b,c\n" + many).encode() + b"1,2," + CANARY.encode() + b"\xff\n", LoadOptions()),
        ("forced.csv", f"a\n{CANARY}é\n".encode(), LoadOptions(encoding="ascii")),
        ("gbk.csv", f"a\n{CANARY}\n".encode() + b"\xff\xff\n", LoadOptions(encoding="gb18030")),
        ("zip.csv", b"PK\x03\x04" + CANARY.encode(), LoadOptions()),
        ("nul.csv", f"a\n{CANARY}\x00\x00\n".encode(), LoadOptions()),
        ("bad.jsonl", f'{{"a": "{CANARY}"}}\n{{"a": {CANARY}}}\n'.encode(), LoadOptions()),
        ("bad.json", f'[{{"a": "{CANARY}"}}, {CANARY}]'.encode(), LoadOptions()),
        ("badutf.jsonl", b'{"a": "' + CANARY.encode() + b'\xff"}\n', LoadOptions(encoding="utf-8")),
        (
            "bad.txt",
            CANARY.encode() + b"\n\xff\xfe\xfd" + CANARY.encode() + b"\n",
            LoadOptions(encoding="utf-8"),
        ),
        ("bad.parquet", b"PAR1" + CANARY.encode() + b"PAR1", LoadOptions()),
    ]
    for name, data, options in cases:
        err = load_error(write(tmp_path / name, data), options)
        assert CANARY not in str(err), name
        assert CANARY not in repr(err), name
        assert err.__cause__ is None, name
        assert err.__context__ is None or err.__suppress_context__, name  # no parser message in tracebacks
    ok = load_dataset(write(tmp_path / "ok.csv", f"name,email\n{CANARY},{CANARY}@example.org\n"))
    assert ok.columns[0].examples == (CANARY,)  # examples are for the analyst ...
    assert caplog.records, "the loader logs what it does"
    for record in caplog.records:
        assert CANARY not in record.getMessage()  # ... but never reach the log


# ------------------------------------------------------------------------------------------------------------
# JSON Lines, JSON arrays, Parquet, plain text


def test_jsonl_union_of_keys_nested_and_blank_lines(tmp_path: Path) -> None:
    lines = [
        '{"id": 1, "name": "Ann", "tags": ["a", "b"], "address": {"city": "Köln"}}',
        "",
        '{"id": 2, "name": "Bob", "age": 40}',
        "   ",
        '{"id": 3, "age": 41.5, "flag": true}',
    ]
    ds = load_dataset(write(tmp_path / "p.jsonl", "\r\n".join(lines) + "\r\n"))
    assert ds.format == "jsonl" and ds.num_rows == 3
    assert ds.column_names == ["id", "name", "tags", "address", "age", "flag"]
    assert ds.table.column("tags").to_pylist() == ['["a","b"]', None, None]
    assert ds.table.column("address").to_pylist() == ['{"city":"Köln"}', None, None]
    assert ds.table.schema.field("id").type == pa.int64()
    assert ds.table.column("age").to_pylist() == [None, 40.0, 41.5]
    assert ds.table.schema.field("flag").type == pa.bool_()
    assert ds.warnings == ()


def test_jsonl_mixed_types_across_batches(tmp_path: Path) -> None:
    lines = [json.dumps({"v": i}) for i in range(30000)] + [json.dumps({"v": "n/a"})]
    ds = load_dataset(write(tmp_path / "m.jsonl", "\n".join(lines) + "\n"))
    assert ds.num_rows == 30001
    assert ds.table.schema.field("v").type == pa.string()
    assert ds.table.column("v")[0].as_py() == "0" and ds.table.column("v")[30000].as_py() == "n/a"
    assert ds.warnings == ("column 'v' mixes JSON value types (for example numbers and strings); it was read as text",)


def test_jsonl_preview_and_progress(tmp_path: Path) -> None:
    lines = [json.dumps({"id": i, "text": "x" * 50}) for i in range(20000)]
    path = write(tmp_path / "big.jsonl", "\n".join(lines))  # no newline at the end
    seen, ds = run(load_dataset_job(path, LoadOptions(preview_rows=25)))
    previews = [p for p in seen if p.payload is not None]
    assert len(previews) == 1 and previews[0].payload.num_rows == 25 and previews[0].done < path.stat().st_size
    assert ds.num_rows == 20000 and ds.table.column("id")[19999].as_py() == 19999


def test_json_array(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path / "a.json", '[{"a": 1}, {"a": 2, "b": "x"}]'))
    assert ds.format == "jsonl" and ds.table.to_pylist() == [{"a": 1, "b": None}, {"a": 2, "b": "x"}]


def test_utf16_jsonl(tmp_path: Path) -> None:
    data = '{"name": "Zoë"}\n{"name": "张伟"}\n'.encode("utf-16")
    ds = load_dataset(write(tmp_path / "u.jsonl", data))
    assert ds.encoding == "utf-16" and ds.table.column("name").to_pylist() == ["Zoë", "张伟"]


def test_parquet_round_trip(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array(range(100_000), pa.int32()),
            "when": pa.array([dt.date(2020, 1, 1)] * 100_000),
            "name": ["x"] * 100_000,
        }
    )
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=20_000)
    seen, ds = run(load_dataset_job(path, LoadOptions(preview_rows=10)))
    assert ds.format == "parquet" and ds.encoding is None and ds.num_rows == 100_000
    assert ds.table.schema.field("id").type == pa.int32()
    assert [c.dtype for c in ds.columns] == ["integer", "date", "string"]
    previews = [p for p in seen if p.payload is not None]
    assert len(previews) == 1 and previews[0].payload.num_rows == 10 and previews[0].unit == "rows"
    assert previews[0].total == 100_000 and previews[0].done < 100_000


def test_parquet_detected_by_magic_whatever_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    pq.write_table(pa.table({"a": [1, 2]}), path)
    ds = load_dataset(path)
    assert ds.format == "parquet" and ds.table.column("a").to_pylist() == [1, 2]


def test_plain_text(tmp_path: Path) -> None:
    data = "Première ligne, avec virgule\r\n\r\n   \nsecond line\nthird\n".encode("latin-1")
    ds = load_dataset(write(tmp_path / "notes.txt", data))
    assert ds.format == "text" and ds.encoding == "latin-1"
    assert ds.column_names == ["text"]
    assert ds.table.column("text").to_pylist() == ["Première ligne, avec virgule", "second line", "third"]


def test_plain_text_undecodable_offset(tmp_path: Path) -> None:
    data = b"ok line\n\nbad \xff here\n"
    err = load_error(write(tmp_path / "t.txt", data), LoadOptions(encoding="utf-8"))
    assert err.problem.startswith("bytes at offset 13 cannot be decoded as UTF-8")


# ------------------------------------------------------------------------------------------------------------
# Registry


def test_available_formats() -> None:
    assert available_formats() == ("csv", "jsonl", "parquet", "text")


@pytest.mark.parametrize(
    ("name", "head", "options", "expected"),
    [
        ("a.csv", b"a,b\n", LoadOptions(), "csv"),
        ("a.TSV", b"a\tb\n", LoadOptions(), "csv"),
        ("a.ndjson", b'{"a":1}\n', LoadOptions(), "jsonl"),
        ("a.pq", b"PAR1", LoadOptions(), "parquet"),
        ("a.txt", b"hello\n", LoadOptions(), "text"),
        ("a.csv", b"PAR1\x15", LoadOptions(), "parquet"),
        ("a.dat", b'{"a": 1}\n', LoadOptions(), "jsonl"),
        ("a.dat", b"a;b\n1;2\n", LoadOptions(), "csv"),
        ("a.dat", b"just words\n", LoadOptions(), "text"),
        ("a.csv", b"a,b\n", LoadOptions(format="TXT"), "text"),
    ],
)
def test_format_for(name: str, head: bytes, options: LoadOptions, expected: str) -> None:
    assert format_for(name, head, options, complete=True) == expected
    assert loader_for(name, head, options).format_name == expected


def test_importing_the_pipeline_does_not_import_pyarrow() -> None:
    code = (
        "import sys\n"
        "import workbench.core.data.load, workbench.core.data.loaders, workbench.core.data.detect\n"
        "import workbench.core.data.schema, workbench.core.data.roles, workbench.core.data.fingerprint\n"
        "assert 'pyarrow' not in sys.modules, 'pyarrow imported'\n"
        "eager = [m for m in sys.modules if m.startswith('workbench.core.data.loaders.')]\n"
        "assert eager == ['workbench.core.data.loaders.base'], eager\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_load_dataset_returns_the_dataset(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path / "a.csv", "a\n1\n"))
    assert isinstance(ds, Dataset) and ds.path == str(tmp_path / "a.csv")
    assert LoadOptions() == load_module.DEFAULT_OPTIONS


# --- in-memory sources (datasets decrypted from an encrypted project) ----------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("people.csv", "name,city\nÅsa,Malmö\nLi Wei,北京\n".encode()),
        ("people.tsv", "name\tcity\nÅsa\tMalmö\n".encode("utf-16")),
        ("people.jsonl", b'{"name": "Ada", "age": 36}\n{"name": "Alan", "age": 41}\n'),
        ("notes.txt", b"first line\nsecond line\n"),
    ],
)
def test_bytes_source_matches_file_source(tmp_path, name, content) -> None:  # noqa: ANN001
    from workbench.core.data.load import load_dataset_bytes_job

    f = tmp_path / name
    f.write_bytes(content)
    from_file = load_dataset(f)
    from_bytes = drive(load_dataset_bytes_job(content, name))
    assert from_bytes.fingerprint == from_file.fingerprint
    assert from_bytes.table.equals(from_file.table)
    assert from_bytes.encoding == from_file.encoding and from_bytes.format == from_file.format
    assert from_bytes.name == name


def test_bytes_source_parquet_and_errors(tmp_path) -> None:  # noqa: ANN001
    import pyarrow as pa
    import pyarrow.parquet as pq

    from workbench.core.data.load import load_dataset_bytes_job

    f = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3]}), f)
    ds = drive(load_dataset_bytes_job(f.read_bytes(), "t.parquet"))
    assert ds.num_rows == 3
    with pytest.raises(DatasetError, match="empty"):
        drive(load_dataset_bytes_job(b"", "x.csv"))
    with pytest.raises(DatasetError, match="line 3"):
        drive(load_dataset_bytes_job(b"a,b\n1,2\n3,4,5\n", "r.csv"))
